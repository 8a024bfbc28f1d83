//! The kubelet role: the status of a pod bound to a simulated node (phase, container statuses,
//! conditions, IPs) and when it may be removed after a graceful delete.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use api::VirtualMachineInstance;
use api::keys::{
    APP_LABEL, VIRT_LAUNCHER_APP, VIRTUAL_MACHINE_UNPAUSED_POD_CONDITION, vmi_condition,
};
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated,
    ContainerStateWaiting, ContainerStatus, HostIP, Pod, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::actions::stable_hash;
use super::domain::Domain;
use super::injection::{Injection, is_unpullable};
use crate::scheduler::quantity;

/// Name of the launcher's main container.
pub const COMPUTE_CONTAINER: &str = "compute";
/// Reason of the readiness gate condition while the guest is paused.
pub const GATE_REASON_PAUSED: &str = "Paused";
/// Reason of the readiness gate condition while the guest is not paused.
pub const GATE_REASON_NOT_PAUSED: &str = "NotPaused";
/// Message of a failed launcher (`simulation.kubevirt.io/fail-to-start`).
pub const FAIL_TO_START_MESSAGE: &str = "virt-launcher exited before the guest started";

/// What the kubelet role needs to know about a pod besides the pod itself.
#[derive(Clone, Debug)]
pub struct PodContext<'a> {
    /// The VMI the launcher pod belongs to (by `kubevirt.io/created-by`).
    pub vmi: Option<&'a VirtualMachineInstance>,
    /// The domain running in this pod.
    pub domain: Option<&'a Domain>,
    pub injection: &'a Injection,
    pub pod_ip: Option<String>,
    pub host_ip: &'a str,
    pub now: Timestamp,
    /// How long each of ErrImagePull and ImagePullBackOff is shown before the other.
    pub image_pull_backoff: Duration,
}

/// The kubelet's decision for one pod.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PodPlan {
    /// The status to write, when it differs from the observed one.
    pub status: Option<PodStatus>,
    /// Remove the pod (grace 0): it is being deleted and nothing runs in it any more.
    pub delete: bool,
    /// When the status changes again by itself (image pull back-off).
    pub wakeup: Option<Timestamp>,
}

/// True for virt-launcher pods.
pub fn is_launcher(pod: &Pod) -> bool {
    pod.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(APP_LABEL))
        .map(String::as_str)
        == Some(VIRT_LAUNCHER_APP)
}

fn time(t: Timestamp) -> Time {
    Time(Timestamp::from_second(t.as_second()).unwrap_or(t))
}

/// How every container of the pod runs, before image problems.
#[derive(Clone, Debug, PartialEq)]
enum Run {
    Running,
    Terminated {
        exit_code: i32,
        reason: &'static str,
        message: Option<&'static str>,
    },
}

/// The containers whose image cannot be pulled, with that image.
fn bad_images(pod: &Pod, ctx: &PodContext) -> BTreeMap<String, String> {
    let containers = pod
        .spec
        .as_ref()
        .map(|s| s.containers.as_slice())
        .unwrap_or_default();
    let mut bad: BTreeMap<String, String> = containers
        .iter()
        .filter(|c| c.image.as_deref().is_some_and(is_unpullable))
        .map(|c| (c.name.clone(), c.image.clone().unwrap_or_default()))
        .collect();
    let compute_image = containers
        .iter()
        .find(|c| c.name == COMPUTE_CONTAINER)
        .and_then(|c| c.image.clone());
    if is_launcher(pod) && containers.iter().any(|c| c.name == COMPUTE_CONTAINER) {
        // Container disks are pulled for the launcher; a missing one stops it from starting.
        let disk = ctx
            .vmi
            .into_iter()
            .flat_map(|v| v.spec.volumes.iter().flatten())
            .find_map(|v| {
                v.container_disk
                    .as_ref()
                    .map(|c| c.image.clone())
                    .filter(|i| is_unpullable(i))
            });
        let in_pod = |image: &String| containers.iter().any(|c| c.image.as_ref() == Some(image));
        if let Some(image) = disk.filter(|i| !in_pod(i)) {
            bad.insert(COMPUTE_CONTAINER.into(), image);
        } else if ctx.injection.image_pull_error {
            bad.insert(COMPUTE_CONTAINER.into(), compute_image.unwrap_or_default());
        }
    }
    bad
}

