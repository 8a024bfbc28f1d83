//! The generated CRDs: names, versions, columns, subresources, and schemas that keep every field
//! of every example.

mod common;

use std::sync::LazyLock;

use anyhow::{Context, Result, ensure};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceColumnDefinition, CustomResourceDefinition, CustomResourceDefinitionVersion,
};
use serde_json::{Value, json};

use common::{Manifest, all_v1_manifests, manifests, schema_violations};

/// Generating the schemas is slow in debug builds; do it once per test binary.
static CRDS: LazyLock<Vec<CustomResourceDefinition>> = LazyLock::new(api::crds);

fn crd_for(kind: &str) -> Result<CustomResourceDefinition> {
    CRDS.iter()
        .find(|crd| crd.spec.names.kind == kind)
        .cloned()
        .with_context(|| format!("no CRD for {kind}"))
}

fn version<'a>(
    crd: &'a CustomResourceDefinition,
    name: &str,
) -> Result<&'a CustomResourceDefinitionVersion> {
    crd.spec
        .versions
        .iter()
        .find(|v| v.name == name)
        .with_context(|| format!("no {name}"))
}

fn schema_of(crd: &CustomResourceDefinition, name: &str) -> Result<Value> {
    let schema = version(crd, name)?
        .schema
        .as_ref()
        .and_then(|s| s.open_api_v3_schema.as_ref())
        .context("version without schema")?;
    Ok(serde_json::to_value(schema)?)
}

/// (name, type, jsonPath, priority) of each printer column.
fn columns(crd: &CustomResourceDefinition) -> Result<Vec<(String, String, String, i32)>> {
    let cols: &[CustomResourceColumnDefinition] = version(crd, "v1")?
        .additional_printer_columns
        .as_deref()
        .unwrap_or_default();
    Ok(cols
        .iter()
        .map(|c| {
            (
                c.name.clone(),
                c.type_.clone(),
                c.json_path.clone(),
                c.priority.unwrap_or(0),
            )
        })
        .collect())
}

fn col(name: &str, ty: &str, path: &str, priority: i32) -> (String, String, String, i32) {
    (name.into(), ty.into(), path.into(), priority)
}

#[test]
fn four_crds_with_upstream_names() {
    let names: Vec<_> = CRDS
        .iter()
        .map(|crd| {
            let n = &crd.spec.names;
            (
                crd.metadata.name.clone().unwrap_or_default(),
                n.plural.clone(),
                n.singular.clone().unwrap_or_default(),
                n.short_names.clone().unwrap_or_default().join(","),
            )
        })
        .collect();
    let expected = [
        (
            "virtualmachines.kubevirt.io",
            "virtualmachines",
            "virtualmachine",
            "vm,vms",
        ),
        (
            "virtualmachineinstances.kubevirt.io",
            "virtualmachineinstances",
            "virtualmachineinstance",
            "vmi,vmis",
        ),
        (
            "virtualmachineinstancereplicasets.kubevirt.io",
            "virtualmachineinstancereplicasets",
            "virtualmachineinstancereplicaset",
            "vmirs,vmirss",
        ),
        (
            "virtualmachineinstancemigrations.kubevirt.io",
            "virtualmachineinstancemigrations",
            "virtualmachineinstancemigration",
            "vmim,vmims",
        ),
    ]
    .map(|(a, b, c, d)| (a.to_owned(), b.to_owned(), c.to_owned(), d.to_owned()));
    assert_eq!(names, expected);
}

#[test]
fn every_crd_is_namespaced_in_category_all_with_the_kubevirt_label() {
    for crd in CRDS.iter() {
        assert_eq!(crd.spec.group, "kubevirt.io");
        assert_eq!(crd.spec.scope, "Namespaced");
        assert_eq!(crd.spec.names.categories, Some(vec!["all".to_owned()]));
        let labels = crd.metadata.labels.clone().unwrap_or_default();
        assert_eq!(labels.get("kubevirt.io").map(String::as_str), Some(""));
        assert_eq!(labels.len(), 1);
    }
}

#[test]
fn v1_is_storage_and_v1alpha3_is_deprecated_with_the_same_schema() -> Result<()> {
    for crd in CRDS.iter() {
        let names: Vec<_> = crd.spec.versions.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["v1", "v1alpha3"]);
        let v1 = version(crd, "v1")?;
        assert!(v1.served && v1.storage);
        assert_eq!(v1.deprecated, None);
        let old = version(crd, "v1alpha3")?;
        assert!(old.served && !old.storage);
        assert_eq!(old.deprecated, Some(true));
        assert_eq!(
            old.deprecation_warning.as_deref(),
            Some("kubevirt.io/v1alpha3 is now deprecated and will be removed in a future release.")
        );
        assert_eq!(old.schema, v1.schema);
        assert_eq!(
            old.additional_printer_columns,
            v1.additional_printer_columns
        );
        assert_eq!(old.subresources, v1.subresources);
    }
    Ok(())
}

