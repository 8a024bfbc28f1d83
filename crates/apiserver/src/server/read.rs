//! get and list, with selectors, pagination at a consistent revision and resourceVersion rules.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::options::{ListOptions, VersionMatch};
use super::{Api, Scope};
use crate::builtin::events::widen_event_kinds;
use crate::error::ApiError;
use crate::registry::Registry;
use crate::selector::{FieldSelector, LabelSelector};
use crate::store::{ListRequest, Revision, StoreError};

/// Parsed selectors of a list or watch.
pub(crate) struct Filter {
    pub labels: Option<LabelSelector>,
    pub fields: Option<FieldSelector>,
}

impl Filter {
    /// The selectors of `opts`; field selectors on events are widened by the registry's event
    /// kind aliases.
    pub fn parse(
        registry: &Registry,
        scope: &Scope,
        opts: &ListOptions,
    ) -> Result<Filter, ApiError> {
        let labels = match &opts.label_selector {
            Some(s) => {
                Some(LabelSelector::parse(s).map_err(|e| ApiError::bad_request(e.to_string()))?)
            }
            None => None,
        };
        let fields = match &opts.field_selector {
            Some(s) => {
                let mut fields = FieldSelector::parse(s, &scope.def.selectable_fields)
                    .map_err(|e| ApiError::bad_request(e.to_string()))?;
                widen_event_kinds(&scope.def, &mut fields, registry);
                Some(fields)
            }
            None => None,
        };
        Ok(Filter { labels, fields })
    }

    /// Whether an object (in the client's version) passes both selectors.
    pub fn matches(&self, obj: &Value) -> bool {
        self.labels.as_ref().is_none_or(|l| l.matches(obj))
            && self.fields.as_ref().is_none_or(|f| f.matches(obj))
    }
}

/// An opaque continue token: the revision of the first page and the last key returned.
fn encode_continue(rev: Revision, key: &str) -> String {
    URL_SAFE_NO_PAD.encode(json!({"v": "meta.k8s.io/v1", "rv": rev, "start": key}).to_string())
}

fn decode_continue(token: &str, prefix: &str) -> Result<(Revision, String), ApiError> {
    let bad = || {
        ApiError::bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
        )
    };
    let raw = URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    let rev = v.get("rv").and_then(Value::as_u64).ok_or_else(bad)?;
    let start = v.get("start").and_then(Value::as_str).ok_or_else(bad)?;
    if !start.starts_with(prefix) {
        return Err(bad());
    }
    Ok((rev, start.to_string()))
}

pub(crate) fn parse_rv(s: &str) -> Result<Revision, ApiError> {
    s.parse::<Revision>()
        .map_err(|_| ApiError::bad_request(format!("invalid resource version \"{s}\"")))
}

impl Api {
    /// One object, in the client's version.
    pub async fn get(&self, scope: &Scope, name: &str) -> Result<Value, ApiError> {
        let kv = self
            .inner
            .store
            .get(&scope.key(name))
            .await
            .map_err(|e| ApiError::from_store(e, scope.target(name)))?
            .ok_or_else(|| ApiError::NotFound(scope.target(name)))?;
        self.decode(scope, &kv)
    }

