//! Request options, parsed from query strings and bodies into typed values at the edge.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use crate::error::ApiError;

/// `fieldValidation`: what to do with unknown or duplicate fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FieldValidation {
    /// Prune silently (the server default).
    #[default]
    Ignore,
    /// Prune and return a `Warning` per field.
    Warn,
    /// Reject with 400.
    Strict,
}

/// Options of create, update and patch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteOptions {
    pub dry_run: bool,
    pub field_manager: Option<String>,
    pub field_validation: FieldValidation,
    /// Server-side apply: take ownership of conflicting fields.
    pub force: bool,
}

/// `resourceVersionMatch` of a list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum VersionMatch {
    #[default]
    Unset,
    NotOlderThan,
    Exact,
}

/// Options of list and watch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListOptions {
    pub label_selector: Option<String>,
    pub field_selector: Option<String>,
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
    pub resource_version: Option<String>,
    pub resource_version_match: VersionMatch,
    pub watch: bool,
    pub allow_watch_bookmarks: bool,
    pub send_initial_events: bool,
    pub timeout_seconds: Option<u64>,
}

/// `propagationPolicy` of a delete.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum Propagation {
    Orphan,
    Background,
    Foreground,
}

/// `metav1.DeleteOptions`, from the body and/or the query string.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeleteOptions {
    pub grace_period_seconds: Option<i64>,
    pub propagation: Option<Propagation>,
    pub precondition_uid: Option<String>,
    pub precondition_resource_version: Option<String>,
    pub dry_run: bool,
}

/// A raw query string as key → values.
pub type Query = HashMap<String, Vec<String>>;

pub fn parse_query(raw: Option<&str>) -> Query {
    let mut q: Query = HashMap::new();
    if let Some(raw) = raw {
        for (k, v) in url::form_urlencoded::parse(raw.as_bytes()) {
            q.entry(k.into_owned()).or_default().push(v.into_owned());
        }
    }
    q
}

fn first<'a>(q: &'a Query, k: &str) -> Option<&'a str> {
    q.get(k).and_then(|v| v.first()).map(String::as_str)
}

fn parse_bool(q: &Query, k: &str) -> Result<bool, ApiError> {
    match first(q, k) {
        None | Some("") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some("false") | Some("0") => Ok(false),
        Some(other) => Err(ApiError::bad_request(format!(
            "invalid boolean value for {k}: {other:?}"
        ))),
    }
}

fn parse_dry_run(q: &Query) -> Result<bool, ApiError> {
    match q.get("dryRun") {
        None => Ok(false),
        Some(v) if v.iter().all(|x| x.is_empty()) => Ok(false),
        Some(v) if v.iter().all(|x| x == "All") => Ok(true),
        Some(v) => Err(ApiError::bad_request(format!(
            "Invalid dryRun value: {:?}: supported values: \"All\"",
            v.iter().find(|x| *x != "All").cloned().unwrap_or_default()
        ))),
    }
}

impl WriteOptions {
    pub fn from_query(q: &Query) -> Result<Self, ApiError> {
        let field_validation = match first(q, "fieldValidation") {
            None | Some("") | Some("Ignore") => FieldValidation::Ignore,
            Some("Warn") => FieldValidation::Warn,
            Some("Strict") => FieldValidation::Strict,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "fieldValidation invalid value: {other}, valid values are Ignore, Warn or Strict"
                )));
            }
        };
        Ok(WriteOptions {
            dry_run: parse_dry_run(q)?,
            field_manager: first(q, "fieldManager")
                .filter(|s| !s.is_empty())
                .map(String::from),
            field_validation,
            force: parse_bool(q, "force")?,
        })
    }
}

