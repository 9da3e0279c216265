//! The `lock-files` import: lock files inside the one lock directory.
//!
//! Handles are numbers in a table that belongs to the lock directory, not to
//! a component instance, so a lease taken by one instance can be released
//! by another, and the host can close whatever a failed call left open.
//!
//! Waiting is done by the kernel: a blocked `lock` opens its own descriptor
//! on a helper thread and blocks in `flock` there, so the waiter is woken
//! the moment the holder releases, while the caller waits on a channel
//! with the deadline. A helper whose caller gave up drops its descriptor as
//! soon as the kernel grants it the lock, so it never holds it for longer
//! than that instant.
//!
//! A process never waits on itself: asking for a lock file that this
//! process already holds through another handle, in a conflicting mode,
//! fails at once with `held-by-this-process`. A forked child that inherited
//! a handle never releases its parent's lock: it only closes its copy.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, mpsc};
use std::time::{Duration, Instant};

use crate::Mode;
use crate::bindings::wardlock::policy::lock_files::{
    Attempt, Disposition, Handle, Host, LockState,
};
use crate::bindings::wardlock::policy::types::{ErrorCode, Failure};
use crate::state::{CallState, DirShared};
use crate::sys::{self, FileId};

/// The suffix of an owner record's name, after its lock file's name.
pub const OWNER_SUFFIX: &str = ".owner";

/// The suffix of the temporary file an owner record is written through.
pub const TEMP_SUFFIX: &str = ".owner.tmp";

/// The prefix of the host's own files in a lock directory (the pinned
/// policy), which are never lock files.
pub const HOST_PREFIX: &str = ".wardlock";

/// The largest owner record the host reads.
pub const OWNER_LIMIT: usize = 64 * 1024;

/// The longest lock-file name accepted, leaving room for the suffixes.
const NAME_LIMIT: usize = 255 - TEMP_SUFFIX.len();

/// How often a lock is retried when its file is swapped under it.
const SWAP_RETRIES: usize = 8;

/// The open lock files of one lock directory.
#[derive(Debug, Default)]
pub(crate) struct LockTable {
    inner: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    next: Handle,
    entries: HashMap<Handle, Entry>,
}

#[derive(Debug)]
struct Entry {
    name: String,
    file: Arc<File>,
    id: FileId,
    /// The mode held through this handle, if any.
    held: Option<Mode>,
    /// A process-wide unique key for the held-locks registry.
    key: u64,
    /// The process that opened the handle; a forked child is not it.
    opener: u32,
    /// A helper thread still blocked in the kernel for this lock file, in
    /// this mode, after an earlier wait on the handle timed out: the next
    /// wait takes it over rather than start a second one.
    pending: Option<(Mode, mpsc::Receiver<io::Result<File>>)>,
}

/// Locks held by this process, across every lock directory and handle.
static HELD: LazyLock<Mutex<Registry>> = LazyLock::new(Default::default);

/// For each file, the handles (by key) holding it and their modes.
type Registry = HashMap<FileId, Vec<(u64, Mode)>>;

static NEXT_KEY: AtomicU64 = AtomicU64::new(1);

fn lock_unpoisoned<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl LockTable {
    fn get_with_id(&self, handle: Handle) -> Result<(String, Arc<File>, u64, FileId), Failure> {
        let table = lock_unpoisoned(&self.inner);
        let entry = table
            .entries
            .get(&handle)
            .ok_or_else(|| bad_handle(handle))?;
        Ok((entry.name.clone(), entry.file.clone(), entry.key, entry.id))
    }

    fn name(&self, handle: Handle) -> Result<String, Failure> {
        self.get_with_id(handle).map(|(name, ..)| name)
    }

    /// Close `handle`, releasing its lock if this process took it.
    pub(crate) fn close(&self, handle: Handle) {
        let entry = lock_unpoisoned(&self.inner).entries.remove(&handle);
        if let Some(entry) = entry {
            release(&entry);
        }
    }

    /// Whether the lock file held through `handle` is still the file its
    /// name refers to. `false` means it was removed or replaced while held,
    /// so later lockers may have taken a lock of their own.
    pub(crate) fn intact(&self, fs: &sys::Dir, handle: Handle) -> bool {
        let (name, id) = {
            let table = lock_unpoisoned(&self.inner);
            match table.entries.get(&handle) {
                Some(entry) => (entry.name.clone(), entry.id),
                None => return false,
            }
        };
        matches!(fs.id_of(&name), Ok(Some(now)) if now == id)
    }
}

