//! The texts of every command as upstream writes them: use line, short and long description,
//! examples (with the `{{ProgramName}}` placeholder), how positional arguments are validated and
//! whether flags are listed sorted.

/// How cobra validates the positional arguments of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgsRule {
    /// Any number of arguments.
    Arbitrary,
    /// `cobra.NoArgs`.
    None,
    /// `cobra.ExactArgs(n)`.
    Exact(usize),
    /// At least `n` arguments; fewer fails with the command's own message.
    AtLeast(usize),
}

/// Upstream's description of one command.
#[derive(Debug, Clone, Copy)]
pub struct Doc {
    /// The command's path below the root, space-separated (`""` for the root).
    pub path: &'static str,
    /// cobra's `Use`.
    pub use_line: &'static str,
    pub short: &'static str,
    pub long: &'static str,
    pub example: &'static str,
    pub args: ArgsRule,
    /// pflag's `SortFlags`.
    pub sort_flags: bool,
    /// Hidden from the list of commands.
    pub hidden: bool,
}

const fn doc(path: &'static str, use_line: &'static str, short: &'static str) -> Doc {
    Doc {
        path,
        use_line,
        short,
        long: "",
        example: "",
        args: ArgsRule::Exact(1),
        sort_flags: true,
        hidden: false,
    }
}

const PAUSE_LONG: &str = "Pauses a virtual machine by freezing it. Machine state is kept in memory.
First argument is the resource type, possible types are (case insensitive, both singular and plural forms) virtualmachineinstance (vmi) or virtualmachine (vm).
Second argument is the name of the resource.";

const UNPAUSE_LONG: &str = "Unpauses a virtual machine.
First argument is the resource type, possible types are (case insensitive, both singular and plural forms) virtualmachineinstance (vmi) or virtualmachine (vm).
Second argument is the name of the resource.";

const EXPOSE_LONG: &str = "Looks up a virtual machine instance, virtual machine or virtual machine instance replica set by name and use its selector as the selector for a new service on the specified port.
A virtual machine instance replica set will be exposed as a service only if its selector is convertible to a selector that service supports, i.e. when the selector contains only the matchLabels component.
Note that if no port is specified via --port and the exposed resource has multiple ports, all will be re-used by the new service.
Also if no labels are specified, the new service will re-use the labels from the resource it exposes.

Possible types are (case insensitive, both single and plurant forms):

virtualmachineinstance (vmi), virtualmachine (vm), virtualmachineinstancereplicaset (vmirs)";

const EXPOSE_EXAMPLE: &str = "  # Expose SSH to a virtual machine instance called 'myvm' on each node via a NodePort service:
  {{ProgramName}} expose vmi myvm --port=22 --name=myvm-ssh --type=NodePort

  # Expose all defined pod-network ports of a virtual machine instance replicaset on a service:
  {{ProgramName}} expose vmirs myvmirs --name=vmirs-service

  # Expose port 8080 as port 80 from a virtual machine instance replicaset on a service:
  {{ProgramName}} expose vmirs myvmirs --port=80 --target-port=8080 --name=vmirs-service";

const PORT_FORWARD_LONG: &str = "Forward local ports to a virtualmachine or virtualmachineinstance.

The target argument supports the syntax target/name[/namespace] with /namespace as optional field.
Kind accepts any of vmi, vmis, vm, vms, virtualmachineinstance, virtualmachine, virtualmachineinstances, virtualmachines.

The port argument supports the syntax protocol/localPort:targetPort with protocol/ and :targetPort as optional fields.
Protocol supports TCP (default) and UDP.

Portforwards get established over the Kubernetes control-plane using websocket streams.
Usage can be restricted by the cluster administrator through the /portforward subresource.";

const PORT_FORWARD_EXAMPLE: &str = "  # Forward the local port 8080 to the vmi port:
  {{ProgramName}} port-forward vmi/testvmi 8080

  # Forward the local port 8080 to the vmi port 9090:
  {{ProgramName}} port-forward vmi/testvmi 8080:9090

  # Forward the local port 8080 to the vmi port 9090 as a UDP connection:
  {{ProgramName}} port-forward vmi/testvmi/mynamespace udp/8080:9090

  # Forward the local port 8080 to the vm port
  {{ProgramName}} port-forward vm/testvm 8080

  # Forward the local port 8080 to the vm port in mynamespace
  {{ProgramName}} port-forward vm/testvm/mynamespace 8080

  # Note: {{ProgramName}} port-forward sends all traffic over the Kubernetes API Server.
  # This means any traffic will add additional pressure to the control plane.
  # For continous traffic intensive connections, consider using a dedicated Kubernetes Service.";

