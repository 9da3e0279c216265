//! What wardlock must never do, whatever sits in the lock directory: follow
//! a planted link, write outside the directory, hang on a FIFO, let a
//! command's daemon keep the lock, or be blocked by a bad owner record.

mod common;

use std::os::unix::fs::{PermissionsExt, symlink};
use std::process::Stdio;

use common::*;

/// A file outside the lock directory that a planted link points at.
fn victim(p: &Project) -> std::path::PathBuf {
    let path = p.file("victim");
    std::fs::write(&path, "precious").unwrap();
    path
}

fn assert_untouched(victim: &std::path::Path) {
    assert_eq!(
        std::fs::read_to_string(victim).unwrap(),
        "precious",
        "the victim was written"
    );
}

#[test]
fn a_link_planted_at_a_lock_file_is_refused_and_never_followed() {
    let p = Project::new();
    let victim = victim(&p);
    symlink(&victim, p.dir().join(".lock-config-x")).unwrap();

    let out = p.output(&["run", "--timeout", "5", "config:x", "--", "true"]);

    assert_eq!(code(&out), 71, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("symbolic link"), "{err}");
    assert!(!err.contains("waiting"), "{err}");
    assert_untouched(&victim);
}

#[test]
fn links_planted_at_owner_record_paths_are_never_written_through() {
    let p = Project::new();
    let victim = victim(&p);
    symlink(&victim, p.dir().join(".lock-config-x.owner")).unwrap();
    symlink(&victim, p.dir().join(".lock-config-x.owner.tmp")).unwrap();

    let out = p.output(&["run", "config:x", "--", "true"]);

    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not a regular file"),
        "reported: {}",
        stderr(&out)
    );
    assert_untouched(&victim);
}

#[test]
fn a_directory_fifo_or_socket_at_a_lock_path_is_an_error_not_a_hang() {
    let p = Project::new();
    std::fs::create_dir(p.dir().join(".lock-config-dir")).unwrap();
    let fifo = p.dir().join(".lock-config-fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let _socket =
        std::os::unix::net::UnixListener::bind(p.dir().join(".lock-config-sock")).unwrap();

    for (resource, what) in [
        ("config:dir", "a directory"),
        ("config:fifo", "a FIFO"),
        ("config:sock", "a socket"),
    ] {
        let out = p.output(&["run", "--timeout", "5", resource, "--", "true"]);
        assert_eq!(code(&out), 71, "{resource}: {}", stderr(&out));
        assert!(stderr(&out).contains(what), "{resource}: {}", stderr(&out));
    }
}

#[test]
fn lock_files_get_a_defined_mode_whatever_the_umask() {
    let p = Project::new();

    // The umask of the wardlock process: set in a shell that execs it.
    let line = format!(
        "umask 077; exec '{}' --dir '{}' run wp:feat/WP01 -- true",
        env!("CARGO_BIN_EXE_wardlock"),
        p.dir().display()
    );
    let mut cmd = std::process::Command::new("sh");
    cmd.args(["-c", &line]);
    let out = output_of(cmd);

    assert_eq!(code(&out), 0, "{}", stderr(&out));
    for name in [".lock-WP-feat-WP01", ".lock-feature-feat"] {
        let mode = std::fs::metadata(p.dir().join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o664, "{name}");
    }
}

#[test]
fn a_daemon_left_behind_by_the_command_does_not_hold_the_lock() {
    let p = Project::new();
    let pidfile = p.file("daemon-pid");
    let script = format!(
        "sleep 30 >/dev/null 2>&1 & echo $! > '{}'",
        pidfile.display()
    );

    let out = p.output(&["run", "config:x", "--", "sh", "-c", &script]);

    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let daemon: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        std::path::Path::new(&format!("/proc/{daemon}")).exists(),
        "the daemon still runs"
    );
    let next = p.output(&["run", "--timeout", "0", "config:x", "--", "true"]);
    assert_eq!(
        code(&next),
        0,
        "the daemon must not hold the lock: {}",
        stderr(&next)
    );
    let _ = std::process::Command::new("kill")
        .arg(daemon.to_string())
        .status();
}

