//! `pause`, `unpause`, `soft-reboot` and `reset` of a VirtualMachineInstance (or, for pause
//! and unpause, of the VMI of a VirtualMachine), as upstream's commands of the same names.

use api::{PauseOptions, UnpauseOptions};
use serde_json::Value;

use super::{CommandError, Connection, Ctx};
use crate::cli::{DryRunArgs, PositionalArgs};

const VMIS: &str = "virtualmachineinstances";

/// The run strategy of a VM object, as upstream's `vm.RunStrategy()` computes it.
pub fn run_strategy(vm: &Value) -> Result<String, String> {
    let running = vm.pointer("/spec/running").and_then(Value::as_bool);
    let strategy = vm.pointer("/spec/runStrategy").and_then(Value::as_str);
    match (running, strategy) {
        (Some(_), Some(_)) => Err("running and runstrategy are mutually exclusive".into()),
        (Some(true), None) => Ok("Always".into()),
        (Some(false), None) | (None, None) => Ok("Halted".into()),
        (None, Some(s)) => Ok(s.to_owned()),
    }
}

/// Upstream's error when pausing the VMI of a VM finds no VMI.
pub fn vmi_not_found(vm: &Value, name: &str) -> CommandError {
    match run_strategy(vm) {
        Err(e) => CommandError::failed(format!("Error pausing VirtualMachineInstance {name}: {e}")),
        Ok(s) if s == "Halted" => CommandError::failed(format!(
            "Error pausing VirtualMachineInstance {name}. VirtualMachine {name} is not set to run"
        )),
        Ok(_) => CommandError::failed(format!(
            "Error pausing VirtualMachineInstance {name}, it was not found"
        )),
    }
}

fn dry_run(dry_run: bool) -> Option<Vec<String>> {
    dry_run.then(|| {
        println!("Dry Run execution");
        vec!["All".to_owned()]
    })
}

async fn connect(ctx: &Ctx) -> Result<&Connection, CommandError> {
    ctx.connect()
        .await
        .map_err(|e| CommandError::failed(format!("Cannot obtain KubeVirt client: {e}")))
}

/// The VM `name` and its name as stored.
async fn get_vm(conn: &Connection, name: &str) -> Result<(Value, String), CommandError> {
    let vm: Value = conn
        .client
        .get_kubevirt(&conn.namespace, "virtualmachines", name)
        .await
        .map_err(|e| CommandError::failed(format!("Error getting VirtualMachine {name}: {e}")))?;
    let stored = vm
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or(name)
        .to_owned();
    Ok((vm, stored))
}

pub async fn pause(ctx: &Ctx, a: DryRunArgs) -> Result<(), CommandError> {
    let kind = a.args[0].to_lowercase();
    let name = &a.args[1];
    let conn = connect(ctx).await?;
    let body = PauseOptions {
        dry_run: dry_run(a.dry_run),
        ..Default::default()
    };
    let ns = &conn.namespace;
    match kind.as_str() {
        "virtualmachine" | "vm" => {
            let (vm, vmi) = get_vm(conn, name).await?;
            match conn
                .client
                .put_subresource(ns, VMIS, &vmi, "pause", Some(&body))
                .await
            {
                Err(e) if e.is_not_found() => return Err(vmi_not_found(&vm, &vmi)),
                Err(e) => {
                    return Err(CommandError::failed(format!(
                        "Error pausing VirtualMachineInstance {vmi}: {e}"
                    )));
                }
                Ok(()) => {}
            }
        }
        "virtualmachineinstance" | "vmi" => {
            conn.client
                .put_subresource(ns, VMIS, name, "pause", Some(&body))
                .await
                .map_err(|e| {
                    CommandError::failed(format!(
                        "Error pausing VirtualMachineInstance {name}: {e}"
                    ))
                })?;
        }
        // Upstream neither rejects other types nor pauses anything for them.
        _ => {}
    }
    println!("VMI {name} was scheduled to pause");
    Ok(())
}

pub async fn unpause(ctx: &Ctx, a: DryRunArgs) -> Result<(), CommandError> {
    let kind = a.args[0].to_lowercase();
    let name = &a.args[1];
    let conn = connect(ctx).await?;
    let body = UnpauseOptions {
        dry_run: dry_run(a.dry_run),
        ..Default::default()
    };
    let vmi = match kind.as_str() {
        "virtualmachine" | "vm" => get_vm(conn, name).await?.1,
        "virtualmachineinstance" | "vmi" => name.clone(),
        // Upstream does nothing, successfully, for other types.
        _ => return Ok(()),
    };
    conn.client
        .put_subresource(&conn.namespace, VMIS, &vmi, "unpause", Some(&body))
        .await
        .map_err(|e| {
            CommandError::failed(format!("Error unpausing VirtualMachineInstance {vmi}: {e}"))
        })?;
    println!("VMI {vmi} was scheduled to unpause");
    Ok(())
}

pub async fn soft_reboot(ctx: &Ctx, a: PositionalArgs) -> Result<(), CommandError> {
    let vmi = &a.args[0];
    let conn = connect(ctx).await?;
    conn.client
        .put_subresource::<()>(&conn.namespace, VMIS, vmi, "softreboot", None)
        .await
        .map_err(|e| {
            CommandError::failed(format!(
                "Error soft rebooting VirtualMachineInstance {vmi}: {e}"
            ))
        })?;
    println!("VMI {vmi} was scheduled to soft-reboot");
    Ok(())
}

pub async fn reset(ctx: &Ctx, a: PositionalArgs) -> Result<(), CommandError> {
    let vmi = &a.args[0];
    let conn = ctx.connect().await?;
    conn.client
        .put_subresource::<()>(&conn.namespace, VMIS, vmi, "reset", None)
        .await
        .map_err(|e| {
            CommandError::failed(format!("Error reseting VirtualMachineInstance {vmi}: {e}"))
        })?;
    println!("VMI {vmi} was scheduled to reset");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn run_strategy_follows_running_or_run_strategy() {
        assert_eq!(
            run_strategy(&json!({"spec": {"running": true}})).unwrap(),
            "Always"
        );
        assert_eq!(
            run_strategy(&json!({"spec": {"running": false}})).unwrap(),
            "Halted"
        );
        assert_eq!(run_strategy(&json!({"spec": {}})).unwrap(), "Halted");
        assert_eq!(
            run_strategy(&json!({"spec": {"runStrategy": "Manual"}})).unwrap(),
            "Manual"
        );
        assert!(
            run_strategy(&json!({"spec": {"running": true, "runStrategy": "Always"}})).is_err()
        );
    }

    #[test]
    fn a_missing_vmi_of_a_halted_vm_is_not_set_to_run() {
        let halted = json!({"spec": {"runStrategy": "Halted"}});
        assert_eq!(
            vmi_not_found(&halted, "vm1").to_string(),
            "Error pausing VirtualMachineInstance vm1. VirtualMachine vm1 is not set to run"
        );
        let always = json!({"spec": {"runStrategy": "Always"}});
        assert_eq!(
            vmi_not_found(&always, "vm1").to_string(),
            "Error pausing VirtualMachineInstance vm1, it was not found"
        );
    }
}
