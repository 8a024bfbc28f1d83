//! Discovery of the group, and the `version` and `healthz` endpoints.
//!
//! Upstream lists its subresources with a name only (no kind, no verbs); here each one carries
//! the verb its HTTP method maps to (`update` for PUT, `get` for GET), which is also what an
//! RBAC rule for it must grant. Only the subresources this server answers are listed.

use apiserver::registry::{PluginGroup, PluginResource};
use serde_json::{Value, json};

/// Served versions, preferred first.
pub const VERSIONS: [&str; 2] = ["v1", "v1alpha3"];

/// KubeVirt release this implementation follows, as `virtctl version` prints it.
const GIT_VERSION: &str = "v1.9.0-kubevirt-rs";

/// `(name, verb)` of every listed resource.
const RESOURCES: &[(&str, &str)] = &[
    ("expand-vm-spec", "update"),
    ("virtualmachineinstances/vnc", "get"),
    ("virtualmachineinstances/vnc/screenshot", "get"),
    ("virtualmachineinstances/console", "get"),
    ("virtualmachineinstances/portforward", "get"),
    ("virtualmachineinstances/pause", "update"),
    ("virtualmachineinstances/unpause", "update"),
    ("virtualmachineinstances/reset", "update"),
    ("virtualmachineinstances/softreboot", "update"),
    ("virtualmachines/start", "update"),
    ("virtualmachines/stop", "update"),
    ("virtualmachines/restart", "update"),
    ("virtualmachines/migrate", "update"),
    ("virtualmachines/expand-spec", "get"),
    ("virtualmachines/portforward", "get"),
    ("virtualmachineinstances/guestosinfo", "get"),
    ("virtualmachineinstances/userlist", "get"),
    ("virtualmachineinstances/filesystemlist", "get"),
];

/// The group as discovery lists it.
pub fn group() -> PluginGroup {
    PluginGroup {
        group: api::keys::SUBRESOURCE_GROUP.to_owned(),
        versions: VERSIONS.iter().map(|v| (*v).to_owned()).collect(),
        resources: RESOURCES
            .iter()
            .map(|(name, verb)| PluginResource {
                name: (*name).to_owned(),
                namespaced: true,
                kind: String::new(),
                verbs: vec![(*verb).to_owned()],
            })
            .collect(),
    }
}

fn platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    format!("{}/{arch}", std::env::consts::OS)
}

/// The body of `GET .../version`, shaped as upstream's `version.Info`.
pub fn version_info() -> Value {
    json!({
        "gitVersion": GIT_VERSION,
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
        "goVersion": "",
        "compiler": "rustc",
        "platform": platform(),
    })
}

/// The body of `GET .../healthz`. The API is in-process, so it is always reachable.
pub fn healthz() -> Value {
    json!({
        "apiserver": {"connectivity": "ok"},
        "config-resource-version": "",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_serves_v1_first_and_lists_the_lifecycle_actions() {
        let g = group();
        assert_eq!(g.group, "subresources.kubevirt.io");
        assert_eq!(g.versions, ["v1", "v1alpha3"]);
        let start = g
            .resources
            .iter()
            .find(|r| r.name == "virtualmachines/start")
            .unwrap();
        assert_eq!(start.verbs, ["update"]);
        let console = g
            .resources
            .iter()
            .find(|r| r.name == "virtualmachineinstances/console")
            .unwrap();
        assert_eq!(console.verbs, ["get"]);
        assert!(g.resources.iter().all(|r| r.namespaced));
    }

    #[test]
    fn version_info_has_the_fields_kubecli_reads() {
        let v = version_info();
        for field in [
            "gitVersion",
            "gitCommit",
            "gitTreeState",
            "buildDate",
            "goVersion",
            "compiler",
            "platform",
        ] {
            assert!(v.get(field).is_some_and(Value::is_string), "{field}");
        }
        assert!(v["gitVersion"].as_str().unwrap().starts_with("v1."));
        assert!(v["platform"].as_str().unwrap().contains('/'));
    }
}
