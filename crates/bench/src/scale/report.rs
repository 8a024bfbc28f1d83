//! Results of the scale benchmark and their markdown section.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::prom::{Counts, RequestKey};
use bench::machine::Machine;
use bench::stats::nearest_rank;

/// Id of the generated section in `BENCHMARKS.md`.
pub const SECTION: &str = "scale";

/// KubeVirt's published figures for 8000 VMIs on KWOK nodes.
pub mod kubevirt {
    pub const VMIS: usize = 8000;
    pub const P50_S: f64 = 0.61;
    pub const P95_S: f64 = 1.31;
    pub const P99_S: f64 = 1.87;
    /// Resident memory of virt-controller.
    pub const CONTROLLER_RSS_GB: f64 = 1.27;
    pub const VMI_UPDATES: f64 = 3.4;
    pub const VMI_PATCHES: f64 = 1.75;
    pub const POD_PATCHES: f64 = 2.2;
}

/// How VMs are created.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pace {
    /// At a steady rate (VMs per second).
    Rate(f64),
    /// As fast as the clients can.
    Burst,
}

/// One measured run: how many VMs at which pace.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    pub vms: usize,
    pub pace: Pace,
}

/// A run spec did not parse.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SpecError {
    #[error("a run is written COUNT@RATE or COUNT@burst (e.g. 1000@10), not {0:?}")]
    Syntax(String),
    #[error("a run needs at least one VM and a positive rate: {0:?}")]
    Range(String),
}

impl FromStr for RunSpec {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, SpecError> {
        let syntax = || SpecError::Syntax(s.to_string());
        let (count, pace) = s.trim().split_once('@').ok_or_else(syntax)?;
        let vms: usize = count.trim().parse().map_err(|_| syntax())?;
        let pace = match pace.trim() {
            "burst" => Pace::Burst,
            rate => Pace::Rate(rate.parse().map_err(|_| syntax())?),
        };
        let positive = match pace {
            Pace::Rate(r) => r.is_finite() && r > 0.0,
            Pace::Burst => true,
        };
        if vms == 0 || !positive {
            return Err(SpecError::Range(s.to_string()));
        }
        Ok(RunSpec { vms, pace })
    }
}

impl RunSpec {
    /// `1000 VMs at 10/s` or `1000 VMs, burst`.
    pub fn label(&self) -> String {
        match self.pace {
            Pace::Rate(r) => format!("{} VMs at {r}/s", self.vms),
            Pace::Burst => format!("{} VMs, burst", self.vms),
        }
    }
}

/// Percentiles of durations in seconds (nearest rank).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub count: usize,
    pub p50_s: f64,
    pub p95_s: f64,
    pub p99_s: f64,
    pub max_s: f64,
    pub mean_s: f64,
}

impl Percentiles {
    /// Summarises samples in any order; all zero when there are none.
    pub fn of(samples: &[Duration]) -> Percentiles {
        if samples.is_empty() {
            return Percentiles::default();
        }
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        let at = |q| nearest_rank(&sorted, q).map_or(0.0, |d| d.as_secs_f64());
        Percentiles {
            count: sorted.len(),
            p50_s: at(0.50),
            p95_s: at(0.95),
            p99_s: at(0.99),
            max_s: at(1.0),
            mean_s: sorted.iter().map(Duration::as_secs_f64).sum::<f64>() / sorted.len() as f64,
        }
    }
}

/// Requests of one kind during a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestRow {
    /// `virt-controller`, `virt-handler`, `virt-api`, or the user name (the benchmark is
    /// `admin`).
    pub component: String,
    pub verb: String,
    pub group: String,
    /// `resource` or `resource/subresource`.
    pub resource: String,
    pub count: u64,
}

impl RequestRow {
    /// Node heartbeats and leases: writes that do not scale with VM starts.
    pub fn is_background(&self) -> bool {
        self.resource.starts_with("nodes") || self.resource.starts_with("leases")
    }
}

/// Rows of a metrics difference, writes and reads apart.
pub fn rows(diff: &Counts) -> (Vec<RequestRow>, Vec<RequestRow>) {
    let row = |k: &RequestKey, n: u64| RequestRow {
        component: k.component().to_string(),
        verb: k.verb.clone(),
        group: k.group.clone(),
        resource: k.resource_path(),
        count: n,
    };
    let writes = diff
        .iter()
        .filter(|(k, _)| k.is_write())
        .map(|(k, n)| row(k, *n));
    let reads = diff
        .iter()
        .filter(|(k, _)| !k.is_write() && !k.resource.is_empty())
        .map(|(k, n)| row(k, *n));
    (writes.collect(), reads.collect())
}

