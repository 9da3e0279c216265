//! Who holds a lock file: the host's lock table joined with the owner record.
//!
//! The lock table (`state`) is the truth about who holds a lock now; the
//! owner record says who took it, for which command and since when. The
//! record describes the holder only when the table agrees or cannot tell:
//! when the table lists pids and the record's pid is not among them, the
//! record is a leftover and the first listed pid is described instead,
//! through `processes.lookup`, as a holder that wrote no record (another
//! program, such as a Python `filelock` user, or a process that inherited
//! the descriptor).

use crate::host::Host;
use crate::record::OwnerRecord;
use crate::text::{human_ms, pid_list, quote};
use crate::wit::{ErrorCode, Failure, Handle, Holder, Liveness, LockState, Mode};

/// What the owner record beside a lock file says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordView {
    /// There is no owner record.
    Absent,
    /// There is a record nobody can read; the string says why.
    Unreadable(String),
    /// A readable record, and whether its owner still runs.
    Valid {
        /// The record.
        record: Box<OwnerRecord>,
        /// What `processes.probe` says of its owner.
        liveness: Liveness,
    },
}

/// Where the holder description came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HolderSource {
    /// The owner record, which the lock table confirms or cannot check.
    Record,
    /// The lock table alone: the holder wrote no record we could match.
    LockTable,
    /// Nothing: the host shows no holder pid and there is no record.
    Unknown,
}

/// A lock file surveyed without taking or disturbing its lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Survey {
    /// The host's lock table for the file.
    pub state: LockState,
    /// The owner record beside it.
    pub record: RecordView,
    /// The holder, as well as it could be found out.
    pub holder: Holder,
    /// Where `holder` came from.
    pub source: HolderSource,
}

/// Read a file's lock state and owner record and describe its holder.
///
/// A record larger than the host reads counts as unreadable; any other
/// host failure is returned.
pub fn survey(host: &mut impl Host, file: Handle) -> Result<Survey, Failure> {
    let state = host.state(file)?;
    let record = match host.read_owner(file) {
        Ok(None) => RecordView::Absent,
        Ok(Some(bytes)) => match OwnerRecord::decode(&bytes) {
            Ok(record) => {
                let liveness = host.probe(record.pid, &record.start_token, &record.host);
                RecordView::Valid {
                    record: Box::new(record),
                    liveness,
                }
            }
            Err(reason) => RecordView::Unreadable(reason),
        },
        Err(Failure {
            code: code @ (ErrorCode::TooLarge | ErrorCode::NotRegularFile),
            ..
        }) => RecordView::Unreadable(crate::engine::unreadable_reason(code).to_owned()),
        Err(failure) => return Err(failure),
    };

    // Holders in table order, each once.
    let mut pids: Vec<u32> = Vec::new();
    for &pid in &state.holders {
        if !pids.contains(&pid) {
            pids.push(pid);
        }
    }

    let now_ms = host.wall_now();
    let (holder, source) = match &record {
        RecordView::Valid { record, liveness } if pids.is_empty() || pids.contains(&record.pid) => {
            let holder = Holder {
                pid: Some(record.pid),
                liveness: *liveness,
                command: record.command.clone(),
                host: Some(record.host.clone()),
                since: (!record.acquired_at.is_empty()).then(|| record.acquired_at.clone()),
                held_for_ms: record.acquired_at_ms.map(|at| now_ms.saturating_sub(at)),
                mode: state.held,
                others: pids.iter().copied().filter(|&p| p != record.pid).collect(),
            };
            (holder, HolderSource::Record)
        }
        _ => match pids.split_first() {
            Some((&first, others)) => {
                let process = host.lookup(first);
                let holder = Holder {
                    pid: Some(first),
                    liveness: if process.is_some() {
                        Liveness::Alive
                    } else {
                        Liveness::Unknown
                    },
                    command: process.as_ref().and_then(|p| p.command.clone()),
                    host: process.map(|p| p.host),
                    since: None,
                    held_for_ms: None,
                    mode: state.held,
                    others: others.to_vec(),
                };
                (holder, HolderSource::LockTable)
            }
            None => (unknown_holder(state.held), HolderSource::Unknown),
        },
    };
    Ok(Survey {
        state,
        record,
        holder,
        source,
    })
}

/// A holder nothing is known about.
pub fn unknown_holder(mode: Option<Mode>) -> Holder {
    Holder {
        pid: None,
        liveness: Liveness::Unknown,
        command: None,
        host: None,
        since: None,
        held_for_ms: None,
        mode,
        others: Vec::new(),
    }
}

impl Survey {
    /// A survey for when the host could not be asked: nothing known.
    pub fn unknown() -> Survey {
        Survey {
            state: LockState {
                held: None,
                holders: Vec::new(),
            },
            record: RecordView::Absent,
            holder: unknown_holder(None),
            source: HolderSource::Unknown,
        }
    }

    /// The record of an owner that is gone or was replaced by a recycled
    /// pid while the lock is still held exclusively: an orphaned holder.
    ///
    /// Only exclusive locks have records, so a record beside a lock held
    /// shared is a leftover from an earlier exclusive holder, not the
    /// holder's own.
    pub fn orphaned_owner(&self) -> Option<(&OwnerRecord, Liveness)> {
        match &self.record {
            RecordView::Valid { record, liveness }
                if matches!(liveness, Liveness::Gone | Liveness::Reused)
                    && self.state.held == Some(Mode::Exclusive) =>
            {
                Some((record, *liveness))
            }
            _ => None,
        }
    }

    /// Who holds the lock, for messages: `held by pid 1234 (`make build`,
    /// alive, for 12s)` or `held shared by pids 11, 12`.
    ///
    /// `local_host` is this machine's name; a holder elsewhere is named
    /// with its host.
    pub fn phrase(&self, local_host: &str) -> String {
        let h = &self.holder;
        if h.mode == Some(Mode::Shared) {
            let pids: Vec<u32> = h.pid.into_iter().chain(h.others.iter().copied()).collect();
            return match pids.len() {
                0 => "held shared by processes the host cannot see".to_owned(),
                1 => format!("held shared by pid {}", pids[0]),
                _ => format!("held shared by pids {}", pid_list(&pids)),
            };
        }
        let Some(pid) = h.pid else {
            return "held by a process the host cannot see".to_owned();
        };

        let mut details = Vec::new();
        if let Some(command) = &h.command {
            details.push(format!("`{}`", quote(command)));
        }
        if let Some(host) = h.host.as_deref().filter(|&host| host != local_host) {
            details.push(format!("on `{}`", quote(host)));
        }
        details.push(liveness_word(h.liveness).to_owned());
        match self.source {
            HolderSource::Record => {
                if let Some(ms) = h.held_for_ms {
                    details.push(format!("for {}", human_ms(ms)));
                }
            }
            HolderSource::LockTable | HolderSource::Unknown => {
                details.push("not a wardlock holder or no owner record".to_owned());
            }
        }
        let mut phrase = format!("held by pid {pid} ({})", details.join(", "));
        if !h.others.is_empty() {
            phrase.push_str(&format!(" and pids {}", pid_list(&h.others)));
        }
        phrase
    }
}

/// How a liveness reads in messages.
pub fn liveness_word(liveness: Liveness) -> &'static str {
    match liveness {
        Liveness::Alive => "alive",
        Liveness::Gone => "gone",
        Liveness::Reused => "pid reused",
        Liveness::Unknown => "liveness unknown",
    }
}
