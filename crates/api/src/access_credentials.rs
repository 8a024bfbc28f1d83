//! Access credentials (SSH keys, user passwords) injected into the guest.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// AccessCredential represents a credential source that can be used to
/// authorize remote access to the vm guest
/// Only one of its members may be specified.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessCredential {
    /// SSHPublicKey represents the source and method of applying a ssh public
    /// key into a guest virtual machine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh_public_key: Option<SshPublicKeyAccessCredential>,
    /// UserPassword represents the source and method for applying a guest user's
    /// password
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_password: Option<UserPasswordAccessCredential>,
}

/// SSHPublicKeyAccessCredential represents a source and propagation method for
/// injecting ssh public keys into a vm guest
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SshPublicKeyAccessCredential {
    /// Source represents where the public keys are pulled from
    pub source: SshPublicKeyAccessCredentialSource,
    /// PropagationMethod represents how the public key is injected into the vm guest.
    pub propagation_method: SshPublicKeyAccessCredentialPropagationMethod,
}

/// UserPasswordAccessCredential represents a source and propagation method for
/// injecting user passwords into a vm guest
/// Only one of its members may be specified.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserPasswordAccessCredential {
    /// Source represents where the user passwords are pulled from
    pub source: UserPasswordAccessCredentialSource,
    /// propagationMethod represents how the user passwords are injected into the vm guest.
    pub propagation_method: UserPasswordAccessCredentialPropagationMethod,
}

/// SSHPublicKeyAccessCredentialPropagationMethod represents the method used to
/// inject a ssh public key into the vm guest.
/// Only one of its members may be specified.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SshPublicKeyAccessCredentialPropagationMethod {
    /// ConfigDrivePropagation means that the ssh public keys are injected
    /// into the VM using metadata using the configDrive cloud-init provider
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_drive: Option<ConfigDriveSshPublicKeyAccessCredentialPropagation>,
    /// NoCloudPropagation means that the ssh public keys are injected
    /// into the VM using metadata using the noCloud cloud-init provider
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_cloud: Option<NoCloudSshPublicKeyAccessCredentialPropagation>,
    /// QemuGuestAgentAccessCredentailPropagation means ssh public keys are
    /// dynamically injected into the vm at runtime via the qemu guest agent.
    /// This feature requires the qemu guest agent to be running within the guest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qemu_guest_agent: Option<QemuGuestAgentSshPublicKeyAccessCredentialPropagation>,
}

/// SSHPublicKeyAccessCredentialSource represents where to retrieve the ssh key
/// credentials
/// Only one of its members may be specified.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SshPublicKeyAccessCredentialSource {
    /// Secret means that the access credential is pulled from a kubernetes secret
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<AccessCredentialSecretSource>,
}

/// UserPasswordAccessCredentialPropagationMethod represents the method used to
/// inject a user passwords into the vm guest.
/// Only one of its members may be specified.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserPasswordAccessCredentialPropagationMethod {
    /// QemuGuestAgentAccessCredentailPropagation means passwords are
    /// dynamically injected into the vm at runtime via the qemu guest agent.
    /// This feature requires the qemu guest agent to be running within the guest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qemu_guest_agent: Option<QemuGuestAgentUserPasswordAccessCredentialPropagation>,
}

/// UserPasswordAccessCredentialSource represents where to retrieve the user password
/// credentials
/// Only one of its members may be specified.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserPasswordAccessCredentialSource {
    /// Secret means that the access credential is pulled from a kubernetes secret
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<AccessCredentialSecretSource>,
}

/// Marker: propagate SSH public keys through the config drive.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigDriveSshPublicKeyAccessCredentialPropagation {}

/// Marker: propagate SSH public keys through the NoCloud datasource.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NoCloudSshPublicKeyAccessCredentialPropagation {}

/// QemuGuestAgentSSHPublicKeyAccessCredentialPropagation injects SSH public keys through the guest
/// agent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct QemuGuestAgentSshPublicKeyAccessCredentialPropagation {
    /// Users represents a list of guest users that should have the ssh public keys
    /// added to their authorized_keys file.
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub users: Vec<String>,
}

/// AccessCredentialSecretSource names the Secret holding credentials.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessCredentialSecretSource {
    /// SecretName represents the name of the secret in the VMI's namespace
    pub secret_name: String,
}

/// Marker: propagate user passwords through the guest agent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct QemuGuestAgentUserPasswordAccessCredentialPropagation {}
