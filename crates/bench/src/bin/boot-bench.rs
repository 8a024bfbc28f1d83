//! Boot time and per-VMI memory of `kubevirtd`'s QEMU node driver against bare QEMU.
//!
//! In one run, alternating so that load drifts hit both alike:
//! - **bare**: `qemu-system-x86_64` with the very command line the driver used for a guest
//!   (same machine, accelerator, CPU, devices and disk), serial on standard output, timed from
//!   spawn to the test guest's boot marker;
//! - **kubevirtd**: `POST` of a VirtualMachine (runStrategy Always) to the marker arriving on
//!   the serial console websocket of virt-api.
//!
//! Then N VMIs run at once and the memory our processes add per VMI is measured: each
//! launcher process (the standalone `virt-launcher` binary that `scripts/bench-boot.sh` installs
//! beside kubevirtd), and the growth of `kubevirtd` itself divided
//! by N, beside QEMU's own. Run it through `scripts/bench-boot.sh`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bench::machine::{self, Machine};
use clap::Parser;
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use kube::client::Body;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

const MARKER: &str = "kubevirt-rs test guest: boot complete";
const IMAGE: &str = "kubevirt-rs/test-guest:latest";
const NS: &str = "default";
const TIMEOUT: Duration = Duration::from_secs(180);

#[derive(Parser, Debug)]
#[command(
    name = "boot-bench",
    about = "Boot time and per-VMI memory of the QEMU node driver"
)]
struct Args {
    /// The kubevirtd binary (a release build).
    #[arg(long)]
    kubevirtd: PathBuf,
    /// The test guest directory (scripts/build-test-guest.sh).
    #[arg(long)]
    guest: PathBuf,
    /// Timed boots of each kind.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// VMIs running at once for the memory measurement.
    #[arg(long, default_value_t = 5)]
    vmis: usize,
    /// Forces the accelerator (kvm or tcg); kubevirtd probes when unset.
    #[arg(long)]
    accel: Option<String>,
    /// Where to write the raw numbers.
    #[arg(long)]
    json: Option<PathBuf>,
    /// The markdown file whose `bench:boot` section to rewrite.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// A note on the run added to the machine description.
    #[arg(long)]
    note: Option<String>,
}

/// A kubevirtd child with its data directory.
struct Server {
    child: Child,
    data: PathBuf,
    client: kube::Client,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for dir in run_dirs(&self.data.join("node/vmis")) {
            if let Some(state) = read_json(&dir.join("state.json")) {
                for key in ["qemuPid", "launcherPid"] {
                    if let Some(pid) = state[key].as_u64() {
                        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
                    }
                }
            }
        }
    }
}

fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// `<vmis>/<ns>/<name>/<uid>` directories.
fn run_dirs(vmis: &Path) -> Vec<PathBuf> {
    let children = |d: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(d)
            .map(|r| r.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default()
    };
    children(vmis)
        .iter()
        .flat_map(|ns| children(ns))
        .flat_map(|name| children(&name))
        .collect()
}

async fn start_server(args: &Args, work: &Path) -> Result<Server> {
    let data = work.join("kubevirtd");
    let out = Command::new(&args.kubevirtd)
        .args(["image", "import", IMAGE])
        .arg(args.guest.join("disk.qcow2"))
        .arg("--data-dir")
        .arg(&data)
        .output()?;
    if !out.status.success() {
        bail!(
            "image import failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut cmd = Command::new(&args.kubevirtd);
    cmd.arg("--data-dir")
        .arg(&data)
        .args(["--listen", "127.0.0.1:0", "--node-driver=qemu"])
        .env("KUBEVIRTD_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(accel) = &args.accel {
        cmd.arg(format!("--accel={accel}"));
    }
    let mut child = cmd.spawn().context("start kubevirtd")?;
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with("export KUBECONFIG=") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(120))
        .context("kubevirtd did not start")?;
    let kc = kube::config::Kubeconfig::read_from(data.join("kubeconfig"))?;
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?;
    let client = kube::Client::try_from(config)?;
    let server = Server {
        child,
        data,
        client,
    };
    wait(TIMEOUT, "the node to register", || async {
        let nodes = get(&server.client, "/api/v1/nodes").await?;
        (!nodes["items"].as_array()?.is_empty()).then_some(())
    })
    .await?;
    Ok(server)
}

async fn request(
    client: &kube::Client,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(bytes))
        .expect("request");
    match client.send(req).await {
        Ok(resp) => {
            let code = resp.status().as_u16();
            let body = resp.into_body().collect().await.map(|b| b.to_bytes());
            let value = body
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or(Value::Null);
            (code, value)
        }
        Err(_) => (0, Value::Null),
    }
}