impl Drop for LockTable {
    fn drop(&mut self) {
        let table = std::mem::take(&mut *lock_unpoisoned(&self.inner));
        for entry in table.entries.values() {
            release(entry);
        }
    }
}

/// Forget `entry`'s lock in the registry and release it, unless this is a
/// forked child, which must only close its copy of the descriptor.
fn release(entry: &Entry) {
    if entry.held.is_none() {
        return;
    }
    forget(entry.id, entry.key);
    if sys::pid() != entry.opener {
        return;
    }
    if let Err(err) = sys::unlock(&entry.file) {
        tracing::warn!(lock_file = %entry.name, "failed to unlock: {err}");
    }
}

fn forget(id: FileId, key: u64) {
    let mut held = lock_unpoisoned(&HELD);
    if let Some(list) = held.get_mut(&id) {
        list.retain(|(k, _)| *k != key);
        if list.is_empty() {
            held.remove(&id);
        }
    }
}

/// Refuse a lock this process would wait on itself for.
fn check_self_conflict(id: FileId, key: u64, mode: Mode, name: &str) -> Result<(), Failure> {
    let held = lock_unpoisoned(&HELD);
    let conflict = held.get(&id).is_some_and(|list| {
        list.iter()
            .any(|&(k, m)| k != key && (m == Mode::Exclusive || mode == Mode::Exclusive))
    });
    if conflict {
        return Err(Failure {
            code: ErrorCode::HeldByThisProcess,
            message: format!(
                "lock file `{name}` is already held by this process in a conflicting mode; \
                 waiting for it would wait for ever"
            ),
        });
    }
    Ok(())
}

fn bad_handle(handle: Handle) -> Failure {
    Failure {
        code: ErrorCode::BadHandle,
        message: format!("no open lock file has handle {handle}"),
    }
}

/// Turn an OS error on `name` into the contract's failure.
pub(crate) fn failure(name: &str, err: &io::Error) -> Failure {
    if let Some(inner) = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<sys::NotRegular>())
    {
        return Failure {
            code: ErrorCode::NotRegularFile,
            message: inner.to_string(),
        };
    }
    let code = match err.raw_os_error() {
        Some(libc::ENOENT) => ErrorCode::NotFound,
        Some(libc::EACCES | libc::EPERM) => ErrorCode::PermissionDenied,
        Some(libc::EROFS) => ErrorCode::ReadOnly,
        Some(libc::ENOLCK | libc::ENOTSUP | libc::ENOSYS) => ErrorCode::Unsupported,
        Some(libc::ENOSPC | libc::EDQUOT) => ErrorCode::NoSpace,
        Some(libc::ENAMETOOLONG) => ErrorCode::InvalidName,
        _ if err.kind() == io::ErrorKind::Unsupported => ErrorCode::Unsupported,
        _ => ErrorCode::Other,
    };
    Failure {
        code,
        message: format!("`{name}`: {}", lowercase_first(&err.to_string())),
    }
}

/// The operating system's words, in the lowercase of our messages.
fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Check that `name` is a plain file name the host may use as a lock file.
pub(crate) fn check_name(name: &str) -> Result<(), Failure> {
    let problem = if name.is_empty() {
        Some("is empty".to_owned())
    } else if name.len() > NAME_LIMIT {
        Some(format!("is longer than {NAME_LIMIT} bytes"))
    } else if name == "." || name == ".." {
        Some("names a directory".to_owned())
    } else if name.contains("..") {
        Some("contains `..`".to_owned())
    } else if let Some(c) = name
        .chars()
        .find(|c| matches!(c, '/' | '\\' | '\0') || c.is_control())
    {
        Some(format!("contains the character {c:?}"))
    } else if name.ends_with(OWNER_SUFFIX) || name.contains(".owner.") {
        Some(format!(
            "ends with the owner-record suffix `{OWNER_SUFFIX}`"
        ))
    } else if name.starts_with(HOST_PREFIX) {
        Some(format!(
            "starts with `{HOST_PREFIX}`, which the host keeps for its own files"
        ))
    } else {
        None
    };
    match problem {
        Some(problem) => Err(Failure {
            code: ErrorCode::InvalidName,
            message: format!("lock-file name `{}` {problem}", name.escape_debug()),
        }),
        None => Ok(()),
    }
}

