//! A lock directory under a policy: acquire resources, inspect them, and
//! release them when the guard goes.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::bindings::exports::wardlock::policy::policy::{
    AcquireError, Lease, LockFailure, LockPlan, LockStatus, RequestError,
};
use crate::bindings::wardlock::policy::types::ErrorCode;
use crate::error::Error;
use crate::lock_files::{self, LockTable};
use crate::policy::{Instances, Policy};
use crate::state::{DirShared, WaitHandler};
use crate::{Mode, sys};

/// How long past the caller's timeout the host lets a policy's wait run,
/// for the policy's own steps around it.
const DEADLINE_GRACE: Duration = Duration::from_millis(100);

/// How long `acquire` may wait.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Timeout {
    /// The policy's default (300 s for the default policy).
    #[default]
    Default,
    /// At most this long; zero tries once without waiting.
    After(Duration),
    /// Until the lock is free.
    Forever,
    /// As written by a user (`"1.5"`, `"250ms"`, `"2m"`, `"inf"`), for the
    /// policy to read and check.
    Text(String),
}

impl Timeout {
    /// The timeout as the contract spells it.
    pub(crate) fn spec(&self) -> Option<String> {
        match self {
            Timeout::Default => None,
            Timeout::After(d) => Some(format!("{}.{:09}", d.as_secs(), d.subsec_nanos())),
            Timeout::Forever => Some("inf".to_owned()),
            Timeout::Text(text) => Some(text.clone()),
        }
    }
}

/// Settings for [`LockDir::open_with`].
#[derive(Clone, Default)]
pub struct Options {
    /// What the locks are held for, recorded as the owner's command
    /// (default: this process's command line).
    pub command: Option<String>,
    /// Told each time the policy starts waiting for a lock someone holds.
    pub on_wait: Option<WaitHandler>,
}

/// A lock directory and the policy that governs it. Cheap to clone, `Send`
/// and `Sync`: threads may share one and acquire different resources at
/// once.
#[derive(Clone)]
pub struct LockDir {
    instances: Arc<Instances>,
}

impl std::fmt::Debug for LockDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockDir")
            .field("path", &self.path())
            .field("policy", &self.policy().module())
            .finish()
    }
}

impl LockDir {
    /// Use the existing directory `path` for lock files under `policy`.
    ///
    /// Fails with [`Error::PolicyMismatch`] if the directory is pinned to
    /// another policy; [`Policy::for_dir`] finds the one to use.
    pub fn open(path: impl AsRef<Path>, policy: Policy) -> Result<LockDir, Error> {
        LockDir::open_with(path, policy, Options::default())
    }

    /// Like [`LockDir::open`], with options.
    pub fn open_with(
        path: impl AsRef<Path>,
        policy: Policy,
        options: Options,
    ) -> Result<LockDir, Error> {
        let path = path.as_ref().to_path_buf();
        let fs = sys::Dir::open(&path).map_err(|err| {
            let failure = lock_files::failure(&path.display().to_string(), &err);
            let message = match err.raw_os_error() {
                Some(libc::ENOENT) => "it does not exist".to_owned(),
                Some(libc::ENOTDIR) => "it is not a directory".to_owned(),
                _ => err.to_string(),
            };
            Error::Dir {
                path: path.clone(),
                code: failure.code,
                message,
            }
        })?;
        if let Some(pinned) = Policy::pinned(&path)? {
            crate::policy::check_same(&path, &pinned, &policy)?;
        }
        let dir = Arc::new(DirShared {
            path,
            fs,
            locks: LockTable::default(),
            command: options.command,
            on_wait: options.on_wait,
        });
        Ok(LockDir {
            instances: Arc::new(Instances::new(policy, dir)),
        })
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.instances.dir().path
    }

    /// The policy in use.
    pub fn policy(&self) -> &Policy {
        self.instances.policy()
    }

    /// What acquiring `resource` would take, without taking anything.
    pub fn plan(&self, resource: &str, mode: Mode, timeout: &Timeout) -> Result<LockPlan, Error> {
        let spec = timeout.spec();
        let (result, _) = self.instances.call(Some(Instant::now()), |p, store| {
            p.wardlock_policy_policy()
                .call_plan(store, resource, mode, spec.as_deref())
        })?;
        result.map_err(Error::from)
    }

