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