    /// Waits (briefly) until the store reaches `rev`, as the real server does for
    /// `resourceVersion` newer than its cache.
    pub(crate) async fn wait_for_revision(&self, rev: Revision) -> Result<(), ApiError> {
        for _ in 0..30 {
            if self.inner.store.current_revision() >= rev {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(ApiError::Timeout {
            message: format!(
                "Too large resource version: {rev}, current: {}",
                self.inner.store.current_revision()
            ),
        })
    }

    /// A list object (`<Kind>List`) in the client's version.
    pub async fn list(&self, scope: &Scope, opts: &ListOptions) -> Result<Value, ApiError> {
        let filter = Filter::parse(self.registry(), scope, opts)?;
        let (items, rev, cont) = self.list_items(scope, opts, &filter).await?;
        let mut metadata = json!({"resourceVersion": rev.to_string()});
        if let Some(c) = cont {
            metadata["continue"] = json!(c);
        }
        Ok(json!({
            "apiVersion": scope.def.api_version(&scope.version),
            "kind": scope.def.list_kind,
            "metadata": metadata,
            "items": items,
        }))
    }

    /// The matching objects, the revision they were read at and the continue token, if any.
    pub(crate) async fn list_items(
        &self,
        scope: &Scope,
        opts: &ListOptions,
        filter: &Filter,
    ) -> Result<(Vec<Value>, Revision, Option<String>), ApiError> {
        let store = &self.inner.store;
        let prefix = scope.prefix();
        let collection = scope.target("");
        let (mut revision, mut start_after) = match &opts.continue_token {
            Some(token) => {
                let (rev, start) = decode_continue(token, &prefix)?;
                (Some(rev), Some(start))
            }
            None => (None, None),
        };
        if opts.continue_token.is_none()
            && let Some(rv) = opts.resource_version.as_deref()
        {
            let rv = parse_rv(rv)?;
            match opts.resource_version_match {
                VersionMatch::Exact => revision = Some(rv),
                _ if rv > 0 => self.wait_for_revision(rv).await?,
                _ => {}
            }
        }

        // A field selector on metadata.name reads one key instead of scanning.
        if let Some(name) = filter.fields.as_ref().and_then(|f| f.exact_name())
            && revision.is_none()
            && scope.namespace.is_some() | !scope.def.namespaced
        {
            let rev = store.current_revision();
            let kv = store
                .get(&scope.key(name))
                .await
                .map_err(|e| ApiError::from_store(e, collection.clone()))?;
            let mut items = Vec::new();
            if let Some(kv) = kv {
                let obj = self.decode(scope, &kv)?;
                if filter.matches(&obj) {
                    items.push(obj);
                }
            }
            let rev = rev.max(items_rev(&items));
            return Ok((items, rev, None));
        }

        let limit = opts.limit;
        let mut items = Vec::new();
        loop {
            let chunk = limit.map(|l| (l - items.len()).max(1).max(100));
            let resp = store
                .list(ListRequest { prefix: prefix.clone(), start_after: start_after.clone(), limit: chunk, revision })
                .await
                .map_err(|e| match e {
                    StoreError::Compacted { .. } if opts.continue_token.is_some() => ApiError::Expired {
                        message: "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.".into(),
                    },
                    other => ApiError::from_store(other, collection.clone()),
                })?;
            revision = Some(resp.revision);
            let n = resp.items.len();
            for (i, kv) in resp.items.iter().enumerate() {
                let obj = self.decode(scope, kv)?;
                if filter.matches(&obj) {
                    items.push(obj);
                }
                if limit.is_some_and(|l| items.len() >= l) {
                    let more = resp.more || i + 1 < n;
                    let token = more.then(|| encode_continue(resp.revision, &kv.key));
                    return Ok((items, resp.revision, token));
                }
            }
            if !resp.more || n == 0 {
                break;
            }
            start_after = resp.items.last().map(|kv| kv.key.clone());
        }
        Ok((
            items,
            revision.unwrap_or_else(|| store.current_revision()),
            None,
        ))
    }
}

fn items_rev(items: &[Value]) -> Revision {
    items
        .iter()
        .filter_map(|o| super::meta::resource_version(o).and_then(|r| r.parse().ok()))
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip_and_are_bound_to_their_collection() {
        let t = encode_continue(42, "/core/pods/default/p1");
        assert_eq!(
            decode_continue(&t, "/core/pods/default/").unwrap(),
            (42, "/core/pods/default/p1".to_string())
        );
        assert!(decode_continue(&t, "/core/pods/other/").is_err());
        assert!(decode_continue("garbage!", "/").is_err());
    }
}