/// Everything measured in one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub spec: RunSpec,
    /// UTC start, RFC 3339.
    pub started: String,
    pub commit: String,
    pub nodes: usize,
    /// Concurrent creating clients.
    pub clients: usize,
    pub guest_memory: String,
    /// Launcher pods per node by the first launcher pod's requests.
    pub pods_per_node: Option<u64>,
    pub created: usize,
    pub running: usize,
    /// Phase → VMIs in it when the run ended, for VMIs that never ran.
    pub not_running: BTreeMap<String, usize>,
    /// First create sent → last create answered.
    pub create_seconds: f64,
    pub creates_per_second: f64,
    /// Latency of the create requests.
    pub create_request: Percentiles,
    /// Create sent → the VMI seen `Running` by a watch.
    pub to_running: Percentiles,
    /// VM `creationTimestamp` → VMI `phaseTransitionTimestamps` Running (1 s resolution).
    pub to_running_timestamps: Percentiles,
    /// First create sent → last VMI `Running`.
    pub all_running_seconds: Option<f64>,
    /// Run start → the API writes settled (the window the request counts cover).
    pub window_seconds: f64,
    pub writes: Vec<RequestRow>,
    pub reads: Vec<RequestRow>,
    /// The run was cut short by its time limit (not all VMs created or running).
    #[serde(default)]
    pub time_limited: bool,
    /// Writes answered with an error: `"<code> <verb> <resource>"` → count.
    #[serde(default)]
    pub failed_writes: BTreeMap<String, u64>,
    pub rss_start_kib: Option<u64>,
    pub rss_end_kib: Option<u64>,
    /// VmHWM: the largest resident set since the process started.
    pub rss_peak_kib: Option<u64>,
    /// kubevirtd CPU (user + system) during the run window.
    pub cpu_seconds: Option<f64>,
    /// The benchmark's own CPU during the run window (it shares the machine).
    pub client_cpu_seconds: Option<f64>,
    pub store_bytes: u64,
    pub load_before: String,
    pub load_after: String,
}

impl RunResult {
    /// `n` per VM of the run; per VM created when the run was cut short (VMs still starting
    /// then count whole, so this understates a complete start).
    fn per_vm(&self, n: u64) -> f64 {
        let vms = if self.time_limited {
            self.created
        } else {
            self.spec.vms
        };
        n as f64 / vms.max(1) as f64
    }

    fn writes_where(&self, f: impl Fn(&RequestRow) -> bool) -> u64 {
        self.writes.iter().filter(|r| f(r)).map(|r| r.count).sum()
    }

    /// PUTs of VMIs per VM.
    pub fn vmi_updates(&self) -> f64 {
        self.per_vm(
            self.writes_where(|r| {
                r.verb == "PUT" && r.resource.starts_with("virtualmachineinstances")
            }),
        )
    }

    /// PATCHes of VMIs per VM.
    pub fn vmi_patches(&self) -> f64 {
        self.per_vm(self.writes_where(|r| {
            r.verb == "PATCH" && r.resource.starts_with("virtualmachineinstances")
        }))
    }

    /// PATCHes of pods (and their status) per VM.
    pub fn pod_patches(&self) -> f64 {
        self.per_vm(self.writes_where(|r| r.verb == "PATCH" && r.resource.starts_with("pods")))
    }

    /// Writes per VM that scale with VM starts (no heartbeats or leases).
    pub fn writes_per_vm(&self) -> f64 {
        self.per_vm(self.writes_where(|r| !r.is_background()))
    }
}

/// A whole benchmark invocation.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub machine: Machine,
    pub load_before: String,
    pub load_after: String,
    pub peak_load1: Option<f64>,
    pub runs: Vec<RunResult>,
    pub notes: Vec<String>,
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(|| "–".into(), |k| format!("{:.0} MiB", k as f64 / 1024.0))
}

fn secs(v: f64) -> String {
    format!("{v:.2}")
}

fn opt_secs(v: Option<f64>) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{v:.1}"))
}

