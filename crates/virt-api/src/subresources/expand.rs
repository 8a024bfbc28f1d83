//! `expand-spec` (`GET` a VM) and `expand-vm-spec` (`PUT` a VM body): the VirtualMachine with
//! its instancetype and preference applied to the template.
//!
//! A VM that references neither is returned unchanged, as upstream. When it references them
//! and the `instancetype.kubevirt.io` kinds are served, the referenced objects are read and a
//! subset of upstream's application is made: the instancetype's guest CPU count (laid out as
//! the preference's `preferredCPUTopology` says, sockets by default) and guest memory. The
//! matchers and their status references are then removed. When the kinds are not served at
//! all, the VM is returned as is (upstream would fail to find the objects).

use apiserver::server::Scope;
use apiserver::{Api, ApiError};
use axum::body::Body;
use axum::response::Response;
use http::StatusCode;
use serde_json::{Value, json};

use super::error::SubresourceError;
use super::{Ctx, json_response};

/// API group of instancetypes and preferences.
const INSTANCETYPE_GROUP: &str = "instancetype.kubevirt.io";

/// Which failure code an expansion error gets: 500 for a stored VM, 400 for a posted one.
#[derive(Clone, Copy)]
enum Source {
    Stored,
    Posted,
}

impl Source {
    fn error(self, message: String) -> SubresourceError {
        match self {
            Source::Stored => SubresourceError::Internal(message),
            Source::Posted => SubresourceError::BadRequest(message),
        }
    }
}

/// `(plural, namespaced)` of the kind a matcher names; `default` when the kind is unset.
fn plural_of(kind: Option<&str>, default: &str) -> Option<(&'static str, bool)> {
    match kind.unwrap_or(default).to_ascii_lowercase().as_str() {
        "virtualmachineinstancetype" => Some(("virtualmachineinstancetypes", true)),
        "virtualmachineclusterinstancetype" => Some(("virtualmachineclusterinstancetypes", false)),
        "virtualmachinepreference" => Some(("virtualmachinepreferences", true)),
        "virtualmachineclusterpreference" => Some(("virtualmachineclusterpreferences", false)),
        _ => None,
    }
}

/// The spec of the object a matcher (`spec.instancetype` or `spec.preference`) names, or
/// `None` when the matcher is absent or the instancetype kinds are not served.
async fn find_spec(
    api: &Api,
    ns: &str,
    matcher: Option<&Value>,
    default_kind: &str,
    source: Source,
) -> Result<Option<Value>, SubresourceError> {
    let Some(matcher) = matcher else {
        return Ok(None);
    };
    let name = matcher
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let kind = matcher.get("kind").and_then(Value::as_str);
    let (plural, namespaced) = plural_of(kind, default_kind).ok_or_else(|| {
        source.error(format!(
            "got unexpected kind in matcher: {}",
            kind.unwrap_or("")
        ))
    })?;
    let Some(def) = api.registry().get(INSTANCETYPE_GROUP, plural) else {
        return Ok(None);
    };
    let scope = Scope {
        def: def.clone(),
        version: def.preferred_version().name.clone(),
        namespace: namespaced.then(|| ns.to_owned()),
    };
    match api.get(&scope, name).await {
        Ok(object) => Ok(Some(object.get("spec").cloned().unwrap_or(json!({})))),
        Err(e) => Err(source.error(e.to_string())),
    }
}

/// `(sockets, cores, threads)` for `guest` vCPUs laid out by `preferred_topology`.
fn topology(guest: u64, preferred_topology: Option<&str>) -> (u64, u64, u64) {
    match preferred_topology {
        Some("preferCores" | "cores") => (1, guest, 1),
        Some("preferThreads" | "threads") => (1, 1, guest),
        _ => (guest, 1, 1),
    }
}

