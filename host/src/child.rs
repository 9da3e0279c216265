//! Running a command while a lock is held, for `wardlock run` and any
//! embedder that does the same.
//!
//! The command does not inherit the lock (lock files are close-on-exec). On
//! Linux it is killed if wardlock dies first, so it never runs on after its
//! lock was released. Signals sent to this process by another process are
//! passed on to the command, and this process stays to release the lock
//! once the command ends.

use std::io;
use std::process::Command;

use crate::sys;

/// Spawn `command`, wait for it, and give its exit code: its own, or
/// 128 + N when signal N killed it.
pub fn run(mut command: Command) -> io::Result<u8> {
    sys::kill_child_with_parent(&mut command);
    sys::forward::install();
    let mut child = command.spawn()?;
    sys::forward::to(child.id());
    let status = child.wait()?;
    Ok(exit_code(status))
}

#[cfg(unix)]
fn exit_code(status: std::process::ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => (code & 0xff) as u8,
        (None, Some(signal)) => (128 + signal).clamp(0, 255) as u8,
        (None, None) => 1,
    }
}

#[cfg(not(unix))]
fn exit_code(status: std::process::ExitStatus) -> u8 {
    status.code().map_or(1, |c| (c & 0xff) as u8)
}
