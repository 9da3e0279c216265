//! The one `bindgen!` of the host: Rust types and traits for the
//! `wardlock:policy` contract in `wit/`.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "lock-policy",
});
