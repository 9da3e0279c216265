//! The lock policy: plans, acquisition, release and status.
//!
//! # Design
//!
//! **Naming.** A resource id (`wp:<feature>/<WPxx>`, `wp:<WPxx>`,
//! `feature:<slug>`, `config:<name>`) maps to one lock file of its own,
//! named `.lock-WP-<feature>-<WPxx>`, `.lock-WP-<WPxx>`,
//! `.lock-feature-<slug>` or `.lock-config-<name>`. The mapping is
//! injective, even on case-insensitive file systems, keeps names under 81
//! bytes of `[A-Za-z0-9._-]`, and never yields a name the host reserves for
//! owner records; [`crate::resource`] has the rules and the inverse that
//! `status` uses.
//!
//! **Lock order.** A work package of a feature takes the feature's lock
//! file shared, then its own: exclusive, or shared for a shared request.
//! A feature taken exclusively therefore waits for every work package of
//! the feature and keeps new ones out, while work packages of one feature
//! do not block each other. Every plan takes a feature before a work
//! package and never the reverse, and takes at most one lock file of each
//! kind, so two plans cannot wait on each other in a cycle. Locks are
//! released in the reverse order.
//!
//! **Timeouts.** A timeout bounds the whole acquisition, measured on the
//! host's monotonic clock from the start of `acquire`, so a step that waited
//! leaves less for the next. `0` tries each lock once; no timeout means
//! the preset's default. Each lock is first tried without waiting; only a
//! busy lock is described to the user (`report.waiting`) and then waited
//! for, woken by the host when it is released. Contention ends as `busy`
//! (timeout zero), `timed-out` or, for a strict preset, `refused`; any host
//! failure ends as `failed` and is never retried as contention. Whatever
//! the outcome, nothing taken by a failed `acquire` stays held.
//!
//! **Owner records.** After all locks are held, each step taken exclusively
//! on the resource's own lock file gets an owner record (pid, start token,
//! host, command, when). A record found there already is a leftover: the
//! lock is now ours, so its writer no longer holds it. It is replaced, with
//! one warning naming its owner. If the record cannot be written the lease
//! is given up, so a lock is never held without a record saying so.
//! Release clears the records while the locks are still held, then closes.
//!
//! **When an owner counts as gone.** Only when `processes.probe` says so:
//! no process with the recorded pid runs on this host (`gone`), or one runs
//! with another start token (`reused`). An owner on another host or in
//! another PID namespace is `unknown`, never gone. The strict preset
//! refuses to wait when the lock is held exclusively while its record's
//! owner is gone or reused, such as when a descriptor leaked into a
//! daemon; before refusing it waits a short grace period and looks again,
//! so that a new holder that has just taken the lock but not yet written
//! its record is not mistaken for an orphan.
//!
//! **Not guaranteed.** Locks are as good as the host's: `flock` on network
//! file systems may be unsupported (a failure, reported as such) or
//! advisory per client. Pids mean nothing across hosts or PID namespaces,
//! so such owners stay `unknown`. A program that takes the lock without
//! writing a record (a Python `filelock` peer) while a dead wardlock
//! holder's record remains beside it looks orphaned to the strict preset.
//! `status` is a snapshot: locks may change hands while it is read.

use crate::holder::{RecordView, Survey, liveness_word, survey};
use crate::host::Host;
use crate::record::{OwnerRecord, PolicyStamp, rfc3339_ms};
use crate::resource::Resource;
use crate::text::{human_ms, quote};
use crate::timeout::{NS_PER_MS, Timeout};
use crate::wit::{
    AcquireError, Attempt, Contention, Disposition, ErrorCode, Failure, Handle, HeldLock, Lease,
    Level, Liveness, LockFailure, LockPlan, LockStatus, Mode, PolicyInfo, RequestError, Step,
    WaitNotice,
};

/// Why an owner record the host would not read is unreadable.
pub(crate) fn unreadable_reason(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::TooLarge => "larger than the host reads",
        _ => "not a regular file",
    }
}

/// The contract every policy built from this crate implements.
pub const CONTRACT: &str = "wardlock:policy@0.1.0";

/// How long a busy lock is waited for quietly before its holder is
/// described and the user told: most waits end sooner, and need neither.
pub const QUIET_WAIT_NS: u64 = 20 * NS_PER_MS;

