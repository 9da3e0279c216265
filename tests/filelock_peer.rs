//! wardlock and Python's `filelock` package (what the original design
//! used) on the same lock file exclude each other, both ways.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::*;

const PEER: &str = r#"
import os, sys, filelock
path, action = sys.argv[1], sys.argv[2]
lock = filelock.FileLock(path)
if action == "hold":
    with lock:
        open(sys.argv[3], "w").write(str(os.getpid()))
        sys.stdin.read()  # hold until the test closes our stdin
else:
    try:
        lock.acquire(timeout=0)
        print("acquired")
        lock.release()
    except filelock.Timeout:
        print("busy")
"#;

fn python(args: &[&str]) -> Command {
    let mut cmd = Command::new("python3");
    cmd.arg("-c").arg(PEER).args(args);
    cmd
}

#[test]
fn a_filelock_holder_keeps_wardlock_out() {
    let p = Project::new();
    let lock_file = p.dir().join(".lock-WP-feat-WP01");
    let marker = p.file("python-holds");
    let mut peer = python(&[
        lock_file.to_str().unwrap(),
        "hold",
        marker.to_str().unwrap(),
    ])
    .stdin(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("python3 with the filelock package (pip install filelock)");
    wait_until("the Python peer holds the lock", || {
        std::fs::read_to_string(&marker).is_ok_and(|s| !s.is_empty())
    });

    let out = p.output(&["run", "--timeout", "0", "wp:feat/WP01", "--", "true"]);

    assert_eq!(code(&out), 75, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("pid {}", peer.id())),
        "names the Python holder: {err}"
    );

    drop(peer.stdin.take());
    let _ = peer.wait();
    let out = p.output(&["run", "--timeout", "0", "wp:feat/WP01", "--", "true"]);
    assert_eq!(
        code(&out),
        0,
        "free again once Python let go: {}",
        stderr(&out)
    );
}

#[test]
fn a_wardlock_holder_keeps_filelock_out() {
    let p = Project::new();
    let marker = p.file("held");
    let mut holder = p.spawn_run(
        "wp:feat/WP01",
        &[],
        &format!("touch '{}'; sleep 30", marker.display()),
    );
    wait_for_file(&marker);
    let lock_file = p.dir().join(".lock-WP-feat-WP01");

    let held = output_of(python(&[lock_file.to_str().unwrap(), "try"]));

    assert_eq!(
        String::from_utf8_lossy(&held.stdout).trim(),
        "busy",
        "{}",
        stderr(&held)
    );
    let _ = holder.kill();
    let _ = holder.wait();
    let free = output_of(python(&[lock_file.to_str().unwrap(), "try"]));
    assert_eq!(
        String::from_utf8_lossy(&free.stdout).trim(),
        "acquired",
        "{}",
        stderr(&free)
    );
    let _ = std::io::stderr().flush();
}
