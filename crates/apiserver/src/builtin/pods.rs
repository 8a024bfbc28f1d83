//! core/v1 pods, with the table `kubectl get pods` shows (READY, STATUS and RESTARTS computed
//! as the real server's printer does).

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};

use super::schema::structural;
use super::{Builtin, age_cell, age_column, array_at, column, human_duration, or_none, str_at};
use crate::registry::{PrinterColumn, ResourceDef, TableRenderer};

pub fn pods() -> ResourceDef {
    Builtin {
        group: "",
        version: "v1",
        kind: "Pod",
        plural: "pods",
        short_names: &["po"],
        categories: &["all"],
        namespaced: true,
        status_subresource: true,
        selectable: &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        schema: structural::<Pod>(),
        table: std::sync::Arc::new(PodTable),
    }
    .build()
}

/// The pods table. RESTARTS reads the clock ("2 (5m ago)"), so the cells of a pod depend on
/// the time they are rendered at, as on the real server.
pub struct PodTable;

impl TableRenderer for PodTable {
    fn columns(&self) -> Vec<PrinterColumn> {
        vec![
            column(
                "Ready",
                "string",
                0,
                "The aggregate readiness state of this pod for accepting traffic.",
            ),
            column(
                "Status",
                "string",
                0,
                "The aggregate status of the containers in this pod.",
            ),
            column(
                "Restarts",
                "string",
                0,
                "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
            ),
            age_column(),
            column("IP", "string", 1, "The IP address assigned to this pod."),
            column("Node", "string", 1, "The node this pod is assigned to."),
            column(
                "Nominated Node",
                "string",
                1,
                "The node the scheduler nominated for this pod.",
            ),
            column(
                "Readiness Gates",
                "string",
                1,
                "The readiness gates of this pod that are true.",
            ),
        ]
    }

    fn cells(&self, object: &Value) -> Vec<Value> {
        pod_cells(object, Timestamp::now())
    }
}

fn time_of(v: &Value, pointer: &str) -> Option<Timestamp> {
    str_at(v, pointer).parse().ok()
}

fn is_restartable_init(pod: &Value, name: &str) -> bool {
    array_at(pod, "/spec/initContainers")
        .iter()
        .any(|c| str_at(c, "/name") == name && str_at(c, "/restartPolicy") == "Always")
}

fn condition_true(pod: &Value, type_: &str) -> bool {
    array_at(pod, "/status/conditions")
        .iter()
        .any(|c| str_at(c, "/type") == type_ && str_at(c, "/status") == "True")
}

