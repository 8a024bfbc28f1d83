//! `scale-bench`: creates VMs on `kubevirtd` with simulated nodes (at a steady rate and in a
//! burst), measures creation-to-Running latency, API writes per VM start by verb, resource and
//! component, and the server's peak memory and CPU. Writes a markdown section (optionally into
//! `BENCHMARKS.md`) and a JSON file. `scripts/bench-scale.sh` runs it with release builds.

#[path = "../scale/mod.rs"]
mod scale;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use bench::machine::{Machine, busy_note, load1, loadavg};
use clap::Parser;
use scale::capacity::{
    SIMULATED_NODE, estimated_launcher_requests, nodes_for, parse_quantity, pods_per_node,
};
use scale::report::{Report, RunResult, RunSpec, SECTION};
use scale::run::Plan;

/// Benchmarks VM starts at scale on simulated nodes.
#[derive(Parser, Debug)]
#[command(name = "scale-bench")]
struct Args {
    /// The `kubevirtd` binary (default: next to this one).
    #[arg(long)]
    kubevirtd: Option<PathBuf>,
    /// Runs, each `COUNT@RATE` (VMs per second) or `COUNT@burst`, in order; each on a fresh
    /// server.
    #[arg(long, value_delimiter = ',', default_values_t = ["1000@10".to_string(), "1000@burst".to_string(), "8000@burst".to_string()])]
    runs: Vec<String>,
    /// Concurrent creating clients (a burst's parallelism; a paced run's cap on creates in flight).
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Guest memory of every VM.
    #[arg(long, default_value = "64Mi")]
    guest_memory: String,
    /// Simulated nodes (default: enough for each run's launcher pods plus the headroom).
    #[arg(long)]
    nodes: Option<usize>,
    /// Spare node capacity when sizing the cluster (0.1 = 10 %).
    #[arg(long, default_value_t = 0.1)]
    headroom: f64,
    /// Where data directories are created (default: the system temp directory).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Write the JSON results here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Replace this benchmark's section of this markdown file (e.g. BENCHMARKS.md).
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Keep the runs of the existing `--json` file that this invocation does not repeat.
    #[arg(long)]
    keep_previous: bool,
    /// Copy each run's server log into this directory.
    #[arg(long)]
    log_dir: Option<PathBuf>,
    /// Seconds after its first create at which a run stops creating and waiting, and reports
    /// what it measured (unset: until every VM runs or none progresses for two minutes).
    #[arg(long)]
    time_limit: Option<u64>,
    /// A note to add under "Machine" (repeatable).
    #[arg(long)]
    note: Vec<String>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.clients > 0, "--clients must be positive");
    let specs = args
        .runs
        .iter()
        .map(|r| r.parse::<RunSpec>())
        .collect::<Result<Vec<_>, _>>()?;
    let guest = parse_quantity(&args.guest_memory)
        .filter(|b| *b > 0.0)
        .with_context(|| format!("--guest-memory {:?} is not a quantity", args.guest_memory))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(args, specs, guest))
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

/// Runs of an earlier JSON report that `specs` does not repeat.
fn previous_runs(path: &PathBuf, specs: &[RunSpec]) -> Vec<RunResult> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let runs = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("runs").cloned())
        .and_then(|r| serde_json::from_value::<Vec<RunResult>>(r).ok())
        .unwrap_or_default();
    runs.into_iter()
        .filter(|r| !specs.contains(&r.spec))
        .collect()
}

async fn run(args: Args, specs: Vec<RunSpec>, guest: f64) -> anyhow::Result<()> {
    let work_root = args.work_dir.clone().unwrap_or_else(std::env::temp_dir);
    let work = tempfile::Builder::new()
        .prefix("scale-bench-")
        .tempdir_in(&work_root)?;
    let bin = kubevirtd_bin(&args)?;
    let load_before = loadavg();
    let machine = Machine::detect(work.path());
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

    let mut runs = Vec::new();
    let per_node = pods_per_node(&SIMULATED_NODE, &estimated_launcher_requests(guest));
    for spec in &specs {
        let plan = Plan {
            spec: *spec,
            nodes: args
                .nodes
                .unwrap_or_else(|| nodes_for(spec.vms, per_node, args.headroom)),
            clients: args.clients,
            guest_memory: args.guest_memory.clone(),
            commit: machine.commit.clone(),
            log_dir: args.log_dir.clone(),
            time_limit: args.time_limit.map(Duration::from_secs),
        };
        anyhow::ensure!(
            plan.nodes > 0,
            "no simulated node can hold a launcher pod of this size"
        );
        let result = scale::run::run(&bin, work.path(), &plan).await?;
        let t = &result.to_running;
        eprintln!(
            "scale: {}: {} of {} running; to Running p50 {:.2} s, p95 {:.2} s, p99 {:.2} s",
            spec.label(),
            result.running,
            spec.vms,
            t.p50_s,
            t.p95_s,
            t.p99_s
        );
        runs.push(result);
    }
    sampler.abort();
    if args.keep_previous
        && let Some(path) = &args.json
    {
        runs.extend(previous_runs(path, &specs));
        runs.sort_by_key(|r| {
            (
                r.spec.vms,
                matches!(r.spec.pace, scale::report::Pace::Burst),
            )
        });
    }
    let load_after = loadavg();
    let peak = load1(&load_after)
        .unwrap_or(0.0)
        .max(*peak_load.lock().expect("not poisoned"));
    let mut notes = args.note.clone();
    notes.extend(busy_note(peak, machine.cpus));
    let report = Report {
        machine,
        load_before,
        load_after,
        peak_load1: Some(peak),
        runs,
        notes,
    };
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
