//! Events: `core/v1` Event and its `events.k8s.io/v1` view.

use super::core_v1::OBJECT_REFERENCE;
use super::meta::OBJECT_META;
use super::schema::{Field as F, Kind as K, Message};

pub static CORE_EVENT: Message = Message {
    name: "Event",
    fields: &[
        F::new(1, "metadata", K::Message(&OBJECT_META)),
        F::new(2, "involvedObject", K::Message(&OBJECT_REFERENCE)),
        F::new(3, "reason", K::String),
        F::new(4, "message", K::String),
        F::new(5, "source", K::Message(&EVENT_SOURCE)),
        F::new(6, "firstTimestamp", K::Time),
        F::new(7, "lastTimestamp", K::Time),
        F::new(8, "count", K::Int32),
        F::new(9, "type", K::String),
        F::new(10, "eventTime", K::MicroTime),
        F::new(11, "series", K::Message(&CORE_EVENT_SERIES)),
        F::new(12, "action", K::String),
        F::new(13, "related", K::Message(&OBJECT_REFERENCE)),
        F::new(14, "reportingComponent", K::String).always(),
        F::new(15, "reportingInstance", K::String).always(),
    ],
};

static EVENT_SOURCE: Message = Message {
    name: "EventSource",
    fields: &[
        F::new(1, "component", K::String),
        F::new(2, "host", K::String),
    ],
};

static CORE_EVENT_SERIES: Message = Message {
    name: "EventSeries",
    fields: &[
        F::new(1, "count", K::Int32),
        F::new(2, "lastObservedTime", K::MicroTime),
    ],
};

pub static EVENTS_V1_EVENT: Message = Message {
    name: "Event",
    fields: &[
        F::new(1, "metadata", K::Message(&OBJECT_META)),
        F::new(2, "eventTime", K::MicroTime),
        F::new(3, "series", K::Message(&EVENTS_V1_SERIES)),
        F::new(4, "reportingController", K::String),
        F::new(5, "reportingInstance", K::String),
        F::new(6, "action", K::String),
        F::new(7, "reason", K::String),
        F::new(8, "regarding", K::Message(&OBJECT_REFERENCE)),
        F::new(9, "related", K::Message(&OBJECT_REFERENCE)),
        F::new(10, "note", K::String),
        F::new(11, "type", K::String),
        F::new(12, "deprecatedSource", K::Message(&EVENT_SOURCE)),
        F::new(13, "deprecatedFirstTimestamp", K::Time),
        F::new(14, "deprecatedLastTimestamp", K::Time),
        F::new(15, "deprecatedCount", K::Int32),
    ],
};

static EVENTS_V1_SERIES: Message = Message {
    name: "EventSeries",
    fields: &[
        F::new(1, "count", K::Int32).always(),
        F::new(2, "lastObservedTime", K::MicroTime),
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
    fn every_core_event_field_decodes() {
        let e = Enc::new()
            .msg(1, new_meta("vm1.17a", "default"))
            .msg(
                2,
                Enc::new()
                    .string(1, "VirtualMachine")
                    .string(2, "default")
                    .string(3, "vm1")
                    .string(4, "u-1")
                    .string(5, "kubevirt.io/v1"),
            )
            .string(3, "SuccessfulCreate")
            .string(4, "Started the virtual machine")
            .msg(5, Enc::new().string(1, "virt-handler").string(2, "n1"))
            .msg(6, time(1_700_000_000, 0))
            .msg(7, time(1_700_000_100, 0))
            .int(8, 2)
            .string(9, "Normal")
            .msg(10, time(1_700_000_000, 1_500))
            .msg(11, Enc::new().int(1, 2).msg(2, time(1_700_000_100, 0)))
            .string(12, "Start")
            .msg(
                13,
                Enc::new().string(1, "Pod").string(3, "virt-launcher-vm1"),
            )
            .string(14, "")
            .string(15, "");
        assert_eq!(
            decode(&CORE_EVENT, e),
            json!({
                "metadata": {"name": "vm1.17a", "namespace": "default"},
                "involvedObject": {"kind": "VirtualMachine", "namespace": "default", "name": "vm1", "uid": "u-1",
                    "apiVersion": "kubevirt.io/v1"},
                "reason": "SuccessfulCreate", "message": "Started the virtual machine",
                "source": {"component": "virt-handler", "host": "n1"},
                "firstTimestamp": "2023-11-14T22:13:20Z", "lastTimestamp": "2023-11-14T22:15:00Z", "count": 2,
                "type": "Normal", "eventTime": "2023-11-14T22:13:20.000001Z",
                "series": {"count": 2, "lastObservedTime": "2023-11-14T22:15:00.000000Z"},
                "action": "Start", "related": {"kind": "Pod", "name": "virt-launcher-vm1"},
                "reportingComponent": "", "reportingInstance": ""
            })
        );
    }

    #[test]
    fn an_events_v1_event_decodes_with_its_own_names() {
        let e = Enc::new()
            .msg(1, new_meta("e1", "default"))
            .msg(2, time(1_700_000_000, 0))
            .string(4, "kubevirt.io/virt-controller")
            .string(5, "virt-controller-1")
            .string(6, "Create")
            .string(7, "SuccessfulCreate")
            .msg(
                8,
                Enc::new()
                    .string(1, "VirtualMachineInstance")
                    .string(3, "vmi1"),
            )
            .string(10, "created pod")
            .string(11, "Normal")
            .msg(12, Enc::new())
            .msg(13, Enc::new())
            .int(15, 0);
        assert_eq!(
            decode(&EVENTS_V1_EVENT, e),
            json!({
                "metadata": {"name": "e1", "namespace": "default"},
                "eventTime": "2023-11-14T22:13:20.000000Z",
                "reportingController": "kubevirt.io/virt-controller", "reportingInstance": "virt-controller-1",
                "action": "Create", "reason": "SuccessfulCreate",
                "regarding": {"kind": "VirtualMachineInstance", "name": "vmi1"},
                "note": "created pod", "type": "Normal", "deprecatedSource": {}
            })
        );
    }
}
