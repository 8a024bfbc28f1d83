use super::*;
use crate::spec::{DiskFormat, KernelBootPaths, Ovmf, ResolvedVolume};
use serde_json::json;

fn vmi(spec: serde_json::Value) -> VirtualMachineInstance {
    serde_json::from_value(json!({
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachineInstance",
        "metadata": {"name": "testvmi", "namespace": "default", "uid": "1234"},
        "spec": spec,
    }))
    .unwrap()
}

fn env() -> LaunchEnv {
    let mut env = LaunchEnv::new(Accel::Tcg);
    env.ovmf = None;
    env
}

fn env_with(volumes: &[&str]) -> LaunchEnv {
    let mut env = env();
    for v in volumes {
        env.volumes.insert(
            v.to_string(),
            ResolvedVolume {
                path: format!("disks/{v}.qcow2").into(),
                format: DiskFormat::Qcow2,
                readonly: false,
            },
        );
    }
    env
}

/// The value following the first occurrence of `flag`, and all values of `flag`.
fn values<'a>(args: &'a [String], flag: &str) -> Vec<&'a str> {
    args.windows(2)
        .filter(|w| w[0] == flag)
        .map(|w| w[1].as_str())
        .collect()
}

fn memory(guest: &str) -> serde_json::Value {
    json!({"domain": {"devices": {}, "memory": {"guest": guest}}})
}

#[test]
fn memory_comes_from_guest_then_requests_then_limits() {
    let args = command_line(&vmi(memory("1Gi")), &env()).unwrap();
    assert_eq!(values(&args, "-m"), ["1024M"]);
    let v = vmi(json!({"domain": {"devices": {},
        "resources": {"requests": {"memory": "64M"}, "limits": {"memory": "2Gi"}}}}));
    // 64 000 000 bytes round up to 62 MiB.
    assert_eq!(values(&command_line(&v, &env()).unwrap(), "-m"), ["62M"]);
    let v = vmi(json!({"domain": {"devices": {}, "resources": {"limits": {"memory": "2Gi"}}}}));
    assert_eq!(values(&command_line(&v, &env()).unwrap(), "-m"), ["2048M"]);
    let v = vmi(json!({"domain": {"devices": {}}}));
    assert_eq!(command_line(&v, &env()), Err(ConvertError::NoMemory));
}

#[test]
fn host_cpu_models_become_max_under_tcg_and_host_under_kvm() {
    let mut spec = memory("128Mi");
    spec["domain"]["cpu"] = json!({"model": "host-model", "sockets": 2, "cores": 2, "threads": 1,
        "features": [{"name": "vmx", "policy": "disable"}, {"name": "pcid"}]});
    let v = vmi(spec);
    let tcg = command_line(&v, &env()).unwrap();
    assert_eq!(values(&tcg, "-cpu"), ["max,vmx=off,pcid=on"]);
    assert_eq!(values(&tcg, "-smp"), ["4,sockets=2,cores=2,threads=1"]);
    let mut kvm_env = env();
    kvm_env.accel = Accel::Kvm;
    let kvm = command_line(&v, &kvm_env).unwrap();
    assert_eq!(values(&kvm, "-cpu"), ["host,vmx=off,pcid=on"]);
    assert_eq!(values(&kvm, "-machine"), ["q35,accel=kvm"]);
}

#[test]
fn vcpus_fall_back_to_the_cpu_resources() {
    let v = vmi(json!({"domain": {"devices": {}, "memory": {"guest": "1Gi"},
        "resources": {"requests": {"cpu": "1500m"}}}}));
    let args = command_line(&v, &env()).unwrap();
    assert_eq!(values(&args, "-smp"), ["2,sockets=2,cores=1,threads=1"]);
}

#[test]
fn named_machine_types_of_the_q35_family_are_accepted_and_others_refused() {
    let mut spec = memory("128Mi");
    spec["domain"]["machine"] = json!({"type": "pc-q35-rhel9.6.0"});
    let args = command_line(&vmi(spec.clone()), &env()).unwrap();
    assert_eq!(values(&args, "-machine"), ["q35,accel=tcg"]);
    spec["domain"]["machine"] = json!({"type": "pc-i440fx-2.12"});
    assert_eq!(
        command_line(&vmi(spec), &env()),
        Err(ConvertError::UnsupportedMachine("pc-i440fx-2.12".into()))
    );
}

