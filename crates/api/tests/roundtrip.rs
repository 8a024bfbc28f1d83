//! Every example manifest of the kinds this crate types decodes into its typed struct and
//! encodes back to the same JSON: no field is lost or invented.

mod common;

use anyhow::{Context, Result, bail, ensure};
use api::{
    DataSource, DataVolume, MigrationPolicy, VirtualMachine, VirtualMachineClusterInstancetype,
    VirtualMachineClusterPreference, VirtualMachineInstance, VirtualMachineInstanceMigration,
    VirtualMachineInstancePreset, VirtualMachineInstanceReplicaSet, VirtualMachineInstancetype,
    VirtualMachinePool, VirtualMachinePreference,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use common::{Manifest, all_v1_manifests, manifests, without_null_creation_timestamps};

/// Decodes the YAML text into `T` and encodes it as JSON.
fn typed_round_trip<T: DeserializeOwned + Serialize>(manifest: &Manifest) -> Result<Value> {
    let typed: T = serde_saphyr::from_str(&manifest.yaml)
        .with_context(|| format!("{} does not decode", manifest.name))?;
    Ok(serde_json::to_value(&typed)?)
}

fn round_trip(manifest: &Manifest) -> Result<Value> {
    match (manifest.group(), manifest.kind()) {
        ("kubevirt.io", "VirtualMachine") => typed_round_trip::<VirtualMachine>(manifest),
        ("kubevirt.io", "VirtualMachineInstance") => {
            typed_round_trip::<VirtualMachineInstance>(manifest)
        }
        ("kubevirt.io", "VirtualMachineInstanceReplicaSet") => {
            typed_round_trip::<VirtualMachineInstanceReplicaSet>(manifest)
        }
        ("kubevirt.io", "VirtualMachineInstanceMigration") => {
            typed_round_trip::<VirtualMachineInstanceMigration>(manifest)
        }
        ("kubevirt.io", "VirtualMachineInstancePreset") => {
            typed_round_trip::<VirtualMachineInstancePreset>(manifest)
        }
        ("pool.kubevirt.io", "VirtualMachinePool") => {
            typed_round_trip::<VirtualMachinePool>(manifest)
        }
        ("instancetype.kubevirt.io", "VirtualMachineInstancetype") => {
            typed_round_trip::<VirtualMachineInstancetype>(manifest)
        }
        ("instancetype.kubevirt.io", "VirtualMachineClusterInstancetype") => {
            typed_round_trip::<VirtualMachineClusterInstancetype>(manifest)
        }
        ("instancetype.kubevirt.io", "VirtualMachinePreference") => {
            typed_round_trip::<VirtualMachinePreference>(manifest)
        }
        ("instancetype.kubevirt.io", "VirtualMachineClusterPreference") => {
            typed_round_trip::<VirtualMachineClusterPreference>(manifest)
        }
        ("migrations.kubevirt.io", "MigrationPolicy") => {
            typed_round_trip::<MigrationPolicy>(manifest)
        }
        ("cdi.kubevirt.io", "DataVolume") => typed_round_trip::<DataVolume>(manifest),
        ("cdi.kubevirt.io", "DataSource") => typed_round_trip::<DataSource>(manifest),
        (_, other) => bail!(
            "{} has kind {other}, which this crate does not type",
            manifest.name
        ),
    }
}

/// Round-trips every manifest and lists those whose JSON changed.
fn round_trip_failures(manifests: &[Manifest]) -> Result<Vec<String>> {
    let mut failures = Vec::new();
    for manifest in manifests {
        let expected = as_v1(without_null_creation_timestamps(manifest.json.clone()));
        let actual = round_trip(manifest)?;
        if actual != expected {
            failures.push(format!(
                "{}:\n expected {}\n actual   {}",
                manifest.name,
                serde_json::to_string(&expected)?,
                serde_json::to_string(&actual)?
            ));
        }
    }
    Ok(failures)
}

/// The typed encoding of a `kubevirt.io` kind always says `kubevirt.io/v1`; the examples may use
/// the older version. The other kinds' examples use the version their type encodes.
fn as_v1(mut json: Value) -> Value {
    if json["apiVersion"] == "kubevirt.io/v1alpha3" {
        json["apiVersion"] = "kubevirt.io/v1".into();
    }
    json
}

/// Checks that at least `at_least` examples pass `filter` and that each round-trips unchanged.
fn examples_round_trip(filter: fn(&Manifest) -> bool, what: &str, at_least: usize) -> Result<()> {
    let examples: Vec<_> = all_v1_manifests()?.into_iter().filter(filter).collect();
    ensure!(
        examples.len() >= at_least,
        "only {} examples of {what} were found",
        examples.len()
    );
    let failures = round_trip_failures(&examples)?;
    ensure!(
        failures.is_empty(),
        "examples changed in a round trip:\n{}",
        failures.join("\n")
    );
    Ok(())
}

#[test]
fn every_example_of_the_four_kinds_round_trips_without_loss() -> Result<()> {
    examples_round_trip(Manifest::is_own_kind, "the four kinds", 40)
}

#[test]
fn every_example_of_the_added_kinds_round_trips_without_loss() -> Result<()> {
    examples_round_trip(Manifest::is_added_kind, "the added kinds", 11)
}

#[test]
fn data_volume_templates_round_trip_as_data_volumes() -> Result<()> {
    let mut templates = 0;
    for vm in all_v1_manifests()?
        .iter()
        .filter(|m| m.kind() == "VirtualMachine")
    {
        for template in vm.json["spec"]["dataVolumeTemplates"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let object = json!({
                "apiVersion": "cdi.kubevirt.io/v1beta1",
                "kind": "DataVolume",
                "metadata": template["metadata"],
                "spec": template["spec"],
            });
            let dv: DataVolume = serde_json::from_value(object.clone())
                .with_context(|| format!("a template of {} is not a DataVolume", vm.name))?;
            assert_eq!(serde_json::to_value(&dv)?, object, "{}", vm.name);
            templates += 1;
        }
    }
    ensure!(templates > 0, "no example has a DataVolume template");
    Ok(())
}

#[test]
fn every_kind_is_covered_by_an_example() -> Result<()> {
    let manifests = all_v1_manifests()?;
    for kind in common::OWN_KINDS {
        ensure!(
            manifests
                .iter()
                .any(|m| m.is_own_kind() && m.kind() == kind),
            "no example of {kind}"
        );
    }
    Ok(())
}

#[test]
fn every_added_kind_is_covered_by_an_example() -> Result<()> {
    let manifests = all_v1_manifests()?;
    for (group, kind) in common::ADDED_KINDS {
        ensure!(
            manifests
                .iter()
                .any(|m| m.group() == group && m.kind() == kind),
            "no example of {kind}"
        );
    }
    Ok(())
}

#[test]
fn examples_of_other_kinds_are_the_known_built_in_ones() -> Result<()> {
    let mut others: Vec<String> = manifests("kubevirt-examples")?
        .iter()
        .filter(|m| !m.is_crd_kind())
        .map(|m| format!("{} {} {}", m.name, m.api_version(), m.kind()))
        .collect();
    others.sort();
    let expected = [
        "kubevirt-examples/non-preemtible.yaml scheduling.k8s.io/v1 PriorityClass",
        "kubevirt-examples/pgpu-resource-claim-tmpl.yaml resource.k8s.io/v1 ResourceClaimTemplate",
        "kubevirt-examples/preemtible.yaml scheduling.k8s.io/v1 PriorityClass",
    ];
    assert_eq!(others, expected);
    Ok(())
}

#[test]
fn pool_template_is_a_virtual_machine_spec() -> Result<()> {
    let pool = manifests("kubevirt-examples")?
        .into_iter()
        .find(|m| m.kind() == "VirtualMachinePool")
        .context("the pool example is missing")?;
    let typed: VirtualMachinePool = serde_json::from_value(pool.json.clone())?;
    let spec = typed
        .spec
        .virtual_machine_template
        .spec
        .context("the pool template has no spec")?;
    assert_eq!(
        serde_json::to_value(&spec)?,
        pool.json["spec"]["virtualMachineTemplate"]["spec"]
    );
    assert_eq!(spec.run_strategy()?, api::RunStrategy::Always);
    assert_eq!(typed.spec.replicas, Some(3));
    Ok(())
}

#[test]
fn cluster_kinds_expose_the_namespaced_spec() -> Result<()> {
    let example = manifests("kubevirt-examples")?
        .into_iter()
        .find(|m| m.kind() == "VirtualMachineClusterInstancetype")
        .context("the cluster instancetype example is missing")?;
    let cluster: VirtualMachineClusterInstancetype = serde_json::from_value(example.json)?;
    assert_eq!(cluster.spec.cpu.guest, 1);
    assert_eq!(cluster.spec.memory.guest.0, "128Mi");
    let namespaced = VirtualMachineInstancetype::new("copy", cluster.spec.0.clone());
    let encoded = serde_json::to_value(&namespaced)?;
    assert_eq!(encoded["kind"], "VirtualMachineInstancetype");
    assert_eq!(encoded["spec"], serde_json::to_value(&cluster.spec)?);
    let preference = VirtualMachineClusterPreference::new(
        "p",
        api::VirtualMachinePreferenceSpec::default().into(),
    );
    assert_eq!(
        serde_json::to_value(&preference)?,
        json!({
            "apiVersion": "instancetype.kubevirt.io/v1beta1",
            "kind": "VirtualMachineClusterPreference",
            "metadata": {"name": "p"},
            "spec": {},
        })
    );
    Ok(())
}

#[test]
fn marker_structs_encode_as_empty_objects() -> Result<()> {
    let vmi: VirtualMachineInstance = serde_json::from_value(serde_json::json!({
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachineInstance",
        "metadata": {"name": "markers"},
        "spec": {
            "domain": {"devices": {
                "disks": [{"name": "d", "disk": {}}],
                "interfaces": [{"name": "a", "bridge": {}}, {"name": "b", "masquerade": {}}],
                "rng": {},
            }},
            "networks": [{"name": "a", "pod": {}}],
        },
    }))?;
    let interfaces = vmi
        .spec
        .domain
        .devices
        .interfaces
        .as_deref()
        .unwrap_or_default();
    assert_eq!(interfaces[0].bridge, Some(api::InterfaceBridge {}));
    assert!(interfaces[0].masquerade.is_none());
    let json = serde_json::to_value(&vmi)?;
    assert_eq!(
        json["spec"]["domain"]["devices"]["disks"][0]["disk"],
        serde_json::json!({})
    );
    assert_eq!(
        json["spec"]["domain"]["devices"]["interfaces"][1]["masquerade"],
        serde_json::json!({})
    );
    assert_eq!(json["spec"]["networks"][0]["pod"], serde_json::json!({}));
    assert_eq!(
        json["spec"]["domain"]["devices"]["rng"],
        serde_json::json!({})
    );
    Ok(())
}

#[test]
fn absent_optional_fields_stay_absent() -> Result<()> {
    let vm = VirtualMachine::new("empty", api::VirtualMachineSpec::default());
    let json = serde_json::to_value(&vm)?;
    assert_eq!(
        json,
        serde_json::json!({
            "apiVersion": "kubevirt.io/v1",
            "kind": "VirtualMachine",
            "metadata": {"name": "empty"},
            "spec": {"template": {}},
        })
    );
    Ok(())
}

#[test]
fn condition_timestamps_encode_null_when_unset() -> Result<()> {
    // Upstream encodes an unset condition time as null; kubectl output shows it that way.
    let condition = api::VirtualMachineCondition {
        type_: "Ready".into(),
        status: "True".into(),
        ..Default::default()
    };
    let json = serde_json::to_value(&condition)?;
    assert_eq!(json["lastProbeTime"], Value::Null);
    assert_eq!(json["lastTransitionTime"], Value::Null);
    assert!(json.get("reason").is_none());
    Ok(())
}
