//! Table tests of the spec rules: each case is a spec and the (field, message) causes expected.

use serde_json::{Value, json};

use super::*;

fn causes_of(spec: Value, config: &ClusterConfig) -> Vec<(String, String)> {
    let spec: VirtualMachineInstanceSpec = serde_json::from_value(spec).unwrap();
    validate_spec(&Path::new("spec"), &spec, config)
        .into_iter()
        .map(|c| (c.field, c.message))
        .collect()
}

fn causes(spec: Value) -> Vec<(String, String)> {
    causes_of(spec, &ClusterConfig::default())
}

/// A minimal valid spec with `disks` and `volumes`.
fn with_storage(disks: Value, volumes: Value) -> Value {
    json!({"domain": {"devices": {"disks": disks}, "resources": {"requests": {"memory": "64Mi"}}}, "volumes": volumes})
}

fn expect(spec: Value, field: &str, message: &str) {
    let c = causes(spec);
    assert!(
        c.iter().any(|(f, m)| f == field && m == message),
        "expected ({field}, {message}) in {c:#?}"
    );
}

#[test]
fn a_plain_spec_has_no_causes() {
    let spec = with_storage(
        json!([{"name": "root", "disk": {"bus": "virtio"}}]),
        json!([{"name": "root", "containerDisk": {"image": "quay.io/x:1"}}]),
    );
    assert_eq!(causes(spec), vec![]);
}

#[test]
fn disk_rules() {
    let cd = |name: &str| json!({"name": name, "containerDisk": {"image": "i"}});
    let table: Vec<(Value, Value, &str, &str)> = vec![
        (
            json!([{"name": "a"}]),
            json!([]),
            "spec.domain.devices.disks[0].name",
            "spec.domain.devices.disks[0].Name 'a' not found.",
        ),
        (
            json!([{"name": "a"}, {"name": "a"}]),
            json!([cd("a")]),
            "spec.domain.devices.disks[1].name",
            "spec.domain.devices.disks[1] and spec.domain.devices.disks[0] must not have the same Name.",
        ),
        (
            json!([{"name": "a", "disk": {}, "cdrom": {}}]),
            json!([cd("a")]),
            "spec.domain.devices.disks[0]",
            "spec.domain.devices.disks[0] can only have a single target type defined",
        ),
        (
            json!([{"name": "a", "disk": {"bus": "ide"}}]),
            json!([cd("a")]),
            "spec.domain.devices.disks[0].disk.bus",
            "IDE bus is not supported",
        ),
        (
            json!([{"name": "a", "disk": {"bus": "floppy"}}]),
            json!([cd("a")]),
            "spec.domain.devices.disks[0].disk.bus",
            "spec.domain.devices.disks[0] is set with an unrecognized bus floppy, must be one of: [virtio scsi sata usb]",
        ),
        (
            json!([{"name": "a", "cdrom": {"bus": "virtio"}}]),
            json!([cd("a")]),
            "spec.domain.devices.disks[0].cdrom.bus",
            "Bus type virtio is invalid for CD-ROM device",
        ),
        (
            json!([{"name": "a", "disk": {"bus": "sata", "readonly": true}}]),
            json!([cd("a")]),
            "spec.domain.devices.disks[0].disk.bus",
            "sata hard-disks do not support read-only.",
        ),
        (
            json!([{"name": "a", "bootOrder": 0}]),
            json!([cd("a")]),
            "spec.domain.devices.disks[0].bootOrder",
            "spec.domain.devices.disks[0] must have a boot order > 0, if supplied",
        ),
        (
            json!([{"name": "a", "bootOrder": 1}, {"name": "b", "bootOrder": 1}]),
            json!([cd("a"), cd("b")]),
            "spec.domain.devices.disks[1].bootOrder",
            "Boot order for spec.domain.devices.disks[1].bootOrder already set for a different device.",
        ),
        (
            json!([{"name": "a", "lun": {}}]),
            json!([cd("a")]),
            "spec.domain.devices.disks[0].lun",
            "spec.domain.devices.disks[0].lun can only be mapped to a DataVolume or PersistentVolumeClaim volume.",
        ),
        (
            json!([{"name": "a", "serial": "bad serial"}]),
            json!([cd("a")]),
            "spec.domain.devices.disks[0].serial",
            "spec.domain.devices.disks[0] must be made up of the following characters [A-Za-z0-9_.+-], if specified",
        ),
        (
            json!([{"name": "a", "cache": "unsafe"}]),
            json!([cd("a")]),
            "spec.domain.devices.disks[0].cache",
            "spec.domain.devices.disks[0].cache has invalid value unsafe",
        ),
    ];
    for (disks, volumes, field, message) in table {
        expect(with_storage(disks, volumes), field, message);
    }
}

