//! How the lists of an object merge: the patch strategies and merge keys of the built-in kinds
//! the server serves (a hand-kept subset of the Kubernetes type tags `patchStrategy`,
//! `patchMergeKey` and `listType`), and a heuristic for custom resources.
//!
//! A [`Ty`] names the type at a position in an object; [`Ty::field`] descends to a field's
//! type and [`Ty::list`] tells how the list in a field merges. List items have the list's
//! element type, so paths skip over list positions.

/// How a list merges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    /// Replaced whole (strategic merge: replace; apply: owned as one field).
    Atomic,
    /// A set of scalars merged by value (`v:` in field sets).
    Set,
    /// Objects merged by the value of a key field (`k:` in field sets).
    Map(&'static str),
}

/// The type at some position in an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    /// A position with no known list semantics: lists there are atomic.
    Unknown,
    /// Inside a custom resource: lists of objects that all carry a distinct string `name`
    /// merge by `name`, other lists are atomic.
    Custom,
    /// The top level of a built-in kind.
    Root(BuiltIn),
    /// The top level of a custom resource.
    CustomRoot,
    ObjectMeta,
    PodTemplateSpec,
    PodSpec,
    Container,
    Volume,
    PodStatus,
    /// `spec` of Deployment, ReplicaSet, StatefulSet, DaemonSet, ReplicationController, Job.
    WorkloadSpec,
    CronJobSpec,
    JobTemplateSpec,
    ServiceSpec,
    NodeSpec,
    NodeStatus,
    ServiceAccountRoot,
    /// A status whose only known list is `conditions`, merged by `type`.
    ConditionsStatus,
}

/// The built-in kinds with list semantics beyond `metadata`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuiltIn {
    Pod,
    PodTemplate,
    Workload,
    CronJob,
    Service,
    Node,
    ServiceAccount,
    /// Any other built-in kind: only `metadata` and `status.conditions` are known.
    Other,
}

impl Ty {
    /// The root type of an object of `kind` in API group `group` (`""` for the core group).
    /// Groups that are empty, have no dot, or end in `.k8s.io` are built-in.
    pub fn root(group: &str, kind: &str) -> Ty {
        if !is_builtin_group(group) {
            return Ty::CustomRoot;
        }
        Ty::Root(match kind {
            "Pod" => BuiltIn::Pod,
            "PodTemplate" => BuiltIn::PodTemplate,
            "Deployment"
            | "ReplicaSet"
            | "StatefulSet"
            | "DaemonSet"
            | "ReplicationController"
            | "Job" => BuiltIn::Workload,
            "CronJob" => BuiltIn::CronJob,
            "Service" => BuiltIn::Service,
            "Node" => BuiltIn::Node,
            "ServiceAccount" => BuiltIn::ServiceAccount,
            _ => BuiltIn::Other,
        })
    }

    /// The root type of `object`, from its `apiVersion` and `kind`.
    pub fn of_object(object: &serde_json::Value) -> Ty {
        let api_version = object
            .get("apiVersion")
            .and_then(|v| v.as_str())
            .unwrap_or("v1");
        let group = api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
        let kind = object.get("kind").and_then(|v| v.as_str()).unwrap_or("");
        Ty::root(group, kind)
    }

    /// The type of field `name` of an object of this type.
    pub fn field(self, name: &str) -> Ty {
        use BuiltIn as B;
        match (self, name) {
            (Ty::Root(_) | Ty::CustomRoot, "metadata") => Ty::ObjectMeta,
            (Ty::CustomRoot | Ty::Custom, _) => Ty::Custom,
            (Ty::Root(B::Pod), "spec") => Ty::PodSpec,
            (Ty::Root(B::Pod), "status") => Ty::PodStatus,
            (Ty::Root(B::PodTemplate), "template") => Ty::PodTemplateSpec,
            (Ty::Root(B::Workload), "spec") => Ty::WorkloadSpec,
            (Ty::Root(B::CronJob), "spec") => Ty::CronJobSpec,
            (Ty::Root(B::Service), "spec") => Ty::ServiceSpec,
            (Ty::Root(B::Node), "spec") => Ty::NodeSpec,
            (Ty::Root(B::Node), "status") => Ty::NodeStatus,
            (Ty::Root(B::ServiceAccount), _) => Ty::ServiceAccountRoot,
            (Ty::Root(_), "status") => Ty::ConditionsStatus,
            (Ty::PodTemplateSpec, "metadata") => Ty::ObjectMeta,
            (Ty::PodTemplateSpec, "spec") => Ty::PodSpec,
            (Ty::WorkloadSpec, "template") => Ty::PodTemplateSpec,
            (Ty::CronJobSpec, "jobTemplate") => Ty::JobTemplateSpec,
            (Ty::JobTemplateSpec, "metadata") => Ty::ObjectMeta,
            (Ty::JobTemplateSpec, "spec") => Ty::WorkloadSpec,
            (Ty::PodSpec, "containers" | "initContainers" | "ephemeralContainers") => Ty::Container,
            (Ty::PodSpec, "volumes") => Ty::Volume,
            _ => Ty::Unknown,
        }
    }