const SSH_EXAMPLE: &str = "  # Connect to 'testvmi':
  {{ProgramName}} ssh jdoe@vmi/testvmi [--identity-file]

  # Connect to 'testvm' in 'mynamespace' namespace
  {{ProgramName}} ssh jdoe@vm/testvm/mynamespace [--identity-file]

  # Specify a username and namespace:
  {{ProgramName}} ssh --namespace=mynamespace --username=jdoe vmi/testvmi";

const SCP_EXAMPLE: &str = "  # Copy a file to the remote home folder of user jdoe
  {{ProgramName}} scp myfile.bin jdoe@vmi/testvmi:myfile.bin

  # Copy a directory to the remote home folder of user jdoe
  {{ProgramName}} scp --recursive ~/mydir/ jdoe@vmi/testvmi:./mydir

  # Copy a file to the remote home folder of user jdoe without specifying a file name on the target
  {{ProgramName}} scp myfile.bin jdoe@vmi/testvmi:.

  # Copy a file to 'testvm' in 'mynamespace' namespace
  {{ProgramName}} scp myfile.bin jdoe@vmi/testvmi/mynamespace:myfile.bin

  # Copy a file from the remote location to a local folder
  {{ProgramName}} scp jdoe@vmi/testvmi:myfile.bin ~/myfile.bin";

const CREATE_VM_LONG: &str = "Create a VirtualMachine manifest.

If no boot order was specified volumes have the following fixed boot order:
Containerdisk > PVC > DataSource > Clone PVC > Blank > Imported volumes";

const CREATE_VM_EXAMPLE: &str = "  # Create a manifest for a VirtualMachine with a random name:
  {{ProgramName}} create vm

  # Create a manifest for a VirtualMachine with a specified name and RunStrategy Always
  {{ProgramName}} create vm --name=my-vm --run-strategy=Always

  # Create a manifest for a VirtualMachine with a specified VirtualMachineClusterInstancetype
  {{ProgramName}} create vm --instancetype=my-instancetype

  # Create a manifest for a VirtualMachine with a specified VirtualMachineInstancetype (namespaced)
  {{ProgramName}} create vm --instancetype=virtualmachineinstancetype/my-instancetype

  # Create a manifest for a VirtualMachine with a specified VirtualMachineClusterPreference
  {{ProgramName}} create vm --preference=my-preference

  # Create a manifest for a VirtualMachine with a specified VirtualMachinePreference (namespaced)
  {{ProgramName}} create vm --preference=virtualmachinepreference/my-preference

  # Create a manifest for a VirtualMachine with specified memory and an ephemeral containerdisk volume
  {{ProgramName}} create vm --memory=1Gi --volume-containerdisk=src:my.registry/my-image:my-tag

  # Create a manifest for a VirtualMachine with a cloned DataSource in namespace and specified size
  {{ProgramName}} create vm --volume-import=type:ds,src:my-ns/my-ds,size:50Gi

  # Create a manifest for a VirtualMachine with a cloned DataSource and inferred instancetype and preference
  {{ProgramName}} create vm --volume-import=type:ds,src:my-annotated-ds --infer-instancetype --infer-preference

  # Create a manifest for a VirtualMachine with multiple volumes and specified boot order
  {{ProgramName}} create vm --volume-containerdisk=src:my.registry/my-image:my-tag --volume-import=type:ds,src:my-ds,bootorder:1

  # Create a manifest for a VirtualMachine with multiple volumes and inferred instancetype and preference with specified volumes
  {{ProgramName}} create vm --volume-import=type:ds,src:my-annotated-ds --volume-pvc=my-annotated-pvc --infer-instancetype=my-annotated-ds --infer-preference=my-annotated-pvc

  # Create a manifest for a VirtualMachine with a cloned PVC
  {{ProgramName}} create vm --volume-import=type:pvc,src:my-ns/my-pvc

  # Create a manifest for a VirtualMachine using a PVC without cloning it
  {{ProgramName}} create vm --volume-pvc=src:my-pvc

  # Create a manifest for a VirtualMachine with a clone DataSource and a blank volume
  {{ProgramName}} create vm --volume-import=type:ds,src:my-ns/my-ds --volume-import=type:blank,size:50Gi

  # Create a manifest for a VirtualMachine with a specified VirtualMachineCluster{Instancetype,Preference} and cloned DataSource
  {{ProgramName}} create vm --instancetype=my-instancetype --preference=my-preference --volume-import=type:ds,src:my-ds

  # Create a manifest for a VirtualMachine with a specified VirtualMachineCluster{Instancetype,Preference} and two cloned DataSources (flag can be provided multiple times)
  {{ProgramName}} create vm --instancetype=my-instancetype --preference=my-preference --volume-import=type:ds,src:my-ds1 --volume-import=type:ds,src:my-ds2

  # Create a manifest for a VirtualMachine with a specified VirtualMachineCluster{Instancetype,Preference} and directly used PVC
  {{ProgramName}} create vm --instancetype=my-instancetype --preference=my-preference --volume-pvc=my-pvc

  # Create a manifest for a VirtualMachine with a specified DataVolumeTemplate
  {{ProgramName}} create vm --volume-import type:pvc,name:my-pvc,namespace:default,size:256Mi

  # Create a manifest for a VirtualMachine with a generated cloud-init config setting the user and adding an ssh authorized key
  {{ProgramName}} create vm --user cloud-user --ssh-key=\"ssh-ed25519 AAAA....\"

  # Create a manifest for a VirtualMachine with a generated cloud-init config setting the user and setting the password from a file
  {{ProgramName}} create vm --user cloud-user --password-file=/path/to/file

  # Create a manifest for a VirtualMachine with SSH public keys injected into the VM from a secret called my-keys to the user also specified in the cloud-init config
  {{ProgramName}} create vm --user cloud-user --access-cred=type:ssh,src:my-keys

  # Create a manifest for a VirtualMachine with SSH public keys injected into the VM from a secret called my-keys to a user specified as param
  {{ProgramName}} create vm --access-cred=type:ssh,src:my-keys,user:myuser

  # Create a manifest for a VirtualMachine with password injected into the VM from a secret called my-pws
  {{ProgramName}} create vm --access-cred=type:password,src:my-pws

  # Create a manifest for a VirtualMachine with a Containerdisk and a Sysprep volume (source ConfigMap needs to exist)
  {{ProgramName}} create vm --memory=1Gi --volume-containerdisk=src:my.registry/my-image:my-tag --volume-sysprep=src:my-cm";

