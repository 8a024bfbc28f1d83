//! One planning pass over the observed world: scheduling, the simulated hypervisor's commands
//! and timeline, then the VMI and pod status writes. Deterministic given the observed objects,
//! the domains and the clock.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use api::keys::CREATED_BY_LABEL;
use api::{VirtualMachineInstance, VirtualMachineInstancePhase};
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::{Node, PersistentVolumeClaim, Pod, PodCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::json;

use super::actions::{Action, EVENT_DELETED, EVENT_SHUTTING_DOWN, ObjectKey};
use super::domain::{Domain, DomainEvent, DomainState};
use super::injection::Injection;
use super::memo::{Memo, PodInputs, VmiInputs};
use super::{pod, vmi};
use crate::node::NodeConfig;
use crate::scheduler::{Cluster, wants_default_scheduler};

/// Timings of the simulation (overridable per VMI by annotations).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub boot_delay: Duration,
    pub shutdown_delay: Duration,
    pub image_pull_backoff: Duration,
}

/// Reason of `PodScheduled=False` when no node fits.
pub const REASON_UNSCHEDULABLE: &str = "Unschedulable";

/// The domains of the simulated hypervisor, by VMI UID.
pub type Domains = BTreeMap<String, Domain>;

/// What the driver observes through its watches.
#[derive(Clone, Copy, Debug)]
pub struct World<'a> {
    /// The nodes this driver runs.
    pub nodes: &'a [NodeConfig],
    pub node_objects: &'a [Arc<Node>],
    pub pods: &'a [Arc<Pod>],
    pub vmis: &'a [Arc<VirtualMachineInstance>],
    pub claims: &'a [Arc<PersistentVolumeClaim>],
}

/// The outcome of a pass.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pass {
    pub actions: Vec<Action>,
    /// When the next pass is due even if nothing changes.
    pub wakeup: Option<Timestamp>,
    /// VMI UIDs whose domains were dropped (their VMI is gone).
    pub removed: Vec<String>,
    /// Annotation values that were ignored, as `namespace/name: annotation: value`.
    pub warnings: Vec<String>,
}

fn time(t: Timestamp) -> Time {
    Time(Timestamp::from_second(t.as_second()).unwrap_or(t))
}

