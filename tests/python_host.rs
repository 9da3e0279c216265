//! The Python host's test suite (`host/python/tests`), run as part of
//! `cargo test`: pytest with this build's `wardlock` binary and policy
//! components, so that the Python host is always tested against the Rust
//! host it must interoperate with.
//!
//! Needs `python3` with `wasmtime`, `pytest` and `filelock` installed
//! (`python3 -m pip install wasmtime pytest filelock`).

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
