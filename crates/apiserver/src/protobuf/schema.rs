//! Message tables and the interpreter that turns an encoded message into the JSON a Go client
//! would have sent for the same object.
//!
//! Each [`Message`] lists its fields with their protobuf number, their Go JSON name and how Go's
//! `encoding/json` writes them ([`Rule`]). Tables are acyclic, so decoding depth is bounded by
//! the tables, not by the input.

use base64::Engine as _;
use serde_json::{Map, Value};

use super::ProtobufError;
use super::wire::{self, WireValue};

/// What a field holds and how it maps to JSON.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    String,
    /// `[]byte`: base64 in JSON.
    Bytes,
    Int32,
    Int64,
    Bool,
    /// `metav1.Time` (`{1: seconds, 2: nanos}`): RFC 3339 in UTC with whole seconds. An empty
    /// message is the zero time, which is left out.
    Time,
    /// `metav1.MicroTime`: RFC 3339 in UTC with six fractional digits.
    MicroTime,
    /// `intstr.IntOrString` (`{1: type, 2: intVal, 3: strVal}`): a JSON number or string.
    IntOrString,
    /// `resource.Quantity` (`{1: string}`): its canonical string.
    Quantity,
    /// `runtime.RawExtension` or `metav1.FieldsV1` (`{1: raw}`) holding JSON: the parsed JSON.
    RawJson,
    Message(&'static Message),
    /// A Go struct embedded without a JSON name: a nested message on the wire whose fields
    /// join the parent object in JSON.
    Inline(&'static Message),
    /// `map<string, V>`, encoded as repeated `{1: key, 2: value}` entries.
    Map(&'static Kind),
}

impl Kind {
    /// Kinds carried as a nested message, whose occurrences merge as protobuf specifies.
    fn is_embedded(self) -> bool {
        matches!(
            self,
            Kind::Time
                | Kind::MicroTime
                | Kind::IntOrString
                | Kind::Quantity
                | Kind::RawJson
                | Kind::Message(_)
                | Kind::Inline(_)
        )
    }
}

/// How Go writes a field to JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// A value field tagged `omitempty`: left out when zero. Nested messages are written
    /// whenever present, as Go never omits a struct.
    OmitEmpty,
    /// A value field without `omitempty`: always written, with the zero value if absent.
    Always,
    /// A pointer field: written exactly when present on the wire, even if zero.
    Optional,
    /// A slice: written when it has elements.
    Repeated,
}

/// One field of a message table.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub number: u32,
    pub name: &'static str,
    pub kind: Kind,
    pub rule: Rule,
}

impl Field {
    /// A field with [`Rule::OmitEmpty`], the common case.
    pub const fn new(number: u32, name: &'static str, kind: Kind) -> Field {
        Field {
            number,
            name,
            kind,
            rule: Rule::OmitEmpty,
        }
    }

    pub const fn always(self) -> Field {
        Field {
            rule: Rule::Always,
            ..self
        }
    }

    pub const fn optional(self) -> Field {
        Field {
            rule: Rule::Optional,
            ..self
        }
    }

    pub const fn repeated(self) -> Field {
        Field {
            rule: Rule::Repeated,
            ..self
        }
    }
}

/// A message table: its Go type name (for error messages) and its fields in JSON order.
#[derive(Debug)]
pub struct Message {
    pub name: &'static str,
    pub fields: &'static [Field],
}

/// What has been seen of one field while scanning a message.
#[derive(Debug, Default)]
enum Slot {
    #[default]
    Absent,
    Scalar(Value),
    /// The concatenated occurrences of an embedded message (protobuf merge semantics).
    Embedded(Vec<u8>),
    List(Vec<Value>),
    Map(Map<String, Value>),
}

fn malformed(msg: &Message, field: &Field, what: &str) -> ProtobufError {
    ProtobufError::Malformed(format!("{}.{}: {what}", msg.name, field.name))
}

