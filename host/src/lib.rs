//! wardlock: named, cross-process locks whose policy is a sandboxed
//! WebAssembly component.
//!
//! Several processes working in one project directory (agents, command-line
//! tools, editors, CI jobs) take named locks on resources such as
//! `wp:<feature>/WP01`, `feature:<slug>` or `config:<name>`. What a resource
//! id means is decided by a *policy*: a component for the
//! `wardlock:policy` WIT contract that maps ids to lock files, orders and
//! takes them, times waits, judges stale owners and words the message a
//! waiting user sees. This crate is the native host: it lends the policy
//! exactly two powers, OS file locks inside one lock directory and a process
//! probe, and nothing else.
//!
//! # What is guaranteed
//! - The OS lock is the only proof of holding. A lock is released by the
//!   kernel the moment its holder exits, however it exits; files are never
//!   deleted by age, and an owner record is only a description.
//! - Lock files are opened by bare name relative to the lock directory's
//!   descriptor, never through a symbolic link, never truncated, and
//!   close-on-exec, so commands spawned under a lock do not inherit it.
//! - A waiter is woken by the kernel when the lock is released.
//! - Contention (`Busy`, `TimedOut`, `Refused`) is told apart from failure
//!   and names the holder.
//! - A policy module runs with a fuel and memory budget per call; if it
//!   traps, whatever it had opened in that call is closed.
//!
//! # What is not
//! - Network file systems: `flock` on NFS or SMB may be emulated, local to
//!   one client, or refused; wardlock reports a refusal as `unsupported`,
//!   but cannot detect emulation that silently does not exclude.
//! - Owners in other PID namespaces or on other hosts are `unknown`, never
//!   `gone`: their records are reported, not judged.
//!
//! # Example
//! ```no_run
//! use wardlock::{LockDir, Mode, Policy, Timeout};
//!
//! let dir = LockDir::open(".kittify", Policy::embedded()?)?;
//! let guard = dir.acquire("wp:my-feature/WP01", Mode::Exclusive, &Timeout::Default)?;
//! // ... change work package WP01 ...
//! drop(guard);
//! # Ok::<(), wardlock::Error>(())
//! ```

mod bindings;
pub mod child;
mod clock;
mod error;
mod lock_dir;
mod lock_files;
mod policy;
mod processes;
mod report;
mod state;
mod sys;

pub use bindings::exports::wardlock::policy::policy::{
    Contention, Holder, LockPlan, LockStatus, PolicyInfo, Step,
};
pub use bindings::wardlock::policy::report::WaitNotice;
pub use bindings::wardlock::policy::types::{ErrorCode, Liveness, Mode};
pub use error::Error;
pub use lock_dir::{
    ENV_DIR, Guard, LockDir, Options, PROJECT_DIR, RemovedLock, Timeout, default_dir,
};
pub use lock_files::{HOST_PREFIX, OWNER_SUFFIX, TEMP_SUFFIX};
pub use policy::{CONTRACT, FUEL_PER_CALL, MEMORY_LIMIT, PINNED_POLICY, Policy};
pub use state::WaitHandler;