/// Applies the supported part of an instancetype (and preference) to `vm` in place, and drops
/// the matchers. A VM template that already sets a field the instancetype provides is a
/// conflict, as upstream.
pub fn apply(
    vm: &mut Value,
    instancetype: Option<&Value>,
    preference: Option<&Value>,
) -> Result<(), String> {
    let domain = vm
        .pointer("/spec/template/spec/domain")
        .cloned()
        .unwrap_or(json!({}));
    let mut domain = domain;
    let mut conflicts = Vec::new();
    if let Some(it) = instancetype {
        if let Some(guest) = it.pointer("/cpu/guest").and_then(Value::as_u64) {
            for field in ["sockets", "cores", "threads"] {
                if domain.pointer(&format!("/cpu/{field}")).is_some() {
                    conflicts.push(format!("spec.template.spec.domain.cpu.{field}"));
                }
            }
            let preferred = preference
                .and_then(|p| p.pointer("/cpu/preferredCPUTopology"))
                .and_then(Value::as_str);
            let (sockets, cores, threads) = topology(guest, preferred);
            let cpu = domain
                .as_object_mut()
                .map(|d| d.entry("cpu").or_insert_with(|| json!({})));
            if let Some(Value::Object(cpu)) = cpu {
                cpu.insert("sockets".into(), json!(sockets));
                cpu.insert("cores".into(), json!(cores));
                cpu.insert("threads".into(), json!(threads));
            }
        }
        if let Some(memory) = it.pointer("/memory/guest") {
            if domain.pointer("/memory/guest").is_some() {
                conflicts.push("spec.template.spec.domain.memory.guest".into());
            }
            let mem = domain
                .as_object_mut()
                .map(|d| d.entry("memory").or_insert_with(|| json!({})));
            if let Some(Value::Object(mem)) = mem {
                mem.insert("guest".into(), memory.clone());
            }
        }
    }
    if !conflicts.is_empty() {
        return Err(format!(
            "VM field(s) {} conflicts with selected instance type",
            conflicts.join(", ")
        ));
    }
    if let Some(template_spec) = vm
        .pointer_mut("/spec/template/spec")
        .and_then(Value::as_object_mut)
    {
        template_spec.insert("domain".into(), domain);
    }
    if let Some(spec) = vm.get_mut("spec").and_then(Value::as_object_mut) {
        spec.remove("instancetype");
        spec.remove("preference");
    }
    if let Some(status) = vm.get_mut("status").and_then(Value::as_object_mut) {
        status.remove("instancetypeRef");
        status.remove("preferenceRef");
    }
    Ok(())
}

async fn expand(
    api: &Api,
    ns: &str,
    mut vm: Value,
    source: Source,
) -> Result<Value, SubresourceError> {
    let instancetype_matcher = vm.pointer("/spec/instancetype").cloned();
    let preference_matcher = vm.pointer("/spec/preference").cloned();
    if instancetype_matcher.is_none() && preference_matcher.is_none() {
        return Ok(vm);
    }
    let served = api
        .registry()
        .all()
        .iter()
        .any(|d| d.group == INSTANCETYPE_GROUP);
    if !served {
        return Ok(vm);
    }
    let instancetype = find_spec(
        api,
        ns,
        instancetype_matcher.as_ref(),
        "VirtualMachineClusterInstancetype",
        source,
    )
    .await?;
    let preference = find_spec(
        api,
        ns,
        preference_matcher.as_ref(),
        "VirtualMachineClusterPreference",
        source,
    )
    .await?;
    apply(&mut vm, instancetype.as_ref(), preference.as_ref()).map_err(|e| source.error(e))?;
    Ok(vm)
}

/// `GET .../virtualmachines/{name}/expand-spec`.
pub(crate) async fn expand_spec(ctx: &Ctx) -> Result<Response, SubresourceError> {
    let scope = ctx
        .api()
        .scope(
            api::keys::GROUP,
            api::keys::VERSION,
            "virtualmachines",
            Some(&ctx.ns),
        )
        .map_err(|e| SubresourceError::Internal(e.to_string()))?;
    let vm = ctx
        .api()
        .get(&scope, ctx.name())
        .await
        .map_err(|e| match e {
            ApiError::NotFound(_) => SubresourceError::not_found(super::Kind::Vm, ctx.name()),
            e => SubresourceError::Internal(e.to_string()),
        })?;
    let expanded = expand(ctx.api(), &ctx.ns, vm, Source::Stored).await?;
    Ok(json_response(StatusCode::OK, &expanded))
}

