//! VirtualMachineInstanceReplicaSet admission (`vmirs-admitter.go`).

use std::sync::Arc;

use api::VirtualMachineInstanceSpec;
use apiserver::selector::LabelSelector;
use apiserver::{Admission, AdmissionRequest, ApiError, Cause, Operation, ResourceDef};
use serde_json::Value;

use super::config::ClusterConfig;
use super::field::{self, Path};
use super::{decode, deny, stores, string_map, webhook};

/// Validation of ReplicaSets: the template spec, and a selector that matches its labels.
pub struct ReplicaSetAdmission {
    config: Arc<ClusterConfig>,
}

impl ReplicaSetAdmission {
    pub fn new(config: Arc<ClusterConfig>) -> Self {
        ReplicaSetAdmission { config }
    }
}

impl Admission for ReplicaSetAdmission {
    fn handles(&self, resource: &ResourceDef) -> bool {
        stores(resource, "virtualmachineinstancereplicasets")
    }

    fn validate(
        &self,
        req: &AdmissionRequest<'_>,
        object: &Value,
        _old: Option<&Value>,
    ) -> Result<Vec<String>, ApiError> {
        if !matches!(req.operation, Operation::Create | Operation::Update)
            || req.subresource.is_some()
        {
            return Ok(vec![]);
        }
        let causes = validate_replica_set(&self.config, object)?;
        if causes.is_empty() {
            Ok(vec![])
        } else {
            Err(deny(webhook::VMIRS_VALIDATOR, causes))
        }
    }
}

/// `ValidateVMIRSSpec`. The template is validated as written: no defaults are applied.
pub fn validate_replica_set(
    config: &ClusterConfig,
    object: &Value,
) -> Result<Vec<Cause>, ApiError> {
    let root = Path::new("spec");
    if object.pointer("/spec/template").is_none_or(Value::is_null) {
        return Ok(vec![field::required(
            root.child("template"),
            "missing virtual machine template.",
        )]);
    }
    let spec: VirtualMachineInstanceSpec =
        decode(webhook::VMIRS_VALIDATOR, object, "/spec/template/spec")?;
    let mut causes =
        super::spec::validate_spec(&root.children(&["template", "spec"]), &spec, config);
    let selector = object
        .pointer("/spec/selector")
        .cloned()
        .unwrap_or(Value::Null);
    match LabelSelector::from_json(&selector) {
        Err(e) => causes.push(field::invalid(root.child("selector"), e.to_string())),
        Ok(sel) => {
            let labels = string_map(object, "/spec/template/metadata/labels");
            if !sel.matches_labels(&labels) {
                causes.push(field::invalid(
                    root.child("selector"),
                    "selector does not match labels.",
                ));
            }
        }
    }
    Ok(causes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rs(selector: Value, labels: Value, disks: Value) -> Value {
        json!({"spec": {"selector": selector, "template": {
            "metadata": {"labels": labels},
            "spec": {"domain": {"devices": {"disks": disks}, "resources": {"requests": {"memory": "64Mi"}}},
                     "volumes": [{"name": "root", "containerDisk": {"image": "i"}}]}}}})
    }

    fn causes(obj: &Value) -> Vec<Cause> {
        validate_replica_set(&ClusterConfig::default(), obj).unwrap()
    }

    #[test]
    fn a_selector_matching_the_template_labels_is_accepted() {
        let obj = rs(
            json!({"matchLabels": {"app": "x"}}),
            json!({"app": "x", "more": "y"}),
            json!([{"name": "root"}]),
        );
        assert!(causes(&obj).is_empty());
        let expr =
            json!({"matchExpressions": [{"key": "app", "operator": "In", "values": ["x", "z"]}]});
        assert!(causes(&rs(expr, json!({"app": "x"}), json!([]))).is_empty());
    }

    #[test]
    fn a_selector_not_matching_the_labels_is_rejected() {
        let c = causes(&rs(
            json!({"matchLabels": {"app": "x"}}),
            json!({"app": "y"}),
            json!([]),
        ));
        assert_eq!(c.len(), 1);
        assert_eq!(
            (c[0].field.as_str(), c[0].message.as_str()),
            ("spec.selector", "selector does not match labels.")
        );
    }

    #[test]
    fn a_malformed_selector_is_rejected_on_the_selector() {
        let sel =
            json!({"matchExpressions": [{"key": "app", "operator": "Near", "values": ["x"]}]});
        let c = causes(&rs(sel, json!({"app": "x"}), json!([])));
        assert_eq!(c[0].field, "spec.selector");
    }

    #[test]
    fn template_disks_without_volumes_are_reported_under_the_template() {
        let c = causes(&rs(
            json!({"matchLabels": {"app": "x"}}),
            json!({"app": "x"}),
            json!([{"name": "nope"}]),
        ));
        assert_eq!(
            c[0].field,
            "spec.template.spec.domain.devices.disks[0].name"
        );
    }

    #[test]
    fn a_missing_template_is_required() {
        let c = causes(&json!({"spec": {"selector": {}}}));
        assert_eq!(
            (c[0].field.as_str(), c[0].message.as_str()),
            ("spec.template", "missing virtual machine template.")
        );
    }
}
