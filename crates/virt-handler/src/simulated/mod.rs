//! The simulated node driver: KubeVirt nodes without guests, for scale tests and demos (what
//! kwok is to Kubernetes). It plays four roles against the API, through kube-rs only:
//!
//! - **kubelet registration**: N `Node`s with capacity and allocatable (CPU, memory, pods,
//!   ephemeral storage, `devices.kubevirt.io/{kvm,tun,vhost-net}`), a Ready condition, the
//!   labels `kubernetes.io/hostname` and `kubevirt.io/schedulable: "true"`, the
//!   `kubevirt.io/heartbeat` annotation and a Lease in `kube-node-lease`, all renewed every
//!   heartbeat interval (see [`crate::node`]);
//! - **kube-scheduler**: pods with no `spec.nodeName` and the default scheduler are placed on one
//!   of this driver's nodes by [`crate::scheduler`], or get `PodScheduled=False` with reason
//!   `Unschedulable` and kube-scheduler's message. A launcher pod whose VMI uses a claim that
//!   exists but is not `Bound` waits, with no condition, as kube-scheduler waits for a
//!   WaitForFirstConsumer claim to be provisioned (nothing provisions claims here: bind them by
//!   writing `status.phase: Bound`). The API server does not serve `pods/binding`,
//!   so binding is a merge patch of `spec.nodeName`, guarded by the observed resourceVersion,
//!   followed by `PodScheduled=True` on the status;
//! - **kubelet**: pods on these nodes run (`Running`, container statuses, conditions
//!   `PodReadyToStartContainers`/`Initialized`/`Ready`/`ContainersReady`/`PodScheduled`, a pod IP
//!   from the node's `10.244.N.0/24`, the host IP, the QoS class), the readiness gate
//!   `kubevirt.io/virtual-machine-unpaused` is true unless the guest is paused, and a deleted
//!   launcher pod first stops its guest (honouring the VMI's grace period), then is removed
//!   with grace 0 once the VMI shows its final phase;
//! - **virt-handler**: a VMI `Scheduled` on one of these nodes gets a simulated domain which
//!   runs after the boot delay (`Running`, interfaces with the pod IP, guest OS information,
//!   `AgentConnected`, `LiveMigratable`, machine, CPU topology, memory; event `Started`). A
//!   deleted VMI is shut down gracefully (§7.3 of the behaviour spec): grace 0 or no ACPI kills
//!   at once (event `Deleted`, `Succeeded`); otherwise event `ShuttingDown`, the guest powers off
//!   after the shutdown delay (`Succeeded`), or is killed when the grace period expires (`Deleted`,
//!   `Failed`). Final phases report `Stopped` ("The VirtualMachineInstance was shut down." or,
//!   as a warning, "The VirtualMachineInstance crashed."). `startStrategy: Paused` starts paused.
//!   Guests survive a restart of the driver: a `Running` VMI found without a domain is adopted.
//!
//! # Failure injection
//!
//! Annotations on the VMI (put them on a VM's template to affect every start):
//!
//! | annotation | value | effect |
//! |---|---|---|
//! | `simulation.kubevirt.io/poweroff-after` | duration (`5s`, `1m30s`, `2`) | the guest powers itself off that long after it started running → `Succeeded` |
//! | `simulation.kubevirt.io/crash-after` | duration | the hypervisor dies that long after the guest started running → `Failed` (Warning `Stopped`) |
//! | `simulation.kubevirt.io/fail-to-start` | `"true"` | the launcher exits with an error before the guest starts: the pod goes `Failed` (compute container terminated, exit code 1), the VMI never runs (drives `CrashLoopBackOff`) |
//! | `simulation.kubevirt.io/ignore-acpi` | `"true"` | the guest ignores ACPI shutdown requests: a deleted VMI is killed at grace expiry → `Failed` |
//! | `simulation.kubevirt.io/image-pull` | `"ErrImagePull"` (any value but `"false"`) | the launcher's `compute` image cannot be pulled: the pod stays `Pending`, the container waits with reason `ErrImagePull`, then `ImagePullBackOff`, alternating every back-off period |
//! | `simulation.kubevirt.io/boot-delay` | duration | time from `Scheduled` to `Running` for this VMI |
//! | `simulation.kubevirt.io/shutdown-delay` | duration | time the guest takes to obey an ACPI shutdown |
//! | `simulation.kubevirt.io/guest-agent` | `"false"` | no guest agent: no `AgentConnected`, no guest OS information |
//!
//! A container image or a `containerDisk` image whose name is `no-such-image` (any registry,
//! tag or digest) behaves like the `image-pull` annotation. Values that do not parse are
//! ignored and logged once.
//!
//! # Structure
//!
//! Every decision is a pure function of the observed objects, the simulated domains and the
//! clock ([`plan::plan`]); the driver skips objects whose inputs did not change since a pass
//! that found nothing to do for them ([`memo::Memo`]), and looks at everything every 30 s; [`executor`] applies the resulting actions with kube-rs (merge
//! patches of the VMI main resource and of `pods/status`, both guarded by the observed
//! resourceVersion and carrying whole condition lists, UID-guarded deletes, events through
//! `kube::runtime::events`).
//! [`SimulatedGateway`] gives virt-api pause, unpause, soft reboot, an in-memory serial console
//! and guest OS information.