/// Decodes one message into a JSON object. Unknown field numbers are skipped.
pub fn decode_message(msg: &Message, buf: &[u8]) -> Result<Map<String, Value>, ProtobufError> {
    let mut slots: Vec<Slot> = msg.fields.iter().map(|_| Slot::Absent).collect();
    for item in wire::fields(buf) {
        let (number, value) =
            item.map_err(|e| ProtobufError::Malformed(format!("{}: {e}", msg.name)))?;
        let Some(i) = msg.fields.iter().position(|f| f.number == number) else {
            continue;
        };
        let field = &msg.fields[i];
        let slot = &mut slots[i];
        match (field.kind, field.rule) {
            (Kind::Map(value_kind), _) => {
                let WireValue::Bytes(entry) = value else {
                    return Err(malformed(
                        msg,
                        field,
                        "a map entry must be length-delimited",
                    ));
                };
                let (k, v) = map_entry(msg, field, value_kind, entry)?;
                if !matches!(slot, Slot::Map(_)) {
                    *slot = Slot::Map(Map::new());
                }
                if let (Slot::Map(m), Some(v)) = (slot, v) {
                    m.insert(k, v);
                }
            }
            (kind, Rule::Repeated) => {
                if !matches!(slot, Slot::List(_)) {
                    *slot = Slot::List(Vec::new());
                }
                let Slot::List(list) = slot else {
                    unreachable!("just set")
                };
                match value {
                    WireValue::Bytes(b) if kind.is_embedded() => {
                        list.extend(embedded(msg, field, kind, b)?)
                    }
                    WireValue::Bytes(b)
                        if matches!(kind, Kind::Int32 | Kind::Int64 | Kind::Bool) =>
                    {
                        let items = wire::packed_varints(b)
                            .map_err(|e| malformed(msg, field, &e.to_string()))?;
                        list.extend(items.into_iter().map(|v| varint_value(kind, v)));
                    }
                    other => list.push(scalar(msg, field, kind, other)?),
                }
            }
            (kind, _) if kind.is_embedded() => {
                let WireValue::Bytes(b) = value else {
                    return Err(malformed(
                        msg,
                        field,
                        "a nested message must be length-delimited",
                    ));
                };
                match slot {
                    Slot::Embedded(buf) => buf.extend_from_slice(b),
                    _ => *slot = Slot::Embedded(b.to_vec()),
                }
            }
            (kind, _) => *slot = Slot::Scalar(scalar(msg, field, kind, value)?),
        }
    }
    let mut out = Map::new();
    for (field, slot) in msg.fields.iter().zip(slots) {
        match slot {
            Slot::Map(m) if !m.is_empty() => {
                out.insert(field.name.into(), Value::Object(m));
            }
            Slot::List(l) if !l.is_empty() => {
                out.insert(field.name.into(), Value::Array(l));
            }
            Slot::Embedded(b) => match embedded(msg, field, field.kind, &b)? {
                Some(Value::Object(inner)) if matches!(field.kind, Kind::Inline(_)) => {
                    out.extend(inner)
                }
                Some(v) => {
                    out.insert(field.name.into(), v);
                }
                None => {}
            },
            Slot::Scalar(v) if field.rule != Rule::OmitEmpty || !is_zero(&v) => {
                out.insert(field.name.into(), v);
            }
            Slot::Absent if field.rule == Rule::Always => {
                if let Some(v) = zero(field.kind) {
                    out.insert(field.name.into(), v);
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

fn map_entry(
    msg: &Message,
    field: &Field,
    value_kind: &Kind,
    entry: &[u8],
) -> Result<(String, Option<Value>), ProtobufError> {
    let mut key = String::new();
    let mut value = None;
    let mut nested = Vec::new();
    for item in wire::fields(entry) {
        match item.map_err(|e| malformed(msg, field, &e.to_string()))? {
            (1, WireValue::Bytes(k)) => key = String::from_utf8_lossy(k).into_owned(),
            (2, WireValue::Bytes(b)) if value_kind.is_embedded() => nested.extend_from_slice(b),
            (2, v) => value = Some(scalar(msg, field, *value_kind, v)?),
            _ => {}
        }
    }
    if value_kind.is_embedded() {
        value = embedded(msg, field, *value_kind, &nested)?;
    }
    // A missing value is the zero value of its type, as in Go.
    Ok((key, value.or_else(|| zero(*value_kind))))
}

fn varint_value(kind: Kind, v: u64) -> Value {
    match kind {
        // int32 values travel sign-extended to 64 bits.
        Kind::Int32 => Value::from(v as i64 as i32),
        Kind::Bool => Value::Bool(v != 0),
        _ => Value::from(v as i64),
    }
}

fn scalar(
    msg: &Message,
    field: &Field,
    kind: Kind,
    value: WireValue<'_>,
) -> Result<Value, ProtobufError> {
    match (kind, value) {
        // Go's JSON encoder replaces invalid UTF-8 the same way.
        (Kind::String, WireValue::Bytes(b)) => {
            Ok(Value::String(String::from_utf8_lossy(b).into_owned()))
        }
        (Kind::Bytes, WireValue::Bytes(b)) => Ok(Value::String(
            base64::engine::general_purpose::STANDARD.encode(b),
        )),
        (Kind::Int32 | Kind::Int64 | Kind::Bool, WireValue::Varint(v)) => Ok(varint_value(kind, v)),
        (_, other) => Err(malformed(
            msg,
            field,
            &format!("unexpected encoding {other:?}"),
        )),
    }
}

/// The JSON of an embedded message; `None` when Go would write `null` (zero times, empty raw
/// extensions), which is then left out.
fn embedded(
    msg: &Message,
    field: &Field,
    kind: Kind,
    buf: &[u8],
) -> Result<Option<Value>, ProtobufError> {
    let bad = |what: &str| malformed(msg, field, what);
    match kind {
        Kind::Message(m) | Kind::Inline(m) => Ok(Some(Value::Object(decode_message(m, buf)?))),
        Kind::Time | Kind::MicroTime => {
            if buf.is_empty() {
                return Ok(None);
            }
            let (mut seconds, mut nanos) = (0i64, 0i64);
            for item in wire::fields(buf) {
                match item.map_err(|e| bad(&e.to_string()))? {
                    (1, WireValue::Varint(v)) => seconds = v as i64,
                    (2, WireValue::Varint(v)) => nanos = i64::from(v as i64 as i32),
                    _ => {}
                }
            }
            let micros = matches!(kind, Kind::MicroTime);
            format_time(seconds, nanos, micros)
                .map(Some)
                .ok_or_else(|| bad("the time is out of range"))
        }
        Kind::IntOrString => {
            let (mut ty, mut int, mut string) = (0u64, 0i32, String::new());
            for item in wire::fields(buf) {
                match item.map_err(|e| bad(&e.to_string()))? {
                    (1, WireValue::Varint(v)) => ty = v,
                    (2, WireValue::Varint(v)) => int = v as i64 as i32,
                    (3, WireValue::Bytes(b)) => string = String::from_utf8_lossy(b).into_owned(),
                    _ => {}
                }
            }
            Ok(Some(if ty == 1 {
                Value::String(string)
            } else {
                Value::from(int)
            }))
        }
        Kind::Quantity => {
            let mut s = String::new();
            for item in wire::fields(buf) {
                if let (1, WireValue::Bytes(b)) = item.map_err(|e| bad(&e.to_string()))? {
                    s = String::from_utf8_lossy(b).into_owned();
                }
            }
            // The zero Quantity prints as "0".
            Ok(Some(Value::String(if s.is_empty() {
                "0".into()
            } else {
                s
            })))
        }
        Kind::RawJson => {
            let mut raw: &[u8] = &[];
            for item in wire::fields(buf) {
                if let (1, WireValue::Bytes(b)) = item.map_err(|e| bad(&e.to_string()))? {
                    raw = b;
                }
            }
            if raw.is_empty() {
                return Ok(None);
            }
            serde_json::from_slice(raw)
                .map(Some)
                .map_err(|e| bad(&format!("embedded JSON is invalid: {e}")))
        }
        _ => Err(bad("not a nested message")),
    }
}

/// Go's `time.RFC3339` (whole seconds) or `metav1.RFC3339Micro`, always in UTC.
fn format_time(seconds: i64, nanos: i64, micros: bool) -> Option<Value> {
    let seconds = seconds.checked_add(nanos.div_euclid(1_000_000_000))?;
    let nanos = nanos.rem_euclid(1_000_000_000);
    let ts = jiff::Timestamp::from_second(seconds).ok()?;
    let base = ts.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    Some(Value::String(if micros {
        format!("{base}.{:06}Z", nanos / 1000)
    } else {
        format!("{base}Z")
    }))
}

fn is_zero(v: &Value) -> bool {
    match v {
        Value::String(s) => s.is_empty(),
        Value::Number(n) => n.as_i64() == Some(0),
        Value::Bool(b) => !b,
        _ => false,
    }
}

fn zero(kind: Kind) -> Option<Value> {
    match kind {
        Kind::String | Kind::Bytes => Some(Value::String(String::new())),
        Kind::Int32 | Kind::Int64 => Some(Value::from(0)),
        Kind::Bool => Some(Value::Bool(false)),
        Kind::Quantity => Some(Value::String("0".into())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::testenc::Enc;
    use super::*;
    use serde_json::json;

    static INNER: Message = Message {
        name: "Inner",
        fields: &[
            Field::new(1, "a", Kind::String),
            Field::new(2, "b", Kind::Int32),
        ],
    };

    static OUTER: Message = Message {
        name: "Outer",
        fields: &[
            Field::new(1, "name", Kind::String),
            Field::new(2, "port", Kind::Int32).always(),
            Field::new(3, "flag", Kind::Bool).optional(),
            Field::new(4, "count", Kind::Int64),
            Field::new(5, "tags", Kind::String).repeated(),
            Field::new(6, "inner", Kind::Message(&INNER)),
            Field::new(7, "labels", Kind::Map(&Kind::String)),
            Field::new(8, "blobs", Kind::Map(&Kind::Bytes)),
            Field::new(9, "at", Kind::Time),
            Field::new(10, "micro", Kind::MicroTime),
            Field::new(11, "target", Kind::IntOrString),
            Field::new(12, "size", Kind::Quantity),
            Field::new(13, "raw", Kind::RawJson),
            Field::new(14, "", Kind::Inline(&INNER)),
            Field::new(15, "nums", Kind::Int32).repeated(),
            Field::new(16, "limits", Kind::Map(&Kind::Quantity)),
            Field::new(17, "data", Kind::Bytes),
        ],
    };

    fn decode(e: Enc) -> Value {
        Value::Object(decode_message(&OUTER, &e.build()).expect("decodes"))
    }

    #[test]
    fn zero_values_follow_go_omitempty() {
        let e = Enc::new()
            .string(1, "")
            .int(2, 0)
            .int(3, 0)
            .int(4, 0)
            .bytes(17, b"");
        // port has no omitempty, flag is a pointer: both written although zero
        assert_eq!(decode(e), json!({"port": 0, "flag": false}));
    }

    #[test]
    fn absent_fields_without_omitempty_are_written_as_zero() {
        assert_eq!(decode(Enc::new()), json!({"port": 0}));
    }

    #[test]
    fn scalars_lists_and_maps_decode_to_their_json_forms() {
        let e = Enc::new()
            .string(1, "web")
            .int(2, 8080)
            .int(4, -3)
            .string(5, "x")
            .string(5, "y")
            .entry(7, "app", "web")
            .entry(7, "tier", "front")
            .bytes_entry(8, "bin", &[0, 255])
            .bytes(17, b"hi");
        assert_eq!(
            decode(e),
            json!({"name": "web", "port": 8080, "count": -3, "tags": ["x", "y"],
                "labels": {"app": "web", "tier": "front"}, "blobs": {"bin": "AP8="}, "data": "aGk="})
        );
    }

    #[test]
    fn packed_and_unpacked_repeated_varints_are_equivalent() {
        let unpacked = Enc::new().int(15, 1).int(15, -2);
        let packed = Enc::new().packed(15, &[1, -2]);
        assert_eq!(decode(unpacked)["nums"], json!([1, -2]));
        assert_eq!(decode(packed)["nums"], json!([1, -2]));
    }

    #[test]
    fn nested_messages_are_objects_and_empty_ones_are_kept() {
        let e = Enc::new().msg(6, Enc::new().string(1, "z").int(2, 2));
        assert_eq!(decode(e)["inner"], json!({"a": "z", "b": 2}));
        assert_eq!(decode(Enc::new().msg(6, Enc::new()))["inner"], json!({}));
    }

    #[test]
    fn repeated_occurrences_of_a_nested_message_merge() {
        let e = Enc::new()
            .msg(6, Enc::new().string(1, "z"))
            .msg(6, Enc::new().int(2, 7));
        assert_eq!(decode(e)["inner"], json!({"a": "z", "b": 7}));
    }

    #[test]
    fn inline_structs_join_the_parent_object() {
        let e = Enc::new()
            .string(1, "n")
            .msg(14, Enc::new().string(1, "inl"));
        assert_eq!(decode(e), json!({"name": "n", "port": 0, "a": "inl"}));
    }

    #[test]
    fn times_are_rfc3339_utc_and_zero_times_are_left_out() {
        let e = Enc::new()
            .msg(9, Enc::new().int(1, 1_700_000_000).int(2, 5))
            .msg(10, Enc::new().int(1, 1_700_000_000).int(2, 123_456_789));
        let v = decode(e);
        assert_eq!(v["at"], json!("2023-11-14T22:13:20Z"));
        assert_eq!(v["micro"], json!("2023-11-14T22:13:20.123456Z"));
        let empty = decode(Enc::new().msg(9, Enc::new()).msg(10, Enc::new()));
        assert_eq!(empty, json!({"port": 0}));
        // an explicit zero is the Unix epoch, not the zero time
        assert_eq!(
            decode(Enc::new().msg(9, Enc::new().int(1, 0)))["at"],
            json!("1970-01-01T00:00:00Z")
        );
    }

    #[test]
    fn int_or_string_follows_its_type_field() {
        assert_eq!(
            decode(Enc::new().msg(11, Enc::new().int(1, 0).int(2, 8080)))["target"],
            json!(8080)
        );
        let named = Enc::new().msg(11, Enc::new().int(1, 1).int(2, 0).string(3, "http"));
        assert_eq!(decode(named)["target"], json!("http"));
    }

    #[test]
    fn quantities_are_strings_in_objects_and_maps() {
        let e = Enc::new()
            .msg(12, Enc::new().string(1, "10Gi"))
            .msg_entry(16, "cpu", Enc::new().string(1, "500m"))
            .msg_entry(16, "memory", Enc::new());
        let v = decode(e);
        assert_eq!(v["size"], json!("10Gi"));
        assert_eq!(v["limits"], json!({"cpu": "500m", "memory": "0"}));
    }

    #[test]
    fn raw_extensions_hold_parsed_json() {
        let e = Enc::new().msg(13, Enc::new().bytes(1, br#"{"spec":{"x":1}}"#));
        assert_eq!(decode(e)["raw"], json!({"spec": {"x": 1}}));
        let bad = Enc::new().msg(13, Enc::new().bytes(1, b"{nope"));
        assert!(
            matches!(decode_message(&OUTER, &bad.build()), Err(ProtobufError::Malformed(m)) if m.contains("Outer.raw"))
        );
    }

    #[test]
    fn unknown_field_numbers_are_skipped() {
        let e = Enc::new()
            .string(99, "future")
            .int(100, 1)
            .string(1, "kept");
        assert_eq!(decode(e), json!({"name": "kept", "port": 0}));
    }

    #[test]
    fn a_wire_type_that_does_not_fit_the_field_is_malformed() {
        let e = Enc::new().int(1, 5);
        let err = decode_message(&OUTER, &e.build()).unwrap_err();
        assert!(matches!(err, ProtobufError::Malformed(m) if m.starts_with("Outer.name")));
    }

    #[test]
    fn truncated_input_is_malformed() {
        let mut buf = Enc::new().string(1, "abcdef").build();
        buf.truncate(4);
        assert!(matches!(
            decode_message(&OUTER, &buf),
            Err(ProtobufError::Malformed(_))
        ));
    }
}
