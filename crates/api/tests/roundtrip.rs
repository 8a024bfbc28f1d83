//! Every example manifest of the four kinds decodes into its typed struct and encodes back to
//! the same JSON: no field is lost or invented.

mod common;

use anyhow::{Context, Result, bail, ensure};
use api::{
    VirtualMachine, VirtualMachineInstance, VirtualMachineInstanceMigration,
    VirtualMachineInstanceReplicaSet,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use common::{Manifest, all_v1_manifests, manifests, without_null_creation_timestamps};

/// Decodes the YAML text into `T` and encodes it as JSON.
fn typed_round_trip<T: DeserializeOwned + Serialize>(manifest: &Manifest) -> Result<Value> {
    let typed: T = serde_saphyr::from_str(&manifest.yaml)
        .with_context(|| format!("{} does not decode", manifest.name))?;
    Ok(serde_json::to_value(&typed)?)
}

fn round_trip(manifest: &Manifest) -> Result<Value> {
    match manifest.kind() {
        "VirtualMachine" => typed_round_trip::<VirtualMachine>(manifest),
        "VirtualMachineInstance" => typed_round_trip::<VirtualMachineInstance>(manifest),
        "VirtualMachineInstanceReplicaSet" => {
            typed_round_trip::<VirtualMachineInstanceReplicaSet>(manifest)
        }
        "VirtualMachineInstanceMigration" => {
            typed_round_trip::<VirtualMachineInstanceMigration>(manifest)
        }
        other => bail!(
            "{} has kind {other}, which this crate does not type",
            manifest.name
        ),
    }
}

/// The typed encoding always says `kubevirt.io/v1`; the examples may use the older version.
fn as_v1(mut json: Value) -> Value {
    json["apiVersion"] = "kubevirt.io/v1".into();
    json
}

#[test]
fn every_example_of_the_four_kinds_round_trips_without_loss() -> Result<()> {
    let own: Vec<_> = all_v1_manifests()?
        .into_iter()
        .filter(Manifest::is_own_kind)
        .collect();
    ensure!(
        own.len() >= 40,
        "only {} examples of the four kinds were found",
        own.len()
    );
    let mut failures = Vec::new();
    for manifest in &own {
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
    ensure!(
        failures.is_empty(),
        "examples changed in a round trip:\n{}",
        failures.join("\n")
    );
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
fn examples_of_other_kinds_are_the_known_ones() -> Result<()> {
    let mut others: Vec<String> = manifests("kubevirt-examples")?
        .iter()
        .filter(|m| !m.is_own_kind())
        .map(|m| format!("{} {} {}", m.name, m.api_version(), m.kind()))
        .collect();
    others.sort();
    let expected = [
        "kubevirt-examples/clarge.yaml instancetype.kubevirt.io/v1beta1 VirtualMachineInstancetype",
        "kubevirt-examples/cluster-csmall.yaml instancetype.kubevirt.io/v1beta1 VirtualMachineClusterInstancetype",
        "kubevirt-examples/csmall.yaml instancetype.kubevirt.io/v1beta1 VirtualMachineInstancetype",
        "kubevirt-examples/example-migration-policy.yaml migrations.kubevirt.io/v1alpha1 MigrationPolicy",
        "kubevirt-examples/non-preemtible.yaml scheduling.k8s.io/v1 PriorityClass",
        "kubevirt-examples/pgpu-resource-claim-tmpl.yaml resource.k8s.io/v1 ResourceClaimTemplate",
        "kubevirt-examples/preemtible.yaml scheduling.k8s.io/v1 PriorityClass",
        "kubevirt-examples/virtio.yaml instancetype.kubevirt.io/v1beta1 VirtualMachinePreference",
        "kubevirt-examples/vm-pool-cirros.yaml pool.kubevirt.io/v1beta1 VirtualMachinePool",
        "kubevirt-examples/vmi-preset-small.yaml kubevirt.io/v1 VirtualMachineInstancePreset",
        "kubevirt-examples/windows.yaml instancetype.kubevirt.io/v1beta1 VirtualMachinePreference",
    ];
    assert_eq!(others, expected);
    Ok(())
}

#[test]
fn pool_template_is_a_virtual_machine_spec() -> Result<()> {
    // VirtualMachinePool is not served, but its template must be a valid VirtualMachine spec.
    let pool = manifests("kubevirt-examples")?
        .into_iter()
        .find(|m| m.kind() == "VirtualMachinePool")
        .context("the pool example is missing")?;
    let template = &pool.json["spec"]["virtualMachineTemplate"]["spec"];
    let spec: api::VirtualMachineSpec = serde_json::from_value(template.clone())?;
    assert_eq!(serde_json::to_value(&spec)?, *template);
    assert_eq!(spec.run_strategy()?, api::RunStrategy::Always);
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
