//! `start`, `stop`, `restart`, `migrate` and `migrate-cancel` of a VirtualMachine, as
//! upstream's `pkg/virtctl/vm`: one PUT to the VM's subresource (or, for `migrate-cancel`, the
//! deletion of its active migration), the same messages, plus an optional `--wait`.

use std::collections::BTreeMap;

use api::{MigrateOptions, RestartOptions, StartOptions, StopOptions};
use serde_json::Value;

use super::{CommandError, Ctx, dry_run_option, wait};
use crate::cli::{DryRunArgs, MigrateArgs, StartArgs, StopArgs};

const VMS: &str = "virtualmachines";
/// Label of a migration naming its VMI.
const MIGRATION_SELECTOR_LABEL: &str = "kubevirt.io/vmi-name";

/// The body of `start`: `paused` and `dryRun` only when set, as Go's `omitempty` encodes them.
pub fn start_options(paused: bool, dry_run: Option<Vec<String>>) -> StartOptions {
    StartOptions {
        paused: paused.then_some(true),
        dry_run,
        ..Default::default()
    }
}

/// `--force` and `--grace-period` go together.
pub fn check_force(force: bool, grace_period_changed: bool) -> Result<(), CommandError> {
    if force != grace_period_changed {
        return Err(CommandError::failed(
            "Must both use --force=true and set --grace-period.",
        ));
    }
    Ok(())
}

pub async fn start(ctx: &Ctx, a: StartArgs) -> Result<(), CommandError> {
    let name = &a.args[0];
    let conn = ctx.connect().await?;
    let body = start_options(a.paused, dry_run_option(a.dry_run));
    conn.client
        .put_subresource(&conn.namespace, VMS, name, "start", Some(&body))
        .await
        .map_err(|e| CommandError::failed(format!("Error starting VirtualMachine {e}")))?;
    println!("VM {name} was scheduled to start");
    if a.wait.wait && !a.dry_run {
        wait::running(conn, name, a.paused, a.wait.wait_timeout).await?;
    }
    Ok(())
}

pub async fn stop(ctx: &Ctx, a: StopArgs) -> Result<(), CommandError> {
    let name = &a.args[0];
    let conn = ctx.connect().await?;
    let dry_run = dry_run_option(a.dry_run);
    check_force(a.force, ctx.changed("grace-period"))?;
    let body = StopOptions {
        grace_period: a.force.then_some(a.grace_period),
        dry_run,
        ..Default::default()
    };
    conn.client
        .put_subresource(&conn.namespace, VMS, name, "stop", Some(&body))
        .await
        .map_err(|e| {
            CommandError::failed(if a.force {
                format!("error force stopping VirtualMachine: {e}")
            } else {
                format!("error stopping VirtualMachine {e}")
            })
        })?;
    println!("VM {name} was scheduled to stop");
    if a.wait.wait && !a.dry_run {
        wait::stopped(conn, name, a.wait.wait_timeout).await?;
    }
    Ok(())
}

pub async fn restart(ctx: &Ctx, a: StopArgs) -> Result<(), CommandError> {
    let name = &a.args[0];
    let conn = ctx.connect().await?;
    let dry_run = dry_run_option(a.dry_run);
    check_force(a.force, ctx.changed("grace-period"))?;
    let body = RestartOptions {
        grace_period_seconds: a.force.then_some(a.grace_period),
        dry_run,
        ..Default::default()
    };
    let waiting = a.wait.wait && !a.dry_run;
    let old_uid = if waiting {
        conn.client
            .get_kubevirt::<Value>(&conn.namespace, "virtualmachineinstances", name)
            .await
            .ok()
            .and_then(|vmi| vmi.pointer("/metadata/uid")?.as_str().map(str::to_owned))
    } else {
        None
    };
    conn.client
        .put_subresource(&conn.namespace, VMS, name, "restart", Some(&body))
        .await
        .map_err(|e| {
            CommandError::failed(if a.force {
                format!("error force restarting VirtualMachine: {e}")
            } else {
                format!("error restarting VirtualMachine: {e}")
            })
        })?;
    println!("VM {name} was scheduled to restart");
    if waiting {
        wait::restarted(conn, name, old_uid.as_deref(), a.wait.wait_timeout).await?;
    }
    Ok(())
}

