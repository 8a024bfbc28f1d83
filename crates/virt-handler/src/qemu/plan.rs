//! One planning pass of the QEMU driver over the observed world: placement of pending pods on
//! this node, the virt-handler role for the VMIs on it (start, status, graceful stop, cleanup)
//! and the kubelet role for the pods bound to it. Deterministic given the observed objects, the
//! guests' records and the clock; the guests' records are updated in place (starts in flight,
//! graceful stops begun).

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use api::VirtualMachineInstance;
use api::keys::CREATED_BY_LABEL;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::json;
use tokio::time::Instant;

use super::domain::Observed;
use super::guest::{Guest, Guests, run_dir};
use super::status::{Report, status_update};
use super::stop::{StopStep, next_step};
use crate::node::NodeConfig;
use crate::scheduler::{Cluster, Requests, wants_default_scheduler};
use crate::simulated::actions::{Action, EVENT_DELETED, EVENT_SHUTTING_DOWN, ObjectKey};
use crate::simulated::domain::{Domain, DomainState, ShutoffReason as SimShutoff};
use crate::simulated::injection::Injection;
use crate::simulated::pod;

/// How long each of `ErrImagePull` and `ImagePullBackOff` shows for a missing image.
pub const IMAGE_PULL_BACKOFF: Duration = Duration::from_secs(5);
/// Pause before a failed start is tried again.
pub const START_RETRY: Duration = Duration::from_secs(5);

/// What the driver observes through its watches.
#[derive(Clone, Copy, Debug)]
pub struct World<'a> {
    pub node: &'a NodeConfig,
    /// The driver's data directory (run directories live under it).
    pub data_dir: &'a Path,
    pub node_objects: &'a [Arc<Node>],
    pub pods: &'a [Arc<Pod>],
    pub vmis: &'a [Arc<VirtualMachineInstance>],
    /// Container disk images that VMIs use and the image store lacks: their launcher pods
    /// cannot start (`ErrImagePull`, then `ImagePullBackOff`, alternating) until the image is
    /// imported.
    pub missing_images: &'a BTreeSet<String>,
}

/// Something to do to a guest.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Prepare the disks of `vmi` and start its launcher for the pod.
    Start {
        vmi: Arc<VirtualMachineInstance>,
        pod: Arc<Pod>,
    },
    /// Ask the guest to power down (ACPI).
    Signal { uid: String },
    /// Kill the guest.
    Kill { uid: String },
    /// Remove the guest's run directory and forget it.
    Forget { uid: String },
}

/// The outcome of a pass.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pass {
    /// Writes through the API and events.
    pub actions: Vec<Action>,
    pub commands: Vec<Command>,
    /// When the next pass is due even if nothing changes.
    pub wakeup: Option<Instant>,
    /// Guests whose record changed in a way `guest.json` keeps (a graceful stop began).
    pub persist: Vec<String>,
}

fn time(t: Timestamp) -> Time {
    Time(Timestamp::from_second(t.as_second()).unwrap_or(t))
}

fn rv(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    meta.resource_version.clone().unwrap_or_default()
}

fn node_of(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .filter(|n| !n.is_empty())
}

fn is_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

fn is_running(pod: &Pod) -> bool {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
}

/// UID of the VMI a launcher pod belongs to: its `kubevirt.io/created-by` label, else its
/// controller owner reference to a VMI.
pub fn created_by(pod: &Pod) -> Option<&str> {
    let label = pod
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(CREATED_BY_LABEL))
        .map(String::as_str);
    label.or_else(|| {
        let owners = pod.metadata.owner_references.as_deref().unwrap_or_default();
        owners
            .iter()
            .find(|o| o.controller == Some(true) && o.kind == "VirtualMachineInstance")
            .map(|o| o.uid.as_str())
    })
}

fn add_wakeup(pass: &mut Pass, at: Option<Instant>) {
    pass.wakeup = pass.wakeup.into_iter().chain(at).min();
}