impl CallState {
    /// The lock directory, or the failure every lock-file operation gets
    /// while a policy is only being inspected.
    fn dir(&self) -> Result<&Arc<DirShared>, Failure> {
        self.dir.as_ref().ok_or_else(|| Failure {
            code: ErrorCode::NotFound,
            message: "no lock directory: the policy is being inspected".to_owned(),
        })
    }

    fn open_file(&self, name: &str, create: bool) -> Result<(File, FileId), Failure> {
        let file = self
            .dir()?
            .fs
            .open_lock_file(name, create)
            .map_err(|e| failure(name, &e))?;
        let id = sys::file_id(&file).map_err(|e| failure(name, &e))?;
        Ok((file, id))
    }

    /// Record that `handle` now holds `file` in `mode`.
    fn mark_held(
        &self,
        handle: Handle,
        file: Arc<File>,
        id: FileId,
        mode: Mode,
    ) -> Result<(), Failure> {
        let mut table = lock_unpoisoned(&self.dir()?.locks.inner);
        let Some(entry) = table.entries.get_mut(&handle) else {
            // Closed by another thread while we waited: give the lock back.
            drop(table);
            let _ = sys::unlock(&file);
            return Err(bad_handle(handle));
        };
        if entry.held.is_some() {
            forget(entry.id, entry.key);
        }
        lock_unpoisoned(&HELD)
            .entry(id)
            .or_default()
            .push((entry.key, mode));
        entry.file = file;
        entry.id = id;
        entry.held = Some(mode);
        Ok(())
    }

    /// Lock `handle`, waiting up to `timeout` (`None`: try once).
    ///
    /// After locking, the name must still refer to the locked file; if the
    /// file was removed or replaced meanwhile, the lock guards nothing, so
    /// it is dropped and the file the name now refers to is locked instead.
    fn lock_file(
        &mut self,
        handle: Handle,
        mode: Mode,
        timeout: Option<Duration>,
    ) -> Result<Attempt, Failure> {
        let (name, mut file, key, mut id) = self.dir()?.locks.get_with_id(handle)?;
        let deadline = timeout.map(|t| Instant::now().checked_add(t));
        for _ in 0..SWAP_RETRIES {
            check_self_conflict(id, key, mode, &name)?;
            let locked = if sys::try_lock(&file, mode).map_err(|e| failure(&name, &e))? {
                Some(file)
            } else {
                match deadline {
                    None => None,
                    Some(deadline) => {
                        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                        if left == Some(Duration::ZERO) {
                            None
                        } else {
                            match self.wait_for(handle, &name, mode, left)? {
                                Some(fresh) => {
                                    id = sys::file_id(&fresh).map_err(|e| failure(&name, &e))?;
                                    Some(Arc::new(fresh))
                                }
                                None => None,
                            }
                        }
                    }
                }
            };
            let Some(locked) = locked else {
                return Ok(Attempt::Busy);
            };
            let now = self
                .dir()?
                .fs
                .id_of(&name)
                .map_err(|e| failure(&name, &e))?;
            if now == Some(id) {
                self.mark_held(handle, locked, id, mode)?;
                return Ok(Attempt::Acquired);
            }
            tracing::warn!(lock_file = %name, "lock file was removed or replaced while locking it; locking the new one");
            let _ = sys::unlock(&locked);
            let (fresh, fresh_id) = self.open_file(&name, true)?;
            (file, id) = (Arc::new(fresh), fresh_id);
        }
        Err(Failure {
            code: ErrorCode::Other,
            message: format!("lock file `{name}` kept being replaced while it was locked"),
        })
    }

