//! What machine a benchmark ran on: CPU, memory, kernel, disk, load, date and source commit.
//!
//! Everything is read from `/proc`, `/sys` and `git`; whatever cannot be read is reported as
//! `unknown` rather than failing the benchmark.

use std::path::Path;
use std::process::Command;

use serde::Serialize;

use crate::stats::Summary;

/// The machine and source a run measured.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    /// UTC time the run started, RFC 3339.
    pub date: String,
    pub cpu_model: String,
    pub cpus: usize,
    pub memory_kib: Option<u64>,
    pub kernel: String,
    /// The disk holding the benchmark's data directories.
    pub disk: String,
    /// Latency of appending 4 KiB to a file on that disk and syncing its data.
    pub disk_sync: Option<Summary>,
    /// `git rev-parse --short HEAD`, with `+changes` when the work tree had uncommitted edits.
    pub commit: String,
}

impl Machine {
    /// Describes this machine; `data_dir` is where the benchmark keeps its stores.
    pub fn detect(data_dir: &Path) -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let (cpu_model, cpus) = parse_cpuinfo(&cpuinfo);
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        Machine {
            date: jiff::Timestamp::now()
                .round(jiff::Unit::Second)
                .unwrap_or_else(|_| jiff::Timestamp::now())
                .to_string(),
            cpu_model: cpu_model.unwrap_or_else(|| "unknown".into()),
            cpus: if cpus > 0 {
                cpus
            } else {
                std::thread::available_parallelism().map_or(0, |n| n.get())
            },
            memory_kib: kib_field(&meminfo, "MemTotal"),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| "unknown".into()),
            disk: describe_disk(data_dir),
            disk_sync: sync_probe(data_dir, 200).ok(),
            commit: git_commit(),
        }
    }
}

/// The CPU model name and the number of logical CPUs listed in `/proc/cpuinfo` text.
pub fn parse_cpuinfo(text: &str) -> (Option<String>, usize) {
    let mut model = None;
    let mut count = 0;
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        match key.trim() {
            "processor" => count += 1,
            "model name" if model.is_none() => model = Some(value.trim().to_string()),
            _ => {}
        }
    }
    (model, count)
}

/// A `Name:   123 kB` field of `/proc/meminfo` or `/proc/<pid>/status`, in KiB.
pub fn kib_field(text: &str, name: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        if key.trim() != name {
            return None;
        }
        value.split_whitespace().next()?.parse().ok()
    })
}

/// The system load averages (`/proc/loadavg`: 1, 5 and 15 minutes, runnable/total tasks).
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(4).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// The 1-minute load average of `/proc/loadavg` text.
pub fn load1(loadavg: &str) -> Option<f64> {
    loadavg.split_whitespace().next()?.parse().ok()
}

/// A warning for the report when the 1-minute load reached `cpus / 2` during a run: the
/// numbers then measure a shared machine.
pub fn busy_note(peak_load1: f64, cpus: usize) -> Option<String> {
    (cpus > 0 && peak_load1 >= cpus as f64 / 2.0).then(|| {
        format!(
            "**The machine was busy**: the 1-minute load average reached {peak_load1:.2} on {cpus} \
             CPUs during the run (other work included), so these numbers are indicative only."
        )
    })
}

/// Major and minor numbers of a Linux `dev_t` (the kernel's encoding, as glibc decodes it).
pub fn dev_major_minor(dev: u64) -> (u64, u64) {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    (major, minor)
}

/// The mount point and filesystem type of the longest `/proc/self/mounts` entry containing
/// `path` (which must be absolute and canonical).
pub fn mount_of(mounts: &str, path: &Path) -> Option<(String, String)> {
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let _source = fields.next()?;
            let point = fields.next()?.replace("\\040", " ");
            let fstype = fields.next()?.to_string();
            path.starts_with(&point).then_some((point, fstype))
        })
        .max_by_key(|(point, _)| point.len())
}

