//! One run: a fresh server, VMs created at a pace, every VMI watched until it runs, and the
//! server's request counts, memory and CPU around it.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, ListParams, ObjectMeta, PostParams};
use kube::runtime::watcher;
use kube::{Api, Client};
use serde_json::{Value, json};
use tokio::sync::{Notify, Semaphore};

use super::capacity::{SIMULATED_NODE, pod_requests, pods_per_node};
use super::prom::{self, Counts};
use super::report::{Pace, Percentiles, RunResult, RunSpec, rows};
use super::server::{Kubevirtd, cpu_seconds};
use bench::machine::{loadavg, process_memory};

const NAMESPACE: &str = "scale";
/// The run ends when no VMI reached Running for this long.
const STALL: Duration = Duration::from_secs(120);
/// The writes have settled when none happened for this long.
const QUIET: Duration = Duration::from_secs(3);
const SETTLE_LIMIT: Duration = Duration::from_secs(60);

/// What a run needs besides its spec.
#[derive(Clone, Debug)]
pub struct Plan {
    pub spec: RunSpec,
    pub nodes: usize,
    pub clients: usize,
    pub guest_memory: String,
    pub commit: String,
    /// Where to copy the server's log (as `scale-<vms>-<pace>.log`).
    pub log_dir: Option<std::path::PathBuf>,
    /// The run stops sending creates and waiting for VMIs this long after the first create,
    /// and reports what it measured until then.
    pub time_limit: Option<Duration>,
}

fn resource(kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("kubevirt.io", "v1", kind), plural)
}

fn vm_resource() -> ApiResource {
    resource("VirtualMachine", "virtualmachines")
}

fn vmi_resource() -> ApiResource {
    resource("VirtualMachineInstance", "virtualmachineinstances")
}

/// The VM `name`: one vCPU, `guest_memory`, a container disk, started at once.
pub fn vm_manifest(name: &str, guest_memory: &str) -> Value {
    json!({
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachine",
        "metadata": {"name": name, "labels": {"bench": "scale"}},
        "spec": {
            "runStrategy": "Always",
            "template": {
                "metadata": {"labels": {"kubevirt.io/vm": name}},
                "spec": {
                    "domain": {
                        "devices": {"disks": [{"name": "containerdisk", "disk": {"bus": "virtio"}}]},
                        "memory": {"guest": guest_memory},
                        "resources": {}
                    },
                    "terminationGracePeriodSeconds": 0,
                    "volumes": [{
                        "name": "containerdisk",
                        "containerDisk": {"image": "quay.io/kubevirt/cirros-container-disk-demo:v1.6.0"}
                    }]
                }
            }
        }
    })
}

fn vm_name(i: usize) -> String {
    format!("vm-{i:05}")
}

/// What the VMI watch saw.
#[derive(Default)]
struct Tracker {
    phase: HashMap<String, String>,
    running_at: HashMap<String, Instant>,
}

/// Watches VMIs in the namespace; returns once the watch has listed the (empty) namespace.
async fn watch_vmis(
    client: Client,
    tracker: Arc<Mutex<Tracker>>,
    progress: Arc<Notify>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let api = Api::<DynamicObject>::namespaced_with(client, NAMESPACE, &vmi_resource());
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let handle = tokio::spawn(async move {
        let mut ready = Some(ready_tx);
        let mut stream = watcher(api, watcher::Config::default()).boxed();
        while let Some(event) = stream.next().await {
            let obj = match event {
                Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => o,
                Ok(watcher::Event::InitDone) => {
                    if let Some(tx) = ready.take() {
                        let _ = tx.send(());
                    }
                    continue;
                }
                Ok(_) => continue,
                Err(e) => {
                    eprintln!("scale: VMI watch error (the watcher retries): {e}");
                    continue;
                }
            };
            let now = Instant::now();
            let Some(name) = obj.metadata.name.clone() else {
                continue;
            };
            let phase = obj
                .data
                .pointer("/status/phase")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let mut t = tracker.lock().expect("not poisoned");
            if phase == "Running" && !t.running_at.contains_key(&name) {
                t.running_at.insert(name.clone(), now);
                progress.notify_one();
            }
            t.phase.insert(name, phase);
        }
    });
    tokio::time::timeout(Duration::from_secs(60), ready_rx)
        .await
        .context("the VMI watch did not start within 60 s")??;
    Ok(handle)
}

/// When each create was sent and how long it took; `None` for failed creates.
type Sent = Vec<Option<(Instant, Duration)>>;