#[test]
fn a_cdrom_without_volume_is_allowed_with_declarative_hotplug() {
    let spec = with_storage(json!([{"name": "cd", "cdrom": {"bus": "sata"}}]), json!([]));
    assert_eq!(causes(spec.clone()), vec![]);
    let off = ClusterConfig {
        disabled_feature_gates: vec![gate::DECLARATIVE_HOTPLUG_VOLUMES.into()],
        ..Default::default()
    };
    assert_eq!(
        causes_of(spec, &off)[0].0,
        "spec.domain.devices.disks[0].name"
    );
}

#[test]
fn volume_rules() {
    let disk = json!([{"name": "v"}]);
    let long = "a".repeat(2049);
    let table: Vec<(Value, &str, &str)> = vec![
        (
            json!([{"name": "v"}]),
            "spec.volumes[0]",
            "spec.volumes[0] must have exactly one source type set",
        ),
        (
            json!([{"name": "v", "containerDisk": {"image": "i"}, "emptyDisk": {"capacity": "1Gi"}}]),
            "spec.volumes[0]",
            "spec.volumes[0] must have exactly one source type set",
        ),
        (
            json!([{"name": "v", "containerDisk": {"image": "i"}}, {"name": "v", "containerDisk": {"image": "i"}}]),
            "spec.volumes[1].name",
            "spec.volumes[1] and spec.volumes[0] must not have the same Name.",
        ),
        (
            json!([{"name": "v", "cloudInitNoCloud": {"userData": long}}]),
            "spec.volumes[0].cloudInitNoCloud",
            "spec.volumes[0].cloudInitNoCloud userdata exceeds 2048 byte limit. Should use UserDataSecretRef for larger data.",
        ),
        (
            json!([{"name": "v", "cloudInitNoCloud": {"userDataBase64": "!!!"}}]),
            "spec.volumes[0].cloudInitNoCloud.userDataBase64",
            "spec.volumes[0].cloudInitNoCloud.userDataBase64.cloudInitNoCloud.userDataBase64 is not a valid base64 value.",
        ),
        (
            json!([{"name": "v", "cloudInitConfigDrive": {"networkData": long}}]),
            "spec.volumes[0].cloudInitConfigDrive",
            "spec.volumes[0].cloudInitConfigDrive networkdata exceeds 2048 byte limit. Should use NetworkDataSecretRef for larger data.",
        ),
        (
            json!([{"name": "v", "cloudInitNoCloud": {"networkData": "n", "networkDataBase64": "bg=="}}]),
            "spec.volumes[0].cloudInitNoCloud",
            "spec.volumes[0].cloudInitNoCloud must have only one networkdata source set.",
        ),
        (
            json!([{"name": "v", "cloudInitNoCloud": {"userData": "u", "secretRef": {"name": "s"}}}]),
            "spec.volumes[0].cloudInitNoCloud",
            "spec.volumes[0].cloudInitNoCloud must have only one userdatasource set.",
        ),
        (
            json!([{"name": "v", "cloudInitNoCloud": {"networkDataBase64": "!!!"}}]),
            "spec.volumes[0].cloudInitNoCloud.networkDataBase64",
            "spec.volumes[0].cloudInitNoCloud.networkDataBase64.cloudInitNoCloud.networkDataBase64 is not a valid base64 value.",
        ),
        (
            json!([{"name": "v", "cloudInitConfigDrive": {}}]),
            "spec.volumes[0].cloudInitConfigDrive",
            "spec.volumes[0].cloudInitConfigDrive must have at least one userdatasource or one networkdatasource set.",
        ),
        (
            json!([{"name": "v", "hostDisk": {"path": "/d.img", "type": "Disk"}}]),
            "spec.volumes[0]",
            "HostDisk feature gate is not enabled",
        ),
        (
            json!([{"name": "v", "secret": {}}]),
            "spec.volumes[0].secret.secretName",
            "spec.volumes[0].secret.secretName is a required field",
        ),
    ];
    for (volumes, field, message) in table {
        expect(with_storage(disk.clone(), volumes), field, message);
    }
}

