//! Unix: lock files through `flock(2)` (std's `File::lock` family), files
//! opened relative to the lock directory's descriptor, and processes read
//! from `/proc` on Linux.
//!
//! Every descriptor opened here is close-on-exec, so a command spawned while
//! a lock is held never inherits the lock. Nothing here follows a symbolic
//! link at a lock-file or owner-record name.

use std::ffi::{CStr, CString, OsStr};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Once, OnceLock};

use crate::Mode;
use crate::sys::{
    FileId, Held, LOCK_FILE_MODE, LockTable, NotRegular, Probe, ProcessFacts, RECORD_MODE, fault,
};

/// The lock directory, held open so that every name is resolved inside the
/// directory that was opened, even if its path is later replaced.
#[derive(Debug)]
pub(crate) struct Dir {
    fd: OwnedFd,
}

impl Dir {
    /// Open a directory for use as the lock directory. A symbolic link to a
    /// directory is accepted here: the lock directory is named by the user.
    pub(crate) fn open(path: &Path) -> io::Result<Dir> {
        let c = cstring(path.as_os_str())?;
        // SAFETY: `c` is a valid NUL-terminated string; the flags ask for a
        // new close-on-exec descriptor that we own from here on.
        let fd = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by `open` and is owned by nobody
        // else.
        Ok(Dir {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// What sits at `name` without following a link: `None` if nothing.
    fn kind_of(&self, name: &CStr) -> io::Result<Option<libc::mode_t>> {
        // SAFETY: `stat` is plain old data that `fstatat` fills in.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: the descriptor is open, `name` is NUL-terminated and `st`
        // is a valid out pointer.
        let rc = unsafe {
            libc::fstatat(
                self.fd.as_raw_fd(),
                name.as_ptr(),
                &mut st,
                libc::AT_SYMLINK_NOFOLLOW,
            )
        };
        if rc == 0 {
            return Ok(Some(st.st_mode & libc::S_IFMT));
        }
        let err = io::Error::last_os_error();
        if err.kind() == io::ErrorKind::NotFound {
            Ok(None)
        } else {
            Err(err)
        }
    }

    /// Open `name` in the directory with `flags`, refusing anything but a
    /// regular file and never following a link.
    fn open_regular(&self, name: &str, flags: libc::c_int, perm: libc::mode_t) -> io::Result<File> {
        let c = cstring(OsStr::new(name))?;
        match self.kind_of(&c)? {
            Some(kind) if kind != libc::S_IFREG => return Err(not_regular(name, kind)),
            None if flags & libc::O_CREAT == 0 => {
                return Err(io::Error::from_raw_os_error(libc::ENOENT));
            }
            _ => {}
        }
        // SAFETY: the directory descriptor is open and `c` is NUL-terminated;
        // O_NOFOLLOW refuses a link planted after the check above, and
        // O_NONBLOCK keeps a FIFO planted there from blocking the open.
        let fd = unsafe {
            libc::openat(
                self.fd.as_raw_fd(),
                c.as_ptr(),
                flags | libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK,
                libc::c_uint::from(perm),
            )
        };
        if fd < 0 {
            let err = io::Error::last_os_error();
            return Err(match err.raw_os_error() {
                Some(libc::ELOOP) => not_regular(name, libc::S_IFLNK),
                Some(libc::EISDIR) => not_regular(name, libc::S_IFDIR),
                Some(libc::ENXIO) => not_regular(name, libc::S_IFSOCK),
                _ => err,
            });
        }
        // SAFETY: `fd` was just returned by `openat` and is owned by nobody
        // else.
        let file = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        // A racing swap between the check and the open is caught here.
        let meta = file.metadata()?;
        let kind = meta.mode() & libc::S_IFMT;
        if kind != libc::S_IFREG {
            return Err(not_regular(name, kind));
        }
        // Files we create get exactly `perm`, whatever the umask (which is
        // never changed), so users of one group can share the directory.
        // SAFETY: geteuid has no preconditions.
        let ours = || meta.uid() == unsafe { libc::geteuid() };
        if flags & libc::O_CREAT != 0 && meta.mode() & 0o777 != perm && ours() {
            file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(perm))?;
        }
        Ok(file)
    }

    /// Open (and with `create`, create) a lock file. The file is never
    /// truncated or written.
    pub(crate) fn open_lock_file(&self, name: &str, create: bool) -> io::Result<File> {
        fault::check(fault::Op::OpenLockFile)?;
        let flags = if create {
            libc::O_RDONLY | libc::O_CREAT
        } else {
            libc::O_RDONLY
        };
        self.open_regular(name, flags, LOCK_FILE_MODE)
    }

    /// The identity of the file now at `name`, without following a link.
    pub(crate) fn id_of(&self, name: &str) -> io::Result<Option<FileId>> {
        let c = cstring(OsStr::new(name))?;
        // SAFETY: as in `kind_of`.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: as in `kind_of`.
        let rc = unsafe {
            libc::fstatat(
                self.fd.as_raw_fd(),
                c.as_ptr(),
                &mut st,
                libc::AT_SYMLINK_NOFOLLOW,
            )
        };
        if rc == 0 {
            return Ok(Some(FileId {
                dev: st.st_dev as u64,
                ino: st.st_ino as u64,
            }));
        }
        let err = io::Error::last_os_error();
        if err.kind() == io::ErrorKind::NotFound {
            Ok(None)
        } else {
            Err(err)
        }
    }

    /// Read at most `limit + 1` bytes of the regular file `name`, or `None`
    /// if there is no such file.
    pub(crate) fn read_small(&self, name: &str, limit: usize) -> io::Result<Option<Vec<u8>>> {
        let file = match self.open_regular(name, libc::O_RDONLY, 0) {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(err),
        };
        let mut bytes = Vec::new();
        file.take(limit as u64 + 1).read_to_end(&mut bytes)?;
        Ok(Some(bytes))
    }

    /// Replace `name` with `contents` through the temporary file `temp`:
    /// readers see the old file or the new one, never a part of either.
    ///
    /// The temporary name is removed first and then created exclusively, so
    /// a file or link planted there is never written through. There is no
    /// fsync: the records live as long as the locks they describe, and
    /// those do not survive a crash of the machine either.
    pub(crate) fn replace(&self, name: &str, temp: &str, contents: &[u8]) -> io::Result<()> {
        self.remove(temp)?;
        let mut file = self.open_regular(
            temp,
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL,
            RECORD_MODE,
        )?;
        let written = fault::check(fault::Op::WriteRecord).and_then(|()| file.write_all(contents));
        drop(file);
        if let Err(err) = written {
            let _ = self.remove(temp);
            return Err(err);
        }
        let from = cstring(OsStr::new(temp))?;
        let to = cstring(OsStr::new(name))?;
        let dir = self.fd.as_raw_fd();
        // SAFETY: both names are NUL-terminated and resolve inside the open
        // directory descriptor.
        let rc = unsafe { libc::renameat(dir, from.as_ptr(), dir, to.as_ptr()) };
        if rc != 0 {
            let err = io::Error::last_os_error();
            let _ = self.remove(temp);
            return Err(err);
        }
        Ok(())
    }

    /// Put `contents` at `name` through the scratch file `scratch`, in a way
    /// that allocates no new file once both exist: `contents` are written
    /// to `scratch`, then the two names are swapped in one atomic step
    /// (`renameat2(RENAME_EXCHANGE)`), so readers of `name` see the old
    /// contents or the new, never a part. Where the file system cannot
    /// swap, or `name` does not exist yet, `scratch` is renamed over
    /// `name`.
    ///
    /// Owner records are written on every acquisition, and creating a file
    /// each time costs a file system like ext4 far more than the lock
    /// itself (it searches for a free inode, skipping recently freed ones).
    ///
    /// `scratch` is never written through a link or a second hard link (a
    /// planted hard link could point at a file outside the directory): in
    /// that case, or if it cannot be opened, it is removed and created
    /// afresh. There is no fsync: the records live as long as the locks
    /// they describe, and those do not survive a crash of the machine.
    pub(crate) fn exchange_in(
        &self,
        name: &str,
        scratch: &str,
        contents: &[u8],
    ) -> Result<(), (String, io::Error)> {
        let at = |path: &str| {
            let path = path.to_owned();
            move |err: io::Error| (path, err)
        };
        let opened = self.open_regular(scratch, libc::O_WRONLY | libc::O_CREAT, RECORD_MODE);
        let file = match opened {
            Ok(file) if file.metadata().map_err(at(scratch))?.nlink() == 1 => file,
            _ => {
                self.remove(scratch).map_err(at(scratch))?;
                self.open_regular(
                    scratch,
                    libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL,
                    RECORD_MODE,
                )
                .map_err(at(scratch))?
            }
        };
        // Overwrite, then cut to length: truncating to zero first would make
        // ext4 flush the new data to disk at close (its `auto_da_alloc`
        // heuristic for files rewritten from empty), which costs
        // milliseconds.
        let written = fault::check(fault::Op::WriteRecord)
            .and_then(|()| file.write_all_at(contents, 0))
            .and_then(|()| file.set_len(contents.len() as u64));
        drop(file);
        if let Err(err) = written {
            let _ = self.remove(scratch);
            return Err((scratch.to_owned(), err));
        }
        let from = cstring(OsStr::new(scratch)).map_err(at(scratch))?;
        let to = cstring(OsStr::new(name)).map_err(at(name))?;
        let dir = self.fd.as_raw_fd();
        // A directory planted at `name` is neither swapped nor replaced.
        if let Some(kind) = self.kind_of(&to).map_err(at(name))?
            && kind == libc::S_IFDIR
        {
            return Err((name.to_owned(), not_regular(name, kind)));
        }
        #[cfg(target_os = "linux")]
        {
            // SAFETY: both names are NUL-terminated and resolve inside the
            // open directory descriptor.
            let rc = unsafe {
                libc::renameat2(dir, from.as_ptr(), dir, to.as_ptr(), libc::RENAME_EXCHANGE)
            };
            if rc == 0 {
                return Ok(());
            }
        }
        // SAFETY: as above.
        let rc = unsafe { libc::renameat(dir, from.as_ptr(), dir, to.as_ptr()) };
        if rc != 0 {
            let err = io::Error::last_os_error();
            let _ = self.remove(scratch);
            return Err((name.to_owned(), err));
        }
        Ok(())
    }

    /// Empty the file `name`, if it exists, keeping it for the next write.
    /// A file that is not a plain, singly linked regular file, or that this
    /// process may not write, is removed instead.
    pub(crate) fn empty(&self, name: &str) -> io::Result<()> {
        match self.open_regular(name, libc::O_WRONLY, 0) {
            Ok(file) if file.metadata()?.nlink() == 1 => file.set_len(0),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
            _ => self.remove(name),
        }
    }

    /// Remove the file `name` if it exists. Never removes a directory.
    pub(crate) fn remove(&self, name: &str) -> io::Result<()> {
        let c = cstring(OsStr::new(name))?;
        if let Some(kind) = self.kind_of(&c)?
            && kind == libc::S_IFDIR
        {
            return Err(not_regular(name, kind));
        }
        // SAFETY: `c` is NUL-terminated and resolves inside the directory.
        let rc = unsafe { libc::unlinkat(self.fd.as_raw_fd(), c.as_ptr(), 0) };
        if rc == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() == io::ErrorKind::NotFound {
            Ok(())
        } else {
            Err(err)
        }
    }
}

/// The error for a name that is not a regular file, naming what it is.
fn not_regular(name: &str, kind: libc::mode_t) -> io::Error {
    let what = match kind {
        libc::S_IFDIR => "a directory",
        libc::S_IFLNK => "a symbolic link",
        libc::S_IFIFO => "a FIFO",
        libc::S_IFSOCK => "a socket",
        libc::S_IFCHR | libc::S_IFBLK => "a device",
        _ => "not a regular file",
    };
    io::Error::other(NotRegular(format!(
        "`{name}` is {what}, not a regular file"
    )))
}

fn cstring(s: &OsStr) -> io::Result<CString> {
    CString::new(s.as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "name contains a NUL byte"))
}

/// The identity of an open file.
pub(crate) fn file_id(file: &File) -> io::Result<FileId> {
    let meta = file.metadata()?;
    Ok(FileId {
        dev: meta.dev(),
        ino: meta.ino(),
    })
}

/// Try to take the lock without waiting: `Ok(false)` when someone holds it.
pub(crate) fn try_lock(file: &File, mode: Mode) -> io::Result<bool> {
    fault::check(fault::Op::TryLock)?;
    let result = match mode {
        Mode::Shared => file.try_lock_shared(),
        Mode::Exclusive => file.try_lock(),
    };
    match result {
        Ok(()) => Ok(true),
        Err(std::fs::TryLockError::WouldBlock) => Ok(false),
        Err(std::fs::TryLockError::Error(err)) => Err(err),
    }
}

/// Take the lock, blocking until the kernel grants it.
pub(crate) fn lock(file: &File, mode: Mode) -> io::Result<()> {
    match mode {
        Mode::Shared => file.lock_shared(),
        Mode::Exclusive => file.lock(),
    }
}

/// Release the lock held through this open file, if any.
pub(crate) fn unlock(file: &File) -> io::Result<()> {
    file.unlock()
}

/// The kernel's lock table: every file someone holds a lock on, with its
/// holders. `None` where the table cannot be read (not Linux, or `/proc`
/// hidden). Read whole, once, so that a caller looking at many files pays
/// for the table once.
pub(crate) fn lock_table() -> Option<LockTable> {
    let table = std::fs::read_to_string("/proc/locks").ok()?;
    let mut found = LockTable::new();
    for line in table.lines() {
        // "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"; waiters are
        // listed as "1: -> FLOCK ..." and hold nothing.
        let mut words = line.split_whitespace().skip(1);
        let Some(class) = words.next() else { continue };
        if class == "->" {
            continue;
        }
        let (_, Some(access), Some(pid), Some(file)) =
            (words.next(), words.next(), words.next(), words.next())
        else {
            continue;
        };
        let mut parts = file.split(':');
        let (Some(Ok(major)), Some(Ok(minor)), Some(Ok(ino))) = (
            parts.next().map(|m| u32::from_str_radix(m, 16)),
            parts.next().map(|m| u32::from_str_radix(m, 16)),
            parts.next().map(str::parse::<u64>),
        ) else {
            continue;
        };
        let mode = if access == "WRITE" {
            Mode::Exclusive
        } else {
            Mode::Shared
        };
        let id = FileId {
            dev: libc::makedev(major, minor) as u64,
            ino,
        };
        // Open-file-description locks show pid -1: held, owner unknown.
        let pid = pid.parse().ok().filter(|p: &u32| *p > 0);
        found.entry(id).or_default().push(Held { pid, mode });
    }
    Some(found)
}

/// Locks held on files of the directory `dir` whose names were removed
/// (or replaced) while held, found through the kernel's lock table and the
/// holders' open descriptors (`/proc/<pid>/fd`): `(name, holder)` pairs.
/// Holders whose descriptors this process may not read are left out.
pub(crate) fn removed_but_held(dir: &Path) -> Vec<(String, Held)> {
    let (Some(table), Ok(meta), Ok(real)) = (
        lock_table(),
        std::fs::metadata(dir),
        std::fs::canonicalize(dir),
    ) else {
        return Vec::new();
    };
    let present: std::collections::HashSet<u64> = std::fs::read_dir(dir)
        .map(|entries| {
            use std::os::unix::fs::DirEntryExt;
            entries.filter_map(Result::ok).map(|e| e.ino()).collect()
        })
        .unwrap_or_default();
    let prefix = format!("{}/", real.display());
    let mut found = Vec::new();
    for (id, holders) in table {
        if id.dev != meta.dev() || present.contains(&id.ino) {
            continue;
        }
        for held in holders {
            let Some(pid) = held.pid else { continue };
            let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
                continue;
            };
            let name = fds.filter_map(Result::ok).find_map(|fd| {
                let target = std::fs::read_link(fd.path()).ok()?;
                let target = target.to_str()?;
                let name = target.strip_prefix(&prefix)?.strip_suffix(" (deleted)")?;
                let file = std::fs::metadata(fd.path()).ok()?;
                (file.dev() == id.dev && file.ino() == id.ino && !name.contains('/'))
                    .then(|| name.to_owned())
            });
            if let Some(name) = name {
                found.push((name, held));
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

/// The current process's id, cached; a fork clears the cache in the child
/// (`pthread_atfork`), so a forked child sees its own.
pub(crate) fn pid() -> u32 {
    static PID: AtomicU32 = AtomicU32::new(0);
    static AT_FORK: Once = Once::new();
    extern "C" fn forget() {
        PID.store(0, Ordering::Relaxed);
    }
    AT_FORK.call_once(|| {
        // SAFETY: registers a handler that only stores to an atomic, which
        // is async-signal-safe and valid in a freshly forked child.
        unsafe { libc::pthread_atfork(None, None, Some(forget)) };
    });
    match PID.load(Ordering::Relaxed) {
        0 => {
            let pid = std::process::id();
            PID.store(pid, Ordering::Relaxed);
            pid
        }
        pid => pid,
    }
}

/// This machine's host name.
pub(crate) fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: `buf` is writable for its whole length, which is passed.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".to_owned();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// What this kernel tells about processes that is the same for all of them:
/// the boot id, the PID namespace and the clock tick.
struct Kernel {
    boot_id: String,
    pid_ns: String,
    boot_time_ms: Option<u64>,
    ticks_per_second: u64,
}

fn kernel() -> &'static Kernel {
    static KERNEL: OnceLock<Kernel> = OnceLock::new();
    KERNEL.get_or_init(|| {
        let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .map(|s| s.trim().to_owned())
            .unwrap_or_default();
        // "pid:[4026531836]": keep the namespace's inode number.
        let pid_ns = std::fs::read_link("/proc/self/ns/pid")
            .map(|p| {
                p.to_string_lossy()
                    .chars()
                    .filter(char::is_ascii_digit)
                    .collect()
            })
            .unwrap_or_default();
        let boot_time_ms = std::fs::read_to_string("/proc/stat").ok().and_then(|stat| {
            stat.lines()
                .find_map(|l| l.strip_prefix("btime "))
                .and_then(|s| s.trim().parse::<u64>().ok())
                .map(|s| s * 1000)
        });
        // SAFETY: sysconf has no preconditions.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        Kernel {
            boot_id,
            pid_ns,
            boot_time_ms,
            ticks_per_second: if ticks > 0 { ticks as u64 } else { 100 },
        }
    })
}

/// The start time (in clock ticks since boot) and state of `pid`, from
/// `/proc/<pid>/stat`.
fn stat_of(pid: u32) -> io::Result<(u64, char)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name is in parentheses and may itself hold spaces or
    // parentheses: the fields after it start at the last ')'.
    let after = stat
        .rfind(')')
        .map(|i| &stat[i + 1..])
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "malformed /proc stat"))?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Field 3 (state) is fields[0]; field 22 (starttime) is fields[19].
    let state = fields.first().and_then(|s| s.chars().next()).unwrap_or('?');
    let start = fields
        .get(19)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "malformed /proc stat"))?;
    Ok((start, state))
}

