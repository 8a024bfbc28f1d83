//! Where the API server is and who we are, found as client-go's deferred loading client config
//! finds it:
//!
//! 1. `--kubeconfig` (the file must exist; no other file is read);
//! 2. otherwise every existing file of `$KUBECONFIG` (a `:`-separated list), merged with the
//!    first file to set a value winning;
//! 3. otherwise `~/.kube/config` when it exists;
//! 4. otherwise the in-cluster service account when `KUBERNETES_SERVICE_HOST`/`PORT` are set and
//!    the token file exists;
//! 5. otherwise `http://localhost:8080` (client-go's cluster default).
//!
//! The override flags (`--context`, `--cluster`, `--user`, `--server`, `--token`, TLS files,
//! impersonation, ...) then replace the values of the selected context, cluster and user. The
//! namespace is `-n`, else the context's namespace, else `default`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kube::config::{
    AuthInfo, Cluster, Context, KubeConfigOptions, Kubeconfig, NamedAuthInfo, NamedCluster,
    NamedContext,
};

use crate::cli::GlobalFlags;

/// Name of the context, cluster and user made up when flags describe a server that no
/// kubeconfig names.
const SYNTHETIC: &str = "virtctl-overrides";
/// client-go's server when nothing configures one.
const DEFAULT_SERVER: &str = "http://localhost:8080";
const IN_CLUSTER_TOKEN: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file named by `--kubeconfig` does not exist.
    #[error("stat {0}: no such file or directory")]
    MissingKubeconfig(String),
    #[error("context was not found for specified context: {0}")]
    ContextNotFound(String),
    #[error("no server found for cluster {0:?}")]
    NoServer(String),
    #[error("invalid configuration: {0}")]
    Invalid(String),
    #[error("{0}")]
    Kube(String),
}

/// What the process environment contributes.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    /// `$KUBECONFIG`.
    pub kubeconfig: Option<OsString>,
    /// The user's home directory.
    pub home: Option<PathBuf>,
    /// Whether the in-cluster service account can be used.
    pub in_cluster: bool,
    /// `$KUBERNETES_MASTER`, client-go's fallback server.
    pub master: Option<String>,
}

impl Environment {
    /// The environment of this process.
    pub fn from_process() -> Self {
        let in_cluster = std::env::var_os("KUBERNETES_SERVICE_HOST").is_some_and(|v| !v.is_empty())
            && std::env::var_os("KUBERNETES_SERVICE_PORT").is_some_and(|v| !v.is_empty())
            && Path::new(IN_CLUSTER_TOKEN).is_file();
        Environment {
            kubeconfig: std::env::var_os("KUBECONFIG"),
            home: std::env::var_os("HOME").map(PathBuf::from),
            in_cluster,
            master: std::env::var("KUBERNETES_MASTER")
                .ok()
                .filter(|m| !m.is_empty()),
        }
    }
}

/// A client configuration and the namespace commands work in.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub config: kube::Config,
    pub namespace: String,
    /// True when `-n` chose the namespace.
    pub namespace_overridden: bool,
    /// `--request-timeout`, when not zero.
    pub request_timeout: Option<Duration>,
}

/// Reads the kubeconfig files that apply, merged. `None` when there are none.
pub fn load_kubeconfig(
    flags: &GlobalFlags,
    env: &Environment,
) -> Result<Option<Kubeconfig>, ConfigError> {
    let read = |p: &Path| Kubeconfig::read_from(p).map_err(|e| ConfigError::Kube(e.to_string()));
    if let Some(path) = flags.kubeconfig.as_deref().filter(|p| !p.is_empty()) {
        if !Path::new(path).exists() {
            return Err(ConfigError::MissingKubeconfig(path.to_owned()));
        }
        return read(Path::new(path)).map(Some);
    }
    if let Some(list) = env.kubeconfig.as_ref() {
        let paths: Vec<PathBuf> = std::env::split_paths(list)
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
        if !paths.is_empty() {
            let mut merged: Option<Kubeconfig> = None;
            for path in paths.iter().filter(|p| p.exists()) {
                let next = read(path)?;
                merged = Some(match merged {
                    Some(m) => m
                        .merge(next)
                        .map_err(|e| ConfigError::Kube(e.to_string()))?,
                    None => next,
                });
            }
            return Ok(merged);
        }
    }
    if let Some(home) = env.home.as_ref() {
        let path = home.join(".kube").join("config");
        if path.exists() {
            return read(&path).map(Some);
        }
    }
    Ok(None)
}