#[test]
fn memory_rules() {
    let table: Vec<(Value, &str, &str)> = vec![
        (
            json!({"requests": {"memory": "-1"}}),
            "spec.domain.resources.requests.memory",
            "spec.domain.resources.requests.memory '-1': must be greater than or equal to 0.",
        ),
        (
            json!({"requests": {"memory": "512k"}}),
            "spec.domain.resources.requests.memory",
            "spec.domain.resources.requests.memory '512k': must be greater than or equal to 1M.",
        ),
        (
            json!({"requests": {"memory": "128Mi"}, "limits": {"memory": "64Mi"}}),
            "spec.domain.resources.requests.memory",
            "spec.domain.resources.requests.memory '128Mi' is greater than spec.domain.resources.limits.memory '64Mi'",
        ),
        (
            json!({"limits": {"memory": "-1"}}),
            "spec.domain.resources.limits.memory",
            "spec.domain.resources.limits.memory '-1': must be greater than or equal to 0.",
        ),
        (
            json!({"requests": {"cpu": "-1"}}),
            "spec.domain.resources.requests.cpu",
            "spec.domain.resources.requests.cpu '-1': must be greater than or equal to 0.",
        ),
        (
            json!({"limits": {"cpu": "-500m"}}),
            "spec.domain.resources.limits.cpu",
            "spec.domain.resources.limits.cpu '-500m': must be greater than or equal to 0.",
        ),
        (
            json!({"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}),
            "spec.domain.resources.requests.cpu",
            "spec.domain.resources.requests.cpu '2' is greater than spec.domain.resources.limits.cpu '1'",
        ),
    ];
    for (resources, field, message) in table {
        expect(
            json!({"domain": {"devices": {}, "resources": resources}}),
            field,
            message,
        );
    }
    expect(
        json!({"domain": {"devices": {}, "resources": {"requests": {"memory": "3Mi"}}, "memory": {"hugepages": {"pageSize": "2Mi"}}}}),
        "spec.domain.resources.requests.memory",
        "spec.domain.resources.requests.memory '3Mi' is not a multiple of the page size spec.domain.memory.hugepages.pageSize '2Mi'",
    );
    let stage = ClusterConfig {
        vm_rollout_strategy: crate::admission::config::RolloutStrategy::Stage,
        ..Default::default()
    };
    let over = json!({"domain": {"devices": {}, "memory": {"guest": "128Mi"}, "resources": {"limits": {"memory": "64Mi"}}}});
    assert!(
        causes_of(over.clone(), &stage)
            .iter()
            .any(|(f, _)| f == "spec.domain.memory.guest")
    );
    assert!(
        causes(over)
            .iter()
            .all(|(f, _)| f != "spec.domain.memory.guest")
    );
}

#[test]
fn machine_type_must_be_an_emulated_machine() {
    expect(
        json!({"domain": {"devices": {}, "machine": {"type": "pc-i440fx-2.5"}}}),
        "spec.domain.machine.type",
        "spec.domain.machine.type is not supported: pc-i440fx-2.5 (allowed values: [q35* pc-q35*])",
    );
    assert_eq!(
        causes(json!({"domain": {"devices": {}, "machine": {"type": "pc-q35-rhel9.6.0"}}})),
        vec![]
    );
}

#[test]
fn firmware_rules() {
    expect(
        json!({"domain": {"devices": {}, "firmware": {"bootloader": {"efi": {"secureBoot": false}, "bios": {}}}}}),
        "spec.domain.firmware.bootloader",
        "spec.domain.firmware.bootloader has both EFI and BIOS configured, but they are mutually exclusive.",
    );
    expect(
        json!({"domain": {"devices": {}, "firmware": {"bootloader": {"efi": {}}}}}),
        "spec.domain",
        "spec.domain has EFI SecureBoot enabled. SecureBoot requires SMM, which is currently disabled.",
    );
    assert_eq!(
        causes(
            json!({"domain": {"devices": {}, "features": {"smm": {}}, "firmware": {"bootloader": {"efi": {}}}}})
        ),
        vec![]
    );
    assert_eq!(
        causes(
            json!({"domain": {"devices": {}, "firmware": {"bootloader": {"efi": {"secureBoot": false}}}}})
        ),
        vec![]
    );
}

#[test]
fn hostname_and_subdomain_follow_dns_rules() {
    let c =
        causes(json!({"domain": {"devices": {}}, "hostname": "Bad_Name", "subdomain": "ok.sub"}));
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].0, "spec.hostname");
    assert!(c[0].1.starts_with("spec.hostname does not conform to the kubernetes DNS_LABEL rules : a lowercase RFC 1123 label"));
    let c = causes(json!({"domain": {"devices": {}}, "subdomain": "-x"}));
    assert_eq!(c[0].0, "spec.subdomain");
    assert!(
        c[0].1.starts_with(
            "spec.subdomain does not conform to the kubernetes DNS_SUBDOMAIN rules : "
        ),
        "{}",
        c[0].1
    );
}