#[test]
fn virtual_machine_columns_and_status_subresource() -> Result<()> {
    let crd = crd_for("VirtualMachine")?;
    assert_eq!(
        columns(&crd)?,
        [
            col("Age", "date", ".metadata.creationTimestamp", 0),
            col("Status", "string", ".status.printableStatus", 0),
            col(
                "Ready",
                "string",
                ".status.conditions[?(@.type=='Ready')].status",
                0
            ),
        ]
    );
    let sub = version(&crd, "v1")?
        .subresources
        .clone()
        .context("no subresources")?;
    assert!(sub.status.is_some());
    assert!(sub.scale.is_none());
    Ok(())
}

#[test]
fn virtual_machine_instance_columns_and_no_subresources() -> Result<()> {
    let crd = crd_for("VirtualMachineInstance")?;
    assert_eq!(
        columns(&crd)?,
        [
            col("Age", "date", ".metadata.creationTimestamp", 0),
            col("Phase", "string", ".status.phase", 0),
            col("IP", "string", ".status.interfaces[0].ipAddress", 0),
            col("NodeName", "string", ".status.nodeName", 0),
            col(
                "Ready",
                "string",
                ".status.conditions[?(@.type=='Ready')].status",
                0
            ),
            col(
                "Live-Migratable",
                "string",
                ".status.conditions[?(@.type=='LiveMigratable')].status",
                1
            ),
            col(
                "Paused",
                "string",
                ".status.conditions[?(@.type=='Paused')].status",
                1
            ),
        ]
    );
    assert!(version(&crd, "v1")?.subresources.is_none());
    assert!(version(&crd, "v1alpha3")?.subresources.is_none());
    Ok(())
}

#[test]
fn replica_set_columns_and_scale_subresource() -> Result<()> {
    let crd = crd_for("VirtualMachineInstanceReplicaSet")?;
    assert_eq!(
        columns(&crd)?,
        [
            col("Desired", "integer", ".spec.replicas", 0),
            col("Current", "integer", ".status.replicas", 0),
            col("Ready", "integer", ".status.readyReplicas", 0),
            col("Age", "date", ".metadata.creationTimestamp", 0),
        ]
    );
    let sub = version(&crd, "v1")?
        .subresources
        .clone()
        .context("no subresources")?;
    assert!(sub.status.is_some());
    let scale = sub.scale.context("no scale subresource")?;
    assert_eq!(scale.spec_replicas_path, ".spec.replicas");
    assert_eq!(scale.status_replicas_path, ".status.replicas");
    assert_eq!(
        scale.label_selector_path.as_deref(),
        Some(".status.labelSelector")
    );
    Ok(())
}

#[test]
fn migration_columns_and_status_subresource() -> Result<()> {
    let crd = crd_for("VirtualMachineInstanceMigration")?;
    assert_eq!(
        columns(&crd)?,
        [
            col("Phase", "string", ".status.phase", 0),
            col("VMI", "string", ".spec.vmiName", 0)
        ]
    );
    let sub = version(&crd, "v1")?
        .subresources
        .clone()
        .context("no subresources")?;
    assert!(sub.status.is_some() && sub.scale.is_none());
    Ok(())
}

#[test]
fn no_example_field_is_pruned_by_the_schema_of_its_kind() -> Result<()> {
    let own: Vec<Manifest> = all_v1_manifests()?
        .into_iter()
        .filter(Manifest::is_own_kind)
        .collect();
    ensure!(!own.is_empty());
    let mut failures = Vec::new();
    for manifest in &own {
        let crd = crd_for(manifest.kind())?;
        for version in ["v1", "v1alpha3"] {
            let violations = schema_violations(&manifest.json, &schema_of(&crd, version)?);
            if !violations.is_empty() {
                failures.push(format!("{} ({version}): {violations:?}", manifest.name));
            }
        }
    }
    ensure!(
        failures.is_empty(),
        "schema violations:\n{}",
        failures.join("\n")
    );
    Ok(())
}