impl ListOptions {
    pub fn from_query(q: &Query) -> Result<Self, ApiError> {
        let limit = match first(q, "limit") {
            None | Some("") => None,
            Some(s) => match s.parse::<i64>() {
                Ok(n) if n > 0 => Some(n as usize),
                Ok(_) => None,
                Err(_) => return Err(ApiError::bad_request(format!("invalid limit {s:?}"))),
            },
        };
        let timeout_seconds = match first(q, "timeoutSeconds") {
            None | Some("") => None,
            Some(s) => Some(
                s.parse::<u64>()
                    .map_err(|_| ApiError::bad_request(format!("invalid timeoutSeconds {s:?}")))?,
            ),
        };
        let resource_version_match = match first(q, "resourceVersionMatch") {
            None | Some("") => VersionMatch::Unset,
            Some("NotOlderThan") => VersionMatch::NotOlderThan,
            Some("Exact") => VersionMatch::Exact,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "resourceVersionMatch: Unsupported value: \"{other}\": supported values: \"Exact\", \"NotOlderThan\", \"\""
                )));
            }
        };
        Ok(ListOptions {
            label_selector: first(q, "labelSelector")
                .filter(|s| !s.is_empty())
                .map(String::from),
            field_selector: first(q, "fieldSelector")
                .filter(|s| !s.is_empty())
                .map(String::from),
            limit,
            continue_token: first(q, "continue")
                .filter(|s| !s.is_empty())
                .map(String::from),
            resource_version: first(q, "resourceVersion")
                .filter(|s| !s.is_empty())
                .map(String::from),
            resource_version_match,
            watch: parse_bool(q, "watch")?,
            allow_watch_bookmarks: parse_bool(q, "allowWatchBookmarks")?,
            send_initial_events: parse_bool(q, "sendInitialEvents")?,
            timeout_seconds,
        })
    }
}

impl DeleteOptions {
    /// Query parameters first, then the body (as the real server, the body wins if both).
    pub fn parse(q: &Query, body: &[u8]) -> Result<Self, ApiError> {
        let mut o = DeleteOptions {
            grace_period_seconds: match first(q, "gracePeriodSeconds") {
                None | Some("") => None,
                Some(s) => Some(s.parse().map_err(|_| {
                    ApiError::bad_request(format!("invalid gracePeriodSeconds {s:?}"))
                })?),
            },
            propagation: match first(q, "propagationPolicy") {
                None | Some("") => None,
                Some(s) => Some(parse_propagation(s)?),
            },
            dry_run: parse_dry_run(q)?,
            ..Default::default()
        };
        if first(q, "orphanDependents") == Some("true") {
            o.propagation = Some(Propagation::Orphan);
        }
        let body = trim(body);
        if !body.is_empty() {
            let v: Value = serde_json::from_slice(body)
                .or_else(|_| serde_saphyr::from_slice::<Value>(body))
                .map_err(|e| ApiError::bad_request(format!("invalid DeleteOptions body: {e}")))?;
            if let Some(g) = v.get("gracePeriodSeconds").and_then(Value::as_i64) {
                o.grace_period_seconds = Some(g);
            }
            if let Some(p) = v.get("propagationPolicy").and_then(Value::as_str) {
                o.propagation = Some(parse_propagation(p)?);
            }
            if v.get("orphanDependents").and_then(Value::as_bool) == Some(true) {
                o.propagation = Some(Propagation::Orphan);
            }
            if let Some(pre) = v.get("preconditions") {
                o.precondition_uid = pre.get("uid").and_then(Value::as_str).map(String::from);
                o.precondition_resource_version = pre
                    .get("resourceVersion")
                    .and_then(Value::as_str)
                    .map(String::from);
            }
            if let Some(d) = v.get("dryRun").and_then(Value::as_array) {
                o.dry_run = d.iter().any(|x| x == "All");
            }
        }
        Ok(o)
    }
}

fn parse_propagation(s: &str) -> Result<Propagation, ApiError> {
    match s {
        "Orphan" => Ok(Propagation::Orphan),
        "Background" => Ok(Propagation::Background),
        "Foreground" => Ok(Propagation::Foreground),
        other => Err(ApiError::bad_request(format!(
            "propagationPolicy: Unsupported value: \"{other}\": supported values: \"Foreground\", \"Background\", \"Orphan\""
        ))),
    }
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

/// The patch formats, from the request's Content-Type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    Json,
    Merge,
    Strategic,
    Apply,
}

impl PatchType {
    pub fn from_content_type(ct: &str) -> Option<Self> {
        let base = ct.split(';').next().unwrap_or("").trim();
        match base {
            "application/json-patch+json" => Some(PatchType::Json),
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+json" => {
                Some(PatchType::Apply)
            }
            _ => None,
        }
    }
}

/// How the client wants the response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
    /// `as=Table`, with what to put in each row's `object`.
    Table(IncludeObject),
    /// `as=PartialObjectMetadata` / `PartialObjectMetadataList`.
    Metadata,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncludeObject {
    None,
    Metadata,
    Object,
}

