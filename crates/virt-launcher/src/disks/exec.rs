//! Executing disk plans: `qemu-img` for overlays and empty disks, `genisoimage` (or `xorriso`)
//! for ISO images. Blocking; call from `spawn_blocking` in async code.

use super::{DiskAction, DiskError, DiskPlan, IsoFile};
use std::path::{Path, PathBuf};
use std::process::Command;

fn io_err(what: &str, path: &Path) -> impl FnOnce(std::io::Error) -> DiskError {
    let what = what.to_string();
    let path = path.display().to_string();
    move |source| DiskError::Io { what, path, source }
}

fn run(tool: &str, cmd: &mut Command) -> Result<(), DiskError> {
    let out = cmd.output().map_err(|e| DiskError::Tool {
        tool: tool.to_string(),
        message: if e.kind() == std::io::ErrorKind::NotFound {
            format!("{tool} is not installed")
        } else {
            e.to_string()
        },
    })?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    Err(DiskError::Tool {
        tool: tool.to_string(),
        message: stderr.trim().to_string(),
    })
}

/// Makes every planned file exist. Overlays and empty disks that already exist are kept (a
/// restarted launcher of the same VMI keeps its disks); ISO images are written anew.
pub fn prepare(plans: &[DiskPlan]) -> Result<(), DiskError> {
    for plan in plans {
        let path = &plan.resolved.path;
        let exists = path.exists();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io_err("create", parent))?;
        }
        match &plan.action {
            DiskAction::Overlay { base, base_format } => {
                if exists {
                    continue;
                }
                // qemu-img resolves a relative backing path against the overlay's directory.
                let base = std::fs::canonicalize(base).map_err(|_| DiskError::FileMissing {
                    path: base.display().to_string(),
                })?;
                run(
                    "qemu-img",
                    Command::new("qemu-img")
                        .args([
                            "create",
                            "-q",
                            "-f",
                            "qcow2",
                            "-F",
                            base_format.as_str(),
                            "-b",
                        ])
                        .arg(&base)
                        .arg(path),
                )?;
            }
            DiskAction::EmptyQcow2 { capacity } => {
                if exists {
                    continue;
                }
                run(
                    "qemu-img",
                    Command::new("qemu-img")
                        .args(["create", "-q", "-f", "qcow2"])
                        .arg(path)
                        .arg(capacity.to_string()),
                )?;
            }
            DiskAction::Existing => {
                if !exists {
                    return Err(DiskError::FileMissing {
                        path: path.display().to_string(),
                    });
                }
            }
            DiskAction::CreateRawIfMissing { capacity } => {
                if exists {
                    continue;
                }
                let file = std::fs::File::create(path).map_err(io_err("create", path))?;
                file.set_len(*capacity).map_err(io_err("size", path))?;
            }
            DiskAction::Iso { label, files } => write_iso(path, label, files)?,
        }
    }
    Ok(())
}

/// Writes an ISO9660 image (Joliet and Rock Ridge) with the volume label and files at `path`,
/// with `genisoimage`, or `xorriso` when genisoimage is not installed.
pub fn write_iso(path: &Path, label: &str, files: &[IsoFile]) -> Result<(), DiskError> {
    let staging = PathBuf::from(format!("{}.d", path.display()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).map_err(io_err("create", &staging))?;
    let result = (|| {
        for file in files {
            if file.path.split('/').any(|c| c.is_empty() || c == "..") {
                return Err(DiskError::Invalid {
                    volume: label.to_string(),
                    message: format!("bad file name {:?}", file.path),
                });
            }
            let target = staging.join(&file.path);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(io_err("create", parent))?;
            }
            std::fs::write(&target, &file.data).map_err(io_err("write", &target))?;
        }
        let tmp = PathBuf::from(format!("{}.tmp", path.display()));
        let args = |cmd: &mut Command| {
            cmd.arg("-output")
                .arg(&tmp)
                .args([
                    "-volid",
                    label,
                    "-joliet",
                    "-rock",
                    "-input-charset",
                    "utf-8",
                ])
                .args(["-quiet"])
                .arg(&staging);
        };
        let mut genisoimage = Command::new("genisoimage");
        args(&mut genisoimage);
        match run("genisoimage", &mut genisoimage) {
            Err(DiskError::Tool { message, .. }) if message.ends_with("is not installed") => {
                let mut xorriso = Command::new("xorriso");
                xorriso.args(["-as", "mkisofs"]);
                args(&mut xorriso);
                run("xorriso", &mut xorriso).map_err(|e| match e {
                    DiskError::Tool { message, .. } if message.ends_with("is not installed") => {
                        DiskError::Tool {
                            tool: "genisoimage".into(),
                            message: "neither genisoimage nor xorriso is installed".into(),
                        }
                    }
                    e => e,
                })?;
            }
            other => other?,
        }
        std::fs::rename(&tmp, path).map_err(io_err("write", path))
    })();
    let _ = std::fs::remove_dir_all(&staging);
    result
}
