//! `create vm`: prints a VirtualMachine manifest as upstream's `pkg/virtctl/create/vm` builds
//! it (nothing is created): a name `vm-<5 random>`, run strategy Always, termination grace
//! period 180, guest memory 512Mi unless an instance type is given; volumes, cloud-init user
//! data, access credentials, instance type and preference (or their inference from a volume)
//! from the flags, processed in upstream's order.

mod args;
pub mod params;
pub mod quantity;
mod sources;
pub mod yaml;

use std::collections::{BTreeMap, BTreeSet};

use rand::Rng;
use serde_json::{Map, Value, json};

use crate::commands::{CommandError, Ctx};
pub use args::CreateVmArgs;
use params::{flag_err, split_prefixed_name};
use quantity::Quantity;
use sources::{import_source, io_text, password_credential};

const CLOUD_INIT_DISK: &str = "cloudinitdisk";
const CLOUD_INIT_HEADER: &str = "#cloud-config";
const SYSPREP_DISK: &str = "sysprepdisk";
const RUN_STRATEGIES: [&str; 5] = ["Always", "Manual", "Halted", "Once", "RerunOnFailure"];
/// Characters of Kubernetes' random name suffixes (no vowels, no look-alikes).
const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// A random Kubernetes-style suffix.
fn random_suffix(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| ALPHANUMS[rng.random_range(0..ALPHANUMS.len())] as char)
        .collect()
}

/// Builds the manifest; flags are applied in upstream's order.
pub struct Builder {
    a: CreateVmArgs,
    changed: BTreeSet<String>,
    namespace: Option<String>,
    boot_orders: BTreeMap<u32, String>,
    vm: Value,
    /// Messages for standard error.
    pub warnings: Vec<String>,
}

pub(super) fn err(message: String) -> CommandError {
    CommandError::Failed(message)
}

/// The `src` parameter of a `--flag` value, which must be given.
fn required_src(flag: &str, p: &params::Params) -> Result<String, CommandError> {
    let src = p.str("src");
    if src.is_empty() {
        return Err(err(flag_err(flag, "src must be specified")));
    }
    Ok(src)
}

/// The name `src` gives of an object in the VM's own namespace (`what` names its kind in the
/// error when `src` is `namespace/name`).
fn local_name(flag: &str, src: &str, what: &str) -> Result<String, CommandError> {
    let (namespace, name) =
        split_prefixed_name(src).map_err(|e| err(flag_err(flag, format!("src invalid: {e}"))))?;
    if !namespace.is_empty() {
        return Err(err(flag_err(
            flag,
            format!("not allowed to specify namespace of {what} \"{name}\""),
        )));
    }
    Ok(name)
}

/// Refuses a volume name that is not a DNS-1123 label.
fn check_volume_name(flag: &str, name: &str) -> Result<(), CommandError> {
    match params::dns1123_label_errors(name) {
        Some(e) => Err(err(flag_err(flag, format!("invalid name \"{name}\": {e}")))),
        None => Ok(()),
    }
}

impl Builder {
    /// A builder for the flags `a`, of which `changed` were given; `namespace` is `-n`.
    pub fn new(a: CreateVmArgs, changed: BTreeSet<String>, namespace: Option<String>) -> Self {
        Builder {
            a,
            changed,
            namespace,
            boot_orders: BTreeMap::new(),
            vm: Value::Null,
            warnings: Vec::new(),
        }
    }

    fn changed(&self, flag: &str) -> bool {
        self.changed.contains(flag)
    }

    fn template_spec(&mut self) -> &mut Map<String, Value> {
        self.vm["spec"]["template"]["spec"]
            .as_object_mut()
            .expect("template spec")
    }

    fn volumes(&self) -> Vec<Value> {
        self.vm
            .pointer("/spec/template/spec/volumes")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    }

    fn volume_exists(&self, name: &str) -> Option<Value> {
        self.volumes()
            .into_iter()
            .find(|v| v.get("name").and_then(Value::as_str) == Some(name))
    }

    fn add_volume(&mut self, volume: Value) {
        self.template_spec()
            .entry("volumes")
            .or_insert_with(|| json!([]))
            .as_array_mut()
            .expect("volumes")
            .push(volume);
    }

