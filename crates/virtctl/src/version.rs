//! Client and server versions: upstream's `version.Info`, printed as Go's `%#v` prints it, and
//! the major.minor comparison virtctl makes after a failure.

use serde::{Deserialize, Serialize};

/// The KubeVirt release this client follows. Its major.minor is compared with the server's.
pub const GIT_VERSION: &str = "v1.9.0-kubevirt-rs";

/// Upstream's `kubevirt.io/client-go/version.Info`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Info {
    pub git_version: String,
    pub git_commit: String,
    pub git_tree_state: String,
    pub build_date: String,
    pub go_version: String,
    pub compiler: String,
    pub platform: String,
}

fn platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    format!("{}/{arch}", std::env::consts::OS)
}

/// This client's version.
pub fn client() -> Info {
    Info {
        git_version: GIT_VERSION.into(),
        git_commit: String::new(),
        git_tree_state: "clean".into(),
        build_date: "1970-01-01T00:00:00Z".into(),
        go_version: String::new(),
        compiler: "rustc".into(),
        platform: platform(),
    }
}

impl Info {
    /// Go's `%#v`: `version.Info{GitVersion:"v1.9.0", GitCommit:"", ...}`.
    pub fn go_syntax(&self) -> String {
        format!(
            "version.Info{{GitVersion:{:?}, GitCommit:{:?}, GitTreeState:{:?}, BuildDate:{:?}, GoVersion:{:?}, Compiler:{:?}, Platform:{:?}}}",
            self.git_version,
            self.git_commit,
            self.git_tree_state,
            self.build_date,
            self.go_version,
            self.compiler,
            self.platform
        )
    }
}

/// `(major, minor)` of a `vX.Y.Z[-suffix]` version, as semver parses it.
pub fn major_minor(version: &str) -> Option<(u64, u64)> {
    let v = version.trim().trim_start_matches('v');
    let mut parts = v.split(['.', '-', '+']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    let patch = parts.next()?;
    patch.parse::<u64>().ok()?;
    Some((major, minor))
}

/// Upstream's notice when client and server differ in major or minor version; `None` when
/// they match or a version cannot be parsed.
pub fn mismatch_notice(client: &Info, server: &Info) -> Option<String> {
    let c = major_minor(&client.git_version)?;
    let s = major_minor(&server.git_version)?;
    (c != s).then(|| {
        format!(
            "You are using a client virtctl version that is different from the KubeVirt version running in the cluster\nClient Version: {}\nServer Version: {}\n",
            client.git_version, server.git_version
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_syntax_matches_percent_sharp_v() {
        let info = Info {
            git_version: "v1.2.3".into(),
            compiler: "gc".into(),
            platform: "linux/amd64".into(),
            ..Default::default()
        };
        assert_eq!(
            info.go_syntax(),
            "version.Info{GitVersion:\"v1.2.3\", GitCommit:\"\", GitTreeState:\"\", BuildDate:\"\", GoVersion:\"\", Compiler:\"gc\", Platform:\"linux/amd64\"}"
        );
    }

    #[test]
    fn notice_only_when_major_or_minor_differ() {
        let v = |s: &str| Info {
            git_version: s.into(),
            ..Default::default()
        };
        assert!(mismatch_notice(&v("v1.9.0"), &v("v1.9.3-rc.1")).is_none());
        let notice = mismatch_notice(&v("v1.9.0"), &v("v1.8.2")).unwrap();
        assert!(notice.starts_with("You are using a client virtctl version that is different from the KubeVirt version running in the cluster\nClient Version: v1.9.0\nServer Version: v1.8.2"));
        assert!(mismatch_notice(&v("v1.9.0"), &v("garbage")).is_none());
        assert_eq!(major_minor(GIT_VERSION), Some((1, 9)));
    }
}