/// Picks the first acceptable media type from `Accept`, as the real server's negotiation does.
pub fn negotiate(accept: Option<&str>, q: &Query) -> Result<Format, ApiError> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Ok(Format::Json);
    };
    for part in accept.split(',') {
        let mut fields = part.split(';').map(str::trim);
        let media = fields.next().unwrap_or("");
        let params: HashMap<&str, &str> = fields.filter_map(|f| f.split_once('=')).collect();
        match (media, params.get("as").copied()) {
            ("application/json" | "*/*" | "application/*", Some("Table")) => {
                if params.get("g").copied().unwrap_or("meta.k8s.io") != "meta.k8s.io" {
                    continue;
                }
                let include = match first(q, "includeObject") {
                    Some("None") => IncludeObject::None,
                    Some("Object") => IncludeObject::Object,
                    _ => IncludeObject::Metadata,
                };
                return Ok(Format::Table(include));
            }
            ("application/json" | "*/*" | "application/*", Some(p))
                if p.starts_with("PartialObjectMetadata") =>
            {
                return Ok(Format::Metadata);
            }
            ("application/json" | "*/*" | "application/*", None) => return Ok(Format::Json),
            ("application/yaml", None) => return Ok(Format::Yaml),
            _ => continue,
        }
    }
    // Protobuf-only or unknown types: answer JSON, which client-go accepts whenever it lists
    // application/json too; otherwise refuse as the real server does.
    if accept.contains("application/vnd.kubernetes.protobuf") && !accept.contains("json") {
        return Err(ApiError::NotAcceptable {
            message:
                "only the following media types are accepted: application/json, application/yaml"
                    .into(),
        });
    }
    Ok(Format::Json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_get_asks_for_a_table() {
        let a = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(
            negotiate(Some(a), &Query::new()).unwrap(),
            Format::Table(IncludeObject::Metadata)
        );
        let q = parse_query(Some("includeObject=Object"));
        assert_eq!(
            negotiate(Some(a), &q).unwrap(),
            Format::Table(IncludeObject::Object)
        );
    }

    #[test]
    fn describe_accepts_protobuf_or_json_and_gets_json() {
        let a = "application/vnd.kubernetes.protobuf,application/json";
        assert_eq!(negotiate(Some(a), &Query::new()).unwrap(), Format::Json);
    }

    #[test]
    fn list_options_parse_every_parameter() {
        let q = parse_query(Some(
            "labelSelector=a%3Db&fieldSelector=metadata.name%3Dx&limit=500&continue=abc&resourceVersion=0&resourceVersionMatch=NotOlderThan&watch=true&allowWatchBookmarks=true&timeoutSeconds=290",
        ));
        let o = ListOptions::from_query(&q).unwrap();
        assert_eq!(o.label_selector.as_deref(), Some("a=b"));
        assert_eq!(o.field_selector.as_deref(), Some("metadata.name=x"));
        assert_eq!(o.limit, Some(500));
        assert_eq!(o.resource_version_match, VersionMatch::NotOlderThan);
        assert!(o.watch && o.allow_watch_bookmarks);
        assert_eq!(o.timeout_seconds, Some(290));
    }

    #[test]
    fn bad_dry_run_and_field_validation_are_rejected() {
        assert!(WriteOptions::from_query(&parse_query(Some("dryRun=Some"))).is_err());
        assert!(WriteOptions::from_query(&parse_query(Some("fieldValidation=Loose"))).is_err());
        let w = WriteOptions::from_query(&parse_query(Some(
            "dryRun=All&fieldValidation=Strict&force=true&fieldManager=kubectl",
        )))
        .unwrap();
        assert!(w.dry_run && w.force);
        assert_eq!(w.field_validation, FieldValidation::Strict);
    }

    #[test]
    fn delete_options_come_from_body_and_query() {
        let o = DeleteOptions::parse(
            &parse_query(Some("gracePeriodSeconds=5")),
            br#"{"propagationPolicy":"Foreground","preconditions":{"uid":"u1"}}"#,
        )
        .unwrap();
        assert_eq!(o.grace_period_seconds, Some(5));
        assert_eq!(o.propagation, Some(Propagation::Foreground));
        assert_eq!(o.precondition_uid.as_deref(), Some("u1"));
        assert!(
            DeleteOptions::parse(&Query::new(), br#"{"propagationPolicy":"Sideways"}"#).is_err()
        );
    }

    #[test]
    fn patch_types_follow_content_type() {
        assert_eq!(
            PatchType::from_content_type("application/merge-patch+json"),
            Some(PatchType::Merge)
        );
        assert_eq!(
            PatchType::from_content_type("application/apply-patch+yaml; charset=utf-8"),
            Some(PatchType::Apply)
        );
        assert_eq!(PatchType::from_content_type("text/plain"), None);
    }
}