#[test]
fn efi_needs_ovmf_and_secure_boot_needs_its_build_and_smm() {
    let mut spec = memory("128Mi");
    spec["domain"]["firmware"] = json!({"bootloader": {"efi": {}}});
    let v = vmi(spec);
    assert_eq!(command_line(&v, &env()), Err(ConvertError::EfiUnavailable));
    let mut e = env();
    e.ovmf = Some(Ovmf {
        code: "/fw/CODE.fd".into(),
        vars: "/fw/VARS.fd".into(),
        secure_code: None,
        secure_vars: None,
    });
    assert_eq!(
        command_line(&v, &e),
        Err(ConvertError::SecureBootUnavailable)
    );
    e.ovmf.as_mut().unwrap().secure_code = Some("/fw/SECURE.fd".into());
    let args = command_line(&v, &e).unwrap();
    assert_eq!(values(&args, "-machine"), ["q35,accel=tcg,smm=on"]);
    assert_eq!(
        values(&args, "-drive"),
        [
            "if=pflash,format=raw,unit=0,readonly=on,file=/fw/SECURE.fd",
            "if=pflash,format=raw,unit=1,file=efivars.fd"
        ]
    );
}

#[test]
fn kernel_boot_uses_the_resolved_files_and_the_kernel_arguments() {
    let mut spec = memory("128Mi");
    spec["domain"]["firmware"] = json!({"kernelBoot": {"kernelArgs": "console=ttyS0",
        "container": {"image": "k", "kernelPath": "/boot/vmlinuz"}}});
    let v = vmi(spec);
    assert_eq!(
        command_line(&v, &env()),
        Err(ConvertError::KernelBootUnresolved)
    );
    let mut e = env();
    e.kernel_boot = Some(KernelBootPaths {
        kernel: "/k/vmlinuz".into(),
        initrd: Some("/k/initrd".into()),
    });
    let args = command_line(&v, &e).unwrap();
    assert_eq!(values(&args, "-kernel"), ["/k/vmlinuz"]);
    assert_eq!(values(&args, "-initrd"), ["/k/initrd"]);
    assert_eq!(values(&args, "-append"), ["console=ttyS0"]);
}

#[test]
fn serial_console_and_graphics_can_be_turned_off() {
    let on = command_line(&vmi(memory("128Mi")), &env()).unwrap();
    assert_eq!(values(&on, "-serial"), ["chardev:serial0"]);
    assert_eq!(values(&on, "-vnc"), ["unix:vnc.sock"]);
    assert_eq!(values(&on, "-vga"), ["std"]);
    let mut spec = memory("128Mi");
    spec["domain"]["devices"] =
        json!({"autoattachSerialConsole": false, "autoattachGraphicsDevice": false});
    let off = command_line(&vmi(spec), &env()).unwrap();
    assert!(values(&off, "-serial").is_empty());
    assert!(values(&off, "-chardev").is_empty());
    assert!(values(&off, "-vnc").is_empty());
    assert_eq!(values(&off, "-vga"), ["none"]);
    assert_eq!(values(&off, "-display"), ["none"]);
}

#[test]
fn reboot_policy_terminate_adds_no_reboot() {
    let plain = command_line(&vmi(memory("128Mi")), &env()).unwrap();
    assert!(!plain.contains(&"-no-reboot".to_string()));
    let mut spec = memory("128Mi");
    spec["domain"]["rebootPolicy"] = json!("Terminate");
    let args = command_line(&vmi(spec), &env()).unwrap();
    assert!(args.contains(&"-no-reboot".to_string()));
}