/// Runs one pass at `now` (`wall` is the same moment on the wall clock).
pub fn plan(world: &World, guests: &mut Guests, now: Instant, wall: Timestamp) -> Pass {
    let mut pass = Pass::default();
    let me = world.node.name.as_str();
    let vmis: HashMap<&str, &Arc<VirtualMachineInstance>> = world
        .vmis
        .iter()
        .filter_map(|v| Some((v.metadata.uid.as_deref()?, v)))
        .collect();
    let pods: HashMap<&str, &Arc<Pod>> = world
        .pods
        .iter()
        .filter_map(|p| Some((p.metadata.uid.as_deref()?, p)))
        .collect();

    schedule(world, wall, &mut pass);

    for v in world.vmis.iter() {
        let on_me = v.status.as_ref().and_then(|s| s.node_name.as_deref()) == Some(me);
        if on_me {
            handle_vmi(world, v, &pods, guests, now, wall, &mut pass);
        }
    }

    // Guests whose VMI is gone: stop what still runs, then forget them.
    for (uid, g) in guests.iter() {
        if vmis.contains_key(uid.as_str()) {
            continue;
        }
        if g.domain_alive() {
            pass.commands.push(Command::Kill { uid: uid.clone() });
        } else if !g.starting {
            pass.commands.push(Command::Forget { uid: uid.clone() });
        }
    }

    kubelet(world, &vmis, guests, now, wall, &mut pass);
    pass
}

/// The virt-handler role for one VMI on this node.
fn handle_vmi(
    world: &World,
    v: &Arc<VirtualMachineInstance>,
    pods: &HashMap<&str, &Arc<Pod>>,
    guests: &mut Guests,
    now: Instant,
    wall: Timestamp,
    pass: &mut Pass,
) {
    use api::VirtualMachineInstancePhase::*;
    let me = world.node.name.as_str();
    let key = ObjectKey::of(&v.metadata);
    let deleting = v.is_marked_for_deletion();
    let Some(g) = guests.get_mut(&key.uid) else {
        if v.is_final() {
            return;
        }
        match v.phase() {
            Scheduled if !deleting => {
                let launcher = world.pods.iter().find(|p| {
                    created_by(p) == Some(key.uid.as_str())
                        && node_of(p) == Some(me)
                        && is_running(p)
                        && p.metadata.deletion_timestamp.is_none()
                });
                if let Some(p) = launcher {
                    let pod_uid = p.metadata.uid.clone().unwrap_or_default();
                    let dir = run_dir(world.data_dir, &key);
                    let guest = Guest::starting(key.clone(), pod_uid, dir, wall);
                    guests.insert(key.uid.clone(), guest);
                    pass.commands.push(Command::Start {
                        vmi: v.clone(),
                        pod: p.clone(),
                    });
                }
            }
            // Running without a guest: its launcher ended (or was lost) while the driver was
            // away.
            Running => push_status(
                me,
                v,
                &Observed::Unresponsive,
                &Report::default(),
                wall,
                pass,
            ),
            _ => {}
        }
        return;
    };

    let pod = pods.get(g.pod_uid.as_str()).copied();
    if v.is_final() {
        if g.domain_alive() {
            pass.commands.push(Command::Kill { uid: key.uid });
        } else if !g.starting && pod.is_none_or(|p| is_terminal(p)) {
            pass.commands.push(Command::Forget { uid: key.uid });
        }
        return;
    }

    let pod_ip = pod
        .and_then(|p| p.status.as_ref())
        .and_then(|s| s.pod_ip.as_deref());
    let report = Report {
        pod_ip,
        machine: g.machine.as_deref(),
        emulation: g.emulation.as_ref(),
        sync_error: g.start_error.as_deref(),
    };
    push_status(me, v, &g.observed, &report, wall, pass);

    if g.domain_alive() {
        let pod_gone = pod.is_none_or(|p| is_terminal(p));
        let pod_deadline_passed = pod
            .and_then(|p| p.metadata.deletion_timestamp.as_ref())
            .is_some_and(|t| t.0 <= wall);
        let pod_deleting = pod.is_some_and(|p| p.metadata.deletion_timestamp.is_some());
        if pod_gone || pod_deadline_passed {
            pass.commands.push(Command::Kill {
                uid: key.uid.clone(),
            });
            if !pod_gone {
                pass.actions.push(event(me, &key, EVENT_DELETED));
            }
        } else if deleting || pod_deleting {
            let grace = Duration::from_secs(v.spec.grace_period_seconds().max(0).unsigned_abs());
            let acpi = v
                .spec
                .domain
                .features
                .as_ref()
                .and_then(|f| f.acpi.as_ref())
                .is_none_or(|a| a.enabled != Some(false));
            match next_step(g.stop.as_ref(), grace, acpi, now) {
                StopStep::Signal { first } => {
                    match &mut g.stop {
                        Some(s) => s.resent(now),
                        None => g.stop = Some(super::stop::GracefulStop::begin(now)),
                    }
                    if first {
                        pass.actions.push(event(me, &key, EVENT_SHUTTING_DOWN));
                        pass.persist.push(key.uid.clone());
                    }
                    pass.commands.push(Command::Signal {
                        uid: key.uid.clone(),
                    });
                    let again = next_step(g.stop.as_ref(), grace, acpi, now);
                    if let StopStep::Wait { until } = again {
                        add_wakeup(pass, Some(until));
                    }
                }
                StopStep::Kill => {
                    pass.actions.push(event(me, &key, EVENT_DELETED));
                    pass.commands.push(Command::Kill {
                        uid: key.uid.clone(),
                    });
                }
                StopStep::Wait { until } => add_wakeup(pass, Some(until)),
            }
        }
    } else if !g.starting
        && g.start_error.is_some()
        && !deleting
        && v.phase() == Scheduled
        && let Some(p) = pod.filter(|p| is_running(p) && p.metadata.deletion_timestamp.is_none())
    {
        match g.retry_at {
            Some(at) if at > now => add_wakeup(pass, Some(at)),
            _ => {
                g.starting = true;
                pass.commands.push(Command::Start {
                    vmi: v.clone(),
                    pod: p.clone(),
                });
            }
        }
    }
}

