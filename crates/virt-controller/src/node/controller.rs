//! The node controller's executor: an informer on nodes, a queue of node names rechecked
//! periodically, and live lists of the VMIs and pods of an unresponsive node.

use std::sync::Arc;
use std::time::Duration;

use api::VirtualMachineInstance;
use api::keys;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{ListParams, Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::watcher;
use kube::{Api, Client, Resource};

use super::reconcile::{
    NODE_UNRESPONSIVE, active_vmis_on, failed_patch, is_schedulable, is_unresponsive,
    unschedulable_patch, without_alive_pods,
};
use super::{NodeControllerOptions, NodeError};
use crate::vmi::runtime::{Cache, Change, WorkQueue, run_informer, run_workers};

/// Reporting component of the node controller's events.
pub const REPORTER: &str = "node-controller";

struct Ctx {
    client: Client,
    options: NodeControllerOptions,
    nodes: Arc<Cache<Node>>,
    queue: Arc<WorkQueue>,
    recorder: Recorder,
}

/// Runs the node controller until the future is dropped.
pub async fn run(client: Client, options: NodeControllerOptions) {
    let reporter = Reporter {
        controller: REPORTER.into(),
        instance: None,
    };
    let ctx = Ctx {
        client: client.clone(),
        options,
        nodes: Cache::new(),
        queue: WorkQueue::new(),
        recorder: Recorder::new(client.clone(), reporter),
    };
    let ctx = &ctx;
    let workers = async {
        ctx.nodes.ready().await;
        run_workers(ctx.queue.clone(), ctx.options.workers, |key| {
            ctx.reconcile(key)
        })
        .await;
    };
    let on_node = |change: Change<Node>| {
        let node = match change {
            Change::Added(n) | Change::Updated(_, n) | Change::Deleted(n) => n,
        };
        ctx.queue
            .add(node.metadata.name.as_deref().unwrap_or_default());
    };
    futures::join!(
        run_informer(
            Api::all(client.clone()),
            watcher::Config::default(),
            ctx.nodes.clone(),
            on_node
        ),
        workers,
    );
}

impl Ctx {
    async fn event<K: Resource<DynamicType = ()>>(&self, obj: &K, note: String) {
        let event = Event {
            type_: EventType::Normal,
            reason: NODE_UNRESPONSIVE.into(),
            action: note.chars().take(128).collect(),
            note: Some(note),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&event, &obj.object_ref(&())).await {
            tracing::warn!(error = %e, "cannot record event");
        }
    }

    async fn reconcile(&self, name: String) -> Result<Option<Duration>, NodeError> {
        let node = self.nodes.get(&name);
        let again = node.as_ref().map(|_| self.options.recheck_interval);
        let timeout = self.options.heartbeat_timeout;
        match is_unresponsive(node.as_deref(), timeout, Timestamp::now()) {
            Err(e) => {
                tracing::error!(node = %name, error = %e, "cannot tell whether the node responds");
                return Ok(None);
            }
            Ok(false) => return Ok(again),
            Ok(true) => {}
        }
        if let Some(node) = node.as_deref().filter(|n| is_schedulable(Some(n))) {
            let note = "virt-handler is not responsive, marking node as unresponsive".to_string();
            self.event(node, note).await;
            let nodes: Api<Node> = Api::all(self.client.clone());
            nodes
                .patch(
                    &name,
                    &PatchParams::default(),
                    &Patch::Merge(unschedulable_patch()),
                )
                .await?;
        }

        let vmi_api: Api<VirtualMachineInstance> = Api::all(self.client.clone());
        let on_node =
            ListParams::default().labels(&format!("{} in ({name})", keys::NODE_NAME_LABEL));
        let listed = vmi_api.list(&on_node).await?.items;
        let refs: Vec<&VirtualMachineInstance> = listed.iter().collect();
        let active = active_vmis_on(&name, &refs);
        if active.is_empty() {
            return Ok(again);
        }
        let stuck = if self.options.fail_vmis_with_live_pods {
            active
        } else {
            let pod_api: Api<Pod> = Api::all(self.client.clone());
            let pods = pod_api
                .list(&ListParams::default().fields(&format!("spec.nodeName={name}")))
                .await?
                .items;
            let pods: Vec<&Pod> = pods.iter().collect();
            without_alive_pods(&active, &pods)
        };
        // One VMI after the other: a dead node must not become a write storm.
        let mut failures = Vec::new();
        for vmi in stuck {
            let vmi_name = vmi.metadata.name.as_deref().unwrap_or_default();
            let ns = vmi.metadata.namespace.as_deref().unwrap_or_default();
            let note =
                format!("virt-handler on node {name} is not responsive, marking VMI as failed");
            self.event(vmi, note).await;
            let api: Api<VirtualMachineInstance> = Api::namespaced(self.client.clone(), ns);
            let patch = Patch::Json::<()>(serde_json::from_value(failed_patch())?);
            if let Err(e) = api.patch(vmi_name, &PatchParams::default(), &patch).await {
                failures.push(format!(
                    "failed to move vmi {vmi_name} in namespace {ns} to final state: {e}"
                ));
            }
        }
        if !failures.is_empty() {
            return Err(NodeError::FailVmis(failures.join("; ")));
        }
        Ok(again)
    }
}