pub mod actions;
pub mod domain;
pub mod executor;
mod gateway;
pub mod injection;
pub mod memo;
pub mod plan;
pub mod pod;
pub mod vmi;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use api::VirtualMachineInstance;
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{Node, PersistentVolumeClaim, Pod};
use kube::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};

pub use gateway::{CONSOLE_BANNER, NO_DISPLAY, SimulatedGateway};

use crate::node::{self, NodeConfig};
use plan::{Domains, Settings, World};

/// How often a pass runs even when nothing changes (retries of failed writes).
const RESYNC: Duration = Duration::from_secs(5);
/// Pause between attempts to register a node.
const REGISTRATION_RETRY: Duration = Duration::from_secs(1);
/// Watch events arriving within this window are handled by one pass.
const COALESCE: Duration = Duration::from_millis(10);
/// How often a pass looks at every object again, not only at those that changed.
const FULL_PASS: Duration = Duration::from_secs(30);

/// The simulated driver stopped.
#[derive(Debug, thiserror::Error)]
pub enum SimulationError {
    #[error("the watch of {0} ended")]
    WatchEnded(&'static str),
}

/// Shape and timing of the simulated nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimulatedOptions {
    /// Number of nodes.
    pub nodes: usize,
    /// Node names are the prefix and a two-digit number (`node` → `node01`), or the prefix and
    /// a plain number when it ends with `-` (`sim-node-` → `sim-node-1`).
    pub node_name_prefix: String,
    pub cpu: String,
    pub memory: String,
    pub pods: u32,
    pub ephemeral_storage: String,
    /// Time from `Scheduled` to `Running`.
    pub boot_delay: Duration,
    /// Time a guest takes to obey an ACPI shutdown request.
    pub shutdown_delay: Duration,
    /// How long `ErrImagePull` and `ImagePullBackOff` each show before the other.
    pub image_pull_backoff: Duration,
    pub heartbeat_interval: Duration,
    /// Labels added to every node.
    pub labels: BTreeMap<String, String>,
}

impl Default for SimulatedOptions {
    fn default() -> Self {
        SimulatedOptions {
            nodes: 1,
            node_name_prefix: "node".into(),
            cpu: "8".into(),
            memory: "32Gi".into(),
            pods: 110,
            ephemeral_storage: "100Gi".into(),
            boot_delay: Duration::from_secs(2),
            shutdown_delay: Duration::from_secs(1),
            image_pull_backoff: Duration::from_secs(5),
            heartbeat_interval: Duration::from_secs(30),
            labels: BTreeMap::new(),
        }
    }
}

/// The name of node `index` (from 0).
pub fn node_name(prefix: &str, index: usize) -> String {
    if prefix.ends_with('-') {
        format!("{prefix}{}", index + 1)
    } else {
        format!("{prefix}{:02}", index + 1)
    }
}