fn after(t: Timestamp, d: Duration) -> Timestamp {
    SignedDuration::try_from(d)
        .ok()
        .and_then(|d| t.checked_add(d).ok())
        .unwrap_or(Timestamp::MAX)
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

/// UID of the VMI a launcher pod belongs to: its `kubevirt.io/created-by` label, else its
/// controller owner reference to a VMI.
fn created_by(pod: &Pod) -> Option<&str> {
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

fn rv(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    meta.resource_version.clone().unwrap_or_default()
}

/// Runs one pass at `now`, updating `domains` in place, looking at every object.
pub fn plan(world: &World, domains: &mut Domains, settings: &Settings, now: Timestamp) -> Pass {
    plan_with(world, domains, &mut Memo::new(), settings, now)
}

/// Runs one pass at `now`, updating `domains` in place. Objects whose inputs are unchanged
/// since a pass that found nothing to do for them are skipped (see [`Memo`]): the outcome is
/// the same as [`plan`]'s.
pub fn plan_with(
    world: &World,
    domains: &mut Domains,
    memo: &mut Memo,
    settings: &Settings,
    now: Timestamp,
) -> Pass {
    let mut pass = Pass::default();
    let ours: BTreeMap<&str, &NodeConfig> =
        world.nodes.iter().map(|n| (n.name.as_str(), n)).collect();
    let vmis: HashMap<&str, &VirtualMachineInstance> = world
        .vmis
        .iter()
        .filter_map(|v| Some((v.metadata.uid.as_deref()?, &**v)))
        .collect();
    let pods: HashMap<&str, &Pod> = world
        .pods
        .iter()
        .filter_map(|p| Some((p.metadata.uid.as_deref()?, &**p)))
        .collect();

    schedule(world, &ours, &vmis, memo, now, &mut pass);
    // Launcher pods by the VMI they belong to, built when a new domain needs its pod.
    let mut launchers: Option<HashMap<&str, Vec<&Pod>>> = None;

    let mut events: Vec<(String, DomainEvent)> = Vec::new();
    for v in world.vmis.iter() {
        let Some(node) = v
            .status
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .filter(|n| ours.contains_key(n))
        else {
            continue;
        };
        let uid = v.metadata.uid.clone().unwrap_or_default();
        let deleting = v.is_marked_for_deletion();
        match domains.get_mut(&uid) {
            Some(d) => {
                events.extend(d.advance(now).into_iter().map(|e| (uid.clone(), e)));
                if v.is_final() {
                    d.destroy(now);
                } else if deleting {
                    let grace = v.spec.grace_period_seconds();
                    events.extend(
                        d.request_shutdown(grace, now)
                            .into_iter()
                            .map(|e| (uid.clone(), e)),
                    );
                }
            }
            None if !v.is_final() && !deleting => {
                let launchers = launchers.get_or_insert_with(|| {
                    let mut index: HashMap<&str, Vec<&Pod>> = HashMap::new();
                    for p in world.pods.iter() {
                        if let Some(owner) = created_by(p) {
                            index.entry(owner).or_default().push(p);
                        }
                    }
                    index
                });
                let launcher = launchers.get(uid.as_str()).into_iter().flatten().find(|p| {
                    node_of(p) == Some(node)
                        && !is_terminal(p)
                        && p.metadata.deletion_timestamp.is_none()
                });
                // A Running VMI without a domain was started before this driver (re)started: its
                // guest is adopted as running, as real guests outlive a virt-handler restart.
                let adopted = match v.phase() {
                    VirtualMachineInstancePhase::Scheduled => Some(false),
                    VirtualMachineInstancePhase::Running => Some(true),
                    _ => None,
                };
                if let (Some(p), Some(adopted)) = (launcher, adopted) {
                    let (injection, invalid) = Injection::from_vmi(v);
                    let key = format!(
                        "{}/{}",
                        v.metadata.namespace.as_deref().unwrap_or(""),
                        v.metadata.name.as_deref().unwrap_or("")
                    );
                    pass.warnings
                        .extend(invalid.into_iter().map(|w| format!("{key}: {w}")));
                    let state = if adopted {
                        DomainState::Running { since: now }
                    } else {
                        DomainState::Starting {
                            running_at: after(
                                now,
                                injection.boot_delay.unwrap_or(settings.boot_delay),
                            ),
                        }
                    };
                    let paused_condition = v
                        .status
                        .as_ref()
                        .and_then(|s| s.conditions.as_ref())
                        .is_some_and(|cs| {
                            cs.iter().any(|c| {
                                c.type_ == api::keys::vmi_condition::PAUSED && c.status == "True"
                            })
                        });
                    let paused = if adopted {
                        paused_condition
                    } else {
                        v.spec.start_strategy.as_deref() == Some("Paused")
                    };
                    let acpi = v
                        .spec
                        .domain
                        .features
                        .as_ref()
                        .and_then(|f| f.acpi.as_ref())
                        .and_then(|a| a.enabled)
                        != Some(false);
                    domains.insert(
                        uid.clone(),
                        Domain {
                            vmi_uid: uid.clone(),
                            namespace: v.metadata.namespace.clone().unwrap_or_default(),
                            name: v.metadata.name.clone().unwrap_or_default(),
                            node: node.to_string(),
                            pod_uid: p.metadata.uid.clone().unwrap_or_default(),
                            state,
                            paused,
                            acpi,
                            shutdown_delay: injection
                                .shutdown_delay
                                .unwrap_or(settings.shutdown_delay),
                            injection,
                            shutdown: None,
                        },
                    );
                }
            }
            None => {}
        }
    }

    // The launcher pod's fate decides the domain's: a deleted pod asks for a shutdown and kills
    // the guest when its own grace period runs out; a vanished or finished pod took it along.
    for d in domains.values_mut().filter(|d| d.is_alive()) {
        match pods.get(d.pod_uid.as_str()) {
            None => d.kill(now),
            Some(p) if is_terminal(p) => d.kill(now),
            Some(p) => {
                if let Some(deadline) = &p.metadata.deletion_timestamp {
                    let grace = vmis
                        .get(d.vmi_uid.as_str())
                        .map_or(api::DEFAULT_GRACE_PERIOD_SECONDS, |v| {
                            v.spec.grace_period_seconds()
                        });
                    events.extend(
                        d.request_shutdown(grace, now)
                            .into_iter()
                            .map(|e| (d.vmi_uid.clone(), e)),
                    );
                    if deadline.0 <= now {
                        d.kill(now);
                    }
                }
            }
        }
    }
    for d in domains.values_mut() {
        events.extend(d.advance(now).into_iter().map(|e| (d.vmi_uid.clone(), e)));
    }
    let gone: Vec<String> = domains
        .keys()
        .filter(|uid| !vmis.contains_key(uid.as_str()))
        .cloned()
        .collect();
    for uid in gone {
        domains.remove(&uid);
        pass.removed.push(uid);
    }

    for (uid, event) in events {
        let (Some(v), Some(d)) = (vmis.get(uid.as_str()), domains.get(&uid)) else {
            continue;
        };
        let event = match event {
            DomainEvent::ShuttingDown => EVENT_SHUTTING_DOWN,
            DomainEvent::Killed => EVENT_DELETED,
        };
        pass.actions.push(Action::Event {
            vmi: ObjectKey::of(&v.metadata),
            node: d.node.clone(),
            event,
        });
    }

    for (uid, d) in domains.iter() {
        let Some(v) = vmis.get(uid.as_str()) else {
            continue;
        };
        let pod_ip = pods
            .get(d.pod_uid.as_str())
            .and_then(|p| p.status.as_ref())
            .and_then(|s| s.pod_ip.as_deref());
        let inputs = VmiInputs {
            resource_version: rv(&v.metadata),
            domain: d.clone(),
            pod_ip: pod_ip.map(String::from),
        };
        if memo.quiet_vmis.get(uid) == Some(&inputs) {
            continue;
        }
        let update = vmi::status_update(v, pod_ip, d, now);
        if update.is_none() {
            memo.quiet_vmis.insert(uid.clone(), inputs);
        } else {
            memo.quiet_vmis.remove(uid);
        }
        if let Some(update) = update {
            let resource_version = rv(&v.metadata);
            pass.actions.push(Action::VmiStatus {
                vmi: ObjectKey::of(&v.metadata),
                node: d.node.clone(),
                body: update.body(&resource_version),
                resource_version,
                events: update.events,
            });
        }
    }

    kubelet(world, &ours, &vmis, domains, memo, settings, now, &mut pass);
    memo.retain(|uid| vmis.contains_key(uid), |uid| pods.contains_key(uid));

    let domain_wakeup = domains.values().filter_map(Domain::next_wakeup).min();
    pass.wakeup = pass.wakeup.into_iter().chain(domain_wakeup).min();
    pass
}

/// The kube-scheduler role: binds unassigned pods to this driver's nodes.
/// Claims of `vmi`'s volumes that exist but are not `Bound` (hotplugged volumes excluded: the
/// launcher pod does not mount them).
fn unbound_claims<'a>(
    vmi: &'a VirtualMachineInstance,
    claims: &[Arc<PersistentVolumeClaim>],
) -> Vec<&'a str> {
    let ns = vmi.metadata.namespace.as_deref();
    vmi.spec
        .volumes
        .iter()
        .flatten()
        .filter_map(|v| match (&v.persistent_volume_claim, &v.data_volume) {
            (Some(pvc), _) if pvc.hotpluggable != Some(true) => Some(pvc.claim_name.as_str()),
            (None, Some(dv)) if dv.hotpluggable != Some(true) => Some(dv.name.as_str()),
            _ => None,
        })
        .filter(|name| {
            claims.iter().any(|c| {
                c.metadata.namespace.as_deref() == ns
                    && c.metadata.name.as_deref() == Some(*name)
                    && c.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Bound")
            })
        })
        .collect()
}

