//! Guest network interfaces and the networks they connect to.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Network represents a network type and a resource that should be connected to the vm.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Network {
    /// Network name.
    /// Must be a DNS_LABEL and unique within the vm.
    /// More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names/#names
    pub name: String,
    /// Represents the stock pod network interface.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod: Option<PodNetwork>,
    /// Represents the multus cni network.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multus: Option<MultusNetwork>,
    /// ResourceClaim represents a network resource requested
    /// via a VMI spec.resourceClaims[] entry, backed by either a
    /// Kubernetes ResourceClaim or ResourceClaimTemplate.
    /// This field should only be configured if the NetworkDevicesWithDRA feature-gate is enabled.
    /// This feature is in alpha.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_claim: Option<ClaimRequest>,
}

/// Represents the multus cni network.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MultusNetwork {
    /// References to a NetworkAttachmentDefinition CRD object. Format:
    /// <networkName>, <namespace>/<networkName>. If namespace is not
    /// specified, VMI namespace is assumed.
    pub network_name: String,
    /// Select the default network and add it to the
    /// multus-cni.io/default-network annotation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<bool>,
}

/// Represents the stock pod network interface.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodNetwork {
    /// CIDR for vm network.
    /// Default 10.0.2.0/24 if not specified.
    #[serde(rename = "vmNetworkCIDR", skip_serializing_if = "Option::is_none")]
    pub vm_network_cidr: Option<String>,
    /// IPv6 CIDR for the vm network.
    /// Defaults to fd10:0:2::/120 if not specified.
    #[serde(rename = "vmIPv6NetworkCIDR", skip_serializing_if = "Option::is_none")]
    pub vm_i_pv6_network_cidr: Option<String>,
}

/// ClaimRequest points to a request of a resource claim.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClaimRequest {
    /// ClaimName references the name of an entry in the
    /// VMI's spec.resourceClaims[] array. The referenced
    /// entry may use either resourceClaimName or
    /// resourceClaimTemplateName.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claim_name: Option<String>,
    /// RequestName specifies which request from the
    /// ResourceClaim/ResourceClaimTemplate spec.devices.requests array this
    /// claim request corresponds to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_name: Option<String>,
}

/// Interface describes a guest network interface.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Interface {
    /// Logical name of the interface as well as a reference to the associated networks.
    /// Must match the Name of a Network.
    pub name: String,
    /// Interface model.
    /// One of: e1000, e1000e, igb, ne2k_pci, pcnet, rtl8139, virtio.
    /// Defaults to virtio.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// InterfaceBridge connects to a given network via a linux bridge.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bridge: Option<InterfaceBridge>,
    /// DeprecatedSlirp is an alias to the deprecated Slirp interface
    /// Deprecated: Removed in v1.3
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slirp: Option<DeprecatedInterfaceSlirp>,
    /// InterfaceMasquerade connects to a given network using netfilter rules to nat the traffic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub masquerade: Option<InterfaceMasquerade>,
    /// InterfaceSRIOV connects to a given network by passing-through an SR-IOV PCI device via vfio.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sriov: Option<InterfaceSriov>,
    /// DeprecatedMacvtap is an alias to the deprecated Macvtap interface,
    /// please refer to Kubevirt user guide for alternatives.
    /// Deprecated: Removed in v1.3
    #[serde(skip_serializing_if = "Option::is_none")]
    pub macvtap: Option<DeprecatedInterfaceMacvtap>,
    /// DeprecatedPasst is an alias to the deprecated Passt interface,
    /// please refer to Kubevirt user guide for alternatives.
    /// Deprecated: Removed in v1.3
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passt: Option<DeprecatedInterfacePasst>,
    /// InterfacePasstBinding connects to a given network using passt usermode networking.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passt_binding: Option<InterfacePasstBinding>,
    /// Binding specifies the binding plugin that will be used to connect the interface to the
    /// guest.
    /// It provides an alternative to InterfaceBindingMethod.
    /// version: 1alphav1
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binding: Option<PluginBinding>,
    /// List of ports to be forwarded to the virtual machine.
    /// Mutually exclusive with portRanges.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ports: Option<Vec<Port>>,
    /// List of port ranges to be forwarded to the virtual machine.
    /// Mutually exclusive with ports. Only supported on masquerade interfaces.
    /// This feature is in Alpha.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub port_ranges: Option<Vec<PortRange>>,
    /// Interface MAC address. For example: de:ad:00:00:be:af or DE-AD-00-00-BE-AF.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<String>,
    /// BootOrder is an integer value > 0, used to determine ordering of boot devices.
    /// Lower values take precedence.
    /// Each interface or disk that has a boot order must have a unique value.
    /// Interfaces without a boot order are not tried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boot_order: Option<u64>,
    /// If specified, the virtual network interface will be placed on the guests pci address with
    /// the specified PCI address. For example: 0000:81:01.10
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pci_address: Option<String>,
    /// If specified the network interface will pass additional DHCP options to the VMI
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dhcp_options: Option<DhcpOptions>,
    /// If specified, the virtual network interface address and its tag will be provided to the
    /// guest via config drive
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// If specified, the ACPI index is used to provide network interface device naming, that is
    /// stable across changes
    /// in PCI addresses assigned to the device.
    /// This value is required to be unique across all devices and be between 1 and (16*1024-1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acpi_index: Option<i32>,
    /// State represents the requested operational state of the interface.
    /// The supported values are:
    /// `absent`, expressing a request to remove the interface.
    /// `down`, expressing a request to set the link down.
    /// `up`, expressing a request to set the link up.
    /// Empty value functions as `up`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

