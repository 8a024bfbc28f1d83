//! OpenAPI v2 (JSON and protobuf) and v3 documents built from the registered schemas.

use serde_json::{Value, json};

use crate::registry::Registry;

/// The content type of the protobuf OpenAPI v2 document.
pub const V2_PROTOBUF_CONTENT_TYPE: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

pub fn v2_json(_reg: &Registry) -> Value {
    json!({"swagger": "2.0", "info": {"title": "Kubernetes", "version": "v1.33.0"}, "paths": {}, "definitions": {}})
}

pub fn v2_protobuf(_reg: &Registry) -> Vec<u8> {
    Vec::new()
}

pub fn v3_index(_reg: &Registry) -> Value {
    json!({"paths": {}})
}

pub fn v3_group_version(_reg: &Registry, _group: &str, _version: &str) -> Option<Value> {
    None
}
