use std::ffi::OsString;

use serde_json::{Value, json};

use super::*;
use crate::cli::{Cmd, CreateCmd};
use crate::parse::{Outcome, parse};

/// Builds the manifest for `create vm <flags>`, with `-n` when `namespace` is given.
fn build(flags: &[&str], namespace: Option<&str>) -> Result<(Value, Vec<String>), String> {
    let args: Vec<OsString> = ["virtctl", "create", "vm"]
        .iter()
        .chain(flags)
        .map(OsString::from)
        .collect();
    let inv = match parse(&args, "virtctl") {
        Ok(Outcome::Run(inv)) => inv,
        Ok(other) => panic!("{flags:?}: {other:?}"),
        Err(e) => return Err(e.to_string()),
    };
    let Some(Cmd::Create(c)) = inv.cli.command else {
        panic!("not create")
    };
    let Some(CreateCmd::Vm(a)) = c.command else {
        panic!("not create vm")
    };
    Builder::new(*a, inv.changed, namespace.map(str::to_owned))
        .build()
        .map_err(|e| e.to_string())
}

fn vm(flags: &[&str]) -> Value {
    build(flags, None).unwrap().0
}

#[test]
fn defaults_follow_upstream() {
    let v = vm(&[]);
    let name = v["metadata"]["name"].as_str().unwrap();
    assert_eq!(name.len(), 8);
    assert!(name.starts_with("vm-"));
    assert!(name[3..].bytes().all(|b| ALPHANUMS.contains(&b)), "{name}");
    assert_eq!(v["spec"]["runStrategy"], "Always");
    assert_eq!(
        v["spec"]["template"]["spec"]["terminationGracePeriodSeconds"],
        180
    );
    assert_eq!(
        v["spec"]["template"]["spec"]["domain"]["memory"]["guest"],
        "512Mi"
    );
    assert!(v["metadata"].get("namespace").is_none());
    assert!(v["spec"].get("instancetype").is_none());
    let text = yaml::to_yaml(&v);
    assert!(
        text.ends_with("      terminationGracePeriodSeconds: 180\nstatus: {}\n"),
        "{text}"
    );
}

#[test]
fn names_strategies_and_namespace_are_taken_from_flags() {
    let (v, _) = build(
        &[
            "--name=my-vm",
            "--run-strategy=manual",
            "--termination-grace-period=5",
            "--memory=1024Mi",
        ],
        Some("ns1"),
    )
    .unwrap();
    assert_eq!(v["metadata"], json!({"name": "my-vm", "namespace": "ns1"}));
    assert_eq!(v["spec"]["runStrategy"], "Manual");
    assert_eq!(
        v["spec"]["template"]["spec"]["terminationGracePeriodSeconds"],
        5
    );
    assert_eq!(
        v["spec"]["template"]["spec"]["domain"]["memory"]["guest"],
        "1Gi"
    );
    assert_eq!(
        build(&["--run-strategy=Sometimes"], None).unwrap_err(),
        "failed to parse \"--run-strategy\" flag: invalid run strategy \"Sometimes\", supported values are: Always, Manual, Halted, Once, RerunOnFailure"
    );
    assert!(
        build(&["--memory=lots"], None)
            .unwrap_err()
            .starts_with("failed to parse \"--memory\" flag: quantities must match")
    );
}

#[test]
fn instancetype_replaces_memory_and_kinds_are_checked() {
    let v = vm(&[
        "--instancetype=virtualmachineinstancetype/u1",
        "--preference=fedora",
    ]);
    assert!(
        v["spec"]["template"]["spec"]["domain"]
            .get("memory")
            .is_none()
    );
    assert_eq!(
        v["spec"]["instancetype"],
        json!({"name": "u1", "kind": "virtualmachineinstancetype"})
    );
    assert_eq!(v["spec"]["preference"], json!({"name": "fedora"}));
    assert_eq!(
        build(&["--instancetype=pod/x"], None).unwrap_err(),
        "failed to parse \"--instancetype\" flag: invalid instancetype kind \"pod\", supported values are: virtualmachineinstancetype, virtualmachineclusterinstancetype"
    );
}