fn start_token(ticks: u64) -> String {
    let k = kernel();
    format!("linux:{}:{}:{}", k.boot_id, k.pid_ns, ticks)
}

/// Facts about `pid`, if it runs on this machine and in this namespace.
pub(crate) fn process(pid: u32) -> Option<ProcessFacts> {
    let (ticks, state) = stat_of(pid).ok()?;
    if state == 'Z' || state == 'X' {
        return None;
    }
    let k = kernel();
    let started_at_ms = k
        .boot_time_ms
        .map(|boot| boot + ticks.saturating_mul(1000) / k.ticks_per_second);
    let command = std::fs::read(format!("/proc/{pid}/cmdline"))
        .ok()
        .and_then(|raw| {
            let words: Vec<String> = raw
                .split(|&b| b == 0)
                .filter(|w| !w.is_empty())
                .map(|w| String::from_utf8_lossy(w).into_owned())
                .collect();
            (!words.is_empty()).then(|| words.join(" "))
        });
    Some(ProcessFacts {
        start_token: start_token(ticks),
        started_at_ms,
        command,
    })
}

/// Whether the process recorded as (`pid`, `token`) on this machine still
/// runs. A token from another boot means gone; one from another PID
/// namespace, or in a form this kernel does not write, means unknown.
pub(crate) fn probe(pid: u32, token: &str) -> Probe {
    let k = kernel();
    let mut parts = token.splitn(4, ':');
    let (Some("linux"), Some(boot), Some(ns), Some(_)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Probe::Unknown;
    };
    if k.boot_id.is_empty() || ns != k.pid_ns {
        return Probe::Unknown;
    }
    if boot != k.boot_id {
        // Recorded before this machine last booted: that process is gone.
        return Probe::Gone;
    }
    match stat_of(pid) {
        Ok((_, 'Z' | 'X')) => Probe::Gone,
        Ok((ticks, _)) if start_token(ticks) == token => Probe::Alive,
        Ok(_) => Probe::Reused,
        Err(err) if err.kind() == io::ErrorKind::NotFound => Probe::Gone,
        Err(_) => Probe::Unknown,
    }
}

