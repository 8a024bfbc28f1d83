//! The generated CRDs: names, scope, versions, columns, subresources, and schemas that keep every
//! field of every example.

mod common;

use std::sync::LazyLock;

use anyhow::{Context, Result, ensure};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceColumnDefinition, CustomResourceDefinition, CustomResourceDefinitionVersion,
};
use serde_json::{Value, json};

use common::{OWN_KINDS, all_v1_manifests, manifests, schema_violations};

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

fn storage_version(crd: &CustomResourceDefinition) -> Result<&CustomResourceDefinitionVersion> {
    crd.spec
        .versions
        .iter()
        .find(|v| v.storage)
        .context("no storage version")
}

/// The four core kinds.
fn core_crds() -> impl Iterator<Item = &'static CustomResourceDefinition> {
    CRDS.iter().filter(|crd| {
        crd.spec.group == "kubevirt.io" && OWN_KINDS.contains(&crd.spec.names.kind.as_str())
    })
}

/// (name, type, jsonPath, priority) of each printer column of the storage version.
fn columns(crd: &CustomResourceDefinition) -> Result<Vec<(String, String, String, i32)>> {
    let cols: &[CustomResourceColumnDefinition] = storage_version(crd)?
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
fn crds_with_upstream_names_in_order() {
    let names: Vec<_> = CRDS
        .iter()
        .map(|crd| {
            let n = &crd.spec.names;
            [
                crd.metadata.name.clone().unwrap_or_default(),
                n.plural.clone(),
                n.singular.clone().unwrap_or_default(),
                n.short_names.clone().unwrap_or_default().join(","),
            ]
        })
        .collect();
    let expected = [
        [
            "virtualmachines.kubevirt.io",
            "virtualmachines",
            "virtualmachine",
            "vm,vms",
        ],
        [
            "virtualmachineinstances.kubevirt.io",
            "virtualmachineinstances",
            "virtualmachineinstance",
            "vmi,vmis",
        ],
        [
            "virtualmachineinstancereplicasets.kubevirt.io",
            "virtualmachineinstancereplicasets",
            "virtualmachineinstancereplicaset",
            "vmirs,vmirss",
        ],
        [
            "virtualmachineinstancemigrations.kubevirt.io",
            "virtualmachineinstancemigrations",
            "virtualmachineinstancemigration",
            "vmim,vmims",
        ],
        [
            "virtualmachineinstancepresets.kubevirt.io",
            "virtualmachineinstancepresets",
            "virtualmachineinstancepreset",
            "vmipreset,vmipresets",
        ],
        [
            "virtualmachinepools.pool.kubevirt.io",
            "virtualmachinepools",
            "virtualmachinepool",
            "vmpool,vmpools",
        ],
        [
            "virtualmachineinstancetypes.instancetype.kubevirt.io",
            "virtualmachineinstancetypes",
            "virtualmachineinstancetype",
            "vminstancetype,vminstancetypes,vmf,vmfs",
        ],
        [
            "virtualmachineclusterinstancetypes.instancetype.kubevirt.io",
            "virtualmachineclusterinstancetypes",
            "virtualmachineclusterinstancetype",
            "vmclusterinstancetype,vmclusterinstancetypes,vmcf,vmcfs",
        ],
        [
            "virtualmachinepreferences.instancetype.kubevirt.io",
            "virtualmachinepreferences",
            "virtualmachinepreference",
            "vmpref,vmprefs,vmp,vmps",
        ],
        [
            "virtualmachineclusterpreferences.instancetype.kubevirt.io",
            "virtualmachineclusterpreferences",
            "virtualmachineclusterpreference",
            "vmcp,vmcps",
        ],
        [
            "migrationpolicies.migrations.kubevirt.io",
            "migrationpolicies",
            "migrationpolicy",
            "",
        ],
        [
            "datavolumes.cdi.kubevirt.io",
            "datavolumes",
            "datavolume",
            "dv,dvs",
        ],
        [
            "datasources.cdi.kubevirt.io",
            "datasources",
            "datasource",
            "das",
        ],
    ]
    .map(|row| row.map(str::to_owned));
    assert_eq!(names, expected);
}

#[test]
fn scope_categories_and_labels_are_upstream() {
    let rows: Vec<_> = CRDS
        .iter()
        .map(|crd| {
            let labels = crd.metadata.labels.clone().unwrap_or_default();
            (
                crd.spec.names.kind.as_str(),
                crd.spec.scope.as_str(),
                crd.spec
                    .names
                    .categories
                    .clone()
                    .unwrap_or_default()
                    .join(","),
                labels
                    .into_iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(","),
            )
        })
        .map(|(k, s, c, l)| format!("{k} {s} [{c}] {l}"))
        .collect();
    assert_eq!(
        rows,
        [
            "VirtualMachine Namespaced [all] kubevirt.io=",
            "VirtualMachineInstance Namespaced [all] kubevirt.io=",
            "VirtualMachineInstanceReplicaSet Namespaced [all] kubevirt.io=",
            "VirtualMachineInstanceMigration Namespaced [all] kubevirt.io=",
            "VirtualMachineInstancePreset Namespaced [all] kubevirt.io=",
            "VirtualMachinePool Namespaced [all] kubevirt.io=",
            "VirtualMachineInstancetype Namespaced [all] kubevirt.io=",
            "VirtualMachineClusterInstancetype Cluster [] kubevirt.io=",
            "VirtualMachinePreference Namespaced [all] kubevirt.io=",
            "VirtualMachineClusterPreference Cluster [] kubevirt.io=",
            "MigrationPolicy Cluster [] kubevirt.io=",
            "DataVolume Namespaced [all] cdi.kubevirt.io=",
            "DataSource Namespaced [all] cdi.kubevirt.io=",
        ]
    );
}

/// (name, served, storage, deprecation warning) of a version.
type VersionRow = (String, bool, bool, Option<String>);

/// The rows of each version of the kind.
fn versions(kind: &str) -> Result<Vec<VersionRow>> {
    let crd = crd_for(kind)?;
    let mut out = Vec::new();
    for v in &crd.spec.versions {
        assert_eq!(
            v.deprecated.unwrap_or(false),
            v.deprecation_warning.is_some(),
            "{kind}"
        );
        out.push((
            v.name.clone(),
            v.served,
            v.storage,
            v.deprecation_warning.clone(),
        ));
    }
    Ok(out)
}

fn ver(name: &str, storage: bool, warning: Option<&str>) -> VersionRow {
    (name.into(), true, storage, warning.map(str::to_owned))
}

#[test]
fn added_kinds_keep_their_upstream_versions() -> Result<()> {
    assert_eq!(
        versions("VirtualMachineInstancePreset")?,
        [
            ver(
                "v1",
                false,
                Some(
                    "kubevirt.io/v1 VirtualMachineInstancePresets is now deprecated and will be removed in v2."
                )
            ),
            ver(
                "v1alpha3",
                true,
                Some(
                    "kubevirt.io/v1alpha3 VirtualMachineInstancePresets is now deprecated and will be removed in v2."
                )
            ),
        ]
    );
    assert_eq!(
        versions("VirtualMachinePool")?,
        [ver("v1alpha1", false, None), ver("v1beta1", true, None)]
    );
    for kind in [
        "VirtualMachineInstancetype",
        "VirtualMachineClusterInstancetype",
        "VirtualMachinePreference",
        "VirtualMachineClusterPreference",
    ] {
        assert_eq!(versions(kind)?, [ver("v1beta1", true, None)], "{kind}");
        let conversion = crd_for(kind)?.spec.conversion.context("no conversion")?;
        assert_eq!(conversion.strategy, "None");
    }
    assert_eq!(versions("MigrationPolicy")?, [ver("v1alpha1", true, None)]);
    assert_eq!(versions("DataVolume")?, [ver("v1beta1", true, None)]);
    assert_eq!(versions("DataSource")?, [ver("v1beta1", true, None)]);
    Ok(())
}

#[test]
fn versions_of_one_kind_share_schema_columns_and_subresources() -> Result<()> {
    for crd in CRDS.iter() {
        let first = &crd.spec.versions[0];
        for other in &crd.spec.versions[1..] {
            let kind = &crd.spec.names.kind;
            assert_eq!(other.schema, first.schema, "{kind}");
            assert_eq!(
                other.additional_printer_columns, first.additional_printer_columns,
                "{kind}"
            );
            assert_eq!(other.subresources, first.subresources, "{kind}");
        }
    }
    Ok(())
}

#[test]
fn v1_is_storage_and_v1alpha3_is_deprecated_with_the_same_schema() -> Result<()> {
    for crd in core_crds() {
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
    let served: Vec<_> = all_v1_manifests()?
        .into_iter()
        .filter(|m| m.is_crd_kind())
        .collect();
    ensure!(served.iter().any(|m| m.is_added_kind()));
    let mut failures = Vec::new();
    for manifest in &served {
        let crd = crd_for(manifest.kind())?;
        ensure!(crd.spec.group == manifest.group(), "{}", manifest.name);
        for version in &crd.spec.versions {
            let violations = schema_violations(&manifest.json, &schema_of(&crd, &version.name)?);
            if !violations.is_empty() {
                failures.push(format!(
                    "{} ({}): {violations:?}",
                    manifest.name, version.name
                ));
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
fn data_volume_templates_are_not_pruned_by_the_data_volume_schema() -> Result<()> {
    let schema = schema_of(&crd_for("DataVolume")?, "v1beta1")?;
    let mut checked = 0;
    for vm in all_v1_manifests()?
        .iter()
        .filter(|m| m.kind() == "VirtualMachine")
    {
        for template in vm.json["spec"]["dataVolumeTemplates"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let dv = json!({"metadata": template["metadata"], "spec": template["spec"]});
            assert_eq!(
                schema_violations(&dv, &schema),
                Vec::<String>::new(),
                "{}",
                vm.name
            );
            checked += 1;
        }
    }
    ensure!(checked > 0, "no example has a DataVolume template");
    let mut unknown = json!({"spec": {"source": {"blank": {}}, "futureField": 1}});
    assert_eq!(
        schema_violations(&unknown, &schema),
        ["pruned .spec.futureField"]
    );
    unknown["status"] = json!({"phase": "Succeeded", "progress": "100.0%", "restartCount": 0});
    assert_eq!(
        schema_violations(&unknown, &schema),
        ["pruned .spec.futureField"]
    );
    Ok(())
}

#[test]
fn instancetype_spec_requires_cpu_and_memory_guests() -> Result<()> {
    for kind in [
        "VirtualMachineInstancetype",
        "VirtualMachineClusterInstancetype",
    ] {
        let schema = schema_of(&crd_for(kind)?, "v1beta1")?;
        assert_eq!(schema["required"], json!(["spec"]), "{kind}");
        let spec = &schema["properties"]["spec"];
        assert_eq!(spec["required"], json!(["cpu", "memory"]), "{kind}");
        assert_eq!(spec["properties"]["cpu"]["required"], json!(["guest"]));
        assert_eq!(spec["properties"]["memory"]["required"], json!(["guest"]));
        let overcommit = &spec["properties"]["memory"]["properties"]["overcommitPercent"];
        assert_eq!(overcommit["minimum"].as_f64(), Some(0.0));
        assert_eq!(overcommit["maximum"].as_f64(), Some(100.0));
        assert_eq!(
            spec["properties"]["cpu"]["properties"]["dedicatedCPUPlacement"]["type"],
            "boolean"
        );
    }
    Ok(())
}

#[test]
fn added_kinds_have_upstream_columns_and_subresources() -> Result<()> {
    let pool = crd_for("VirtualMachinePool")?;
    assert_eq!(
        columns(&pool)?,
        [
            col("Desired", "integer", ".spec.replicas", 0),
            col("Current", "integer", ".status.replicas", 0),
            col("Ready", "integer", ".status.readyReplicas", 0),
            col("Age", "date", ".metadata.creationTimestamp", 0),
        ]
    );
    let sub = storage_version(&pool)?
        .subresources
        .clone()
        .context("a pool has subresources")?;
    assert!(sub.status.is_some());
    let scale = sub.scale.context("no scale subresource")?;
    assert_eq!(
        (
            scale.spec_replicas_path.as_str(),
            scale.status_replicas_path.as_str()
        ),
        (".spec.replicas", ".status.replicas")
    );
    assert_eq!(
        scale.label_selector_path.as_deref(),
        Some(".status.labelSelector")
    );

    let dv = crd_for("DataVolume")?;
    assert_eq!(
        columns(&dv)?,
        [
            col("Phase", "string", ".status.phase", 0),
            col("Progress", "string", ".status.progress", 0),
            col("Restarts", "integer", ".status.restartCount", 0),
            col("Age", "date", ".metadata.creationTimestamp", 0),
        ]
    );
    let sub = storage_version(&dv)?
        .subresources
        .clone()
        .context("a DataVolume has subresources")?;
    assert!(sub.status.is_some() && sub.scale.is_none());

    let policy = storage_version(&crd_for("MigrationPolicy")?)?.clone();
    assert!(
        policy
            .subresources
            .is_some_and(|s| s.status.is_some() && s.scale.is_none())
    );

    for kind in [
        "VirtualMachineInstancePreset",
        "VirtualMachineInstancetype",
        "VirtualMachineClusterInstancetype",
        "VirtualMachinePreference",
        "VirtualMachineClusterPreference",
        "MigrationPolicy",
        "DataSource",
    ] {
        let crd = crd_for(kind)?;
        assert_eq!(columns(&crd)?, [], "{kind}");
        if kind != "MigrationPolicy" {
            for version in &crd.spec.versions {
                assert!(version.subresources.is_none(), "{kind}");
            }
        }
    }
    Ok(())
}

#[test]
fn root_descriptions_are_upstream() -> Result<()> {
    let root = |kind: &str| -> Result<Value> {
        schema_of(&crd_for(kind)?, &storage_version(&crd_for(kind)?)?.name)
    };
    let pool = root("VirtualMachinePool")?;
    assert!(
        pool["description"]
            .as_str()
            .is_some_and(|d| d.starts_with("VirtualMachinePool resource contains"))
    );
    assert!(pool["properties"]["spec"].get("description").is_none());
    let dv = root("DataVolume")?;
    assert_eq!(
        dv["properties"]["spec"]["description"],
        "DataVolumeSpec defines the DataVolume type specification"
    );
    assert_eq!(
        dv["properties"]["status"]["description"],
        "DataVolumeStatus contains the current status of the DataVolume"
    );
    let preset = root("VirtualMachineInstancePreset")?;
    assert!(
        preset.get("required").is_none(),
        "upstream presets do not require a spec"
    );
    assert!(
        preset["description"]
            .as_str()
            .is_some_and(|d| d.starts_with("Deprecated for removal in v2"))
    );
    let cluster = root("VirtualMachineClusterInstancetype")?;
    assert_eq!(
        cluster["properties"]["spec"]["description"],
        "Required spec describing the instancetype"
    );
    assert_eq!(
        cluster["description"],
        "VirtualMachineClusterInstancetype is a cluster scoped version of VirtualMachineInstancetype resource."
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
        untyped(&schema_of(crd, &storage_version(crd)?.name)?, "", &mut out);
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
fn crd_yaml_parses_back_into_every_crd() -> Result<()> {
    let yaml = api::crd_yaml();
    assert!(yaml.starts_with("---\n"));
    assert_eq!(yaml.matches("\n---\n").count() + 1, 13);
    let parsed: Vec<CustomResourceDefinition> = serde_saphyr::from_multiple(&yaml)?;
    assert_eq!(parsed, *CRDS);
    Ok(())
}
