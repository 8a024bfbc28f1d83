//! `apiserver-bench`: durable write throughput of the store and of `kubevirtd` beside a local
//! etcd, watch delivery latency, and memory with many stored objects. Writes a markdown
//! section (optionally into `BENCHMARKS.md`) and a JSON file. `scripts/bench-apiserver.sh`
//! runs it with release builds and a local etcd.

mod api_level;
mod etcd;
mod kubevirtd;
mod memory;
mod runner;
mod store_level;
mod watch;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use bench::apiserver::{Report, SECTION, Settings};
use bench::machine::{Machine, busy_note, load1, loadavg};
use clap::{Parser, ValueEnum};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Part {
    Store,
    Api,
    Etcd,
    Watch,
    Memory,
}

/// Benchmarks the API server and its store; etcd numbers need `--etcd-url`.
#[derive(Parser, Debug)]
#[command(name = "apiserver-bench")]
pub struct Args {
    /// The `kubevirtd` binary (default: next to this one).
    #[arg(long)]
    kubevirtd: Option<PathBuf>,
    /// Client URL of a local etcd (e.g. http://127.0.0.1:23790); without it etcd is skipped.
    #[arg(long)]
    etcd_url: Option<String>,
    /// Where data directories are created (default: the system temp directory).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Parts to run (default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<Part>,
    /// Size of each written value (ConfigMap data for the API).
    #[arg(long, default_value_t = 1024)]
    value_bytes: usize,
    /// Client counts to measure writes at.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 64])]
    clients: Vec<usize>,
    /// Writes per phase with one client.
    #[arg(long, default_value_t = 5000)]
    serial_ops: usize,
    /// Writes per phase with several clients.
    #[arg(long, default_value_t = 50_000)]
    concurrent_ops: usize,
    /// A write phase stops taking new writes after this many seconds.
    #[arg(long, default_value_t = 10.0)]
    phase_seconds: f64,
    /// Concurrent watch streams.
    #[arg(long, default_value_t = 100)]
    watchers: usize,
    /// Objects created while watched.
    #[arg(long, default_value_t = 2000)]
    watch_objects: usize,
    /// Creates per second while watched.
    #[arg(long, default_value_t = 200.0)]
    watch_rate: f64,
    /// Objects stored for the memory measurement.
    #[arg(long, default_value_t = 100_000)]
    memory_objects: usize,
    /// Concurrent clients creating them.
    #[arg(long, default_value_t = 64)]
    memory_clients: usize,
    /// The memory measurement stops creating after this many seconds.
    #[arg(long, default_value_t = 300.0)]
    memory_seconds: f64,
    /// Write the JSON results here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Replace this benchmark's section of this markdown file (e.g. BENCHMARKS.md).
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// A note to add under "Machine" (repeatable).
    #[arg(long)]
    note: Vec<String>,
}

impl Args {
    fn max_ops(&self, clients: usize) -> usize {
        if clients <= 1 {
            self.serial_ops
        } else {
            self.concurrent_ops
        }
    }

    fn phase_limit(&self) -> Duration {
        Duration::from_secs_f64(self.phase_seconds)
    }

    fn runs(&self, part: Part) -> bool {
        self.only.is_empty() || self.only.contains(&part)
    }

    fn settings(&self) -> Settings {
        Settings {
            value_bytes: self.value_bytes,
            clients: self.clients.clone(),
            serial_ops: self.serial_ops,
            concurrent_ops: self.concurrent_ops,
            phase_seconds: self.phase_seconds,
            watchers: self.watchers,
            watch_objects: self.watch_objects,
            watch_rate: self.watch_rate,
            memory_objects: self.memory_objects,
            memory_clients: self.memory_clients,
        }
    }
}

fn kubevirtd_bin(args: &Args) -> anyhow::Result<PathBuf> {
    if let Some(p) = &args.kubevirtd {
        return Ok(p.clone());
    }
    let me = std::env::current_exe()?;
    Ok(me
        .parent()
        .context("no parent directory")?
        .join("kubevirtd"))
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.watch_rate > 0.0, "--watch-rate must be positive");
    anyhow::ensure!(
        args.clients.iter().all(|&c| c > 0),
        "--clients must be positive"
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let work_root = args.work_dir.clone().unwrap_or_else(std::env::temp_dir);
    let work = tempfile::Builder::new()
        .prefix("apiserver-bench-")
        .tempdir_in(&work_root)?;
    let work = work.path();
    let bin = kubevirtd_bin(&args)?;
    let load_before = loadavg();
    let mut report = Report {
        machine: Machine::detect(work),
        load_before: load_before.clone(),
        load_after: String::new(),
        peak_load1: None,
        etcd_version: None,
        settings: args.settings(),
        writes: Vec::new(),
        watch: None,
        memory: None,
        notes: args.note.clone(),
    };
    eprintln!("load before: {load_before}");
    let peak_load = Arc::new(Mutex::new(load1(&load_before).unwrap_or(0.0)));
    let sampler = {
        let peak_load = Arc::clone(&peak_load);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                if let Some(l) = load1(&loadavg()) {
                    let mut peak = peak_load.lock().expect("not poisoned");
                    *peak = peak.max(l);
                }
            }
        })
    };

    if args.runs(Part::Store) {
        report
            .writes
            .extend(store_level::run(&args, &dir(work, "store")?).await?);
    }
    if args.runs(Part::Api) {
        report
            .writes
            .extend(api_level::run(&args, &bin, work).await?);
    }
    if args.runs(Part::Etcd)
        && let Some(url) = &args.etcd_url
    {
        let version = etcd::Etcd::new(url)
            .version(Duration::from_secs(30))
            .await?;
        report.etcd_version = Some(version);
        report.writes.extend(etcd::run(&args, url).await?);
    }
    if args.runs(Part::Watch) {
        report.watch = Some(watch::run(&args, &bin, work).await?);
    }
    if args.runs(Part::Memory) {
        report.memory = Some(memory::run(&args, &bin, work).await?);
    }
    report.load_after = loadavg();
    sampler.abort();
    let peak = load1(&report.load_after)
        .unwrap_or(0.0)
        .max(*peak_load.lock().expect("not poisoned"));
    report.peak_load1 = Some(peak);
    report.notes.extend(busy_note(peak, report.machine.cpus));
    eprintln!("load after: {}", report.load_after);

    let section = report.to_markdown();
    println!("{section}");
    if let Some(path) = &args.json {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")?;
    }
    if let Some(path) = &args.markdown {
        bench::markdown::update_file(path, SECTION, &section)
            .with_context(|| format!("cannot update {}", path.display()))?;
    }
    Ok(())
}

fn dir(work: &Path, name: &str) -> anyhow::Result<PathBuf> {
    let d = work.join(name);
    std::fs::create_dir_all(&d)?;
    Ok(d)
}
