//! Hostile and broken policy modules: each must fail with an error naming
//! the module and the reason, in bounded time, leave no lock held, and
//! leave the host able to serve the next call with the good policy.
//!
//! The fixtures are built from `tests/fixtures/policies/` by the host's
//! build script. Most take the *victim* lock (`config:victim`'s lock file)
//! before they misbehave, so that each test can prove the host let go of
//! it: with a raw `flock` on a descriptor of the test's own, with a fresh
//! lock directory under the embedded policy, and from another process.

mod common;

use std::fs::File;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use wardlock::{Error, ErrorCode, LockDir, Mode, Policy, Timeout};

const SPIN: &str = env!("WARDLOCK_FIXTURE_SPIN");
const IMPORT_SPIN: &str = env!("WARDLOCK_FIXTURE_IMPORT_SPIN");
const IGNORES_TIMEOUT: &str = env!("WARDLOCK_FIXTURE_IGNORES_TIMEOUT");
const MEMORY_BOMB: &str = env!("WARDLOCK_FIXTURE_MEMORY_BOMB");
const PANIC: &str = env!("WARDLOCK_FIXTURE_PANIC");
const RECURSION: &str = env!("WARDLOCK_FIXTURE_RECURSION");
const TRAP_HOLDING: &str = env!("WARDLOCK_FIXTURE_TRAP_HOLDING");
const NEVER_RELEASES: &str = env!("WARDLOCK_FIXTURE_NEVER_RELEASES");
const PHANTOM_LEASE: &str = env!("WARDLOCK_FIXTURE_PHANTOM_LEASE");
const RAW_NAMES: &str = env!("WARDLOCK_FIXTURE_RAW_NAMES");
const WASI_FS: &str = env!("WARDLOCK_FIXTURE_WASI_FS");
const WASI_SOCKETS: &str = env!("WARDLOCK_FIXTURE_WASI_SOCKETS");
const WRONG_CONTRACT: &str = env!("WARDLOCK_FIXTURE_WRONG_CONTRACT");

/// The resource whose lock file the fixtures take before they misbehave.
const VICTIM: &str = "config:victim";

/// Its lock file.
const VICTIM_FILE: &str = ".lock-config-victim";

/// How long one failing call may take, on a loaded two-core machine. The
/// budget is 100 million instructions, about 100 ms of guest CPU; what was
/// measured is printed (`--nocapture`).
const CALL_BOUND: Duration = Duration::from_secs(3);

fn try_once() -> Timeout {
    Timeout::After(Duration::ZERO)
}

fn load(path: &str) -> Policy {
    Policy::from_file(path).unwrap_or_else(|e| panic!("fixture `{path}` failed to load: {e}"))
}

/// The module and reason of a policy error, or a panic naming what came
/// instead.
fn policy_failure<T: std::fmt::Debug>(result: Result<T, Error>, what: &str) -> (String, String) {
    match result {
        Err(Error::Policy { module, reason }) => (module, reason),
        other => panic!("{what}: expected a policy error naming the module, got {other:?}"),
    }
}

/// Acquire `resource` exclusively through the fixture at `path` in a fresh
/// lock directory of `p`, expecting a policy error naming the module.
/// Returns the reason, after checking the call's duration.
fn acquire_fails(p: &Project, path: &str, resource: &str) -> String {
    let dir = LockDir::open(p.dir(), load(path)).expect("lock dir");

    let start = Instant::now();
    let result = dir.acquire(resource, Mode::Exclusive, &try_once());
    let took = start.elapsed();

    let (module, reason) = policy_failure(result, path);
    assert_eq!(module, path, "the error names the module");
    eprintln!(
        "hostile: `{}` failed in {} ms: {reason}",
        name_of(path),
        took.as_millis()
    );
    assert!(took < CALL_BOUND, "the failing call took {took:?}");

    // The host survives: the same lock directory fails the same way again,
    // on a fresh instance.
    let again = dir.acquire(resource, Mode::Exclusive, &try_once());
    let (module, _) = policy_failure(again, "a second call");
    assert_eq!(module, path);
    reason
}

/// The fixture's file name without its directory.
fn name_of(path: &str) -> &str {
    Path::new(path)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(path)
}