#[test]
fn strategy_rules() {
    expect(
        json!({"domain": {"devices": {}}, "evictionStrategy": "Sometimes"}),
        "spec.evictionStrategy",
        "spec.evictionStrategy is set with an unrecognized option: Sometimes",
    );
    expect(
        json!({"domain": {"devices": {}}, "startStrategy": "Later"}),
        "spec.startStrategy",
        "spec.startStrategy is set with an unrecognized option: Later",
    );
    expect(
        json!({"domain": {"devices": {}}, "startStrategy": "Paused", "livenessProbe": {"exec": {"command": ["true"]}}}),
        "spec.startStrategy",
        "either spec.startStrategy or spec.livenessProbe should be provided.Pausing VMI with LivenessProbe is not supported",
    );
}

#[test]
fn probes_need_one_handler_and_network_probes_need_the_pod_network() {
    expect(
        json!({"domain": {"devices": {}}, "readinessProbe": {}}),
        "spec.readinessProbe",
        "either spec.readinessProbe.tcpSocket, spec.readinessProbe.exec or spec.readinessProbe.httpGet must be set if a spec.readinessProbe is specified",
    );
    expect(
        json!({"domain": {"devices": {}}, "livenessProbe": {"tcpSocket": {"port": 22}}}),
        "spec.livenessProbe.tcpSocket",
        "spec.livenessProbe.tcpSocket is only allowed if the Pod Network is attached",
    );
}

#[test]
fn network_rules() {
    let net = |ifaces: Value, nets: Value| json!({"domain": {"devices": {"interfaces": ifaces}}, "networks": nets});
    let pod = json!({"name": "default", "pod": {}});
    let table: Vec<(Value, &str, &str)> = vec![
        (
            net(json!([{"name": "default"}]), json!([pod])),
            "spec.domain.devices.interfaces[0]",
            "logical default interface must have exactly one binding method or binding plugin",
        ),
        (
            net(
                json!([{"name": "other", "masquerade": {}}]),
                json!([{"name": "other", "multus": {"networkName": "n"}}]),
            ),
            "spec.domain.devices.interfaces[0].name",
            "Masquerade interface only implemented with pod network",
        ),
        (
            net(
                json!([{"name": "default", "bridge": {}}]),
                json!([pod, {"name": "missing", "pod": {}}]),
            ),
            "spec.interfaces",
            "more than one interface is connected to a pod network in spec.interfaces",
        ),
        (
            net(
                json!([{"name": "default", "bridge": {}}, {"name": "x", "bridge": {}}]),
                json!([pod]),
            ),
            "spec.domain.devices.interfaces[1].name",
            "spec.domain.devices.interfaces[1].name 'x' not found.",
        ),
        (
            net(
                json!([{"name": "default", "bridge": {}, "model": "rtl9000"}]),
                json!([pod]),
            ),
            "spec.domain.devices.interfaces[0].model",
            "interface spec.domain.devices.interfaces[0].name uses model rtl9000 that is not supported.",
        ),
        (
            net(
                json!([{"name": "default", "bridge": {}, "macAddress": "zz"}]),
                json!([pod]),
            ),
            "spec.domain.devices.interfaces[0].macAddress",
            "interface spec.domain.devices.interfaces[0].name has malformed MAC address (zz).",
        ),
    ];
    for (spec, field, message) in table {
        expect(spec, field, message);
    }
    let no_bridge = ClusterConfig {
        permit_bridge_interface_on_pod_network: false,
        ..Default::default()
    };
    let c = causes_of(
        net(json!([{"name": "default", "bridge": {}}]), json!([pod])),
        &no_bridge,
    );
    assert_eq!(
        c[0].1,
        "Bridge on pod network configuration is not enabled under kubevirt-config"
    );
}

