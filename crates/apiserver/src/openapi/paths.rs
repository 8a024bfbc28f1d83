//! The operations of a resource's paths in a v3 document: list/create/deletecollection on
//! the collection, get/replace/patch/delete on the object, get/replace/patch on `status` and
//! `scale`. Every operation names its GVK (`x-kubernetes-group-version-kind`) and action
//! (`x-kubernetes-action`); every PATCH lists the `fieldValidation` query parameter.

use serde_json::{Map, Value, json};

use super::v3::{DELETE_OPTIONS, PATCH, PATCH_TYPES, STATUS, reference};
use crate::registry::ResourceDef;

fn param(name: &str, location: &str, type_: &str, description: &str) -> Value {
    let mut p = json!({
        "name": name,
        "in": location,
        "description": description,
        "schema": {"type": type_, "uniqueItems": true},
    });
    if location == "path" {
        p["required"] = true.into();
    }
    p
}

fn list_params() -> Vec<Value> {
    vec![
        param(
            "allowWatchBookmarks",
            "query",
            "boolean",
            "allowWatchBookmarks requests watch events with type \"BOOKMARK\".",
        ),
        param(
            "continue",
            "query",
            "string",
            "The continue option should be set when retrieving more results from the server.",
        ),
        param(
            "fieldSelector",
            "query",
            "string",
            "A selector to restrict the list of returned objects by their fields. Defaults to everything.",
        ),
        param(
            "labelSelector",
            "query",
            "string",
            "A selector to restrict the list of returned objects by their labels. Defaults to everything.",
        ),
        param(
            "limit",
            "query",
            "integer",
            "limit is a maximum number of responses to return for a list call.",
        ),
        param(
            "resourceVersion",
            "query",
            "string",
            "resourceVersion sets a constraint on what resource versions a request may be served from.",
        ),
        param(
            "resourceVersionMatch",
            "query",
            "string",
            "resourceVersionMatch determines how resourceVersion is applied to list calls.",
        ),
        param(
            "sendInitialEvents",
            "query",
            "boolean",
            "`sendInitialEvents=true` may be set together with `watch=true`.",
        ),
        param(
            "timeoutSeconds",
            "query",
            "integer",
            "Timeout for the list/watch call.",
        ),
        param(
            "watch",
            "query",
            "boolean",
            "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications.",
        ),
    ]
}

fn write_params(patch: bool) -> Vec<Value> {
    let mut params = vec![
        param(
            "dryRun",
            "query",
            "string",
            "When present, indicates that modifications should not be persisted. Valid values are: - All: all dry run stages will be processed",
        ),
        param(
            "fieldManager",
            "query",
            "string",
            "fieldManager is a name associated with the actor or entity that is making these changes.",
        ),
        param(
            "fieldValidation",
            "query",
            "string",
            "fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields. Valid values are: - Ignore: ignores unknown fields. - Warn: responds with a warning for each unknown field. - Strict: fails the request on unknown fields.",
        ),
    ];
    if patch {
        params.push(param("force", "query", "boolean", "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people."));
    }
    params
}

fn delete_params() -> Vec<Value> {
    vec![
        param(
            "dryRun",
            "query",
            "string",
            "When present, indicates that modifications should not be persisted. Valid values are: - All: all dry run stages will be processed",
        ),
        param(
            "gracePeriodSeconds",
            "query",
            "integer",
            "The duration in seconds before the object should be deleted.",
        ),
        param(
            "orphanDependents",
            "query",
            "boolean",
            "Deprecated: please use the PropagationPolicy.",
        ),
        param(
            "propagationPolicy",
            "query",
            "string",
            "Whether and how garbage collection will be performed. Acceptable values are: 'Orphan', 'Background', 'Foreground'.",
        ),
    ]
}

fn content(schema: &Value) -> Value {
    json!({
        "application/json": {"schema": schema},
        "application/yaml": {"schema": schema},
    })
}

fn responses(codes: &[(&str, &str)], schema: &Value) -> Value {
    let mut out = Map::new();
    for (code, description) in codes {
        out.insert(
            (*code).into(),
            json!({"description": description, "content": content(schema)}),
        );
    }
    out.insert("401".into(), json!({"description": "Unauthorized"}));
    Value::Object(out)
}

/// One resource's paths in one version.
pub(super) struct Paths<'a> {
    pub def: &'a ResourceDef,
    pub tag: String,
    pub id: String,
    pub kind_ref: Value,
    pub list_ref: Value,
    pub gvk: Value,
}

