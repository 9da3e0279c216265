//! Builds the policy components in `guest/` for `wasm32-wasip2` and
//! precompiles the default one, so that the `wardlock` binary embeds it and
//! never runs the compiler at start-up. The hostile and broken policy
//! fixtures of `tests/fixtures/policies/` are built alongside, for the
//! tests to load through `WARDLOCK_FIXTURE_<NAME>`.
//!
//! The nested cargo gets a target directory of its own under `OUT_DIR`
//! (sharing the outer one would wait for ever on cargo's own lock) and an
//! environment cleared of the outer build's flags, which would otherwise
//! leak into the wasm link.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

include!("src/engine_config.rs");

/// The policy crates to build, and the file each is copied to in OUT_DIR.
const POLICIES: [(&str, &str); 2] = [
    ("wardlock_policy_default", "default-policy.wasm"),
    ("wardlock_policy_strict", "strict-policy.wasm"),
];

/// The fixture policy crates under `tests/fixtures/policies/`, by directory
/// name; each is built as `wardlock-fixture-<name>` and its path exported
/// as `WARDLOCK_FIXTURE_<NAME>` (upper case, `-` as `_`).
const FIXTURES: [&str; 13] = [
    "spin",
    "import-spin",
    "ignores-timeout",
    "memory-bomb",
    "panic",
    "recursion",
    "trap-holding",
    "never-releases",
    "phantom-lease",
    "raw-names",
    "wasi-fs",
    "wasi-sockets",
    "wrong-contract",
];

fn main() -> anyhow::Result<()> {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let root = manifest_dir
        .parent()
        .expect("host/ sits inside the workspace")
        .to_path_buf();
    let out = PathBuf::from(env::var("OUT_DIR")?);

    for watched in ["guest", "wit", "tests/fixtures", "Cargo.lock", "Cargo.toml"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    println!("cargo:rerun-if-changed=src/engine_config.rs");

    build_guests(&root, &out)?;

    let default_wasm = out.join(POLICIES[0].1);
    let bytes = std::fs::read(&default_wasm)?;
    let engine = wasmtime::Engine::new(&engine_config())?;
    let compiled = engine.precompile_component(&bytes)?;
    std::fs::write(out.join("default-policy.cwasm"), compiled)?;

    // Tests and benchmarks load the second policy from this file.
    println!(
        "cargo:rustc-env=WARDLOCK_STRICT_POLICY={}",
        out.join(POLICIES[1].1).display()
    );
    println!(
        "cargo:rustc-env=WARDLOCK_DEFAULT_POLICY={}",
        default_wasm.display()
    );
    for fixture in FIXTURES {
        println!(
            "cargo:rustc-env=WARDLOCK_FIXTURE_{}={}",
            fixture.to_uppercase().replace('-', "_"),
            out.join(fixture_file(fixture)).display()
        );
    }
    Ok(())
}

fn build_guests(root: &Path, out: &Path) -> anyhow::Result<()> {
    let target_dir = out.join("guest-target");
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .args([
            "-p",
            "wardlock-policy-default",
            "-p",
            "wardlock-policy-strict",
        ])
        .args(
            FIXTURES
                .iter()
                .flat_map(|name| ["-p".to_owned(), format!("wardlock-fixture-{name}")]),
        )
        .arg("--target-dir")
        .arg(&target_dir)
        .env("CARGO_PROFILE_RELEASE_STRIP", "true")
        // Smaller policies load faster: every command start maps the
        // compiled code, page by page.
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "s")
        .env("CARGO_PROFILE_RELEASE_LTO", "true")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1");
    for (key, _) in env::vars_os() {
        let key = key.to_string_lossy();
        let keep = [
            "CARGO_HOME",
            "CARGO_NET_",
            "CARGO_HTTP_",
            "CARGO_REGISTR",
            "CARGO_TERM_",
        ]
        .iter()
        .any(|prefix| key.starts_with(prefix));
        let outer = key.starts_with("CARGO_")
            || key.starts_with("DEP_")
            || [
                "RUSTFLAGS",
                "RUSTDOCFLAGS",
                "RUSTC",
                "RUSTDOC",
                "RUSTC_WRAPPER",
                "RUSTC_WORKSPACE_WRAPPER",
                "TARGET",
                "HOST",
                "OUT_DIR",
                "PROFILE",
                "OPT_LEVEL",
                "DEBUG",
                "NUM_JOBS",
                "MAKEFLAGS",
                "MFLAGS",
            ]
            .contains(&key.as_ref());
        if outer && !keep {
            cmd.env_remove(key.as_ref());
        }
    }
    let output = cmd.output()?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let hint =
            if stderr.contains("wasm32-wasip2") && stderr.contains("target may not be installed") {
                "\nthe wasm32-wasip2 target is missing: run `rustup target add wasm32-wasip2`"
            } else {
                ""
            };
        anyhow::bail!(
            "failed to build the policy components in guest/ and tests/fixtures/:\n{stderr}{hint}"
        );
    }
    let fixtures = FIXTURES.map(|name| {
        (
            format!("wardlock_fixture_{}", name.replace('-', "_")),
            fixture_file(name),
        )
    });
    let policies = POLICIES.map(|(artifact, name)| (artifact.to_owned(), name.to_owned()));
    for (artifact, name) in policies.into_iter().chain(fixtures) {
        let built = target_dir
            .join("wasm32-wasip2/release")
            .join(format!("{artifact}.wasm"));
        std::fs::copy(&built, out.join(name))
            .map_err(|e| anyhow::anyhow!("failed to copy `{}`: {e}", built.display()))?;
    }
    Ok(())
}

/// The file a fixture is copied to in OUT_DIR.
fn fixture_file(name: &str) -> String {
    format!("fixture-{name}.wasm")
}
