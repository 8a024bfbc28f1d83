//! The flags of `create vm`, declared in upstream's order (the help lists them unsorted).

use clap::{ArgAction, Args};

use super::params::{self, Spec};
use crate::flags;

fn volume_import_help() -> String {
    let mut text = String::from(
        "Specify the source for DataVolume. Can be provided multiple times.\nSupported parameters:",
    );
    let types: [(&str, Spec); 10] = [
        ("blank", params::BLANK),
        ("gcs", params::GCS),
        ("http", params::HTTP),
        ("imageio", params::IMAGEIO),
        ("pvc", params::DATA_VOLUME_SOURCE),
        ("registry", params::REGISTRY),
        ("s3", params::S3),
        ("vddk", params::VDDK),
        ("snapshot", params::DATA_VOLUME_SOURCE),
        ("ds", params::DATA_VOLUME_SOURCE),
    ];
    for (name, spec) in types {
        text.push_str(&format!("\n  type {name} - {}", params::supported(spec)));
    }
    text
}

#[derive(Args, Debug)]
#[command(args_override_self = true)]
pub struct CreateVmArgs {
    #[arg(value_name = "ARGS")]
    pub args: Vec<String>,
    #[arg(
        long,
        value_name = "string",
        default_value = "",
        help = "Specify the name of the VM."
    )]
    pub name: String,
    #[arg(
        long,
        value_name = "string",
        default_value = "Always",
        help = "Specify the RunStrategy of the VM."
    )]
    pub run_strategy: String,
    #[arg(long, value_name = "int", default_value = "180", allow_negative_numbers = true, value_parser = flags::int64, help = "Specify the termination grace period of the VM.")]
    pub termination_grace_period: i64,
    #[arg(
        long,
        value_name = "string",
        default_value = "512Mi",
        help = "Specify the memory of the VM."
    )]
    pub memory: String,
    #[arg(
        long,
        value_name = "string",
        default_value = "",
        help = "Specify the Instance Type of the VM. Mutually exclusive with instancetype inference flags."
    )]
    pub instancetype: String,
    #[arg(long, value_name = "bool", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true", value_parser = flags::bool_value, help = "Specify if the Instance Type of the VM should be inferred from the first boot disk. Mutually exclusive with --infer-instancetype-from.")]
    pub infer_instancetype: bool,
    #[arg(
        long,
        value_name = "string",
        default_value = "",
        help = "Specify the volume to infer the Instance Type of the VM from. Mutually exclusive with --infer-instancetype."
    )]
    pub infer_instancetype_from: String,
    #[arg(
        long,
        value_name = "string",
        default_value = "",
        help = "Specify the Preference of the VM. Mutually exclusive with preference inference flags."
    )]
    pub preference: String,
    #[arg(long, value_name = "bool", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true", value_parser = flags::bool_value, help = "Specify if the Preference of the VM should be inferred from the first boot disk. Mutually exclusive with --infer-preference-from.")]
    pub infer_preference: bool,
    #[arg(
        long,
        value_name = "string",
        default_value = "",
        help = "Specify the volume to infer the Preference of the VM from. Mutually exclusive with --infer-preference."
    )]
    pub infer_preference_from: String,
    #[arg(long, value_name = "stringArray", action = ArgAction::Append, help = format!("Specify a containerdisk to be used by the VM. Can be provided multiple times.\nSupported parameters: {}", params::supported(params::VOLUME_SOURCE)))]
    pub volume_containerdisk: Vec<String>,
    #[arg(long, value_name = "stringArray", action = ArgAction::Append, help = format!("Specify a PVCs to be used by the VM. Can be provided multiple times.\nSupported parameters: {}", params::supported(params::VOLUME_SOURCE)))]
    pub volume_pvc: Vec<String>,
    #[arg(long, value_name = "stringArray", action = ArgAction::Append, help = volume_import_help())]
    pub volume_import: Vec<String>,
    #[arg(long, value_name = "string", default_value = "", help = format!("Specify a ConfigMap or Secret to be used as sysprep volume by the VM.\nSupported parameters: {}", params::supported(params::SYSPREP)))]
    pub volume_sysprep: String,
    #[arg(
        long,
        value_name = "string",
        default_value = "",
        help = "Specify the user in the cloud-init user data that is added to the VM."
    )]
    pub user: String,
    #[arg(
        long,
        value_name = "string",
        default_value = "",
        help = "Specify a file to read the password from for the cloud-init user data that is added to the VM."
    )]
    pub password_file: String,
    #[arg(long, value_name = "strings", action = ArgAction::Append, value_parser = flags::string_slice, help = "Specify one or more SSH authorized keys in the cloud-init user data that is added to the VM.")]
    pub ssh_key: Vec<Vec<String>>,
    #[arg(long, value_name = "bool", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = flags::bool_value, help = "Specify if the qemu-guest-agent should be able to manage SSH in the cloud-init user data that is added to the VM.\nThis is useful in combination with the \"credentials add-ssh-key\" command or when using the --access-cred flag.")]
    pub ga_manage_ssh: bool,
    #[arg(long, value_name = "stringArray", action = ArgAction::Append, help = format!("Specify an access credential to be injected into the VM. Can be provided multiple times.\nSupported parameters: {}", params::supported(params::ACCESS_CREDENTIAL)))]
    pub access_cred: Vec<String>,
    #[arg(
        long,
        value_name = "string",
        default_value = "nocloud",
        help = "Specify the type of the generated cloud-init data source.\nSupported values: nocloud, configdrive, none"
    )]
    pub cloud_init: String,
    #[arg(
        long,
        value_name = "string",
        default_value = "",
        help = "Specify the base64 encoded cloud-init user data of the VM."
    )]
    pub cloud_init_user_data: String,
    #[arg(
        long,
        value_name = "string",
        default_value = "",
        help = "Specify the base64 encoded cloud-init network data of the VM."
    )]
    pub cloud_init_network_data: String,
    #[arg(long, value_name = "stringArray", action = ArgAction::Append, help = "Specify a DataSource to be cloned by the VM. Can be provided multiple times.\nSupported parameters: name:string,src:string,bootorder:uint,size:resource.Quantity\nDEPRECATED: Use --volume-import with type:ds and same params instead.")]
    pub volume_datasource: Vec<String>,
    #[arg(long, value_name = "stringArray", action = ArgAction::Append, help = "Specify a PVC to be cloned by the VM. Can be provided multiple times.\nSupported parameters: name:string,src:string,bootorder:uint,size:resource.Quantity\nDEPRECATED: Use --volume-import with type:pvc and same params instead.")]
    pub volume_clone_pvc: Vec<String>,
    #[arg(long, value_name = "stringArray", action = ArgAction::Append, help = "Specify a blank volume to be used by the VM. Can be provided multiple times.\nSupported parameters: name:string,size:resource.Quantity\nDEPRECATED: Use --volume-import with type:blank and same params instead.")]
    pub volume_blank: Vec<String>,
}
