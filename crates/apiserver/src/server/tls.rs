//! Serving certificates: a self-signed CA and a server certificate, generated on first start and
//! kept in the data directory so clients' kubeconfigs stay valid across restarts.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read or write {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("cannot generate certificates: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("invalid certificate material in {0}")]
    Invalid(PathBuf),
    #[error("TLS configuration failed: {0}")]
    Config(#[from] rustls::Error),
}

/// PEM-encoded CA certificate, server certificate and server key.
#[derive(Clone, Debug)]
pub struct TlsMaterial {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

fn read(path: &Path) -> Result<String, TlsError> {
    fs::read_to_string(path).map_err(|source| TlsError::Io {
        path: path.into(),
        source,
    })
}

fn write(path: &Path, data: &str) -> Result<(), TlsError> {
    fs::write(path, data).map_err(|source| TlsError::Io {
        path: path.into(),
        source,
    })
}

impl TlsMaterial {
    /// Loads `ca.crt`, `server.crt` and `server.key` from `dir`, generating them first if absent.
    /// `hosts` are the DNS names and IP addresses the server certificate is valid for.
    pub fn load_or_create(dir: &Path, hosts: &[String]) -> Result<TlsMaterial, TlsError> {
        let (ca, cert, key) = (
            dir.join("ca.crt"),
            dir.join("server.crt"),
            dir.join("server.key"),
        );
        if ca.exists() && cert.exists() && key.exists() {
            return Ok(TlsMaterial {
                ca_pem: read(&ca)?,
                cert_pem: read(&cert)?,
                key_pem: read(&key)?,
            });
        }
        fs::create_dir_all(dir).map_err(|source| TlsError::Io {
            path: dir.into(),
            source,
        })?;
        let m = TlsMaterial::generate(hosts)?;
        write(&ca, &m.ca_pem)?;
        write(&cert, &m.cert_pem)?;
        write(&key, &m.key_pem)?;
        restrict(&key)?;
        Ok(m)
    }

    /// Fresh material for `hosts` (always including localhost and the loopback addresses).
    pub fn generate(hosts: &[String]) -> Result<TlsMaterial, TlsError> {
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "kubevirtd-ca");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_key = KeyPair::generate()?;
        let ca = CertifiedIssuer::self_signed(ca_params, ca_key)?;

        let mut names: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
        for h in hosts {
            if !names.contains(h) && !h.is_empty() && h != "0.0.0.0" && h != "::" {
                names.push(h.clone());
            }
        }
        let mut params = CertificateParams::new(names)?;
        params
            .distinguished_name
            .push(DnType::CommonName, "kubevirtd");
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &ca)?;
        Ok(TlsMaterial {
            ca_pem: ca.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// A rustls server configuration offering HTTP/2 and HTTP/1.1.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let certs = rustls_pemfile::certs(&mut self.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| TlsError::Invalid("server.crt".into()))?;
        let key = rustls_pemfile::private_key(&mut self.key_pem.as_bytes())
            .ok()
            .flatten()
            .ok_or_else(|| TlsError::Invalid("server.key".into()))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(certs, key)?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

#[cfg(unix)]
fn restrict(path: &Path) -> Result<(), TlsError> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(|source| TlsError::Io {
        path: path.into(),
        source,
    })
}

#[cfg(not(unix))]
fn restrict(_: &Path) -> Result<(), TlsError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn material_is_generated_once_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let a = TlsMaterial::load_or_create(dir.path(), &["example.test".into()]).unwrap();
        let b = TlsMaterial::load_or_create(dir.path(), &[]).unwrap();
        assert_eq!(a.ca_pem, b.ca_pem);
        assert_eq!(a.cert_pem, b.cert_pem);
        assert!(a.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        a.server_config().unwrap();
    }
}