/// Check that nobody holds the lock file `name` of `p`: on a descriptor of
/// our own, with `flock`, exclusively.
fn assert_unlocked(p: &Project, name: &str) {
    let path = p.dir().join(name);
    let file = File::open(&path).unwrap_or_else(|e| panic!("open `{}`: {e}", path.display()));
    match file.try_lock() {
        Ok(()) => file.unlock().expect("unlock"),
        Err(e) => panic!("`{name}` is still locked after the failure: {e}"),
    }
}

/// Check that `resource` is free for the good policy: in this process, on
/// a fresh lock directory, and from another process through the CLI.
fn assert_free_for_the_good_policy(p: &Project, resource: &str) {
    let good = LockDir::open(p.dir(), Policy::embedded().expect("embedded")).expect("lock dir");
    let guard = good
        .acquire(resource, Mode::Exclusive, &try_once())
        .unwrap_or_else(|e| panic!("the good policy could not take `{resource}`: {e}"));
    guard.release().expect("release");

    let out = p.output(&["run", "--timeout", "0", resource, "--", "true"]);
    assert_eq!(
        code(&out),
        0,
        "another process could not take `{resource}`: {}",
        stderr(&out)
    );
}

/// All the checks after a fixture failed while holding the victim lock.
fn assert_victim_released(p: &Project) {
    assert_unlocked(p, VICTIM_FILE);
    assert_free_for_the_good_policy(p, VICTIM);
    assert_free_for_the_good_policy(p, "wp:victim/WP01");
}

#[test]
fn spin_in_acquire_runs_out_of_fuel_and_lets_go() {
    let p = Project::new();

    let reason = acquire_fails(&p, SPIN, VICTIM);

    assert!(reason.contains("fuel"), "{reason}");
    assert_victim_released(&p);
}

#[test]
fn memory_bomb_hits_the_memory_cap_and_lets_go() {
    let p = Project::new();

    let reason = acquire_fails(&p, MEMORY_BOMB, VICTIM);

    assert!(reason.contains("memory"), "{reason}");
    assert_victim_released(&p);
}

#[test]
fn panic_in_acquire_traps_and_lets_go() {
    let p = Project::new();

    let reason = acquire_fails(&p, PANIC, VICTIM);

    assert!(
        reason.contains("trap") || reason.contains("unreachable"),
        "{reason}"
    );
    assert_victim_released(&p);
}

#[test]
fn deep_recursion_overflows_the_guest_stack_and_lets_go() {
    let p = Project::new();

    let reason = acquire_fails(&p, RECURSION, VICTIM);

    assert!(reason.contains("stack"), "{reason}");
    assert_victim_released(&p);
}

#[test]
fn trap_while_holding_several_locks_releases_all_of_them() {
    let p = Project::new();

    let reason = acquire_fails(&p, TRAP_HOLDING, "wp:victim/WP01");

    assert!(
        reason.contains("trap") || reason.contains("unreachable"),
        "{reason}"
    );
    for name in [".lock-feature-victim", ".lock-WP-victim-WP01", VICTIM_FILE] {
        assert_unlocked(&p, name);
    }
    assert_victim_released(&p);
    // The record the trapping call wrote was replaced by the good holder's,
    // and cleared when it released.
    let record = std::fs::read(p.dir().join(".lock-WP-victim-WP01.owner"));
    assert!(record.map_or(true, |bytes| bytes.is_empty()));
}

#[test]
fn lease_naming_a_handle_never_opened_is_refused_and_nothing_stays_held() {
    let p = Project::new();

    let reason = acquire_fails(&p, PHANTOM_LEASE, VICTIM);

    assert!(reason.contains("handle"), "{reason}");
    assert_victim_released(&p);
}

#[test]
fn release_that_does_nothing_still_releases() {
    let p = Project::new();
    let dir = LockDir::open(p.dir(), load(NEVER_RELEASES)).expect("lock dir");

    let guard = dir
        .acquire("wp:victim/WP01", Mode::Exclusive, &try_once())
        .expect("the fixture acquires like the default policy");
    let busy = p.output(&["run", "--timeout", "0", "wp:victim/WP01", "--", "true"]);
    assert_eq!(code(&busy), 75, "held while the guard lives");
    let released = guard.release();

    assert!(released.is_ok(), "{released:?}");
    assert_unlocked(&p, ".lock-feature-victim");
    assert_unlocked(&p, ".lock-WP-victim-WP01");
    assert_free_for_the_good_policy(&p, "wp:victim/WP01");
    // The same lock directory takes it again: the host forgot it held it.
    let again = dir.acquire("wp:victim/WP01", Mode::Exclusive, &try_once());
    drop(again.expect("the fixture's directory can take it again"));
    assert_unlocked(&p, ".lock-WP-victim-WP01");
}

