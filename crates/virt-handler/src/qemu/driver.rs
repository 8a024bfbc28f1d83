//! The driver loop: watches, node registration and heartbeat, reattachment to running
//! launchers, then passes of [`super::plan::plan`] whose writes and guest commands it carries
//! out.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use api::VirtualMachineInstance;
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{Node, PersistentVolumeClaim, Pod};
use kube::Api;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::time::Instant;

use super::domain::{DomainStatus, Observed, ShutoffReason};
use super::guest::{Guest, GuestFile, Guests, remove_run_dir, run_dirs};
use super::plan::{Command, START_RETRY, World, plan};
use super::status::Emulation;
use super::{
    QemuError, QemuGateway, QemuOptions, REASON_ACCELERATION_UNAVAILABLE,
    REASON_EMULATION_REQUESTED, REASON_SYNC_FAILED, host, launcher, start,
};
use crate::node::{self, NodeConfig};
use crate::simulated::actions::ObjectKey;
use crate::simulated::executor::{Executor, REPORTING_COMPONENT};

/// Longest pause between passes while guests run (how soon a guest power-off is noticed).
const POLL: Duration = Duration::from_millis(500);
/// Longest pause between passes without guests.
const RESYNC: Duration = Duration::from_secs(5);
/// Pause between attempts to register the node.
const REGISTRATION_RETRY: Duration = Duration::from_secs(1);
/// Watch events arriving within this window are handled by one pass.
const COALESCE: Duration = Duration::from_millis(10);

/// How guests of this node are accelerated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Acceleration {
    pub accel: virt_launcher::Accel,
    /// Set when guests run with TCG: why (reported on every guest).
    pub emulation: Option<Emulation>,
    /// True when TCG was not chosen but forced by a failed KVM probe (a Warning event).
    pub warn: bool,
}

/// State shared by the driver loop, its start tasks and its gateway.
pub(crate) struct Shared {
    pub client: kube::Client,
    pub node: NodeConfig,
    pub data_dir: PathBuf,
    pub guests: Mutex<Guests>,
    pub wake: tokio::sync::Notify,
    pub accel: tokio::sync::OnceCell<Acceleration>,
    pub forced_accel: Option<virt_launcher::Accel>,
    pub kvm_device: PathBuf,
    pub machine: String,
    pub recorder: Recorder,
    pub launcher: Option<virt_launcher::client::LauncherCommand>,
}

impl Shared {
    pub(crate) fn guest(&self, uid: &str) -> Option<Guest> {
        self.guests.lock().expect("guest lock").get(uid).cloned()
    }

    /// Runs `f` on the guest's record, when it still exists.
    pub(crate) fn update(&self, uid: &str, f: impl FnOnce(&mut Guest)) {
        if let Some(g) = self.guests.lock().expect("guest lock").get_mut(uid) {
            f(g);
        }
    }

    /// Persists the guest's record (`guest.json`).
    pub(crate) fn persist(&self, uid: &str) {
        let Some(g) = self.guest(uid) else { return };
        if let Err(e) = g.file(Instant::now(), SystemTime::now()).write(&g.run_dir) {
            tracing::warn!(error = %e, vmi = %g.vmi.name, "cannot record the guest");
        }
    }

    /// Reports an event about a VMI.
    pub(crate) async fn event(&self, vmi: &ObjectKey, warning: bool, reason: &str, note: &str) {
        let ev = Event {
            type_: if warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: reason.into(),
            note: Some(note.into()),
            action: reason.into(),
            secondary: None,
        };
        let reference = k8s_openapi::api::core::v1::ObjectReference {
            api_version: Some(format!("{}/{}", api::keys::GROUP, api::keys::VERSION)),
            kind: Some("VirtualMachineInstance".into()),
            name: Some(vmi.name.clone()),
            namespace: Some(vmi.namespace.clone()),
            uid: Some(vmi.uid.clone()),
            ..Default::default()
        };
        if let Err(e) = self.recorder.publish(&ev, &reference).await {
            tracing::warn!(error = %e, reason, vmi = %vmi.name, "cannot report event");
        }
    }

