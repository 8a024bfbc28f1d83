//! The OpenAPI v2 document, in JSON and as a gnostic `openapi_v2.Document` protobuf. It lists
//! no definitions and no paths (see the documentation of [`super`] for why).

use serde_json::{Value, json};

use super::{INFO_VERSION, TITLE};
use crate::registry::Registry;

/// `GET /openapi/v2` with a JSON Accept: a Swagger 2.0 document without definitions.
pub fn v2_json(_reg: &Registry) -> Value {
    json!({
        "swagger": "2.0",
        "info": {"title": TITLE, "version": INFO_VERSION},
        "paths": {},
        "definitions": {},
    })
}

/// `GET /openapi/v2` with a protobuf Accept: the same document as a gnostic
/// `openapi_v2.Document` (`swagger` = 1, `info` = 2 with `title` = 1 and `version` = 2).
/// Serve it with [`super::V2_PROTOBUF_CONTENT_TYPE`].
pub fn v2_protobuf(_reg: &Registry) -> Vec<u8> {
    let mut info = Vec::new();
    put_string(&mut info, 1, TITLE);
    put_string(&mut info, 2, INFO_VERSION);
    let mut doc = Vec::new();
    put_string(&mut doc, 1, "2.0");
    put_bytes(&mut doc, 2, &info);
    doc
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A length-delimited field (wire type 2).
fn put_bytes(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_varint(out, (u64::from(field) << 3) | 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn put_string(out: &mut Vec<u8>, field: u32, s: &str) {
    put_bytes(out, field, s.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes the length-delimited fields of one message.
    fn fields(mut buf: &[u8]) -> Vec<(u64, Vec<u8>)> {
        let varint = |buf: &mut &[u8]| {
            let (mut v, mut shift) = (0u64, 0);
            loop {
                let b = buf[0];
                *buf = &buf[1..];
                v |= u64::from(b & 0x7f) << shift;
                shift += 7;
                if b < 0x80 {
                    return v;
                }
            }
        };
        let mut out = Vec::new();
        while !buf.is_empty() {
            let key = varint(&mut buf);
            assert_eq!(key & 7, 2, "only length-delimited fields are written");
            let len = varint(&mut buf) as usize;
            out.push((key >> 3, buf[..len].to_vec()));
            buf = &buf[len..];
        }
        out
    }

    #[test]
    fn protobuf_document_holds_swagger_and_info() {
        let doc = v2_protobuf(&Registry::new());
        let top = fields(&doc);
        assert_eq!(top[0], (1, b"2.0".to_vec()));
        assert_eq!(top[1].0, 2);
        let info = fields(&top[1].1);
        assert_eq!(
            info,
            vec![
                (1, TITLE.as_bytes().to_vec()),
                (2, INFO_VERSION.as_bytes().to_vec())
            ]
        );
    }

    #[test]
    fn varints_use_continuation_bits() {
        let mut out = Vec::new();
        put_varint(&mut out, 300);
        assert_eq!(out, vec![0xac, 0x02]);
    }

    #[test]
    fn json_document_is_swagger_2_without_definitions() {
        let doc = v2_json(&Registry::new());
        assert_eq!(doc["swagger"], json!("2.0"));
        assert_eq!(doc["info"]["title"], json!(TITLE));
        assert_eq!(doc["definitions"], json!({}));
        assert_eq!(doc["paths"], json!({}));
    }

    #[test]
    fn protobuf_content_type_is_dotted() {
        assert_eq!(
            super::super::V2_PROTOBUF_CONTENT_TYPE,
            "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
        );
    }
}