async fn get(client: &kube::Client, path: &str) -> Option<Value> {
    let (code, body) = request(client, "GET", path, None).await;
    (code == 200).then_some(body)
}

async fn wait<T, F, Fut>(timeout: Duration, what: &str, mut f: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return Ok(v);
        }
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn vm(name: &str) -> Value {
    json!({
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"runStrategy": "Always", "template": {"spec": {
            "terminationGracePeriodSeconds": 0,
            "domain": {
                "cpu": {"cores": 1},
                "memory": {"guest": "128Mi"},
                "resources": {"requests": {"memory": "128Mi"}},
                "devices": {
                    "autoattachPodInterface": false,
                    "disks": [{"name": "root", "disk": {"bus": "virtio"}}],
                },
            },
            "volumes": [{"name": "root", "containerDisk": {"image": IMAGE}}],
        }}},
    })
}

/// Connects to the console websocket (refused until the guest runs) and reads the server's
/// frames until the marker; the client never writes, so frames are never masked.
async fn console_marker(client: &kube::Client, name: &str) -> Result<()> {
    let path = format!(
        "/apis/subresources.kubevirt.io/v1/namespaces/{NS}/virtualmachineinstances/{name}/console"
    );
    let deadline = Instant::now() + TIMEOUT;
    let upgraded = loop {
        let req = Request::get(&path)
            .header(header::CONNECTION, "Upgrade")
            .header(header::UPGRADE, "websocket")
            .header(header::SEC_WEBSOCKET_VERSION, "13")
            .header(header::SEC_WEBSOCKET_KEY, "dGhlIHNhbXBsZSBub25jZQ==")
            .header(header::SEC_WEBSOCKET_PROTOCOL, "plain.kubevirt.io")
            .body(Body::empty())?;
        if let Ok(resp) = client.send(req).await
            && resp.status() == StatusCode::SWITCHING_PROTOCOLS
        {
            break hyper::upgrade::on(resp).await?;
        }
        if Instant::now() > deadline {
            bail!("the console of {name} never opened");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let mut io = TokioIo::new(upgraded);
    let mut text = String::new();
    let read = async {
        loop {
            let mut head = [0u8; 2];
            io.read_exact(&mut head).await?;
            let mut len = u64::from(head[1] & 0x7f);
            if len == 126 {
                let mut b = [0u8; 2];
                io.read_exact(&mut b).await?;
                len = u64::from(u16::from_be_bytes(b));
            } else if len == 127 {
                let mut b = [0u8; 8];
                io.read_exact(&mut b).await?;
                len = u64::from_be_bytes(b);
            }
            let mut payload = vec![0u8; len as usize];
            io.read_exact(&mut payload).await?;
            if head[0] & 0x0f == 0x8 {
                bail!("the console closed before the marker");
            }
            text.push_str(&String::from_utf8_lossy(&payload));
            if text.contains(MARKER) {
                return Ok(());
            }
        }
    };
    tokio::time::timeout(TIMEOUT, read)
        .await
        .map_err(|_| anyhow::anyhow!("no marker on the console of {name}"))?
}

/// Deletes the VM and waits until its VMI is gone.
async fn remove_vm(client: &kube::Client, name: &str) -> Result<()> {
    let vm_path = format!("/apis/kubevirt.io/v1/namespaces/{NS}/virtualmachines/{name}");
    request(
        client,
        "DELETE",
        &vm_path,
        Some(json!({"gracePeriodSeconds": 0})),
    )
    .await;
    let vmi_path = format!("/apis/kubevirt.io/v1/namespaces/{NS}/virtualmachineinstances/{name}");
    wait(TIMEOUT, "the VMI to go", || async {
        get(client, &vmi_path).await.is_none().then_some(())
    })
    .await
}

/// One timed kubevirtd boot: create → marker on the console.
async fn kubevirtd_boot(server: &Server, name: &str) -> Result<Duration> {
    let t0 = Instant::now();
    let (code, body) = request(
        &server.client,
        "POST",
        &format!("/apis/kubevirt.io/v1/namespaces/{NS}/virtualmachines"),
        Some(vm(name)),
    )
    .await;
    if code != 201 {
        bail!("create {name}: {code} {body}");
    }
    console_marker(&server.client, name).await?;
    Ok(t0.elapsed())
}

/// The running VMI's run directory.
async fn run_dir(server: &Server, name: &str) -> Result<PathBuf> {
    let vmi = get(
        &server.client,
        &format!("/apis/kubevirt.io/v1/namespaces/{NS}/virtualmachineinstances/{name}"),
    )
    .await
    .context("VMI")?;
    let uid = vmi["metadata"]["uid"].as_str().unwrap_or_default();
    Ok(server.data.join("node/vmis").join(NS).join(name).join(uid))
}

/// The QEMU command line the launcher logged, made standalone: not paused, serial on
/// standard output, no QMP, its own overlay of the same base disk.
fn bare_command(logged: &[String], overlay: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = logged.iter().peekable();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-S" => {}
            "-qmp" | "-vnc" => {
                it.next();
            }
            "-chardev" => {
                let spec = it.next().cloned().unwrap_or_default();
                let id = spec
                    .split(',')
                    .find_map(|p| p.strip_prefix("id="))
                    .unwrap_or("serial0");
                out.push("-chardev".into());
                out.push(format!("stdio,id={id},signal=off"));
            }
            "-drive" => {
                let spec = it.next().cloned().unwrap_or_default();
                let rewritten: Vec<String> = spec
                    .split(',')
                    .map(|p| match p.strip_prefix("file=") {
                        Some(_) => format!("file={}", overlay.display()),
                        None => p.to_string(),
                    })
                    .collect();
                out.push("-drive".into());
                out.push(rewritten.join(","));
            }
            _ => out.push(arg.clone()),
        }
    }
    out
}