#[test]
fn discontinued_bindings_are_refused_at_creation() {
    let spec: VirtualMachineInstanceSpec = serde_json::from_value(
        json!({"domain": {"devices": {"interfaces": [{"name": "default", "slirp": {}}]}}}),
    )
    .unwrap();
    let c = validate_network_creation(&Path::new("spec"), &spec);
    assert_eq!(
        c[0].message,
        "Slirp interface support has been discontinued since v1.3"
    );
}

#[test]
fn gated_devices_need_their_gates() {
    expect(
        json!({"domain": {"devices": {"autoattachVSOCK": true}}}),
        "spec.domain.devices.autoattachVSOCK",
        "VSOCK feature gate is not enabled in kubevirt-config",
    );
    expect(
        json!({"domain": {"devices": {"hostDevices": [{"name": "h", "deviceName": "d"}]}}}),
        "spec.HostDevices",
        "Host Devices feature gate is not enabled in kubevirt-config",
    );
    let off = ClusterConfig {
        disabled_feature_gates: vec![gate::REBOOT_POLICY.into()],
        ..Default::default()
    };
    let spec = json!({"domain": {"devices": {}, "rebootPolicy": "Terminate"}});
    assert_eq!(causes(spec.clone()), vec![]);
    assert_eq!(
        causes_of(spec, &off)[0].1,
        "RebootPolicy is specified but the RebootPolicy feature gate is not enabled"
    );
}

#[test]
fn cpu_rules() {
    expect(
        json!({"domain": {"devices": {}, "cpu": {"sockets": 4, "maxSockets": 2}}}),
        "spec.domain.cpu.sockets",
        "Number of sockets in CPU topology is greater than the maximum sockets allowed",
    );
    expect(
        json!({"domain": {"devices": {}, "cpu": {"isolateEmulatorThread": true}}}),
        "spec.domain.cpu.isolateEmulatorThread",
        "IsolateEmulatorThread should be only set in combination with DedicatedCPUPlacement",
    );
    expect(
        json!({"domain": {"devices": {}, "cpu": {"features": [{"name": "x", "policy": "maybe"}]}}}),
        "spec.domain.cpu.features[0].policy",
        "CPU feature x uses policy maybe that is not supported.",
    );
}

#[test]
fn mandatory_memory_and_volume_disk_mapping_apply_to_vmis() {
    let spec: VirtualMachineInstanceSpec =
        serde_json::from_value(json!({"domain": {"devices": {}}})).unwrap();
    assert_eq!(
        validate_mandatory_memory(&Path::new("spec"), &spec).len(),
        1
    );
    let spec: VirtualMachineInstanceSpec = serde_json::from_value(json!({
        "domain": {"devices": {}, "memory": {"guest": "1Gi"}}, "volumes": [{"name": "v", "emptyDisk": {"capacity": "1Gi"}}]})).unwrap();
    assert!(validate_mandatory_memory(&Path::new("spec"), &spec).is_empty());
    let c = validate_volume_disks(&Path::new("spec"), &spec);
    assert_eq!(c[0].message, "spec.domain.volumes[0].name 'v' not found.");
}

#[test]
fn metadata_rules() {
    let labels = [("kubevirt.io/created-by".to_string(), "x".to_string())].into();
    let none = Default::default();
    let c = validate_metadata(
        &Path::new("metadata"),
        &labels,
        &none,
        &ClusterConfig::default(),
        false,
    );
    assert_eq!(
        c[0].message,
        "creation of the following reserved kubevirt.io/ labels on a VMI object is prohibited"
    );
    assert!(
        validate_metadata(
            &Path::new("metadata"),
            &labels,
            &none,
            &ClusterConfig::default(),
            true
        )
        .is_empty()
    );
    let ann = [(SIDECAR_ANNOTATION.to_string(), "[]".to_string())].into();
    let c = validate_metadata(
        &Path::new("metadata"),
        &none,
        &ann,
        &ClusterConfig::default(),
        false,
    );
    assert_eq!(
        c[0].message,
        "sidecar feature gate is not enabled in kubevirt-config, invalid entry metadata.annotations.hooks.kubevirt.io/hookSidecars"
    );
}

