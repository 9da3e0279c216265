//! The default wardlock lock policy, as a WASM component.
//!
//! Waits up to five minutes by default, and waits for any holder, naming
//! it, even one whose recorded owner is gone.

wardlock_policy::export_policy!(
    DefaultPolicy,
    wardlock_policy::Preset {
        name: "default",
        version: env!("CARGO_PKG_VERSION"),
        default_timeout_ms: 300_000,
        orphaned_holder: wardlock_policy::OrphanedHolder::Wait,
    }
);
