//! Bearer-token authentication from a static token file (the format of kube-apiserver's
//! `--token-auth-file`: `token,user,uid,"group1,group2"` per line).

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use rand::Rng;

use crate::plugin::UserInfo;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("cannot read or write {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}:{line}: expected token,user,uid[,\"groups\"]")]
    Malformed { path: PathBuf, line: usize },
}

/// Known bearer tokens and the users they stand for.
#[derive(Clone, Debug, Default)]
pub struct Authenticator {
    tokens: HashMap<String, UserInfo>,
}

/// A new random token (256 bits, hex).
pub fn random_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    hex::encode(bytes)
}

impl Authenticator {
    pub fn new() -> Self {
        Authenticator::default()
    }

    pub fn add(&mut self, token: &str, user: UserInfo) {
        self.tokens.insert(token.to_string(), user);
    }

    /// The user for an `Authorization` header value, if it carries a known bearer token.
    pub fn authenticate(&self, authorization: Option<&str>) -> Option<UserInfo> {
        let token = authorization?.strip_prefix("Bearer ")?.trim();
        self.tokens.get(token).cloned()
    }

    /// Loads a token file; if it does not exist, creates it with one administrator token.
    /// Returns the authenticator and the administrator's token.
    pub fn load_or_create(path: &Path) -> Result<(Authenticator, String), AuthError> {
        let io_err = |source| AuthError::Io {
            path: path.into(),
            source,
        };
        if !path.exists() {
            let token = random_token();
            fs::write(
                path,
                format!("{token},admin,admin,\"system:masters,system:authenticated\"\n"),
            )
            .map_err(io_err)?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(io_err)?;
            }
        }
        let text = fs::read_to_string(path).map_err(io_err)?;
        let mut auth = Authenticator::new();
        let mut admin = None;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (head, groups) = match line.split_once(",\"") {
                Some((h, g)) => (
                    h,
                    g.trim_end_matches('"')
                        .split(',')
                        .map(|s| s.trim().to_string())
                        .collect(),
                ),
                None => (line, Vec::new()),
            };
            let fields: Vec<&str> = head.split(',').collect();
            if fields.len() < 3 || fields[0].is_empty() || fields[1].is_empty() {
                return Err(AuthError::Malformed {
                    path: path.into(),
                    line: i + 1,
                });
            }
            let user = UserInfo {
                username: fields[1].to_string(),
                groups,
            };
            if admin.is_none() && user.groups.iter().any(|g| g == "system:masters") {
                admin = Some(fields[0].to_string());
            }
            auth.add(fields[0], user);
        }
        let admin = admin.ok_or(AuthError::Malformed {
            path: path.into(),
            line: 0,
        })?;
        Ok((auth, admin))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_file_is_created_with_an_admin_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.csv");
        let (a, token) = Authenticator::load_or_create(&path).unwrap();
        let (b, again) = Authenticator::load_or_create(&path).unwrap();
        assert_eq!(token, again);
        let user = b.authenticate(Some(&format!("Bearer {token}"))).unwrap();
        assert_eq!(user.username, "admin");
        assert!(user.groups.contains(&"system:masters".to_string()));
        assert!(a.authenticate(Some("Bearer nope")).is_none());
        assert!(a.authenticate(None).is_none());
        assert!(
            a.authenticate(Some(&token)).is_none(),
            "the Bearer scheme is required"
        );
    }

    #[test]
    fn malformed_lines_are_reported_with_their_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.csv");
        fs::write(&path, "# comment\nonlyonefield\n").unwrap();
        assert!(matches!(
            Authenticator::load_or_create(&path),
            Err(AuthError::Malformed { line: 2, .. })
        ));
    }
}