    /// The acceleration for guests, probed once.
    pub(crate) async fn accel(&self) -> Acceleration {
        self.accel
            .get_or_init(|| async {
                let forced = self.forced_accel;
                let device = self.kvm_device.clone();
                tokio::task::spawn_blocking(move || choose_accel(forced, &device))
                    .await
                    .unwrap_or_else(|e| choose_accel_failed(&e.to_string()))
            })
            .await
            .clone()
    }
}

/// `forced` wins; else KVM when `kvm_device` opens and a probe guest runs with it; else TCG
/// with the reason.
fn choose_accel(forced: Option<virt_launcher::Accel>, kvm_device: &Path) -> Acceleration {
    use virt_launcher::Accel;
    let requested = |accel| Acceleration {
        accel,
        emulation: (accel == Accel::Tcg).then(|| Emulation {
            reason: REASON_EMULATION_REQUESTED.into(),
            message: "software emulation (TCG) was requested for this node".into(),
        }),
        warn: false,
    };
    if let Some(accel) = forced {
        return requested(accel);
    }
    let device = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(kvm_device);
    if let Err(e) = device {
        return choose_accel_failed(&format!("cannot open {}: {e}", kvm_device.display()));
    }
    let probe = virt_launcher::probe_accel();
    if probe.kvm_unusable {
        choose_accel_failed(&probe.reason)
    } else {
        requested(probe.accel)
    }
}

fn choose_accel_failed(reason: &str) -> Acceleration {
    Acceleration {
        accel: virt_launcher::Accel::Tcg,
        emulation: Some(Emulation {
            reason: REASON_ACCELERATION_UNAVAILABLE.into(),
            message: format!(
                "KVM is not usable on this node ({reason}); running with software emulation (TCG), which is much slower"
            ),
        }),
        warn: true,
    }
}

/// The QEMU node driver; [`QemuDriver::run`] drives it, [`QemuDriver::gateway`] serves
/// virt-api.
pub struct QemuDriver {
    shared: Arc<Shared>,
    options: QemuOptions,
}

impl QemuDriver {
    /// A driver for this machine. Creates the data directory.
    pub fn new(client: kube::Client, options: QemuOptions) -> Result<QemuDriver, QemuError> {
        std::fs::create_dir_all(&options.data_dir).map_err(|source| QemuError::DataDir {
            path: options.data_dir.display().to_string(),
            source,
        })?;
        let facts = host::HostFacts::probe();
        let name = options
            .node_name
            .clone()
            .unwrap_or_else(|| host::node_name(&facts.hostname));
        let qemu_version = launcher::qemu_version();
        let mut node = facts.node_config(
            &name,
            &format!("qemu://{}", qemu_version.as_deref().unwrap_or("unknown")),
        );
        node.labels.extend(options.labels.clone());
        let reporter = Reporter {
            controller: REPORTING_COMPONENT.into(),
            instance: Some(name.clone()),
        };
        let shared = Arc::new(Shared {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            node,
            data_dir: options.data_dir.clone(),
            guests: Mutex::new(Guests::new()),
            wake: tokio::sync::Notify::new(),
            accel: tokio::sync::OnceCell::new(),
            forced_accel: options.accel,
            kvm_device: options.kvm_device.clone(),
            machine: launcher::machine_type(qemu_version.as_deref()),
            launcher: options.launcher.clone(),
        });
        Ok(QemuDriver { shared, options })
    }

    /// The name of the node this driver registers.
    pub fn node_name(&self) -> &str {
        &self.shared.node.name
    }

    /// The gateway virt-api uses for VMIs on this node.
    pub fn gateway(&self) -> QemuGateway {
        QemuGateway::new(self.shared.clone())
    }