    /// When waits must end for an acquisition under `timeout`: the
    /// caller's timeout, as the policy reads it, plus a grace. The host
    /// holds a policy to it, so a policy cannot wait longer than asked.
    fn deadline(&self, resource: &str, mode: Mode, timeout: &Timeout) -> Option<Instant> {
        let allowed = match timeout {
            Timeout::After(d) => Some(*d),
            Timeout::Forever => None,
            Timeout::Default => Some(Duration::from_millis(
                self.policy().info().default_timeout_ms,
            )),
            Timeout::Text(_) => match self.plan(resource, mode, timeout) {
                Ok(plan) => plan.timeout_ms.map(Duration::from_millis),
                // The acquisition will be refused before it waits.
                Err(_) => Some(Duration::ZERO),
            },
        };
        allowed.and_then(|d| Instant::now().checked_add(d.saturating_add(DEADLINE_GRACE)))
    }

    /// Acquire `resource` in `mode`, waiting as `timeout` allows. The guard
    /// releases it when dropped.
    pub fn acquire(&self, resource: &str, mode: Mode, timeout: &Timeout) -> Result<Guard, Error> {
        let spec = timeout.spec();
        let deadline = self.deadline(resource, mode, timeout);
        let (result, opened) = self.instances.call(deadline, |p, store| {
            p.wardlock_policy_policy()
                .call_acquire(store, resource, mode, spec.as_deref())
        })?;
        let locks = &self.instances.dir().locks;
        let lease = match result {
            Ok(lease) => lease,
            Err(err) => {
                for handle in opened {
                    locks.close(handle);
                }
                return Err(match err {
                    AcquireError::Invalid(e) => Error::from(e),
                    AcquireError::Busy(c) => Error::Busy(Box::new(c)),
                    AcquireError::TimedOut(c) => Error::TimedOut(Box::new(c)),
                    AcquireError::Refused(c) => Error::Refused(Box::new(c)),
                    AcquireError::Failed(f) => self.lock_error(f),
                });
            }
        };
        // A lease may only name handles this very call opened: naming any
        // other (another lease's, or none) would let its release drop
        // locks it never took.
        if let Some(bad) = lease.locks.iter().find(|l| !opened.contains(&l.file)) {
            let reason = format!(
                "returned a lease naming handle {}, which it did not open",
                bad.file
            );
            for handle in opened {
                locks.close(handle);
            }
            return Err(Error::Policy {
                module: self.policy().module().to_owned(),
                reason,
            });
        }
        // Whatever the call opened and did not put in the lease is the
        // policy's litter: close it.
        for handle in opened {
            if !lease.locks.iter().any(|l| l.file == handle) {
                locks.close(handle);
            }
        }
        Ok(Guard {
            dir: self.clone(),
            lease: Some(lease),
            owner: sys::pid(),
        })
    }

    /// A host failure the policy reported. A correct policy never asks for
    /// an invalid name or an unknown handle, so those are the policy's
    /// fault, and the error names it.
    fn lock_error(&self, f: LockFailure) -> Error {
        match f.failure.code {
            ErrorCode::InvalidName | ErrorCode::BadHandle => Error::Policy {
                module: self.policy().module().to_owned(),
                reason: format!(
                    "asked for lock file `{}`: {}",
                    f.lock_file, f.failure.message
                ),
            },
            code => Error::Lock {
                lock_file: f.lock_file,
                code,
                message: f.failure.message,
            },
        }
    }

    /// Every lock file in the directory, with its state and holder.
    pub fn status(&self) -> Result<Vec<LockStatus>, Error> {
        let (result, opened) = self.instances.call(Some(Instant::now()), |p, store| {
            p.wardlock_policy_policy().call_status(store)
        })?;
        for handle in opened {
            self.instances.dir().locks.close(handle);
        }
        result.map_err(|f| self.lock_error(f))
    }