fn is_paused(ctx: &PodContext) -> bool {
    match ctx.domain {
        Some(d) if d.is_alive() => d.paused,
        _ => ctx
            .vmi
            .and_then(|v| v.status.as_ref())
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| {
                cs.iter()
                    .any(|c| c.type_ == vmi_condition::PAUSED && c.status == "True")
            }),
    }
}

/// Whether a pod being deleted can go: nothing runs in it, and the final phase of its guest is
/// already on the VMI (so virt-controller never sees the pod vanish under a live VMI).
fn may_remove(pod: &Pod, ctx: &PodContext) -> bool {
    if !is_launcher(pod) {
        return true;
    }
    match ctx.domain {
        None => true,
        Some(d) if d.is_alive() => false,
        Some(d) => ctx
            .vmi
            .is_none_or(|v| v.metadata.uid.as_deref() != Some(d.vmi_uid.as_str()) || v.is_final()),
    }
}

/// The kubelet's decision for `pod`.
pub fn plan(pod: &Pod, ctx: &PodContext) -> PodPlan {
    let old = pod.status.clone().unwrap_or_default();
    let terminal = matches!(old.phase.as_deref(), Some("Succeeded" | "Failed"));
    let deleting = pod.metadata.deletion_timestamp.is_some();
    if deleting && may_remove(pod, ctx) {
        return PodPlan {
            delete: true,
            ..Default::default()
        };
    }
    if terminal {
        return PodPlan::default();
    }
    let launcher = is_launcher(pod);
    let domain_dead = ctx.domain.is_some_and(|d| !d.is_alive());
    let vmi_final = ctx.vmi.is_some_and(|v| v.is_final());
    let run = if launcher && ctx.injection.fail_to_start {
        Run::Terminated {
            exit_code: 1,
            reason: "Error",
            message: Some(FAIL_TO_START_MESSAGE),
        }
    } else if launcher && (domain_dead || ctx.domain.is_none() && (vmi_final || deleting)) {
        Run::Terminated {
            exit_code: 0,
            reason: "Completed",
            message: None,
        }
    } else {
        Run::Running
    };
    let bad = if run == Run::Running {
        bad_images(pod, ctx)
    } else {
        BTreeMap::new()
    };
    let mut wakeup = None;
    let start = old.start_time.as_ref().map(|t| t.0).unwrap_or(ctx.now);
    let pull_reason = if bad.is_empty() {
        ""
    } else {
        let period =
            SignedDuration::try_from(ctx.image_pull_backoff.max(Duration::from_millis(100)))
                .unwrap_or(SignedDuration::from_secs(5));
        let elapsed = ctx.now.duration_since(start).max(SignedDuration::ZERO);
        let n = elapsed.as_nanos() / period.as_nanos();
        wakeup = start
            .checked_add(period * i32::try_from(n + 1).unwrap_or(i32::MAX))
            .ok();
        if n % 2 == 0 {
            "ErrImagePull"
        } else {
            "ImagePullBackOff"
        }
    };
    let status = build_status(pod, &old, &run, &bad, pull_reason, ctx, start);
    let changed = serde_json::to_value(&status).ok() != serde_json::to_value(&old).ok();
    PodPlan {
        status: changed.then_some(status),
        delete: false,
        wakeup,
    }
}

fn container_state(old: Option<&ContainerStatus>, run: &Run, now: Timestamp) -> ContainerState {
    let old_state = old.and_then(|c| c.state.clone()).unwrap_or_default();
    let started = old_state
        .running
        .as_ref()
        .and_then(|r| r.started_at.clone());
    match run {
        Run::Running => ContainerState {
            running: Some(ContainerStateRunning {
                started_at: started.or(Some(time(now))),
            }),
            ..Default::default()
        },
        Run::Terminated {
            exit_code,
            reason,
            message,
        } => {
            let previous = old_state.terminated.filter(|t| t.exit_code == *exit_code);
            ContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code: *exit_code,
                    reason: Some(reason.to_string()),
                    message: message.map(str::to_string),
                    started_at: previous
                        .as_ref()
                        .and_then(|t| t.started_at.clone())
                        .or(started)
                        .or(Some(time(now))),
                    finished_at: previous.and_then(|t| t.finished_at).or(Some(time(now))),
                    ..Default::default()
                }),
                ..Default::default()
            }
        }
    }
}

