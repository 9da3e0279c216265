//! The `wardlock` command end to end: real processes, real lock files, a
//! fresh lock directory per test.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

/// A script that appends `enter`/`exit` lines with a label and a time in
/// nanoseconds to `ledger`, around `pause` seconds of work.
fn ledger_script(ledger: &std::path::Path, label: &str, pause: &str) -> String {
    let ledger = ledger.display();
    format!(
        "echo \"enter {label} $(date +%s%N)\" >> '{ledger}'; sleep {pause}; \
         echo \"exit {label} $(date +%s%N)\" >> '{ledger}'"
    )
}

fn ledger_lines(path: &std::path::Path) -> Vec<(String, String, u128)> {
    std::fs::read_to_string(path)
        .expect("ledger")
        .lines()
        .map(|l| {
            let mut w = l.split_whitespace();
            let (what, who, when) = (w.next().unwrap(), w.next().unwrap(), w.next().unwrap());
            (what.to_owned(), who.to_owned(), when.parse().unwrap())
        })
        .collect()
}

#[test]
fn two_runs_on_one_resource_take_turns() {
    let p = Project::new();
    let ledger = p.file("ledger");

    let first = p.spawn_run("wp:demo/WP01", &[], &ledger_script(&ledger, "A", "0.5"));
    wait_until("the first command entered", || {
        std::fs::read_to_string(&ledger).is_ok_and(|s| s.contains("enter A"))
    });
    let second = p.spawn_run("wp:demo/WP01", &[], &ledger_script(&ledger, "B", "0"));
    let first = finish(first);
    let second = finish(second);

    assert_eq!(code(&first), 0, "{}", stderr(&first));
    assert_eq!(code(&second), 0, "{}", stderr(&second));
    let lines = ledger_lines(&ledger);
    let order: Vec<String> = lines
        .iter()
        .map(|(w, who, _)| format!("{w} {who}"))
        .collect();
    assert_eq!(order, ["enter A", "exit A", "enter B", "exit B"]);
    // The second waited and said for whom; it started as soon as the
    // first released (well inside any poll or timeout it could have used).
    let waited = stderr(&second);
    assert!(waited.contains("waiting for `wp:demo/WP01`"), "{waited}");
    assert!(
        waited.contains(&format!("pid {}", first_pid_in(&waited))),
        "{waited}"
    );
    assert_eq!(stderr(&first), "", "a free lock prints nothing");
    let gap_ms = (lines[2].2 - lines[1].2) / 1_000_000;
    assert!(
        gap_ms < 2_000,
        "second started {gap_ms} ms after the first ended"
    );
}