    /// Registers the node, reattaches to running guests, then plays the node roles until the
    /// future is dropped.
    pub async fn run(self) -> Result<(), QemuError> {
        let shared = self.shared.clone();
        let client = shared.client.clone();
        while let Err(e) = node::register(&client, &shared.node).await {
            tracing::warn!(error = %e, "node registration failed; retrying");
            tokio::time::sleep(REGISTRATION_RETRY).await;
        }
        let mut tasks = tokio::task::JoinSet::new();
        let pods = watch::<Pod>(&mut tasks, Api::all(client.clone()), &shared);
        let vmis = watch::<VirtualMachineInstance>(&mut tasks, Api::all(client.clone()), &shared);
        let nodes = watch::<Node>(&mut tasks, Api::all(client.clone()), &shared);
        let claims = watch::<PersistentVolumeClaim>(&mut tasks, Api::all(client.clone()), &shared);
        tasks.spawn(node::run_heartbeats(
            client.clone(),
            vec![shared.node.clone()],
            self.options.heartbeat_interval,
        ));
        for (name, ready) in [
            ("pods", pods.wait_until_ready().await),
            ("virtualmachineinstances", vmis.wait_until_ready().await),
            ("nodes", nodes.wait_until_ready().await),
            ("persistentvolumeclaims", claims.wait_until_ready().await),
        ] {
            ready.map_err(|_| QemuError::WatchEnded(name))?;
        }
        reattach(&shared).await;

        let executor = Executor::new(client.clone(), std::slice::from_ref(&shared.node.name));
        let mut starts = tokio::task::JoinSet::new();
        loop {
            let claim_list = claims.state();
            crate::storage::reconcile(&client, &shared.data_dir, &shared.node.name, &claim_list)
                .await;
            observe(&shared).await;
            let (pod_list, vmi_list, node_list) = (pods.state(), vmis.state(), nodes.state());
            let missing_images = start::missing_images(&shared.data_dir, &vmi_list);
            let world = World {
                node: &shared.node,
                data_dir: &shared.data_dir,
                node_objects: &node_list,
                pods: &pod_list,
                vmis: &vmi_list,
                missing_images: &missing_images,
            };
            let pass = {
                let mut guests = shared.guests.lock().expect("guest lock");
                plan(&world, &mut guests, Instant::now(), jiff::Timestamp::now())
            };
            for uid in &pass.persist {
                shared.persist(uid);
            }
            executor.execute(pass.actions).await;
            for command in pass.commands {
                match command {
                    Command::Start { vmi, pod } => {
                        let shared = shared.clone();
                        let claims = claims.clone();
                        starts
                            .spawn(async move { start_guest(&shared, &vmi, &pod, &claims).await });
                    }
                    Command::Signal { uid } => guest_call(&shared, &uid, launcher::shutdown).await,
                    Command::Kill { uid } => guest_call(&shared, &uid, launcher::kill).await,
                    Command::Forget { uid } => forget(&shared, &uid),
                }
            }
            while starts.try_join_next().is_some() {}

            let alive = shared
                .guests
                .lock()
                .expect("guest lock")
                .values()
                .any(Guest::is_alive);
            let idle = if alive { POLL } else { RESYNC };
            let until = pass.wakeup.map_or(idle, |t| {
                t.saturating_duration_since(Instant::now()).min(idle)
            });
            tokio::select! {
                _ = shared.wake.notified() => tokio::time::sleep(COALESCE).await,
                _ = tokio::time::sleep(until) => {}
            }
        }
    }
}

/// Refreshes what every started guest's launcher reports.
async fn observe(shared: &Shared) {
    let targets: Vec<(String, PathBuf, u64)> = shared
        .guests
        .lock()
        .expect("guest lock")
        .iter()
        .filter(|(_, g)| !g.starting && g.domain_alive())
        .map(|(uid, g)| (uid.clone(), g.run_dir.clone(), g.control_epoch))
        .collect();
    // Together, so one launcher that does not answer delays the pass once, not once per guest.
    let reports =
        futures::future::join_all(targets.into_iter().map(|(uid, dir, epoch)| async move {
            let observed = launcher::observe(&dir).await;
            (uid, observed, epoch)
        }))
        .await;
    for (uid, observed, epoch) in reports {
        shared.update(&uid, |g| {
            // A pause or unpause since the request makes this answer stale.
            if !g.starting && g.control_epoch == epoch {
                if !g.domain_alive() || g.observed != observed {
                    tracing::debug!(vmi = %g.vmi.name, ?observed, "domain state");
                }
                g.observed = observed;
            }
        });
    }
}

