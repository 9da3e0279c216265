//! Policy modules: loading, sandboxing and calling them.
//!
//! A policy is a WebAssembly component for the `lock-policy` world. It is
//! compiled once per process at most: the embedded default policy was
//! compiled when wardlock was built, and a policy file is compiled when it
//! is loaded. Every call runs in a store with a fuel budget (guest
//! instructions, not time spent waiting for a lock) and a memory cap, so a
//! broken or hostile module fails with an error that names it, in bounded
//! time. Its WASI has standard error and nothing else: no files, no
//! environment, no network, no clocks or randomness beyond our own
//! imports.

use std::path::Path;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Instant;

use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, Store, StoreLimits, StoreLimitsBuilder};

use crate::bindings::exports::wardlock::policy::policy::{LockPlan, PolicyInfo};
use crate::bindings::{LockPolicy, LockPolicyPre};
use crate::state::{CallState, DirShared};
use crate::sys;
use crate::{Error, Mode, Timeout};

include!("engine_config.rs");

/// The contract this host implements, as a policy reports it.
pub const CONTRACT: &str = "wardlock:policy@0.1.0";

/// Guest instructions one call may run; about 100 ms of guest CPU here.
pub const FUEL_PER_CALL: u64 = 100_000_000;

/// The file in a lock directory that pins the directory's policy: every
/// process and every host using the directory loads it, and refuses to use
/// another, since two naming schemes on one directory would not exclude
/// each other.
pub const PINNED_POLICY: &str = ".wardlock-policy.wasm";

/// The temporary name a pinned policy is written through.
const PINNED_TEMP: &str = ".wardlock-policy.wasm.tmp";

/// The largest policy module read from a lock directory.
const PINNED_LIMIT: usize = 64 << 20;

/// How many idle instances a lock directory keeps for reuse.
const POOL_SIZE: usize = 8;

/// The default policy, as built from `guest/` with this host.
const EMBEDDED_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/default-policy.wasm"));

/// The default policy precompiled by the build script with the engine
/// configuration above.
const EMBEDDED_CWASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/default-policy.cwasm"));

/// The one engine of the process.
static ENGINE: LazyLock<Result<Engine, String>> =
    LazyLock::new(|| Engine::new(&engine_config()).map_err(|e| format!("{e:#}")));

fn engine() -> Result<&'static Engine, Error> {
    ENGINE.as_ref().map_err(|reason| Error::Policy {
        module: "(engine)".into(),
        reason: format!("failed to start wasmtime: {reason}"),
    })
}

/// A loaded lock policy, ready to be instantiated for lock directories.
/// Cheap to clone; shared by all the lock directories that use it.
#[derive(Clone)]
pub struct Policy {
    inner: Arc<PolicyInner>,
}

struct PolicyInner {
    module: String,
    pre: LockPolicyPre<CallState>,
    info: PolicyInfo,
    wasm: Option<Vec<u8>>,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("module", &self.inner.module)
            .finish_non_exhaustive()
    }
}

impl Policy {
    /// The default policy embedded in this build.
    pub fn embedded() -> Result<Policy, Error> {
        static EMBEDDED: LazyLock<Result<Policy, Error>> = LazyLock::new(|| {
            let engine = engine()?;
            let module = "built-in".to_owned();
            // SAFETY: these bytes were produced by `precompile_component`
            // in this crate's build script, with the same wasmtime and the
            // same configuration; they are not user input.
            let component = match unsafe { Component::deserialize(engine, EMBEDDED_CWASM) } {
                Ok(component) => component,
                Err(err) => {
                    // Built on a machine with other CPU features, say.
                    tracing::debug!("precompiled policy unusable ({err}); compiling it");
                    Component::new(engine, EMBEDDED_WASM).map_err(|e| policy_error(&module, e))?
                }
            };
            Policy::from_component(module, component, None)
        });
        EMBEDDED
            .as_ref()
            .map(Clone::clone)
            .map_err(Error::clone_policy)
    }