#[test]
fn disks_map_to_their_bus_with_boot_order_cache_and_read_only() {
    let v = vmi(
        json!({"domain": {"memory": {"guest": "128Mi"}, "devices": {"disks": [
            {"name": "root", "disk": {"bus": "virtio"}, "bootOrder": 1, "cache": "none", "io": "native"},
            {"name": "data", "disk": {"bus": "sata"}, "serial": "D1"},
            {"name": "s1", "disk": {"bus": "scsi", "readonly": true}},
            {"name": "s2", "cdrom": {"bus": "scsi"}},
            {"name": "iso", "cdrom": {"bus": "sata"}}
        ]}},
        "volumes": [
            {"name": "root", "emptyDisk": {"capacity": "1Gi"}},
            {"name": "data", "emptyDisk": {"capacity": "1Gi"}},
            {"name": "s1", "emptyDisk": {"capacity": "1Gi"}},
            {"name": "s2", "emptyDisk": {"capacity": "1Gi"}},
            {"name": "iso", "emptyDisk": {"capacity": "1Gi"}}
        ]}),
    );
    let args = command_line(&v, &env_with(&["root", "data", "s1", "s2", "iso"])).unwrap();
    let drives = values(&args, "-drive");
    assert_eq!(
        drives[0],
        "file=disks/root.qcow2,format=qcow2,if=none,id=drive-ua-root,cache=none,aio=native,werror=stop,rerror=stop"
    );
    assert!(drives[2].ends_with("id=drive-ua-s1,readonly=on"));
    assert!(drives[3].ends_with("id=drive-ua-s2,readonly=on"));
    assert_eq!(
        values(&args, "-device")[..6],
        [
            "virtio-blk-pci,drive=drive-ua-root,id=ua-root,bootindex=1",
            "ide-hd,bus=ide.0,drive=drive-ua-data,id=ua-data,serial=D1",
            "virtio-scsi-pci,id=scsi0",
            "scsi-hd,bus=scsi0.0,drive=drive-ua-s1,id=ua-s1",
            "scsi-cd,bus=scsi0.0,drive=drive-ua-s2,id=ua-s2",
            "ide-cd,bus=ide.1,drive=drive-ua-iso,id=ua-iso",
        ]
    );
}

#[test]
fn volumes_without_disks_get_a_sata_disk_and_unresolved_volumes_are_errors() {
    let v = vmi(
        json!({"domain": {"memory": {"guest": "128Mi"}, "devices": {}},
        "volumes": [{"name": "cd", "containerDisk": {"image": "x"}}]}),
    );
    let args = command_line(&v, &env_with(&["cd"])).unwrap();
    assert_eq!(
        values(&args, "-device")[0],
        "ide-hd,bus=ide.0,drive=drive-ua-cd,id=ua-cd"
    );
    assert_eq!(
        command_line(&v, &env()),
        Err(ConvertError::UnresolvedVolume("cd".into()))
    );
}

#[test]
fn read_only_sata_disks_and_virtio_cdroms_are_refused() {
    for disk in [
        json!({"name": "a", "disk": {"bus": "sata", "readonly": true}}),
        json!({"name": "a", "cdrom": {"bus": "virtio"}}),
        json!({"name": "a", "lun": {}}),
    ] {
        let v = vmi(
            json!({"domain": {"memory": {"guest": "128Mi"}, "devices": {"disks": [disk]}},
            "volumes": [{"name": "a", "emptyDisk": {"capacity": "1Gi"}}]}),
        );
        assert!(matches!(
            command_line(&v, &env_with(&["a"])),
            Err(ConvertError::Unsupported(_))
        ));
    }
}

#[test]
fn pod_interfaces_use_user_networking_with_the_interface_mac() {
    let v = vmi(
        json!({"domain": {"memory": {"guest": "128Mi"}, "devices": {"interfaces": [
        {"name": "default", "masquerade": {}, "macAddress": "02:00:00:AA:BB:CC", "model": "e1000"}
    ]}}, "networks": [{"name": "default", "pod": {"vmNetworkCIDR": "10.11.12.0/24"}}]}),
    );
    let mut e = env();
    e.host_forwards.push(crate::spec::HostForward {
        protocol: crate::spec::ForwardProtocol::Tcp,
        host_address: None,
        host_port: 2222,
        guest_port: 22,
    });
    let args = command_line(&v, &e).unwrap();
    assert_eq!(
        values(&args, "-netdev"),
        [
            "user,id=netdev-ua-default,net=10.11.12.0/24,hostname=testvmi,hostfwd=tcp:127.0.0.1:2222-:22"
        ]
    );
    assert!(
        values(&args, "-device").contains(
            &"e1000,netdev=netdev-ua-default,id=ua-default,mac=02:00:00:aa:bb:cc,romfile="
        )
    );
}

#[test]
fn a_vmi_without_interfaces_gets_the_default_pod_interface_unless_disabled() {
    let args = command_line(&vmi(memory("128Mi")), &env()).unwrap();
    assert_eq!(values(&args, "-netdev").len(), 1);
    let mut spec = memory("128Mi");
    spec["domain"]["devices"] = json!({"autoattachPodInterface": false});
    let args = command_line(&vmi(spec), &env()).unwrap();
    assert!(values(&args, "-netdev").is_empty());
}