#[test]
fn volumes_get_default_names_and_boot_orders() {
    let v = vm(&[
        "--name=vm1",
        "--volume-containerdisk=src:quay.io/c:1",
        "--volume-pvc=src:disk1,bootorder:1",
    ]);
    assert_eq!(
        v["spec"]["template"]["spec"]["volumes"],
        json!([
            {"name": "vm1-containerdisk-0", "containerDisk": {"image": "quay.io/c:1"}},
            {"name": "disk1", "persistentVolumeClaim": {"claimName": "disk1"}}
        ])
    );
    assert_eq!(
        v["spec"]["template"]["spec"]["domain"]["devices"]["disks"],
        json!([{"name": "disk1", "bootOrder": 1}])
    );
    // Implicit inference picks the booting PVC and tolerates failure on the server side.
    assert_eq!(
        v["spec"]["instancetype"],
        json!({"inferFromVolume": "disk1", "inferFromVolumeFailurePolicy": "Ignore"})
    );
    assert_eq!(
        v["spec"]["template"]["spec"]["domain"]["memory"]["guest"],
        "512Mi"
    );
    assert_eq!(
        build(&["--volume-pvc=src:ns/disk1"], None).unwrap_err(),
        "failed to parse \"--volume-pvc\" flag: not allowed to specify namespace of pvc \"disk1\""
    );
    assert_eq!(
        build(
            &[
                "--volume-pvc=src:a,bootorder:1",
                "--volume-containerdisk=src:x,bootorder:1"
            ],
            None
        )
        .unwrap_err(),
        "failed to parse \"--volume-pvc\" flag: bootorder 1 was specified multiple times"
    );
}

#[test]
fn sources_must_be_given_and_stay_in_the_vm_namespace() {
    let fails = |flag: &str| build(&[flag], None).unwrap_err();
    assert_eq!(
        fails("--volume-containerdisk=name:c"),
        "failed to parse \"--volume-containerdisk\" flag: src must be specified"
    );
    assert_eq!(
        fails("--volume-containerdisk=src:img,name:Bad_Name"),
        "failed to parse \"--volume-containerdisk\" flag: invalid name \"Bad_Name\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
    );
    assert_eq!(
        fails("--volume-sysprep=src:ns/unattend"),
        "failed to parse \"--volume-sysprep\" flag: not allowed to specify namespace of configmap or secret \"unattend\""
    );
    assert_eq!(
        fails("--access-cred=src:ns/keys"),
        "failed to parse \"--access-cred\" flag: not allowed to specify namespace of secret \"keys\""
    );
    assert_eq!(
        fails("--access-cred=src:a/b/c"),
        "failed to parse \"--access-cred\" flag: src invalid: invalid count 2 of slashes in prefix/name"
    );
    assert_eq!(
        fails("--volume-pvc=bootorder:1"),
        "failed to parse \"--volume-pvc\" flag: src must be specified"
    );
}

#[test]
fn imported_volumes_become_data_volume_templates() {
    let v = vm(&["--volume-import=type:ds,src:os/fedora,size:50Gi,name:root"]);
    assert_eq!(
        v["spec"]["dataVolumeTemplates"],
        json!([{"metadata": {"name": "root"}, "spec": {
            "sourceRef": {"kind": "DataSource", "name": "fedora", "namespace": "os"},
            "storage": {"resources": {"requests": {"storage": "50Gi"}}}
        }}])
    );
    assert_eq!(
        v["spec"]["template"]["spec"]["volumes"],
        json!([{"name": "root", "dataVolume": {"name": "root"}}])
    );
    let blank = vm(&["--volume-import=type:blank,size:1Gi"]);
    let name = blank["spec"]["dataVolumeTemplates"][0]["metadata"]["name"]
        .as_str()
        .unwrap();
    assert!(name.starts_with("imported-volume-"), "{name}");
    assert_eq!(
        build(&["--volume-import=type:blank"], None).unwrap_err(),
        "failed to parse \"--volume-import\" flag: size must be specified"
    );
    assert_eq!(
        build(&["--volume-import=type:pvc,src:x"], None).unwrap_err(),
        "failed to parse \"--volume-import\" flag: namespace of pvc \"x\" must be specified"
    );
    assert_eq!(
        build(&["--volume-import=type:ftp,src:x"], None).unwrap_err(),
        "failed to parse \"--volume-import\" flag: invalid volume import type \"ftp\", see help for supported values"
    );
}

