//! The `processes` import: who this process is, and whether a recorded
//! owner still runs.
//!
//! An owner counts as gone only on proof: its pid is free, or belongs to a
//! process that started at another time (reused), or it was recorded before
//! this machine last booted. An owner on another host, or in another PID
//! namespace, is unknown, never gone.

use std::sync::Mutex;

use crate::bindings::wardlock::policy::processes::{Host, Process};
use crate::bindings::wardlock::policy::types::Liveness;
use crate::state::CallState;
use crate::sys::{self, Probe};

/// This process's facts, read once per pid (a forked child reads its own).
static CURRENT: Mutex<Option<(u32, Process)>> = Mutex::new(None);

/// This process as the process table shows it.
pub(crate) fn current() -> Process {
    let pid = sys::pid();
    let mut cached = CURRENT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((cached_pid, process)) = &*cached
        && *cached_pid == pid
    {
        return process.clone();
    }
    let facts = sys::process(pid);
    let process = Process {
        pid,
        start_token: facts
            .as_ref()
            .map(|f| f.start_token.clone())
            .unwrap_or_default(),
        started_at_ms: facts.as_ref().and_then(|f| f.started_at_ms),
        host: host_name().to_owned(),
        command: facts.and_then(|f| f.command),
    };
    *cached = Some((pid, process.clone()));
    process
}

fn host_name() -> &'static str {
    static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOST.get_or_init(sys::host_name)
}

impl Host for CallState {
    fn current(&mut self) -> Process {
        let mut process = current();
        if let Some(command) = self.dir.as_ref().and_then(|d| d.command.clone()) {
            process.command = Some(command);
        }
        process
    }

    fn probe(&mut self, pid: u32, start_token: String, host: String) -> Liveness {
        self.metered_or(Liveness::Unknown, |_| probe(pid, &start_token, &host))
    }

    fn lookup(&mut self, pid: u32) -> Option<Process> {
        self.metered_or(None, |_| lookup(pid))
    }
}

/// Whether the process recorded as (`pid`, `start_token`, `host`) runs.
fn probe(pid: u32, start_token: &str, host: &str) -> Liveness {
    if host != host_name() {
        return Liveness::Unknown;
    }
    match sys::probe(pid, start_token) {
        Probe::Alive => Liveness::Alive,
        Probe::Gone => Liveness::Gone,
        Probe::Reused => Liveness::Reused,
        Probe::Unknown => Liveness::Unknown,
    }
}

/// Facts about `pid` on this host, if it runs.
fn lookup(pid: u32) -> Option<Process> {
    let facts = sys::process(pid)?;
    Some(Process {
        pid,
        start_token: facts.start_token,
        started_at_ms: facts.started_at_ms,
        host: host_name().to_owned(),
        command: facts.command,
    })
}