#[test]
fn derived_macs_are_stable_and_differ_between_interfaces() {
    let v = vmi(memory("128Mi"));
    let a = interface_mac(
        &v,
        &api::Interface {
            name: "a".into(),
            ..Default::default()
        },
    );
    let b = interface_mac(
        &v,
        &api::Interface {
            name: "b".into(),
            ..Default::default()
        },
    );
    assert!(a.starts_with("52:54:00:"));
    assert_ne!(a, b);
    assert_eq!(
        a,
        interface_mac(
            &v,
            &api::Interface {
                name: "a".into(),
                ..Default::default()
            }
        )
    );
}

#[test]
fn unsupported_hardware_is_refused_with_a_clear_message() {
    let cases = [
        (
            json!({"domain": {"memory": {"guest": "1Gi"}, "devices": {"interfaces": [
                {"name": "default", "masquerade": {}}, {"name": "sriov-net", "sriov": {}}]}},
             "networks": [{"name": "default", "pod": {}},
                          {"name": "sriov-net", "pod": {}}]}),
            "SR-IOV interface \"sriov-net\" is not supported",
        ),
        (
            json!({"domain": {"memory": {"guest": "1Gi"}, "devices": {"interfaces": [
                {"name": "net1", "bridge": {}}]}},
             "networks": [{"name": "net1", "multus": {"networkName": "ptp"}}]}),
            "interface \"net1\": multus network \"ptp\" is not supported (only the pod network is)",
        ),
        (
            json!({"domain": {"memory": {"guest": "1Gi"}, "devices": {"gpus": [
                {"name": "gpu1", "deviceName": "nvidia.com/GP102GL"}]}}}),
            "GPU \"gpu1\" is not supported: this node has no device plugins",
        ),
        (
            json!({"domain": {"memory": {"guest": "1Gi"}, "devices": {"hostDevices": [
                {"name": "hd", "deviceName": "x"}]}}}),
            "host device \"hd\" is not supported: this node has no device plugins",
        ),
    ];
    for (spec, message) in cases {
        let err = command_line(&vmi(spec), &env()).unwrap_err();
        assert_eq!(err.to_string(), message);
    }
}

#[test]
fn panic_watchdog_rng_and_inputs_become_devices() {
    let v = vmi(json!({"domain": {"memory": {"guest": "128Mi"}, "devices": {
        "panicDevices": [{"model": "isa"}],
        "watchdog": {"name": "wd", "i6300esb": {"action": "poweroff"}},
        "rng": {},
        "inputs": [{"name": "tab", "type": "tablet", "bus": "usb"}],
        "autoattachPodInterface": false,
        "autoattachMemBalloon": false
    }}}));
    let args = command_line(&v, &env()).unwrap();
    assert_eq!(
        values(&args, "-device"),
        [
            "qemu-xhci,id=usb",
            "usb-tablet,bus=usb.0,id=ua-tab",
            "virtio-rng-pci,rng=objrng0,id=rng0",
            "i6300esb,id=ua-wd",
            "pvpanic,id=panic0"
        ]
    );
    assert_eq!(
        values(&args, "-action"),
        ["watchdog=poweroff", "panic=shutdown"]
    );
}

#[test]
fn commas_in_values_are_escaped() {
    let mut spec = memory("128Mi");
    spec["domain"]["firmware"] = json!({"serial": "a,b"});
    let args = command_line(&vmi(spec), &env()).unwrap();
    assert_eq!(
        values(&args, "-smbios"),
        ["type=1,manufacturer=KubeVirt,product=None,family=KubeVirt,serial=a,,b"]
    );
}

#[test]
fn the_pod_netdev_is_the_first_present_pod_interface() {
    assert_eq!(
        pod_netdev_id(&vmi(memory("128Mi"))).as_deref(),
        Some("netdev-ua-default")
    );
    let mut spec = memory("128Mi");
    spec["domain"]["devices"] = json!({"autoattachPodInterface": false});
    assert_eq!(pod_netdev_id(&vmi(spec)), None);
    let v = vmi(
        json!({"domain": {"memory": {"guest": "128Mi"}, "devices": {"interfaces": [
            {"name": "gone", "masquerade": {}, "state": "absent"},
            {"name": "other", "bridge": {}},
            {"name": "pod", "masquerade": {}}
        ]}}, "networks": [
            {"name": "gone", "pod": {}},
            {"name": "other", "multus": {"networkName": "net"}},
            {"name": "pod", "pod": {}}
        ]}),
    );
    assert_eq!(pod_netdev_id(&v).as_deref(), Some("netdev-ua-pod"));
}
