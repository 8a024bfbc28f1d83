//! Field paths (`spec.domain.devices.disks[1].name`) and status causes, spelled as upstream's
//! `k8sfield.Path` and `metav1.StatusCause`.

use std::fmt;

use apiserver::Cause;

/// A field path; `Display` gives the dotted form with `[i]` indices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Path(String);

impl Path {
    pub fn new(root: &str) -> Self {
        Path(root.to_string())
    }

    /// `self.a.b...` for each segment.
    pub fn child(&self, name: &str) -> Path {
        Path(format!("{}.{name}", self.0))
    }

    pub fn children(&self, names: &[&str]) -> Path {
        names.iter().fold(self.clone(), |p, n| p.child(n))
    }

    pub fn index(&self, i: usize) -> Path {
        Path(format!("{}[{i}]", self.0))
    }

    /// `self[key]`, as upstream prints map keys.
    pub fn key(&self, key: &str) -> Path {
        Path(format!("{}[{key}]", self.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The `metav1.CauseType` values admission uses.
pub mod cause_type {
    pub const INVALID: &str = "FieldValueInvalid";
    pub const REQUIRED: &str = "FieldValueRequired";
    pub const NOT_FOUND: &str = "FieldValueNotFound";
    pub const DUPLICATE: &str = "FieldValueDuplicate";
    pub const NOT_SUPPORTED: &str = "FieldValueNotSupported";
    pub const FORBIDDEN: &str = "FieldValueForbidden";
}

pub fn invalid(field: impl fmt::Display, message: impl Into<String>) -> Cause {
    Cause::new(cause_type::INVALID, message, field.to_string())
}

pub fn required(field: impl fmt::Display, message: impl Into<String>) -> Cause {
    Cause::new(cause_type::REQUIRED, message, field.to_string())
}

pub fn not_supported(field: impl fmt::Display, message: impl Into<String>) -> Cause {
    Cause::new(cause_type::NOT_SUPPORTED, message, field.to_string())
}

pub fn duplicate(field: impl fmt::Display, message: impl Into<String>) -> Cause {
    Cause::new(cause_type::DUPLICATE, message, field.to_string())
}

pub fn not_found(field: impl fmt::Display, message: impl Into<String>) -> Cause {
    Cause::new(cause_type::NOT_FOUND, message, field.to_string())
}

pub fn forbidden(field: impl fmt::Display, message: impl Into<String>) -> Cause {
    Cause::new(cause_type::FORBIDDEN, message, field.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_print_like_kubernetes() {
        let p = Path::new("spec")
            .children(&["domain", "devices", "disks"])
            .index(2)
            .child("name");
        assert_eq!(p.to_string(), "spec.domain.devices.disks[2].name");
        assert_eq!(
            Path::new("metadata")
                .child("annotations")
                .key("a/b")
                .as_str(),
            "metadata.annotations[a/b]"
        );
    }

    #[test]
    fn causes_carry_their_type_and_field() {
        let c = required(
            Path::new("spec").child("running"),
            "RunStrategy must be specified",
        );
        assert_eq!(c.reason, "FieldValueRequired");
        assert_eq!(c.field, "spec.running");
    }
}
