//! Process helpers: liveness and signals by PID.

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// True when a process with this PID exists and is not a zombie.
///
/// A detached launcher is re-parented away from its spawner; when nobody reaps it after it
/// exits it stays a zombie, which still answers `kill(pid, 0)`. Reading `/proc/<pid>/stat`
/// tells the two apart.
pub fn is_alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The command name is in parentheses and may contain spaces; the state follows it.
    let state = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next());
    !matches!(state, None | Some("Z") | Some("X"))
}

/// Sends SIGKILL to `pid`. A process that is already gone is not an error.
pub fn kill_pid(pid: u32) -> std::io::Result<()> {
    signal_pid(pid, Signal::SIGKILL)
}

/// Sends `signal` to `pid`. A process that is already gone is not an error.
pub fn signal_pid(pid: u32, signal: Signal) -> std::io::Result<()> {
    let pid = i32::try_from(pid).map_err(|_| std::io::Error::other("PID out of range"))?;
    match kill(Pid::from_raw(pid), signal) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
        Err(e) => Err(std::io::Error::from(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_an_impossible_pid_is_not() {
        assert!(is_alive(std::process::id()));
        assert!(!is_alive(u32::MAX - 1));
    }

    #[test]
    fn a_reaped_child_is_not_alive() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!is_alive(pid));
    }
}