/// Arrange for the child being spawned to be killed if this process dies
/// first, so a command never runs on after its lock was released.
pub(crate) fn kill_child_with_parent(cmd: &mut std::process::Command) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        let parent = pid();
        // SAFETY: the closure runs in the child between fork and exec and
        // only calls async-signal-safe functions (prctl, getppid).
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(io::Error::last_os_error());
                }
                // The parent may have died before the prctl took effect.
                if libc::getppid() as u32 != parent {
                    libc::_exit(128 + libc::SIGKILL);
                }
                Ok(())
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = cmd;
}

/// Signal forwarding for `wardlock run`: while the command runs, signals
/// sent to wardlock by another process (`kill`) go on to the command, and
/// wardlock stays alive to release the lock after the command ends.
/// Signals the terminal sends (Ctrl-C) already reach the whole process
/// group and are not sent twice.
pub(crate) mod forward {
    use std::sync::atomic::{AtomicI32, Ordering};

    static CHILD: AtomicI32 = AtomicI32::new(0);
    static PENDING: AtomicI32 = AtomicI32::new(0);

    const SIGNALS: [libc::c_int; 6] = [
        libc::SIGINT,
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGQUIT,
        libc::SIGUSR1,
        libc::SIGUSR2,
    ];

    extern "C" fn on_signal(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
        // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO
        // handler.
        let code = unsafe { (*info).si_code };
        // si_code > 0 means the kernel (a terminal) raised it.
        if code > 0 {
            return;
        }
        let child = CHILD.load(Ordering::SeqCst);
        if child > 0 {
            // SAFETY: kill is async-signal-safe.
            unsafe { libc::kill(child, sig) };
        } else {
            PENDING.store(sig, Ordering::SeqCst);
        }
    }

    /// Install the handlers. Handlers, unlike ignored dispositions, are
    /// reset by exec, so the command starts with default signal handling.
    pub(crate) fn install() {
        for sig in SIGNALS {
            // SAFETY: `sigaction` is zero-initialisable plain data; the
            // handler only touches atomics and calls kill.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_signal as *const () as usize;
                action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(sig, &action, std::ptr::null_mut());
            }
        }
    }

    /// Start forwarding to `child`, delivering a signal that came early.
    pub(crate) fn to(child: u32) {
        let child = child as i32;
        CHILD.store(child, Ordering::SeqCst);
        let early = PENDING.swap(0, Ordering::SeqCst);
        if early != 0 {
            // SAFETY: plain system call on a pid we spawned.
            unsafe { libc::kill(child, early) };
        }
    }
}