fn describe_disk(dir: &Path) -> String {
    use std::os::unix::fs::MetadataExt;
    let Ok(dir) = dir.canonicalize() else {
        return "unknown".into();
    };
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let fstype = mount_of(&mounts, &dir).map_or_else(|| "unknown filesystem".into(), |(_, t)| t);
    let Ok(meta) = std::fs::metadata(&dir) else {
        return fstype;
    };
    let (major, minor) = dev_major_minor(meta.dev());
    if major == 0 {
        return format!("{fstype} (no block device)");
    }
    let Ok(mut device) = Path::new(&format!("/sys/dev/block/{major}:{minor}")).canonicalize()
    else {
        return format!("{fstype} on block device {major}:{minor}");
    };
    // A partition's queue settings live on its parent disk.
    if device.join("partition").exists() {
        device.pop();
    }
    let name = device
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let rotational = std::fs::read_to_string(device.join("queue/rotational"))
        .ok()
        .map(|s| s.trim() == "1");
    let kind = match rotational {
        Some(true) => "rotational flag set",
        Some(false) => "non-rotational",
        None => "rotational flag unknown",
    };
    let virt = if name.starts_with("vd") {
        ", virtio virtual disk"
    } else {
        ""
    };
    format!("{name} ({fstype}, {kind}{virt})")
}

/// Appends 4 KiB to a scratch file in `dir` and syncs its data, `samples` times; the latencies
/// show what one durable commit costs on this disk at best.
pub fn sync_probe(dir: &Path, samples: usize) -> std::io::Result<Summary> {
    use std::io::Write;
    let path = dir.join("sync-probe");
    let mut file = std::fs::File::create(&path)?;
    let block = [0x5a_u8; 4096];
    let mut latencies = Vec::with_capacity(samples);
    for _ in 0..samples {
        let began = std::time::Instant::now();
        file.write_all(&block)?;
        file.sync_data()?;
        latencies.push(began.elapsed());
    }
    drop(file);
    std::fs::remove_file(&path)?;
    Ok(Summary::of(latencies))
}

fn git_commit() -> String {
    let run = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match run(&["rev-parse", "--short=12", "HEAD"]) {
        Some(commit) => {
            let dirty = run(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{commit}+changes")
            } else {
                commit
            }
        }
        None => "unknown".into(),
    }
}

/// Memory of a process from `/proc/<pid>/status`: (VmRSS, VmHWM) in KiB.
pub fn process_memory(pid: u32) -> (Option<u64>, Option<u64>) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    (kib_field(&status, "VmRSS"), kib_field(&status, "VmHWM"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpuinfo_gives_the_first_model_and_counts_processors() {
        let text = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t: fpu\n\n\
                    processor\t: 1\nmodel name\t: AMD EPYC 7B13\n";
        assert_eq!(parse_cpuinfo(text), (Some("AMD EPYC 7B13".into()), 2));
        assert_eq!(parse_cpuinfo(""), (None, 0));
    }

    #[test]
    fn kib_fields_are_read_by_exact_name() {
        let status = "VmHWM:\t  20480 kB\nVmRSS:\t   10240 kB\nRssAnon:\t 1 kB\n";
        assert_eq!(kib_field(status, "VmRSS"), Some(10240));
        assert_eq!(kib_field(status, "VmHWM"), Some(20480));
        assert_eq!(kib_field(status, "Rss"), None);
    }

    #[test]
    fn load_is_read_from_the_first_field_and_judged_against_cpus() {
        assert_eq!(load1("2.62 2.50 3.14 11/158 6724"), Some(2.62));
        assert_eq!(load1(""), None);
        assert!(busy_note(1.0, 2).is_some_and(|n| n.contains("1.00 on 2 CPUs")));
        assert_eq!(busy_note(0.9, 2), None);
        assert_eq!(busy_note(5.0, 0), None);
    }

    #[test]
    fn sync_probe_measures_every_sample_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let summary = sync_probe(dir.path(), 3).unwrap();
        assert_eq!(summary.count, 3);
        assert!(summary.max_ms >= summary.p50_ms);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn dev_numbers_decode_small_and_large_majors() {
        // makedev(253, 1) and makedev(259, 70000) as glibc encodes them.
        assert_eq!(dev_major_minor((253 << 8) | 1), (253, 1));
        let minor: u64 = 70000;
        let dev = (259 << 8) | (minor & 0xff) | ((minor & !0xff) << 12);
        assert_eq!(dev_major_minor(dev), (259, 70000));
    }

    #[test]
    fn mount_of_prefers_the_longest_matching_mount_point() {
        let mounts = "/dev/vda / ext4 rw 0 0\ntmpfs /tmp tmpfs rw 0 0\n/dev/vdb /tmpx xfs rw 0 0\n";
        assert_eq!(
            mount_of(mounts, Path::new("/tmp/a")),
            Some(("/tmp".into(), "tmpfs".into()))
        );
        assert_eq!(
            mount_of(mounts, Path::new("/tmpx/a")),
            Some(("/tmpx".into(), "xfs".into()))
        );
        assert_eq!(
            mount_of(mounts, Path::new("/var")),
            Some(("/".into(), "ext4".into()))
        );
    }
}