    fn volume_should_not_exist(&self, flag: &str, name: &str) -> Result<(), CommandError> {
        if self.volume_exists(name).is_some() {
            return Err(err(flag_err(
                flag,
                format!("there is already a volume with name \"{name}\""),
            )));
        }
        Ok(())
    }

    fn add_disk_with_boot_order(
        &mut self,
        flag: &str,
        name: &str,
        boot_order: Option<u32>,
    ) -> Result<(), CommandError> {
        let Some(order) = boot_order else {
            return Ok(());
        };
        if order == 0 {
            return Err(err(flag_err(flag, "bootorder must be greater than 0")));
        }
        if self.boot_orders.contains_key(&order) {
            return Err(err(flag_err(
                flag,
                format!("bootorder {order} was specified multiple times"),
            )));
        }
        let devices = self.vm["spec"]["template"]["spec"]["domain"]["devices"]
            .as_object_mut()
            .expect("devices");
        devices
            .entry("disks")
            .or_insert_with(|| json!([]))
            .as_array_mut()
            .expect("disks")
            .push(json!({"name": name, "bootOrder": order}));
        self.boot_orders.insert(order, name.to_owned());
        Ok(())
    }

    fn new_vm(&mut self, name: &str) -> Result<(), CommandError> {
        let memory = Quantity::parse(&self.a.memory).map_err(|e| err(flag_err("memory", e)))?;
        let mut metadata = json!({"name": name});
        if let Some(ns) = &self.namespace {
            metadata["namespace"] = json!(ns);
        }
        self.vm = json!({
            "apiVersion": "kubevirt.io/v1",
            "kind": "VirtualMachine",
            "metadata": metadata,
            "spec": {
                "runStrategy": self.a.run_strategy,
                "template": {
                    "metadata": {},
                    "spec": {
                        "domain": {
                            "devices": {},
                            "memory": {"guest": memory.canonical()},
                            "resources": {},
                        },
                        "terminationGracePeriodSeconds": self.a.termination_grace_period,
                    }
                }
            },
            "status": {}
        });
        Ok(())
    }

    fn with_run_strategy(&mut self) -> Result<(), CommandError> {
        let wanted = &self.a.run_strategy;
        let strategy = RUN_STRATEGIES
            .iter()
            .find(|s| s.eq_ignore_ascii_case(wanted))
            .ok_or_else(|| {
                err(flag_err(
                    "run-strategy",
                    format!(
                        "invalid run strategy \"{wanted}\", supported values are: {}",
                        RUN_STRATEGIES.join(", ")
                    ),
                ))
            })?;
        self.vm["spec"]["runStrategy"] = json!(strategy);
        Ok(())
    }

    fn matcher(
        &self,
        flag: &str,
        value: &str,
        kinds: [&str; 2],
        what: &str,
    ) -> Result<Value, CommandError> {
        let (kind, name) = split_prefixed_name(value).map_err(|e| err(flag_err(flag, e)))?;
        let kind = kind.to_lowercase();
        if !kind.is_empty() && !kinds.contains(&kind.as_str()) {
            return Err(err(flag_err(
                flag,
                format!(
                    "invalid {what} kind \"{kind}\", supported values are: {}, {}",
                    kinds[0], kinds[1]
                ),
            )));
        }
        let mut m = json!({"name": name});
        if !kind.is_empty() {
            m["kind"] = json!(kind);
        }
        Ok(m)
    }

    fn with_instancetype(&mut self) -> Result<(), CommandError> {
        let m = self.matcher(
            "instancetype",
            &self.a.instancetype.clone(),
            [
                "virtualmachineinstancetype",
                "virtualmachineclusterinstancetype",
            ],
            "instancetype",
        )?;
        self.vm["spec"]["template"]["spec"]["domain"]
            .as_object_mut()
            .expect("domain")
            .remove("memory");
        self.vm["spec"]["instancetype"] = m;
        Ok(())
    }

    fn with_preference(&mut self) -> Result<(), CommandError> {
        let m = self.matcher(
            "preference",
            &self.a.preference.clone(),
            [
                "virtualmachinepreference",
                "virtualmachineclusterpreference",
            ],
            "preference",
        )?;
        self.vm["spec"]["preference"] = m;
        Ok(())
    }