fn schedule(
    world: &World,
    ours: &BTreeMap<&str, &NodeConfig>,
    vmis: &HashMap<&str, &VirtualMachineInstance>,
    memo: &mut Memo,
    now: Timestamp,
    pass: &mut Pass,
) {
    let mut waiting: Vec<&Pod> = world
        .pods
        .iter()
        .map(|p| &**p)
        .filter(|p| wants_default_scheduler(p))
        // kube-scheduler's volume binding: a pod whose claims are not bound yet waits, with no
        // condition, as for a WaitForFirstConsumer claim while its provisioner works. Nothing
        // provisions in the simulation: whoever creates a claim binds it (status.phase Bound).
        // Missing claims never get here: virt-controller creates no pod for them.
        .filter(|p| {
            created_by(p)
                .and_then(|u| vmis.get(u))
                .is_none_or(|v| unbound_claims(v, world.claims).is_empty())
        })
        .collect();
    if waiting.is_empty() {
        return;
    }
    waiting.sort_by_key(|p| {
        (
            p.metadata.creation_timestamp.as_ref().map(|t| t.0),
            p.metadata.name.clone(),
        )
    });
    let nodes = world.node_objects.iter().filter(|n| {
        n.metadata
            .name
            .as_deref()
            .is_some_and(|n| ours.contains_key(n))
    });
    let mut cluster =
        Cluster::with_requests(nodes.map(|n| &**n), world.pods.iter().map(|p| &**p), |p| {
            memo.requests(p)
        });
    for p in waiting {
        let conditions = p
            .status
            .as_ref()
            .and_then(|s| s.conditions.clone())
            .unwrap_or_default();
        let existing = conditions.iter().find(|c| c.type_ == "PodScheduled");
        // The whole list is written (merge patches replace lists), so a stale reason of a
        // previous PodScheduled=False cannot survive.
        let with = |scheduled: PodCondition| {
            let mut list: Vec<PodCondition> = conditions
                .iter()
                .filter(|c| c.type_ != "PodScheduled")
                .cloned()
                .collect();
            list.push(scheduled);
            list
        };
        match cluster.schedule(p) {
            Ok(node) => {
                cluster.assume(&memo.requests(p), &node);
                let scheduled = PodCondition {
                    type_: "PodScheduled".into(),
                    status: "True".into(),
                    last_transition_time: Some(time(now)),
                    ..Default::default()
                };
                pass.actions.push(Action::Bind {
                    pod: ObjectKey::of(&p.metadata),
                    resource_version: rv(&p.metadata),
                    node,
                    status: json!({"status": {"phase": "Pending", "conditions": with(scheduled)}}),
                });
            }
            Err(e) => {
                let message = e.to_string();
                let same = existing.is_some_and(|c| {
                    c.status == "False"
                        && c.reason.as_deref() == Some(REASON_UNSCHEDULABLE)
                        && c.message.as_deref() == Some(message.as_str())
                });
                if same {
                    continue;
                }
                let transition = existing
                    .filter(|c| c.status == "False")
                    .and_then(|c| c.last_transition_time.clone())
                    .unwrap_or(time(now));
                let unschedulable = PodCondition {
                    type_: "PodScheduled".into(),
                    status: "False".into(),
                    reason: Some(REASON_UNSCHEDULABLE.into()),
                    message: Some(message),
                    last_transition_time: Some(transition),
                    ..Default::default()
                };
                let resource_version = rv(&p.metadata);
                pass.actions.push(Action::PodStatus {
                    pod: ObjectKey::of(&p.metadata),
                    body: json!({
                        "metadata": {"resourceVersion": resource_version},
                        "status": {"phase": "Pending", "conditions": with(unschedulable)},
                    }),
                    resource_version,
                });
            }
        }
    }
}

