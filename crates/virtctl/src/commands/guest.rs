//! `guestosinfo`, `userlist` and `fslist`: guest agent data of a VirtualMachineInstance,
//! printed as indented JSON.

use serde_json::Value;

use super::{CommandError, Ctx};
use crate::cli::PositionalArgs;

/// Which guest agent query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Query {
    OsInfo,
    UserList,
    FilesystemList,
}

impl Query {
    fn subresource(self) -> &'static str {
        match self {
            Query::OsInfo => "guestosinfo",
            Query::UserList => "userlist",
            Query::FilesystemList => "filesystemlist",
        }
    }

    fn failure(self, name: &str, e: impl std::fmt::Display) -> String {
        match self {
            Query::OsInfo => {
                format!("Error getting guestosinfo of VirtualMachineInstance {name}, {e}")
            }
            Query::UserList => format!("Error listing users of VirtualMachineInstance {name}, {e}"),
            Query::FilesystemList => {
                format!("Error listing filesystems of VirtualMachineInstance {name}, {e}")
            }
        }
    }
}

pub async fn query(ctx: &Ctx, a: PositionalArgs, which: Query) -> Result<(), CommandError> {
    let name = &a.args[0];
    let conn = ctx.connect().await?;
    let raw = conn
        .client
        .get_subresource(
            &conn.namespace,
            "virtualmachineinstances",
            name,
            which.subresource(),
            "",
        )
        .await
        .map_err(|e| CommandError::failed(which.failure(name, e)))?;
    let value: Value =
        serde_json::from_slice(&raw).map_err(|e| CommandError::failed(which.failure(name, e)))?;
    let text = serde_json::to_string_pretty(&value)
        .map_err(|e| CommandError::failed(format!("Cannot marshal {} {e}", which.subresource())))?;
    println!("{text}");
    Ok(())
}