/// How long a strict preset looks again before calling a holder orphaned.
pub const ORPHAN_GRACE_NS: u64 = 250 * NS_PER_MS;

/// The lock-file name a [`LockFailure`] carries when no lock file is
/// concerned (listing the directory).
pub const NO_LOCK_FILE: &str = "";

/// What a policy does when a lock is held while its recorded owner is gone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrphanedHolder {
    /// Wait for it like any other holder; the messages say it is gone.
    Wait,
    /// Refuse at once with `acquire-error.refused`.
    Refuse,
}

/// What sets one policy apart from another built from this engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Preset {
    /// The policy's short name, such as `default`.
    pub name: &'static str,
    /// The policy's version, usually its crate's.
    pub version: &'static str,
    /// The timeout when a caller gives none, in milliseconds.
    pub default_timeout_ms: u64,
    /// What to do about a holder whose recorded owner is gone.
    pub orphaned_holder: OrphanedHolder,
}

/// A validated request: what to take, in which order, for how long.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Request {
    /// The resource, canonical.
    resource: String,
    /// The mode asked for.
    mode: Mode,
    /// The lock files to take, in order.
    steps: Vec<Step>,
    /// How long to wait in total.
    timeout: Timeout,
}

impl Request {
    /// Validate a resource and a timeout; touches nothing.
    fn new(
        preset: &Preset,
        resource: &str,
        mode: Mode,
        timeout: Option<&str>,
    ) -> Result<Request, RequestError> {
        let parsed = Resource::parse(resource).map_err(RequestError::InvalidResource)?;
        let timeout = Timeout::parse_or(timeout, preset.default_timeout_ms)
            .map_err(RequestError::InvalidTimeout)?;
        let own = Step {
            lock_file: parsed.lock_file(),
            mode,
            records_owner: mode == Mode::Exclusive,
        };
        let steps = match &parsed {
            Resource::WorkPackage {
                feature: Some(feature),
                ..
            } => vec![
                Step {
                    lock_file: Resource::Feature(feature.clone()).lock_file(),
                    mode: Mode::Shared,
                    records_owner: false,
                },
                own,
            ],
            _ => vec![own],
        };
        Ok(Request {
            resource: parsed.to_string(),
            mode,
            steps,
            timeout,
        })
    }
}

/// Who this policy is.
pub fn info(preset: &Preset) -> PolicyInfo {
    PolicyInfo {
        name: preset.name.to_owned(),
        version: preset.version.to_owned(),
        contract: CONTRACT.to_owned(),
        default_timeout_ms: preset.default_timeout_ms,
    }
}

/// The steps `acquire` would take, without taking any.
pub fn plan(
    preset: &Preset,
    resource: &str,
    mode: Mode,
    timeout: Option<&str>,
) -> Result<LockPlan, RequestError> {
    let request = Request::new(preset, resource, mode, timeout)?;
    Ok(LockPlan {
        resource: request.resource,
        mode: request.mode,
        steps: request.steps,
        timeout_ms: request.timeout.as_ms(),
    })
}