fn count(v: &Value, pointer: &str) -> i64 {
    v.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

/// The cells of a pod's row at time `now`.
pub fn pod_cells(pod: &Value, now: Timestamp) -> Vec<Value> {
    let phase = str_at(pod, "/status/phase");
    let mut reason = match str_at(pod, "/status/reason") {
        "" => phase.to_string(),
        r => r.to_string(),
    };
    if array_at(pod, "/status/conditions")
        .iter()
        .any(|c| str_at(c, "/type") == "PodScheduled" && str_at(c, "/reason") == "SchedulingGated")
    {
        reason = "SchedulingGated".into();
    }

    let init_specs = array_at(pod, "/spec/initContainers");
    let total = array_at(pod, "/spec/containers").len()
        + init_specs
            .iter()
            .filter(|c| str_at(c, "/restartPolicy") == "Always")
            .count();
    let mut ready = 0;
    let mut restarts = 0;
    let mut sidecar_restarts = 0;
    let mut last_restart: Option<Timestamp> = None;
    let mut last_sidecar_restart: Option<Timestamp> = None;
    let later = |a: Option<Timestamp>, b: Option<Timestamp>| a.max(b);

    let mut initializing = false;
    for (i, c) in array_at(pod, "/status/initContainerStatuses")
        .iter()
        .enumerate()
    {
        let name = str_at(c, "/name");
        let sidecar = is_restartable_init(pod, name);
        restarts += count(c, "/restartCount");
        let finished = time_of(c, "/lastState/terminated/finishedAt");
        last_restart = later(last_restart, finished);
        if sidecar {
            sidecar_restarts += count(c, "/restartCount");
            last_sidecar_restart = later(last_sidecar_restart, finished);
        }
        let terminated = c.pointer("/state/terminated").filter(|t| t.is_object());
        let waiting_reason = str_at(c, "/state/waiting/reason");
        if terminated.is_some_and(|t| count(t, "/exitCode") == 0) {
            continue;
        }
        if sidecar && c.get("started").and_then(Value::as_bool) == Some(true) {
            if c.get("ready").and_then(Value::as_bool) == Some(true) {
                ready += 1;
            }
            continue;
        }
        reason = if let Some(t) = terminated {
            match str_at(t, "/reason") {
                "" if count(t, "/signal") != 0 => format!("Init:Signal:{}", count(t, "/signal")),
                "" => format!("Init:ExitCode:{}", count(t, "/exitCode")),
                r => format!("Init:{r}"),
            }
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            format!("Init:{waiting_reason}")
        } else {
            format!("Init:{i}/{}", init_specs.len())
        };
        initializing = true;
        break;
    }

    if !initializing || condition_true(pod, "Initialized") {
        restarts = sidecar_restarts;
        last_restart = last_sidecar_restart;
        let mut has_running = false;
        for c in array_at(pod, "/status/containerStatuses").iter().rev() {
            restarts += count(c, "/restartCount");
            last_restart = later(last_restart, time_of(c, "/lastState/terminated/finishedAt"));
            let terminated = c.pointer("/state/terminated").filter(|t| t.is_object());
            let waiting_reason = str_at(c, "/state/waiting/reason");
            if !waiting_reason.is_empty() {
                reason = waiting_reason.to_string();
            } else if let Some(t) = terminated {
                reason = match str_at(t, "/reason") {
                    "" if count(t, "/signal") != 0 => format!("Signal:{}", count(t, "/signal")),
                    "" => format!("ExitCode:{}", count(t, "/exitCode")),
                    r => r.to_string(),
                };
            } else if c.get("ready").and_then(Value::as_bool) == Some(true)
                && c.pointer("/state/running").is_some_and(Value::is_object)
            {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            reason = if condition_true(pod, "Ready") {
                "Running".into()
            } else {
                "NotReady".into()
            };
        }
    }

    let deleting = pod
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null());
    if deleting && str_at(pod, "/status/reason") == "NodeLost" {
        reason = "Unknown".into();
    } else if deleting && phase != "Succeeded" && phase != "Failed" {
        reason = "Terminating".into();
    }

    let restarts_cell = match last_restart {
        Some(at) if restarts != 0 => {
            let ago = human_duration(now.as_second() - at.as_second());
            format!("{restarts} ({ago} ago)")
        }
        _ => restarts.to_string(),
    };

    let ip = array_at(pod, "/status/podIPs")
        .first()
        .map(|p| str_at(p, "/ip"))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| str_at(pod, "/status/podIP"));
    let gates = array_at(pod, "/spec/readinessGates");
    let gates_cell = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let met = gates
            .iter()
            .filter(|g| {
                let t = str_at(g, "/conditionType");
                array_at(pod, "/status/conditions")
                    .iter()
                    .find(|c| str_at(c, "/type") == t)
                    .is_some_and(|c| str_at(c, "/status") == "True")
            })
            .count();
        format!("{met}/{}", gates.len())
    };
    vec![
        json!(format!("{ready}/{total}")),
        json!(reason),
        json!(restarts_cell),
        age_cell(pod),
        json!(or_none(ip)),
        json!(or_none(str_at(pod, "/spec/nodeName"))),
        json!(or_none(str_at(pod, "/status/nominatedNodeName"))),
        json!(gates_cell),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2025-01-01T01:00:00Z".parse().unwrap()
    }

    fn pod(status: Value) -> Value {
        json!({
            "metadata": {"name": "p", "creationTimestamp": "2025-01-01T00:00:00Z"},
            "spec": {"containers": [{"name": "a"}, {"name": "b"}], "nodeName": "node1"},
            "status": status,
        })
    }

    #[test]
    fn running_pod_shows_ready_count_and_phase() {
        let p = pod(
            json!({"phase": "Running", "podIP": "10.0.0.5", "podIPs": [{"ip": "10.0.0.5"}],
            "containerStatuses": [
                {"name": "a", "ready": true, "restartCount": 0, "state": {"running": {}}},
                {"name": "b", "ready": false, "restartCount": 0, "state": {"running": {}}}]}),
        );
        let c = pod_cells(&p, now());
        assert_eq!(
            c[..4],
            [
                json!("1/2"),
                json!("Running"),
                json!("0"),
                json!("2025-01-01T00:00:00Z")
            ]
        );
        assert_eq!(
            c[4..],
            [
                json!("10.0.0.5"),
                json!("node1"),
                json!("<none>"),
                json!("<none>")
            ]
        );
    }

    #[test]
    fn waiting_reason_replaces_the_phase() {
        let p = pod(json!({"phase": "Pending", "containerStatuses": [
            {"name": "a", "ready": false, "restartCount": 3, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
             "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2025-01-01T00:55:00Z"}}}]}));
        let c = pod_cells(&p, now());
        assert_eq!(c[1], json!("CrashLoopBackOff"));
        assert_eq!(c[2], json!("3 (5m ago)"));
    }

    #[test]
    fn completed_container_beside_a_running_one_shows_running_or_not_ready() {
        let mut p = pod(json!({"phase": "Running", "containerStatuses": [
            {"name": "a", "ready": true, "restartCount": 0, "state": {"running": {}}},
            {"name": "b", "ready": false, "restartCount": 0,
             "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}],
            "conditions": [{"type": "Ready", "status": "False"}]}));
        assert_eq!(pod_cells(&p, now())[1], json!("NotReady"));
        p["status"]["conditions"][0]["status"] = json!("True");
        assert_eq!(pod_cells(&p, now())[..2], [json!("1/2"), json!("Running")]);
    }

    #[test]
    fn deleting_pod_is_terminating_unless_finished() {
        let mut p = pod(json!({"phase": "Running"}));
        p["metadata"]["deletionTimestamp"] = json!("2025-01-01T00:59:00Z");
        assert_eq!(pod_cells(&p, now())[1], json!("Terminating"));
        p["status"]["phase"] = json!("Succeeded");
        assert_eq!(pod_cells(&p, now())[1], json!("Succeeded"));
    }

    #[test]
    fn failing_init_container_is_reported() {
        let mut p = pod(json!({"phase": "Pending", "initContainerStatuses": [
            {"name": "init", "restartCount": 0, "state": {"terminated": {"exitCode": 2}}}]}));
        p["spec"]["initContainers"] = json!([{"name": "init"}]);
        assert_eq!(pod_cells(&p, now())[1], json!("Init:ExitCode:2"));
        p["status"]["initContainerStatuses"][0]["state"] =
            json!({"waiting": {"reason": "PodInitializing"}});
        assert_eq!(pod_cells(&p, now())[1], json!("Init:0/1"));
    }

    #[test]
    fn terminated_container_without_reason_shows_exit_code() {
        let p = pod(json!({"phase": "Failed", "containerStatuses": [
            {"name": "a", "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 137}}}]}));
        assert_eq!(pod_cells(&p, now())[1], json!("ExitCode:137"));
    }

    #[test]
    fn readiness_gates_count_true_conditions() {
        let mut p = pod(json!({"phase": "Running", "conditions": [
            {"type": "example.com/ready", "status": "True"}, {"type": "Ready", "status": "False"}]}));
        p["spec"]["readinessGates"] =
            json!([{"conditionType": "example.com/ready"}, {"conditionType": "other"}]);
        assert_eq!(pod_cells(&p, now())[7], json!("1/2"));
    }

    #[test]
    fn columns_match_kubectl_get_pods() {
        let cols = PodTable.columns();
        let normal: Vec<_> = cols
            .iter()
            .filter(|c| c.priority == 0)
            .map(|c| c.name.as_str())
            .collect();
        let wide: Vec<_> = cols
            .iter()
            .filter(|c| c.priority > 0)
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(normal, vec!["Ready", "Status", "Restarts", "Age"]);
        assert_eq!(
            wide,
            vec!["IP", "Node", "Nominated Node", "Readiness Gates"]
        );
    }
}
