//! Kinds of named API groups: `scheduling.k8s.io/v1` PriorityClass, `coordination.k8s.io/v1`
//! Lease, `apps/v1` ControllerRevision and `policy/v1` Eviction.

use super::meta::{DELETE_OPTIONS, OBJECT_META};
use super::schema::{Field as F, Kind as K, Message};

pub static PRIORITY_CLASS: Message = Message {
    name: "PriorityClass",
    fields: &[
        F::new(1, "metadata", K::Message(&OBJECT_META)),
        F::new(2, "value", K::Int32).always(),
        F::new(3, "globalDefault", K::Bool),
        F::new(4, "description", K::String),
        F::new(5, "preemptionPolicy", K::String).optional(),
    ],
};

pub static LEASE: Message = Message {
    name: "Lease",
    fields: &[
        F::new(1, "metadata", K::Message(&OBJECT_META)),
        F::new(2, "spec", K::Message(&LEASE_SPEC)),
    ],
};

static LEASE_SPEC: Message = Message {
    name: "LeaseSpec",
    fields: &[
        F::new(1, "holderIdentity", K::String).optional(),
        F::new(2, "leaseDurationSeconds", K::Int32).optional(),
        F::new(3, "acquireTime", K::MicroTime),
        F::new(4, "renewTime", K::MicroTime),
        F::new(5, "leaseTransitions", K::Int32).optional(),
        F::new(6, "strategy", K::String).optional(),
        F::new(7, "preferredHolder", K::String).optional(),
    ],
};

pub static CONTROLLER_REVISION: Message = Message {
    name: "ControllerRevision",
    fields: &[
        F::new(1, "metadata", K::Message(&OBJECT_META)),
        F::new(2, "data", K::RawJson),
        F::new(3, "revision", K::Int64).always(),
    ],
};

pub static EVICTION: Message = Message {
    name: "Eviction",
    fields: &[
        F::new(1, "metadata", K::Message(&OBJECT_META)),
        F::new(2, "deleteOptions", K::Message(&DELETE_OPTIONS)),
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
    fn a_negative_priority_value_and_default_flag_decode() {
        let e = Enc::new()
            .msg(1, new_meta("low", ""))
            .int(2, -5)
            .int(3, 1)
            .string(4, "")
            .string(5, "Never");
        assert_eq!(
            decode(&PRIORITY_CLASS, e),
            json!({"metadata": {"name": "low"}, "value": -5, "globalDefault": true, "preemptionPolicy": "Never"})
        );
    }

    #[test]
    fn a_priority_value_of_zero_is_still_written() {
        let e = Enc::new().msg(1, new_meta("zero", "")).int(3, 0);
        assert_eq!(
            decode(&PRIORITY_CLASS, e),
            json!({"metadata": {"name": "zero"}, "value": 0})
        );
    }

    #[test]
    fn lease_times_have_microseconds() {
        let spec = Enc::new()
            .string(1, "virt-controller-1")
            .int(2, 15)
            .msg(4, time(1_700_000_000, 250_000_000))
            .int(5, 0);
        let e = Enc::new()
            .msg(1, new_meta("virt-controller", "kubevirt"))
            .msg(2, spec);
        assert_eq!(
            decode(&LEASE, e),
            json!({"metadata": {"name": "virt-controller", "namespace": "kubevirt"},
                "spec": {"holderIdentity": "virt-controller-1", "leaseDurationSeconds": 15,
                    "renewTime": "2023-11-14T22:13:20.250000Z", "leaseTransitions": 0}})
        );
    }

    #[test]
    fn controller_revision_data_is_embedded_json() {
        let e = Enc::new()
            .msg(1, new_meta("vm1-abc", "default"))
            .msg(2, Enc::new().bytes(1, br#"{"spec":{"template":{}}}"#))
            .int(3, 2);
        assert_eq!(
            decode(&CONTROLLER_REVISION, e),
            json!({"metadata": {"name": "vm1-abc", "namespace": "default"}, "data": {"spec": {"template": {}}}, "revision": 2})
        );
    }

    #[test]
    fn evictions_carry_delete_options() {
        let e = Enc::new()
            .msg(1, new_meta("p1", "default"))
            .msg(2, Enc::new().int(1, 5));
        assert_eq!(
            decode(&EVICTION, e),
            json!({"metadata": {"name": "p1", "namespace": "default"}, "deleteOptions": {"gracePeriodSeconds": 5}})
        );
    }
}