impl Report {
    /// The `BENCHMARKS.md` section.
    pub fn to_markdown(&self) -> String {
        let mut md = String::new();
        let m = &self.machine;
        let _ = writeln!(
            md,
            "## VM lifecycle at scale (simulated nodes)\n\n\
             Generated by `scripts/bench-scale.sh` (binary `scale-bench` of `crates/bench`); the raw \
             numbers are in `target/bench/scale.json`.\n\n\
             ### Run of {} (commit {})\n\n#### Machine\n",
            m.date, m.commit
        );
        let _ = writeln!(md, "- CPU: {} × {}", m.cpu_model, m.cpus);
        if let Some(kib) = m.memory_kib {
            let _ = writeln!(md, "- Memory: {:.1} GiB", kib as f64 / 1024.0 / 1024.0);
        }
        let _ = writeln!(md, "- Kernel: {}", m.kernel);
        let _ = writeln!(md, "- Disk of the data directories: {}", m.disk);
        let _ = writeln!(
            md,
            "- Load (`/proc/loadavg`: 1, 5, 15 min, runnable/total tasks): before `{}`, after `{}`",
            self.load_before, self.load_after
        );
        if let Some(peak) = self.peak_load1 {
            let _ = writeln!(
                md,
                "- Highest 1-minute load average during the run: {peak:.2}"
            );
        }
        for note in &self.notes {
            let _ = writeln!(md, "- {note}");
        }
        for r in self
            .runs
            .iter()
            .filter(|r| r.started.get(..10) != m.date.get(..10))
        {
            let _ = writeln!(
                md,
                "- \"{}\" is kept from an earlier invocation: {} (commit {}), load before `{}`, after `{}`.",
                r.spec.label(),
                r.started,
                r.commit,
                r.load_before,
                r.load_after
            );
        }
        self.latency_table(&mut md);
        self.resource_table(&mut md);
        self.writes_tables(&mut md);
        md.push_str(METHOD);
        md
    }

    fn latency_table(&self, md: &mut String) {
        md.push_str(
            "\n#### Creation to Running\n\n\
             | Run | Nodes | Running | Creates/s achieved | All Running after s | p50 s | p95 s | p99 s | max s | p50 / p99 s by timestamps |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for r in &self.runs {
            let t = &r.to_running;
            let ts = &r.to_running_timestamps;
            let _ = writeln!(
                md,
                "| {} | {} | {}/{} | {:.1} | {} | {} | {} | {} | {} | {:.0} / {:.0} |",
                r.spec.label(),
                r.nodes,
                r.running,
                r.spec.vms,
                r.creates_per_second,
                opt_secs(r.all_running_seconds),
                secs(t.p50_s),
                secs(t.p95_s),
                secs(t.p99_s),
                secs(t.max_s),
                ts.p50_s,
                ts.p99_s
            );
        }
        let _ = writeln!(
            md,
            "| KubeVirt, {} VMIs on KWOK nodes (published) | | | | | {} | {} | {} | | |",
            kubevirt::VMIS,
            kubevirt::P50_S,
            kubevirt::P95_S,
            kubevirt::P99_S
        );
        for r in self.runs.iter().filter(|r| r.time_limited) {
            let _ = writeln!(
                md,
                "\n**{}: stopped at its time limit** after {:.0} s with {} of {} VMs created \
                 and {} Running; its per-VM figures are per VM created.",
                r.spec.label(),
                r.window_seconds,
                r.created,
                r.spec.vms,
                r.running
            );
        }
        for r in self.runs.iter().filter(|r| !r.not_running.is_empty()) {
            let phases: Vec<String> = r
                .not_running
                .iter()
                .map(|(p, n)| format!("{n} {p}"))
                .collect();
            let _ = writeln!(
                md,
                "\n**{}: {} of {} VMs never reached Running** (VMIs by phase at the end: {}).",
                r.spec.label(),
                r.spec.vms - r.running,
                r.spec.vms,
                phases.join(", ")
            );
        }
    }

    fn resource_table(&self, md: &mut String) {
        md.push_str(
            "\n#### kubevirtd (API server, controllers and simulated nodes in one process)\n\n\
             | Run | Peak RSS (VmHWM) | RSS before → after | CPU s in the run | CPU cores (avg) | Store on disk | Benchmark client CPU s |\n\
             |---|---:|---:|---:|---:|---:|---:|\n",
        );
        for r in &self.runs {
            let cores = r
                .cpu_seconds
                .filter(|_| r.window_seconds > 0.0)
                .map_or_else(|| "–".into(), |c| format!("{:.2}", c / r.window_seconds));
            let _ = writeln!(
                md,
                "| {} | {} | {} → {} | {} | {cores} | {:.1} MiB | {} |",
                r.spec.label(),
                mib(r.rss_peak_kib),
                mib(r.rss_start_kib),
                mib(r.rss_end_kib),
                opt_secs(r.cpu_seconds),
                r.store_bytes as f64 / 1024.0 / 1024.0,
                opt_secs(r.client_cpu_seconds)
            );
        }
        let _ = writeln!(
            md,
            "| KubeVirt, {} VMIs (published) | virt-controller alone: {} GB | | | | | |",
            kubevirt::VMIS,
            kubevirt::CONTROLLER_RSS_GB
        );
    }

