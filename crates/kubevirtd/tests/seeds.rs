//! The seed design documents' manifests and kubectl flows, end to end. The manifests span
//! kubevirt.io v1alpha1 to v1alpha3: old versions are served by conversion, and the documents'
//! typos are rejected with a clear error.

mod common;

use common::Kubevirtd;

fn seed(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/seeds")
        .join(name);
    path.to_string_lossy().into_owned()
}

/// What `kubectl create -f` must do with each seed manifest.
enum Expect {
    Created(&'static str),
    Rejected(&'static str),
}

#[test]
fn seed_manifests_are_served_by_conversion_or_rejected_clearly() {
    let k = Kubevirtd::start();
    let cases = [
        // A typo: the disk names volume "mypcv", the volume is "mypvc".
        (
            "000-offline-vm-dev-1-offlinevirtualmachine-v1alpha1.yaml",
            Expect::Rejected("no volume named mypcv; volumes are [mypvc]"),
        ),
        // v1alpha1 "VirtualMachine" was today's VirtualMachineInstance; only shown as output.
        (
            "000-offline-vm-dev-2-virtualmachine-v1alpha1.yaml",
            Expect::Rejected(
                "no matches for kind \"VirtualMachine\" in version \"kubevirt.io/v1alpha1\"",
            ),
        ),
        // apiextensions.k8s.io/v1beta1 is gone from Kubernetes; the CRDs are built in here.
        (
            "000-offline-vm-dev-3-customresourcedefinition-v1beta1.yaml",
            Expect::Rejected("no matches for kind \"CustomResourceDefinition\""),
        ),
        (
            "001-virtual-machine-1-virtualmachine-v1alpha2.yaml",
            Expect::Created("virtualmachine.kubevirt.io/vm-cirros created"),
        ),
        // A typo: the template is nested under `selector`.
        (
            "002-offline-vm-user-guide-1-offlinevirtualmachine-v1alpha1.yaml",
            Expect::Rejected("spec.selector"),
        ),
        (
            "002-offline-vm-user-guide-2-virtualmachine-v1alpha1.yaml",
            Expect::Rejected(
                "no matches for kind \"VirtualMachine\" in version \"kubevirt.io/v1alpha1\"",
            ),
        ),
        (
            "004-architecture-1-virtualmachine-v1alpha3.yaml",
            Expect::Created("virtualmachine.kubevirt.io/vm-cirros created"),
        ),
    ];
    for (i, (file, expect)) in cases.iter().enumerate() {
        let ns = format!("seed-{i}");
        let out = k.kubectl_stdin(
            &["create", "-f", "-"],
            Some(&format!(
                "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n"
            )),
        );
        assert!(out.status.success());
        let out = k.kubectl(&["create", "-n", &ns, "-f", &seed(file)]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        match expect {
            Expect::Created(msg) => assert!(
                out.status.success() && stdout.contains(msg),
                "{file}: {stdout}{stderr}"
            ),
            Expect::Rejected(msg) => assert!(
                !out.status.success() && stderr.contains(msg),
                "{file}: {stdout}{stderr}"
            ),
        }
    }
    // The v1alpha2 and v1alpha3 VMs are stored as v1 and readable in every served version.
    let v1 = k.kubectl_ok(&[
        "get",
        "virtualmachines.v1.kubevirt.io",
        "vm-cirros",
        "-n",
        "seed-3",
        "-o",
        "jsonpath={.spec.template.spec.volumes[0].containerDisk.image}",
    ]);
    assert_eq!(v1, "kubevirt/cirros-container-disk-demo:latest");
    let disk = k.kubectl_ok(&[
        "get",
        "virtualmachines.v1.kubevirt.io",
        "vm-cirros",
        "-n",
        "seed-3",
        "-o",
        "jsonpath={.spec.template.spec.domain.devices.disks[0].name}",
    ]);
    assert_eq!(disk, "registryvolume", "v1 names the disk after its volume");
    let old = k.kubectl_ok(&[
        "get",
        "virtualmachines.v1alpha2.kubevirt.io",
        "vm-cirros",
        "-n",
        "seed-3",
        "-o",
        "jsonpath={.spec.template.spec.domain.devices.disks[0].volumeName}",
    ]);
    assert_eq!(old, "registryvolume");
}

#[test]
fn offline_virtual_machines_are_a_view_of_virtual_machines() {
    let k = Kubevirtd::start();
    let fixed = std::fs::read_to_string(seed(
        "000-offline-vm-dev-1-offlinevirtualmachine-v1alpha1.yaml",
    ))
    .unwrap()
    .replace("mypcv", "mypvc");
    k.kubectl_stdin_ok(&["create", "-f", "-"], &fixed);
    let short = k.kubectl_ok(&["get", "ovm", "-o", "name"]);
    assert_eq!(short.trim(), "offlinevirtualmachine.kubevirt.io/myvm");
    let as_vm = k.kubectl_ok(&["get", "vm", "myvm", "-o", "jsonpath={.spec.running}"]);
    assert_eq!(as_vm, "false");
    // The seed's flows: patch running through the old kind, read it through the new one.
    k.kubectl_ok(&[
        "patch",
        "offlinevirtualmachine",
        "myvm",
        "--type=merge",
        "-p",
        r#"{"spec":{"running": true}}"#,
    ]);
    assert_eq!(
        k.kubectl_ok(&["get", "vm", "myvm", "-o", "jsonpath={.spec.running}"]),
        "true"
    );
    let described = k.kubectl_ok(&["describe", "offlinevirtualmachine", "myvm"]);
    assert!(
        described.contains("Kind:         OfflineVirtualMachine")
            || described.contains("OfflineVirtualMachine"),
        "{described}"
    );
    let warn = k.kubectl(&["get", "ovm", "myvm"]);
    assert!(
        String::from_utf8_lossy(&warn.stderr).contains("deprecated"),
        "the old version warns"
    );
}