    fn with_containerdisk_volumes(&mut self) -> Result<(), CommandError> {
        const FLAG: &str = "volume-containerdisk";
        let vm_name = self.vm["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        for (i, value) in self.a.volume_containerdisk.clone().iter().enumerate() {
            let p = params::map(FLAG, value, params::VOLUME_SOURCE).map_err(err)?;
            let src = required_src(FLAG, &p)?;
            let mut name = p.str("name");
            if name.is_empty() {
                name = format!("{vm_name}-containerdisk-{i}");
            }
            check_volume_name(FLAG, &name)?;
            self.volume_should_not_exist(FLAG, &name)?;
            self.add_volume(json!({"name": name, "containerDisk": {"image": src}}));
            self.add_disk_with_boot_order(FLAG, &name, p.uint("bootorder"))?;
        }
        Ok(())
    }

    fn with_pvc_volumes(&mut self) -> Result<(), CommandError> {
        const FLAG: &str = "volume-pvc";
        for value in self.a.volume_pvc.clone() {
            let p = params::map(FLAG, &value, params::VOLUME_SOURCE).map_err(err)?;
            let claim = local_name(FLAG, &required_src(FLAG, &p)?, "pvc")?;
            let mut name = p.str("name");
            if name.is_empty() {
                name = claim.clone();
            }
            check_volume_name(FLAG, &name)?;
            self.volume_should_not_exist(FLAG, &name)?;
            self.add_volume(json!({"name": name, "persistentVolumeClaim": {"claimName": claim}}));
            self.add_disk_with_boot_order(FLAG, &name, p.uint("bootorder"))?;
        }
        Ok(())
    }

    /// A deprecated volume flag, rewritten as `--volume-import` values (prepended, keeping the
    /// documented boot order).
    fn alias_to_volume_import(
        &mut self,
        flag: &str,
        kind: &str,
        values: Vec<String>,
    ) -> Result<(), CommandError> {
        eprintln!("Flag --{flag} has been deprecated, use flag --volume-import instead");
        for value in values {
            if value.is_empty() {
                return Err(err(flag_err("volume-import", "params may not be empty")));
            }
            self.a
                .volume_import
                .insert(0, format!("type:{kind},{value}"));
        }
        self.changed.insert("volume-import".into());
        Ok(())
    }

    fn with_sysprep_volume(&mut self) -> Result<(), CommandError> {
        const FLAG: &str = "volume-sysprep";
        let p = params::map(FLAG, &self.a.volume_sysprep.clone(), params::SYSPREP).map_err(err)?;
        let src = required_src(FLAG, &p)?;
        local_name(FLAG, &src, "configmap or secret")?;
        let mut kind = p.str("type");
        if kind.is_empty() {
            kind = "configmap".into();
        }
        self.volume_should_not_exist(FLAG, SYSPREP_DISK)?;
        let sysprep = match kind.to_lowercase().as_str() {
            "configmap" => json!({"configMap": {"name": src}}),
            "secret" => json!({"secret": {"name": src}}),
            _ => {
                return Err(err(flag_err(
                    FLAG,
                    format!(
                        "invalid sysprep source type \"{kind}\", supported values are: configmap, secret"
                    ),
                )));
            }
        };
        self.add_volume(json!({"name": SYSPREP_DISK, "sysprep": sysprep}));
        Ok(())
    }

    fn with_imported_volumes(&mut self) -> Result<(), CommandError> {
        const FLAG: &str = "volume-import";
        for value in self.a.volume_import.clone() {
            let kind = params::get("type", &value).map_err(|e| err(flag_err(FLAG, e)))?;
            let (spec, boot_order) = import_source(&kind, &value)?;
            let size = match params::get("size", &value) {
                Ok(size) => size,
                Err(e)
                    if e == "size must be specified"
                        && matches!(kind.as_str(), "pvc" | "snapshot" | "ds") =>
                {
                    String::new()
                }
                Err(e) => return Err(err(flag_err(FLAG, e))),
            };
            let name = params::get("name", &value)
                .unwrap_or_else(|_| format!("imported-volume-{}", random_suffix(5)));
            self.create_data_volume(spec, &size, &name)?;
            self.add_disk_with_boot_order(FLAG, &name, boot_order)?;
        }
        Ok(())
    }