    fn writes_tables(&self, md: &mut String) {
        let head: Vec<String> = self.runs.iter().map(|r| r.spec.label()).collect();
        let _ = writeln!(
            md,
            "\n#### API writes per VM start\n\n\
             | Writes per VM | KubeVirt per VMI (published) | {} |\n|---|---:|{}",
            head.join(" | "),
            "---:|".repeat(head.len())
        );
        let line = |md: &mut String, name: &str, theirs: &str, f: &dyn Fn(&RunResult) -> f64| {
            let ours: Vec<String> = self.runs.iter().map(|r| format!("{:.2}", f(r))).collect();
            let _ = writeln!(md, "| {name} | {theirs} | {} |", ours.join(" | "));
        };
        line(
            md,
            "VMI updates (PUT)",
            &kubevirt::VMI_UPDATES.to_string(),
            &RunResult::vmi_updates,
        );
        line(
            md,
            "VMI patches (PATCH)",
            &kubevirt::VMI_PATCHES.to_string(),
            &RunResult::vmi_patches,
        );
        line(
            md,
            "pod patches (PATCH, pods and pods/status)",
            &kubevirt::POD_PATCHES.to_string(),
            &RunResult::pod_patches,
        );
        line(
            md,
            "all writes (without node heartbeats and leases)",
            "",
            &RunResult::writes_per_vm,
        );

        let keys: BTreeSet<(String, String, String)> = self
            .runs
            .iter()
            .flat_map(|r| r.writes.iter().filter(|w| !w.is_background()))
            .map(|w| (w.component.clone(), w.verb.clone(), w.resource.clone()))
            .collect();
        let _ = writeln!(
            md,
            "\nBy component, verb and resource (writes per VM):\n\n\
             | Component | Verb | Resource | {} |\n|---|---|---|{}",
            head.join(" | "),
            "---:|".repeat(head.len())
        );
        for (component, verb, resource) in &keys {
            let cells: Vec<String> = self
                .runs
                .iter()
                .map(|r| {
                    let n: u64 = r
                        .writes
                        .iter()
                        .filter(|w| {
                            &w.component == component && &w.verb == verb && &w.resource == resource
                        })
                        .map(|w| w.count)
                        .sum();
                    format!("{:.2}", r.per_vm(n))
                })
                .collect();
            let _ = writeln!(
                md,
                "| {component} | {verb} | {resource} | {} |",
                cells.join(" | ")
            );
        }
        let reads = |r: &RunResult, verb: &str| {
            r.per_vm(
                r.reads
                    .iter()
                    .filter(|x| x.verb == verb)
                    .map(|x| x.count)
                    .sum(),
            )
        };
        let _ = writeln!(
            md,
            "| all | GET | (reads, any resource) | {} |\n| all | LIST | (reads, any resource) | {} |",
            self.runs
                .iter()
                .map(|r| format!("{:.2}", reads(r, "GET")))
                .collect::<Vec<_>>()
                .join(" | "),
            self.runs
                .iter()
                .map(|r| format!("{:.2}", reads(r, "LIST")))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        let background: Vec<String> = self
            .runs
            .iter()
            .map(|r| {
                let n: u64 = r
                    .writes
                    .iter()
                    .filter(|w| w.is_background())
                    .map(|w| w.count)
                    .sum();
                format!("{n} in {:.0} s", r.window_seconds)
            })
            .collect();
        let _ = writeln!(
            md,
            "\nNode heartbeats and leases (not per VM): {}.",
            background.join("; ")
        );
        for r in &self.runs {
            let failed: Vec<String> = r
                .failed_writes
                .iter()
                .map(|(k, n)| format!("{k}: {n} ({:.2} per VM)", r.per_vm(*n)))
                .collect();
            let failed = if failed.is_empty() {
                "none".to_string()
            } else {
                failed.join("; ")
            };
            let _ = writeln!(
                md,
                "\nWrites answered with an error in \"{}\" (included above): {failed}.",
                r.spec.label()
            );
        }
    }
}

const METHOD: &str = "
#### Method

- Each run starts a fresh `kubevirtd --node-driver=simulated --boot-delay-ms 0` (release build) with enough simulated nodes (8 CPU, 32Gi, 110 pods each) for its launcher pods plus 10 %, waits until every node is registered, then creates VMs in one namespace: `runStrategy: Always`, one vCPU, `memory.guest: 64Mi`, a container disk, `terminationGracePeriodSeconds: 0`. Paced runs send creates on a fixed schedule; burst runs create as fast as the concurrent clients can, each client its own HTTPS connection with the administrator's token.
- Creation to Running (watch-based): from the moment the benchmark sends a VM's create request to the moment its watch of VMIs (one kube-rs watcher, started before the first create) delivers the VMI with `status.phase: Running`. It includes the VM controller, the VMI controller, scheduling and the simulated kubelet and virt-handler, plus the watch delivery to the benchmark. The timestamp column is the same interval from the VM's `creationTimestamp` to the VMI's `phaseTransitionTimestamps` entry for Running, both of 1 s resolution, as KubeVirt's own metric would see them.
- API requests come from the server's `/metrics` (`apiserver_request_by_user_total`, counted by verb, resource and authenticated user) scraped before the first create and after the run settled (no VM, VMI or pod writes for 3 s after the last VMI ran). Components are the in-process identities `system:serviceaccount:kubevirt:<component>`; `admin` is the benchmark. Writes are POST, PUT, PATCH, APPLY and DELETE requests; node heartbeats and leases are shown apart because they do not scale with VM starts. Requests the server makes to itself without HTTP (garbage collection) are not counted.
- KubeVirt's figures are for 8000 VMIs created directly on KWOK nodes with kube-apiserver and etcd on separate machines; they count VMI writes per VMI, while these runs create VMs (the VM controller's VM and VMI writes are included).
- Memory is the kubevirtd process's VmHWM (peak resident set since it started) and VmRSS from `/proc/<pid>/status`; CPU is its utime + stime from `/proc/<pid>/stat` over the run window (from the first create until the writes settled). The benchmark client (TLS, JSON, a watch of every VMI) runs on the same CPUs and its own CPU time is listed.
- Store on disk: the SQLite database, write-ahead log and shared-memory index at the end of the run.
";