fn bare_boot(cmdline: &[String], base: &Path, work: &Path) -> Result<Duration> {
    let overlay = work.join("bare-overlay.qcow2");
    let _ = std::fs::remove_file(&overlay);
    let status = Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b"])
        .arg(base)
        .arg(&overlay)
        .status()?;
    if !status.success() {
        bail!("qemu-img create failed");
    }
    let args = bare_command(cmdline, &overlay);
    let t0 = Instant::now();
    let mut child = Command::new(&args[0])
        .args(&args[1..])
        .current_dir(work)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut stdout = child.stdout.take().expect("piped");
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let result = loop {
        use std::io::Read;
        match stdout.read(&mut buf) {
            Ok(0) | Err(_) => break Err(anyhow::anyhow!("bare QEMU ended before the marker")),
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
        if String::from_utf8_lossy(&seen).contains(MARKER) {
            break Ok(t0.elapsed());
        }
        if t0.elapsed() > TIMEOUT {
            break Err(anyhow::anyhow!("bare QEMU: no marker"));
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    result
}

/// (VmRSS, Pss) of a process in KiB.
fn memory(pid: u32) -> (u64, u64) {
    let rss = machine::process_memory(pid).0.unwrap_or(0);
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    (rss, machine::kib_field(&rollup, "Pss").unwrap_or(0))
}

fn median(samples: &[Duration]) -> Duration {
    let mut s = samples.to_vec();
    s.sort();
    s.get(s.len() / 2).copied().unwrap_or_default()
}

fn secs(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64())
}

fn mib(kib: f64) -> String {
    format!("{:.1}", kib / 1024.0)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let work = tempfile::Builder::new()
        .prefix("boot-bench-")
        .tempdir_in("/tmp")?;
    let machine = Machine::detect(work.path());
    let load_before = machine::loadavg();
    let mut peak = machine::load1(&load_before).unwrap_or(0.0);
    let server = start_server(&args, work.path()).await?;
    let base = std::fs::read_dir(server.data.join("node/images"))?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("disk.qcow2"))
        .find(|p| p.is_file())
        .context("imported image")?;

    // Warm-up guest: caches, and the command line the driver uses.
    kubevirtd_boot(&server, "warmup").await?;
    let dir = run_dir(&server, "warmup").await?;
    let log = std::fs::read_to_string(dir.join("launcher.log"))?;
    let line = log
        .lines()
        .find_map(|l| l.split_once("QEMU started: ").map(|(_, c)| c.to_string()))
        .context("QEMU command line in launcher.log")?;
    let mut cmdline: Vec<String> = line.split_whitespace().map(str::to_string).collect();
    if cmdline.last().is_some_and(|a| a.starts_with("pid=")) {
        cmdline.pop();
    }
    let accel = read_json(&dir.join("state.json"))
        .and_then(|s| s["accel"].as_str().map(str::to_string))
        .unwrap_or_else(|| "unknown".into());
    remove_vm(&server.client, "warmup").await?;

    let (mut bare, mut ours) = (Vec::new(), Vec::new());
    for i in 0..args.runs {
        bare.push(bare_boot(&cmdline, &base, work.path())?);
        let name = format!("boot-{i}");
        ours.push(kubevirtd_boot(&server, &name).await?);
        remove_vm(&server.client, &name).await?;
        peak = peak.max(machine::load1(&machine::loadavg()).unwrap_or(0.0));
        eprintln!("run {i}: bare {:?}, kubevirtd {:?}", bare[i], ours[i]);
    }

    // Memory: kubevirtd with no guests, then with N.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let server_pid = server.child.id();
    let (server_before, server_pss_before) = memory(server_pid);
    let names: Vec<String> = (0..args.vmis).map(|i| format!("mem-{i}")).collect();
    for name in &names {
        kubevirtd_boot(&server, name).await?;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (server_after, server_pss_after) = memory(server_pid);
    let (mut launcher, mut qemu) = (Vec::new(), Vec::new());
    for name in &names {
        let state =
            read_json(&run_dir(&server, name).await?.join("state.json")).context("state")?;
        let pid = |k: &str| state[k].as_u64().unwrap_or(0) as u32;
        launcher.push(memory(pid("launcherPid")));
        qemu.push(memory(pid("qemuPid")));
    }
    peak = peak.max(machine::load1(&machine::loadavg()).unwrap_or(0.0));
    for name in &names {
        remove_vm(&server.client, name).await?;
    }
    let load_after = machine::loadavg();
    drop(server);

    let n = names.len().max(1) as f64;
    let mean =
        |v: &[(u64, u64)], f: fn(&(u64, u64)) -> u64| v.iter().map(f).sum::<u64>() as f64 / n;
    let launcher_rss = mean(&launcher, |m| m.0);
    let launcher_pss = mean(&launcher, |m| m.1);
    let qemu_rss = mean(&qemu, |m| m.0);
    let qemu_pss = mean(&qemu, |m| m.1);
    let server_delta = (server_after as f64 - server_before as f64) / n;
    let server_pss_delta = (server_pss_after as f64 - server_pss_before as f64) / n;
    let ratio = median(&ours).as_secs_f64() / median(&bare).as_secs_f64().max(1e-9);
    let ours_rss = launcher_rss + server_delta.max(0.0);
    let ours_pss = launcher_pss + server_pss_delta.max(0.0);

    let raw = json!({
        "machine": machine, "accel": accel, "qemuCommandLine": cmdline,
        "bareSeconds": bare.iter().map(Duration::as_secs_f64).collect::<Vec<_>>(),
        "kubevirtdSeconds": ours.iter().map(Duration::as_secs_f64).collect::<Vec<_>>(),
        "ratio": ratio,
        "vmis": names.len(),
        "launcherKiB": launcher, "qemuKiB": qemu,
        "kubevirtdKiB": {"before": [server_before, server_pss_before], "after": [server_after, server_pss_after]},
        "loadBefore": load_before, "loadAfter": load_after,
    });
    if let Some(path) = &args.json {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, serde_json::to_vec_pretty(&raw)?)?;
    }

    let mut md = String::new();
    md.push_str("## Boot time and memory per VMI (QEMU node driver)\n\n");
    md.push_str("Generated by `scripts/bench-boot.sh` (binary `boot-bench` of `crates/bench`); the raw numbers are in `target/bench/boot.json`.\n\n");
    md.push_str(&format!(
        "### Run of {} (commit {})\n\n#### Machine\n\n",
        machine.date, machine.commit
    ));
    md.push_str(&format!(
        "- CPU: {} × {}\n",
        machine.cpu_model, machine.cpus
    ));
    if let Some(kib) = machine.memory_kib {
        md.push_str(&format!(
            "- Memory: {:.1} GiB\n",
            kib as f64 / 1024.0 / 1024.0
        ));
    }
    md.push_str(&format!("- Kernel: {}\n", machine.kernel));
    md.push_str(&format!(
        "- Accelerator: {accel} (both kinds of boot use the same)\n"
    ));
    md.push_str(&format!(
        "- Load (`/proc/loadavg`): before `{load_before}`, after `{load_after}`; highest 1-minute load average during the run: {peak:.2}\n"
    ));
    if let Some(note) = &args.note {
        md.push_str(&format!("- {note}\n"));
    }
    if let Some(busy) = machine::busy_note(peak, machine.cpus) {
        md.push_str(&format!("- {busy}\n"));
    }
    md.push_str(&format!(
        "\n#### Boot to the test guest's serial marker ({} runs each, alternating)\n\n",
        args.runs
    ));
    md.push_str("| Boot | median s | min s | max s |\n|---|---:|---:|---:|\n");
    for (label, v) in [
        (
            "bare `qemu-system-x86_64`, the driver's command line, spawn → marker on stdout",
            &bare,
        ),
        (
            "kubevirtd: VirtualMachine POST → marker on the console websocket",
            &ours,
        ),
    ] {
        let (min, max) = (
            v.iter().min().copied().unwrap_or_default(),
            v.iter().max().copied().unwrap_or_default(),
        );
        md.push_str(&format!(
            "| {label} | {} | {} | {} |\n",
            secs(median(v)),
            secs(min),
            secs(max)
        ));
    }
    md.push_str(&format!(
        "\nRatio of the medians (kubevirtd / bare): **{ratio:.2}** (goal ≤ 1.10). The kubevirtd time includes admission, the VM and VMI controllers, the launcher pod, scheduling, disk preparation (a qcow2 overlay), the launcher process and the console connection.\n"
    ));
    md.push_str(&format!(
        "\n#### Memory per running VMI ({} VMIs of 128 MiB at once)\n\n",
        names.len()
    ));
    md.push_str("| Process | RSS MiB | PSS MiB |\n|---|---:|---:|\n");
    md.push_str(&format!(
        "| launcher (the standalone `virt-launcher` binary), mean per VMI | {} | {} |\n",
        mib(launcher_rss),
        mib(launcher_pss)
    ));
    md.push_str(&format!(
        "| kubevirtd growth per VMI ({} → {} MiB RSS) | {} | {} |\n",
        mib(server_before as f64),
        mib(server_after as f64),
        mib(server_delta),
        mib(server_pss_delta)
    ));
    md.push_str(&format!(
        "| **ours per VMI** (goal ≤ 8 MiB) | **{}** | **{}** |\n",
        mib(ours_rss),
        mib(ours_pss)
    ));
    md.push_str(&format!(
        "| QEMU itself, mean per VMI (for reference) | {} | {} |\n",
        mib(qemu_rss),
        mib(qemu_pss)
    ));
    md.push_str("\nKubeVirt reserves 240 MiB per VMI for its per-pod processes (launcher-monitor, virt-launcher, virtlogd, virtqemud) and QEMU (§7.5 of the behaviour spec). RSS counts the pages of the shared `kubevirtd` executable each launcher touches; PSS shares them among the processes that map them.\n");
    if let Some(path) = &args.markdown {
        bench::markdown::update_file(path, "boot", &md)?;
    }
    println!("{md}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_command_runs_unpaused_with_serial_on_stdout_and_its_own_disk() {
        let logged: Vec<String> = "qemu-system-x86_64 -S -machine q35,accel=tcg -vnc unix:vnc.sock \
             -chardev socket,id=serial0,path=serial.sock,server=on,wait=off -serial chardev:serial0 \
             -qmp unix:qmp.sock,server=on,wait=off -drive file=/run/root.qcow2,format=qcow2,if=none,id=d"
            .split_whitespace()
            .map(str::to_string)
            .collect();
        let bare = bare_command(&logged, Path::new("/w/o.qcow2")).join(" ");
        assert_eq!(
            bare,
            "qemu-system-x86_64 -machine q35,accel=tcg -chardev stdio,id=serial0,signal=off \
             -serial chardev:serial0 -drive file=/w/o.qcow2,format=qcow2,if=none,id=d"
        );
    }
}
