//! Unix sockets at paths of any length.
//!
//! A socket address holds at most 107 bytes of path, and run directories (nested by namespace,
//! VMI name and UID) can be longer. A long path is reached through `/proc/self/fd/<dir>/<name>`
//! with an open handle on its directory, which is always short.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use tokio::net::{UnixListener, UnixStream};

/// Paths up to this length are used as they are.
const MAX_DIRECT: usize = 100;

fn shorten(path: &Path) -> std::io::Result<(Option<File>, PathBuf)> {
    if path.as_os_str().len() <= MAX_DIRECT {
        return Ok((None, path.to_path_buf()));
    }
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Ok((None, path.to_path_buf()));
    };
    let dir = File::open(parent)?;
    let short = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd())).join(name);
    Ok((Some(dir), short))
}

/// Connects to the unix socket at `path`.
pub async fn connect(path: &Path) -> std::io::Result<UnixStream> {
    let (_dir, short) = shorten(path)?;
    UnixStream::connect(short).await
}

/// Listens on a unix socket at `path`, replacing a stale socket file.
pub fn bind(path: &Path) -> std::io::Result<UnixListener> {
    let (_dir, short) = shorten(path)?;
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    UnixListener::bind(short)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn sockets_work_at_paths_longer_than_a_socket_address() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a".repeat(60)).join("b".repeat(60));
        std::fs::create_dir_all(&deep).unwrap();
        let path = deep.join("control.sock");
        assert!(path.as_os_str().len() > 108);
        let listener = bind(&path).unwrap();
        assert!(path.exists());
        let (mut client, accepted) = tokio::join!(async { connect(&path).await.unwrap() }, async {
            listener.accept().await.unwrap().0
        });
        client.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        let mut accepted = accepted;
        accepted.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
        // Binding again replaces the stale socket file.
        drop(listener);
        bind(&path).unwrap();
    }
}