/// Sends a command to a guest's launcher; failures are logged (the next pass sees the state).
async fn guest_call<F, Fut>(shared: &Shared, uid: &str, call: F)
where
    F: FnOnce(PathBuf) -> Fut,
    Fut: std::future::Future<Output = Result<(), launcher::LauncherError>>,
{
    let Some(g) = shared.guest(uid) else { return };
    if let Err(e) = call(g.run_dir.clone()).await {
        tracing::warn!(error = %e, vmi = %g.vmi.name, "guest command failed");
    }
}

fn forget(shared: &Shared, uid: &str) {
    let Some(g) = shared.guests.lock().expect("guest lock").remove(uid) else {
        return;
    };
    match remove_run_dir(&g.run_dir) {
        Ok(()) => tracing::info!(vmi = %g.vmi.name, "guest cleaned up"),
        Err(e) => {
            tracing::warn!(error = %e, dir = %g.run_dir.display(), "cannot remove a run directory")
        }
    }
}

/// Prepares the disks and starts the launcher of a guest; records the outcome.
async fn start_guest(
    shared: &Shared,
    vmi: &VirtualMachineInstance,
    pod: &Pod,
    claims: &Store<PersistentVolumeClaim>,
) {
    let key = ObjectKey::of(&vmi.metadata);
    let choice = shared.accel().await;
    let Some(g) = shared.guest(&key.uid) else {
        return;
    };
    let file = GuestFile {
        namespace: key.namespace.clone(),
        name: key.name.clone(),
        uid: key.uid.clone(),
        pod_uid: pod.metadata.uid.clone().unwrap_or_default(),
        stop: None,
        emulation: choice.emulation.clone().map(|e| (e.reason, e.message)),
        machine: Some(shared.machine.clone()),
    };
    let prepared = async {
        std::fs::create_dir_all(&g.run_dir)
            .and_then(|()| file.write(&g.run_dir))
            .map_err(|e| format!("cannot create the run directory: {e}"))?;
        let inputs = start::Inputs {
            client: &shared.client,
            data_dir: &shared.data_dir,
            claims,
            accel: choice.accel,
        };
        let spec = start::launch_spec(&inputs, vmi, &g.run_dir).await?;
        launcher::spawn(&g.run_dir, spec, shared.launcher.as_ref())
            .await
            .map_err(|e| e.to_string())
    }
    .await;
    match prepared {
        Ok(observed) => {
            tracing::info!(vmi = %key.name, accel = %choice.accel, "guest started");
            shared.update(&key.uid, |g| {
                g.starting = false;
                g.observed = observed;
                g.start_error = None;
                g.retry_at = None;
                g.emulation = choice.emulation.clone();
                g.machine = Some(shared.machine.clone());
                g.since = jiff::Timestamp::now();
            });
            if let (true, Some(e)) = (choice.warn, &choice.emulation) {
                shared.event(&key, true, &e.reason, &e.message).await;
            }
        }
        Err(message) if launcher_crashed(&g.run_dir).await => {
            // Like a virt-launcher pod whose process died: the guest ended, the VMI fails.
            tracing::warn!(vmi = %key.name, error = %message, "launcher crashed while starting");
            shared.update(&key.uid, |g| {
                g.starting = false;
                g.observed = Observed::Domain(DomainStatus::Shutoff(ShutoffReason::Crashed));
                g.start_error = None;
                g.retry_at = None;
                g.since = jiff::Timestamp::now();
            });
        }
        Err(message) => {
            tracing::warn!(vmi = %key.name, error = %message, "guest start failed");
            // Nothing is left running: the launcher did not start, or `spawn` cleaned up.
            shared.update(&key.uid, |g| {
                g.starting = false;
                g.observed = Observed::NotStarted;
                g.start_error = Some(message.clone());
                g.retry_at = Some(Instant::now() + START_RETRY);
            });
            shared.event(&key, true, REASON_SYNC_FAILED, &message).await;
        }
    }
    shared.wake.notify_one();
}