    fn create_data_volume(
        &mut self,
        mut spec: Value,
        size: &str,
        name: &str,
    ) -> Result<(), CommandError> {
        const FLAG: &str = "volume-import";
        check_volume_name(FLAG, name)?;
        self.volume_should_not_exist(FLAG, name)?;
        spec["storage"] = if size.is_empty() {
            json!({"resources": {}})
        } else {
            let size = Quantity::parse(size)
                .map_err(|e| err(flag_err(FLAG, e)))?
                .canonical();
            json!({"resources": {"requests": {"storage": size}}})
        };
        self.vm["spec"]
            .as_object_mut()
            .expect("spec")
            .entry("dataVolumeTemplates")
            .or_insert_with(|| json!([]))
            .as_array_mut()
            .expect("templates")
            .push(json!({"metadata": {"name": name}, "spec": spec}));
        self.add_volume(json!({"name": name, "dataVolume": {"name": name}}));
        Ok(())
    }

    fn with_access_credentials(&mut self) -> Result<(), CommandError> {
        const FLAG: &str = "access-cred";
        for value in self.a.access_cred.clone() {
            let p = params::map(FLAG, &value, params::ACCESS_CREDENTIAL).map_err(err)?;
            let src = required_src(FLAG, &p)?;
            local_name(FLAG, &src, "secret")?;
            let kind = p.str("type");
            let credential = match kind.to_lowercase().as_str() {
                "ssh" | "" => self.ssh_credential(&p, &src)?,
                "password" => password_credential(&p, &src)?,
                _ => {
                    return Err(err(flag_err(
                        FLAG,
                        format!(
                            "invalid access credential type \"{kind}\", supported values are: ssh, password"
                        ),
                    )));
                }
            };
            self.template_spec()
                .entry("accessCredentials")
                .or_insert_with(|| json!([]))
                .as_array_mut()
                .expect("credentials")
                .push(credential);
        }
        Ok(())
    }

    fn ssh_credential(&mut self, p: &params::Params, src: &str) -> Result<Value, CommandError> {
        const FLAG: &str = "access-cred";
        let method = p.str("method");
        let propagation = match method.to_lowercase().as_str() {
            "ga" | "" => {
                let user = if p.str("user").is_empty() {
                    self.a.user.clone()
                } else {
                    p.str("user")
                };
                if user.is_empty() {
                    return Err(err(flag_err(
                        FLAG,
                        "user must be specified with access credential ssh method ga (\"--user\" flag or param \"user\")",
                    )));
                }
                if !self.changed("ga-manage-ssh") {
                    self.a.ga_manage_ssh = true;
                    self.changed.insert("ga-manage-ssh".into());
                }
                json!({"qemuGuestAgent": {"users": [user]}})
            }
            m @ ("nocloud" | "configdrive") => {
                if !p.str("user").is_empty() {
                    return Err(err(flag_err(
                        FLAG,
                        "user cannot be specified with selected access credential type and method",
                    )));
                }
                if !self.changed("cloud-init") {
                    self.a.cloud_init = m.to_owned();
                    self.changed.insert("cloud-init".into());
                }
                if !self.a.cloud_init.eq_ignore_ascii_case(m) {
                    return Err(err(flag_err(
                        FLAG,
                        format!(
                            "method param and value passed to --cloud-init have to match: {m} vs {}",
                            self.a.cloud_init
                        ),
                    )));
                }
                if m == "nocloud" {
                    json!({"noCloud": {}})
                } else {
                    json!({"configDrive": {}})
                }
            }
            _ => {
                return Err(err(flag_err(
                    FLAG,
                    format!(
                        "invalid access credentials ssh method \"{method}\", supported values are: ga, nocloud, configdrive"
                    ),
                )));
            }
        };
        Ok(json!({"sshPublicKey": {
            "source": {"secret": {"secretName": src}},
            "propagationMethod": propagation,
        }}))
    }

    fn cloud_init_flags_changed(&self) -> bool {
        [
            "user",
            "password-file",
            "ssh-key",
            "ga-manage-ssh",
            "cloud-init",
            "cloud-init-user-data",
            "cloud-init-network-data",
        ]
        .iter()
        .any(|f| self.changed(f))
    }

