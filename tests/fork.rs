//! A forked child that inherits a guard never releases its parent's lock.
//!
//! A program of its own (`harness = false`): `fork` is only safe in a
//! process with one thread, and the test harness runs tests on many.

use std::process::Command;
use std::time::Duration;

use wardlock::{LockDir, Mode, Policy, Timeout};

fn try_once(dir: &std::path::Path) -> i32 {
    let out = Command::new(env!("CARGO_BIN_EXE_wardlock"))
        .arg("--dir")
        .arg(dir)
        .args(["run", "--timeout", "0", "config:x", "--", "true"])
        .output()
        .expect("run wardlock");
    out.status.code().expect("exit code")
}

fn main() {
    let temp = tempfile::tempdir().expect("temp dir");
    let locks = LockDir::open(temp.path(), Policy::embedded().expect("policy")).expect("dir");
    let guard = locks.acquire("config:x", Mode::Exclusive, &Timeout::After(Duration::ZERO));
    let guard = guard.expect("a free lock");
    let record = temp.path().join(".lock-config-x.owner");

    // SAFETY: this program has a single thread, so the child starts in a
    // consistent state; it only drops the guard and exits.
    let child = unsafe { libc::fork() };
    if child == 0 {
        drop(guard);
        // SAFETY: leave at once, without running the parent's clean-up.
        unsafe { libc::_exit(0) };
    }
    assert!(child > 0, "fork failed");
    let mut status = 0;
    // SAFETY: waiting for the child we just forked.
    unsafe { libc::waitpid(child, &mut status, 0) };

    let mut failures = Vec::new();
    if try_once(temp.path()) != 75 {
        failures.push("the child's drop released the parent's lock");
    }
    if !record.exists() {
        failures.push("the child's drop removed the parent's owner record");
    }
    drop(guard);
    if try_once(temp.path()) != 0 {
        failures.push("the parent's own drop did not release the lock");
    }

    for failure in &failures {
        eprintln!("fork: {failure}");
    }
    println!(
        "fork: {} passed, {} failed",
        usize::from(failures.is_empty()),
        failures.len()
    );
    std::process::exit(i32::from(!failures.is_empty()));
}