/// Take every lock file of a resource in plan order, waiting at most the
/// timeout, and record the owner; on any error nothing stays held.
#[expect(
    clippy::result_large_err,
    reason = "`acquire-error` is the WIT contract's type, returned by value across it"
)]
pub fn acquire(
    host: &mut impl Host,
    preset: &Preset,
    resource: &str,
    mode: Mode,
    timeout: Option<&str>,
) -> Result<Lease, AcquireError> {
    let request = Request::new(preset, resource, mode, timeout).map_err(AcquireError::Invalid)?;
    let mut acquisition = Acquisition {
        preset,
        request: &request,
        started_ns: host.monotonic_now(),
        local_host: None,
    };

    // Take the locks in order; on the first error give back what is held.
    let mut held: Vec<HeldLock> = Vec::with_capacity(request.steps.len());
    for step in &request.steps {
        match acquisition.take(host, step) {
            Ok(file) => held.push(HeldLock {
                lock_file: step.lock_file.clone(),
                mode: step.mode,
                file,
                records_owner: false,
            }),
            Err(error) => {
                give_back(host, &held);
                return Err(error);
            }
        }
    }

    // Every lock is held: now say who holds them.
    let acquired_at_ms = host.wall_now();
    if let Err(error) = write_records(host, preset, &request, &mut held, acquired_at_ms) {
        give_back(host, &held);
        return Err(error);
    }
    log(
        host,
        Level::Debug,
        &format!(
            "acquired `{}` {}: {}",
            request.resource,
            mode_word(request.mode),
            held.iter()
                .map(|l| format!("`{}` {}", l.lock_file, mode_word(l.mode)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    Ok(Lease {
        resource: request.resource.clone(),
        mode: request.mode,
        locks: held,
        acquired_at_ms,
    })
}

/// Clear a lease's owner records, then close its lock files in reverse
/// order; the first failure is returned, but everything is closed.
pub fn release(host: &mut impl Host, lease: &Lease) -> Result<(), LockFailure> {
    log(
        host,
        Level::Debug,
        &format!(
            "releasing `{}` ({} lock files)",
            quote(&lease.resource),
            lease.locks.len()
        ),
    );
    match release_locks(host, &lease.locks) {
        None => Ok(()),
        Some(failure) => Err(failure),
    }
}

/// Every lock file in the directory, with its state and holder; takes no
/// lock.
pub fn status(host: &mut impl Host) -> Result<Vec<LockStatus>, LockFailure> {
    let names = host.list_files().map_err(|failure| LockFailure {
        lock_file: NO_LOCK_FILE.to_owned(),
        failure,
    })?;
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let file = match host.open(&name, Disposition::Existing) {
            Ok(file) => file,
            Err(Failure {
                code: ErrorCode::NotFound,
                ..
            }) => {
                log(
                    host,
                    Level::Debug,
                    &format!(
                        "lock file `{}` vanished while listing; skipped",
                        quote(&name)
                    ),
                );
                continue;
            }
            Err(failure) => {
                return Err(LockFailure {
                    lock_file: name,
                    failure,
                });
            }
        };
        let surveyed = survey(host, file);
        host.close(file);
        let surveyed = surveyed.map_err(|failure| LockFailure {
            lock_file: name.clone(),
            failure,
        })?;
        out.push(lock_status(name, surveyed));
    }
    Ok(out)
}

/// One lock file's status from its survey.
fn lock_status(lock_file: String, surveyed: Survey) -> LockStatus {
    let held = surveyed.state.held;
    let pids = &surveyed.state.holders;

    // A record is stale unless the lock is held exclusively by its pid (or,
    // when the host shows no pids, by an owner that may still run).
    let stale_record = match &surveyed.record {
        RecordView::Absent => false,
        RecordView::Unreadable(_) => true,
        RecordView::Valid { record, liveness } => {
            let confirmed = if pids.is_empty() {
                !matches!(liveness, Liveness::Gone | Liveness::Reused)
            } else {
                pids.contains(&record.pid)
            };
            !(held == Some(Mode::Exclusive) && confirmed)
        }
    };
    let has_holder = held.is_some() || matches!(surveyed.record, RecordView::Valid { .. });
    LockStatus {
        resource: Resource::from_lock_file(&lock_file).map(|r| r.to_string()),
        lock_file,
        held,
        holder: has_holder.then_some(surveyed.holder),
        stale_record,
    }
}

/// Wait up to `ns` for a busy lock without telling the user; whether it
/// was taken. `when` finishes the debug record of a success.
#[expect(
    clippy::result_large_err,
    reason = "`acquire-error` is the WIT contract's type, returned by value across it"
)]
fn wait_unannounced(
    host: &mut impl Host,
    step: &Step,
    file: Handle,
    ns: u64,
    when: &str,
) -> Result<bool, AcquireError> {
    let name = &step.lock_file;
    let attempt = host
        .lock(file, step.mode, ns)
        .map_err(|failure| failed(host, name, failure))?;
    let taken = attempt == Attempt::Acquired;
    if taken {
        log(
            host,
            Level::Debug,
            &format!("lock file `{name}` taken {} {when}", mode_word(step.mode)),
        );
    }
    Ok(taken)
}

/// The state of one `acquire` call.
struct Acquisition<'a> {
    /// The policy's preset.
    preset: &'a Preset,
    /// What is being acquired.
    request: &'a Request,
    /// When the acquisition started, on the monotonic clock.
    started_ns: u64,
    /// This machine's name, once asked for.
    local_host: Option<String>,
}