    /// Load a policy module from a `.wasm` component file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Policy, Error> {
        let path = path.as_ref();
        let module = path.display().to_string();
        let bytes = read_module(path).map_err(|reason| Error::Policy {
            module: module.clone(),
            reason: format!("failed to read the policy file: {reason}"),
        })?;
        Policy::from_bytes(module, bytes)
    }

    /// Load a policy module from the bytes of a component; `module` names
    /// it in errors.
    pub fn from_bytes(module: impl Into<String>, bytes: Vec<u8>) -> Result<Policy, Error> {
        let module = module.into();
        if !bytes.starts_with(b"\0asm") {
            return Err(Error::Policy {
                module,
                reason: "it is not a WebAssembly file (no `\\0asm` header)".to_owned(),
            });
        }
        let component = Component::new(engine()?, &bytes).map_err(|e| policy_error(&module, e))?;
        Policy::from_component(module, component, Some(bytes))
    }

    fn from_component(
        module: String,
        component: Component,
        wasm: Option<Vec<u8>>,
    ) -> Result<Policy, Error> {
        let engine = engine()?;
        check_contract(engine, &component).map_err(|reason| Error::Policy {
            module: module.clone(),
            reason,
        })?;
        let linker = linker(engine).map_err(|e| policy_error(&module, e))?;
        let pre = linker
            .instantiate_pre(&component)
            .map_err(|e| policy_error(&module, e))?;
        let pre = LockPolicyPre::new(pre).map_err(|e| policy_error(&module, e))?;
        let mut store = new_store(None, &module)?;
        let bindings = pre
            .instantiate(&mut store)
            .map_err(|e| policy_error(&module, e))?;
        let info = bindings
            .wardlock_policy_policy()
            .call_info(&mut store)
            .map_err(|e| trap_error(&module, &store, e))?;
        if info.contract != CONTRACT {
            return Err(Error::Policy {
                module,
                reason: format!(
                    "the module reports contract `{}`, but this host implements `{CONTRACT}`",
                    info.contract
                ),
            });
        }
        Ok(Policy {
            inner: Arc::new(PolicyInner {
                module,
                pre,
                info,
                wasm,
            }),
        })
    }

    /// What acquiring `resource` would take, asked of the policy alone:
    /// no lock directory is needed and nothing is touched.
    pub fn plan(&self, resource: &str, mode: Mode, timeout: &Timeout) -> Result<LockPlan, Error> {
        let module = self.module();
        let mut store = new_store(None, module)?;
        let bindings = self
            .inner
            .pre
            .instantiate(&mut store)
            .map_err(|e| policy_error(module, e))?;
        let spec = timeout.spec();
        let result = bindings
            .wardlock_policy_policy()
            .call_plan(&mut store, resource, mode, spec.as_deref())
            .map_err(|e| trap_error(module, &store, e))?;
        result.map_err(Error::from)
    }

    /// The policy the lock directory `dir` is pinned to, if it is.
    pub fn pinned(dir: &Path) -> Result<Option<Policy>, Error> {
        let fs = sys::Dir::open(dir).map_err(|e| dir_error(dir, &e))?;
        let Some(bytes) = fs
            .read_small(PINNED_POLICY, PINNED_LIMIT)
            .map_err(|e| dir_error(dir, &e))?
        else {
            return Ok(None);
        };
        if bytes == EMBEDDED_WASM {
            return Policy::embedded().map(Some);
        }
        Policy::from_bytes(dir.join(PINNED_POLICY).display().to_string(), bytes).map(Some)
    }

    /// The policy to use for the lock directory `dir`: the one it is pinned
    /// to, else `requested`, else the embedded default. A requested policy
    /// whose name or version differs from the pinned one is refused.
    pub fn for_dir(dir: &Path, requested: Option<Policy>) -> Result<Policy, Error> {
        let pinned = if dir.is_dir() {
            Policy::pinned(dir)?
        } else {
            None
        };
        match (pinned, requested) {
            (Some(pinned), Some(requested)) => {
                check_same(dir, &pinned, &requested)?;
                Ok(requested)
            }
            (Some(pinned), None) => Ok(pinned),
            (None, Some(requested)) => Ok(requested),
            (None, None) => Policy::embedded(),
        }
    }

    /// Pin the lock directory `dir` to this policy, replacing any pin.
    pub fn pin(&self, dir: &Path) -> Result<(), Error> {
        let fs = sys::Dir::open(dir).map_err(|e| dir_error(dir, &e))?;
        fs.replace(PINNED_POLICY, PINNED_TEMP, self.wasm())
            .map_err(|e| dir_error(dir, &e))
    }

    /// Remove the pin of the lock directory `dir`, if it has one.
    pub fn unpin(dir: &Path) -> Result<(), Error> {
        let fs = sys::Dir::open(dir).map_err(|e| dir_error(dir, &e))?;
        fs.remove(PINNED_POLICY).map_err(|e| dir_error(dir, &e))
    }

    /// The policy's name and version, as messages show it.
    pub fn label(&self) -> String {
        format!("{} {}", self.inner.info.name, self.inner.info.version)
    }

    /// Who the policy says it is.
    pub fn info(&self) -> &PolicyInfo {
        &self.inner.info
    }

    /// The module's name in messages: its file path, or `default
    /// (embedded)`.
    pub fn module(&self) -> &str {
        &self.inner.module
    }

    /// The component's bytes: the file's for a loaded policy, the embedded
    /// ones for the default.
    pub fn wasm(&self) -> &[u8] {
        self.inner.wasm.as_deref().unwrap_or(EMBEDDED_WASM)
    }
}