    /// Locks still held on lock files of this directory that were removed
    /// while held (by a temp cleaner or a person): the holder keeps a lock
    /// that nobody else can see, and a newcomer would lock a new file of
    /// the same name. Found through the kernel's lock table (Linux).
    pub fn removed_but_held(&self) -> Vec<RemovedLock> {
        sys::removed_but_held(self.path())
            .into_iter()
            .map(|(lock_file, held)| RemovedLock {
                lock_file,
                pid: held.pid,
                mode: held.mode,
            })
            .collect()
    }

    /// Release a lease through the policy, then close whatever of it the
    /// policy left open: a lease never outlives its guard.
    fn release(&self, lease: Lease) -> Result<(), Error> {
        let handles: Vec<u32> = lease.locks.iter().rev().map(|l| l.file).collect();
        let result = self.instances.call(Some(Instant::now()), |p, store| {
            p.wardlock_policy_policy().call_release(store, &lease)
        });
        let locks = &self.instances.dir().locks;
        for handle in handles {
            locks.close(handle);
        }
        let (result, opened) = result?;
        for handle in opened {
            locks.close(handle);
        }
        result.map_err(|f| self.lock_error(f))
    }
}

/// A lock held on a lock file whose name was removed while held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedLock {
    /// The name the file had.
    pub lock_file: String,
    /// The holding process, when the lock table names it.
    pub pid: Option<u32>,
    /// The mode it is held in.
    pub mode: Mode,
}

impl From<RequestError> for Error {
    fn from(err: RequestError) -> Error {
        match err {
            RequestError::InvalidResource(why) => Error::InvalidResource(why),
            RequestError::InvalidTimeout(why) => Error::InvalidTimeout(why),
        }
    }
}

/// A held resource. Dropping it releases the resource; [`Guard::release`]
/// does the same and reports failures.
#[must_use = "the resource is released as soon as the guard is dropped"]
pub struct Guard {
    dir: LockDir,
    lease: Option<Lease>,
    /// The process that acquired the lease. A forked child that inherits
    /// the guard must not release it: the locks and the owner records are
    /// its parent's.
    owner: u32,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("resource", &self.resource())
            .finish_non_exhaustive()
    }
}

impl Guard {
    /// The resource held, in its canonical spelling.
    pub fn resource(&self) -> &str {
        self.lease.as_ref().map_or("", |l| l.resource.as_str())
    }

    /// The mode it is held in.
    pub fn mode(&self) -> Mode {
        self.lease.as_ref().map_or(Mode::Shared, |l| l.mode)
    }

    /// The lock files held, in the order they were taken.
    pub fn lock_files(&self) -> Vec<String> {
        self.lease
            .iter()
            .flat_map(|l| l.locks.iter().map(|h| h.lock_file.clone()))
            .collect()
    }

    /// The lock files of this lease that were removed or replaced while
    /// held (by a temp cleaner or a person). Empty while all is well; if
    /// not, processes may have taken the resource since.
    pub fn lost_lock_files(&self) -> Vec<String> {
        let dir = self.dir.instances.dir();
        self.lease
            .iter()
            .flat_map(|l| l.locks.iter())
            .filter(|held| !dir.locks.intact(&dir.fs, held.file))
            .map(|held| held.lock_file.clone())
            .collect()
    }

    /// Release the resource now, reporting any failure.
    pub fn release(mut self) -> Result<(), Error> {
        match self.lease.take() {
            Some(lease) => self.give_back(lease),
            None => Ok(()),
        }
    }

    /// Release `lease` through the policy, or, in a forked child, only
    /// close this process's copies of its descriptors.
    fn give_back(&self, lease: Lease) -> Result<(), Error> {
        if sys::pid() == self.owner {
            return self.dir.release(lease);
        }
        let locks = &self.dir.instances.dir().locks;
        for held in &lease.locks {
            locks.close(held.file);
        }
        Ok(())
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(lease) = self.lease.take() {
            let resource = lease.resource.clone();
            if let Err(err) = self.give_back(lease) {
                tracing::warn!(%resource, "failed to release cleanly: {err}");
            }
        }
    }
}

/// The directory wardlock uses when none is given: `$WARDLOCK_DIR`, else
/// the nearest `.kittify` directory above `start`, else `start/.kittify`.
pub fn default_dir(start: &Path) -> PathBuf {
    if let Some(dir) = std::env::var_os(ENV_DIR).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    start
        .ancestors()
        .map(|a| a.join(PROJECT_DIR))
        .find(|candidate| candidate.is_dir())
        .unwrap_or_else(|| start.join(PROJECT_DIR))
}