impl Acquisition<'_> {
    /// Open one step's lock file and take it; the handle is closed again
    /// unless the lock was taken.
    #[expect(
        clippy::result_large_err,
        reason = "`acquire-error` is the WIT contract's type, returned by value across it"
    )]
    fn take(&mut self, host: &mut impl Host, step: &Step) -> Result<Handle, AcquireError> {
        let file = host
            .open(&step.lock_file, Disposition::Create)
            .map_err(|failure| failed(host, &step.lock_file, failure))?;
        match self.take_open(host, step, file) {
            Ok(()) => Ok(file),
            Err(error) => {
                host.close(file);
                Err(error)
            }
        }
    }

    /// Take an open lock file: try once, then wait if the timeout allows.
    #[expect(
        clippy::result_large_err,
        reason = "`acquire-error` is the WIT contract's type, returned by value across it"
    )]
    fn take_open(
        &mut self,
        host: &mut impl Host,
        step: &Step,
        file: Handle,
    ) -> Result<(), AcquireError> {
        let name = &step.lock_file;
        let attempt = host
            .try_lock(file, step.mode)
            .map_err(|failure| failed(host, name, failure))?;
        if attempt == Attempt::Acquired {
            log(
                host,
                Level::Debug,
                &format!("lock file `{name}` free, taken {}", mode_word(step.mode)),
            );
            return Ok(());
        }
        // Most waits are short: wait quietly first, and describe the holder
        // and tell the user only if the lock is still held after that.
        if !self.request.timeout.is_zero() && self.preset.orphaned_holder == OrphanedHolder::Wait {
            let quiet = QUIET_WAIT_NS.min(self.remaining_ns(host));
            if quiet > 0 && wait_unannounced(host, step, file, quiet, "after a short wait")? {
                return Ok(());
            }
        }
        let mut seen = self.survey(host, file, name);

        // A strict policy does not wait for an orphaned holder, but first
        // gives a new holder a moment to replace the leftover record.
        if self.preset.orphaned_holder == OrphanedHolder::Refuse && seen.orphaned_owner().is_some()
        {
            if !self.request.timeout.is_zero() {
                let grace = ORPHAN_GRACE_NS.min(self.remaining_ns(host));
                log(
                    host,
                    Level::Debug,
                    &format!(
                        "lock file `{name}` held while its recorded owner is gone; \
                         looking again in {}",
                        human_ms(grace / NS_PER_MS)
                    ),
                );
                if wait_unannounced(host, step, file, grace, "during the grace")? {
                    return Ok(());
                }
                seen = self.survey(host, file, name);
            }
            if let Some((record, liveness)) = seen.orphaned_owner() {
                let command = record
                    .command
                    .as_deref()
                    .map(|c| format!(" (`{}`)", quote(c)))
                    .unwrap_or_default();
                let message = format!(
                    "refusing to wait for `{}` (lock file `{name}`): {}; its owner record names \
                     pid {}{command}, which is {}, so the lock was probably inherited by another \
                     process",
                    self.request.resource,
                    seen.phrase(&self.local_host(host)),
                    record.pid,
                    liveness_word(liveness),
                );
                log(host, Level::Debug, &message);
                return Err(AcquireError::Refused(
                    self.contention(host, name, seen, message),
                ));
            }
        }

        // Timeout zero: report the holder and give up.
        if self.request.timeout.is_zero() {
            let message = format!(
                "`{}` is busy: lock file `{name}` {}",
                self.request.resource,
                seen.phrase(&self.local_host(host))
            );
            log(
                host,
                Level::Debug,
                &format!("{message}; timeout is zero, not waiting"),
            );
            return Err(AcquireError::Busy(
                self.contention(host, name, seen, message),
            ));
        }

        // Earlier steps may have used up the time.
        let remaining = self.remaining_ns(host);
        if remaining == 0 {
            return Err(self.timed_out(host, name, seen));
        }

        // Tell the user, then wait for the host to wake us.
        let wait = match self.request.timeout {
            Timeout::Forever => Timeout::Forever,
            Timeout::After(_) => Timeout::After(remaining),
        };
        let holder = seen.phrase(&self.local_host(host));
        log(
            host,
            Level::Debug,
            &format!(
                "lock file `{name}` busy, {holder}; waiting {}",
                wait.describe()
            ),
        );
        let notice = WaitNotice {
            resource: self.request.resource.clone(),
            lock_file: name.clone(),
            mode: step.mode,
            timeout_ms: wait.as_ms().unwrap_or(u64::MAX),
            message: format!(
                "waiting for `{}` (lock file `{name}`), {holder}; will wait {}",
                self.request.resource,
                wait.describe()
            ),
        };
        host.waiting(&notice);
        let attempt = host
            .lock(file, step.mode, remaining)
            .map_err(|failure| failed(host, name, failure))?;
        if attempt == Attempt::Acquired {
            let waited = self.waited_ms(host);
            log(
                host,
                Level::Debug,
                &format!(
                    "lock file `{name}` taken {} after {}",
                    mode_word(step.mode),
                    human_ms(waited)
                ),
            );
            return Ok(());
        }
        let seen = self.survey(host, file, name);
        Err(self.timed_out(host, name, seen))
    }

    /// Nanoseconds left before the deadline; `u64::MAX` for ever.
    fn remaining_ns(&self, host: &mut impl Host) -> u64 {
        match self.request.timeout {
            Timeout::Forever => u64::MAX,
            Timeout::After(limit) => {
                let spent = host.monotonic_now().saturating_sub(self.started_ns);
                limit.saturating_sub(spent)
            }
        }
    }

    /// Milliseconds since the acquisition started.
    fn waited_ms(&self, host: &mut impl Host) -> u64 {
        host.monotonic_now().saturating_sub(self.started_ns) / NS_PER_MS
    }

    /// This machine's name, asked for once.
    fn local_host(&mut self, host: &mut impl Host) -> String {
        self.local_host
            .get_or_insert_with(|| host.current().host)
            .clone()
    }

    /// Survey a busy lock file; describing the holder is best effort, so a
    /// host failure here is logged and leaves the holder unknown.
    fn survey(&self, host: &mut impl Host, file: Handle, name: &str) -> Survey {
        survey(host, file).unwrap_or_else(|failure| {
            log(
                host,
                Level::Warn,
                &format!(
                    "cannot describe the holder of lock file `{name}`: {}",
                    quote(&failure.message)
                ),
            );
            Survey::unknown()
        })
    }

    /// The contention record for a lock file that was not free.
    fn contention(
        &self,
        host: &mut impl Host,
        name: &str,
        seen: Survey,
        message: String,
    ) -> Contention {
        Contention {
            resource: self.request.resource.clone(),
            lock_file: name.to_owned(),
            holder: seen.holder,
            waited_ms: self.waited_ms(host),
            message,
        }
    }

    /// The error for a lock still held when the time ran out.
    fn timed_out(&mut self, host: &mut impl Host, name: &str, seen: Survey) -> AcquireError {
        let waited = self.waited_ms(host);
        let message = format!(
            "timed out after {} waiting for `{}` (lock file `{name}`): {}",
            human_ms(waited),
            self.request.resource,
            seen.phrase(&self.local_host(host))
        );
        log(host, Level::Debug, &message);
        AcquireError::TimedOut(self.contention(host, name, seen, message))
    }
}