fn is_empty(kc: &Kubeconfig) -> bool {
    kc.clusters.is_empty() && kc.contexts.is_empty() && kc.auth_infos.is_empty()
}

/// Applies the override flags to `kc` and returns the name of the context to use.
pub fn apply_overrides(
    kc: &mut Kubeconfig,
    flags: &GlobalFlags,
    default_server: &str,
) -> Result<String, ConfigError> {
    let context_name = match flags.context.as_deref().filter(|c| !c.is_empty()) {
        Some(name) => {
            if !kc.contexts.iter().any(|c| c.name == name) {
                return Err(ConfigError::ContextNotFound(name.to_owned()));
            }
            name.to_owned()
        }
        None => kc
            .current_context
            .clone()
            .filter(|c| kc.contexts.iter().any(|n| &n.name == c))
            .unwrap_or_else(|| SYNTHETIC.to_owned()),
    };
    if !kc.contexts.iter().any(|c| c.name == context_name) {
        kc.contexts.push(NamedContext {
            name: context_name.clone(),
            context: Some(Context::default()),
            ..Default::default()
        });
    }
    let named = kc
        .contexts
        .iter_mut()
        .find(|c| c.name == context_name)
        .expect("context present");
    let context = named.context.get_or_insert_with(Context::default);
    if let Some(cluster) = flags.cluster.as_deref().filter(|c| !c.is_empty()) {
        context.cluster = cluster.to_owned();
    }
    if let Some(user) = flags.user.as_deref().filter(|u| !u.is_empty()) {
        context.user = Some(user.to_owned());
    }
    if context.cluster.is_empty() {
        context.cluster = SYNTHETIC.to_owned();
    }
    let cluster_name = context.cluster.clone();
    let user_name = context.user.clone().unwrap_or_else(|| SYNTHETIC.to_owned());
    context.user = Some(user_name.clone());

    if !kc.clusters.iter().any(|c| c.name == cluster_name) {
        if flags.cluster.is_some() && flags.server.is_none() {
            return Err(ConfigError::NoServer(cluster_name));
        }
        kc.clusters.push(NamedCluster {
            name: cluster_name.clone(),
            cluster: Some(Cluster {
                server: Some(default_server.to_owned()),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    let cluster = kc
        .clusters
        .iter_mut()
        .find(|c| c.name == cluster_name)
        .expect("cluster present")
        .cluster
        .get_or_insert_with(Cluster::default);
    if let Some(server) = flags.server.as_deref().filter(|s| !s.is_empty()) {
        cluster.server = Some(normalize_server(server));
    }
    if let Some(ca) = flags
        .certificate_authority
        .as_deref()
        .filter(|s| !s.is_empty())
    {
        cluster.certificate_authority = Some(ca.to_owned());
        cluster.certificate_authority_data = None;
    }
    if flags.insecure_skip_tls_verify {
        cluster.insecure_skip_tls_verify = Some(true);
        cluster.certificate_authority = None;
        cluster.certificate_authority_data = None;
    }
    if let Some(name) = flags.tls_server_name.as_deref().filter(|s| !s.is_empty()) {
        cluster.tls_server_name = Some(name.to_owned());
    }
    if let Some(proxy) = flags.proxy_url.as_deref().filter(|s| !s.is_empty()) {
        cluster.proxy_url = Some(proxy.to_owned());
    }
    if flags.disable_compression {
        cluster.disable_compression = Some(true);
    }
    if cluster.server.as_deref().is_none_or(str::is_empty) {
        return Err(ConfigError::NoServer(cluster_name));
    }

    if !kc.auth_infos.iter().any(|a| a.name == user_name) {
        kc.auth_infos.push(NamedAuthInfo {
            name: user_name.clone(),
            auth_info: Some(AuthInfo::default()),
            ..Default::default()
        });
    }
    let auth = kc
        .auth_infos
        .iter_mut()
        .find(|a| a.name == user_name)
        .expect("user present")
        .auth_info
        .get_or_insert_with(AuthInfo::default);
    if let Some(token) = flags.token.as_deref().filter(|s| !s.is_empty()) {
        auth.token = Some(token.to_owned().into());
        auth.token_file = None;
    }
    if let Some(cert) = flags
        .client_certificate
        .as_deref()
        .filter(|s| !s.is_empty())
    {
        auth.client_certificate = Some(cert.to_owned());
        auth.client_certificate_data = None;
    }
    if let Some(key) = flags.client_key.as_deref().filter(|s| !s.is_empty()) {
        auth.client_key = Some(key.to_owned());
        auth.client_key_data = None;
    }
    if let Some(username) = flags.username.as_deref().filter(|s| !s.is_empty()) {
        auth.username = Some(username.to_owned());
    }
    if let Some(password) = flags.password.as_deref().filter(|s| !s.is_empty()) {
        auth.password = Some(password.to_owned().into());
    }
    if let Some(who) = flags.impersonate.as_deref().filter(|s| !s.is_empty()) {
        auth.impersonate = Some(who.to_owned());
    }
    if let Some(uid) = flags.impersonate_uid.as_deref().filter(|s| !s.is_empty()) {
        auth.impersonate_uid = Some(uid.to_owned());
    }
    if !flags.impersonate_groups.is_empty() {
        auth.impersonate_groups = Some(flags.impersonate_groups.clone());
    }
    Ok(context_name)
}

/// client-go accepts a bare `host:port` server and means HTTPS.
fn normalize_server(server: &str) -> String {
    if server.contains("://") {
        server.to_owned()
    } else {
        format!("https://{server}")
    }
}

/// Parses `--request-timeout`: a Go duration, or a bare number of seconds; zero means none.
pub fn request_timeout(value: &str) -> Result<Option<Duration>, ConfigError> {
    let invalid = || {
        ConfigError::Invalid(format!(
            "invalid timeout value. Timeout must be a single integer in seconds, or an integer followed by a corresponding time unit (e.g. 1s | 2m | 3h): {value}"
        ))
    };
    let d = match value.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => crate::flags::duration(value).map_err(|_| invalid())?,
    };
    Ok((!d.is_zero()).then_some(d))
}

/// Builds the client configuration from the flags and the environment.
pub async fn load(flags: &GlobalFlags, env: &Environment) -> Result<ClientConfig, ConfigError> {
    let request_timeout = request_timeout(&flags.request_timeout)?;
    let kubeconfig = load_kubeconfig(flags, env)?.filter(|kc| !is_empty(kc));
    let has_server_flag = flags.server.as_deref().is_some_and(|s| !s.is_empty());
    let mut config = match kubeconfig {
        None if env.in_cluster && !has_server_flag => {
            let mut config =
                kube::Config::incluster().map_err(|e| ConfigError::Kube(e.to_string()))?;
            if let Some(token) = flags.token.as_deref().filter(|s| !s.is_empty()) {
                config.auth_info.token = Some(token.to_owned().into());
                config.auth_info.token_file = None;
            }
            if flags.insecure_skip_tls_verify {
                config.accept_invalid_certs = true;
            }
            config
        }
        kubeconfig => {
            let mut kc = kubeconfig.unwrap_or_default();
            let default_server = env.master.as_deref().unwrap_or(DEFAULT_SERVER);
            let context = apply_overrides(&mut kc, flags, default_server)?;
            let options = KubeConfigOptions {
                context: Some(context),
                cluster: None,
                user: None,
            };
            kube::Config::from_custom_kubeconfig(kc, &options)
                .await
                .map_err(|e| ConfigError::Kube(e.to_string()))?
        }
    };
    // Streams (console, VNC, port forwarding) may stay idle for long; the API server pings them.
    config.read_timeout = None;
    let overridden = flags.namespace.as_deref().is_some_and(|n| !n.is_empty());
    let namespace = if overridden {
        flags.namespace.clone().unwrap_or_default()
    } else {
        config.default_namespace.clone()
    };
    Ok(ClientConfig {
        config,
        namespace,
        namespace_overridden: overridden,
        request_timeout,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const KC: &str = "apiVersion: v1
kind: Config
clusters:
- name: one
  cluster:
    server: https://one.example:6443
    certificate-authority-data: Zm9v
- name: two
  cluster:
    server: https://two.example:6443
users:
- name: alice
  user:
    token: alice-token
contexts:
- name: first
  context:
    cluster: one
    user: alice
    namespace: team-a
- name: second
  context:
    cluster: two
    user: alice
current-context: first
";

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::File::create(&path)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        path
    }

    fn env_with(list: Option<&str>, home: Option<&Path>) -> Environment {
        Environment {
            kubeconfig: list.map(OsString::from),
            home: home.map(Path::to_path_buf),
            in_cluster: false,
            master: None,
        }
    }

    #[test]
    fn explicit_kubeconfig_must_exist() {
        let flags = GlobalFlags {
            kubeconfig: Some("/nonexistent/kc".into()),
            ..Default::default()
        };
        let err = load_kubeconfig(&flags, &Environment::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "stat /nonexistent/kc: no such file or directory"
        );
    }

    #[test]
    fn kubeconfig_list_merges_first_wins_and_skips_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(dir.path(), "a", KC);
        let b = write(
            dir.path(),
            "b",
            "apiVersion: v1\nkind: Config\nclusters:\n- name: one\n  cluster:\n    server: https://shadowed:1\n- name: three\n  cluster:\n    server: https://three:1\ncurrent-context: second\n",
        );
        let list = format!(
            "{}:{}/missing:{}",
            a.display(),
            dir.path().display(),
            b.display()
        );
        let kc = load_kubeconfig(&GlobalFlags::default(), &env_with(Some(&list), None))
            .unwrap()
            .unwrap();
        assert_eq!(kc.current_context.as_deref(), Some("first"));
        let one = kc.clusters.iter().find(|c| c.name == "one").unwrap();
        assert_eq!(
            one.cluster.as_ref().unwrap().server.as_deref(),
            Some("https://one.example:6443")
        );
        assert!(kc.clusters.iter().any(|c| c.name == "three"));
    }

    #[test]
    fn home_config_is_the_fallback() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".kube")).unwrap();
        write(&dir.path().join(".kube"), "config", KC);
        let kc = load_kubeconfig(&GlobalFlags::default(), &env_with(None, Some(dir.path())))
            .unwrap()
            .unwrap();
        assert_eq!(kc.contexts.len(), 2);
        let none = load_kubeconfig(&GlobalFlags::default(), &env_with(None, None)).unwrap();
        assert!(none.is_none());
    }

    #[test]
    fn overrides_replace_server_context_and_credentials() {
        let mut kc = Kubeconfig::from_yaml(KC).unwrap();
        let flags = GlobalFlags {
            context: Some("second".into()),
            server: Some("127.0.0.1:9443".into()),
            token: Some("t0k".into()),
            insecure_skip_tls_verify: true,
            ..Default::default()
        };
        let ctx = apply_overrides(&mut kc, &flags, DEFAULT_SERVER).unwrap();
        assert_eq!(ctx, "second");
        let two = kc.clusters.iter().find(|c| c.name == "two").unwrap();
        let cluster = two.cluster.as_ref().unwrap();
        assert_eq!(cluster.server.as_deref(), Some("https://127.0.0.1:9443"));
        assert_eq!(cluster.insecure_skip_tls_verify, Some(true));
        let alice = kc.auth_infos.iter().find(|a| a.name == "alice").unwrap();
        let user = serde_json::to_value(alice.auth_info.as_ref().unwrap()).unwrap();
        assert_eq!(user["token"], "t0k");
    }

    #[test]
    fn unknown_context_is_reported_like_client_go() {
        let mut kc = Kubeconfig::from_yaml(KC).unwrap();
        let flags = GlobalFlags {
            context: Some("nope".into()),
            ..Default::default()
        };
        let err = apply_overrides(&mut kc, &flags, DEFAULT_SERVER).unwrap_err();
        assert_eq!(
            err.to_string(),
            "context was not found for specified context: nope"
        );
    }

    #[test]
    fn request_timeouts_take_units_or_seconds() {
        assert_eq!(request_timeout("0").unwrap(), None);
        assert_eq!(request_timeout("5").unwrap(), Some(Duration::from_secs(5)));
        assert_eq!(
            request_timeout("2m").unwrap(),
            Some(Duration::from_secs(120))
        );
        assert!(request_timeout("soon").is_err());
    }

    #[tokio::test]
    async fn namespace_comes_from_flag_then_context_then_default() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "kc", KC);
        let base = GlobalFlags {
            kubeconfig: Some(path.display().to_string()),
            request_timeout: "0".into(),
            ..Default::default()
        };
        let env = Environment::default();
        let from_context = load(&base, &env).await.unwrap();
        assert_eq!(from_context.namespace, "team-a");
        assert!(!from_context.namespace_overridden);

        let second = GlobalFlags {
            context: Some("second".into()),
            ..base.clone()
        };
        assert_eq!(load(&second, &env).await.unwrap().namespace, "default");

        let flagged = GlobalFlags {
            namespace: Some("ns1".into()),
            ..base
        };
        let c = load(&flagged, &env).await.unwrap();
        assert_eq!(c.namespace, "ns1");
        assert!(c.namespace_overridden);
    }

    #[tokio::test]
    async fn no_configuration_at_all_means_localhost_8080() {
        let flags = GlobalFlags {
            request_timeout: "0".into(),
            ..Default::default()
        };
        let c = load(&flags, &Environment::default()).await.unwrap();
        assert_eq!(c.config.cluster_url.to_string(), "http://localhost:8080/");
        assert_eq!(c.namespace, "default");
    }
}