#[test]
fn more_device_rules() {
    let base = |devices: Value| json!({"domain": {"devices": devices}});
    let table: Vec<(Value, &str, &str)> = vec![
        (
            base(json!({"inputs": [{"name": "i", "type": "mouse", "bus": "ps2"}]})),
            "spec.domain.devices.inputs[0].bus",
            "Input device can have only virtio or usb bus.",
        ),
        (
            base(json!({"inputs": [{"name": "i", "type": "mouse"}]})),
            "spec.domain.devices.inputs[0].type",
            "Input device can have only tablet type.",
        ),
        (
            base(json!({"sound": {"name": "s", "model": "sb16"}})),
            "spec.Sound",
            "Sound device type is not supported. Options: 'ich9' or 'ac97'",
        ),
        (
            base(json!({"panicDevices": [{"model": "nmi"}]})),
            "spec.domain.devices.panicDevices[0].model",
            "invalid PanicDeviceModel(nmi)",
        ),
        (
            base(json!({"watchdog": {"name": "w", "diag288": {}}})),
            "spec.domain.devices.watchdog",
            "amd64 only supports I6300ESB watchdog device",
        ),
    ];
    for (spec, field, message) in table {
        let mut s: VirtualMachineInstanceSpec = serde_json::from_value(spec).unwrap();
        s.architecture = Some("amd64".into());
        let mut c = validate_spec(&Path::new("spec"), &s, &ClusterConfig::default());
        c.extend(validate_per_arch(&Path::new("spec"), &s));
        assert!(
            c.iter().any(|c| c.field == field && c.message == message),
            "({field}, {message}) not in {c:#?}"
        );
    }
}

#[test]
fn unknown_architectures_are_unsupported() {
    let s: VirtualMachineInstanceSpec =
        serde_json::from_value(json!({"architecture": "riscv64", "domain": {"devices": {}}}))
            .unwrap();
    let c = validate_per_arch(&Path::new("spec"), &s);
    assert_eq!(c[0].message, "unsupported architecture: riscv64");
}

#[test]
fn io_thread_dns_and_service_account_rules() {
    expect(
        json!({"domain": {"devices": {}, "ioThreadsPolicy": "many"}}),
        "spec.domain.ioThreadsPolicy",
        "Invalid IOThreadsPolicy (many)",
    );
    expect(
        json!({"domain": {"devices": {}, "ioThreadsPolicy": "supplementalPool"}}),
        "spec.domain.ioThreads.count",
        "the number of iothreads needs to be set and positive for the dedicated policy",
    );
    expect(
        json!({"domain": {"devices": {}}, "dnsPolicy": "None"}),
        "spec.dnsConfig",
        "must provide `dnsConfig` when `dnsPolicy` is None",
    );
    expect(
        json!({"domain": {"devices": {}}, "dnsConfig": {"nameservers": ["not-an-ip"]}}),
        "nameservers",
        "must be valid IP address: not-an-ip",
    );
    expect(
        json!({"domain": {"devices": {}}, "dnsPolicy": "Sometimes"}),
        "spec.dnsPolicy",
        "DNSPolicy: Sometimes is not supported, valid values: [ClusterFirstWithHostNet ClusterFirst Default None ]",
    );
    expect(
        json!({"domain": {"devices": {"disks": [{"name": "sa"}]}}, "serviceAccountName": "a",
               "volumes": [{"name": "sa", "serviceAccount": {"serviceAccountName": "b"}}]}),
        "spec.serviceAccountName",
        "spec.serviceAccountName \"a\" and serviceAccount volume \"b\" must reference the same service account",
    );
}