/// Read a policy file: a regular file of at most `PINNED_LIMIT` bytes (a
/// device such as `/dev/zero` would otherwise be read for ever).
fn read_module(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    if !file.metadata().map_err(|e| e.to_string())?.is_file() {
        return Err("it is not a regular file".to_owned());
    }
    let mut bytes = Vec::new();
    file.take(PINNED_LIMIT as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() > PINNED_LIMIT {
        return Err(format!("it is larger than {} MiB", PINNED_LIMIT >> 20));
    }
    Ok(bytes)
}

/// Refuse `requested` on a directory pinned to another policy.
pub(crate) fn check_same(dir: &Path, pinned: &Policy, requested: &Policy) -> Result<(), Error> {
    let (a, b) = (pinned.info(), requested.info());
    if a.name == b.name && a.version == b.version {
        return Ok(());
    }
    Err(Error::PolicyMismatch {
        dir: dir.to_path_buf(),
        pinned: pinned.label(),
        requested: format!("{} ({})", requested.label(), requested.module()),
    })
}

fn dir_error(dir: &Path, err: &std::io::Error) -> Error {
    let failure = crate::lock_files::failure(&dir.display().to_string(), err);
    Error::Dir {
        path: dir.to_path_buf(),
        code: failure.code,
        message: failure.message,
    }
}

/// Check what a component imports and exports against this host's
/// contract, so a mismatch is named plainly rather than as a link error.
fn check_contract(engine: &Engine, component: &Component) -> Result<(), String> {
    let ty = component.component_type();
    let (package, version) = CONTRACT.split_once('@').unwrap_or((CONTRACT, ""));
    let ours = format!("{package}/");
    let mut exports_policy = false;
    let names = ty
        .imports(engine)
        .map(|(n, _)| (n, true))
        .chain(ty.exports(engine).map(|(n, _)| (n, false)));
    for (name, import) in names {
        if let Some(rest) = name.strip_prefix(&ours) {
            let theirs = rest.split_once('@').map_or("", |(_, v)| v);
            if theirs != version {
                return Err(format!(
                    "it was built for contract `{package}@{theirs}`, but this host implements `{CONTRACT}`"
                ));
            }
            exports_policy |= !import && rest.starts_with("policy@");
        } else if import && !GRANTED_WASI.iter().any(|granted| name.starts_with(granted)) {
            return Err(format!(
                "it imports `{name}`, which a policy is not granted (only `{package}` and \
                 standard error through `wasi:cli` and `wasi:io`)"
            ));
        }
    }
    if !exports_policy {
        return Err(format!(
            "it does not export `{package}/policy@{version}`: it is not a wardlock policy"
        ));
    }
    Ok(())
}

/// The WASI interfaces a policy may import: what Rust's standard library
/// asks for at start-up. Files, sockets, clocks and randomness are not
/// among them.
const GRANTED_WASI: [&str; 2] = ["wasi:cli/", "wasi:io/"];

/// The linker: our four interfaces, and of WASI only what Rust's standard
/// library asks for at start-up (`wasi:cli` and `wasi:io`). A module that
/// imports anything else, files or sockets say, fails to load.
fn linker(engine: &Engine) -> wasmtime::Result<Linker<CallState>> {
    use wasmtime_wasi::cli::{WasiCli, WasiCliView};
    use wasmtime_wasi::p2::bindings::sync::{cli, io};

    struct Io;
    impl wasmtime::component::HasData for Io {
        type Data<'a> = &'a mut ResourceTable;
    }

    let mut linker = Linker::new(engine);
    LockPolicy::add_to_linker::<_, HasSelf<CallState>>(&mut linker, |state| state)?;
    let l = &mut linker;
    io::error::add_to_linker::<_, Io>(l, |t: &mut CallState| t.table())?;
    io::poll::add_to_linker::<_, Io>(l, |t: &mut CallState| t.table())?;
    io::streams::add_to_linker::<_, Io>(l, |t: &mut CallState| t.table())?;
    cli::exit::add_to_linker::<_, WasiCli>(l, |t: &mut CallState| t.cli())?;
    cli::environment::add_to_linker::<_, WasiCli>(l, |t: &mut CallState| t.cli())?;
    cli::stdin::add_to_linker::<_, WasiCli>(l, |t: &mut CallState| t.cli())?;
    cli::stdout::add_to_linker::<_, WasiCli>(l, |t: &mut CallState| t.cli())?;
    cli::stderr::add_to_linker::<_, WasiCli>(l, |t: &mut CallState| t.cli())?;
    cli::terminal_input::add_to_linker::<_, WasiCli>(l, |t: &mut CallState| t.cli())?;
    cli::terminal_output::add_to_linker::<_, WasiCli>(l, |t: &mut CallState| t.cli())?;
    cli::terminal_stdin::add_to_linker::<_, WasiCli>(l, |t: &mut CallState| t.cli())?;
    cli::terminal_stdout::add_to_linker::<_, WasiCli>(l, |t: &mut CallState| t.cli())?;
    cli::terminal_stderr::add_to_linker::<_, WasiCli>(l, |t: &mut CallState| t.cli())?;
    Ok(linker)
}

fn new_store(dir: Option<Arc<DirShared>>, module: &str) -> Result<Store<CallState>, Error> {
    let limits: StoreLimits = StoreLimitsBuilder::new()
        .memory_size(MEMORY_LIMIT)
        .instances(16)
        .tables(64)
        .memories(16)
        .trap_on_grow_failure(true)
        .build();
    let mut store = Store::new(engine()?, CallState::new(dir, limits));
    store.limiter(|state| &mut state.limits);
    store
        .set_fuel(FUEL_PER_CALL)
        .map_err(|e| policy_error(module, e))?;
    Ok(store)
}

/// An error from wasmtime while loading or linking a module.
fn policy_error(module: &str, err: wasmtime::Error) -> Error {
    // wasmtime's messages can run to several lines of detail; the first
    // line of the chain says what went wrong.
    let mut reason = format!("{err:#}");
    if let Some(end) = reason.find('\n') {
        reason.truncate(end);
    }
    Error::Policy {
        module: module.to_owned(),
        reason,
    }
}

/// An error from a call into the guest: a trap, with its cause in words.
fn trap_error(module: &str, store: &Store<CallState>, err: wasmtime::Error) -> Error {
    let reason = match err.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::OutOfFuel) => {
            format!("ran out of fuel: more than {FUEL_PER_CALL} instructions in one call")
        }
        Some(wasmtime::Trap::StackOverflow) => "overflowed its stack".to_owned(),
        Some(trap) => format!("trapped: {trap}"),
        None if format!("{err:#}").contains("memory") => {
            format!(
                "exceeded its memory limit of {} MiB: {err:#}",
                MEMORY_LIMIT >> 20
            )
        }
        None => format!("{err:#}"),
    };
    let _ = store;
    Error::Policy {
        module: module.to_owned(),
        reason,
    }
}