/// The kubelet role for every pod on this driver's nodes.
#[allow(clippy::too_many_arguments)]
fn kubelet(
    world: &World,
    ours: &BTreeMap<&str, &NodeConfig>,
    vmis: &HashMap<&str, &VirtualMachineInstance>,
    domains: &Domains,
    memo: &mut Memo,
    settings: &Settings,
    now: Timestamp,
    pass: &mut Pass,
) {
    // Pod IPs in use per node, gathered when the first pod needs a new one.
    let mut used: Option<HashMap<&str, BTreeSet<String>>> = None;
    let no_injection = Injection::default();
    for p in world.pods.iter() {
        let Some(config) = node_of(p).and_then(|n| ours.get(n)) else {
            continue;
        };
        let uid = p.metadata.uid.as_deref().unwrap_or_default();
        let vmi = if pod::is_launcher(p) {
            created_by(p).and_then(|u| vmis.get(u).copied())
        } else {
            None
        };
        let domain = vmi
            .and_then(|v| v.metadata.uid.as_deref())
            .and_then(|u| domains.get(u))
            .filter(|d| d.pod_uid == uid);
        let inputs = PodInputs {
            resource_version: rv(&p.metadata),
            vmi_resource_version: vmi.map(|v| rv(&v.metadata)),
            domain: domain.cloned(),
        };
        if memo.quiet_pods.get(uid) == Some(&inputs) {
            continue;
        }
        let injection = vmi.map(|v| Injection::from_vmi(v).0);
        let existing_ip = p.status.as_ref().and_then(|s| s.pod_ip.clone());
        let pod_ip = existing_ip.or_else(|| {
            let used = used.get_or_insert_with(|| {
                let mut used: HashMap<&str, BTreeSet<String>> = HashMap::new();
                for p in world.pods.iter().filter(|p| !is_terminal(p)) {
                    if let (Some(node), Some(ip)) =
                        (node_of(p), p.status.as_ref().and_then(|s| s.pod_ip.clone()))
                    {
                        used.entry(node).or_default().insert(ip);
                    }
                }
                used
            });
            let taken = used.entry(config.name.as_str()).or_default();
            let ip = pod::allocate_ip(&config.pod_cidr, taken)?;
            taken.insert(ip.clone());
            Some(ip)
        });
        let ctx = pod::PodContext {
            vmi,
            domain,
            injection: injection.as_ref().unwrap_or(&no_injection),
            pod_ip,
            host_ip: &config.internal_ip,
            now,
            image_pull_backoff: settings.image_pull_backoff,
        };
        let plan = pod::plan(p, &ctx);
        let quiet = !plan.delete && plan.status.is_none() && plan.wakeup.is_none();
        let key = ObjectKey::of(&p.metadata);
        let resource_version = rv(&p.metadata);
        if plan.delete {
            pass.actions.push(Action::DeletePod {
                pod: key,
                resource_version,
            });
        } else if let Some(status) = plan.status {
            let body = json!({"metadata": {"resourceVersion": resource_version}, "status": status});
            pass.actions.push(Action::PodStatus {
                pod: key,
                resource_version,
                body,
            });
        }
        if quiet {
            memo.quiet_pods.insert(uid.to_string(), inputs);
        } else {
            memo.quiet_pods.remove(uid);
        }
        pass.wakeup = pass.wakeup.into_iter().chain(plan.wakeup).min();
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
