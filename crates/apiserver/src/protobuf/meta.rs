//! `k8s.io/apimachinery/pkg/apis/meta/v1` messages shared by every kind, and `DeleteOptions`.

use super::schema::{Field as F, Kind as K, Message};

pub static OBJECT_META: Message = Message {
    name: "ObjectMeta",
    fields: &[
        F::new(1, "name", K::String),
        F::new(2, "generateName", K::String),
        F::new(3, "namespace", K::String),
        F::new(4, "selfLink", K::String),
        F::new(5, "uid", K::String),
        F::new(6, "resourceVersion", K::String),
        F::new(7, "generation", K::Int64),
        F::new(8, "creationTimestamp", K::Time),
        F::new(9, "deletionTimestamp", K::Time),
        F::new(10, "deletionGracePeriodSeconds", K::Int64).optional(),
        F::new(11, "labels", K::Map(&K::String)),
        F::new(12, "annotations", K::Map(&K::String)),
        F::new(13, "ownerReferences", K::Message(&OWNER_REFERENCE)).repeated(),
        F::new(14, "finalizers", K::String).repeated(),
        F::new(17, "managedFields", K::Message(&MANAGED_FIELDS_ENTRY)).repeated(),
    ],
};

pub static OWNER_REFERENCE: Message = Message {
    name: "OwnerReference",
    fields: &[
        F::new(5, "apiVersion", K::String).always(),
        F::new(1, "kind", K::String).always(),
        F::new(3, "name", K::String).always(),
        F::new(4, "uid", K::String).always(),
        F::new(6, "controller", K::Bool).optional(),
        F::new(7, "blockOwnerDeletion", K::Bool).optional(),
    ],
};

pub static MANAGED_FIELDS_ENTRY: Message = Message {
    name: "ManagedFieldsEntry",
    fields: &[
        F::new(1, "manager", K::String),
        F::new(2, "operation", K::String),
        F::new(3, "apiVersion", K::String),
        F::new(4, "time", K::Time),
        F::new(6, "fieldsType", K::String),
        F::new(7, "fieldsV1", K::RawJson),
        F::new(8, "subresource", K::String),
    ],
};

pub static LABEL_SELECTOR: Message = Message {
    name: "LabelSelector",
    fields: &[
        F::new(1, "matchLabels", K::Map(&K::String)),
        F::new(
            2,
            "matchExpressions",
            K::Message(&LABEL_SELECTOR_REQUIREMENT),
        )
        .repeated(),
    ],
};

pub static LABEL_SELECTOR_REQUIREMENT: Message = Message {
    name: "LabelSelectorRequirement",
    fields: &[
        F::new(1, "key", K::String).always(),
        F::new(2, "operator", K::String).always(),
        F::new(3, "values", K::String).repeated(),
    ],
};

/// `metav1.Condition`, as used in `status.conditions` of newer kinds.
pub static CONDITION: Message = Message {
    name: "Condition",
    fields: &[
        F::new(1, "type", K::String).always(),
        F::new(2, "status", K::String).always(),
        F::new(3, "observedGeneration", K::Int64),
        F::new(4, "lastTransitionTime", K::Time),
        F::new(5, "reason", K::String).always(),
        F::new(6, "message", K::String).always(),
    ],
};

/// The body of a DELETE from a typed client (`kubectl drain` sends one).
pub static DELETE_OPTIONS: Message = Message {
    name: "DeleteOptions",
    fields: &[
        F::new(1, "gracePeriodSeconds", K::Int64).optional(),
        F::new(2, "preconditions", K::Message(&PRECONDITIONS)),
        F::new(3, "orphanDependents", K::Bool).optional(),
        F::new(4, "propagationPolicy", K::String).optional(),
        F::new(5, "dryRun", K::String).repeated(),
        F::new(
            6,
            "ignoreStoreReadErrorWithClusterBreakingPotential",
            K::Bool,
        )
        .optional(),
    ],
};

