//! The strict wardlock lock policy, as a WASM component.
//!
//! Uses the same lock files as the default policy, so the two share a lock
//! directory, but waits 30 s by default and refuses to wait for a lock that
//! is held while its recorded owner is gone or its pid reused: an orphaned
//! holder, such as a daemon that inherited the lock's descriptor, would
//! otherwise keep everyone waiting for ever.

wardlock_policy::export_policy!(
    StrictPolicy,
    wardlock_policy::Preset {
        name: "strict",
        version: env!("CARGO_PKG_VERSION"),
        default_timeout_ms: 30_000,
        orphaned_holder: wardlock_policy::OrphanedHolder::Refuse,
    }
);
