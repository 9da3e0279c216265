//! The effects the engine may use, as a trait, and its WIT implementation.
//!
//! [`Host`] mirrors the world's imports one method per function, so the
//! engine can run against [`WitHost`] inside a component and against an
//! in-memory fake in unit tests. `lock-files.unlock` is left out: the
//! engine releases by closing, which the contract defines to unlock.

use crate::bindings::wardlock::policy::{clock, lock_files, processes, report};
use crate::wit::{
    Attempt, Disposition, Failure, Handle, Level, Liveness, LockState, Mode, Process, WaitNotice,
};

/// Everything the engine may do to the outside world.
pub trait Host {
    /// `lock-files.open`.
    fn open(&mut self, name: &str, disposition: Disposition) -> Result<Handle, Failure>;
    /// `lock-files.try-lock`.
    fn try_lock(&mut self, file: Handle, mode: Mode) -> Result<Attempt, Failure>;
    /// `lock-files.lock`.
    fn lock(&mut self, file: Handle, mode: Mode, timeout_ns: u64) -> Result<Attempt, Failure>;
    /// `lock-files.close`.
    fn close(&mut self, file: Handle);
    /// `lock-files.state`.
    fn state(&mut self, file: Handle) -> Result<LockState, Failure>;
    /// `lock-files.read-owner`.
    fn read_owner(&mut self, file: Handle) -> Result<Option<Vec<u8>>, Failure>;
    /// `lock-files.write-owner`.
    fn write_owner(&mut self, file: Handle, contents: &[u8]) -> Result<(), Failure>;
    /// `lock-files.clear-owner`.
    fn clear_owner(&mut self, file: Handle) -> Result<(), Failure>;
    /// `lock-files.list-files`.
    fn list_files(&mut self) -> Result<Vec<String>, Failure>;
    /// `processes.current`.
    fn current(&mut self) -> Process;
    /// `processes.probe`.
    fn probe(&mut self, pid: u32, start_token: &str, host: &str) -> Liveness;
    /// `processes.lookup`.
    fn lookup(&mut self, pid: u32) -> Option<Process>;
    /// `clock.monotonic-now`, in nanoseconds.
    fn monotonic_now(&mut self) -> u64;
    /// `clock.wall-now`, in milliseconds since the Unix epoch.
    fn wall_now(&mut self) -> u64;
    /// `report.log`.
    fn log(&mut self, level: Level, message: &str);
    /// `report.waiting`.
    fn waiting(&mut self, notice: &WaitNotice);
}

/// The host behind the component's imports.
///
/// Only usable inside a component: on other targets the generated import
/// stubs panic, which is why tests use a fake instead.
#[derive(Clone, Copy, Debug, Default)]
pub struct WitHost;

impl Host for WitHost {
    fn open(&mut self, name: &str, disposition: Disposition) -> Result<Handle, Failure> {
        lock_files::open(name, disposition)
    }

    fn try_lock(&mut self, file: Handle, mode: Mode) -> Result<Attempt, Failure> {
        lock_files::try_lock(file, mode)
    }

    fn lock(&mut self, file: Handle, mode: Mode, timeout_ns: u64) -> Result<Attempt, Failure> {
        lock_files::lock(file, mode, timeout_ns)
    }

    fn close(&mut self, file: Handle) {
        lock_files::close(file);
    }

    fn state(&mut self, file: Handle) -> Result<LockState, Failure> {
        lock_files::state(file)
    }

    fn read_owner(&mut self, file: Handle) -> Result<Option<Vec<u8>>, Failure> {
        lock_files::read_owner(file)
    }

    fn write_owner(&mut self, file: Handle, contents: &[u8]) -> Result<(), Failure> {
        lock_files::write_owner(file, contents)
    }

    fn clear_owner(&mut self, file: Handle) -> Result<(), Failure> {
        lock_files::clear_owner(file)
    }

    fn list_files(&mut self) -> Result<Vec<String>, Failure> {
        lock_files::list_files()
    }

    fn current(&mut self) -> Process {
        processes::current()
    }

    fn probe(&mut self, pid: u32, start_token: &str, host: &str) -> Liveness {
        processes::probe(pid, start_token, host)
    }

    fn lookup(&mut self, pid: u32) -> Option<Process> {
        processes::lookup(pid)
    }

    fn monotonic_now(&mut self) -> u64 {
        clock::monotonic_now()
    }

    fn wall_now(&mut self) -> u64 {
        clock::wall_now()
    }

    fn log(&mut self, level: Level, message: &str) {
        report::log(level, message);
    }

    fn waiting(&mut self, notice: &WaitNotice) {
        report::waiting(notice);
    }
}
