//! Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`), which kubectl
//! sends for built-in kinds it builds itself (`kubectl create namespace|configmap|secret|...`)
//! and for the `DeleteOptions` of `kubectl drain`. Decoded into the same JSON the client would
//! have sent; responses are always JSON, which every client that offers protobuf also accepts.
//!
//! The body is the magic `k8s\0` followed by a `runtime.Unknown` message whose `typeMeta`
//! names the kind and whose `raw` field holds the typed object. Field numbers and JSON names
//! come from the `generated.proto` and Go types of `k8s.io/api` and `k8s.io/apimachinery`;
//! [`schema`] describes the tables and how Go's JSON encoder would write each field.

mod apis;
mod core_v1;
mod events;
mod meta;
mod node;
mod pod;
mod schema;
#[cfg(test)]
mod testenc;
mod wire;

use serde_json::{Map, Value};

use schema::Message;
use wire::WireValue;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtobufError {
    #[error("the body is not a Kubernetes protobuf envelope")]
    NotEnvelope,
    #[error("protobuf decoding of {0} is not supported; send JSON or YAML instead")]
    UnsupportedKind(String),
    #[error("malformed protobuf: {0}")]
    Malformed(String),
}

/// The magic prefix of every Kubernetes protobuf body.
const MAGIC: &[u8] = b"k8s\0";

/// The kinds this module decodes, by `apiVersion` and `kind`.
static KINDS: &[(&str, &str, &Message)] = &[
    ("v1", "Namespace", &core_v1::NAMESPACE),
    ("v1", "ConfigMap", &core_v1::CONFIG_MAP),
    ("v1", "Secret", &core_v1::SECRET),
    ("v1", "ServiceAccount", &core_v1::SERVICE_ACCOUNT),
    ("v1", "Service", &core_v1::SERVICE),
    ("v1", "Endpoints", &core_v1::ENDPOINTS),
    (
        "v1",
        "PersistentVolumeClaim",
        &core_v1::PERSISTENT_VOLUME_CLAIM,
    ),
    ("v1", "Pod", &pod::POD),
    ("v1", "Node", &node::NODE),
    ("v1", "Event", &events::CORE_EVENT),
    ("events.k8s.io/v1", "Event", &events::EVENTS_V1_EVENT),
    (
        "scheduling.k8s.io/v1",
        "PriorityClass",
        &apis::PRIORITY_CLASS,
    ),
    ("coordination.k8s.io/v1", "Lease", &apis::LEASE),
    ("apps/v1", "ControllerRevision", &apis::CONTROLLER_REVISION),
    ("policy/v1", "Eviction", &apis::EVICTION),
];

fn message_for(api_version: &str, kind: &str) -> Option<&'static Message> {
    // Clients tag DeleteOptions with the group version of the resource they delete.
    if kind == "DeleteOptions" {
        return Some(&meta::DELETE_OPTIONS);
    }
    KINDS
        .iter()
        .find(|(v, k, _)| *v == api_version && *k == kind)
        .map(|(_, _, m)| *m)
}

/// The parts of a `runtime.Unknown` envelope that matter here.
#[derive(Debug, Default)]
struct Envelope<'a> {
    api_version: String,
    kind: String,
    raw: &'a [u8],
    content_encoding: String,
}

fn envelope(buf: &[u8]) -> Result<Envelope<'_>, ProtobufError> {
    let bad = |e: wire::WireError| ProtobufError::Malformed(format!("runtime.Unknown: {e}"));
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let mut out = Envelope::default();
    for item in wire::fields(buf) {
        match item.map_err(bad)? {
            (1, WireValue::Bytes(type_meta)) => {
                for item in wire::fields(type_meta) {
                    match item.map_err(bad)? {
                        (1, WireValue::Bytes(b)) => out.api_version = text(b),
                        (2, WireValue::Bytes(b)) => out.kind = text(b),
                        _ => {}
                    }
                }
            }
            (2, WireValue::Bytes(raw)) => out.raw = raw,
            (3, WireValue::Bytes(b)) => out.content_encoding = text(b),
            _ => {}
        }
    }
    Ok(out)
}

