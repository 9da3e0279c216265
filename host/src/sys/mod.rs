//! The operating system, behind one set of names on every platform.
//!
//! This module is the only place that takes or releases OS locks, opens
//! lock files or reads process tables; everything above it is portable.
//! `unix.rs` serves Linux and the BSDs (process probing needs Linux's
//! `/proc`; elsewhere owners are reported as unknown). Other platforms get
//! `unsupported.rs`, whose every operation fails with `Unsupported`.

use std::fmt;

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::*;

#[cfg(not(unix))]
mod unsupported;
#[cfg(not(unix))]
pub(crate) use unsupported::*;

/// The mode lock files are created with: readable and writable by the
/// owner and the group, so that a group can share one lock directory even
/// with lockers that open the file for writing (Python's `filelock`).
pub(crate) const LOCK_FILE_MODE: u32 = 0o664;

/// The mode owner records are created with: anyone may read who holds
/// what.
pub(crate) const RECORD_MODE: u32 = 0o644;

/// A seam for tests to make the next OS operation of a kind fail with a
/// chosen error, as a full disk or a file system without locks would.
/// Compiled to nothing outside the crate's own tests.
pub(crate) mod fault {
    use std::io;

    /// The operations a fault can be injected into.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) enum Op {
        OpenLockFile,
        TryLock,
        WriteRecord,
    }

    #[cfg(test)]
    thread_local! {
        static NEXT: std::cell::Cell<Option<(Op, i32)>> = const { std::cell::Cell::new(None) };
    }

    /// Make the next `op` on this thread fail with `errno`.
    #[cfg(test)]
    pub(crate) fn inject(op: Op, errno: i32) {
        NEXT.with(|next| next.set(Some((op, errno))));
    }

    /// The injected error for `op`, if one is due.
    #[cfg(test)]
    pub(crate) fn check(op: Op) -> io::Result<()> {
        match NEXT.with(|next| next.get()) {
            Some((due, errno)) if due == op => {
                NEXT.with(|next| next.set(None));
                Err(io::Error::from_raw_os_error(errno))
            }
            _ => Ok(()),
        }
    }

    #[cfg(not(test))]
    #[inline(always)]
    pub(crate) fn check(_op: Op) -> io::Result<()> {
        Ok(())
    }
}

/// Which file an open descriptor or a name refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct FileId {
    pub(crate) dev: u64,
    pub(crate) ino: u64,
}

/// One entry of the kernel's lock table for a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Held {
    /// The process that took the lock, when the table names one.
    pub(crate) pid: Option<u32>,
    pub(crate) mode: crate::Mode,
}

/// The kernel's lock table, by file.
pub(crate) type LockTable = std::collections::HashMap<FileId, Vec<Held>>;

/// What the process table tells about one process.
#[derive(Debug, Clone)]
pub(crate) struct ProcessFacts {
    pub(crate) start_token: String,
    pub(crate) started_at_ms: Option<u64>,
    pub(crate) command: Option<String>,
}

/// The verdict of a liveness probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Probe {
    Alive,
    Gone,
    Reused,
    Unknown,
}

/// Something other than a regular file sits where a lock file or owner
/// record belongs; carried inside an `io::Error`.
#[derive(Debug)]
pub(crate) struct NotRegular(pub(crate) String);

impl fmt::Display for NotRegular {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NotRegular {}