    /// How the list in field `name` of an object of this type merges. `items` are the list's
    /// values as seen (live, patch or applied), used by the custom-resource heuristic.
    pub fn list(self, name: &str, items: &[&[serde_json::Value]]) -> ListKind {
        use ListKind::{Atomic, Map, Set};
        match (self, name) {
            (Ty::ObjectMeta, "finalizers") => Set,
            (Ty::ObjectMeta, "ownerReferences") => Map("uid"),
            (Ty::Custom | Ty::CustomRoot, _) => {
                if items.iter().all(|list| keyed_by_name(list))
                    && items.iter().any(|l| !l.is_empty())
                {
                    Map("name")
                } else {
                    Atomic
                }
            }
            (Ty::PodSpec, "containers" | "initContainers" | "ephemeralContainers") => Map("name"),
            (
                Ty::PodSpec,
                "volumes" | "imagePullSecrets" | "schedulingGates" | "resourceClaims",
            ) => Map("name"),
            (Ty::PodSpec, "hostAliases") => Map("ip"),
            (Ty::PodSpec, "topologySpreadConstraints") => Map("topologyKey"),
            (Ty::Container, "ports") => Map("containerPort"),
            (Ty::Container, "env") => Map("name"),
            (Ty::Container, "volumeMounts") => Map("mountPath"),
            (Ty::Container, "volumeDevices") => Map("devicePath"),
            (Ty::PodStatus, "podIPs" | "hostIPs") => Map("ip"),
            (Ty::PodStatus | Ty::NodeStatus | Ty::ConditionsStatus, "conditions") => Map("type"),
            (Ty::NodeStatus, "addresses") => Map("type"),
            (Ty::NodeSpec, "podCIDRs") => Set,
            (Ty::ServiceSpec, "ports") => Map("port"),
            (Ty::ServiceAccountRoot, "secrets") => Map("name"),
            _ => Atomic,
        }
    }

    /// Whether the map in field `name` honours `$retainKeys` in strategic merge patches.
    /// (The directive is honoured wherever it appears; this documents where kubectl sends it.)
    pub fn retains_keys(self, name: &str) -> bool {
        matches!(
            (self, name),
            (Ty::WorkloadSpec, "strategy" | "updateStrategy") | (Ty::PodSpec, "volumes")
        )
    }
}

fn is_builtin_group(group: &str) -> bool {
    group.is_empty() || !group.contains('.') || group.ends_with(".k8s.io")
}

/// Whether every item is an object with a string `name`, all names distinct.
fn keyed_by_name(items: &[serde_json::Value]) -> bool {
    let mut seen = std::collections::HashSet::new();
    items.iter().all(|i| {
        i.get("name")
            .and_then(|n| n.as_str())
            .is_some_and(|n| seen.insert(n))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn built_in_groups_are_recognised() {
        assert_eq!(Ty::root("", "Pod"), Ty::Root(BuiltIn::Pod));
        assert_eq!(Ty::root("apps", "Deployment"), Ty::Root(BuiltIn::Workload));
        assert_eq!(
            Ty::root("coordination.k8s.io", "Lease"),
            Ty::Root(BuiltIn::Other)
        );
        assert_eq!(Ty::root("kubevirt.io", "VirtualMachine"), Ty::CustomRoot);
        assert_eq!(
            Ty::of_object(&json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine"})),
            Ty::CustomRoot
        );
        assert_eq!(
            Ty::of_object(&json!({"apiVersion": "v1", "kind": "Node"})),
            Ty::Root(BuiltIn::Node)
        );
    }

    #[test]
    fn pod_lists_have_their_merge_keys() {
        let pod = Ty::root("", "Pod");
        let spec = pod.field("spec");
        assert_eq!(spec.list("containers", &[]), ListKind::Map("name"));
        assert_eq!(
            spec.field("containers").list("ports", &[]),
            ListKind::Map("containerPort")
        );
        assert_eq!(
            spec.field("containers").list("env", &[]),
            ListKind::Map("name")
        );
        assert_eq!(spec.list("tolerations", &[]), ListKind::Atomic);
        assert_eq!(
            pod.field("status").list("conditions", &[]),
            ListKind::Map("type")
        );
        assert_eq!(pod.field("metadata").list("finalizers", &[]), ListKind::Set);
        let deploy = Ty::root("apps", "Deployment");
        let tmpl = deploy.field("spec").field("template");
        assert_eq!(
            tmpl.field("spec").list("volumes", &[]),
            ListKind::Map("name")
        );
        assert_eq!(
            Ty::root("", "Service").field("spec").list("ports", &[]),
            ListKind::Map("port")
        );
        assert_eq!(
            Ty::root("", "Namespace")
                .field("status")
                .list("conditions", &[]),
            ListKind::Map("type")
        );
        assert_eq!(
            Ty::root("", "ConfigMap").field("data").list("x", &[]),
            ListKind::Atomic
        );
    }

    #[test]
    fn custom_lists_merge_by_name_only_when_every_item_has_a_distinct_name() {
        let ty = Ty::CustomRoot.field("spec");
        let named = [json!({"name": "a"}), json!({"name": "b"})];
        let dup = [json!({"name": "a"}), json!({"name": "a"})];
        let unnamed = [json!({"name": "a"}), json!({"x": 1})];
        assert_eq!(ty.list("disks", &[&named]), ListKind::Map("name"));
        assert_eq!(ty.list("disks", &[&named, &dup]), ListKind::Atomic);
        assert_eq!(ty.list("disks", &[&unnamed]), ListKind::Atomic);
        assert_eq!(ty.list("args", &[&[json!("a")]]), ListKind::Atomic);
        assert_eq!(ty.list("disks", &[&[]]), ListKind::Atomic);
        assert_eq!(
            Ty::CustomRoot.field("metadata").list("finalizers", &[]),
            ListKind::Set
        );
    }
}
