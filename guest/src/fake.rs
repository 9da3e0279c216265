//! An in-memory host for the engine's unit tests.
//!
//! It keeps a lock directory of named files, each with holders from other
//! processes and an owner record; a table of running processes; a
//! monotonic clock that moves only while the engine waits; and a timeline
//! of things other processes do at given times (release a lock, write or
//! clear a record). Every call is logged as a line such as
//! `try-lock .lock-feature-f shared`, so tests can assert the order of
//! operations, and any operation on any file can be made to fail.

use std::collections::BTreeMap;

use crate::host::Host;
use crate::record::{OwnerRecord, PolicyStamp, rfc3339_ms};
use crate::wit::{
    Attempt, Disposition, ErrorCode, Failure, Handle, Level, Liveness, LockState, Mode, Process,
    WaitNotice,
};

/// Our own pid in the fake.
pub const ME: u32 = 100;

/// The fake machine's name.
pub const LOCAL: &str = "here";

/// The wall clock when the fake starts, in ms since the epoch.
pub const WALL0: u64 = 1_733_300_000_000;

/// A lock another process holds.
#[derive(Clone, Debug)]
struct Holding {
    /// The holding process.
    pid: u32,
    /// How it holds the lock.
    mode: Mode,
}

/// One file of the lock directory.
#[derive(Clone, Debug, Default)]
struct File {
    /// Locks other processes hold.
    others: Vec<Holding>,
    /// The owner record beside it.
    owner: Option<Vec<u8>>,
}

