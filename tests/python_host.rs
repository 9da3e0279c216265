//! The Python host's test suite (`host/python/tests`), run as part of
//! `cargo test`: pytest with this build's `wardlock` binary and policy
//! components, so that the Python host is always tested against the Rust
//! host it must interoperate with.
//!
//! Needs `python3` with `wasmtime`, `pytest`, `filelock`, `setuptools` and
//! `wheel` installed (the README's test command installs them).

use std::path::Path;
use std::process::Command;

#[test]
fn python_host_test_suite_passes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ sits inside the workspace");

    let output = Command::new("python3")
        .current_dir(root)
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "host/python/tests",
        ])
        .env("PYTHONPATH", root.join("host/python"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("WARDLOCK_BIN", env!("CARGO_BIN_EXE_wardlock"))
        .env("WARDLOCK_POLICY", env!("WARDLOCK_DEFAULT_POLICY"))
        .env("WARDLOCK_STRICT_POLICY", env!("WARDLOCK_STRICT_POLICY"))
        .env_remove("WARDLOCK_DIR")
        .env_remove("RUST_LOG")
        .output()
        .unwrap_or_else(|e| panic!("failed to run `python3 -m pytest`: {e}"));

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    // Exit 5 (no tests collected) is a failure too.
    assert!(
        output.status.success(),
        "pytest failed ({}); install its needs with \
         `python3 -m pip install wasmtime pytest filelock`",
        output.status
    );
}

/// Copy the Python package's sources (not its tests or caches) to `to`.
fn copy_package(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("package dir");
    for entry in std::fs::read_dir(from).expect("read package") {
        let entry = entry.expect("entry");
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name == "tests" || name.starts_with('.') || name == "__pycache__" {
            continue;
        }
        let target = to.join(&*name);
        if entry.file_type().expect("type").is_dir() {
            copy_package(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

fn run_ok(cmd: &mut Command) -> std::process::Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("failed to run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

const HOLD: &str = r#"
import sys, wardlock
locks = wardlock.LockDir(sys.argv[1])
with locks.acquire("wp:feat/WP01", timeout=0):
    print("held", flush=True)
    sys.stdin.read()
"#;

const TRY: &str = r#"
import sys, wardlock
locks = wardlock.LockDir(sys.argv[1])
try:
    locks.acquire("wp:feat/WP01", timeout=0).release()
    print("acquired")
except wardlock.Busy as busy:
    print("busy", busy.holder.pid)
"#;

#[test]
fn the_pip_installed_package_with_the_built_in_policy_locks_against_the_cli() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace");
    let temp = tempfile::tempdir().expect("temp dir");
    let (src, venv, locks) = (
        temp.path().join("src"),
        temp.path().join("venv"),
        temp.path().join("locks"),
    );
    std::fs::create_dir(&locks).expect("lock dir");

    // Install as a user would: the package plus the very policy bytes the
    // binary embeds, into a fresh environment, offline.
    copy_package(&root.join("host/python"), &src);
    run_ok(
        Command::new(env!("CARGO_BIN_EXE_wardlock"))
            .args(["policy", "export"])
            .arg(src.join("wardlock/default-policy.wasm")),
    );
    run_ok(
        Command::new("python3")
            .args(["-m", "venv", "--system-site-packages"])
            .arg(&venv),
    );
    let python = venv.join("bin/python");
    run_ok(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-build-isolation",
                "--no-deps",
                "--no-index",
            ])
            .arg(&src),
    );
    let py = |script: &str| {
        let mut cmd = Command::new(&python);
        cmd.current_dir(temp.path())
            .env_remove("PYTHONPATH")
            .env_remove("WARDLOCK_POLICY")
            .arg("-c")
            .arg(script)
            .arg(&locks);
        cmd
    };

    // A `wardlock run` holder keeps the Python program out, named.
    let marker = temp.path().join("held");
    let mut holder = Command::new(env!("CARGO_BIN_EXE_wardlock"))
        .arg("--dir")
        .arg(&locks)
        .args(["run", "wp:feat/WP01", "--", "sh", "-c"])
        .arg(format!("touch '{}'; sleep 30", marker.display()))
        .spawn()
        .expect("wardlock run");
    while !marker.exists() {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let seen = run_ok(&mut py(TRY));
    assert_eq!(
        String::from_utf8_lossy(&seen.stdout).trim(),
        format!("busy {}", holder.id())
    );
    let _ = holder.kill();
    let _ = holder.wait();

    // A Python holder keeps `wardlock run` out.
    let mut python_holder = py(HOLD)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python holder");
    let mut line = String::new();
    BufReader::new(python_holder.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read");
    assert_eq!(line.trim(), "held");
    let out = Command::new(env!("CARGO_BIN_EXE_wardlock"))
        .arg("--dir")
        .arg(&locks)
        .args(["run", "--timeout", "0", "wp:feat/WP01", "--", "true"])
        .output()
        .expect("wardlock run");
    assert_eq!(
        out.status.code(),
        Some(75),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("pid {}", python_holder.id())),
        "{err}"
    );
    drop(python_holder.stdin.take());
    let _ = python_holder.wait();
}