#[cfg(test)]
mod tests {
    use super::*;

    fn run(vms: usize) -> RunResult {
        RunResult {
            spec: RunSpec {
                vms,
                pace: Pace::Burst,
            },
            started: "2026-01-01T00:00:00Z".into(),
            commit: "abc".into(),
            nodes: 14,
            clients: 32,
            guest_memory: "64Mi".into(),
            pods_per_node: Some(80),
            created: vms,
            running: vms,
            not_running: BTreeMap::new(),
            create_seconds: 1.0,
            creates_per_second: vms as f64,
            create_request: Percentiles::default(),
            to_running: Percentiles::default(),
            to_running_timestamps: Percentiles::default(),
            all_running_seconds: Some(2.0),
            window_seconds: 10.0,
            writes: Vec::new(),
            reads: Vec::new(),
            failed_writes: BTreeMap::new(),
            time_limited: false,
            rss_start_kib: Some(1024),
            rss_end_kib: Some(2048),
            rss_peak_kib: Some(4096),
            cpu_seconds: Some(5.0),
            client_cpu_seconds: Some(1.0),
            store_bytes: 0,
            load_before: String::new(),
            load_after: String::new(),
        }
    }

    fn row(component: &str, verb: &str, resource: &str, count: u64) -> RequestRow {
        RequestRow {
            component: component.into(),
            verb: verb.into(),
            group: String::new(),
            resource: resource.into(),
            count,
        }
    }