    /// Block in the kernel for the lock on a helper thread, at most `left`
    /// (`None`: for ever). Returns the newly opened, locked file.
    fn wait_for(
        &mut self,
        handle: Handle,
        name: &str,
        mode: Mode,
        left: Option<Duration>,
    ) -> Result<Option<File>, Failure> {
        let dir = self.dir()?.clone();
        let pending = lock_unpoisoned(&dir.locks.inner)
            .entries
            .get_mut(&handle)
            .and_then(|entry| entry.pending.take())
            .filter(|(pending_mode, _)| *pending_mode == mode);
        let rx = match pending {
            Some((_, rx)) => rx,
            None => {
                let (tx, rx) = mpsc::sync_channel::<io::Result<File>>(1);
                let owned = name.to_owned();
                let fs_dir = dir.clone();
                std::thread::Builder::new()
                    .name("wardlock-wait".into())
                    .spawn(move || {
                        let result = fs_dir
                            .fs
                            .open_lock_file(&owned, true)
                            .and_then(|f| sys::lock(&f, mode).map(|()| f));
                        // If nobody waits any more, the send fails and the
                        // file, with its lock, is dropped here.
                        let _ = tx.send(result);
                    })
                    .map_err(|e| failure(name, &e))?;
                rx
            }
        };
        let waiting = Instant::now();
        let received = match left {
            Some(left) => rx.recv_timeout(left),
            None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
        };
        self.uncharge(waiting.elapsed());
        match received {
            Ok(Ok(file)) => Ok(Some(file)),
            Ok(Err(err)) => Err(failure(name, &err)),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                // Keep the helper for the next wait on this handle.
                if let Some(entry) = lock_unpoisoned(&dir.locks.inner).entries.get_mut(&handle) {
                    entry.pending = Some((mode, rx));
                }
                Ok(None)
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(Failure {
                code: ErrorCode::Other,
                message: format!("the thread waiting for lock file `{name}` ended unexpectedly"),
            }),
        }
    }
}

// The operations themselves; `Host` below meters each.
impl CallState {
    fn open_unmetered(
        &mut self,
        name: String,
        disposition: Disposition,
    ) -> Result<Handle, Failure> {
        check_name(&name)?;
        let (file, id) = self.open_file(&name, matches!(disposition, Disposition::Create))?;
        let mut table = lock_unpoisoned(&self.dir()?.locks.inner);
        let handle = table.next;
        table.next = table.next.wrapping_add(1);
        table.entries.insert(
            handle,
            Entry {
                name,
                file: Arc::new(file),
                id,
                held: None,
                key: NEXT_KEY.fetch_add(1, Ordering::Relaxed),
                opener: sys::pid(),
                pending: None,
            },
        );
        drop(table);
        self.opened.push(handle);
        Ok(handle)
    }

    fn try_lock_unmetered(&mut self, file: Handle, mode: Mode) -> Result<Attempt, Failure> {
        self.lock_file(file, mode, None)
    }

    fn lock_unmetered(
        &mut self,
        file: Handle,
        mode: Mode,
        timeout_ns: u64,
    ) -> Result<Attempt, Failure> {
        self.lock_table = None;
        // The policy's wait never outlasts the caller's timeout.
        let asked = Duration::from_nanos(timeout_ns);
        let timeout = match self.deadline {
            Some(deadline) => asked.min(deadline.saturating_duration_since(Instant::now())),
            None => asked,
        };
        self.lock_file(file, mode, Some(timeout))
    }

    fn unlock_unmetered(&mut self, file: Handle) -> Result<(), Failure> {
        let mut table = lock_unpoisoned(&self.dir()?.locks.inner);
        let entry = table
            .entries
            .get_mut(&file)
            .ok_or_else(|| bad_handle(file))?;
        release(entry);
        entry.held = None;
        Ok(())
    }

    fn close_unmetered(&mut self, file: Handle) {
        if let Some(dir) = &self.dir {
            dir.locks.close(file);
        }
    }

    fn state_unmetered(&mut self, file: Handle) -> Result<LockState, Failure> {
        let (name, _, _, id) = self.dir()?.locks.get_with_id(file)?;
        // One read of the kernel's table serves the whole call (a `status`
        // over many files); a wait makes it stale, so `lock` drops it.
        if self.lock_table.is_none() {
            self.lock_table = Some(sys::lock_table());
        }
        if let Some(Some(table)) = &self.lock_table {
            let entries = table.get(&id).map(Vec::as_slice).unwrap_or_default();
            let held = entries
                .iter()
                .map(|h| h.mode)
                .max_by_key(|m| *m == Mode::Exclusive);
            let holders = entries.iter().filter_map(|h| h.pid).collect();
            return Ok(LockState { held, holders });
        }
        // No lock table to read: find out by trying, on a descriptor of our
        // own, and let go at once.
        let probe = self
            .dir()?
            .fs
            .open_lock_file(&name, false)
            .map_err(|e| failure(&name, &e))?;
        let held = if sys::try_lock(&probe, Mode::Exclusive).map_err(|e| failure(&name, &e))? {
            None
        } else if sys::try_lock(&probe, Mode::Shared).map_err(|e| failure(&name, &e))? {
            Some(Mode::Shared)
        } else {
            Some(Mode::Exclusive)
        };
        Ok(LockState {
            held,
            holders: Vec::new(),
        })
    }