#[test]
fn access_credential_rules() {
    let with = |creds: Value| json!({"domain": {"devices": {}}, "accessCredentials": creds});
    expect(
        with(
            json!([{"sshPublicKey": {"source": {"secret": {"secretName": "k"}}, "propagationMethod": {"noCloud": {}}}}]),
        ),
        "spec.accessCredentials[0].sshPublicKey.propagationMethod",
        "spec.accessCredentials[0] requires a noCloud volume to exist when the noCloud propagationMethod is in use.",
    );
    expect(
        with(
            json!([{"sshPublicKey": {"source": {}, "propagationMethod": {"qemuGuestAgent": {"users": ["u"]}}}}]),
        ),
        "spec.accessCredentials[0].sshPublicKey.source",
        "spec.accessCredentials[0] must have exactly one source set",
    );
    expect(
        with(
            json!([{"userPassword": {"source": {"secret": {"secretName": "p"}}, "propagationMethod": {}}}]),
        ),
        "spec.accessCredentials[0].userPassword.propagationMethod",
        "spec.accessCredentials[0] must have exactly one propagationMethod set",
    );
}

#[test]
fn kernel_boot_and_launch_security_rules() {
    expect(
        json!({"domain": {"devices": {}, "firmware": {"kernelBoot": {"kernelArgs": "console=ttyS0"}}}}),
        "spec.domain.firmware.kernelBoot.kernelArgs",
        "kernel arguments cannot be provided without an external kernel",
    );
    expect(
        json!({"domain": {"devices": {}, "firmware": {"kernelBoot": {"container": {"image": "k", "kernelPath": "boot/vmlinuz"}}}}}),
        "spec.domain.firmware.kernelBoot.container.kernelPath",
        "spec.domain.firmware.kernelBoot.container.kernelPath must be an absolute path to a file without relative components",
    );
    expect(
        json!({"architecture": "amd64", "domain": {"devices": {}, "launchSecurity": {"sev": {}}}}),
        "spec.launchSecurity",
        "SEV requires OVMF (UEFI)",
    );
    expect(
        json!({"architecture": "amd64", "domain": {"devices": {}, "launchSecurity": {"tdx": {}}}}),
        "spec.launchSecurity",
        "WorkloadEncryptionTDX feature gate is not enabled in kubevirt-config",
    );
}

#[test]
fn dedicated_cpu_rules() {
    let dedicated = |resources: Value, cpu: Value| {
        let mut cpu = cpu;
        cpu["dedicatedCpuPlacement"] = json!(true);
        json!({"domain": {"devices": {}, "cpu": cpu, "resources": resources}})
    };
    expect(
        dedicated(
            json!({"requests": {"cpu": "1500m", "memory": "1Gi"}}),
            json!({}),
        ),
        "spec.domain.resources.requests.cpu",
        "provided resources CPU requests must be an interger",
    );
    expect(
        dedicated(
            json!({"requests": {"memory": "1Gi"}}),
            json!({"threads": 3}),
        ),
        "spec.domain.cpu.dedicatedCpuPlacement",
        "Not more than two threads must be provided at spec.domain.cpu.threads (got 3) when DedicatedCPUPlacement is true",
    );
    expect(
        dedicated(json!({}), json!({"cores": 2})),
        "spec.domain.resources.limits.memory",
        "spec.domain.resources.requests.memory, spec.domain.resources.limits.memory, spec.domain.memory.hugepages or spec.domain.memory.guest should be provided",
    );
}

#[test]
fn port_rules_on_the_pod_network() {
    let spec = |ports: Value| {
        json!({"domain": {"devices": {"interfaces": [{"name": "default", "masquerade": {}, "ports": ports}]}},
               "networks": [{"name": "default", "pod": {}}]})
    };
    expect(
        spec(json!([{"port": 0}])),
        "spec.domain.devices.interfaces[0].ports[0].port",
        "Port field is mandatory.",
    );
    expect(
        spec(json!([{"port": 70000}])),
        "spec.domain.devices.interfaces[0].ports[0].port",
        "Port field must be in range 0 < x < 65536.",
    );
    expect(
        spec(json!([{"port": 22, "protocol": "SCTP"}])),
        "spec.domain.devices.interfaces[0].ports[0].protocol",
        "Unknown protocol, only TCP or UDP allowed",
    );
    expect(
        spec(json!([{"port": 22, "name": "ssh"}, {"port": 23, "name": "ssh"}])),
        "spec.domain.devices.interfaces[0].ports[1].name",
        "Duplicate name of the port: ssh",
    );
}