impl SimulatedOptions {
    /// The nodes these options describe.
    pub fn node_configs(&self) -> Vec<NodeConfig> {
        (0..self.nodes)
            .map(|i| NodeConfig {
                name: node_name(&self.node_name_prefix, i),
                cpu: self.cpu.clone(),
                memory: self.memory.clone(),
                pods: self.pods,
                ephemeral_storage: self.ephemeral_storage.clone(),
                labels: self.labels.clone(),
                internal_ip: format!("192.168.{}.{}", 66 + (101 + i) / 254, 1 + (100 + i) % 254),
                pod_cidr: format!("10.{}.{}.0/24", 244 + i / 256, i % 256),
                os_image: "KubeVirt simulated node".into(),
                container_runtime_version: "simulated://1.0.0".into(),
                kubelet_version: "v1.32.0".into(),
            })
            .collect()
    }

    fn settings(&self) -> Settings {
        Settings {
            boot_delay: self.boot_delay,
            shutdown_delay: self.shutdown_delay,
            image_pull_backoff: self.image_pull_backoff,
        }
    }
}

/// State shared by the driver loop and its gateway.
pub(crate) struct Shared {
    pub(crate) nodes: Vec<NodeConfig>,
    pub(crate) domains: Mutex<Domains>,
    pub(crate) consoles: Mutex<HashMap<String, tokio::task::AbortHandle>>,
    pub(crate) wake: tokio::sync::Notify,
}

impl Shared {
    pub(crate) fn runs_node(&self, node: &str) -> bool {
        self.nodes.iter().any(|n| n.name == node)
    }

    fn close_consoles(&self, uids: impl IntoIterator<Item = String>) {
        let mut consoles = self.consoles.lock().expect("console lock");
        for uid in uids {
            if let Some(session) = consoles.remove(&uid) {
                session.abort();
            }
        }
    }
}

/// A simulated node driver; [`Simulator::run`] drives it, [`Simulator::gateway`] serves virt-api.
pub struct Simulator {
    client: kube::Client,
    options: SimulatedOptions,
    shared: Arc<Shared>,
}

impl Simulator {
    pub fn new(client: kube::Client, options: SimulatedOptions) -> Simulator {
        let shared = Arc::new(Shared {
            nodes: options.node_configs(),
            domains: Mutex::new(Domains::new()),
            consoles: Mutex::new(HashMap::new()),
            wake: tokio::sync::Notify::new(),
        });
        Simulator {
            client,
            options,
            shared,
        }
    }

    /// The names of the nodes this driver runs.
    pub fn node_names(&self) -> Vec<String> {
        self.shared.nodes.iter().map(|n| n.name.clone()).collect()
    }

    /// The gateway virt-api uses for VMIs on these nodes.
    pub fn gateway(&self) -> SimulatedGateway {
        SimulatedGateway::new(self.client.clone(), self.shared.clone())
    }

