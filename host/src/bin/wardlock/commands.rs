//! The subcommands.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use wardlock::{Holder, Liveness, LockDir, LockStatus, Mode, Options, Policy, Timeout};

use crate::args::{Args, Command, PolicyCommand};
use crate::exit::{self, Failure};

pub fn dispatch(args: Args) -> Result<ExitCode, Failure> {
    let requested = args.policy.as_deref().map(load_policy).transpose()?;
    match args.command {
        Command::Run {
            timeout,
            shared,
            conflict_exit_code,
            resource,
            command,
        } => {
            let dir = lock_dir(args.dir, Create::Yes)?;
            let policy = policy_for(&dir, requested)?;
            run(
                &dir,
                policy,
                &resource,
                mode(shared),
                timeout,
                conflict_exit_code,
                &command,
            )
        }
        Command::Status { json } => {
            let explicit = args.dir.is_some();
            let dir = lock_dir(args.dir, Create::No)?;
            if dir.exists() && !dir.is_dir() {
                return Err(Failure::new(
                    exit::OS,
                    format!(
                        "error: lock directory `{}` is not a directory",
                        dir.display()
                    ),
                ));
            }
            if explicit && !dir.exists() {
                return Err(Failure::new(
                    exit::OS,
                    format!("error: lock directory `{}` does not exist", dir.display()),
                ));
            }
            status(&dir, policy_for(&dir, requested)?, json)
        }
        Command::Plan {
            shared,
            timeout,
            json,
            resource,
        } => {
            let dir = lock_dir(args.dir, Create::No)?;
            plan(
                &policy_for(&dir, requested)?,
                &resource,
                mode(shared),
                timeout,
                json,
            )
        }
        Command::Policy(command) => policy_command(command, args.dir, requested),
    }
}

/// The policy for `dir`: its pinned one, else the requested, else the
/// built-in default.
fn policy_for(dir: &Path, requested: Option<Policy>) -> Result<Policy, Failure> {
    Policy::for_dir(dir, requested).map_err(|e| Failure::from_error(e, exit::CONFLICT))
}

