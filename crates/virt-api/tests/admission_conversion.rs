//! The old API versions against a real in-process API: OfflineVirtualMachine (v1alpha1) as a
//! view of VirtualMachines, v1alpha2 VirtualMachines, and the manifests of the early design
//! documents, valid and mistyped.

mod admission_support;

use admission_support::{alice, alpine_spec, controller, env, vm};
use anyhow::{Result, bail};
use apiserver::server::{FieldValidation, Sub, WriteOptions};
use serde_json::{Value, json};

fn seed_ovm(volume_name: &str) -> Value {
    json!({
        "apiVersion": "kubevirt.io/v1alpha1",
        "kind": "OfflineVirtualMachine",
        "metadata": {"name": "myvm"},
        "spec": {"running": false, "template": {
            "metadata": {"labels": {"my": "label"}},
            "spec": {"domain": {"resources": {"requests": {"memory": "8Mi"}},
                                "devices": {"disks": [{"name": "disk0", "volumeName": volume_name}]}},
                     "volumes": [{"name": "mypvc", "persistentVolumeClaim": {"claimName": "myclaim"}}]}}}
    })
}

#[tokio::test]
async fn an_offline_vm_is_a_view_of_a_vm() -> Result<()> {
    let env = env().await?;
    let created = env
        .create(
            "v1alpha1",
            "offlinevirtualmachines",
            seed_ovm("mypvc"),
            &alice(),
        )
        .await?;
    assert_eq!(created.object["kind"], "OfflineVirtualMachine");
    assert_eq!(
        created.object["spec"]["template"]["spec"]["domain"]["devices"]["disks"][0]["volumeName"],
        "mypvc"
    );

    let as_vm = env.get("v1", "virtualmachines", "myvm").await?;
    assert_eq!(as_vm["kind"], "VirtualMachine");
    assert_eq!(as_vm["spec"]["running"], false);
    let disks = &as_vm["spec"]["template"]["spec"]["domain"]["devices"]["disks"];
    assert_eq!(disks[0]["name"], "mypvc");
    assert!(disks[0].get("volumeName").is_none());
    assert!(as_vm["spec"]["template"]["spec"]["domain"]["firmware"]["uuid"].is_string());

    env.merge(
        "v1alpha1",
        "offlinevirtualmachines",
        "myvm",
        Sub::Main,
        json!({"spec": {"running": true}}),
        &alice(),
    )
    .await?;
    assert_eq!(
        env.get("v1", "virtualmachines", "myvm").await?["spec"]["running"],
        true
    );

    env.merge(
        "v1",
        "virtualmachines",
        "myvm",
        Sub::Status,
        json!({"status": {"created": true, "ready": true}}),
        &controller(),
    )
    .await?;
    let ovm = env
        .get("v1alpha1", "offlinevirtualmachines", "myvm")
        .await?;
    assert_eq!(ovm["status"]["virtualMachine"], "myvm");
    assert_eq!(ovm["status"]["ready"], true);
    let scope = env.api.scope(
        "kubevirt.io",
        "v1alpha1",
        "offlinevirtualmachines",
        Some("default"),
    )?;
    let list = env.api.list(&scope, &Default::default()).await?;
    assert_eq!(list["kind"], "OfflineVirtualMachineList");
    assert_eq!(list["items"][0]["kind"], "OfflineVirtualMachine");
    Ok(())
}

#[tokio::test]
async fn a_vm_written_with_a_run_strategy_is_started_through_the_old_view() -> Result<()> {
    let env = env().await?;
    env.create(
        "v1",
        "virtualmachines",
        vm(
            "v",
            json!({"runStrategy": "Halted", "template": {"spec": alpine_spec()}}),
        ),
        &alice(),
    )
    .await?;
    let ovm = env.get("v1alpha1", "offlinevirtualmachines", "v").await?;
    assert_eq!(ovm["spec"]["running"], false);
    assert!(ovm["spec"].get("runStrategy").is_none());
    env.merge(
        "v1alpha1",
        "offlinevirtualmachines",
        "v",
        Sub::Main,
        json!({"spec": {"running": true}}),
        &alice(),
    )
    .await?;
    let stored = env.get("v1", "virtualmachines", "v").await?;
    assert_eq!(
        (
            stored["spec"]["running"].clone(),
            stored["spec"].get("runStrategy")
        ),
        (json!(true), None)
    );
    Ok(())
}

