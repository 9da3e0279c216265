//! What a guest call can reach: the store's data.

use std::path::PathBuf;
use std::sync::Arc;

use wasmtime::StoreLimits;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings::wardlock::policy::lock_files::Handle;
use crate::bindings::wardlock::policy::report::WaitNotice;
use crate::lock_files::LockTable;
use crate::sys;

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