#[test]
fn cloud_init_user_data_is_generated_from_user_keys_and_password() {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "s3cret\n").unwrap();
    let (v, warnings) = build(
        &[
            "--user=cloud-user",
            "--ssh-key=ssh-ed25519 AAAA a@b",
            &format!("--password-file={}", pw.display()),
        ],
        None,
    )
    .unwrap();
    let volumes = &v["spec"]["template"]["spec"]["volumes"];
    assert_eq!(volumes[0]["name"], "cloudinitdisk");
    assert_eq!(
        volumes[0]["cloudInitNoCloud"]["userData"],
        "#cloud-config\nuser: cloud-user\npassword: s3cret\nchpasswd: { expire: False }\nssh_authorized_keys:\n  - ssh-ed25519 AAAA a@b"
    );
    assert!(warnings[0].contains("The password is stored in cleartext"));
    let b64 = vm(&[
        "--cloud-init-user-data=I2Nsb3VkLWNvbmZpZw==",
        "--cloud-init=configdrive",
    ]);
    assert_eq!(
        b64["spec"]["template"]["spec"]["volumes"][0]["cloudInitConfigDrive"],
        json!({"userDataBase64": "I2Nsb3VkLWNvbmZpZw=="})
    );
    assert_eq!(
        build(&["--user=a", "--cloud-init-user-data=x"], None).unwrap_err(),
        "if any flags in the group [cloud-init-user-data user] are set none of the others can be; [cloud-init-user-data user] were all set"
            .to_owned()
    );
}

#[test]
fn ssh_access_credentials_through_the_agent_need_a_user() {
    let v = vm(&["--access-cred=type:ssh,src:my-keys,user:myuser"]);
    assert_eq!(
        v["spec"]["template"]["spec"]["accessCredentials"],
        json!([{"sshPublicKey": {
            "source": {"secret": {"secretName": "my-keys"}},
            "propagationMethod": {"qemuGuestAgent": {"users": ["myuser"]}}
        }}])
    );
    // The guest agent may manage keys: upstream turns --ga-manage-ssh on.
    let user_data = v["spec"]["template"]["spec"]["volumes"][0]["cloudInitNoCloud"]["userData"]
        .as_str()
        .unwrap();
    assert!(user_data.contains("virt_qemu_ga_manage_ssh"), "{user_data}");
    assert_eq!(
        build(&["--access-cred=src:my-keys"], None).unwrap_err(),
        "failed to parse \"--access-cred\" flag: user must be specified with access credential ssh method ga (\"--user\" flag or param \"user\")"
    );
    let pw = vm(&["--access-cred=type:password,src:pws"]);
    assert_eq!(
        pw["spec"]["template"]["spec"]["accessCredentials"][0]["userPassword"]["propagationMethod"],
        json!({"qemuGuestAgent": {}})
    );
}

#[test]
fn explicit_inference_clears_memory_and_reports_errors() {
    let v = vm(&["--volume-pvc=src:root", "--infer-instancetype"]);
    assert_eq!(
        v["spec"]["instancetype"],
        json!({"inferFromVolume": "root"})
    );
    assert!(
        v["spec"]["template"]["spec"]["domain"]
            .get("memory")
            .is_none()
    );
    assert_eq!(
        build(
            &["--volume-containerdisk=src:x", "--infer-preference"],
            None
        )
        .unwrap_err(),
        "inference of instancetype or preference works only with datasources, datavolumes or pvcs"
    );
    assert_eq!(
        build(
            &["--infer-instancetype-from=nope", "--volume-pvc=src:root"],
            None
        )
        .unwrap_err(),
        "there is no volume with name \"nope\""
    );
}
