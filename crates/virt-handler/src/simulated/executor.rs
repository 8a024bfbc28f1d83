//! Applies planned [`Action`]s with kube-rs.
//!
//! A write planned from an object's resourceVersion is made once: until the watch delivers a
//! newer version (or [`RETRY_AFTER`] passed, for writes that failed), the same write is not
//! repeated, so a lagging cache never doubles a write or its events.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use api::VirtualMachineInstance;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ObjectReference, Pod};
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use serde_json::json;

use super::actions::{Action, EventSpec, ObjectKey};

/// How long a write planned from a resourceVersion is not repeated.
pub const RETRY_AFTER: Duration = Duration::from_secs(5);
/// Writes in flight at once.
const CONCURRENCY: usize = 16;
/// Name under which the agent reports events.
pub const REPORTING_COMPONENT: &str = "virt-handler";

/// Applies actions; one per driver.
pub struct Executor {
    client: kube::Client,
    recorders: HashMap<String, Recorder>,
    acted: Mutex<HashMap<String, (String, Instant)>>,
}

fn vmi_reference(key: &ObjectKey) -> ObjectReference {
    ObjectReference {
        api_version: Some(format!("{}/{}", api::keys::GROUP, api::keys::VERSION)),
        kind: Some("VirtualMachineInstance".into()),
        name: Some(key.name.clone()),
        namespace: Some(key.namespace.clone()),
        uid: Some(key.uid.clone()),
        ..Default::default()
    }
}

fn is_code(e: &kube::Error, codes: &[u16]) -> bool {
    matches!(e, kube::Error::Api(s) if codes.contains(&s.code))
}

impl Executor {
    /// An executor reporting events as `virt-handler` on each of `nodes`.
    pub fn new(client: kube::Client, nodes: &[String]) -> Executor {
        let recorders = nodes
            .iter()
            .map(|n| {
                let reporter = Reporter {
                    controller: REPORTING_COMPONENT.into(),
                    instance: Some(n.clone()),
                };
                (n.clone(), Recorder::new(client.clone(), reporter))
            })
            .collect();
        Executor {
            client,
            recorders,
            acted: Mutex::new(HashMap::new()),
        }
    }

    /// True when the action should run now; records it as done.
    fn claim(&self, action: &Action) -> bool {
        let Some((uid, rv)) = action.target() else {
            return true;
        };
        let mut acted = self.acted.lock().expect("executor lock");
        let now = Instant::now();
        acted.retain(|_, (_, at)| now.duration_since(*at) < RETRY_AFTER);
        match acted.get(uid) {
            Some((seen, _)) if seen == rv => false,
            _ => {
                acted.insert(uid.to_string(), (rv.to_string(), now));
                true
            }
        }
    }

    /// Applies the actions, concurrently across objects. Failures are logged; the next pass
    /// plans again from what the watches show.
    pub async fn execute(&self, actions: Vec<Action>) {
        let claimed: Vec<Action> = actions.into_iter().filter(|a| self.claim(a)).collect();
        futures::stream::iter(claimed)
            .map(|a| self.apply(a))
            .buffer_unordered(CONCURRENCY)
            .for_each(|()| async {})
            .await;
    }

    async fn apply(&self, action: Action) {
        let params = PatchParams::default();
        let result = match &action {
            Action::Bind {
                pod,
                resource_version,
                node,
                status,
            } => {
                let pods: Api<Pod> = Api::namespaced(self.client.clone(), &pod.namespace);
                let body = json!({"metadata": {"resourceVersion": resource_version}, "spec": {"nodeName": node}});
                match pods.patch(&pod.name, &params, &Patch::Merge(body)).await {
                    Ok(bound) => {
                        let mut status = status.clone();
                        status["metadata"] =
                            json!({"resourceVersion": bound.metadata.resource_version});
                        pods.patch_status(&pod.name, &params, &Patch::Merge(status))
                            .await
                            .map(|_| ())
                    }
                    Err(e) => Err(e),
                }
            }
            Action::PodStatus { pod, body, .. } => {
                let pods: Api<Pod> = Api::namespaced(self.client.clone(), &pod.namespace);
                pods.patch_status(&pod.name, &params, &Patch::Merge(body.clone()))
                    .await
                    .map(|_| ())
            }
            Action::DeletePod { pod, .. } => {
                let pods: Api<Pod> = Api::namespaced(self.client.clone(), &pod.namespace);
                let dp = DeleteParams {
                    grace_period_seconds: Some(0),
                    preconditions: Some(Preconditions {
                        uid: Some(pod.uid.clone()),
                        resource_version: None,
                    }),
                    ..Default::default()
                };
                pods.delete(&pod.name, &dp).await.map(|_| ())
            }
            Action::VmiStatus {
                vmi,
                node,
                body,
                events,
                ..
            } => {
                let vmis: Api<VirtualMachineInstance> =
                    Api::namespaced(self.client.clone(), &vmi.namespace);
                let written = vmis
                    .patch(&vmi.name, &params, &Patch::Merge(body.clone()))
                    .await
                    .map(|_| ());
                if written.is_ok() {
                    for event in events {
                        self.publish(vmi, Some(node), event).await;
                    }
                }
                written
            }
            Action::Event { vmi, node, event } => {
                self.publish(vmi, Some(node), event).await;
                Ok(())
            }
        };
        match result {
            Ok(()) => {}
            // Someone else changed or removed the object; the watch brings the news.
            Err(e) if is_code(&e, &[404, 409]) => {
                tracing::debug!(error = %e, ?action, "write skipped")
            }
            Err(e) => tracing::warn!(error = %e, ?action, "write failed"),
        }
    }

    async fn publish(&self, vmi: &ObjectKey, node: Option<&str>, event: &EventSpec) {
        let recorder = node
            .and_then(|n| self.recorders.get(n))
            .or_else(|| self.recorders.values().next());
        let Some(recorder) = recorder else { return };
        let ev = Event {
            type_: if event.warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: event.reason.into(),
            note: Some(event.message.into()),
            action: event.reason.into(),
            secondary: None,
        };
        if let Err(e) = recorder.publish(&ev, &vmi_reference(vmi)).await {
            tracing::warn!(error = %e, reason = event.reason, vmi = %vmi.name, "cannot report event");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> kube::Client {
        let config = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
        kube::Client::try_from(config).unwrap()
    }

    fn status(uid: &str, rv: &str) -> Action {
        let pod = ObjectKey {
            namespace: "ns".into(),
            name: "p".into(),
            uid: uid.into(),
        };
        Action::PodStatus {
            pod,
            resource_version: rv.into(),
            body: json!({}),
        }
    }

    #[tokio::test]
    async fn a_write_is_not_repeated_for_the_same_version() {
        let executor = Executor::new(client(), &["node01".into()]);
        assert!(executor.claim(&status("a", "1")));
        assert!(
            !executor.claim(&status("a", "1")),
            "same object, same version"
        );
        assert!(
            executor.claim(&status("a", "2")),
            "a newer version is planned again"
        );
        assert!(
            executor.claim(&status("b", "1")),
            "other objects are independent"
        );
        let event = Action::Event {
            vmi: ObjectKey {
                namespace: "ns".into(),
                name: "v".into(),
                uid: "a".into(),
            },
            node: "node01".into(),
            event: super::super::actions::EVENT_STARTED,
        };
        assert!(
            executor.claim(&event) && executor.claim(&event),
            "events are never deduplicated"
        );
    }
}