    fn read_owner_unmetered(&mut self, file: Handle) -> Result<Option<Vec<u8>>, Failure> {
        let record = format!("{}{OWNER_SUFFIX}", self.dir()?.locks.name(file)?);
        let bytes = self
            .dir()?
            .fs
            .read_small(&record, OWNER_LIMIT)
            .map_err(|e| failure(&record, &e))?;
        match bytes {
            // An empty file is a cleared record: see `clear_owner`.
            Some(b) if b.is_empty() => Ok(None),
            Some(b) if b.len() > OWNER_LIMIT => Err(Failure {
                code: ErrorCode::TooLarge,
                message: format!("owner record `{record}` is larger than {OWNER_LIMIT} bytes"),
            }),
            other => Ok(other),
        }
    }

    fn write_owner_unmetered(&mut self, file: Handle, contents: Vec<u8>) -> Result<(), Failure> {
        let name = self.dir()?.locks.name(file)?;
        let record = format!("{name}{OWNER_SUFFIX}");
        if contents.len() > OWNER_LIMIT {
            return Err(Failure {
                code: ErrorCode::TooLarge,
                message: format!(
                    "owner record `{record}` would be larger than {OWNER_LIMIT} bytes"
                ),
            });
        }
        let temp = format!("{name}{TEMP_SUFFIX}");
        self.dir()?
            .fs
            .exchange_in(&record, &temp, &contents)
            .map_err(|(path, e)| failure(&path, &e))
    }

    fn clear_owner_unmetered(&mut self, file: Handle) -> Result<(), Failure> {
        let record = format!("{}{OWNER_SUFFIX}", self.dir()?.locks.name(file)?);
        // Emptied rather than removed, so the next holder's write finds the
        // file in place (see `sys::Dir::exchange_in`); an empty record file
        // reads as no record.
        self.dir()?
            .fs
            .empty(&record)
            .map_err(|e| failure(&record, &e))
    }

    fn list_files_unmetered(&mut self) -> Result<Vec<String>, Failure> {
        let path = &self.dir()?.path;
        let shown = path.display().to_string();
        let mut names = Vec::new();
        for entry in std::fs::read_dir(path).map_err(|e| failure(&shown, &e))? {
            let entry = entry.map_err(|e| failure(&shown, &e))?;
            let is_file = entry.file_type().map(|t| t.is_file()).unwrap_or(false);
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if is_file && check_name(&name).is_ok() && !name.ends_with(TEMP_SUFFIX) {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }
}

/// Each operation is metered against the call's budget for time spent in
/// the host (waiting for a lock excepted): a policy that spins on imports is
/// stopped as surely as one that spins on its own instructions.
impl Host for CallState {
    fn open(&mut self, name: String, disposition: Disposition) -> Result<Handle, Failure> {
        self.metered(|s| s.open_unmetered(name, disposition))
    }

    fn try_lock(&mut self, file: Handle, mode: Mode) -> Result<Attempt, Failure> {
        self.metered(|s| s.try_lock_unmetered(file, mode))
    }

    fn lock(&mut self, file: Handle, mode: Mode, timeout_ns: u64) -> Result<Attempt, Failure> {
        self.metered(|s| s.lock_unmetered(file, mode, timeout_ns))
    }

    fn unlock(&mut self, file: Handle) -> Result<(), Failure> {
        self.metered(|s| s.unlock_unmetered(file))
    }

    fn close(&mut self, file: Handle) {
        self.close_unmetered(file);
    }

    fn state(&mut self, file: Handle) -> Result<LockState, Failure> {
        self.metered(|s| s.state_unmetered(file))
    }

    fn read_owner(&mut self, file: Handle) -> Result<Option<Vec<u8>>, Failure> {
        self.metered(|s| s.read_owner_unmetered(file))
    }

    fn write_owner(&mut self, file: Handle, contents: Vec<u8>) -> Result<(), Failure> {
        self.metered(|s| s.write_owner_unmetered(file, contents))
    }

    fn clear_owner(&mut self, file: Handle) -> Result<(), Failure> {
        self.metered(|s| s.clear_owner_unmetered(file))
    }

    fn list_files(&mut self) -> Result<Vec<String>, Failure> {
        let names = self.metered(|s| s.list_files_unmetered())?;
        // A status over many files may take that much longer.
        self.extend_budget(names.len());
        Ok(names)
    }
}