async fn create_one(
    api: &Api<DynamicObject>,
    i: usize,
    guest_memory: &str,
) -> Option<(Instant, Duration)> {
    let obj: DynamicObject =
        serde_json::from_value(vm_manifest(&vm_name(i), guest_memory)).expect("valid manifest");
    let sent = Instant::now();
    match api.create(&PostParams::default(), &obj).await {
        Ok(_) => Some((sent, sent.elapsed())),
        Err(e) => {
            eprintln!("scale: create of {} failed: {e}", vm_name(i));
            None
        }
    }
}

async fn create_vms(apis: Vec<Api<DynamicObject>>, plan: &Plan, t0: Instant) -> Sent {
    let n = plan.spec.vms;
    let deadline = plan.time_limit.map(|l| t0 + l);
    let past = move || deadline.is_some_and(|d| Instant::now() >= d);
    let results: Arc<Mutex<Sent>> = Arc::new(Mutex::new(vec![None; n]));
    let memory = Arc::new(plan.guest_memory.clone());
    match plan.spec.pace {
        Pace::Burst => {
            let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let tasks: Vec<_> = apis
                .into_iter()
                .map(|api| {
                    let (next, results, memory) = (next.clone(), results.clone(), memory.clone());
                    tokio::spawn(async move {
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            if i >= n || past() {
                                break;
                            }
                            let r = create_one(&api, i, &memory).await;
                            results.lock().expect("not poisoned")[i] = r;
                        }
                    })
                })
                .collect();
            for t in tasks {
                let _ = t.await;
            }
        }
        Pace::Rate(rate) => {
            // Creates go out on schedule; at most one in flight per client.
            let permits = Arc::new(Semaphore::new(apis.len()));
            let start = tokio::time::Instant::now();
            let mut tasks = Vec::with_capacity(n);
            for i in 0..n {
                if past() {
                    eprintln!("scale: time limit reached after {i} creates");
                    break;
                }
                tokio::time::sleep_until(start + Duration::from_secs_f64(i as f64 / rate)).await;
                let permit = permits.clone().acquire_owned().await.expect("never closed");
                let api = apis[i % apis.len()].clone();
                let (results, memory) = (results.clone(), memory.clone());
                tasks.push(tokio::spawn(async move {
                    let r = create_one(&api, i, &memory).await;
                    results.lock().expect("not poisoned")[i] = r;
                    drop(permit);
                }));
                if i > 0 && i % 1000 == 0 {
                    eprintln!("scale: {i} creates sent");
                }
            }
            for t in tasks {
                let _ = t.await;
            }
        }
    }
    Arc::try_unwrap(results)
        .map(|m| m.into_inner().expect("not poisoned"))
        .unwrap_or_else(|a| a.lock().expect("not poisoned").clone())
}

/// Writes of VMs, VMIs, pods and events so far: the ones that stop when the run is done.
fn lifecycle_writes(counts: &Counts) -> u64 {
    counts
        .iter()
        .filter(|(k, _)| k.is_write() && !matches!(k.resource.as_str(), "nodes" | "leases"))
        .map(|(_, n)| n)
        .sum()
}

/// Every object of `api`, listed in pages.
async fn list_all(api: &Api<DynamicObject>) -> anyhow::Result<Vec<DynamicObject>> {
    let mut items = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut lp = ListParams::default().limit(500);
        if let Some(t) = &token {
            lp = lp.continue_token(t);
        }
        let page = api.list(&lp).await?;
        items.extend(page.items);
        token = page.metadata.continue_.filter(|t| !t.is_empty());
        if token.is_none() {
            return Ok(items);
        }
    }
}

/// VM `creationTimestamp` → VMI Running phase transition, per VM that ran.
async fn timestamp_latencies(client: &Client) -> anyhow::Result<Vec<Duration>> {
    let vms = list_all(&Api::namespaced_with(
        client.clone(),
        NAMESPACE,
        &vm_resource(),
    ))
    .await?;
    let vmis = list_all(&Api::namespaced_with(
        client.clone(),
        NAMESPACE,
        &vmi_resource(),
    ))
    .await?;
    let created: HashMap<String, jiff::Timestamp> = vms
        .into_iter()
        .filter_map(|vm| Some((vm.metadata.name?, vm.metadata.creation_timestamp?.0)))
        .collect();
    let mut out = Vec::new();
    for vmi in vmis {
        let Some(name) = vmi.metadata.name.as_ref() else {
            continue;
        };
        let running = vmi
            .data
            .pointer("/status/phaseTransitionTimestamps")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|t| t.get("phase").and_then(Value::as_str) == Some("Running"))
            .and_then(|t| {
                t.get("phaseTransitionTimestamp")?
                    .as_str()?
                    .parse::<jiff::Timestamp>()
                    .ok()
            });
        if let (Some(c), Some(r)) = (created.get(name), running) {
            let secs = (r - *c).total(jiff::Unit::Second).unwrap_or(0.0).max(0.0);
            out.push(Duration::from_secs_f64(secs));
        }
    }
    Ok(out)
}