/// PluginBinding represents a binding implemented in a plugin.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PluginBinding {
    /// Name references to the binding name as denined in the kubevirt CR.
    /// version: 1alphav1
    pub name: String,
}

/// InterfaceBridge connects to a given network via a linux bridge.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InterfaceBridge {}

/// Extra DHCP options to use in the interface.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DhcpOptions {
    /// If specified will pass option 67 to interface's DHCP server
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boot_file_name: Option<String>,
    /// If specified will pass option 66 to interface's DHCP server
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tftp_server_name: Option<String>,
    /// If specified will pass the configured NTP server to the VM via DHCP option 042.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ntp_servers: Option<Vec<String>>,
    /// If specified will pass extra DHCP options for private use, range: 224-254
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_options: Option<Vec<DhcpPrivateOptions>>,
}

/// DeprecatedInterfaceMacvtap is an alias to the deprecated InterfaceMacvtap that connects to a
/// given network by extending the Kubernetes node's L2 networks via a macvtap interface.
/// Deprecated: Removed in v1.3
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeprecatedInterfaceMacvtap {}

/// InterfaceMasquerade connects to a given network using netfilter rules to nat the traffic.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InterfaceMasquerade {}

/// DeprecatedInterfacePasst is an alias to the deprecated InterfacePasst Deprecated: Removed in
/// v1.3
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeprecatedInterfacePasst {}

/// InterfacePasstBinding connects to a given network using passt usermode networking.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InterfacePasstBinding {}

/// PortRange represents a range of ports to be forwarded to the virtual machine.
/// All fields are mandatory.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PortRange {
    /// Required. Must be UDP or TCP.
    pub protocol: String,
    /// First port of the range to expose for the virtual machine.
    /// This must be a valid port number, 0 < x < 65536.
    pub start: i32,
    /// Last port of the range to expose for the virtual machine.
    /// This must be a valid port number, 0 < x < 65536.
    /// Must be greater than or equal to start.
    pub end: i32,
}

/// Port represents a port to expose from the virtual machine.
/// Default protocol TCP.
/// The port field is mandatory
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Port {
    /// If specified, this must be an IANA_SVC_NAME and unique within the pod. Each
    /// named port in a pod must have a unique name. Name for the port that can be
    /// referred to by services.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Protocol for port. Must be UDP or TCP.
    /// Defaults to "TCP".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Number of port to expose for the virtual machine.
    /// This must be a valid port number, 0 < x < 65536.
    pub port: i32,
}

/// DeprecatedInterfaceSlirp is an alias to the deprecated InterfaceSlirp that connects to a given
/// network using QEMU user networking mode. Deprecated: Removed in v1.3
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeprecatedInterfaceSlirp {}

/// InterfaceSRIOV connects to a given network by passing-through an SR-IOV PCI device via vfio.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InterfaceSriov {}

/// DHCPExtraOptions defines Extra DHCP options for a VM.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DhcpPrivateOptions {
    /// Option is an Integer value from 224-254
    /// Required.
    pub option: i32,
    /// Value is a String value for the Option provided
    /// Required.
    pub value: String,
}