/// Decodes a `k8s\0`-prefixed `runtime.Unknown` envelope into the object's JSON form
/// (with `apiVersion` and `kind`).
///
/// The JSON is what the Go client would have sent as JSON for the same object, with `null`s
/// (zero times, unset raw extensions) left out. Unknown field numbers are skipped; a kind
/// without a table is [`ProtobufError::UnsupportedKind`].
pub fn decode(body: &[u8]) -> Result<Value, ProtobufError> {
    let buf = body.strip_prefix(MAGIC).ok_or(ProtobufError::NotEnvelope)?;
    let env = envelope(buf)?;
    if env.kind.is_empty() {
        return Err(ProtobufError::Malformed(
            "runtime.Unknown: the envelope names no kind".into(),
        ));
    }
    if !env.content_encoding.is_empty() {
        return Err(ProtobufError::Malformed(format!(
            "runtime.Unknown: content encoding {:?} is not supported",
            env.content_encoding
        )));
    }
    let message = message_for(&env.api_version, &env.kind).ok_or_else(|| {
        ProtobufError::UnsupportedKind(format!("{} {}", env.api_version, env.kind))
    })?;
    let mut out = Map::new();
    out.insert("apiVersion".into(), Value::String(env.api_version));
    out.insert("kind".into(), Value::String(env.kind));
    out.extend(schema::decode_message(message, env.raw)?);
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::testenc::{Enc, envelope as wrap, new_meta};
    use super::*;
    use serde_json::json;

    /// A request body kubectl v1.32 sent, and the JSON `--dry-run=client -o json` printed
    /// for the same command.
    fn fixture(name: &str) -> (Vec<u8>, Value) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/protobuf");
        let body = std::fs::read(dir.join(format!("{name}.bin"))).expect("fixture body");
        let json = std::fs::read(dir.join(format!("{name}.json")))
            .map(|b| serde_json::from_slice(&b).expect("fixture json"));
        (body, json.unwrap_or(Value::Null))
    }

    /// Go writes zero times as `null`; the decoder leaves them out.
    fn without_nulls(v: Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.into_iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| (k, without_nulls(v)))
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.into_iter().map(without_nulls).collect()),
            other => other,
        }
    }

    #[test]
    fn kubectl_create_bodies_decode_to_the_json_kubectl_would_send() {
        for name in [
            "namespace",
            "configmap",
            "secret-generic",
            "secret-docker-registry",
            "serviceaccount",
            "service-clusterip",
            "service-nodeport",
            "service-loadbalancer",
            "service-externalname",
            "service-headless",
            "priorityclass",
            "priorityclass-global-default",
        ] {
            let (body, expected) = fixture(name);
            assert!(expected.is_object(), "{name}: expected JSON missing");
            let got = decode(&body).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(got, without_nulls(expected), "{name}");
        }
    }

    #[test]
    fn kubectl_drain_delete_options_decode() {
        let (body, _) = fixture("deleteoptions-grace");
        assert_eq!(
            decode(&body).unwrap(),
            json!({"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 7})
        );
    }

    #[test]
    fn kinds_without_a_table_are_unsupported() {
        let (deployment, _) = fixture("deployment");
        assert_eq!(
            decode(&deployment),
            Err(ProtobufError::UnsupportedKind("apps/v1 Deployment".into()))
        );
        let (review, _) = fixture("selfsubjectaccessreview");
        assert!(
            matches!(decode(&review), Err(ProtobufError::UnsupportedKind(k)) if k.contains("SelfSubjectAccessReview"))
        );
    }

    #[test]
    fn a_known_kind_in_another_group_version_is_unsupported() {
        let body = wrap(
            "scheduling.k8s.io/v1beta1",
            "PriorityClass",
            Enc::new().int(2, 1),
        );
        assert!(matches!(
            decode(&body),
            Err(ProtobufError::UnsupportedKind(_))
        ));
    }

    #[test]
    fn delete_options_are_accepted_under_any_group_version() {
        let body = wrap("apps/v1", "DeleteOptions", Enc::new().string(4, "Orphan"));
        assert_eq!(
            decode(&body).unwrap(),
            json!({"apiVersion": "apps/v1", "kind": "DeleteOptions", "propagationPolicy": "Orphan"})
        );
    }

    #[test]
    fn bodies_without_the_magic_are_not_envelopes() {
        assert_eq!(
            decode(b"{\"kind\":\"Namespace\"}"),
            Err(ProtobufError::NotEnvelope)
        );
        assert_eq!(decode(b""), Err(ProtobufError::NotEnvelope));
    }

    #[test]
    fn an_envelope_without_a_kind_is_malformed() {
        assert!(matches!(decode(b"k8s\0"), Err(ProtobufError::Malformed(_))));
    }

    #[test]
    fn compressed_content_is_malformed() {
        let mut body = wrap("v1", "Namespace", Enc::new());
        body.extend(Enc::new().string(3, "gzip").build());
        assert!(matches!(decode(&body), Err(ProtobufError::Malformed(m)) if m.contains("gzip")));
    }

    #[test]
    fn a_truncated_object_is_malformed() {
        let mut body = wrap("v1", "Namespace", Enc::new().msg(1, new_meta("x", "")));
        body.truncate(body.len() - 3);
        assert!(matches!(decode(&body), Err(ProtobufError::Malformed(_))));
    }

    #[test]
    fn a_hand_built_config_map_round_trips_through_the_envelope() {
        let raw = Enc::new()
            .msg(1, new_meta("c", "ns").entry(11, "app", "x"))
            .entry(2, "k", "v")
            .int(4, 1);
        let got = decode(&wrap("v1", "ConfigMap", raw)).unwrap();
        assert_eq!(
            got,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "ns", "labels": {"app": "x"}},
                "immutable": true, "data": {"k": "v"}})
        );
    }
}