    #[test]
    fn run_specs_parse_rates_and_bursts() {
        assert_eq!(
            "1000@10".parse(),
            Ok(RunSpec {
                vms: 1000,
                pace: Pace::Rate(10.0)
            })
        );
        assert_eq!(
            " 8000@burst ".parse(),
            Ok(RunSpec {
                vms: 8000,
                pace: Pace::Burst
            })
        );
        assert!(matches!(
            "1000".parse::<RunSpec>(),
            Err(SpecError::Syntax(_))
        ));
        assert!(matches!(
            "0@10".parse::<RunSpec>(),
            Err(SpecError::Range(_))
        ));
        assert!(matches!("5@0".parse::<RunSpec>(), Err(SpecError::Range(_))));
        assert_eq!(
            "1000@2.5".parse::<RunSpec>().unwrap().label(),
            "1000 VMs at 2.5/s"
        );
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let p = Percentiles::of(&samples);
        assert_eq!(p.count, 100);
        assert_eq!(p.p50_s, 0.05);
        assert_eq!(p.p95_s, 0.095);
        assert_eq!(p.p99_s, 0.099);
        assert_eq!(p.max_s, 0.1);
        assert_eq!(Percentiles::of(&[]), Percentiles::default());
    }

    #[test]
    fn per_vm_figures_split_by_verb_and_leave_heartbeats_out() {
        let mut r = run(100);
        r.writes = vec![
            row("virt-controller", "PUT", "virtualmachineinstances", 300),
            row("virt-handler", "PATCH", "virtualmachineinstances", 150),
            row("virt-handler", "PATCH", "pods/status", 200),
            row("virt-handler", "PATCH", "pods", 100),
            row("virt-handler", "PATCH", "nodes/status", 40),
            row("virt-handler", "PUT", "leases", 40),
            row("admin", "POST", "virtualmachines", 100),
        ];
        assert_eq!(r.vmi_updates(), 3.0);
        assert_eq!(r.vmi_patches(), 1.5);
        assert_eq!(r.pod_patches(), 3.0);
        assert_eq!(r.writes_per_vm(), 8.5);
    }

    #[test]
    fn runs_cut_short_count_per_vm_created_and_say_so() {
        let mut r = run(8000);
        r.time_limited = true;
        r.created = 2000;
        r.running = 1500;
        r.writes = vec![row(
            "virt-controller",
            "PUT",
            "virtualmachineinstances",
            6000,
        )];
        assert_eq!(r.vmi_updates(), 3.0);
        let report = Report {
            machine: bench::machine::Machine {
                date: "2026-01-01T00:00:00Z".into(),
                cpu_model: "cpu".into(),
                cpus: 2,
                memory_kib: None,
                kernel: "k".into(),
                disk: "d".into(),
                disk_sync: None,
                commit: "abc".into(),
            },
            load_before: String::new(),
            load_after: String::new(),
            peak_load1: None,
            runs: vec![r],
            notes: Vec::new(),
        };
        let md = report.to_markdown();
        assert!(md.contains(
            "stopped at its time limit** after 10 s with 2000 of 8000 VMs created and 1500 Running"
        ));
    }

    #[test]
    fn markdown_compares_with_kubevirt_and_lists_every_write_kind() {
        let mut r = run(100);
        r.writes = vec![
            row("virt-controller", "PUT", "virtualmachineinstances", 300),
            row("virt-handler", "PUT", "leases", 40),
        ];
        r.reads = vec![row("virt-controller", "GET", "pods", 50)];
        let mut incomplete = run(8000);
        incomplete.running = 7990;
        incomplete.not_running = [("Scheduling".to_string(), 10)].into();
        let report = Report {
            machine: bench::machine::Machine {
                date: "2026-01-01T00:00:00Z".into(),
                cpu_model: "cpu".into(),
                cpus: 2,
                memory_kib: Some(1024 * 1024),
                kernel: "k".into(),
                disk: "d".into(),
                disk_sync: None,
                commit: "abc".into(),
            },
            load_before: "1 1 1 1/1".into(),
            load_after: "2 2 2 2/2".into(),
            peak_load1: Some(2.0),
            runs: vec![r, incomplete],
            notes: vec!["shared".into()],
        };
        let md = report.to_markdown();
        assert!(md.starts_with("## VM lifecycle at scale (simulated nodes)"));
        assert!(md.contains("| VMI updates (PUT) | 3.4 | 3.00 | 0.00 |"));
        assert!(md.contains("| virt-controller | PUT | virtualmachineinstances | 3.00 | 0.00 |"));
        assert!(!md.contains("| virt-handler | PUT | leases |"));
        assert!(md.contains("40 in 10 s"));
        assert!(md.contains("error in \"100 VMs, burst\" (included above): none."));
        assert!(md.contains("| all | GET | (reads, any resource) | 0.50 | 0.00 |"));
        assert!(md.contains("10 of 8000 VMs never reached Running"));
        assert!(md.contains("10 Scheduling"));
        assert!(!md.contains("time limit"));
        assert!(md.contains("- shared"));
    }
}