/// Replace leftover owner records and write ours, for every held step
/// that records its owner; marks each lock whose record was written.
#[expect(
    clippy::result_large_err,
    reason = "`acquire-error` is the WIT contract's type, returned by value across it"
)]
fn write_records(
    host: &mut impl Host,
    preset: &Preset,
    request: &Request,
    held: &mut [HeldLock],
    acquired_at_ms: u64,
) -> Result<(), AcquireError> {
    let mut ours: Option<Vec<u8>> = None;
    for (lock, step) in held.iter_mut().zip(&request.steps) {
        if !step.records_owner {
            continue;
        }

        // A record already there is a leftover: the lock is ours now.
        match host.read_owner(lock.file) {
            Ok(None) => {}
            Ok(Some(bytes)) => {
                let warning = match OwnerRecord::decode(&bytes) {
                    Ok(old) => leftover_warning(host, &lock.lock_file, &old),
                    Err(reason) => format!(
                        "unreadable owner record beside lock file `{}` ({}) replaced",
                        lock.lock_file,
                        quote(&reason)
                    ),
                };
                log(host, Level::Warn, &warning);
            }
            // Too large to read, or something planted in its place that
            // the host will not open: the rename below replaces it (a link
            // itself, never what it points to).
            Err(Failure {
                code: code @ (ErrorCode::TooLarge | ErrorCode::NotRegularFile),
                ..
            }) => log(
                host,
                Level::Warn,
                &format!(
                    "unreadable owner record beside lock file `{}` ({}) replaced",
                    lock.lock_file,
                    unreadable_reason(code)
                ),
            ),
            Err(failure) => return Err(failed(host, &lock.lock_file, failure)),
        }

        let bytes = ours.get_or_insert_with(|| {
            let me = host.current();
            OwnerRecord {
                pid: me.pid,
                start_token: me.start_token,
                started_at_ms: me.started_at_ms,
                host: me.host,
                command: me.command,
                resource: request.resource.clone(),
                mode: mode_word(request.mode).to_owned(),
                acquired_at: rfc3339_ms(acquired_at_ms),
                acquired_at_ms: Some(acquired_at_ms),
                policy: PolicyStamp {
                    name: preset.name.to_owned(),
                    version: preset.version.to_owned(),
                },
            }
            .encode()
        });
        host.write_owner(lock.file, bytes)
            .map_err(|failure| failed(host, &lock.lock_file, failure))?;
        lock.records_owner = true;
        log(
            host,
            Level::Debug,
            &format!("owner record written beside lock file `{}`", lock.lock_file),
        );
    }
    Ok(())
}