fn policy_command(
    command: PolicyCommand,
    dir: Option<PathBuf>,
    requested: Option<Policy>,
) -> Result<ExitCode, Failure> {
    let fail = |e| Failure::from_error(e, exit::CONFLICT);
    match command {
        PolicyCommand::Check { file } => {
            let policy = load_policy(&file)?;
            let info = policy.info();
            say!(
                "ok: `{}` is policy `{}` {} for contract `{}`; default timeout {}",
                file.display(),
                info.name,
                info.version,
                info.contract,
                human(Duration::from_millis(info.default_timeout_ms)),
            );
        }
        PolicyCommand::Show => {
            let dir = lock_dir(dir, Create::No)?;
            let pinned = if dir.is_dir() {
                Policy::pinned(&dir).map_err(fail)?
            } else {
                None
            };
            match pinned {
                Some(policy) => say!(
                    "lock directory `{}` is pinned to policy `{}` ({})",
                    dir.display(),
                    policy.label(),
                    policy.module()
                ),
                None => {
                    let policy = policy_for(&dir, requested)?;
                    say!(
                        "lock directory `{}` is not pinned; this command would use policy `{}` ({})",
                        dir.display(),
                        policy.label(),
                        policy.module()
                    )
                }
            }
        }
        PolicyCommand::Pin { file } => {
            let dir = lock_dir(dir, Create::Yes)?;
            let policy = match (file, requested) {
                (Some(file), _) => load_policy(&file)?,
                (None, Some(requested)) => requested,
                (None, None) => Policy::embedded().map_err(fail)?,
            };
            if let Some(pinned) = Policy::pinned(&dir).map_err(fail)?
                && pinned.label() != policy.label()
            {
                return Err(Failure::new(
                    exit::USAGE,
                    format!(
                        "error: lock directory `{}` is pinned to policy `{}`; run `wardlock \
                         policy unpin` first, once no process uses the directory",
                        dir.display(),
                        pinned.label()
                    ),
                ));
            }
            policy.pin(&dir).map_err(fail)?;
            say!(
                "pinned lock directory `{}` to policy `{}`",
                dir.display(),
                policy.label()
            );
        }
        PolicyCommand::Unpin => {
            let dir = lock_dir(dir, Create::No)?;
            Policy::unpin(&dir).map_err(fail)?;
            say!("lock directory `{}` is not pinned", dir.display());
        }
        PolicyCommand::Export { out } => {
            let policy = match requested {
                Some(policy) => policy,
                None => Policy::embedded().map_err(fail)?,
            };
            let written = if out.as_os_str() == "-" {
                std::io::Write::write_all(&mut std::io::stdout().lock(), policy.wasm())
            } else {
                std::fs::write(&out, policy.wasm())
            };
            written.map_err(|e| {
                Failure::new(
                    exit::OS,
                    format!("error: failed to write `{}`: {e}", out.display()),
                )
            })?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn mode(shared: bool) -> Mode {
    if shared {
        Mode::Shared
    } else {
        Mode::Exclusive
    }
}

fn timeout(text: Option<String>) -> Timeout {
    text.map_or(Timeout::Default, Timeout::Text)
}

fn load_policy(path: &Path) -> Result<Policy, Failure> {
    Policy::from_file(path).map_err(|e| Failure::from_error(e, exit::CONFLICT))
}

#[derive(PartialEq)]
enum Create {
    Yes,
    No,
}

/// The lock directory: as given, or found; created (the last component
/// only, never its parents) when `create` says so.
fn lock_dir(given: Option<PathBuf>, create: Create) -> Result<PathBuf, Failure> {
    let dir = match given {
        Some(dir) => dir,
        None => {
            let cwd = std::env::current_dir().map_err(|e| {
                Failure::new(
                    exit::OS,
                    format!("error: failed to read the current directory: {e}"),
                )
            })?;
            wardlock::default_dir(&cwd)
        }
    };
    if create == Create::Yes && !dir.is_dir() {
        match std::fs::create_dir(&dir) {
            Ok(()) => tracing::info!("created lock directory `{}`", dir.display()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                let why = match e.kind() {
                    std::io::ErrorKind::NotFound => {
                        "its parent directory does not exist".to_owned()
                    }
                    _ => e.to_string(),
                };
                return Err(Failure::new(
                    exit::OS,
                    format!(
                        "error: failed to create lock directory `{}`: {why}",
                        dir.display()
                    ),
                ));
            }
        }
    }
    Ok(dir)
}

/// The command line as one string, for the owner record.
fn describe(command: &[OsString]) -> String {
    command
        .iter()
        .map(|w| {
            let w = w.to_string_lossy();
            if !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
            {
                w.into_owned()
            } else {
                format!("'{}'", w.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn run(
    dir: &Path,
    policy: Policy,
    resource: &str,
    mode: Mode,
    timeout_text: Option<String>,
    conflict: u8,
    command: &[OsString],
) -> Result<ExitCode, Failure> {
    let on_wait: wardlock::WaitHandler =
        Arc::new(|notice| say_err!("wardlock: {}", notice.message));
    let options = Options {
        command: Some(describe(command)),
        on_wait: Some(on_wait),
    };
    let locks =
        LockDir::open_with(dir, policy, options).map_err(|e| Failure::from_error(e, conflict))?;
    let guard = locks
        .acquire(resource, mode, &timeout(timeout_text))
        .map_err(|e| Failure::from_error(e, conflict))?;

    let mut child = std::process::Command::new(&command[0]);
    child.args(&command[1..]);
    let code = wardlock::child::run(child).map_err(|e| {
        let name = command[0].to_string_lossy();
        match e.kind() {
            std::io::ErrorKind::NotFound => Failure::new(
                exit::NOT_FOUND,
                format!("error: command `{name}` not found (or its interpreter is missing)"),
            ),
            _ => Failure::new(
                exit::CANNOT_RUN,
                format!("error: failed to run `{name}`: {e}"),
            ),
        }
    });
    let lost = guard.lost_lock_files();
    if !lost.is_empty() {
        say_err!(
            "wardlock: warning: lock file `{}` was removed or replaced while the command ran; \
             other processes may have held `{resource}` at the same time",
            lost.join("`, `")
        );
    }
    // Release before reporting, and say so if it fails.
    if let Err(err) = guard.release() {
        say_err!("wardlock: warning: {err}");
    }
    code.map(ExitCode::from)
}

fn status(dir: &Path, policy: Policy, json: bool) -> Result<ExitCode, Failure> {
    let info = policy.info().clone();
    let module = policy.module().to_owned();
    let (statuses, removed) = if dir.is_dir() {
        let locks =
            LockDir::open(dir, policy).map_err(|e| Failure::from_error(e, exit::CONFLICT))?;
        let statuses = locks
            .status()
            .map_err(|e| Failure::from_error(e, exit::CONFLICT))?;
        (statuses, locks.removed_but_held())
    } else {
        (Vec::new(), Vec::new())
    };
    if json {
        let value = serde_json::json!({
            "dir": dir.display().to_string(),
            "policy": {"name": info.name, "version": info.version, "module": module},
            "locks": statuses.iter().map(status_json).collect::<Vec<_>>(),
            "removed_but_held": removed.iter().map(|r| serde_json::json!({
                "lock_file": r.lock_file,
                "pid": r.pid,
                "state": mode_name(Some(r.mode)),
            })).collect::<Vec<_>>(),
        });
        say!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
        return Ok(ExitCode::SUCCESS);
    }
    say!("lock directory: {}", dir.display());
    say!("policy: {} {} ({module})", info.name, info.version);
    if !dir.is_dir() {
        say!("no lock files: the lock directory does not exist yet");
        return Ok(ExitCode::SUCCESS);
    }
    if statuses.is_empty() && removed.is_empty() {
        say!("no lock files");
        return Ok(ExitCode::SUCCESS);
    }
    let mut rows: Vec<[String; 7]> = statuses.iter().map(status_row).collect();
    // Locks on files removed while held: nobody new can see them, and a
    // newcomer would lock a new file of the same name.
    rows.extend(removed.iter().map(|r| {
        [
            "-".to_owned(),
            r.lock_file.clone(),
            format!("{} (file removed!)", mode_name(Some(r.mode))),
            r.pid.map_or_else(|| "-".to_owned(), |p| p.to_string()),
            "-".to_owned(),
            "-".to_owned(),
            "-".to_owned(),
        ]
    }));
    let header = [
        "RESOURCE",
        "LOCK FILE",
        "STATE",
        "PID",
        "OWNER",
        "HELD FOR",
        "COMMAND",
    ]
    .map(String::from);
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        say!("{}", line.join("  ").trim_end());
    }
    Ok(ExitCode::SUCCESS)
}

fn mode_name(mode: Option<Mode>) -> &'static str {
    match mode {
        None => "free",
        Some(Mode::Shared) => "shared",
        Some(Mode::Exclusive) => "exclusive",
    }
}

fn liveness_name(l: Liveness) -> &'static str {
    match l {
        Liveness::Alive => "alive",
        Liveness::Gone => "gone",
        Liveness::Reused => "pid reused",
        Liveness::Unknown => "unknown",
    }
}

/// A duration for people: `850ms`, `1.5s`, `12s`, `5m 3s`, `2h 10m`.
pub fn human(d: Duration) -> String {
    let ms = d.as_millis();
    match ms {
        0..1_000 => format!("{ms}ms"),
        1_000..10_000 if !ms.is_multiple_of(1_000) => format!("{:.1}s", d.as_secs_f64()),
        1_000..60_000 => format!("{}s", ms / 1_000),
        60_000..3_600_000 => format!("{}m {}s", ms / 60_000, ms / 1_000 % 60),
        _ => format!("{}h {}m", ms / 3_600_000, ms / 60_000 % 60),
    }
}

fn status_row(s: &LockStatus) -> [String; 7] {
    let dash = || "-".to_owned();
    let holder = s.holder.as_ref();
    let mut owner = holder.map_or_else(dash, |h| liveness_name(h.liveness).to_owned());
    if s.stale_record {
        owner = format!("stale record ({owner})");
    }
    let pid = holder.and_then(|h| h.pid).map_or_else(dash, |p| {
        let others = holder.map(|h| h.others.len()).unwrap_or(0);
        if others > 0 {
            format!("{p} +{others}")
        } else {
            p.to_string()
        }
    });
    [
        s.resource
            .clone()
            .unwrap_or_else(|| "(not this policy's)".to_owned()),
        s.lock_file.clone(),
        mode_name(s.held).to_owned(),
        pid,
        owner,
        holder
            .and_then(|h| h.held_for_ms)
            .map_or_else(dash, |ms| human(Duration::from_millis(ms))),
        holder.and_then(|h| h.command.clone()).unwrap_or_else(dash),
    ]
}

fn holder_json(h: &Holder) -> serde_json::Value {
    serde_json::json!({
        "pid": h.pid,
        "liveness": liveness_name(h.liveness),
        "command": h.command,
        "host": h.host,
        "since": h.since,
        "held_for_ms": h.held_for_ms,
        "mode": h.mode.map(|m| mode_name(Some(m))),
        "other_pids": h.others,
    })
}

fn status_json(s: &LockStatus) -> serde_json::Value {
    serde_json::json!({
        "lock_file": s.lock_file,
        "resource": s.resource,
        "state": mode_name(s.held),
        "holder": s.holder.as_ref().map(holder_json),
        "stale_record": s.stale_record,
    })
}

fn plan(
    policy: &Policy,
    resource: &str,
    mode: Mode,
    timeout_text: Option<String>,
    json: bool,
) -> Result<ExitCode, Failure> {
    let plan = policy
        .plan(resource, mode, &timeout(timeout_text))
        .map_err(|e| Failure::from_error(e, exit::CONFLICT))?;
    let info = policy.info();
    let timeout = plan
        .timeout_ms
        .map_or("none (waits for ever)".to_owned(), |ms| {
            human(Duration::from_millis(ms))
        });
    if json {
        let value = serde_json::json!({
            "policy": {"name": info.name, "version": info.version, "module": policy.module()},
            "resource": plan.resource,
            "mode": mode_name(Some(plan.mode)),
            "steps": plan.steps.iter().map(|s| serde_json::json!({
                "lock_file": s.lock_file,
                "mode": mode_name(Some(s.mode)),
                "records_owner": s.records_owner,
            })).collect::<Vec<_>>(),
            "timeout_ms": plan.timeout_ms,
        });
        say!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
        return Ok(ExitCode::SUCCESS);
    }
    say!(
        "policy: {} {} ({})",
        info.name,
        info.version,
        policy.module()
    );
    say!(
        "resource: {} ({})",
        plan.resource,
        mode_name(Some(plan.mode))
    );
    for (i, step) in plan.steps.iter().enumerate() {
        let record = if step.records_owner {
            "  with owner record"
        } else {
            ""
        };
        say!(
            "  {}. {}  {}{record}",
            i + 1,
            step.lock_file,
            mode_name(Some(step.mode))
        );
    }
    say!("timeout: {timeout}");
    Ok(ExitCode::SUCCESS)
}
