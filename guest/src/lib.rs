//! The wardlock lock-policy engine, and the glue that makes a component of it.
//!
//! A policy turns resource ids into lock files, takes them in a
//! deadlock-free order, waits within a timeout, records who holds what and
//! tells waiting users why. The engine ([`engine`]) is plain Rust: every
//! effect goes through the [`Host`] trait, implemented over the WIT imports
//! by [`WitHost`] and by an in-memory fake in the unit tests.
//!
//! A policy component is a `cdylib` that invokes [`export_policy!`] with a
//! type name and a [`Preset`]:
//!
//! ```text
//! wardlock_policy::export_policy!(DefaultPolicy, wardlock_policy::Preset {
//!     name: "default",
//!     version: env!("CARGO_PKG_VERSION"),
//!     default_timeout_ms: 300_000,
//!     orphaned_holder: wardlock_policy::OrphanedHolder::Wait,
//! });
//! ```
//!
//! This crate itself exports nothing, so any number of policy crates can
//! link it.

pub mod bindings;
pub mod engine;
pub mod holder;
pub mod host;
pub mod record;
pub mod resource;
pub mod text;
pub mod timeout;

#[cfg(test)]
mod fake;
#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;

pub use engine::{CONTRACT, OrphanedHolder, Preset};
pub use host::{Host, WitHost};

/// The generated WIT types under short names.
pub mod wit {
    pub use crate::bindings::exports::wardlock::policy::policy::{
        AcquireError, Contention, HeldLock, Holder, Lease, LockFailure, LockPlan, LockStatus,
        PolicyInfo, RequestError, Step,
    };
    pub use crate::bindings::wardlock::policy::lock_files::{
        Attempt, Disposition, Handle, LockState,
    };
    pub use crate::bindings::wardlock::policy::processes::Process;
    pub use crate::bindings::wardlock::policy::report::{Level, WaitNotice};
    pub use crate::bindings::wardlock::policy::types::{ErrorCode, Failure, Liveness, Mode};
}

/// Define a policy component: a unit struct `$ty` implementing the
/// exported `policy` interface with the engine and `$preset`, exported as
/// the component's `wardlock:policy/policy@0.1.0`.
///
/// Invoke it once, at the root of a `cdylib` crate. `$preset` is a
/// constant expression of type [`Preset`].
#[macro_export]
macro_rules! export_policy {
    ($ty:ident, $preset:expr $(,)?) => {
        /// The lock policy this component exports.
        pub struct $ty;

        impl $ty {
            /// The preset the policy runs with.
            const PRESET: $crate::Preset = $preset;
        }

        impl $crate::bindings::exports::wardlock::policy::policy::Guest for $ty {
            fn info() -> $crate::wit::PolicyInfo {
                $crate::engine::info(&Self::PRESET)
            }

            fn plan(
                resource: ::std::string::String,
                mode: $crate::wit::Mode,
                timeout: ::std::option::Option<::std::string::String>,
            ) -> ::std::result::Result<$crate::wit::LockPlan, $crate::wit::RequestError> {
                $crate::engine::plan(&Self::PRESET, &resource, mode, timeout.as_deref())
            }

            fn acquire(
                resource: ::std::string::String,
                mode: $crate::wit::Mode,
                timeout: ::std::option::Option<::std::string::String>,
            ) -> ::std::result::Result<$crate::wit::Lease, $crate::wit::AcquireError> {
                $crate::engine::acquire(
                    &mut $crate::WitHost,
                    &Self::PRESET,
                    &resource,
                    mode,
                    timeout.as_deref(),
                )
            }

            fn release(
                lease: $crate::wit::Lease,
            ) -> ::std::result::Result<(), $crate::wit::LockFailure> {
                $crate::engine::release(&mut $crate::WitHost, &lease)
            }

            fn status() -> ::std::result::Result<
                ::std::vec::Vec<$crate::wit::LockStatus>,
                $crate::wit::LockFailure,
            > {
                $crate::engine::status(&mut $crate::WitHost)
            }
        }

        $crate::bindings::export!($ty with_types_in $crate::bindings);
    };
}