impl Paths<'_> {
    fn op(&self, verb: &str, action: &str, what: &str, description: &str) -> Map<String, Value> {
        let mut op = Map::new();
        op.insert("tags".into(), json!([self.tag]));
        op.insert("description".into(), description.into());
        op.insert(
            "operationId".into(),
            format!("{verb}{}{what}", self.id).into(),
        );
        op.insert("x-kubernetes-action".into(), action.into());
        op
    }

    fn finish(
        mut op: Map<String, Value>,
        params: Vec<Value>,
        body: Option<Value>,
        responses: Value,
        gvk: &Value,
    ) -> Value {
        if !params.is_empty() {
            op.insert("parameters".into(), params.into());
        }
        if let Some(body) = body {
            op.insert("requestBody".into(), body);
        }
        op.insert("responses".into(), responses);
        op.insert("x-kubernetes-group-version-kind".into(), gvk.clone());
        Value::Object(op)
    }

    fn body(schema: &Value) -> Value {
        json!({"content": {"*/*": {"schema": schema}}, "required": true})
    }

    fn patch_body() -> Value {
        let content: Map<String, Value> = PATCH_TYPES
            .iter()
            .map(|t| ((*t).to_string(), json!({"schema": reference(PATCH)})))
            .collect();
        json!({"content": content, "required": true})
    }

    /// The collection path: list (plus create and deletecollection unless `all_namespaces`).
    pub fn collection(&self, ns: &str, all_namespaces: bool) -> Value {
        let kind = &self.def.kind;
        let list_what = if all_namespaces {
            format!("{kind}ForAllNamespaces")
        } else {
            format!("{ns}{kind}")
        };
        let mut item = Map::new();
        let list = self.op(
            "list",
            "list",
            &list_what,
            &format!("list or watch objects of kind {kind}"),
        );
        item.insert(
            "get".into(),
            Self::finish(
                list,
                list_params(),
                None,
                responses(&[("200", "OK")], &self.list_ref),
                &self.gvk,
            ),
        );
        if !all_namespaces {
            let create = self.op(
                "create",
                "post",
                &format!("{ns}{kind}"),
                &format!("create a {kind}"),
            );
            let codes = [("200", "OK"), ("201", "Created"), ("202", "Accepted")];
            let body = Some(Self::body(&self.kind_ref));
            item.insert(
                "post".into(),
                Self::finish(
                    create,
                    write_params(false),
                    body,
                    responses(&codes, &self.kind_ref),
                    &self.gvk,
                ),
            );
            let dc = self.op(
                "delete",
                "deletecollection",
                &format!("Collection{ns}{kind}"),
                &format!("delete collection of {kind}"),
            );
            let mut params = delete_params();
            params.extend(list_params());
            let body = Some(json!({"content": {"*/*": {"schema": reference(DELETE_OPTIONS)}}}));
            item.insert(
                "delete".into(),
                Self::finish(
                    dc,
                    params,
                    body,
                    responses(&[("200", "OK")], &reference(STATUS)),
                    &self.gvk,
                ),
            );
        }
        if !ns.is_empty() && !all_namespaces {
            item.insert(
                "parameters".into(),
                json!([namespace_param(), pretty_param()]),
            );
        } else {
            item.insert("parameters".into(), json!([pretty_param()]));
        }
        Value::Object(item)
    }

    /// The object path, or a subresource path (`suffix` "Status"/"Scale").
    pub fn object(&self, ns: &str, suffix: &str, schema: &Value, gvk: &Value) -> Value {
        let what = format!("{ns}{}{suffix}", self.def.kind);
        let target = if suffix.is_empty() {
            self.def.kind.clone()
        } else {
            format!(
                "{} of the specified {}",
                suffix.to_lowercase(),
                self.def.kind
            )
        };
        let mut item = Map::new();
        let read = self.op("read", "get", &what, &format!("read {target}"));
        item.insert(
            "get".into(),
            Self::finish(
                read,
                Vec::new(),
                None,
                responses(&[("200", "OK")], schema),
                gvk,
            ),
        );
        let replace = self.op("replace", "put", &what, &format!("replace {target}"));
        let codes = [("200", "OK"), ("201", "Created")];
        item.insert(
            "put".into(),
            Self::finish(
                replace,
                write_params(false),
                Some(Self::body(schema)),
                responses(&codes, schema),
                gvk,
            ),
        );
        let patch = self.op(
            "patch",
            "patch",
            &what,
            &format!("partially update {target}"),
        );
        item.insert(
            "patch".into(),
            Self::finish(
                patch,
                write_params(true),
                Some(Self::patch_body()),
                responses(&codes, schema),
                gvk,
            ),
        );
        if suffix.is_empty() {
            let delete = self.op(
                "delete",
                "delete",
                &what,
                &format!("delete a {}", self.def.kind),
            );
            let body = Some(json!({"content": {"*/*": {"schema": reference(DELETE_OPTIONS)}}}));
            let codes = [("200", "OK"), ("202", "Accepted")];
            item.insert(
                "delete".into(),
                Self::finish(
                    delete,
                    delete_params(),
                    body,
                    responses(&codes, &reference(STATUS)),
                    gvk,
                ),
            );
        }
        let mut params = vec![param(
            "name",
            "path",
            "string",
            &format!("name of the {}", self.def.kind),
        )];
        if !ns.is_empty() {
            params.push(namespace_param());
        }
        params.push(pretty_param());
        item.insert("parameters".into(), params.into());
        Value::Object(item)
    }
}

fn namespace_param() -> Value {
    param(
        "namespace",
        "path",
        "string",
        "object name and auth scope, such as for teams and projects",
    )
}

fn pretty_param() -> Value {
    param(
        "pretty",
        "query",
        "string",
        "If 'true', then the output is pretty printed.",
    )
}