fn event(node: &str, key: &ObjectKey, event: crate::simulated::actions::EventSpec) -> Action {
    Action::Event {
        vmi: key.clone(),
        node: node.to_string(),
        event,
    }
}

fn push_status(
    node: &str,
    v: &VirtualMachineInstance,
    observed: &Observed,
    report: &Report,
    wall: Timestamp,
    pass: &mut Pass,
) {
    if let Some(update) = status_update(v, observed, report, wall) {
        let resource_version = rv(&v.metadata);
        pass.actions.push(Action::VmiStatus {
            vmi: ObjectKey::of(&v.metadata),
            node: node.to_string(),
            body: update.body(&resource_version),
            resource_version,
            events: update.events,
        });
    }
}

/// The kube-scheduler role: binds unassigned pods to this node.
fn schedule(world: &World, wall: Timestamp, pass: &mut Pass) {
    let me = world.node.name.as_str();
    let nodes = world
        .node_objects
        .iter()
        .filter(|n| n.metadata.name.as_deref() == Some(me));
    let mut cluster = Cluster::new(nodes.map(|n| &**n), world.pods.iter().map(|p| &**p));
    let mut waiting: Vec<&Pod> = world
        .pods
        .iter()
        .map(|p| &**p)
        .filter(|p| wants_default_scheduler(p))
        .collect();
    waiting.sort_by_key(|p| {
        (
            p.metadata.creation_timestamp.as_ref().map(|t| t.0),
            p.metadata.name.clone(),
        )
    });
    for p in waiting {
        let existing = p
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.type_ == "PodScheduled"));
        match cluster.schedule(p) {
            Ok(node) => {
                cluster.assume(&Requests::of_pod(p), &node);
                pass.actions.push(Action::Bind {
                    pod: ObjectKey::of(&p.metadata),
                    resource_version: rv(&p.metadata),
                    node,
                    status: json!({"status": {"phase": "Pending", "conditions": [
                        {"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": time(wall)}
                    ]}}),
                });
            }
            Err(e) => {
                let message = e.to_string();
                let same = existing.is_some_and(|c| {
                    c.status == "False"
                        && c.reason.as_deref() == Some("Unschedulable")
                        && c.message.as_deref() == Some(message.as_str())
                });
                if same {
                    continue;
                }
                let transition = existing
                    .filter(|c| c.status == "False")
                    .and_then(|c| c.last_transition_time.clone())
                    .unwrap_or(time(wall));
                pass.actions.push(Action::PodStatus {
                    pod: ObjectKey::of(&p.metadata),
                    resource_version: rv(&p.metadata),
                    body: json!({"status": {"phase": "Pending", "conditions": [{
                        "type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message,
                        "lastProbeTime": null, "lastTransitionTime": transition,
                    }]}}),
                });
            }
        }
    }
}

/// The guest as the simulated kubelet's pod logic sees a domain: alive while it runs or is
/// being started, paused while paused.
fn pod_view(g: &Guest, node: &str) -> Option<Domain> {
    let state = if g.domain_alive() {
        DomainState::Running { since: g.since }
    } else if g.starting {
        DomainState::Starting {
            running_at: Timestamp::MAX,
        }
    } else if g.observed.domain().is_some() || g.observed == Observed::Unresponsive {
        DomainState::Shutoff {
            reason: SimShutoff::Shutdown,
            at: g.since,
        }
    } else {
        return None;
    };
    Some(Domain {
        vmi_uid: g.vmi.uid.clone(),
        namespace: g.vmi.namespace.clone(),
        name: g.vmi.name.clone(),
        node: node.to_string(),
        pod_uid: g.pod_uid.clone(),
        state,
        paused: g.observed.domain().is_some_and(|d| d.is_paused()),
        acpi: true,
        injection: Injection::default(),
        shutdown_delay: Duration::ZERO,
        shutdown: None,
    })
}

