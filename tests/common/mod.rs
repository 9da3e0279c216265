//! Shared helpers for the integration tests: a fresh lock directory per
//! test, the real `wardlock` binary, and waits that cannot hang.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long any single wait in a test may take before the test fails
/// instead of hanging.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// A temporary project: `root` holds the lock directory `root/locks`, so a
/// test can check that nothing was written beside it.
pub struct Project {
    pub temp: tempfile::TempDir,
}

impl Project {
    pub fn new() -> Project {
        let temp = tempfile::Builder::new()
            .prefix("wardlock-test-")
            .tempdir()
            .expect("temp dir");
        std::fs::create_dir(temp.path().join("locks")).expect("lock dir");
        Project { temp }
    }

    pub fn root(&self) -> &Path {
        self.temp.path()
    }

    pub fn dir(&self) -> PathBuf {
        self.root().join("locks")
    }

    /// `wardlock --dir <locks> ARGS...`
    pub fn wardlock(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_wardlock"));
        cmd.arg("--dir").arg(self.dir()).args(args);
        cmd.env_remove("WARDLOCK_DIR").env_remove("RUST_LOG");
        cmd
    }

    /// Run `wardlock ARGS...` to completion (bounded by `PATIENCE`).
    pub fn output(&self, args: &[&str]) -> Output {
        output_of(self.wardlock(args))
    }

    /// Start `wardlock run RESOURCE -- sh -c SCRIPT` in the background.
    pub fn spawn_run(&self, resource: &str, extra: &[&str], script: &str) -> Child {
        let mut args = vec!["run"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[resource, "--", "sh", "-c", script]);
        self.wardlock(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn wardlock")
    }

    /// A file in the project root (outside the lock directory).
    pub fn file(&self, name: &str) -> PathBuf {
        self.root().join(name)
    }

    /// The names in the project root, for checking nothing was created
    /// outside the lock directory.
    pub fn root_names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.root())
            .expect("read root")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// The names in the lock directory.
    pub fn lock_names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir())
            .expect("read lock dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

/// Run a command to completion, failing the test if it takes longer than
/// `PATIENCE`.
pub fn output_of(mut cmd: Command) -> Output {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    finish(child)
}

/// Wait for a child to end, failing the test (and killing it) if it takes
/// longer than `PATIENCE`.
pub fn finish(mut child: Child) -> Output {
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if start.elapsed() > PATIENCE {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "process hung for {PATIENCE:?}; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Wait until `cond` holds, failing the test after `PATIENCE`.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < PATIENCE, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Wait until the file at `path` exists.
pub fn wait_for_file(path: &Path) {
    wait_until(&format!("`{}` exists", path.display()), || path.exists());
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The exit code, failing the test if the process was killed.
pub fn code(out: &Output) -> i32 {
    out.status
        .code()
        .unwrap_or_else(|| panic!("killed: {:?}; stderr: {}", out.status, stderr(out)))
}

/// The path of the second policy component built with the host.
pub fn strict_policy() -> &'static str {
    env!("WARDLOCK_STRICT_POLICY")
}
