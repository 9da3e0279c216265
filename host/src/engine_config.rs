// The wasmtime configuration shared by the host and its build script, which
// precompiles the embedded policy with it: an artifact only loads into an
// engine configured the same way. Included with `include!`, so it has no
// module doc and no `use` of crate items.

/// The most linear memory one policy instance may have.
pub const MEMORY_LIMIT: usize = 64 << 20;

/// The wasmtime configuration every policy runs under.
pub fn engine_config() -> wasmtime::Config {
    let mut config = wasmtime::Config::new();
    config.wasm_component_model(true);
    // Fuel bounds the guest's own instructions; time spent blocked in a
    // host import (waiting for a lock) does not count against it.
    config.consume_fuel(true);
    // Deep recursion traps well before the host's own stack is at risk.
    config.max_wasm_stack(256 * 1024);
    config.cranelift_opt_level(wasmtime::OptLevel::Speed);
    // Reserve address space for the memory a policy may have, not the
    // multi-GiB default: start-up maps and unmaps less.
    config.memory_reservation(MEMORY_LIMIT as u64);
    config.memory_guard_size(64 << 10);
    // Copy a policy's initial memory at instantiation rather than build a
    // copy-on-write image for it when the module loads: instances are
    // pooled and created rarely, while every command start loads a module.
    config.memory_init_cow(false);
    config
}