/// Names that must never reach outside the lock directory, or name
/// something in it that is not a plain lock file.
const ESCAPES: [&str; 12] = [
    "../escape",
    "../../escape",
    "..",
    ".",
    "",
    "sub/inner",
    "sub\\inner",
    "/tmp/wardlock-hostile-absolute",
    "nul\0byte",
    "line\nbreak",
    ".lock-config-x.owner",
    ".lock-config-x.owner.tmp",
];

#[test]
fn names_with_separators_dots_or_reserved_suffixes_are_refused() {
    let p = Project::new();
    std::fs::create_dir(p.dir().join("sub")).expect("sub dir");
    let dir = LockDir::open(p.dir(), load(RAW_NAMES)).expect("lock dir");
    let before = p.root_names();
    let mut wrong = Vec::new();

    for name in ESCAPES {
        let result = dir.acquire(name, Mode::Exclusive, &try_once());
        match result {
            Err(Error::Policy { module, reason }) if module == RAW_NAMES => {
                eprintln!("hostile: `{}` refused: {reason}", name.escape_debug());
            }
            other => wrong.push(format!("`{}`: {other:?}", name.escape_debug())),
        }
    }

    assert_eq!(
        p.root_names(),
        before,
        "nothing created beside the lock dir"
    );
    assert!(!Path::new("/tmp/wardlock-hostile-absolute").exists());
    assert_eq!(p.lock_names(), ["sub"], "nothing created in the lock dir");
    assert!(
        std::fs::read_dir(p.dir().join("sub"))
            .unwrap()
            .next()
            .is_none(),
        "nothing created in its subdirectory"
    );
    assert!(
        wrong.is_empty(),
        "each name must fail with a policy error naming `{RAW_NAMES}`:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn names_are_refused_with_a_typed_code_before_anything_is_opened() {
    let p = Project::new();
    std::fs::create_dir(p.dir().join("sub")).expect("sub dir");
    let dir = LockDir::open(p.dir(), load(RAW_NAMES)).expect("lock dir");

    for name in ESCAPES {
        let result = dir.acquire(name, Mode::Exclusive, &try_once());

        let refused = matches!(
            &result,
            Err(Error::Lock {
                code: ErrorCode::InvalidName,
                ..
            }) | Err(Error::Policy { .. })
        );
        assert!(refused, "`{}`: {result:?}", name.escape_debug());
    }
    assert_eq!(p.lock_names(), ["sub"]);
}

#[test]
fn planted_symbolic_links_are_never_followed() {
    let p = Project::new();
    let dir = LockDir::open(p.dir(), load(RAW_NAMES)).expect("lock dir");
    let outside = |name: &str| p.file(name);
    let link = |name: &str, target: &str| {
        std::os::unix::fs::symlink(outside(target), p.dir().join(name)).expect("symlink")
    };
    std::fs::write(outside("precious"), "precious").unwrap();
    link(".lock-link", "lock-target");
    link(".lock-precious", "precious");
    link(".lock-record.owner", "record-target");
    link(".lock-temp.owner.tmp", "temp-target");

    let through_link = dir.acquire(".lock-link", Mode::Exclusive, &try_once());
    let through_precious = dir.acquire(".lock-precious", Mode::Exclusive, &try_once());
    let record = dir.acquire(".lock-record", Mode::Exclusive, &try_once());
    let temp = dir.acquire(".lock-temp", Mode::Exclusive, &try_once());

    for result in [&through_link, &through_precious] {
        assert!(
            matches!(
                result,
                Err(Error::Lock {
                    code: ErrorCode::NotRegularFile,
                    ..
                }) | Err(Error::Policy { .. })
            ),
            "a link at the lock path is refused: {result:?}"
        );
    }
    assert!(!outside("lock-target").exists(), "link target not created");
    assert_eq!(
        std::fs::read_to_string(outside("precious")).unwrap(),
        "precious"
    );
    // Owner records are written through a fresh file and a rename, which
    // replaces a planted link rather than writing through it.
    let (record, temp) = (record.expect("record"), temp.expect("temp"));
    assert!(
        !outside("record-target").exists(),
        "record written through a link"
    );
    assert!(
        !outside("temp-target").exists(),
        "temporary written through a link"
    );
    assert!(
        !p.dir()
            .join(".lock-record.owner")
            .symlink_metadata()
            .unwrap()
            .is_symlink()
    );
    drop((record, temp));
    let mut names = p.root_names();
    names.retain(|n| n != "locks");
    assert_eq!(names, ["precious"], "nothing created beside the lock dir");
}

#[test]
fn module_importing_wasi_filesystem_does_not_load() {
    let (module, reason) = policy_failure(Policy::from_file(WASI_FS), "wasi-fs");

    assert_eq!(module, WASI_FS);
    // The reason names the first import not granted; `std::fs` brings
    // `wasi:clocks` along with `wasi:filesystem`.
    assert!(
        reason.contains("wasi:") && reason.contains("import"),
        "{reason}"
    );
    eprintln!("hostile: `{}` refused: {reason}", name_of(WASI_FS));
}

#[test]
fn module_importing_wasi_sockets_does_not_load() {
    let (module, reason) = policy_failure(Policy::from_file(WASI_SOCKETS), "wasi-sockets");

    assert_eq!(module, WASI_SOCKETS);
    assert!(
        reason.contains("wasi:") && reason.contains("import"),
        "{reason}"
    );
    eprintln!("hostile: `{}` refused: {reason}", name_of(WASI_SOCKETS));
}

#[test]
fn module_built_for_another_contract_version_does_not_load() {
    let (module, reason) = policy_failure(Policy::from_file(WRONG_CONTRACT), "wrong-contract");

    assert_eq!(module, WRONG_CONTRACT);
    assert!(reason.contains("0.2.0"), "names the version: {reason}");
    eprintln!("hostile: `{}` refused: {reason}", name_of(WRONG_CONTRACT));
}

/// Files that are not policy components, by name and contents.
fn not_components() -> Vec<(&'static str, Vec<u8>)> {
    let good = std::fs::read(env!("WARDLOCK_DEFAULT_POLICY")).expect("default policy");
    vec![
        ("empty.wasm", Vec::new()),
        ("text.wasm", b"this is not WebAssembly\n".to_vec()),
        ("header-only.wasm", b"\0asm".to_vec()),
        // A valid, empty core module: WebAssembly, but not a component.
        ("core-module.wasm", b"\0asm\x01\0\0\0".to_vec()),
        ("truncated.wasm", good[..good.len() / 2].to_vec()),
        ("random.wasm", pseudo_random_bytes(4096)),
    ]
}

fn pseudo_random_bytes(n: usize) -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

#[test]
fn invalid_wasm_bytes_do_not_load() {
    let p = Project::new();

    for (name, bytes) in not_components() {
        let path = p.file(name);
        std::fs::write(&path, bytes).unwrap();

        let (module, reason) = policy_failure(Policy::from_file(&path), name);

        assert_eq!(module, path.display().to_string());
        assert!(!reason.is_empty());
        eprintln!("hostile: `{name}` refused: {reason}");
    }
    assert_free_for_the_good_policy(&p, VICTIM);
}

/// `wardlock --policy FILE run --timeout 0 config:victim -- touch MARKER`:
/// must exit 70 naming the file, not run the command, in bounded time.
fn cli_refuses(p: &Project, policy: &str, reason_word: &str) {
    let marker = p.file("ran");
    let start = Instant::now();

    let out = p.output(&[
        "--policy",
        policy,
        "run",
        "--timeout",
        "0",
        VICTIM,
        "--",
        "touch",
        marker.to_str().unwrap(),
    ]);
    let took = start.elapsed();

    let err = stderr(&out);
    assert_eq!(code(&out), 70, "{err}");
    assert!(err.contains(policy), "names the module: {err}");
    assert!(err.contains(reason_word), "says why ({reason_word}): {err}");
    assert!(!marker.exists(), "the command must not run");
    eprintln!(
        "hostile: cli `{}` exited 70 in {} ms",
        name_of(policy),
        took.as_millis()
    );
    assert!(took < CALL_BOUND * 2, "took {took:?}");
    assert_free_for_the_good_policy(p, VICTIM);
}

#[test]
fn cli_reports_a_spinning_policy_with_exit_code_70() {
    cli_refuses(&Project::new(), SPIN, "fuel");
}

#[test]
fn cli_reports_a_memory_bomb_with_exit_code_70() {
    cli_refuses(&Project::new(), MEMORY_BOMB, "memory");
}

#[test]
fn cli_reports_deep_recursion_with_exit_code_70() {
    cli_refuses(&Project::new(), RECURSION, "stack");
}

#[test]
fn cli_reports_a_trap_while_holding_locks_with_exit_code_70() {
    let p = Project::new();
    cli_refuses(&p, TRAP_HOLDING, "unreachable");
    assert_unlocked(&p, ".lock-feature-victim");
    assert_unlocked(&p, ".lock-WP-victim-WP01");
}

#[test]
fn cli_refuses_a_module_for_another_contract_with_exit_code_70() {
    cli_refuses(&Project::new(), WRONG_CONTRACT, "0.2.0");
}

#[test]
fn cli_refuses_a_module_importing_wasi_filesystem_with_exit_code_70() {
    cli_refuses(&Project::new(), WASI_FS, "wasi:");
}

#[test]
fn cli_refuses_bytes_that_are_not_a_component_with_exit_code_70() {
    let p = Project::new();
    let path = p.file("text.wasm");
    std::fs::write(&path, "this is not WebAssembly\n").unwrap();

    cli_refuses(&p, path.to_str().unwrap(), "WebAssembly");
}

#[test]
fn cli_reports_escaping_names_with_exit_code_70_naming_the_module() {
    let p = Project::new();

    let out = p.output(&[
        "--policy",
        RAW_NAMES,
        "run",
        "--timeout",
        "0",
        "../escape",
        "--",
        "true",
    ]);

    let err = stderr(&out);
    assert_eq!(code(&out), 70, "{err}");
    assert!(!p.file("escape").exists());
    assert!(err.contains(RAW_NAMES), "names the module: {err}");
}

/// Start `wardlock ARGS...` and wait for it at most `limit`; `None` if it
/// was still running then (it is killed).
fn run_bounded(
    p: &Project,
    args: &[&str],
    limit: Duration,
) -> (Option<std::process::Output>, Duration) {
    let start = Instant::now();
    let mut child = p
        .wardlock(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn wardlock");
    while start.elapsed() < limit {
        if child.try_wait().expect("wait").is_some() {
            let out = child.wait_with_output().expect("output");
            return (Some(out), start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    (None, start.elapsed())
}

#[test]
fn spinning_on_host_imports_is_bounded_like_spinning_in_the_guest() {
    let p = Project::new();

    // `lock-files.state` reads the kernel's lock table on every call; the
    // loop costs the guest a few instructions per call, the host far more.
    let (out, took) = run_bounded(
        &p,
        &[
            "--policy",
            IMPORT_SPIN,
            "run",
            "--timeout",
            "0",
            "config:state",
            "--",
            "true",
        ],
        CALL_BOUND * 4,
    );

    let out = out.unwrap_or_else(|| {
        panic!("one call spinning on `lock-files.state` was still running after {took:?}")
    });
    eprintln!(
        "hostile: cli `{}` (state loop) exited {:?} in {} ms",
        name_of(IMPORT_SPIN),
        out.status.code(),
        took.as_millis()
    );
    assert_eq!(code(&out), 70, "{}", stderr(&out));
    // The call's host budget is 250 ms; compiling the module comes on top
    // and varies with the machine's load. What matters is that the call
    // ends, with an error naming the module, rather than spinning on.
    assert!(
        took < Duration::from_secs(5),
        "one call spinning on `lock-files.state` ran {took:?}; its host budget is 250 ms"
    );
    assert_free_for_the_good_policy(&p, VICTIM);
}

#[test]
fn policy_that_ignores_the_callers_timeout_still_returns_in_time() {
    let p = Project::new();
    let victim = File::create(p.dir().join(VICTIM_FILE)).expect("victim");
    victim.lock().expect("hold the victim lock");

    // The caller allows 200 ms; the policy asks the host to wait for ever.
    let (out, took) = run_bounded(
        &p,
        &[
            "--policy",
            IGNORES_TIMEOUT,
            "run",
            "--timeout",
            "0.2",
            VICTIM,
            "--",
            "true",
        ],
        CALL_BOUND,
    );

    let out = out.unwrap_or_else(|| {
        panic!(
            "asked to wait at most 200 ms, `wardlock run` was still waiting after {took:?}: \
             the host lets a policy's `lock` wait past the caller's timeout"
        )
    });
    eprintln!(
        "hostile: cli `{}` exited {:?} in {} ms",
        name_of(IGNORES_TIMEOUT),
        out.status.code(),
        took.as_millis()
    );
    assert_ne!(
        code(&out),
        0,
        "it must not run the command without the lock"
    );
    victim.unlock().expect("unlock");
}