    fn build_cloud_init_config(&self) -> Result<String, CommandError> {
        let mut config = CLOUD_INIT_HEADER.to_owned();
        if !self.a.user.is_empty() {
            config.push_str(&format!("\nuser: {}", self.a.user));
        }
        if !self.a.password_file.is_empty() {
            let data = std::fs::read_to_string(&self.a.password_file).map_err(|e| {
                err(flag_err(
                    "password-file",
                    format!("open {}: {}", self.a.password_file, io_text(&e)),
                ))
            })?;
            let password = data.trim();
            if !password.is_empty() {
                config.push_str(&format!(
                    "\npassword: {password}\nchpasswd: {{ expire: False }}"
                ));
            }
        }
        let keys: Vec<&String> = self.a.ssh_key.iter().flatten().collect();
        if !keys.is_empty() {
            config.push_str("\nssh_authorized_keys:");
            for key in keys {
                config.push_str(&format!("\n  - {key}"));
            }
        }
        if self.a.ga_manage_ssh {
            config.push_str("\nruncmd:\n  - [ setsebool, -P, 'virt_qemu_ga_manage_ssh', 'on' ]");
        }
        Ok(config)
    }

    fn cloud_init_config(&mut self) -> Result<(), CommandError> {
        if !self.cloud_init_flags_changed() {
            return Ok(());
        }
        if self.changed("password-file") {
            self.warnings.push(
                "WARNING: --password-file: The password is stored in cleartext in the VM definition!\n".into(),
            );
        }
        if self.volume_exists(CLOUD_INIT_DISK).is_some() {
            return Err(err(format!(
                "there is already a volume with name \"{CLOUD_INIT_DISK}\""
            )));
        }
        let key = match self.a.cloud_init.to_lowercase().as_str() {
            "nocloud" => "cloudInitNoCloud",
            "configdrive" => "cloudInitConfigDrive",
            "none" => {
                if [
                    "password-file",
                    "ssh-key",
                    "ga-manage-ssh",
                    "cloud-init-user-data",
                    "cloud-init-network-data",
                ]
                .iter()
                .any(|f| self.changed(f))
                {
                    self.warnings.push(
                        "WARNING: --cloud-init: was set to none, not creating a data source although other cloud-init options were set".into(),
                    );
                }
                return Ok(());
            }
            _ => {
                return Err(err(flag_err(
                    "cloud-init",
                    format!(
                        "invalid cloud-init data source type \"{}\", supported values are: nocloud, configdrive, none",
                        self.a.cloud_init
                    ),
                )));
            }
        };
        let mut source = Map::new();
        if !self.a.cloud_init_network_data.is_empty() {
            source.insert(
                "networkDataBase64".into(),
                json!(self.a.cloud_init_network_data),
            );
        }
        if !self.a.cloud_init_user_data.is_empty() {
            source.insert("userDataBase64".into(), json!(self.a.cloud_init_user_data));
        } else {
            source.insert("userData".into(), json!(self.build_cloud_init_config()?));
        }
        let only_header = source.get("userData").and_then(Value::as_str) == Some(CLOUD_INIT_HEADER)
            && !source.contains_key("networkDataBase64");
        if !self.changed("cloud-init") && only_header {
            return Ok(());
        }
        self.add_volume(json!({"name": CLOUD_INIT_DISK, key: source}));
        Ok(())
    }

    fn volume_valid_to_infer_from(&self, volume: &Value) -> Result<(), CommandError> {
        if let Some(dv) = volume.pointer("/dataVolume/name").and_then(Value::as_str) {
            let templates = self
                .vm
                .pointer("/spec/dataVolumeTemplates")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for t in templates {
                if t.pointer("/metadata/name").and_then(Value::as_str) != Some(dv) {
                    continue;
                }
                let source_ok = ["pvc", "registry", "snapshot"]
                    .iter()
                    .any(|s| t.pointer(&format!("/spec/source/{s}")).is_some());
                let ref_ok =
                    t.pointer("/spec/sourceRef/kind").and_then(Value::as_str) == Some("DataSource");
                if source_ok || ref_ok {
                    return Ok(());
                }
                return Err(err("this datavolume is not valid to infer an instancetype or preference from (source needs to be PVC, Registry or Snapshot, sourceRef needs to be DataSource)".into()));
            }
            return Ok(());
        }
        if volume.get("persistentVolumeClaim").is_some() {
            return Ok(());
        }
        Err(err(
            "inference of instancetype or preference works only with datasources, datavolumes or pvcs".into(),
        ))
    }