/// Every command, the root first.
pub const DOCS: &[Doc] = &[
    Doc {
        args: ArgsRule::Arbitrary,
        ..doc("", "virtctl", "virtctl controls virtual machine related operations on your kubernetes cluster.")
    },
    Doc {
        example: "  # Connect to the console on VirtualMachineInstance 'myvmi':
  {{ProgramName}} console myvmi
  # Configure one minute timeout (default 5 minutes)
  {{ProgramName}} console --timeout=1 myvmi",
        ..doc("console", "console (VMI)", "Connect to a console of a virtual machine instance.")
    },
    Doc {
        args: ArgsRule::Arbitrary,
        ..doc("create", "create", "Create a manifest for the specified Kind.")
    },
    Doc {
        long: CREATE_VM_LONG,
        example: CREATE_VM_EXAMPLE,
        args: ArgsRule::None,
        sort_flags: false,
        ..doc("create vm", "vm", "Create a VirtualMachine manifest.")
    },
    Doc {
        example: "  #Expand a virtual machine called 'myvm'.
  {{ProgramName}} expand --vm myvm
  
  # Expand a virtual machine from file called myvm.yaml.
  {{ProgramName}} expand --file myvm.yaml

  # Expand a virtual machine from stdin. Press Ctrl+D (Unix) or Ctrl+Z (Windows) to signal the end of input.
  {{ProgramName}} expand --file -

  # Expand a virtual machine called myvm and display output in json format.
  {{ProgramName}} expand --vm myvm --output json
  ",
        args: ArgsRule::Exact(0),
        ..doc(
            "expand",
            "expand (VM)",
            "Return the VirtualMachine object with expanded instancetype and preference.",
        )
    },
    Doc {
        long: EXPOSE_LONG,
        example: EXPOSE_EXAMPLE,
        args: ArgsRule::Exact(2),
        ..doc(
            "expose",
            "expose (TYPE NAME)",
            "Expose a virtual machine instance, virtual machine, or virtual machine instance replica set as a new service.",
        )
    },
    Doc {
        example: "  # Fslist a virtual machine instance called 'myvm':
  {{ProgramName}} fslist myvm",
        ..doc("fslist", "fslist (VMI)", "Return full list of filesystems available on the guest machine.")
    },
    Doc {
        example: "  # Guestosinfo a virtual machine instance called 'myvm':
  {{ProgramName}} guestosinfo myvm",
        ..doc("guestosinfo", "guestosinfo (VMI)", "Return guest agent info about operating system.")
    },
    Doc {
        long: "Help provides help for any command in the application.
Simply type virtctl help [path to command] for full details.",
        args: ArgsRule::Arbitrary,
        ..doc("help", "help [command]", "Help about any command")
    },
    Doc {
        example: "  # Migrate a virtual machine called 'myvm':
  {{ProgramName}} migrate myvm",
        ..doc("migrate", "migrate (VM)", "Migrate a virtual machine.")
    },
    Doc {
        example: "  # Migrate-Cancel a virtual machine called 'myvm':
  {{ProgramName}} migrate-cancel myvm",
        ..doc("migrate-cancel", "migrate-cancel (VM)", "Cancel migration of a virtual machine.")
    },
    Doc {
        args: ArgsRule::Arbitrary,
        hidden: true,
        ..doc("options", "options", "")
    },
    Doc {
        long: PAUSE_LONG,
        example: "  # Pause a virtualmachine called 'myvm':
  {{ProgramName}} pause vm myvm",
        args: ArgsRule::Exact(2),
        ..doc("pause", "pause vm|vmi (VM)|(VMI)", "Pause a virtual machine")
    },
    Doc {
        long: PORT_FORWARD_LONG,
        example: PORT_FORWARD_EXAMPLE,
        args: ArgsRule::AtLeast(2),
        ..doc(
            "port-forward",
            "port-forward type/name[/namespace] [protocol/]localPort[:targetPort]...",
            "Forward local ports to a virtualmachine or virtualmachineinstance.",
        )
    },
    Doc {
        example: "  # Reset a virtualmachineinstance called 'myvmi':
  {{ProgramName}} reset myvmi",
        ..doc("reset", "reset (VMI)", "Reset a virtual machine instance")
    },
    Doc {
        example: "  # Restart a virtual machine called 'myvm':
  {{ProgramName}} restart myvm",
        ..doc("restart", "restart (VM)", "Restart a virtual machine.")
    },
    Doc {
        example: SCP_EXAMPLE,
        args: ArgsRule::Exact(2),
        ..doc("scp", "scp (VM|VMI)", "SCP files from/to a virtual machine instance.")
    },
    Doc {
        long: "Soft reboot a virtual machine instance",
        example: "  # Soft-Reboot a virtualmachineinstance called 'myvmi':
  {{ProgramName}} soft-reboot myvmi",
        ..doc("soft-reboot", "soft-reboot (VMI)", "Soft reboot a virtual machine instance")
    },
    Doc {
        example: SSH_EXAMPLE,
        ..doc("ssh", "ssh (VM|VMI)", "Open a SSH connection to a virtual machine instance.")
    },
    Doc {
        example: "  # Start a virtual machine called 'myvm':
  {{ProgramName}} start myvm",
        ..doc("start", "start (VM)", "Start a virtual machine.")
    },
    Doc {
        example: "  # Stop a virtual machine called 'myvm':
  {{ProgramName}} stop myvm",
        ..doc("stop", "stop (VM)", "Stop a virtual machine.")
    },
    Doc {
        long: UNPAUSE_LONG,
        example: "  # Unpause a virtualmachine called 'myvm':
  {{ProgramName}} unpause vm myvm",
        args: ArgsRule::Exact(2),
        ..doc("unpause", "unpause vm|vmi (VM)|(VMI)", "Unpause a virtual machine")
    },
    Doc {
        example: "  # Userlist a virtual machine instance called 'myvm':
  {{ProgramName}} userlist myvm",
        ..doc("userlist", "userlist (VMI)", "Return full list of logged in users on the guest machine.")
    },
    Doc {
        example: "  # Print the client and server versions for the current context:
  {{ProgramName}} version",
        args: ArgsRule::None,
        ..doc("version", "version", "Print the client and server version information.")
    },
    Doc {
        example: "  # Connect to 'testvmi' via remote-viewer:
   {{ProgramName}} vnc testvmi",
        ..doc("vnc", "vnc (VMI)", "Open a vnc connection to a virtual machine instance.")
    },
    Doc {
        example: "   # Take a VNC screenshot of 'testvmi' in png format:
   {{ProgramName}} vnc screenshot testvmi -f screenshot.png

   # Take a VNC screenshot of 'testvmi' in png format and pipe it through \"display\" to show it right away:
   {{ProgramName}} vnc screenshot testvmi -f - | display",
        ..doc("vnc screenshot", "screenshot (VMI)", "Create a VNC screenshot of a virtual machine instance.")
    },
];

/// The description of the command at `path` (space-separated, `""` for the root).
pub fn find(path: &str) -> Option<&'static Doc> {
    DOCS.iter().find(|d| d.path == path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_has_a_short_description_except_hidden_ones() {
        for d in DOCS {
            assert!(d.hidden || !d.short.is_empty(), "{}", d.path);
            let name = d.path.rsplit(' ').next().unwrap_or_default();
            assert!(
                d.path.is_empty() || d.use_line.starts_with(name),
                "{}",
                d.path
            );
        }
    }

    #[test]
    fn lookups_find_nested_commands() {
        assert_eq!(find("vnc screenshot").unwrap().use_line, "screenshot (VMI)");
        assert_eq!(find("stop").unwrap().args, ArgsRule::Exact(1));
        assert!(find("nope").is_none());
    }
}