#[test]
fn fields_unknown_to_v1_are_pruned() -> Result<()> {
    let old = manifests("not-v1")?;
    let manifest = old.first().context("the v1alpha2 example is missing")?;
    let schema = schema_of(&crd_for("VirtualMachine")?, "v1")?;
    assert_eq!(
        schema_violations(&manifest.json, &schema),
        [
            "pruned .spec.template.spec.domain.devices.disks[0].volumeName",
            "pruned .spec.template.spec.domain.devices.disks[1].volumeName",
        ]
    );
    Ok(())
}

#[test]
fn template_metadata_and_clock_keep_unknown_fields() -> Result<()> {
    let schema = schema_of(&crd_for("VirtualMachine")?, "v1")?;
    let vm = json!({
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachine",
        "metadata": {"name": "x"},
        "spec": {"template": {
            "metadata": {"labels": {"a": "b"}, "anything": {"nested": 1}},
            "spec": {"domain": {"devices": {}, "clock": {"utc": {}, "futureField": true}}},
        }},
    });
    assert_eq!(schema_violations(&vm, &schema), Vec::<String>::new());
    let mut bad = vm.clone();
    bad["spec"]["template"]["spec"]["domain"]["devices"]["futureField"] = json!(true);
    assert_eq!(
        schema_violations(&bad, &schema),
        ["pruned .spec.template.spec.domain.devices.futureField"]
    );
    Ok(())
}

#[test]
fn quantities_accept_integers_and_strings() -> Result<()> {
    let schema = schema_of(&crd_for("VirtualMachineInstance")?, "v1")?;
    let requests = &schema["properties"]["spec"]["properties"]["domain"]["properties"]["resources"]
        ["properties"]["requests"]["additionalProperties"];
    assert_eq!(requests["x-kubernetes-int-or-string"], true);
    assert_eq!(
        requests["anyOf"],
        json!([{"type": "integer"}, {"type": "string"}])
    );
    assert_eq!(requests["pattern"], api::QUANTITY_PATTERN);
    let vmi = json!({
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachineInstance",
        "spec": {"domain": {"devices": {}, "resources": {"requests": {"cpu": 2, "memory": "1Gi"}}}},
    });
    assert_eq!(schema_violations(&vmi, &schema), Vec::<String>::new());
    Ok(())
}

#[test]
fn every_schema_node_is_structural() -> Result<()> {
    // Structural: every node has a type, except int-or-string and preserve-unknown-fields nodes.
    fn untyped(node: &Value, path: &str, out: &mut Vec<String>) {
        let Some(map) = node.as_object() else { return };
        let exempt = map.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true))
            || map.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
        if !exempt && !map.contains_key("type") {
            out.push(path.to_owned());
        }
        if let Some(props) = map.get("properties").and_then(Value::as_object) {
            for (k, v) in props {
                untyped(v, &format!("{path}.{k}"), out);
            }
        }
        for key in ["items", "additionalProperties"] {
            if let Some(child) = map.get(key) {
                untyped(child, &format!("{path}[{key}]"), out);
            }
        }
    }
    for crd in CRDS.iter() {
        let mut out = Vec::new();
        untyped(&schema_of(crd, "v1")?, "", &mut out);
        assert_eq!(out, Vec::<String>::new(), "{}", crd.spec.names.kind);
    }
    Ok(())
}

#[test]
fn printable_status_defaults_to_stopped() -> Result<()> {
    let schema = schema_of(&crd_for("VirtualMachine")?, "v1")?;
    let printable = &schema["properties"]["status"]["properties"]["printableStatus"];
    assert_eq!(printable["default"], "Stopped");
    assert!(
        printable["enum"]
            .as_array()
            .is_some_and(|v| v.contains(&json!("CrashLoopBackOff")))
    );
    Ok(())
}

#[test]
fn field_documentation_becomes_the_schema_description() -> Result<()> {
    let schema = schema_of(&crd_for("VirtualMachine")?, "v1")?;
    let run_strategy = &schema["properties"]["spec"]["properties"]["runStrategy"]["description"];
    assert!(
        run_strategy
            .as_str()
            .is_some_and(|d| d.starts_with("Running state indicates")),
        "{run_strategy}"
    );
    Ok(())
}

#[test]
fn crd_yaml_parses_back_into_the_four_crds() -> Result<()> {
    let yaml = api::crd_yaml();
    assert!(yaml.starts_with("---\n"));
    assert_eq!(yaml.matches("\n---\n").count() + 1, 4);
    let parsed: Vec<CustomResourceDefinition> = serde_saphyr::from_multiple(&yaml)?;
    assert_eq!(parsed, *CRDS);
    Ok(())
}