#[tokio::test]
async fn seed_typos_and_misnested_fields_are_reported_clearly() -> Result<()> {
    let env = env().await?;
    let err = env
        .create(
            "v1alpha1",
            "offlinevirtualmachines",
            seed_ovm("mypcv"),
            &alice(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status().0.as_u16(), 422);
    assert_eq!(
        err.to_string(),
        "OfflineVirtualMachine.kubevirt.io \"myvm\" is invalid: spec.template.spec.domain.devices.disks[0].volumeName: Invalid value: \"mypcv\": no volume named mypcv; volumes are [mypvc]"
    );

    // The user guide's example nests the template under `spec.selector`.
    let misnested = json!({
        "apiVersion": "kubevirt.io/v1alpha1", "kind": "OfflineVirtualMachine", "metadata": {"name": "my-vm"},
        "spec": {"running": false,
                 "selector": {"template": {"metadata": {"labels": {"anylabel": "any_label"}}}},
                 "spec": {"domain": {"resources": {"requests": {"memory": "64M"}}}}}
    });
    // Without strict validation the unknown fields are pruned and the schema
    // says what is missing: the template.
    let err = env
        .create(
            "v1alpha1",
            "offlinevirtualmachines",
            misnested.clone(),
            &alice(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status().0.as_u16(), 422);
    assert!(
        err.to_string()
            .ends_with("is invalid: spec.template: Required value"),
        "{err}"
    );
    // Strict decoding fails first (400) and names the misplaced fields, as the
    // real server does.
    let strict = WriteOptions {
        field_validation: FieldValidation::Strict,
        ..Default::default()
    };
    let err = env
        .create_with(
            "v1alpha1",
            "offlinevirtualmachines",
            misnested.clone(),
            &alice(),
            &strict,
        )
        .await
        .unwrap_err();
    assert_eq!(err.status().0.as_u16(), 400);
    assert!(err.to_string().contains("strict decoding error"), "{err}");
    assert!(
        err.to_string().contains("unknown field \"spec.spec\""),
        "{err}"
    );
    // Fields v1 does not know survive conversion, so strict validation names them.
    let mut extra = seed_ovm("mypvc");
    extra["spec"]["selector"] = json!({"template": {}});
    let err = env
        .create_with(
            "v1alpha1",
            "offlinevirtualmachines",
            extra,
            &alice(),
            &strict,
        )
        .await
        .unwrap_err();
    assert_eq!(err.status().0.as_u16(), 400);
    assert!(
        err.to_string().contains("unknown field \"spec.selector\""),
        "{err}"
    );
    Ok(())
}

#[tokio::test]
async fn a_v1alpha2_vm_is_stored_in_the_v1_shape() -> Result<()> {
    let env = env().await?;
    let seed = json!({
        "apiVersion": "kubevirt.io/v1alpha2", "kind": "VirtualMachine",
        "metadata": {"creationTimestamp": null, "labels": {"kubevirt.io/vm": "vm-cirros"}, "name": "vm-cirros"},
        "spec": {"running": false, "template": {
            "metadata": {"creationTimestamp": null, "labels": {"kubevirt.io/vm": "vm-cirros"}},
            "spec": {"domain": {"devices": {"disks": [
                        {"disk": {"bus": "virtio"}, "name": "containerdisk", "volumeName": "registryvolume"},
                        {"disk": {"bus": "virtio"}, "name": "cloudinitdisk", "volumeName": "cloudinitvolume"}]},
                     "machine": {"type": ""}, "resources": {"requests": {"memory": "64M"}}},
                     "terminationGracePeriodSeconds": 0,
                     "volumes": [
                        {"name": "registryvolume", "containerDisk": {"image": "kubevirt/cirros-container-disk-demo:latest"}},
                        {"name": "cloudinitvolume", "cloudInitNoCloud": {"userDataBase64": "IyEvYmluL3NoCgplY2hvICdwcmludGVkIGZyb20gY2xvdWQtaW5pdCB1c2VyZGF0YScK"}}]}}}
    });
    let strict = WriteOptions {
        field_validation: FieldValidation::Strict,
        ..Default::default()
    };
    let out = env
        .create_with("v1alpha2", "virtualmachines", seed, &alice(), &strict)
        .await?;
    assert_eq!(out.object["apiVersion"], "kubevirt.io/v1alpha2");
    let v1 = env.get("v1", "virtualmachines", "vm-cirros").await?;
    let spec = &v1["spec"]["template"]["spec"];
    let names: Vec<&str> = spec["domain"]["devices"]["disks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["name"].as_str())
        .collect();
    assert_eq!(names, ["registryvolume", "cloudinitvolume"]);
    assert_eq!(spec["domain"]["machine"]["type"], "q35");
    let old = env.get("v1alpha2", "virtualmachines", "vm-cirros").await?;
    assert_eq!(
        old["spec"]["template"]["spec"]["volumes"][0]["registryDisk"]["image"],
        "kubevirt/cirros-container-disk-demo:latest"
    );
    assert_eq!(
        old["spec"]["template"]["spec"]["domain"]["devices"]["disks"][1]["volumeName"],
        "cloudinitvolume"
    );
    let v1alpha3 = env.get("v1alpha3", "virtualmachines", "vm-cirros").await?;
    assert_eq!(v1alpha3["spec"], v1["spec"]);
    if v1alpha3["apiVersion"] != "kubevirt.io/v1alpha3" {
        bail!("v1alpha3 read as {}", v1alpha3["apiVersion"]);
    }
    Ok(())
}

#[test]
fn discovery_and_openapi_list_the_old_versions() {
    let reg = admission_support::registry();
    let list = apiserver::discovery::api_resource_list(&reg, "kubevirt.io", "v1alpha1").unwrap();
    let ovm = list["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "offlinevirtualmachines")
        .cloned()
        .unwrap();
    assert_eq!(ovm["kind"], "OfflineVirtualMachine");
    assert_eq!(ovm["shortNames"], json!(["ovm", "ovms"]));
    let v1alpha2 =
        apiserver::discovery::api_resource_list(&reg, "kubevirt.io", "v1alpha2").unwrap();
    assert!(v1alpha2.to_string().contains("\"virtualmachines\""));
    for version in ["v1alpha1", "v1alpha2", "v1"] {
        let doc = apiserver::openapi::v3_group_version(&reg, "kubevirt.io", version);
        assert!(
            doc.is_some_and(|d| d["paths"].as_object().is_some_and(|p| !p.is_empty())),
            "{version}"
        );
    }
}
