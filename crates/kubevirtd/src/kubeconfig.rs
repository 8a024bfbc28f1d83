//! The kubeconfig `kubevirtd` writes for its clients.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// A kubeconfig with one cluster, one token user and one context named `kubevirtd`.
pub fn render(server: &str, ca_pem: &str, token: &str) -> String {
    let ca = STANDARD.encode(ca_pem.as_bytes());
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: kubevirtd
  cluster:
    server: {server}
    certificate-authority-data: {ca}
users:
- name: kubevirtd-admin
  user:
    token: {token}
contexts:
- name: kubevirtd
  context:
    cluster: kubevirtd
    user: kubevirtd-admin
    namespace: default
current-context: kubevirtd
preferences: {{}}
"
    )
}

/// The address clients should use for a listen address: wildcard addresses become loopback.
pub fn client_address(listen: &std::net::SocketAddr) -> String {
    let ip = match listen.ip() {
        std::net::IpAddr::V4(v4) if v4.is_unspecified() => "127.0.0.1".to_string(),
        std::net::IpAddr::V6(v6) if v6.is_unspecified() => "[::1]".to_string(),
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
        ip => ip.to_string(),
    };
    format!("https://{ip}:{}", listen.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubeconfig_names_server_token_and_encoded_ca() {
        let k = render("https://127.0.0.1:6443", "PEM", "tok");
        assert!(k.contains("server: https://127.0.0.1:6443"));
        assert!(k.contains("token: tok"));
        assert!(k.contains(&format!(
            "certificate-authority-data: {}",
            STANDARD.encode("PEM")
        )));
        assert!(k.contains("current-context: kubevirtd"));
    }

    #[test]
    fn wildcard_listen_addresses_map_to_loopback() {
        assert_eq!(
            client_address(&"0.0.0.0:6443".parse().unwrap()),
            "https://127.0.0.1:6443"
        );
        assert_eq!(
            client_address(&"[::]:1".parse().unwrap()),
            "https://[::1]:1"
        );
        assert_eq!(
            client_address(&"127.0.0.1:7".parse().unwrap()),
            "https://127.0.0.1:7"
        );
    }
}