    /// Registers the nodes, then plays the node roles until the future is dropped.
    pub async fn run(self) -> Result<(), SimulationError> {
        let client = self.client.clone();
        for config in &self.shared.nodes {
            // The API may not serve yet when the driver starts alongside it.
            while let Err(e) = node::register(&client, config).await {
                tracing::warn!(error = %e, "node registration failed; retrying");
                tokio::time::sleep(REGISTRATION_RETRY).await;
            }
        }
        let mut tasks = tokio::task::JoinSet::new();
        let pods = watch::<Pod>(&mut tasks, Api::all(client.clone()), &self.shared);
        let vmis =
            watch::<VirtualMachineInstance>(&mut tasks, Api::all(client.clone()), &self.shared);
        let nodes = watch::<Node>(&mut tasks, Api::all(client.clone()), &self.shared);
        let claims =
            watch::<PersistentVolumeClaim>(&mut tasks, Api::all(client.clone()), &self.shared);
        tasks.spawn(node::run_heartbeats(
            client.clone(),
            self.shared.nodes.clone(),
            self.options.heartbeat_interval,
        ));
        for (name, ready) in [
            ("pods", pods.wait_until_ready().await),
            ("virtualmachineinstances", vmis.wait_until_ready().await),
            ("nodes", nodes.wait_until_ready().await),
            ("persistentvolumeclaims", claims.wait_until_ready().await),
        ] {
            ready.map_err(|_| SimulationError::WatchEnded(name))?;
        }

        let settings = self.options.settings();
        let node_names: Vec<String> = self.node_names();
        let executor = executor::Executor::new(client, &node_names);
        let mut warned = BTreeSet::new();
        let mut memo = memo::Memo::new();
        let mut full_pass_at = tokio::time::Instant::now() + FULL_PASS;
        loop {
            if tokio::time::Instant::now() >= full_pass_at {
                memo.clear();
                full_pass_at = tokio::time::Instant::now() + FULL_PASS;
            }
            let (pod_list, vmi_list, node_list) = (pods.state(), vmis.state(), nodes.state());
            let claim_list = claims.state();
            let now = jiff::Timestamp::now();
            // A pass is synchronous work that grows with the number of objects: it runs on the
            // blocking pool, so it never holds up the runtime's other tasks (API requests,
            // watches, lease renewals) while it computes.
            let shared = self.shared.clone();
            let pass_settings = settings.clone();
            let (pass, dead, returned) = tokio::task::spawn_blocking(move || {
                let world = World {
                    nodes: &shared.nodes,
                    node_objects: &node_list,
                    pods: &pod_list,
                    vmis: &vmi_list,
                    claims: &claim_list,
                };
                let mut domains = shared.domains.lock().expect("domain lock");
                let pass = plan::plan_with(&world, &mut domains, &mut memo, &pass_settings, now);
                let dead: Vec<String> = domains
                    .values()
                    .filter(|d| !d.is_alive())
                    .map(|d| d.vmi_uid.clone())
                    .collect();
                (pass, dead, memo)
            })
            .await
            .expect("a planning pass panicked");
            memo = returned;
            self.shared.close_consoles(dead);
            self.shared.close_consoles(pass.removed.iter().cloned());
            for warning in pass.warnings {
                if warned.insert(warning.clone()) {
                    tracing::warn!(%warning, "ignored simulation annotation");
                }
            }
            executor.execute(pass.actions).await;

            // A wakeup already past (the writes took a while) means "at once".
            let until = pass.wakeup.map_or(RESYNC, |t| {
                let left = t.duration_since(jiff::Timestamp::now());
                Duration::try_from(left)
                    .unwrap_or(Duration::ZERO)
                    .min(RESYNC)
            });
            tokio::select! {
                _ = self.shared.wake.notified() => tokio::time::sleep(COALESCE).await,
                _ = tokio::time::sleep(until) => {}
            }
        }
    }
}

/// Registers the nodes of `options` and plays the node roles until the future is dropped.
pub async fn run(client: kube::Client, options: SimulatedOptions) -> Result<(), SimulationError> {
    Simulator::new(client, options).run().await
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
    fn node_names_follow_the_prefix() {
        assert_eq!(node_name("node", 0), "node01");
        assert_eq!(node_name("node", 11), "node12");
        assert_eq!(node_name("sim-node-", 0), "sim-node-1");
    }

    #[test]
    fn every_node_gets_its_own_addresses() {
        let options = SimulatedOptions {
            nodes: 300,
            ..Default::default()
        };
        let configs = options.node_configs();
        let cidrs: BTreeSet<_> = configs.iter().map(|c| c.pod_cidr.clone()).collect();
        let ips: BTreeSet<_> = configs.iter().map(|c| c.internal_ip.clone()).collect();
        assert_eq!((cidrs.len(), ips.len()), (300, 300));
        assert_eq!(configs[0].internal_ip, "192.168.66.101");
        assert_eq!(configs[0].pod_cidr, "10.244.0.0/24");
        assert_eq!(configs[256].pod_cidr, "10.245.0.0/24");
    }
}
