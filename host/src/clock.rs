//! The `clock` import: a monotonic clock for waits, a wall clock for
//! owner records.

use std::sync::LazyLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::bindings::wardlock::policy::clock::Host;
use crate::state::CallState;

/// The origin of the monotonic clock the guest sees: the first use in this
/// process.
static ORIGIN: LazyLock<Instant> = LazyLock::new(Instant::now);

impl Host for CallState {
    fn monotonic_now(&mut self) -> u64 {
        u64::try_from(ORIGIN.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn wall_now(&mut self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }
}