/// True when the launcher of `run_dir` was started and died without recording an end (it
/// crashed or was killed; its QEMU went with it). A launcher that ended cleanly because its
/// guest could not start recorded `Shutoff{Failed}`: that start is retried instead.
async fn launcher_crashed(run_dir: &Path) -> bool {
    launcher::was_spawned(run_dir)
        && launcher::observe(run_dir).await
            == Observed::Domain(DomainStatus::Shutoff(ShutoffReason::Crashed))
}

/// Rebuilds the guest records from the run directories (after a restart of the driver).
async fn reattach(shared: &Shared) {
    let mut found = Vec::new();
    for dir in run_dirs(&shared.data_dir) {
        let file = match GuestFile::read(&dir) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(error = %e, dir = %dir.display(), "unknown run directory left alone");
                continue;
            }
        };
        if !launcher::was_spawned(&dir) {
            // The driver stopped while preparing disks: start over.
            let _ = remove_run_dir(&dir);
            continue;
        }
        let observed = launcher::observe(&dir).await;
        tracing::info!(vmi = %file.name, ?observed, "reattached to a guest");
        found.push(file.guest(dir, observed, Instant::now(), SystemTime::now()));
    }
    let mut guests = shared.guests.lock().expect("guest lock");
    let known: BTreeSet<String> = guests.keys().cloned().collect();
    for g in found {
        if !known.contains(&g.vmi.uid) {
            guests.insert(g.vmi.uid.clone(), g);
        }
    }
}

/// Starts a reflector of `api` on `tasks`; every change wakes the driver loop.
fn watch<K>(tasks: &mut tokio::task::JoinSet<()>, api: Api<K>, shared: &Arc<Shared>) -> Store<K>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store();
    let stream =
        reflector::reflector(writer, watcher(api, watcher::Config::default())).default_backoff();
    let shared = shared.clone();
    tasks.spawn(drain(stream, shared));
    reader
}

async fn drain<S, T>(stream: S, shared: Arc<Shared>)
where
    S: Stream<Item = Result<T, watcher::Error>> + Send,
{
    let mut stream = std::pin::pin!(stream);
    while let Some(item) = stream.next().await {
        if let Err(e) = item {
            tracing::debug!(error = %e, "watch error; retrying");
        }
        shared.wake.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_probe_explains_itself_and_warns() {
        let choice = choose_accel_failed("/dev/kvm is missing");
        assert_eq!(choice.accel, virt_launcher::Accel::Tcg);
        assert!(choice.warn);
        let e = choice.emulation.unwrap();
        assert_eq!(e.reason, "AccelerationUnavailable");
        assert_eq!(
            e.message,
            "KVM is not usable on this node (/dev/kvm is missing); running with software emulation (TCG), which is much slower"
        );
    }

    #[test]
    fn a_kvm_device_that_does_not_open_means_tcg_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("kvm");
        let choice = choose_accel(None, &missing);
        assert_eq!(choice.accel, virt_launcher::Accel::Tcg);
        assert!(choice.warn);
        let message = choice.emulation.unwrap().message;
        assert!(
            message.starts_with(&format!(
                "KVM is not usable on this node (cannot open {}: ",
                missing.display()
            )),
            "{message}"
        );
    }

    #[test]
    fn a_forced_choice_is_not_probed_and_does_not_warn() {
        let tcg = choose_accel(Some(virt_launcher::Accel::Tcg), Path::new("/dev/kvm"));
        assert!(!tcg.warn);
        assert_eq!(tcg.emulation.unwrap().reason, REASON_EMULATION_REQUESTED);
        let kvm = choose_accel(Some(virt_launcher::Accel::Kvm), Path::new("/dev/kvm"));
        assert_eq!(
            (kvm.accel, kvm.emulation),
            (virt_launcher::Accel::Kvm, None)
        );
    }
}