/// An instance of a policy bound to one lock directory, with a pool of
/// idle instances: each call takes one for itself, so a call blocked in a
/// wait never holds up calls on other threads.
pub(crate) struct Instances {
    policy: Policy,
    dir: Arc<DirShared>,
    idle: Mutex<Vec<Instance>>,
}

struct Instance {
    store: Store<CallState>,
    bindings: LockPolicy,
}

impl Instances {
    pub(crate) fn new(policy: Policy, dir: Arc<DirShared>) -> Self {
        Instances {
            policy,
            dir,
            idle: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn policy(&self) -> &Policy {
        &self.policy
    }

    pub(crate) fn dir(&self) -> &Arc<DirShared> {
        &self.dir
    }

    /// Run `f` on an instance with a fresh budget. Returns its result and
    /// the handles opened during the call. If the guest traps, the handles
    /// it opened are closed and the instance is thrown away.
    pub(crate) fn call<R>(
        &self,
        deadline: Option<Instant>,
        f: impl FnOnce(&LockPolicy, &mut Store<CallState>) -> wasmtime::Result<R>,
    ) -> Result<(R, Vec<u32>), Error> {
        let module = self.policy.module();
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut instance = match idle {
            Some(instance) => instance,
            None => {
                let mut store = new_store(Some(self.dir.clone()), module)?;
                let bindings = self
                    .policy
                    .inner
                    .pre
                    .instantiate(&mut store)
                    .map_err(|e| policy_error(module, e))?;
                Instance { store, bindings }
            }
        };
        instance
            .store
            .set_fuel(FUEL_PER_CALL)
            .map_err(|e| policy_error(module, e))?;
        instance.store.data_mut().begin_call(deadline);
        let result = f(&instance.bindings, &mut instance.store);
        let opened = std::mem::take(&mut instance.store.data_mut().opened);
        if instance.store.data().overspent {
            // Whatever the policy made of its refused operations, the call
            // failed: it kept going after its budget was spent.
            for handle in opened {
                self.dir.locks.close(handle);
            }
            return Err(Error::Policy {
                module: module.to_owned(),
                reason: format!(
                    "spent more than {} ms in host operations in one call",
                    crate::state::HOST_BUDGET.as_millis()
                ),
            });
        }
        match result {
            Ok(value) => {
                let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
                if idle.len() < POOL_SIZE {
                    idle.push(instance);
                }
                Ok((value, opened))
            }
            Err(err) => {
                for handle in opened {
                    self.dir.locks.close(handle);
                }
                Err(trap_error(module, &instance.store, err))
            }
        }
    }
}