/// The first pid mentioned in a message.
fn first_pid_in(message: &str) -> u32 {
    let at = message.find("pid ").expect("a pid in the message") + 4;
    message[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap()
}

#[test]
fn waiting_message_names_the_holder_pid_and_command() {
    let p = Project::new();
    let marker = p.file("held");
    let holder = p.spawn_run(
        "wp:demo/WP01",
        &[],
        &format!("touch '{}'; sleep 30", marker.display()),
    );
    wait_for_file(&marker);

    let out = p.output(&["run", "--timeout", "0.3", "wp:demo/WP01", "--", "true"]);

    assert_eq!(code(&out), 75, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(&format!("pid {}", holder.id())), "{err}");
    assert!(
        err.contains("sleep 30"),
        "names the holder's command: {err}"
    );
    assert!(
        err.contains("waiting for"),
        "said it waits before it gave up: {err}"
    );
    assert!(err.contains("timed out"), "{err}");
    kill(holder);
}

fn kill(mut child: std::process::Child) {
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn timeout_zero_while_held_is_busy_and_does_not_run_the_command() {
    let p = Project::new();
    let marker = p.file("held");
    let holder = p.spawn_run(
        "config:build",
        &[],
        &format!("touch '{}'; sleep 30", marker.display()),
    );
    wait_for_file(&marker);
    let ran = p.file("ran");

    let out = p.output(&[
        "run",
        "--timeout",
        "0",
        "config:build",
        "--",
        "touch",
        ran.to_str().unwrap(),
    ]);

    assert_eq!(code(&out), 75);
    let err = stderr(&out);
    assert!(err.contains("is busy"), "{err}");
    assert!(err.contains(&format!("pid {}", holder.id())), "{err}");
    assert!(!err.contains("waiting for"), "timeout 0 never waits: {err}");
    assert!(!ran.exists(), "the command must not run without the lock");

    let out = p.output(&[
        "run",
        "--timeout",
        "0",
        "--conflict-exit-code",
        "9",
        "config:build",
        "--",
        "true",
    ]);
    assert_eq!(code(&out), 9);
    kill(holder);
}

#[test]
fn feature_lock_waits_for_its_work_packages_and_keeps_new_ones_out() {
    let p = Project::new();
    let marker = p.file("wp-held");
    let wp = p.spawn_run(
        "wp:feat/WP01",
        &[],
        &format!("touch '{}'; sleep 30", marker.display()),
    );
    wait_for_file(&marker);

    let feature = p.output(&["run", "--timeout", "0", "feature:feat", "--", "true"]);
    assert_eq!(code(&feature), 75, "a feature waits for its work packages");
    assert!(
        stderr(&feature).contains(&format!("{}", wp.id())),
        "{}",
        stderr(&feature)
    );
    kill(wp);

    let marker = p.file("feature-held");
    let feature = p.spawn_run(
        "feature:feat",
        &[],
        &format!("touch '{}'; sleep 30", marker.display()),
    );
    wait_for_file(&marker);
    let wp = p.output(&["run", "--timeout", "0", "wp:feat/WP02", "--", "true"]);
    assert_eq!(code(&wp), 75, "a held feature keeps new work packages out");
    let other = p.output(&["run", "--timeout", "0", "wp:other/WP02", "--", "true"]);
    assert_eq!(
        code(&other),
        0,
        "another feature's work packages are not affected"
    );
    let config = p.output(&["run", "--timeout", "0", "config:feat", "--", "true"]);
    assert_eq!(code(&config), 0, "config locks are independent");
    kill(feature);
}

#[test]
fn feature_lock_runs_right_after_the_work_package_ends() {
    let p = Project::new();
    let ledger = p.file("ledger");
    let wp = p.spawn_run("wp:feat/WP01", &[], &ledger_script(&ledger, "WP", "0.4"));
    wait_until("the work package entered", || ledger.exists());

    let feature = p.spawn_run("feature:feat", &[], &ledger_script(&ledger, "F", "0"));
    assert_eq!(code(&finish(wp)), 0);
    let feature = finish(feature);

    assert_eq!(code(&feature), 0, "{}", stderr(&feature));
    let order: Vec<String> = ledger_lines(&ledger)
        .iter()
        .map(|(w, who, _)| format!("{w} {who}"))
        .collect();
    assert_eq!(order, ["enter WP", "exit WP", "enter F", "exit F"]);
}

#[test]
fn work_packages_do_not_block_each_other() {
    let p = Project::new();
    let marker = p.file("held");
    let holder = p.spawn_run(
        "wp:feat/WP01",
        &[],
        &format!("touch '{}'; sleep 30", marker.display()),
    );
    wait_for_file(&marker);

    for resource in ["wp:feat/WP02", "wp:other/WP01", "wp:WP01", "config:feat"] {
        let out = p.output(&["run", "--timeout", "0", resource, "--", "true"]);
        assert_eq!(code(&out), 0, "{resource}: {}", stderr(&out));
    }
    let same = p.output(&["run", "--timeout", "0", "wp:feat/WP01", "--", "true"]);
    assert_eq!(code(&same), 75);
    kill(holder);
}

#[test]
fn shared_holders_share_and_exclude_an_exclusive_one() {
    let p = Project::new();
    let marker = p.file("held");
    let reader = p.spawn_run(
        "config:db",
        &["--shared"],
        &format!("touch '{}'; sleep 30", marker.display()),
    );
    wait_for_file(&marker);

    let another = p.output(&[
        "run",
        "--shared",
        "--timeout",
        "0",
        "config:db",
        "--",
        "true",
    ]);
    assert_eq!(code(&another), 0, "{}", stderr(&another));
    let writer = p.output(&["run", "--timeout", "0", "config:db", "--", "true"]);
    assert_eq!(code(&writer), 75);
    assert!(
        stderr(&writer).contains(&reader.id().to_string()),
        "{}",
        stderr(&writer)
    );
    kill(reader);
}

#[test]
fn killed_holder_releases_at_once_and_its_stale_record_is_replaced() {
    let p = Project::new();
    let marker = p.file("held");
    let holder = p.spawn_run(
        "wp:feat/WP07",
        &[],
        &format!("touch '{}'; sleep 30", marker.display()),
    );
    wait_for_file(&marker);
    let dead = holder.id();
    kill(holder); // SIGKILL: no clean-up runs

    let out = p.output(&["run", "--timeout", "0", "wp:feat/WP07", "--", "true"]);

    assert_eq!(
        code(&out),
        0,
        "the kernel released the lock: {}",
        stderr(&out)
    );
    let err = stderr(&out);
    assert!(
        err.contains(&format!("pid {dead}")),
        "reports the stale owner: {err}"
    );
    assert!(err.to_lowercase().contains("gone"), "{err}");
    // Reported once: the next holder finds no stale record.
    let again = p.output(&["run", "--timeout", "0", "wp:feat/WP07", "--", "true"]);
    assert_eq!(stderr(&again), "");
}

#[test]
fn killed_wardlock_takes_its_command_down() {
    let p = Project::new();
    let pidfile = p.file("child-pid");
    let holder = p.spawn_run(
        "config:x",
        &[],
        &format!("echo $$ > '{}'; sleep 30", pidfile.display()),
    );
    wait_until("the command wrote its pid", || {
        std::fs::read_to_string(&pidfile).is_ok_and(|s| s.ends_with('\n'))
    });
    let child: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    kill(holder);

    // The command must not go on working without its lock.
    wait_until("the command is gone", || {
        std::fs::read_to_string(format!("/proc/{child}/stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .is_some_and(|r| r.trim_start().starts_with('Z'))
            })
            .unwrap_or(true)
    });
}

#[test]
fn status_shows_the_holder_while_it_holds() {
    let p = Project::new();
    let marker = p.file("held");
    let holder = p.spawn_run(
        "wp:feat/WP03",
        &[],
        &format!("touch '{}'; sleep 30", marker.display()),
    );
    wait_for_file(&marker);

    let out = p.output(&["status", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let locks = status["locks"].as_array().expect("locks");
    let wp = locks
        .iter()
        .find(|l| l["resource"] == "wp:feat/WP03")
        .expect("the work package");
    assert_eq!(wp["state"], "exclusive");
    assert_eq!(wp["holder"]["pid"], holder.id());
    assert_eq!(wp["holder"]["liveness"], "alive");
    assert!(
        wp["holder"]["command"]
            .as_str()
            .unwrap()
            .contains("sleep 30")
    );
    let feature = locks
        .iter()
        .find(|l| l["resource"] == "feature:feat")
        .expect("the feature");
    assert_eq!(feature["state"], "shared");

    let table = stdout(&p.output(&["status"]));
    assert!(
        table.contains("wp:feat/WP03") && table.contains(&holder.id().to_string()),
        "{table}"
    );
    kill(holder);

    let out = p.output(&["status", "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let wp = status["locks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["resource"] == "wp:feat/WP03")
        .cloned()
        .expect("the lock file remains");
    assert_eq!(wp["state"], "free");
    assert_eq!(
        wp["stale_record"], true,
        "the killed holder's record is stale"
    );
    assert_eq!(wp["holder"]["liveness"], "gone");
}

#[test]
fn plan_shows_order_modes_and_timeout() {
    let p = Project::new();

    let out = p.output(&["plan", "--json", "wp:feat/WP01"]);

    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(plan["steps"][0]["lock_file"], ".lock-feature-feat");
    assert_eq!(plan["steps"][0]["mode"], "shared");
    assert_eq!(plan["steps"][1]["lock_file"], ".lock-WP-feat-WP01");
    assert_eq!(plan["steps"][1]["mode"], "exclusive");
    assert_eq!(plan["timeout_ms"], 300_000);
    assert!(p.lock_names().is_empty(), "plan touches nothing");
}

#[test]
fn another_policy_file_changes_the_plan_without_a_rebuild() {
    let p = Project::new();

    let default = stdout(&p.output(&["plan", "wp:feat/WP01"]));
    let out = p.output(&["--policy", strict_policy(), "plan", "wp:feat/WP01"]);

    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let strict = stdout(&out);
    assert!(
        default.contains("policy: default") && default.contains("timeout: 5m 0s"),
        "{default}"
    );
    assert!(
        strict.contains("policy: strict") && strict.contains("timeout: 30s"),
        "{strict}"
    );
}

#[test]
fn command_exit_codes_pass_through() {
    let p = Project::new();

    let three = p.output(&["run", "config:x", "--", "sh", "-c", "exit 3"]);
    let killed = p.output(&["run", "config:x", "--", "sh", "-c", "kill -TERM $$"]);
    let missing = p.output(&["run", "config:x", "--", "/no/such/command"]);

    assert_eq!(code(&three), 3);
    assert_eq!(code(&killed), 128 + 15);
    assert_eq!(code(&missing), 127, "{}", stderr(&missing));
    assert!(stderr(&missing).contains("not found"));
}

#[test]
fn the_command_does_not_inherit_the_lock() {
    let p = Project::new();

    let out = p.output(&["run", "wp:feat/WP01", "--", "sh", "-c", "ls -l /proc/$$/fd"]);

    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let fds = stdout(&out);
    assert!(
        !fds.contains(".lock-"),
        "the command holds a lock descriptor: {fds}"
    );
}

#[test]
fn invalid_resources_are_usage_errors_and_touch_nothing() {
    let p = Project::new();
    let before = p.root_names();

    for (resource, says) in [
        ("feature:a/b", "`/`"),
        ("feature:..", "`..`"),
        ("feature:", "empty"),
        ("", "empty"),
        ("feature", "kind"),
        ("bogus:x", "bogus"),
        ("wp:feat/WP01/extra", "/"),
        ("wp:feat/nope", "WP"),
        ("config:Upper", "lowercase"),
    ] {
        let out = p.output(&["run", "--timeout", "0", resource, "--", "true"]);
        assert_eq!(code(&out), 64, "{resource:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("invalid resource") && err.contains(says),
            "{resource:?}: {err}"
        );
    }

    assert!(
        p.lock_names().is_empty(),
        "no lock file for invalid input: {:?}",
        p.lock_names()
    );
    assert_eq!(
        p.root_names(),
        before,
        "nothing created outside the lock directory"
    );
}

#[test]
fn invalid_timeouts_are_rejected_before_any_lock_is_touched() {
    let p = Project::new();

    for (timeout, says) in [
        ("-1", "negative"),
        ("nan", "number"),
        ("soon", "soon"),
        ("", "empty"),
    ] {
        let out = p.output(&["run", "--timeout", timeout, "config:x", "--", "true"]);
        assert_eq!(code(&out), 64, "{timeout:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("invalid timeout") && err.contains(says),
            "{timeout:?}: {err}"
        );
    }

    assert!(p.lock_names().is_empty(), "{:?}", p.lock_names());
}

#[test]
fn a_lock_directory_that_cannot_be_created_is_an_os_error() {
    let p = Project::new();
    let missing = p.root().join("no/such/parent");

    let out = output_of({
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_wardlock"));
        cmd.arg("--dir")
            .arg(&missing)
            .args(["run", "config:x", "--", "true"]);
        cmd
    });

    assert_eq!(code(&out), 71, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("failed to create lock directory") && err.contains("parent"),
        "{err}"
    );
    assert!(!p.root().join("no").exists(), "parents are never created");
}

#[test]
fn a_read_only_lock_directory_is_an_os_error_not_busy() {
    let p = Project::new();
    let before = p.root_names();
    std::fs::set_permissions(p.dir(), std::os::unix::fs::PermissionsExt::from_mode(0o555)).unwrap();
    let root_access = std::path::Path::new(p.root());
    std::fs::set_permissions(
        root_access,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();

    // As root, permission bits do not bind: run as `nobody` instead.
    let mut cmd = as_unprivileged(env!("CARGO_BIN_EXE_wardlock"));
    cmd.arg("--dir")
        .arg(p.dir())
        .args(["run", "--timeout", "5", "config:x", "--", "true"]);
    let out = output_of(cmd);

    assert_eq!(code(&out), 71, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("ermission denied") || err.contains("read-only"),
        "{err}"
    );
    assert!(
        !err.contains("waiting"),
        "a failure is never waited on as if busy: {err}"
    );
    assert_eq!(p.root_names(), before);
    std::fs::set_permissions(p.dir(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}

/// A command for `program` that runs without root's privileges.
fn as_unprivileged(program: &str) -> Command {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc_geteuid() };
    if euid != 0 {
        return Command::new(program);
    }
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(program);
    cmd.stdin(Stdio::null());
    cmd
}

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

#[test]
fn help_answers_with_resources_and_exit_codes() {
    let p = Project::new();

    let out = p.output(&["run", "--help"]);

    assert_eq!(code(&out), 0);
    let help = stdout(&out);
    for needle in [
        "wp:<feature>/<WPxx>",
        "--timeout",
        "--shared",
        "75",
        "64",
        "71",
        "WARDLOCK_DIR",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}: {help}");
    }
    let bad = p.output(&["run", "--frobnicate"]);
    assert_eq!(code(&bad), 64);
}

#[test]
fn the_default_directory_is_the_nearest_kittify() {
    let p = Project::new();
    std::fs::create_dir(p.root().join(".kittify")).unwrap();
    let deep = p.root().join("a/b");
    std::fs::create_dir_all(&deep).unwrap();

    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wardlock"));
    cmd.current_dir(&deep)
        .env_remove("WARDLOCK_DIR")
        .args(["run", "config:x", "--", "true"]);
    let out = output_of(cmd);

    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(p.root().join(".kittify/.lock-config-x").exists());
    assert!(!deep.join(".kittify").exists());
    let _ = Duration::ZERO;
}

#[test]
fn policy_check_says_what_a_module_is_or_why_it_is_not_one() {
    let p = Project::new();
    let garbage = p.file("garbage.wasm");
    std::fs::write(&garbage, "not wasm").unwrap();

    let good = p.output(&["policy", "check", strict_policy()]);
    let bad = p.output(&["policy", "check", garbage.to_str().unwrap()]);

    assert_eq!(code(&good), 0, "{}", stderr(&good));
    assert!(stdout(&good).contains("policy `strict` 0.1.0 for contract `wardlock:policy@0.1.0`"));
    assert_eq!(code(&bad), 70);
    assert!(stderr(&bad).contains("garbage.wasm") && stderr(&bad).contains("not a WebAssembly"));
    assert!(p.lock_names().is_empty(), "checking takes no lock");
}

#[test]
fn a_pinned_directory_uses_its_policy_and_refuses_another() {
    let p = Project::new();
    let default = p.file("default.wasm");
    let export = p.output(&["policy", "export", default.to_str().unwrap()]);
    assert_eq!(code(&export), 0, "{}", stderr(&export));

    let pin = p.output(&["policy", "pin", strict_policy()]);
    assert_eq!(code(&pin), 0, "{}", stderr(&pin));

    let plan = stdout(&p.output(&["plan", "config:x"]));
    assert!(
        plan.contains("policy: strict") && plan.contains("timeout: 30s"),
        "{plan}"
    );
    let refused = p.output(&[
        "--policy",
        default.to_str().unwrap(),
        "run",
        "config:x",
        "--",
        "true",
    ]);
    assert_eq!(code(&refused), 64, "{}", stderr(&refused));
    let err = stderr(&refused);
    assert!(
        err.contains("pinned to policy `strict 0.1.0`") && err.contains("default 0.1.0"),
        "{err}"
    );
    let same = p.output(&["--policy", strict_policy(), "run", "config:x", "--", "true"]);
    assert_eq!(code(&same), 0, "{}", stderr(&same));
    let status = stdout(&p.output(&["status"]));
    let rows: Vec<&str> = status.lines().skip(3).collect();
    assert!(
        rows.iter().all(|r| !r.contains(".wardlock")),
        "the pin is not a lock file: {status}"
    );

    let unpin = p.output(&["policy", "unpin"]);
    assert_eq!(code(&unpin), 0);
    let plan = stdout(&p.output(&["plan", "config:x"]));
    assert!(plan.contains("policy: default"), "{plan}");
}

#[test]
fn pinning_over_another_policy_is_refused_until_unpinned() {
    let p = Project::new();
    let default = p.file("default.wasm");
    assert_eq!(
        code(&p.output(&["policy", "export", default.to_str().unwrap()])),
        0
    );
    assert_eq!(code(&p.output(&["policy", "pin", strict_policy()])), 0);

    let over = p.output(&["policy", "pin", default.to_str().unwrap()]);
    let same = p.output(&["policy", "pin", strict_policy()]);

    assert_eq!(code(&over), 64, "{}", stderr(&over));
    assert!(stderr(&over).contains("unpin"), "{}", stderr(&over));
    assert_eq!(code(&same), 0, "pinning the same policy again is fine");
}

#[test]
fn status_of_a_missing_or_wrong_directory_is_an_error_not_an_empty_list() {
    let p = Project::new();
    let missing = p.root().join("typo");
    let file = p.file("a-file");
    std::fs::write(&file, "").unwrap();

    for dir in [&missing, &file] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_wardlock"));
        cmd.arg("--dir").arg(dir).arg("status");
        let out = output_of(cmd);
        assert_eq!(code(&out), 71, "{}: {}", dir.display(), stderr(&out));
    }
}

#[test]
fn a_closed_standard_error_never_stops_the_command() {
    let p = Project::new();
    let ran = p.file("ran");
    // `-vv` writes diagnostics on every step; nobody reads them.
    let script = format!(
        "'{}' --dir '{}' -vv run config:x -- touch '{}' 2>&1 | true",
        env!("CARGO_BIN_EXE_wardlock"),
        p.dir().display(),
        ran.display()
    );

    let out = output_of({
        let mut cmd = Command::new("bash");
        cmd.args(["-c", &format!("{script}; exit ${{PIPESTATUS[0]}}")]);
        cmd
    });

    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(ran.exists(), "the command ran");
}