/// The kubelet role for every pod bound to this node.
fn kubelet(
    world: &World,
    vmis: &HashMap<&str, &Arc<VirtualMachineInstance>>,
    guests: &Guests,
    now: Instant,
    wall: Timestamp,
    pass: &mut Pass,
) {
    let me = world.node;
    let mut used: BTreeSet<String> = world
        .pods
        .iter()
        .filter(|p| !is_terminal(p) && node_of(p) == Some(me.name.as_str()))
        .filter_map(|p| p.status.as_ref().and_then(|s| s.pod_ip.clone()))
        .collect();
    let no_injection = Injection::default();
    let pull_error = Injection {
        image_pull_error: true,
        ..Injection::default()
    };
    for p in world.pods.iter() {
        if node_of(p) != Some(me.name.as_str()) {
            continue;
        }
        let uid = p.metadata.uid.as_deref().unwrap_or_default();
        let vmi = if pod::is_launcher(p) {
            created_by(p).and_then(|u| vmis.get(u).map(|v| &***v))
        } else {
            None
        };
        let domain = created_by(p)
            .and_then(|u| guests.get(u))
            .filter(|g| g.pod_uid == uid)
            .and_then(|g| pod_view(g, &me.name));
        let existing_ip = p.status.as_ref().and_then(|s| s.pod_ip.clone());
        let pod_ip = existing_ip.or_else(|| {
            let ip = pod::allocate_ip(&me.pod_cidr, &used)?;
            used.insert(ip.clone());
            Some(ip)
        });
        let missing = vmi.and_then(|v| missing_image(v, world.missing_images));
        let ctx = pod::PodContext {
            vmi,
            domain: domain.as_ref(),
            injection: if missing.is_some() {
                &pull_error
            } else {
                &no_injection
            },
            pod_ip,
            host_ip: &me.internal_ip,
            now: wall,
            image_pull_backoff: IMAGE_PULL_BACKOFF,
        };
        let mut plan = pod::plan(p, &ctx);
        if let Some(image) = missing {
            plan.status = plan
                .status
                .map(|s| name_missing_image(s, p, image))
                .filter(|s| Some(s) != p.status.as_ref());
        }
        if let Some(at) = plan.wakeup {
            let after = Duration::try_from(at.duration_since(wall)).unwrap_or_default();
            add_wakeup(pass, Some(now + after));
        }
        let key = ObjectKey::of(&p.metadata);
        let resource_version = rv(&p.metadata);
        if plan.delete {
            pass.actions.push(Action::DeletePod {
                pod: key,
                resource_version,
            });
        } else if let Some(status) = plan.status {
            pass.actions.push(Action::PodStatus {
                pod: key,
                resource_version,
                body: json!({"status": status}),
            });
        }
    }
}

/// The first container disk image of `vmi` that is missing from the image store.
fn missing_image<'a>(
    vmi: &'a VirtualMachineInstance,
    missing: &BTreeSet<String>,
) -> Option<&'a str> {
    vmi.spec
        .volumes
        .iter()
        .flatten()
        .filter_map(|v| v.container_disk.as_ref())
        .map(|c| c.image.as_str())
        .find(|i| missing.contains(*i))
}

/// The kubelet logic names the `compute` image in its pull messages; the image that is missing
/// is the container disk's.
fn name_missing_image(
    mut status: k8s_openapi::api::core::v1::PodStatus,
    pod: &Pod,
    image: &str,
) -> k8s_openapi::api::core::v1::PodStatus {
    let compute = pod
        .spec
        .iter()
        .flat_map(|s| &s.containers)
        .find(|c| c.name == pod::COMPUTE_CONTAINER)
        .and_then(|c| c.image.clone())
        .unwrap_or_default();
    let waiting = status
        .container_statuses
        .iter_mut()
        .flatten()
        .filter(|c| c.name == pod::COMPUTE_CONTAINER)
        .filter_map(|c| c.state.as_mut()?.waiting.as_mut());
    for w in waiting {
        if let Some(m) = &mut w.message {
            *m = m.replace(&format!("\"{compute}\""), &format!("\"{image}\""));
        }
    }
    status
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