/// Something another process does at a given time.
#[derive(Clone, Debug)]
pub enum Event {
    /// Release all locks that pid holds on the file.
    Release(&'static str, u32),
    /// Replace the file's owner record.
    WriteOwner(&'static str, Vec<u8>),
}

/// The fake host.
#[derive(Debug)]
pub struct FakeHost {
    files: BTreeMap<String, File>,
    /// Our open handles: file name and the mode we hold, if any.
    handles: BTreeMap<Handle, (String, Option<Mode>)>,
    next_handle: Handle,
    /// Running processes by pid.
    pub processes: BTreeMap<u32, Process>,
    /// Nanoseconds on the monotonic clock.
    pub mono_ns: u64,
    /// Events still to happen, by monotonic time.
    timeline: Vec<(u64, Event)>,
    /// Injected failures: operation and file name.
    failures: Vec<(&'static str, String, ErrorCode)>,
    /// Whether `state` hides holder pids, as on hosts without a lock table.
    pub hide_pids: bool,
    /// Every call, in order.
    pub calls: Vec<String>,
    /// Every log record.
    pub logs: Vec<(Level, String)>,
    /// Every wait notice.
    pub notices: Vec<WaitNotice>,
}

impl FakeHost {
    /// An empty lock directory; we are pid 100 running `make build`.
    pub fn new() -> FakeHost {
        let mut fake = FakeHost {
            files: BTreeMap::new(),
            handles: BTreeMap::new(),
            next_handle: 1,
            processes: BTreeMap::new(),
            mono_ns: 5_000_000_000,
            timeline: Vec::new(),
            failures: Vec::new(),
            hide_pids: false,
            calls: Vec::new(),
            logs: Vec::new(),
            notices: Vec::new(),
        };
        fake.spawn(ME, "make build");
        fake
    }

    /// Start a process on this host.
    pub fn spawn(&mut self, pid: u32, command: &str) {
        self.processes.insert(
            pid,
            Process {
                pid,
                start_token: token(pid),
                started_at_ms: Some(WALL0 - 60_000),
                host: LOCAL.to_owned(),
                command: Some(command.to_owned()),
            },
        );
    }

    /// End a process; its locks stay held only if someone else inherited
    /// them (tests keep the holding as they need).
    pub fn kill(&mut self, pid: u32) {
        self.processes.remove(&pid);
    }

    /// Another process takes a lock file, without a record.
    pub fn hold(&mut self, name: &str, pid: u32, mode: Mode) {
        self.files
            .entry(name.to_owned())
            .or_default()
            .others
            .push(Holding { pid, mode });
    }

    /// Put an owner record beside a lock file.
    pub fn put_owner(&mut self, name: &str, bytes: Vec<u8>) {
        self.files.entry(name.to_owned()).or_default().owner = Some(bytes);
    }

    /// A record as a wardlock process `pid` writes it, taken `age_ms` ago.
    pub fn record_of(&self, pid: u32, resource: &str, age_ms: u64) -> Vec<u8> {
        let command = self.processes.get(&pid).and_then(|p| p.command.clone());
        let at = self.wall_ms() - age_ms;
        OwnerRecord {
            pid,
            start_token: token(pid),
            started_at_ms: Some(WALL0 - 60_000),
            host: LOCAL.to_owned(),
            command: command.or_else(|| Some(format!("cmd{pid}"))),
            resource: resource.to_owned(),
            mode: "exclusive".to_owned(),
            acquired_at: rfc3339_ms(at),
            acquired_at_ms: Some(at),
            policy: PolicyStamp {
                name: "default".to_owned(),
                version: "0.1.0".to_owned(),
            },
        }
        .encode()
    }

    /// A wardlock process `pid` holds a lock file exclusively with a record.
    pub fn hold_with_record(&mut self, name: &str, pid: u32, resource: &str, age_ms: u64) {
        self.hold(name, pid, Mode::Exclusive);
        let record = self.record_of(pid, resource, age_ms);
        self.put_owner(name, record);
    }

    /// Schedule an event `after_ns` from now.
    pub fn at(&mut self, after_ns: u64, event: Event) {
        self.timeline.push((self.mono_ns + after_ns, event));
        self.timeline.sort_by_key(|(t, _)| *t);
    }

    /// Make an operation (`open`, `try-lock`, `lock`, `state`, `read-owner`,
    /// `write-owner`, `clear-owner`, `list-files`) fail on a file.
    pub fn fail(&mut self, op: &'static str, name: &str, code: ErrorCode) {
        self.failures.push((op, name.to_owned(), code));
    }

    /// The owner record beside a file.
    pub fn owner(&self, name: &str) -> Option<&[u8]> {
        self.files.get(name).and_then(|f| f.owner.as_deref())
    }

    /// The decoded owner record beside a file.
    pub fn owner_record(&self, name: &str) -> Option<OwnerRecord> {
        self.owner(name).and_then(|b| OwnerRecord::decode(b).ok())
    }

    /// Handles we still have open.
    pub fn open_handles(&self) -> Vec<String> {
        self.handles.values().map(|(n, _)| n.clone()).collect()
    }

    /// What we hold: file name and mode, by handle order.
    pub fn held_by_me(&self) -> Vec<(String, Mode)> {
        self.handles
            .values()
            .filter_map(|(n, m)| m.map(|m| (n.clone(), m)))
            .collect()
    }

    /// The calls whose line starts with one of these operations.
    pub fn calls_of(&self, ops: &[&str]) -> Vec<String> {
        self.calls
            .iter()
            .filter(|c| ops.iter().any(|op| c.split(' ').next() == Some(op)))
            .cloned()
            .collect()
    }

    /// The log messages at a level.
    pub fn logs_at(&self, level: Level) -> Vec<String> {
        self.logs
            .iter()
            .filter(|(l, _)| *l == level)
            .map(|(_, m)| m.clone())
            .collect()
    }

    /// The wall clock, which moves with the monotonic one.
    fn wall_ms(&self) -> u64 {
        WALL0 + self.mono_ns / 1_000_000
    }

    /// The injected failure for an operation on a file, if any.
    fn injected(&self, op: &str, name: &str) -> Result<(), Failure> {
        match self.failures.iter().find(|(o, n, _)| *o == op && n == name) {
            Some((_, _, code)) => Err(Failure {
                code: *code,
                message: format!("injected {op} failure on `{name}`"),
            }),
            None => Ok(()),
        }
    }

    /// The file behind a handle.
    fn name_of(&mut self, file: Handle, op: &str) -> Result<String, Failure> {
        match self.handles.get(&file) {
            Some((name, _)) => Ok(name.clone()),
            None => {
                self.calls.push(format!("{op} BAD-HANDLE {file}"));
                Err(Failure {
                    code: ErrorCode::BadHandle,
                    message: format!("handle {file} is not open"),
                })
            }
        }
    }

    /// Whether a lock in `mode` through `file` conflicts with anyone:
    /// `Some(true)` for another process, `Some(false)` for another of our
    /// own handles, `None` when free.
    fn conflict(&self, file: Handle, name: &str, mode: Mode) -> Option<bool> {
        let clash = |m: Mode| m == Mode::Exclusive || mode == Mode::Exclusive;
        if let Some(f) = self.files.get(name)
            && f.others.iter().any(|h| clash(h.mode))
        {
            return Some(true);
        }
        self.handles
            .iter()
            .any(|(&h, (n, m))| h != file && n == name && m.is_some_and(clash))
            .then_some(false)
    }

    /// Apply the events due by `until_ns`, one at a time; stop early, at
    /// the event's time, once `free` holds.
    fn run_until(&mut self, until_ns: u64, mut free: impl FnMut(&FakeHost) -> bool) -> bool {
        while let Some((t, _)) = self.timeline.first() {
            if *t > until_ns {
                break;
            }
            let (t, event) = self.timeline.remove(0);
            self.mono_ns = self.mono_ns.max(t);
            match event {
                Event::Release(name, pid) => {
                    if let Some(f) = self.files.get_mut(name) {
                        f.others.retain(|h| h.pid != pid);
                    }
                }
                Event::WriteOwner(name, bytes) => self.put_owner(name, bytes),
            }
            if free(self) {
                return true;
            }
        }
        self.mono_ns = self.mono_ns.max(until_ns);
        free(self)
    }

    /// Take the lock if free, else `Busy`; refuse a clash with ourselves.
    fn attempt(&mut self, file: Handle, name: &str, mode: Mode) -> Result<Attempt, Failure> {
        match self.conflict(file, name, mode) {
            None => {
                if let Some(entry) = self.handles.get_mut(&file) {
                    entry.1 = Some(mode);
                }
                Ok(Attempt::Acquired)
            }
            Some(true) => Ok(Attempt::Busy),
            Some(false) => Err(Failure {
                code: ErrorCode::HeldByThisProcess,
                message: format!("`{name}` is held by this process"),
            }),
        }
    }
}

/// The start token the fake gives a pid.
pub fn token(pid: u32) -> String {
    format!("boot:ns:{pid}")
}

/// A word for a mode in the call log.
fn word(mode: Mode) -> &'static str {
    crate::engine::mode_word(mode)
}

impl Host for FakeHost {
    fn open(&mut self, name: &str, disposition: Disposition) -> Result<Handle, Failure> {
        self.calls.push(format!("open {name}"));
        self.injected("open", name)?;
        if !self.files.contains_key(name) {
            if disposition == Disposition::Existing {
                return Err(Failure {
                    code: ErrorCode::NotFound,
                    message: format!("`{name}` not found"),
                });
            }
            self.files.insert(name.to_owned(), File::default());
        }
        let handle = self.next_handle;
        self.next_handle += 1;
        self.handles.insert(handle, (name.to_owned(), None));
        Ok(handle)
    }

    fn try_lock(&mut self, file: Handle, mode: Mode) -> Result<Attempt, Failure> {
        let name = self.name_of(file, "try-lock")?;
        self.calls.push(format!("try-lock {name} {}", word(mode)));
        self.injected("try-lock", &name)?;
        self.attempt(file, &name, mode)
    }

    fn lock(&mut self, file: Handle, mode: Mode, timeout_ns: u64) -> Result<Attempt, Failure> {
        let name = self.name_of(file, "lock")?;
        self.calls
            .push(format!("lock {name} {} {timeout_ns}", word(mode)));
        self.injected("lock", &name)?;
        if self.conflict(file, &name, mode) == Some(true) {
            let until = self.mono_ns.saturating_add(timeout_ns);
            self.run_until(until, |f| f.conflict(file, &name, mode) != Some(true));
        }
        self.attempt(file, &name, mode)
    }

    fn close(&mut self, file: Handle) {
        match self.handles.remove(&file) {
            Some((name, _)) => self.calls.push(format!("close {name}")),
            None => self.calls.push(format!("close BAD-HANDLE {file}")),
        }
    }

    fn state(&mut self, file: Handle) -> Result<LockState, Failure> {
        let name = self.name_of(file, "state")?;
        self.calls.push(format!("state {name}"));
        self.injected("state", &name)?;
        let mut holders: Vec<(u32, Mode)> = self
            .files
            .get(&name)
            .map(|f| f.others.iter().map(|h| (h.pid, h.mode)).collect())
            .unwrap_or_default();
        holders.extend(
            self.handles
                .values()
                .filter(|(n, _)| *n == name)
                .filter_map(|(_, m)| m.map(|m| (ME, m))),
        );
        let held = holders.iter().map(|(_, m)| *m).max();
        let holders = if self.hide_pids {
            Vec::new()
        } else {
            holders.iter().map(|(p, _)| *p).collect()
        };
        Ok(LockState { held, holders })
    }

    fn read_owner(&mut self, file: Handle) -> Result<Option<Vec<u8>>, Failure> {
        let name = self.name_of(file, "read-owner")?;
        self.calls.push(format!("read-owner {name}"));
        self.injected("read-owner", &name)?;
        Ok(self.owner(&name).map(<[u8]>::to_vec))
    }

    fn write_owner(&mut self, file: Handle, contents: &[u8]) -> Result<(), Failure> {
        let name = self.name_of(file, "write-owner")?;
        self.calls.push(format!("write-owner {name}"));
        self.injected("write-owner", &name)?;
        self.put_owner(&name, contents.to_vec());
        Ok(())
    }

    fn clear_owner(&mut self, file: Handle) -> Result<(), Failure> {
        let name = self.name_of(file, "clear-owner")?;
        self.calls.push(format!("clear-owner {name}"));
        self.injected("clear-owner", &name)?;
        if let Some(f) = self.files.get_mut(&name) {
            f.owner = None;
        }
        Ok(())
    }

    fn list_files(&mut self) -> Result<Vec<String>, Failure> {
        self.calls.push("list-files".to_owned());
        self.injected("list-files", "")?;
        Ok(self.files.keys().cloned().collect())
    }

    fn current(&mut self) -> Process {
        self.processes.get(&ME).cloned().unwrap_or_else(|| Process {
            pid: ME,
            start_token: token(ME),
            started_at_ms: None,
            host: LOCAL.to_owned(),
            command: None,
        })
    }

    fn probe(&mut self, pid: u32, start_token: &str, host: &str) -> Liveness {
        self.calls.push(format!("probe {pid}"));
        if host != LOCAL {
            return Liveness::Unknown;
        }
        match self.processes.get(&pid) {
            None => Liveness::Gone,
            Some(p) if p.start_token == start_token => Liveness::Alive,
            Some(_) => Liveness::Reused,
        }
    }

    fn lookup(&mut self, pid: u32) -> Option<Process> {
        self.calls.push(format!("lookup {pid}"));
        self.processes.get(&pid).cloned()
    }

    fn monotonic_now(&mut self) -> u64 {
        self.mono_ns
    }

    fn wall_now(&mut self) -> u64 {
        self.wall_ms()
    }

    fn log(&mut self, level: Level, message: &str) {
        self.logs.push((level, message.to_owned()));
    }

    fn waiting(&mut self, notice: &WaitNotice) {
        self.calls.push(format!("waiting {}", notice.lock_file));
        self.notices.push(notice.clone());
    }
}
