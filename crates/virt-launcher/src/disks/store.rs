//! The local image store that backs `containerDisk` volumes.
//!
//! Layout: `<store>/<sanitized image ref>/disk.qcow2` or `disk.img` (raw), plus a `ref` file
//! holding the original image reference. Images are only read: every VMI boots from its own
//! qcow2 overlay on top of the stored file.

use super::DiskError;
use crate::spec::DiskFormat;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

const QCOW2_NAME: &str = "disk.qcow2";
const RAW_NAME: &str = "disk.img";
const REF_NAME: &str = "ref";

/// Looks up the base file of a container disk image.
pub trait ImageLookup {
    /// The stored file of `image` and its format, when the image is in the store.
    fn find(&self, image: &str) -> Option<(PathBuf, DiskFormat)>;
}

/// The directory name of an image reference: its characters outside `[A-Za-z0-9._-]` become
/// `_`, followed by 8 hex digits of its SHA-256 so that different references never share a
/// directory (`registry:5000/a/b:v1` → `registry_5000_a_b_v1-<hash>`).
pub fn sanitize_image_ref(image: &str) -> String {
    let readable: String = image
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let hash = hex::encode(&Sha256::digest(image.as_bytes())[..4]);
    format!("{readable}-{hash}")
}

/// qcow2 files start with `QFI\xfb`; anything else is raw.
pub fn detect_format(path: &Path) -> std::io::Result<DiskFormat> {
    let mut magic = [0u8; 4];
    let mut file = std::fs::File::open(path)?;
    let n = file.read(&mut magic)?;
    Ok(if n == 4 && &magic == b"QFI\xfb" {
        DiskFormat::Qcow2
    } else {
        DiskFormat::Raw
    })
}

/// An image store in a directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirImageStore {
    pub dir: PathBuf,
}

impl DirImageStore {
    pub fn new(dir: impl Into<PathBuf>) -> DirImageStore {
        DirImageStore { dir: dir.into() }
    }

    /// The directory holding `image`.
    pub fn image_dir(&self, image: &str) -> PathBuf {
        self.dir.join(sanitize_image_ref(image))
    }

    /// The image references in the store, sorted.
    pub fn list(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut refs: Vec<String> = entries
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path().join(REF_NAME)).ok())
            .map(|r| r.trim().to_string())
            .filter(|r| self.find(r).is_some())
            .collect();
        refs.sort();
        refs
    }
}

impl ImageLookup for DirImageStore {
    fn find(&self, image: &str) -> Option<(PathBuf, DiskFormat)> {
        let dir = self.image_dir(image);
        [(QCOW2_NAME, DiskFormat::Qcow2), (RAW_NAME, DiskFormat::Raw)]
            .into_iter()
            .map(|(name, format)| (dir.join(name), format))
            .find(|(path, _)| path.is_file())
    }
}

/// Copies `source` (raw or qcow2, detected from its content) into the store as `image_ref`,
/// replacing an earlier import of the same reference. Returns the stored file.
pub fn import_image(
    store_dir: &Path,
    image_ref: &str,
    source: &Path,
) -> Result<PathBuf, DiskError> {
    if image_ref.trim().is_empty() {
        return Err(DiskError::InvalidImageRef(image_ref.to_string()));
    }
    let io = |what: &str, path: &Path| {
        let what = what.to_string();
        let path = path.display().to_string();
        move |source| DiskError::Io { what, path, source }
    };
    let format = detect_format(source).map_err(io("read", source))?;
    let store = DirImageStore::new(store_dir);
    let dir = store.image_dir(image_ref);
    std::fs::create_dir_all(&dir).map_err(io("create", &dir))?;
    let name = match format {
        DiskFormat::Qcow2 => QCOW2_NAME,
        DiskFormat::Raw => RAW_NAME,
    };
    let target = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::copy(source, &tmp).map_err(io("copy", source))?;
    std::fs::rename(&tmp, &target).map_err(io("write", &target))?;
    for other in [QCOW2_NAME, RAW_NAME] {
        if other != name {
            let _ = std::fs::remove_file(dir.join(other));
        }
    }
    let ref_path = dir.join(REF_NAME);
    std::fs::write(&ref_path, format!("{image_ref}\n")).map_err(io("write", &ref_path))?;
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_refs_become_readable_distinct_directory_names() {
        let a = sanitize_image_ref("registry:5000/kubevirt/cirros:devel");
        assert!(a.starts_with("registry_5000_kubevirt_cirros_devel-"), "{a}");
        assert_eq!(a.len(), "registry_5000_kubevirt_cirros_devel-".len() + 8);
        assert_ne!(sanitize_image_ref("a/b"), sanitize_image_ref("a_b"));
        assert_eq!(a, sanitize_image_ref("registry:5000/kubevirt/cirros:devel"));
    }

    #[test]
    fn imports_detect_the_format_and_replace_earlier_imports() {
        let dir = tempfile::tempdir().unwrap();
        let store_dir = dir.path().join("images");
        let raw = dir.path().join("raw.img");
        std::fs::write(&raw, b"\0\0\0\0raw disk").unwrap();
        let qcow = dir.path().join("x.qcow2");
        std::fs::write(&qcow, b"QFI\xfbrest of a qcow2").unwrap();

        let stored = import_image(&store_dir, "demo:1", &raw).unwrap();
        assert!(stored.ends_with("disk.img"));
        let store = DirImageStore::new(&store_dir);
        assert_eq!(store.find("demo:1"), Some((stored, DiskFormat::Raw)));

        let stored = import_image(&store_dir, "demo:1", &qcow).unwrap();
        assert_eq!(
            store.find("demo:1"),
            Some((stored.clone(), DiskFormat::Qcow2))
        );
        assert!(!stored.with_file_name("disk.img").exists());
        assert_eq!(store.find("demo:2"), None);
        assert_eq!(store.list(), ["demo:1"]);
        assert!(matches!(
            import_image(&store_dir, " ", &raw),
            Err(DiskError::InvalidImageRef(_))
        ));
    }
}
