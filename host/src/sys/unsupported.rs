//! Platforms without a lock implementation yet (Windows among them): the
//! same names as `unix.rs`, and every operation fails with `Unsupported`,
//! so callers get a clear error instead of an unprotected section.

use std::fs::File;
use std::io;
use std::path::Path;

use crate::Mode;
use crate::sys::{FileId, LockTable, Probe, ProcessFacts};

fn unsupported() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "wardlock has no lock implementation for this platform yet",
    )
}

/// The lock directory.
#[derive(Debug)]
pub(crate) struct Dir;

impl Dir {
    pub(crate) fn open(_path: &Path) -> io::Result<Dir> {
        Err(unsupported())
    }

    pub(crate) fn open_lock_file(&self, _name: &str, _create: bool) -> io::Result<File> {
        Err(unsupported())
    }

    pub(crate) fn id_of(&self, _name: &str) -> io::Result<Option<FileId>> {
        Err(unsupported())
    }

    pub(crate) fn read_small(&self, _name: &str, _limit: usize) -> io::Result<Option<Vec<u8>>> {
        Err(unsupported())
    }

    pub(crate) fn replace(&self, _name: &str, _temp: &str, _contents: &[u8]) -> io::Result<()> {
        Err(unsupported())
    }

    pub(crate) fn exchange_in(
        &self,
        _name: &str,
        _scratch: &str,
        _contents: &[u8],
    ) -> io::Result<()> {
        Err(unsupported())
    }

    pub(crate) fn empty(&self, _name: &str) -> io::Result<()> {
        Err(unsupported())
    }

    pub(crate) fn remove(&self, _name: &str) -> io::Result<()> {
        Err(unsupported())
    }
}

pub(crate) fn file_id(_file: &File) -> io::Result<FileId> {
    Err(unsupported())
}

pub(crate) fn try_lock(_file: &File, _mode: Mode) -> io::Result<bool> {
    Err(unsupported())
}

pub(crate) fn lock(_file: &File, _mode: Mode) -> io::Result<()> {
    Err(unsupported())
}

pub(crate) fn unlock(_file: &File) -> io::Result<()> {
    Err(unsupported())
}

pub(crate) fn lock_table() -> Option<LockTable> {
    None
}

pub(crate) fn removed_but_held(_dir: &Path) -> Vec<(String, crate::sys::Held)> {
    Vec::new()
}

pub(crate) fn pid() -> u32 {
    std::process::id()
}

pub(crate) fn host_name() -> String {
    std::env::var("COMPUTERNAME").unwrap_or_else(|_| "localhost".to_owned())
}

pub(crate) fn process(_pid: u32) -> Option<ProcessFacts> {
    None
}

pub(crate) fn probe(_pid: u32, _token: &str) -> Probe {
    Probe::Unknown
}

pub(crate) fn kill_child_with_parent(_cmd: &mut std::process::Command) {}

pub(crate) mod forward {
    pub(crate) fn install() {}
    pub(crate) fn to(_child: u32) {}
}
