//! What a guest call can reach: the store's data.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::StoreLimits;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings::wardlock::policy::lock_files::Handle;
use crate::bindings::wardlock::policy::report::WaitNotice;
use crate::bindings::wardlock::policy::types::{ErrorCode, Failure};
use crate::lock_files::LockTable;
use crate::sys;

/// What one call into a policy may spend in host operations, waits for
/// locks excepted: far more than any real policy needs (an acquisition
/// takes well under a millisecond), far less than a hang.
pub const HOST_BUDGET: Duration = Duration::from_millis(250);

/// The extra host time a call gets for each file the directory lists, so a
/// `status` over a large directory is not cut short.
const BUDGET_PER_FILE: Duration = Duration::from_millis(1);

/// A callback told each time a policy is about to wait for a lock.
pub type WaitHandler = Arc<dyn Fn(&WaitNotice) + Send + Sync>;

/// One lock directory as the host functions see it, shared by every call
/// and every waiting helper thread.
pub(crate) struct DirShared {
    pub(crate) path: PathBuf,
    pub(crate) fs: sys::Dir,
    pub(crate) locks: LockTable,
    /// What the locks are held for, reported as the owner's command.
    pub(crate) command: Option<String>,
    pub(crate) on_wait: Option<WaitHandler>,
}

/// The data of one store: one component instance and the call running in
/// it.
pub(crate) struct CallState {
    /// The lock directory; `None` while a policy is only being inspected,
    /// in which case every lock-file operation fails.
    pub(crate) dir: Option<Arc<DirShared>>,
    /// Handles opened during the current call, so that the host can close
    /// what a failed call left open.
    pub(crate) opened: Vec<Handle>,
    /// Time spent in host operations during the current call, waits for
    /// locks excepted, and what the call may spend.
    host_spent: Duration,
    host_budget: Duration,
    /// Time spent waiting for locks during the current call.
    waited: Duration,
    /// Set once the call has overspent: every later operation fails fast.
    pub(crate) overspent: bool,
    /// When waits in the current call must end, whatever the policy asks:
    /// the caller's own timeout (plus a grace), or now for calls that
    /// should never wait. `None`: the caller waits for ever.
    pub(crate) deadline: Option<Instant>,
    /// The kernel's lock table as read once during the current call
    /// (`Some(None)`: it cannot be read here).
    pub(crate) lock_table: Option<Option<sys::LockTable>>,
    pub(crate) limits: StoreLimits,
    wasi: WasiCtx,
    table: ResourceTable,
}

impl CallState {
    pub(crate) fn new(dir: Option<Arc<DirShared>>, limits: StoreLimits) -> Self {
        // The guest's WASI gets standard error (where a panicking guest
        // writes) and nothing else: no files, no environment, no network.
        let wasi = WasiCtx::builder().inherit_stderr().build();
        CallState {
            dir,
            opened: Vec::new(),
            lock_table: None,
            host_spent: Duration::ZERO,
            host_budget: HOST_BUDGET,
            waited: Duration::ZERO,
            overspent: false,
            deadline: None,
            limits,
            wasi,
            table: ResourceTable::new(),
        }
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl CallState {
    /// The WASI resource table, for the `wasi:io` interfaces.
    pub(crate) fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }
}

/// The `types` interface has no functions; its types are shared.
impl crate::bindings::wardlock::policy::types::Host for CallState {}

impl CallState {
    /// Start a new call: a fresh budget, and waits bounded by `deadline`.
    pub(crate) fn begin_call(&mut self, deadline: Option<Instant>) {
        self.opened.clear();
        self.lock_table = None;
        self.host_spent = Duration::ZERO;
        self.host_budget = HOST_BUDGET;
        self.waited = Duration::ZERO;
        self.overspent = false;
        self.deadline = deadline;
    }

    /// Run a host operation against the call's budget; once the budget is
    /// spent, fail without running it.
    pub(crate) fn metered<T>(
        &mut self,
        op: impl FnOnce(&mut Self) -> Result<T, Failure>,
    ) -> Result<T, Failure> {
        if self.host_spent > self.host_budget {
            self.overspent = true;
            return Err(Failure {
                code: ErrorCode::Other,
                message: format!(
                    "the policy spent more than {} ms in host operations in one call",
                    self.host_budget.as_millis()
                ),
            });
        }
        let (start, waited_before) = (Instant::now(), self.waited);
        let result = op(self);
        let waited = self.waited.saturating_sub(waited_before);
        self.host_spent += start.elapsed().saturating_sub(waited);
        result
    }

    /// Like [`CallState::metered`], for operations that cannot fail:
    /// `fallback` once the budget is spent.
    pub(crate) fn metered_or<T>(&mut self, fallback: T, op: impl FnOnce(&mut Self) -> T) -> T {
        self.metered(|s| Ok(op(s))).unwrap_or(fallback)
    }

    /// Note time spent waiting for a lock, which is not charged.
    pub(crate) fn uncharge(&mut self, waited: Duration) {
        self.waited += waited;
    }

    /// Allow more host time for a call that lists `files` files.
    pub(crate) fn extend_budget(&mut self, files: usize) {
        let files = u32::try_from(files).unwrap_or(u32::MAX);
        self.host_budget = self
            .host_budget
            .saturating_add(BUDGET_PER_FILE.saturating_mul(files));
    }
}