    /// The volume to infer from: the disk with the lowest boot order, else the first volume.
    fn infer_from_volume(&self) -> Result<String, CommandError> {
        let volumes = self.volumes();
        if volumes.is_empty() {
            return Err(err(
                "at least one volume is needed to infer an instance type or preference".into(),
            ));
        }
        if let Some((_, name)) = self.boot_orders.iter().next() {
            return Ok(name.clone());
        }
        Ok(volumes[0]
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned())
    }

    fn inferred_matcher(&self, from: &str) -> Result<String, CommandError> {
        let from = if from.is_empty() {
            self.infer_from_volume()?
        } else {
            from.to_owned()
        };
        let volume = self
            .volume_exists(&from)
            .ok_or_else(|| err(format!("there is no volume with name \"{from}\"")))?;
        self.volume_valid_to_infer_from(&volume)?;
        Ok(from)
    }

    fn infer(&mut self) -> Result<(), CommandError> {
        let explicit_instancetype =
            self.changed("infer-instancetype") || self.changed("infer-instancetype-from");
        let explicit_preference =
            self.changed("infer-preference") || self.changed("infer-preference-from");
        if self.a.infer_instancetype && self.a.instancetype.is_empty() && !self.changed("memory") {
            match self.inferred_matcher(&self.a.infer_instancetype_from.clone()) {
                Ok(volume) => {
                    let mut m = json!({"inferFromVolume": volume});
                    if explicit_instancetype {
                        self.vm["spec"]["template"]["spec"]["domain"]
                            .as_object_mut()
                            .expect("domain")
                            .remove("memory");
                    } else {
                        m["inferFromVolumeFailurePolicy"] = json!("Ignore");
                    }
                    self.vm["spec"]["instancetype"] = m;
                }
                Err(e) if explicit_instancetype => return Err(e),
                Err(_) => {}
            }
        }
        if self.a.infer_preference && self.a.preference.is_empty() {
            match self.inferred_matcher(&self.a.infer_preference_from.clone()) {
                Ok(volume) => {
                    let mut m = json!({"inferFromVolume": volume});
                    if !explicit_preference {
                        m["inferFromVolumeFailurePolicy"] = json!("Ignore");
                    }
                    self.vm["spec"]["preference"] = m;
                }
                Err(e) if explicit_preference => return Err(e),
                Err(_) => {}
            }
        }
        Ok(())
    }

    /// The manifest.
    pub fn build(mut self) -> Result<(Value, Vec<String>), CommandError> {
        let name = if self.a.name.is_empty() {
            format!("vm-{}", random_suffix(5))
        } else {
            self.a.name.clone()
        };
        self.new_vm(&name)?;
        if self.changed("run-strategy") {
            self.with_run_strategy()?;
        }
        if self.changed("instancetype") {
            self.with_instancetype()?;
        }
        if self.changed("preference") {
            self.with_preference()?;
        }
        if self.changed("volume-containerdisk") {
            self.with_containerdisk_volumes()?;
        }
        if self.changed("volume-pvc") {
            self.with_pvc_volumes()?;
        }
        for (flag, kind) in [
            ("volume-datasource", "ds"),
            ("volume-clone-pvc", "pvc"),
            ("volume-blank", "blank"),
        ] {
            if self.changed(flag) {
                let values = match flag {
                    "volume-datasource" => self.a.volume_datasource.clone(),
                    "volume-clone-pvc" => self.a.volume_clone_pvc.clone(),
                    _ => self.a.volume_blank.clone(),
                };
                self.alias_to_volume_import(flag, kind, values)?;
            }
        }
        if self.changed("volume-import") {
            self.with_imported_volumes()?;
        }
        if self.changed("volume-sysprep") {
            self.with_sysprep_volume()?;
        }
        if self.changed("access-cred") {
            self.with_access_credentials()?;
        }
        self.cloud_init_config()?;
        self.infer()?;
        Ok((self.vm, self.warnings))
    }
}

/// Prints the manifest.
pub async fn run(ctx: &Ctx, a: CreateVmArgs) -> Result<(), CommandError> {
    let conn = ctx.connect().await?;
    let namespace = conn.namespace_overridden.then(|| conn.namespace.clone());
    let (vm, warnings) = Builder::new(a, ctx.changed.clone(), namespace).build()?;
    for w in warnings {
        eprint!("{w}");
    }
    print!("{}", yaml::to_yaml(&vm));
    Ok(())
}

#[cfg(test)]
mod tests;