fn container_status(
    pod_uid: &str,
    c: &Container,
    state: ContainerState,
    ready: bool,
) -> ContainerStatus {
    let image = c.image.clone().unwrap_or_default();
    let id = |parts: &[&str]| {
        (0..4u8)
            .map(|i| format!("{:016x}", stable_hash(&[parts, &[&i.to_string()]].concat())))
            .collect::<String>()
    };
    let started = state.running.is_some();
    ContainerStatus {
        name: c.name.clone(),
        image: image.clone(),
        image_id: format!("sha256:{}", id(&[&image])),
        container_id: Some(format!("containerd://{}", id(&[pod_uid, &c.name]))),
        ready,
        started: Some(started),
        restart_count: 0,
        state: Some(state),
        ..Default::default()
    }
}

fn build_status(
    pod: &Pod,
    old: &PodStatus,
    run: &Run,
    bad: &BTreeMap<String, String>,
    pull_reason: &str,
    ctx: &PodContext,
    start: Timestamp,
) -> PodStatus {
    let spec = pod.spec.clone().unwrap_or_default();
    let uid = pod.metadata.uid.as_deref().unwrap_or_default();
    let find = |list: &Option<Vec<ContainerStatus>>, name: &str| {
        list.iter().flatten().find(|c| c.name == name).cloned()
    };
    let mut unready = Vec::new();
    let statuses: Vec<ContainerStatus> = spec
        .containers
        .iter()
        .map(|c| {
            if let Some(image) = bad.get(&c.name) {
                unready.push(c.name.clone());
                let message = if pull_reason == "ErrImagePull" {
                    format!("Failed to pull image \"{image}\": pull access denied, repository does not exist or may require authorization")
                } else {
                    format!("Back-off pulling image \"{image}\"")
                };
                let state = ContainerState {
                    waiting: Some(ContainerStateWaiting { reason: Some(pull_reason.into()), message: Some(message) }),
                    ..Default::default()
                };
                return container_status(uid, c, state, false);
            }
            let state = container_state(find(&old.container_statuses, &c.name).as_ref(), run, ctx.now);
            let ready = *run == Run::Running;
            if !ready {
                unready.push(c.name.clone());
            }
            container_status(uid, c, state, ready)
        })
        .collect();
    let init: Vec<ContainerStatus> = spec
        .init_containers
        .iter()
        .flatten()
        .map(|c| {
            let done = Run::Terminated {
                exit_code: 0,
                reason: "Completed",
                message: None,
            };
            let state = container_state(
                find(&old.init_container_statuses, &c.name).as_ref(),
                &done,
                start,
            );
            container_status(uid, c, state, false)
        })
        .collect();

    let phase = match run {
        _ if !bad.is_empty() => "Pending",
        Run::Running => "Running",
        Run::Terminated { exit_code: 0, .. } => "Succeeded",
        Run::Terminated { .. } => "Failed",
    };
    let completed = phase == "Succeeded";
    let terminal = matches!(phase, "Succeeded" | "Failed");

    let mut conditions = old.conditions.clone().unwrap_or_default();
    let now = ctx.now;
    let mut set = |type_: &str, ok: bool, reason: Option<String>, message: Option<String>| {
        set_condition(&mut conditions, type_, ok, reason, message, now)
    };
    let containers_ready = unready.is_empty() && !terminal;
    let (reason, message) = if containers_ready {
        (None, None)
    } else if completed {
        (Some("PodCompleted".to_string()), None)
    } else {
        (
            Some("ContainersNotReady".to_string()),
            Some(format!(
                "containers with unready status: [{}]",
                unready.join(" ")
            )),
        )
    };
    let gates: Vec<String> = spec
        .readiness_gates
        .iter()
        .flatten()
        .map(|g| g.condition_type.clone())
        .collect();
    let paused = is_paused(ctx);
    set("PodReadyToStartContainers", !terminal, None, None);
    set("Initialized", true, None, None);
    set("PodScheduled", true, None, None);
    if gates
        .iter()
        .any(|g| g == VIRTUAL_MACHINE_UNPAUSED_POD_CONDITION)
    {
        // The reasons and messages virt-controller writes, so neither side rewrites the other's.
        let (reason, message) = if paused {
            (GATE_REASON_PAUSED, "the virtual machine is paused")
        } else {
            (GATE_REASON_NOT_PAUSED, "the virtual machine is not paused")
        };
        set(
            VIRTUAL_MACHINE_UNPAUSED_POD_CONDITION,
            !paused,
            Some(reason.into()),
            Some(message.into()),
        );
    }
    let gate_problem = gates
        .iter()
        .find_map(|g| match conditions.iter().find(|c| &c.type_ == g) {
            None => Some(format!(
                "corresponding condition of pod readiness gate \"{g}\" does not exist."
            )),
            Some(c) if c.status != "True" => Some(format!(
                "the status of pod readiness gate \"{g}\" is not \"True\", but {}",
                c.status
            )),
            Some(_) => None,
        });
    let mut set = |type_: &str, ok: bool, reason: Option<String>, message: Option<String>| {
        set_condition(&mut conditions, type_, ok, reason, message, now)
    };
    set(
        "ContainersReady",
        containers_ready,
        reason.clone(),
        message.clone(),
    );
    match (&gate_problem, containers_ready) {
        (Some(problem), true) => set(
            "Ready",
            false,
            Some("ReadinessGatesNotReady".into()),
            Some(problem.clone()),
        ),
        _ => set("Ready", containers_ready, reason, message),
    }

    let mut status = old.clone();
    status.phase = Some(phase.into());
    status.conditions = Some(conditions);
    status.container_statuses = Some(statuses);
    status.init_container_statuses = (!init.is_empty()).then_some(init);
    status.start_time = Some(time(start));
    status.host_ip = Some(ctx.host_ip.to_string());
    status.host_ips = Some(vec![HostIP {
        ip: ctx.host_ip.to_string(),
    }]);
    if let Some(ip) = &ctx.pod_ip {
        status.pod_ip = Some(ip.clone());
        status.pod_ips = Some(vec![PodIP { ip: ip.clone() }]);
    }
    if status.qos_class.is_none() {
        status.qos_class = Some(qos_class(pod).into());
    }
    status
}