/// The warning for a readable leftover record about to be replaced.
fn leftover_warning(host: &mut impl Host, lock_file: &str, old: &OwnerRecord) -> String {
    let liveness = host.probe(old.pid, &old.start_token, &old.host);
    let command = old
        .command
        .as_deref()
        .map(|c| format!("`{}`", quote(c)))
        .unwrap_or_else(|| "command unknown".to_owned());
    let age = match old.acquired_at_ms {
        Some(at) => format!("taken {} ago", human_ms(host.wall_now().saturating_sub(at))),
        None => "taken at an unknown time".to_owned(),
    };
    format!(
        "leftover owner record beside lock file `{lock_file}` replaced: pid {} ({command}, on \
         `{}`, {}, {age})",
        old.pid,
        quote(&old.host),
        liveness_word(liveness)
    )
}

/// Clear the records, then close every lock in reverse order; the first
/// failure, if any.
fn release_locks(host: &mut impl Host, locks: &[HeldLock]) -> Option<LockFailure> {
    let mut first: Option<LockFailure> = None;
    for lock in locks.iter().rev().filter(|l| l.records_owner) {
        match host.clear_owner(lock.file) {
            Ok(()) => log(
                host,
                Level::Debug,
                &format!(
                    "owner record beside lock file `{}` cleared",
                    quote(&lock.lock_file)
                ),
            ),
            Err(failure) => {
                log(
                    host,
                    Level::Warn,
                    &format!(
                        "cannot clear the owner record beside lock file `{}`: {}",
                        quote(&lock.lock_file),
                        quote(&failure.message)
                    ),
                );
                first.get_or_insert(LockFailure {
                    lock_file: lock.lock_file.clone(),
                    failure,
                });
            }
        }
    }
    for lock in locks.iter().rev() {
        host.close(lock.file);
        log(
            host,
            Level::Debug,
            &format!("lock file `{}` released", quote(&lock.lock_file)),
        );
    }
    first
}

/// Give back what a failed acquisition held; failures are logged only,
/// since the acquisition's own error is the one to report.
fn give_back(host: &mut impl Host, held: &[HeldLock]) {
    release_locks(host, held);
}

/// The error for a host failure on a lock file, logged with its reason.
fn failed(host: &mut impl Host, lock_file: &str, failure: Failure) -> AcquireError {
    log(
        host,
        Level::Debug,
        &format!(
            "lock file `{lock_file}` failed, not retried: {}",
            quote(&failure.message)
        ),
    );
    AcquireError::Failed(LockFailure {
        lock_file: lock_file.to_owned(),
        failure,
    })
}

/// A mode in messages and records.
pub fn mode_word(mode: Mode) -> &'static str {
    match mode {
        Mode::Shared => "shared",
        Mode::Exclusive => "exclusive",
    }
}

/// Send a log record to the host.
fn log(host: &mut impl Host, level: Level, message: &str) {
    host.log(level, message);
}
