//! The `report` import: the policy's diagnostics go to `tracing`, its
//! waiting notices to whoever opened the lock directory.

use crate::bindings::wardlock::policy::report::{Host, Level, WaitNotice};
use crate::state::CallState;

impl Host for CallState {
    fn log(&mut self, level: Level, message: String) {
        match level {
            Level::Debug => tracing::debug!(target: "wardlock::policy", "{message}"),
            Level::Info => tracing::info!(target: "wardlock::policy", "{message}"),
            Level::Warn => tracing::warn!(target: "wardlock::policy", "{message}"),
        }
    }

    fn waiting(&mut self, notice: WaitNotice) {
        // Metered like any operation, so a policy cannot flood the caller.
        self.metered_or((), |s| s.tell_waiting(notice));
    }
}

impl CallState {
    fn tell_waiting(&mut self, notice: WaitNotice) {
        tracing::debug!(lock_file = %notice.lock_file, "{}", notice.message);
        if let Some(dir) = &self.dir
            && let Some(on_wait) = &dir.on_wait
        {
            on_wait(&notice);
        }
    }
}