#[test]
fn unreadable_owner_records_are_reported_and_replaced() {
    let p = Project::new();
    let record = p.dir().join(".lock-config-x.owner");
    let cases: [(&str, Vec<u8>); 5] = [
        ("blank", b"  \n".to_vec()),
        ("truncated", br#"{"pid": 12, "start_tok"#.to_vec()),
        ("garbage", b"\x00\x01 not json at all".to_vec()),
        ("non-UTF-8", vec![0xff, 0xfe, 0xfd]),
        ("huge", vec![b' '; 200 * 1024]),
    ];

    for (what, bytes) in cases {
        std::fs::write(&record, &bytes).unwrap();

        let out = p.output(&["run", "--timeout", "0", "config:x", "--", "true"]);

        assert_eq!(code(&out), 0, "{what}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("owner record"),
            "{what} is reported: {}",
            stderr(&out)
        );
        let left = std::fs::read(&record).unwrap();
        assert!(left.is_empty(), "{what}: replaced, then cleared on release");
    }
}

#[test]
fn an_empty_owner_record_file_is_no_record() {
    let p = Project::new();
    std::fs::write(p.dir().join(".lock-config-x.owner"), "").unwrap();

    let out = p.output(&["run", "--timeout", "0", "config:x", "--", "true"]);

    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "a cleared record is not a leftover");
}

/// An owner record as the default policy writes it, for `pid` with
/// `start_token` on `host`.
fn record_json(pid: u32, start_token: &str, host: &str) -> String {
    serde_json::json!({
        "pid": pid,
        "start_token": start_token,
        "started_at_ms": 1_700_000_000_000u64,
        "host": host,
        "command": "someone else",
        "resource": "config:x",
        "mode": "exclusive",
        "acquired_at": "2026-01-01T00:00:00.000Z",
        "acquired_at_ms": 1_767_225_600_000u64,
        "policy": {"name": "default", "version": "0.1.0"},
    })
    .to_string()
}

/// This machine's start-token prefix, as the host writes it.
fn token_prefix() -> String {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    let ns: String = std::fs::read_link("/proc/self/ns/pid")
        .unwrap()
        .to_string_lossy()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    format!("linux:{}:{ns}", boot.trim())
}

fn status_of(p: &Project, lock_file: &str) -> serde_json::Value {
    let out = p.output(&["status", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let all: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    all["locks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["lock_file"] == lock_file)
        .cloned()
        .unwrap()
}

fn host_name() -> String {
    let out = std::process::Command::new("hostname")
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn a_live_pid_with_another_start_time_is_judged_reused() {
    let p = Project::new();
    let mut live = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    std::fs::write(p.dir().join(".lock-config-x"), "").unwrap();
    let record = record_json(live.id(), &format!("{}:1", token_prefix()), &host_name());
    std::fs::write(p.dir().join(".lock-config-x.owner"), record).unwrap();

    let status = status_of(&p, ".lock-config-x");

    assert_eq!(status["holder"]["liveness"], "pid reused", "{status}");
    assert_eq!(status["stale_record"], true);
    let _ = live.kill();
    let _ = live.wait();
}

#[test]
fn an_owner_on_another_host_is_unknown_never_gone() {
    let p = Project::new();
    std::fs::write(p.dir().join(".lock-config-x"), "").unwrap();
    let record = record_json(999_999, &format!("{}:1", token_prefix()), "another-machine");
    std::fs::write(p.dir().join(".lock-config-x.owner"), record).unwrap();

    let status = status_of(&p, ".lock-config-x");

    assert_eq!(status["holder"]["liveness"], "unknown", "{status}");
}

#[test]
fn an_owner_in_another_pid_namespace_is_unknown_never_gone() {
    let p = Project::new();
    std::fs::write(p.dir().join(".lock-config-x"), "").unwrap();
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    let record = record_json(999_999, &format!("linux:{}:1:1", boot.trim()), &host_name());
    std::fs::write(p.dir().join(".lock-config-x.owner"), record).unwrap();

    let status = status_of(&p, ".lock-config-x");

    assert_eq!(status["holder"]["liveness"], "unknown", "{status}");
}

#[test]
fn a_lock_file_removed_while_the_command_runs_is_reported() {
    let p = Project::new();
    let lock = p.dir().join(".lock-config-x");

    let out = p.output(&["run", "config:x", "--", "rm", lock.to_str().unwrap()]);

    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("was removed or replaced"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn status_shows_a_held_lock_whose_file_was_removed() {
    let p = Project::new();
    let marker = p.file("held");
    let mut holder = p.spawn_run(
        "config:x",
        &[],
        &format!("touch '{}'; sleep 30", marker.display()),
    );
    wait_for_file(&marker);

    std::fs::remove_file(p.dir().join(".lock-config-x")).unwrap();
    let out = p.output(&["status", "--json"]);

    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let removed = status["removed_but_held"]
        .as_array()
        .expect("removed_but_held");
    assert_eq!(removed.len(), 1, "{status}");
    assert_eq!(removed[0]["lock_file"], ".lock-config-x");
    assert_eq!(removed[0]["pid"], holder.id());
    assert_eq!(removed[0]["state"], "exclusive");
    let table = stdout(&p.output(&["status"]));
    assert!(table.contains("file removed"), "{table}");
    let _ = holder.kill();
    let _ = holder.wait();
}
