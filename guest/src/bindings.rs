//! The one `wit_bindgen::generate!` for world `lock-policy`.
//!
//! The export macro is public and generates nothing until a policy crate
//! invokes it through [`crate::export_policy!`], so this library exports
//! nothing itself. Outside wasm the import functions are stubs that panic;
//! only [`crate::WitHost`] calls them, and tests never use it. The extra
//! `PartialEq`/`Eq` derives let tests compare plans, leases and errors.

wit_bindgen::generate!({
    world: "lock-policy",
    path: "../wit",
    pub_export_macro: true,
    default_bindings_module: "wardlock_policy::bindings",
    additional_derives: [PartialEq, Eq],
});