/// The body of `migrate`: the selectors of every `--addedNodeSelector`, merged.
pub fn migrate_options(
    selectors: &[BTreeMap<String, String>],
    dry_run: Option<Vec<String>>,
) -> MigrateOptions {
    let merged: BTreeMap<String, String> = selectors
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    MigrateOptions {
        dry_run,
        added_node_selector: (!merged.is_empty()).then_some(merged),
        ..Default::default()
    }
}

pub async fn migrate(ctx: &Ctx, a: MigrateArgs) -> Result<(), CommandError> {
    let name = &a.args[0];
    let conn = ctx.connect().await?;
    let body = migrate_options(&a.added_node_selector, dry_run_option(a.dry_run));
    conn.client
        .put_subresource(&conn.namespace, VMS, name, "migrate", Some(&body))
        .await
        .map_err(|e| CommandError::failed(format!("Error migrating VirtualMachine {e}")))?;
    println!("VM {name} was scheduled to migrate");
    Ok(())
}

/// A migration that succeeded or failed.
fn is_final_migration(migration: &Value) -> bool {
    matches!(
        migration.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded" | "Failed")
    )
}

pub async fn migrate_cancel(ctx: &Ctx, a: DryRunArgs) -> Result<(), CommandError> {
    let name = &a.args[0];
    let conn = ctx.connect().await?;
    let selector = format!("{MIGRATION_SELECTOR_LABEL}=={name}");
    let items = conn
        .client
        .list_kubevirt(
            &conn.namespace,
            "virtualmachineinstancemigrations",
            &selector,
        )
        .await
        .map_err(|e| {
            CommandError::failed(format!(
                "Error fetching virtual machine instance migration list  {e}"
            ))
        })?;
    let dry_run = dry_run_option(a.dry_run).is_some();
    for migration in items {
        if is_final_migration(&migration) {
            continue;
        }
        let migration_name = migration
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        conn.client
            .delete_kubevirt(
                &conn.namespace,
                "virtualmachineinstancemigrations",
                &migration_name,
                dry_run,
            )
            .await
            .map_err(|e| {
                CommandError::failed(format!(
                    "Error canceling migration {migration_name} of a VirtualMachine {name}: {e}"
                ))
            })?;
        println!("VM {name} was scheduled to migrate-cancel");
        return Ok(());
    }
    Err(CommandError::failed(format!(
        "Found no migration to cancel for {name}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn force_and_grace_period_must_come_together() {
        assert!(check_force(false, false).is_ok());
        assert!(check_force(true, true).is_ok());
        for (force, grace) in [(true, false), (false, true)] {
            assert_eq!(
                check_force(force, grace).unwrap_err().to_string(),
                "Must both use --force=true and set --grace-period."
            );
        }
    }

    #[test]
    fn bodies_omit_unset_fields_like_go() {
        let plain = serde_json::to_string(&start_options(false, None)).unwrap();
        assert_eq!(plain, "{}");
        let paused = serde_json::to_string(&start_options(true, Some(vec!["All".into()]))).unwrap();
        assert_eq!(paused, r#"{"paused":true,"dryRun":["All"]}"#);
        let one: BTreeMap<String, String> = [("a".to_owned(), "1".to_owned())].into();
        let two: BTreeMap<String, String> = [("b".to_owned(), "2".to_owned())].into();
        let m = serde_json::to_value(migrate_options(&[one, two], None)).unwrap();
        assert_eq!(
            m,
            serde_json::json!({"addedNodeSelector": {"a": "1", "b": "2"}})
        );
        assert_eq!(
            serde_json::to_string(&migrate_options(&[], None)).unwrap(),
            "{}"
        );
    }
}
