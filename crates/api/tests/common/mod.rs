//! Shared helpers of the integration tests: the example manifests and a structural-schema
//! pruning checker.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::Value;

/// One manifest read from the test data.
pub struct Manifest {
    /// File name relative to `tests/data`.
    pub name: String,
    /// The YAML text.
    pub yaml: String,
    /// The YAML converted to JSON.
    pub json: Value,
}

impl Manifest {
    /// `apiVersion` of the manifest.
    pub fn api_version(&self) -> &str {
        self.json["apiVersion"].as_str().unwrap_or_default()
    }

    /// `kind` of the manifest.
    pub fn kind(&self) -> &str {
        self.json["kind"].as_str().unwrap_or_default()
    }

    /// True for the four core kinds of this crate in `kubevirt.io/v1` or `kubevirt.io/v1alpha3`.
    pub fn is_own_kind(&self) -> bool {
        matches!(
            self.api_version(),
            "kubevirt.io/v1" | "kubevirt.io/v1alpha3"
        ) && OWN_KINDS.contains(&self.kind())
    }

    /// API group of the manifest (`""` for the core group).
    pub fn group(&self) -> &str {
        self.api_version()
            .rsplit_once('/')
            .map_or("", |(group, _)| group)
    }

    /// True for a kind other than the four core ones that `api::crds()` defines.
    pub fn is_added_kind(&self) -> bool {
        ADDED_KINDS.contains(&(self.group(), self.kind()))
    }

    /// True for any kind that `api::crds()` defines.
    pub fn is_crd_kind(&self) -> bool {
        self.is_own_kind() || self.is_added_kind()
    }
}

/// The core kinds this crate types.
pub const OWN_KINDS: [&str; 4] = [
    "VirtualMachine",
    "VirtualMachineInstance",
    "VirtualMachineInstanceReplicaSet",
    "VirtualMachineInstanceMigration",
];

/// The other kinds this crate types and defines CRDs for, as (group, kind).
pub const ADDED_KINDS: [(&str, &str); 9] = [
    ("kubevirt.io", "VirtualMachineInstancePreset"),
    ("pool.kubevirt.io", "VirtualMachinePool"),
    ("instancetype.kubevirt.io", "VirtualMachineInstancetype"),
    (
        "instancetype.kubevirt.io",
        "VirtualMachineClusterInstancetype",
    ),
    ("instancetype.kubevirt.io", "VirtualMachinePreference"),
    (
        "instancetype.kubevirt.io",
        "VirtualMachineClusterPreference",
    ),
    ("migrations.kubevirt.io", "MigrationPolicy"),
    ("cdi.kubevirt.io", "DataVolume"),
    ("cdi.kubevirt.io", "DataSource"),
];

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("data")
}

/// Every `*.yaml` file of `tests/data/<dir>`, sorted by name.
pub fn manifests(dir: &str) -> Result<Vec<Manifest>> {
    let root = data_dir();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(root.join(dir))
        .with_context(|| format!("reading test data directory {dir}"))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    paths.retain(|p| p.extension().is_some_and(|e| e == "yaml"));
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let yaml = std::fs::read_to_string(&path)?;
            let json: Value = serde_saphyr::from_str(&yaml)
                .with_context(|| format!("parsing {}", path.display()))?;
            let name = path.strip_prefix(&root)?.display().to_string();
            Ok(Manifest { name, yaml, json })
        })
        .collect()
}

/// Every manifest of the directories that hold valid v1 objects.
pub fn all_v1_manifests() -> Result<Vec<Manifest>> {
    let mut all = manifests("kubevirt-examples")?;
    all.extend(manifests("seeds")?);
    all.extend(manifests("status")?);
    all.extend(manifests("added")?);
    Ok(all)
}

/// Removes every `creationTimestamp: null`, which typed metadata cannot represent and which
/// means the same as an absent timestamp.
pub fn without_null_creation_timestamps(mut value: Value) -> Value {
    fn strip(value: &mut Value) {
        match value {
            Value::Object(map) => {
                if map.get("creationTimestamp") == Some(&Value::Null) {
                    map.remove("creationTimestamp");
                }
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut value);
    value
}

/// Paths of the object that a structural schema does not keep, and values whose JSON type the
/// schema does not allow.
///
/// Follows the API server's pruning walk: `properties`, then `additionalProperties`, then
/// `x-kubernetes-preserve-unknown-fields`; `items` for arrays. At the root, `apiVersion`, `kind`
/// and `metadata` are always kept.
pub fn schema_violations(object: &Value, schema: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Value::Object(map) = object {
        for (key, value) in map {
            if matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                continue;
            }
            match schema.get("properties").and_then(|p| p.get(key)) {
                Some(child) => walk(value, child, &format!(".{key}"), &mut out),
                None => out.push(format!("pruned .{key}")),
            }
        }
    }
    out
}

fn walk(value: &Value, schema: &Value, path: &str, out: &mut Vec<String>) {
    let preserve = schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    if value.is_null() {
        if schema.get("nullable") != Some(&Value::Bool(true)) {
            out.push(format!("null not allowed at {path}"));
        }
        return;
    }
    if !type_allows(schema, value) {
        out.push(format!("type mismatch at {path}: {value}"));
        return;
    }
    match value {
        Value::Object(map) => {
            for (key, child_value) in map {
                let child_path = format!("{path}.{key}");
                if let Some(child) = schema.get("properties").and_then(|p| p.get(key)) {
                    walk(child_value, child, &child_path, out);
                } else if let Some(extra) = schema.get("additionalProperties") {
                    if extra.is_object() {
                        walk(child_value, extra, &child_path, out);
                    } else if extra != &Value::Bool(true) && !preserve {
                        out.push(format!("pruned {child_path}"));
                    }
                } else if !preserve {
                    out.push(format!("pruned {child_path}"));
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    walk(item, item_schema, &format!("{path}[{i}]"), out);
                }
            } else if !preserve {
                out.push(format!("array without items schema at {path}"));
            }
        }
        _ => {}
    }
}

fn type_allows(schema: &Value, value: &Value) -> bool {
    if schema.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
        return value.is_string() || value.is_i64() || value.is_u64();
    }
    match schema.get("type").and_then(Value::as_str) {
        None => true,
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        Some("string") => value.is_string(),
        Some("boolean") => value.is_boolean(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some(_) => false,
    }
}