pub static PRECONDITIONS: Message = Message {
    name: "Preconditions",
    fields: &[
        F::new(1, "uid", K::String).optional(),
        F::new(2, "resourceVersion", K::String).optional(),
    ],
};

#[cfg(test)]
mod tests {
    use super::super::schema::decode_message;
    use super::super::testenc::{Enc, new_meta, time};
    use super::*;
    use serde_json::{Value, json};

    fn decode(m: &Message, e: Enc) -> Value {
        Value::Object(decode_message(m, &e.build()).expect("decodes"))
    }

    #[test]
    fn a_new_objects_metadata_keeps_only_what_was_set() {
        assert_eq!(
            decode(&OBJECT_META, new_meta("x", "")),
            json!({"name": "x"})
        );
        assert_eq!(
            decode(&OBJECT_META, new_meta("", "ns").string(2, "web-")),
            json!({"generateName": "web-", "namespace": "ns"})
        );
    }

    #[test]
    fn every_metadata_field_decodes() {
        let owner = Enc::new()
            .string(1, "ReplicaSet")
            .string(3, "rs1")
            .string(4, "u-rs")
            .string(5, "apps/v1")
            .int(6, 1)
            .int(7, 0);
        let managed = Enc::new()
            .string(1, "kubectl")
            .string(2, "Apply")
            .string(3, "v1")
            .msg(4, time(1_700_000_000, 0))
            .string(6, "FieldsV1")
            .msg(7, Enc::new().bytes(1, br#"{"f:metadata":{}}"#));
        let e = new_meta("p", "default")
            .string(5, "u-1")
            .string(6, "42")
            .int(7, 3)
            .msg(8, time(1_700_000_000, 0))
            .msg(9, time(1_700_000_060, 0))
            .int(10, 30)
            .entry(11, "app", "web")
            .entry(12, "note", "hi")
            .msg(13, owner)
            .string(14, "kubernetes.io/pvc-protection")
            .msg(17, managed);
        assert_eq!(
            decode(&OBJECT_META, e),
            json!({
                "name": "p", "namespace": "default", "uid": "u-1", "resourceVersion": "42", "generation": 3,
                "creationTimestamp": "2023-11-14T22:13:20Z", "deletionTimestamp": "2023-11-14T22:14:20Z",
                "deletionGracePeriodSeconds": 30, "labels": {"app": "web"}, "annotations": {"note": "hi"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs1", "uid": "u-rs",
                    "controller": true, "blockOwnerDeletion": false}],
                "finalizers": ["kubernetes.io/pvc-protection"],
                "managedFields": [{"manager": "kubectl", "operation": "Apply", "apiVersion": "v1",
                    "time": "2023-11-14T22:13:20Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {}}}]
            })
        );
    }

    #[test]
    fn label_selectors_keep_required_keys() {
        let e = Enc::new().entry(1, "app", "web").msg(
            2,
            Enc::new()
                .string(1, "tier")
                .string(2, "In")
                .string(3, "a")
                .string(3, "b"),
        );
        assert_eq!(
            decode(&LABEL_SELECTOR, e),
            json!({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]})
        );
    }

    #[test]
    fn conditions_write_their_required_fields_even_when_empty() {
        let e = Enc::new()
            .string(1, "Ready")
            .string(2, "True")
            .msg(4, time(0, 0));
        assert_eq!(
            decode(&CONDITION, e),
            json!({"type": "Ready", "status": "True", "lastTransitionTime": "1970-01-01T00:00:00Z", "reason": "", "message": ""})
        );
    }

    #[test]
    fn delete_options_keep_explicit_zero_grace_periods() {
        let e = Enc::new()
            .int(1, 0)
            .msg(2, Enc::new().string(1, "u-1").string(2, "7"))
            .string(4, "Foreground")
            .string(5, "All");
        assert_eq!(
            decode(&DELETE_OPTIONS, e),
            json!({"gracePeriodSeconds": 0, "preconditions": {"uid": "u-1", "resourceVersion": "7"},
                "propagationPolicy": "Foreground", "dryRun": ["All"]})
        );
    }
}