/// Sets a pod condition with exactly this reason and message; the transition time only moves
/// when the status changes.
fn set_condition(
    conditions: &mut Vec<PodCondition>,
    type_: &str,
    ok: bool,
    reason: Option<String>,
    message: Option<String>,
    now: Timestamp,
) {
    let status = if ok { "True" } else { "False" };
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(c) if c.status == status => {
            c.reason = reason;
            c.message = message;
        }
        Some(c) => {
            *c = PodCondition {
                type_: type_.into(),
                status: status.into(),
                reason,
                message,
                last_transition_time: Some(time(now)),
                ..Default::default()
            }
        }
        None => conditions.push(PodCondition {
            type_: type_.into(),
            status: status.into(),
            reason,
            message,
            last_transition_time: Some(time(now)),
            ..Default::default()
        }),
    }
}

/// The pod's QoS class, as the API server computes it.
pub fn qos_class(pod: &Pod) -> &'static str {
    let Some(spec) = &pod.spec else {
        return "BestEffort";
    };
    let containers = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten());
    let mut any = false;
    let mut guaranteed = true;
    for c in containers {
        let r = c.resources.clone().unwrap_or_default();
        let requests = r.requests.unwrap_or_default();
        let limits = r.limits.unwrap_or_default();
        let value = |q: &k8s_openapi::apimachinery::pkg::api::resource::Quantity| {
            quantity::parse(&q.0).ok()
        };
        for name in ["cpu", "memory"] {
            let (req, lim) = (
                requests.get(name).and_then(value),
                limits.get(name).and_then(value),
            );
            any |= req.is_some_and(|v| v.0 != 0) || lim.is_some_and(|v| v.0 != 0);
            match (req, lim) {
                (_, None) => guaranteed = false,
                (Some(a), Some(b)) if a != b => guaranteed = false,
                _ => {}
            }
        }
    }
    if !any {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

/// The lowest free host address of a node's `/24` pod CIDR (from `.2`), or `None` when full.
pub fn allocate_ip(pod_cidr: &str, used: &BTreeSet<String>) -> Option<String> {
    let base = pod_cidr.split('/').next()?;
    let prefix = base.rsplit_once('.')?.0;
    (2..=254)
        .map(|host| format!("{prefix}.{host}"))
        .find(|ip| !used.contains(ip))
}

#[cfg(test)]
#[path = "pod_tests.rs"]
mod tests;
