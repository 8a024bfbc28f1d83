//! The VM controller with CDI DataVolumes served: DataVolumes from templates are created,
//! owned by the VM, and gate the start of the VMI until they are ready.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;
use api::{
    DataVolumeSource, DataVolumeTemplateSpec, ResourceRequirements, VirtualMachine,
    VirtualMachineInstance, VirtualMachineInstanceSpec, VirtualMachineInstanceTemplateSpec,
    VirtualMachinePrintableStatus, VirtualMachineSpec, Volume,
};
use common::{TestCluster, data_volume_crd, eventually};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::json;
use virt_controller::vm::{VmControllerOptions, run};

const WAIT: Duration = Duration::from_secs(20);

fn vm_with_data_volume() -> VirtualMachine {
    VirtualMachine::new(
        "dvvm",
        VirtualMachineSpec {
            run_strategy: Some("Always".into()),
            data_volume_templates: Some(vec![DataVolumeTemplateSpec {
                metadata: Some(ObjectMeta {
                    name: Some("dvvm-disk".into()),
                    ..Default::default()
                }),
                ..Default::default()
            }]),
            template: VirtualMachineInstanceTemplateSpec {
                metadata: None,
                spec: Some(VirtualMachineInstanceSpec {
                    domain: api::DomainSpec {
                        resources: Some(ResourceRequirements {
                            requests: Some(BTreeMap::from([(
                                "memory".into(),
                                Quantity("64Mi".into()),
                            )])),
                            ..Default::default()
                        }),
                        ..Default::default()
                    },
                    volumes: Some(vec![Volume {
                        name: "disk".into(),
                        data_volume: Some(DataVolumeSource {
                            name: "dvvm-disk".into(),
                            hotpluggable: None,
                        }),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }),
            },
            ..Default::default()
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_volumes_are_created_for_the_vm_and_gate_its_start() -> Result<()> {
    let cluster = TestCluster::start_with_crds(&[data_volume_crd()]).await?;
    let controller = tokio::spawn(run(
        cluster.controller.clone(),
        VmControllerOptions::default(),
    ));
    let vms: kube::Api<VirtualMachine> = kube::Api::namespaced(cluster.admin.clone(), "default");
    let vmis: kube::Api<VirtualMachineInstance> =
        kube::Api::namespaced(cluster.admin.clone(), "default");
    let ar = ApiResource {
        group: "cdi.kubevirt.io".into(),
        version: "v1beta1".into(),
        api_version: "cdi.kubevirt.io/v1beta1".into(),
        kind: "DataVolume".into(),
        plural: "datavolumes".into(),
    };
    let dvs: kube::Api<DynamicObject> =
        kube::Api::namespaced_with(cluster.admin.clone(), "default", &ar);

    let vm = vms
        .create(&PostParams::default(), &vm_with_data_volume())
        .await?;
    let dv = eventually(WAIT, "DataVolume", || async {
        dvs.get_opt("dvvm-disk").await.ok().flatten()
    })
    .await?;
    let owner = &dv.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), Some(&owner.uid)),
        ("VirtualMachine", vm.metadata.uid.as_ref())
    );
    assert_eq!(
        dv.metadata
            .labels
            .as_ref()
            .unwrap()
            .get("kubevirt.io/created-by"),
        vm.metadata.uid.as_ref()
    );
    assert_eq!(
        dv.metadata
            .annotations
            .as_ref()
            .unwrap()
            .get("cdi.kubevirt.io/allowClaimAdoption")
            .map(String::as_str),
        Some("true")
    );
    let message = cluster
        .wait_for_event("default", "dvvm", "SuccessfulDataVolumeCreate")
        .await?;
    assert_eq!(message, "Created DataVolume dvvm-disk");

    // Importing: the VM is provisioning and has no VMI.
    dvs.patch_status(
        "dvvm-disk",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"phase": "ImportInProgress"}})),
    )
    .await?;
    eventually(WAIT, "Provisioning", || async {
        let vm = vms.get("dvvm").await.ok()?;
        (vm.status?.printable_status == Some(VirtualMachinePrintableStatus::Provisioning))
            .then_some(())
    })
    .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        vmis.get_opt("dvvm").await?.is_none(),
        "no VMI before the DataVolume is ready"
    );

    dvs.patch_status(
        "dvvm-disk",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"phase": "Succeeded"}})),
    )
    .await?;
    eventually(WAIT, "VMI", || async {
        vmis.get_opt("dvvm").await.ok().flatten()
    })
    .await?;
    controller.abort();
    Ok(())
}
