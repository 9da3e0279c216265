//! A lock directory under a policy: acquire resources, inspect them, and
//! release them when the guard goes.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::bindings::exports::wardlock::policy::policy::{
    AcquireError, Lease, LockPlan, LockStatus, RequestError,
};
use crate::error::Error;
use crate::lock_files::{self, LockTable};
use crate::policy::{Instances, Policy};
use crate::state::{DirShared, WaitHandler};
use crate::{Mode, sys};

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
        let (result, _) = self.instances.call(|p, store| {
            p.wardlock_policy_policy()
                .call_plan(store, resource, mode, spec.as_deref())
        })?;
        result.map_err(Error::from)
    }

    /// Acquire `resource` in `mode`, waiting as `timeout` allows. The guard
    /// releases it when dropped.
    pub fn acquire(&self, resource: &str, mode: Mode, timeout: &Timeout) -> Result<Guard, Error> {
        let spec = timeout.spec();
        let (result, opened) = self.instances.call(|p, store| {
            p.wardlock_policy_policy()
                .call_acquire(store, resource, mode, spec.as_deref())
        })?;
        let locks = &self.instances.dir().locks;
        match result {
            Ok(lease) => {
                // Whatever the call opened and did not put in the lease is
                // the policy's litter: close it.
                for handle in opened {
                    if !lease.locks.iter().any(|l| l.file == handle) {
                        locks.close(handle);
                    }
                }
                // A lease must only name handles that are open.
                if let Some(bad) = lease.locks.iter().find(|l| !locks.contains(l.file)) {
                    let bad = bad.file;
                    for l in &lease.locks {
                        locks.close(l.file);
                    }
                    return Err(Error::Policy {
                        module: self.policy().module().to_owned(),
                        reason: format!("returned a lease naming handle {bad}, which is not open"),
                    });
                }
                Ok(Guard {
                    dir: self.clone(),
                    lease: Some(lease),
                })
            }
            Err(err) => {
                for handle in opened {
                    locks.close(handle);
                }
                Err(match err {
                    AcquireError::Invalid(e) => Error::from(e),
                    AcquireError::Busy(c) => Error::Busy(Box::new(c)),
                    AcquireError::TimedOut(c) => Error::TimedOut(Box::new(c)),
                    AcquireError::Refused(c) => Error::Refused(Box::new(c)),
                    AcquireError::Failed(f) => Error::Lock {
                        lock_file: f.lock_file,
                        code: f.failure.code,
                        message: f.failure.message,
                    },
                })
            }
        }
    }

    /// Every lock file in the directory, with its state and holder.
    pub fn status(&self) -> Result<Vec<LockStatus>, Error> {
        let (result, opened) = self
            .instances
            .call(|p, store| p.wardlock_policy_policy().call_status(store))?;
        for handle in opened {
            self.instances.dir().locks.close(handle);
        }
        result.map_err(|f| Error::Lock {
            lock_file: f.lock_file,
            code: f.failure.code,
            message: f.failure.message,
        })
    }

    /// Release a lease through the policy, then close whatever of it the
    /// policy left open: a lease never outlives its guard.
    fn release(&self, lease: Lease) -> Result<(), Error> {
        let handles: Vec<u32> = lease.locks.iter().rev().map(|l| l.file).collect();
        let result = self
            .instances
            .call(|p, store| p.wardlock_policy_policy().call_release(store, &lease));
        let locks = &self.instances.dir().locks;
        for handle in handles {
            locks.close(handle);
        }
        let (result, opened) = result?;
        for handle in opened {
            locks.close(handle);
        }
        result.map_err(|f| Error::Lock {
            lock_file: f.lock_file,
            code: f.failure.code,
            message: f.failure.message,
        })
    }
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

    /// Release the resource now, reporting any failure.
    pub fn release(mut self) -> Result<(), Error> {
        match self.lease.take() {
            Some(lease) => self.dir.release(lease),
            None => Ok(()),
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(lease) = self.lease.take() {
            let resource = lease.resource.clone();
            if let Err(err) = self.dir.release(lease) {
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