/// `PUT .../namespaces/{ns}/expand-vm-spec` with a VirtualMachine body.
pub(crate) async fn expand_vm_spec(
    api: &Api,
    ns: &str,
    body: Body,
) -> Result<Response, SubresourceError> {
    let bytes = axum::body::to_bytes(body, super::MAX_BODY)
        .await
        .map_err(|e| SubresourceError::BadRequest(e.to_string()))?;
    if bytes.is_empty() {
        return Err(SubresourceError::BadRequest("empty request body".into()));
    }
    let mut vm: Value =
        serde_json::from_slice(&bytes).map_err(|e| SubresourceError::Body(e.to_string()))?;
    if !vm.is_object() {
        return Err(SubresourceError::Body(
            "the body is not a JSON object".into(),
        ));
    }
    if let Err(e) = serde_json::from_value::<api::VirtualMachine>(vm.clone()) {
        return Err(SubresourceError::BadRequest(format!(
            "Object is not a valid VirtualMachine: {e}"
        )));
    }
    match vm.pointer("/metadata/namespace").and_then(Value::as_str) {
        Some(given) if !given.is_empty() && given != ns => {
            return Err(SubresourceError::BadRequest(format!(
                "VM namespace must be empty or {ns}"
            )));
        }
        _ => {}
    }
    if let Some(meta) = vm.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("namespace".into(), json!(ns));
    }
    let expanded = expand(api, ns, vm, Source::Posted).await?;
    Ok(json_response(StatusCode::OK, &expanded))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vm(domain: Value) -> Value {
        json!({
            "metadata": {"name": "vm"},
            "spec": {
                "instancetype": {"name": "u1.small"},
                "preference": {"name": "fedora"},
                "template": {"spec": {"domain": domain}},
            },
            "status": {"instancetypeRef": {"name": "u1.small"}},
        })
    }

    #[test]
    fn instancetype_cpu_and_memory_fill_the_template_and_matchers_go() {
        let mut vm = vm(json!({"devices": {}}));
        let it = json!({"cpu": {"guest": 2}, "memory": {"guest": "1Gi"}});
        apply(&mut vm, Some(&it), None).unwrap();
        let domain = &vm["spec"]["template"]["spec"]["domain"];
        assert_eq!(
            domain["cpu"],
            json!({"sockets": 2, "cores": 1, "threads": 1})
        );
        assert_eq!(domain["memory"]["guest"], "1Gi");
        assert!(vm["spec"].get("instancetype").is_none());
        assert!(vm["spec"].get("preference").is_none());
        assert!(vm["status"].get("instancetypeRef").is_none());
    }

    #[test]
    fn preferred_topology_lays_out_the_vcpus() {
        let mut vm = vm(json!({}));
        let it = json!({"cpu": {"guest": 4}});
        let pref = json!({"cpu": {"preferredCPUTopology": "preferCores"}});
        apply(&mut vm, Some(&it), Some(&pref)).unwrap();
        assert_eq!(
            vm["spec"]["template"]["spec"]["domain"]["cpu"],
            json!({"sockets": 1, "cores": 4, "threads": 1})
        );
    }

    #[test]
    fn a_template_field_the_instancetype_provides_is_a_conflict() {
        let mut vm = vm(json!({"cpu": {"sockets": 1}, "memory": {"guest": "2Gi"}}));
        let it = json!({"cpu": {"guest": 2}, "memory": {"guest": "1Gi"}});
        let err = apply(&mut vm, Some(&it), None).unwrap_err();
        assert!(
            err.contains("spec.template.spec.domain.cpu.sockets"),
            "{err}"
        );
        assert!(
            err.contains("spec.template.spec.domain.memory.guest"),
            "{err}"
        );
    }

    #[test]
    fn matcher_kinds_default_to_the_cluster_kinds() {
        assert_eq!(
            plural_of(None, "VirtualMachineClusterInstancetype"),
            Some(("virtualmachineclusterinstancetypes", false))
        );
        assert_eq!(
            plural_of(Some("VirtualMachinePreference"), "x"),
            Some(("virtualmachinepreferences", true))
        );
        assert_eq!(plural_of(Some("Pod"), "x"), None);
    }
}