/// Launcher pods per node, judged by one real launcher pod.
async fn launcher_fit(client: &Client) -> anyhow::Result<Option<u64>> {
    let pods = Api::<Pod>::namespaced(client.clone(), NAMESPACE)
        .list(
            &ListParams::default()
                .labels("kubevirt.io=virt-launcher")
                .limit(1),
        )
        .await?;
    Ok(pods.items.first().map(|p| {
        let value = serde_json::to_value(p).unwrap_or_default();
        pods_per_node(&SIMULATED_NODE, &pod_requests(&value))
    }))
}

/// Runs `plan` on a fresh `kubevirtd` from `bin`.
pub async fn run(bin: &Path, work: &Path, plan: &Plan) -> anyhow::Result<RunResult> {
    let label = plan.spec.label();
    let load_before = loadavg();
    let started = jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .unwrap_or_else(|_| jiff::Timestamp::now())
        .to_string();
    eprintln!(
        "scale: {label}: starting kubevirtd with {} nodes",
        plan.nodes
    );
    let server = Kubevirtd::start(bin, work, plan.nodes).await?;
    server
        .wait_for_nodes(plan.nodes, Duration::from_secs(120))
        .await?;
    let client = server.client()?;
    Api::<Namespace>::all(client.clone())
        .create(
            &PostParams::default(),
            &Namespace {
                metadata: ObjectMeta {
                    name: Some(NAMESPACE.into()),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await?;
    let tracker = Arc::new(Mutex::new(Tracker::default()));
    let progress = Arc::new(Notify::new());
    let watch = watch_vmis(server.client()?, tracker.clone(), progress.clone()).await?;
    let mut apis = Vec::with_capacity(plan.clients);
    for _ in 0..plan.clients {
        let api =
            Api::<DynamicObject>::namespaced_with(server.client()?, NAMESPACE, &vm_resource());
        api.list(&ListParams::default().limit(1)).await?;
        apis.push(api);
    }
    let text_before = server.metrics(&client).await?;
    let metrics_before = prom::requests_by_user(&text_before);
    let failed_before = prom::failed_writes(&text_before);
    let (rss_start_kib, _) = process_memory(server.pid);
    let cpu_before = cpu_seconds(&server.pid.to_string());
    let client_cpu_before = cpu_seconds("self");
    let t0 = Instant::now();

    eprintln!("scale: {label}: creating");
    let sent = create_vms(apis, plan, t0).await;
    let create_seconds = sent
        .iter()
        .flatten()
        .map(|(s, d)| (*s + *d).duration_since(t0))
        .max()
        .unwrap_or_default()
        .as_secs_f64();
    let created = sent.iter().flatten().count();
    eprintln!("scale: {label}: {created} created in {create_seconds:.1} s; waiting for Running");
    let pods_per_node = launcher_fit(&client).await.ok().flatten();
    if let Some(fit) = pods_per_node
        && (fit as usize) * plan.nodes < plan.spec.vms
    {
        eprintln!(
            "scale: {label}: WARNING: {} nodes hold only {} launcher pods of this size",
            plan.nodes,
            fit as usize * plan.nodes
        );
    }

    let mut last_progress = Instant::now();
    let mut last_running = 0;
    let mut time_limited = plan.time_limit.is_some_and(|l| t0.elapsed() >= l);
    loop {
        let running = tracker.lock().expect("not poisoned").running_at.len();
        if running >= created {
            break;
        }
        if running > last_running {
            last_running = running;
            last_progress = Instant::now();
        } else if plan.time_limit.is_some_and(|l| t0.elapsed() >= l) {
            eprintln!("scale: {label}: time limit reached with {running} running; reporting");
            time_limited = true;
            break;
        } else if last_progress.elapsed() > STALL {
            eprintln!("scale: {label}: no VMI reached Running for {STALL:?}; giving up");
            break;
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), progress.notified()).await;
        let now = tracker.lock().expect("not poisoned").running_at.len();
        if now / 1000 > running / 1000 {
            eprintln!("scale: {label}: {now} running");
        }
    }

    // Let the trailing status writes finish, so the counts cover whole VM starts.
    let settle_start = Instant::now();
    let mut last = lifecycle_writes(&prom::requests_by_user(&server.metrics(&client).await?));
    let mut quiet_since = Instant::now();
    let (metrics_after, failed_after) = loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let text = server.metrics(&client).await?;
        let counts = prom::requests_by_user(&text);
        let now = lifecycle_writes(&counts);
        if now != last {
            last = now;
            quiet_since = Instant::now();
        }
        if quiet_since.elapsed() >= QUIET || settle_start.elapsed() > SETTLE_LIMIT {
            break (counts, prom::failed_writes(&text));
        }
    };
    let window_seconds = t0.elapsed().as_secs_f64();
    let cpu_after = cpu_seconds(&server.pid.to_string());
    let client_cpu_after = cpu_seconds("self");
    let (rss_end_kib, rss_peak_kib) = process_memory(server.pid);
    let store_bytes = server.store_bytes();
    let load_after = loadavg();
    watch.abort();

    let (running_at, phases) = {
        let t = tracker.lock().expect("not poisoned");
        (t.running_at.clone(), t.phase.clone())
    };
    let latencies: Vec<Duration> = sent
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let (sent, _) = (*s)?;
            Some(running_at.get(&vm_name(i))?.saturating_duration_since(sent))
        })
        .collect();
    let all_running_seconds = (running_at.len() >= created && created > 0)
        .then(|| {
            running_at
                .values()
                .max()
                .map(|t| t.duration_since(t0).as_secs_f64())
        })
        .flatten();
    let mut not_running: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..plan.spec.vms {
        let name = vm_name(i);
        if !running_at.contains_key(&name) {
            let phase = match phases.get(&name) {
                Some(p) if p.is_empty() => "no phase".to_string(),
                Some(p) => p.clone(),
                None => "no VMI".to_string(),
            };
            *not_running.entry(phase).or_default() += 1;
        }
    }
    let to_running_timestamps = match timestamp_latencies(&client).await {
        Ok(l) => Percentiles::of(&l),
        Err(e) => {
            eprintln!("scale: {label}: cannot read the phase timestamps: {e}");
            Percentiles::default()
        }
    };
    let diff = prom::difference(&metrics_before, &metrics_after);
    let (writes, reads) = rows(&diff);
    if let Some(dir) = &plan.log_dir {
        let pace = match plan.spec.pace {
            Pace::Rate(r) => format!("{r}"),
            Pace::Burst => "burst".into(),
        };
        let to = dir.join(format!("scale-{}-{pace}.log", plan.spec.vms));
        if let Err(e) =
            std::fs::create_dir_all(dir).and_then(|_| std::fs::copy(server.log_path(), &to))
        {
            eprintln!("scale: cannot keep the server log: {e}");
        }
    }
    if !not_running.is_empty() {
        eprintln!("scale: {label}: not running at the end: {not_running:?}");
    }
    server.stop().await;
    let create_latencies: Vec<Duration> = sent.iter().flatten().map(|(_, d)| *d).collect();
    Ok(RunResult {
        spec: plan.spec,
        started,
        commit: plan.commit.clone(),
        nodes: plan.nodes,
        clients: plan.clients,
        guest_memory: plan.guest_memory.clone(),
        pods_per_node,
        created,
        running: running_at.len(),
        not_running,
        create_seconds,
        creates_per_second: if create_seconds > 0.0 {
            created as f64 / create_seconds
        } else {
            0.0
        },
        create_request: Percentiles::of(&create_latencies),
        to_running: Percentiles::of(&latencies),
        to_running_timestamps,
        all_running_seconds,
        window_seconds,
        writes,
        reads,
        time_limited,
        failed_writes: prom::grown(&failed_before, &failed_after),
        rss_start_kib,
        rss_end_kib,
        rss_peak_kib,
        cpu_seconds: cpu_before.zip(cpu_after).map(|(b, a)| a - b),
        client_cpu_seconds: client_cpu_before.zip(client_cpu_after).map(|(b, a)| a - b),
        store_bytes,
        load_before,
        load_after,
    })
}
