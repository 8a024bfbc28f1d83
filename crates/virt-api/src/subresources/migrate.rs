//! `migrate` of a VirtualMachine: creates a VirtualMachineInstanceMigration for its VMI; the
//! migration controller does the rest.

use std::collections::BTreeMap;

use api::{MigrateOptions, VirtualMachineInstance, VirtualMachineInstancePhase};
use axum::body::Body;
use axum::response::Response;
use http::StatusCode;
use serde_json::{Value, json};

use super::error::{Kind, SubresourceError, VM_NOT_RUNNING};
use super::{Ctx, dry_run, empty_response, read_options};

/// `generateName` of the migrations this subresource creates.
pub const MIGRATION_GENERATE_NAME: &str = "kubevirt-migrate-vm-";

/// Checks that the VMI of the VM `name` can be migrated.
pub fn validate_migrate(name: &str, vmi: &VirtualMachineInstance) -> Result<(), SubresourceError> {
    if vmi.phase() != VirtualMachineInstancePhase::Running {
        return Err(SubresourceError::conflict(Kind::Vm, name, VM_NOT_RUNNING));
    }
    Ok(())
}

/// The migration object for the VMI `name`.
pub fn migration(name: &str, added_node_selector: Option<&BTreeMap<String, String>>) -> Value {
    let mut spec = json!({"vmiName": name});
    if let Some(selector) = added_node_selector {
        spec["addedNodeSelector"] = json!(selector);
    }
    json!({
        "apiVersion": format!("{}/{}", api::keys::GROUP, api::keys::VERSION),
        "kind": "VirtualMachineInstanceMigration",
        "metadata": {"generateName": MIGRATION_GENERATE_NAME},
        "spec": spec,
    })
}

/// `PUT .../virtualmachines/{name}/migrate`.
pub(crate) async fn migrate(ctx: &Ctx, body: Body) -> Result<Response, SubresourceError> {
    let opts: MigrateOptions = read_options(body).await?;
    let dry = dry_run(opts.dry_run.as_deref())?;
    ctx.vm().await?;
    let vmi = ctx.vmi().await?;
    validate_migrate(ctx.name(), &vmi)?;
    let object = migration(ctx.name(), opts.added_node_selector.as_ref());
    ctx.create("virtualmachineinstancemigrations", object, dry)
        .await
        .map_err(|e| SubresourceError::Internal(e.to_string()))?;
    Ok(empty_response(StatusCode::ACCEPTED))
}

#[cfg(test)]
mod tests {
    use super::*;
    use api::{VirtualMachineInstanceSpec, VirtualMachineInstanceStatus};
    use apiserver::ApiError;

    fn vmi(phase: Option<VirtualMachineInstancePhase>) -> VirtualMachineInstance {
        let mut vmi = VirtualMachineInstance::new("vm", VirtualMachineInstanceSpec::default());
        vmi.status = phase.map(|p| VirtualMachineInstanceStatus {
            phase: Some(p),
            ..Default::default()
        });
        vmi
    }

    #[test]
    fn only_a_running_vmi_migrates() {
        use VirtualMachineInstancePhase::*;
        for phase in [
            None,
            Some(Pending),
            Some(Scheduled),
            Some(Succeeded),
            Some(Failed),
        ] {
            let err = ApiError::from(validate_migrate("vm", &vmi(phase)).unwrap_err());
            assert_eq!(err.status().0.as_u16(), 409);
            assert!(err.to_string().ends_with("VM is not running"), "{err}");
        }
        assert!(validate_migrate("vm", &vmi(Some(Running))).is_ok());
    }

    #[test]
    fn migration_names_the_vmi_and_carries_the_selector() {
        let plain = migration("vm1", None);
        assert_eq!(plain["metadata"]["generateName"], "kubevirt-migrate-vm-");
        assert_eq!(plain["spec"], json!({"vmiName": "vm1"}));
        let selector = BTreeMap::from([("zone".to_owned(), "a".to_owned())]);
        let with = migration("vm1", Some(&selector));
        assert_eq!(with["spec"]["addedNodeSelector"], json!({"zone": "a"}));
        assert_eq!(with["kind"], "VirtualMachineInstanceMigration");
    }
}
