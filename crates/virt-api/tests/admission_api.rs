//! Admission against a real in-process API: the acceptance scenarios of the webhooks (§8:
//! 43–46, 24) and every upstream example manifest.

mod admission_support;

use std::path::Path;

use admission_support::{alice, alpine_spec, causes, controller, env, vm, vmi};
use anyhow::{Context, Result, ensure};
use apiserver::server::{FieldValidation, Sub, WriteOptions};
use serde_json::{Value, json};

// Scenario 43.
#[tokio::test]
async fn disks_without_volumes_are_rejected_with_a_cause_each() -> Result<()> {
    let env = env().await?;
    let mut spec = alpine_spec();
    spec["domain"]["devices"]["disks"]
        .as_array_mut()
        .unwrap()
        .extend([json!({"name": "testdisk"}), json!({"name": "testdisk2"})]);
    let err = env
        .create("v1", "virtualmachineinstances", vmi("bad", spec), &alice())
        .await
        .unwrap_err();
    assert_eq!(err.status().0.as_u16(), 422);
    let fields: Vec<String> = causes(&err).into_iter().map(|c| c.0).collect();
    assert_eq!(
        fields,
        [
            "spec.domain.devices.disks[1].name",
            "spec.domain.devices.disks[2].name"
        ]
    );
    assert!(
        err.to_string()
            .contains("spec.domain.devices.disks[1].Name 'testdisk' not found."),
        "{err}"
    );

    env.create(
        "v1",
        "virtualmachineinstances",
        vmi("good", alpine_spec()),
        &alice(),
    )
    .await?;
    let patch = json!({"spec": {"domain": {"devices": {"disks": [{"disk": {"bus": "virtio"}, "name": "fakedisk"}]}}}});
    let err = env
        .merge(
            "v1",
            "virtualmachineinstances",
            "good",
            Sub::Main,
            patch,
            &alice(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status().0.as_u16(), 422);
    Ok(())
}

// Scenario 44.
#[tokio::test]
async fn the_run_strategy_is_mandatory_and_running_is_deprecated() -> Result<()> {
    let env = env().await?;
    let template = json!({"spec": alpine_spec()});
    let cases = [
        (
            json!({"running": true, "runStrategy": "Always", "template": template}),
            "spec.running",
            "Running and RunStrategy are mutually exclusive. Note that Running is deprecated, please use RunStrategy instead",
        ),
        (
            json!({"template": template}),
            "spec.running",
            "RunStrategy must be specified",
        ),
        (
            json!({"runStrategy": "invalid", "template": template}),
            "spec.runStrategy",
            "Invalid RunStrategy (invalid)",
        ),
    ];
    for (i, (spec, field, message)) in cases.into_iter().enumerate() {
        let err = env
            .create(
                "v1",
                "virtualmachines",
                vm(&format!("vm{i}"), spec),
                &alice(),
            )
            .await
            .unwrap_err();
        assert_eq!(err.status().0.as_u16(), 422);
        assert_eq!(causes(&err), [(field.to_string(), message.to_string())]);
    }
    let ok = env
        .create(
            "v1",
            "virtualmachines",
            vm("running", json!({"running": true, "template": template})),
            &alice(),
        )
        .await?;
    assert_eq!(
        ok.warnings,
        ["spec.running is deprecated, please use spec.runStrategy instead."]
    );
    let ok = env
        .create(
            "v1",
            "virtualmachines",
            vm(
                "strategy",
                json!({"runStrategy": "Halted", "template": template}),
            ),
            &alice(),
        )
        .await?;
    assert!(ok.warnings.is_empty(), "{:?}", ok.warnings);
    Ok(())
}

// Scenario 45.
#[tokio::test]
async fn a_vmi_needs_memory_but_a_vm_template_does_not() -> Result<()> {
    let env = env().await?;
    let mut spec = alpine_spec();
    spec["domain"].as_object_mut().unwrap().remove("resources");
    let err = env
        .create(
            "v1",
            "virtualmachineinstances",
            vmi("nomem", spec.clone()),
            &alice(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status().0.as_u16(), 422);
    assert!(err.to_string().contains(
        "no memory requested, at least one of 'spec.domain.memory.guest', 'spec.domain.memory.hugepages.pageSize' or 'spec.domain.resources.requests.memory' must be set"
    ), "{err}");
    env.create(
        "v1",
        "virtualmachines",
        vm(
            "nomem",
            json!({"runStrategy": "Always", "template": {"spec": spec}}),
        ),
        &alice(),
    )
    .await?;
    Ok(())
}

// Scenario 46.
#[tokio::test]
async fn users_cannot_change_a_vmi_and_their_status_edits_are_undone() -> Result<()> {
    let env = env().await?;
    let created = env
        .create(
            "v1",
            "virtualmachineinstances",
            vmi("v", alpine_spec()),
            &alice(),
        )
        .await?
        .object;
    assert_eq!(created["status"]["phase"], "Pending");
    assert_eq!(
        created["metadata"]["finalizers"],
        json!(["kubevirt.io/foregroundDeleteVirtualMachine"])
    );

    let err = env
        .merge(
            "v1",
            "virtualmachineinstances",
            "v",
            Sub::Main,
            json!({"spec": {"hostname": "other"}}),
            &alice(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status().0.as_u16(), 422);
    assert_eq!(
        causes(&err),
        [(
            String::new(),
            "update of VMI object is restricted".to_string()
        )]
    );

    let out = env
        .merge(
            "v1",
            "virtualmachineinstances",
            "v",
            Sub::Main,
            json!({"status": {"phase": "Running"}}),
            &alice(),
        )
        .await?;
    assert_eq!(out.object["status"]["phase"], "Pending");
    assert_eq!(
        env.get("v1", "virtualmachineinstances", "v").await?["status"]["phase"],
        "Pending"
    );

    env.merge(
        "v1",
        "virtualmachineinstances",
        "v",
        Sub::Main,
        json!({"status": {"phase": "Scheduling"}}),
        &controller(),
    )
    .await?;
    assert_eq!(
        env.get("v1", "virtualmachineinstances", "v").await?["status"]["phase"],
        "Scheduling"
    );
    Ok(())
}

#[tokio::test]
async fn vmi_creation_applies_the_defaults() -> Result<()> {
    let env = env().await?;
    let mut spec = alpine_spec();
    spec["domain"]["devices"]["disks"] = json!([{"name": "cd", "cdrom": {}}]);
    spec["volumes"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "cd", "containerDisk": {"image": "iso:1"}}));
    let obj = env
        .create("v1", "virtualmachineinstances", vmi("d", spec), &alice())
        .await?
        .object;
    let s = &obj["spec"];
    assert_eq!(s["domain"]["memory"]["guest"], "128Mi");
    assert_eq!(s["domain"]["cpu"]["sockets"], 1);
    assert_eq!(s["domain"]["machine"]["type"], "q35");
    assert_eq!(s["networks"], json!([{"name": "default", "pod": {}}]));
    assert_eq!(
        s["domain"]["devices"]["interfaces"],
        json!([{"name": "default", "bridge": {}}])
    );
    assert_eq!(
        s["domain"]["devices"]["disks"][0]["cdrom"],
        json!({"bus": "sata", "readonly": true, "tray": "closed"})
    );
    assert_eq!(
        s["domain"]["devices"]["disks"][1],
        json!({"name": "containerdisk", "disk": {"bus": "sata"}})
    );
    assert!(
        s["domain"]["firmware"]["uuid"]
            .as_str()
            .is_some_and(|u| u.len() == 36)
    );
    assert_eq!(
        obj["status"]["phaseTransitionTimestamps"][0]["phase"],
        "Pending"
    );
    Ok(())
}

// Scenario 24 (the API part) and §2.10.
#[tokio::test]
async fn vm_creation_sets_a_random_firmware_identity_kept_on_update() -> Result<()> {
    let env = env().await?;
    let a = env
        .create(
            "v1",
            "virtualmachines",
            vm(
                "a",
                json!({"runStrategy": "Halted", "template": {"spec": alpine_spec()}}),
            ),
            &alice(),
        )
        .await?;
    let b = env
        .create(
            "v1",
            "virtualmachines",
            vm(
                "b",
                json!({"runStrategy": "Halted", "template": {"spec": alpine_spec()}}),
            ),
            &alice(),
        )
        .await?;
    let fw = |o: &Value| o["spec"]["template"]["spec"]["domain"]["firmware"].clone();
    let (fa, fb) = (fw(&a.object), fw(&b.object));
    assert!(
        fa["uuid"]
            .as_str()
            .is_some_and(|u| uuid::Uuid::parse_str(u).is_ok())
    );
    assert!(
        fa["serial"]
            .as_str()
            .is_some_and(|u| uuid::Uuid::parse_str(u).is_ok())
    );
    assert_ne!(fa["uuid"], fb["uuid"]);
    assert_eq!(
        a.object["spec"]["template"]["metadata"]["annotations"]["kubevirt.io/pci-topology-version"],
        "v3"
    );
    let patched = env
        .merge(
            "v1",
            "virtualmachines",
            "a",
            Sub::Main,
            json!({"spec": {"runStrategy": "Always"}}),
            &alice(),
        )
        .await?;
    assert_eq!(fw(&patched.object), fa);
    Ok(())
}

#[tokio::test]
async fn a_replica_set_selector_must_match_its_template() -> Result<()> {
    let env = env().await?;
    let rs = |labels: Value| {
        json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceReplicaSet", "metadata": {"name": "rs"},
               "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "x"}},
                        "template": {"metadata": {"labels": labels}, "spec": alpine_spec()}}})
    };
    let err = env
        .create(
            "v1",
            "virtualmachineinstancereplicasets",
            rs(json!({"app": "y"})),
            &alice(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        causes(&err),
        [(
            "spec.selector".to_string(),
            "selector does not match labels.".to_string()
        )]
    );
    env.create(
        "v1",
        "virtualmachineinstancereplicasets",
        rs(json!({"app": "x"})),
        &alice(),
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn a_migration_needs_a_vmi_name() -> Result<()> {
    let env = env().await?;
    let m = json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceMigration", "metadata": {"name": "m"}, "spec": {}});
    let err = env
        .create("v1", "virtualmachineinstancemigrations", m, &alice())
        .await
        .unwrap_err();
    assert_eq!(
        causes(&err),
        [("spec.vmiName".to_string(), "vmiName is missing".to_string())]
    );
    Ok(())
}

/// The manifests of the upstream `examples/` directory.
fn examples() -> Result<Vec<(String, Value)>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../api/tests/data/kubevirt-examples");
    let mut out = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(&dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    paths.sort();
    for path in paths
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
    {
        let text = std::fs::read_to_string(&path)?;
        let value: Value =
            serde_saphyr::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        out.push((
            path.file_name().unwrap().to_string_lossy().into_owned(),
            value,
        ));
    }
    Ok(out)
}

/// Upstream rejects these with its default configuration too: their features are alpha gates.
const GATED_EXAMPLES: &[(&str, &str)] = &[
    ("vmi-host-disk.yaml", "HostDisk feature gate is not enabled"),
    (
        "vmi-with-sidecar-hook.yaml",
        "sidecar feature gate is not enabled",
    ),
    (
        "vmi-with-sidecar-hook-configmap.yaml",
        "sidecar feature gate is not enabled",
    ),
    (
        "vm-cirros-with-sidecar-hook-configmap.yaml",
        "sidecar feature gate is not enabled",
    ),
    ("vmi-usb.yaml", "Host Devices feature gate is not enabled"),
];

#[tokio::test]
async fn every_example_vm_vmi_and_replica_set_is_admitted() -> Result<()> {
    let env = env().await?;
    let dry = WriteOptions {
        dry_run: true,
        field_validation: FieldValidation::Strict,
        ..Default::default()
    };
    let mut admitted = 0;
    let mut failures = Vec::new();
    for (name, mut obj) in examples()? {
        let plural = match obj["kind"].as_str().unwrap_or("") {
            "VirtualMachine" => "virtualmachines",
            "VirtualMachineInstance" => "virtualmachineinstances",
            "VirtualMachineInstanceReplicaSet" => "virtualmachineinstancereplicasets",
            _ => continue,
        };
        let version = obj["apiVersion"]
            .as_str()
            .unwrap_or("")
            .trim_start_matches("kubevirt.io/")
            .to_string();
        if let Some(m) = obj["metadata"].as_object_mut() {
            m.remove("namespace");
        }
        let result = env.create_with(&version, plural, obj, &alice(), &dry).await;
        match (result, GATED_EXAMPLES.iter().find(|(f, _)| *f == name)) {
            (Ok(_), None) => admitted += 1,
            (Err(e), Some((_, why))) if e.to_string().contains(why) => {}
            (Ok(_), Some(_)) => {
                failures.push(format!("{name}: admitted, but upstream needs a gate"))
            }
            (Err(e), _) => failures.push(format!("{name}: {e}")),
        }
    }
    ensure!(
        failures.is_empty(),
        "examples not admitted as expected:\n{}",
        failures.join("\n")
    );
    ensure!(admitted >= 30, "only {admitted} examples were admitted");
    Ok(())
}