/// The environment variable that names the lock directory.
pub const ENV_DIR: &str = "WARDLOCK_DIR";

/// The project directory that holds lock files, as in the original design.
pub const PROJECT_DIR: &str = ".kittify";

#[cfg(test)]
mod tests {
    //! Failures the machine cannot easily produce, through the OS layer's
    //! fault seam: each must surface at once as its own error, never as
    //! contention, and leave nothing held.

    use std::time::{Duration, Instant};

    use super::*;
    use crate::ErrorCode;
    use crate::sys::fault::{self, Op};

    fn dir() -> (tempfile::TempDir, LockDir) {
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = LockDir::open(temp.path(), Policy::embedded().expect("policy")).expect("dir");
        (temp, dir)
    }

    /// Acquire a work package with a fault due, timing how long it took.
    fn acquire_with_fault(dir: &LockDir, op: Op, errno: i32) -> (Result<Guard, Error>, Duration) {
        fault::inject(op, errno);
        let start = Instant::now();
        let result = dir.acquire(
            "wp:f/WP01",
            Mode::Exclusive,
            &Timeout::After(Duration::from_secs(30)),
        );
        (result, start.elapsed())
    }

    fn assert_fails_at_once(op: Op, errno: i32, code: ErrorCode) {
        let (_temp, dir) = dir();
        let (result, took) = acquire_with_fault(&dir, op, errno);

        match result {
            Err(Error::Lock { code: got, .. }) => assert_eq!(got, code, "{op:?} {errno}"),
            other => panic!("{op:?} {errno}: expected a lock failure, got {other:?}"),
        }
        assert!(
            took < Duration::from_secs(10),
            "{op:?} {errno} was waited on for {took:?}"
        );
        let again = dir.acquire(
            "wp:f/WP01",
            Mode::Exclusive,
            &Timeout::After(Duration::ZERO),
        );
        assert!(
            again.is_ok(),
            "nothing stays held after {op:?} {errno}: {again:?}"
        );
    }

    #[test]
    fn locks_refused_by_the_file_system_are_unsupported_not_busy() {
        assert_fails_at_once(Op::TryLock, libc::ENOLCK, ErrorCode::Unsupported);
        assert_fails_at_once(Op::TryLock, libc::ENOTSUP, ErrorCode::Unsupported);
        assert_fails_at_once(Op::TryLock, libc::ENOSYS, ErrorCode::Unsupported);
    }

    #[test]
    fn refused_opens_are_named_for_what_they_are() {
        assert_fails_at_once(Op::OpenLockFile, libc::EACCES, ErrorCode::PermissionDenied);
        assert_fails_at_once(Op::OpenLockFile, libc::EROFS, ErrorCode::ReadOnly);
        assert_fails_at_once(Op::OpenLockFile, libc::ENOENT, ErrorCode::NotFound);
    }

    #[test]
    fn a_full_disk_while_writing_the_owner_record_gives_up_the_lock() {
        let (_temp, dir) = dir();
        let (result, _) = acquire_with_fault(&dir, Op::WriteRecord, libc::ENOSPC);

        assert!(
            matches!(
                &result,
                Err(Error::Lock {
                    code: ErrorCode::NoSpace,
                    ..
                })
            ),
            "{result:?}"
        );
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            names.iter().all(|n| !n.contains(".owner")),
            "no half record or temporary file is left: {names:?}"
        );
        let again = dir.acquire(
            "wp:f/WP01",
            Mode::Exclusive,
            &Timeout::After(Duration::ZERO),
        );
        assert!(again.is_ok(), "{again:?}");
    }

    #[test]
    fn a_lock_file_removed_while_held_is_reported_as_lost() {
        let (temp, dir) = dir();
        let guard = dir
            .acquire("config:x", Mode::Exclusive, &Timeout::Default)
            .unwrap();
        assert!(guard.lost_lock_files().is_empty());

        std::fs::remove_file(temp.path().join(".lock-config-x")).unwrap();

        assert_eq!(guard.lost_lock_files(), [".lock-config-x"]);
    }
}
