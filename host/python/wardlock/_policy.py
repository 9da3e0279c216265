"""Policy modules: finding, loading, sandboxing and calling them.

Mirrors the Rust host's `policy.rs`. A policy is a WebAssembly component for
the `lock-policy` world in `wit/`; this host loads the very same `.wasm`
file the Rust host does. A component is compiled once per process (per
content), and each call into it runs with a fresh fuel budget (guest
instructions, not time spent waiting for a lock) and a memory cap, so a
broken or hostile module fails with an error naming it, in bounded time.

# What the guest is granted

The Rust host links, of WASI, only the `wasi:cli` and `wasi:io` interfaces
Rust's standard library imports, with standard error inherited and nothing
else; a module importing anything more fails to load. wasmtime-py cannot
link a subset: `Linker.add_wasip2()` defines all of WASI 0.2 at once, and
defining `wasi:io`'s resources by hand is not something its component API
offers. So this host links all of WASI 0.2 but, before instantiating,
refuses any module that *imports* more than the Rust host would link
(`_ALLOWED_IMPORTS`): the guest can only call what it imports, so it gets
exactly the Rust host's powers. Its WASI context is empty besides standard
error: no preopened directories, no environment, no arguments, and the
socket address check of an empty context denies every address.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import wasmtime
from wasmtime import WasmtimeError
from wasmtime.component import Component, Func, Instance, Linker, Variant

from . import _clock, _lock_files, _processes, _report
from ._errors import (
    InvalidInput,
    InvalidResource,
    InvalidTimeout,
    LockFailure,
    PolicyError,
    PolicyMismatch,
)
from ._state import CallState, DirShared, current_call_or_none, entered
from ._sys import Dir, Mode
from ._timeout import TimeoutLike, timeout_text
from ._types import Plan, PolicyInfo, plan, policy_info

#: The contract this host implements, as a policy reports it.
CONTRACT = "wardlock:policy@0.1.0"

#: Guest instructions one call may run.
FUEL_PER_CALL = 100_000_000

#: The most linear memory one instance may have.
MEMORY_LIMIT = 64 << 20

#: How many idle instances a lock directory keeps for reuse.
POOL_SIZE = 8

#: The file in a lock directory that pins the policy every host must use.
PINNED_POLICY = ".wardlock-policy.wasm"

#: The largest policy module read from a lock directory.
PINNED_LIMIT = 64 << 20

#: The environment variable naming the policy when none is given.
ENV_POLICY = "WARDLOCK_POLICY"

#: The policy shipped inside the package, when it was put there.
PACKAGED_POLICY = "default-policy.wasm"

_POLICY_EXPORT = "wardlock:policy/policy@0.1.0"
_EXPORTS = ("info", "plan", "acquire", "release", "status")

# What a module may import: our four interfaces (and their shared types),
# and of WASI exactly what the Rust host links.
_ALLOWED_IMPORTS = re.compile(
    r"wardlock:policy/(types|lock-files|processes|clock|report)@0\.1\.0"
    r"|wasi:io/(error|poll|streams)@0\.2\.\d+"
    r"|wasi:cli/(environment|exit|stdin|stdout|stderr|terminal-input|terminal-output"
    r"|terminal-stdin|terminal-stdout|terminal-stderr)@0\.2\.\d+"
)

_IMPORTS: dict[str, dict[str, Callable[..., Any]]] = {
    "wardlock:policy/types@0.1.0": {},
    "wardlock:policy/lock-files@0.1.0": _lock_files.FUNCTIONS,
    "wardlock:policy/processes@0.1.0": _processes.FUNCTIONS,
    "wardlock:policy/clock@0.1.0": _clock.FUNCTIONS,
    "wardlock:policy/report@0.1.0": _report.FUNCTIONS,
}


@dataclass
class _Runtime:
    """The one engine and linker of the process."""

    engine: wasmtime.Engine
    linker: Linker
    compiled: dict[bytes, Component]
    lock: threading.Lock


_runtime: _Runtime | None = None
_runtime_lock = threading.Lock()


def _guarded(body: Callable[..., Any]) -> Callable[..., Any]:
    """A host function that never lets a Python exception into wasmtime-py.

    wasmtime-py keeps an exception raised by a host function in one global
    until the call returns, which threads would mix up, and lets a
    `KeyboardInterrupt` escape its callback altogether. So the exception is
    kept with the call, the guest call is ended with a trap, and
    `Instances.call` raises it again.
    """

    def run(store: Any, *args: Any) -> Any:
        try:
            return body(store, *args)
        except WasmtimeError:
            raise
        except BaseException as err:
            call = current_call_or_none()
            if call is not None:
                call.escaped = err
            raise WasmtimeError(f"host function failed: {err!r}") from None

    return run


def _get_runtime() -> _Runtime:
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            config = wasmtime.Config()
            config.wasm_component_model = True
            # Fuel bounds the guest's own instructions; time spent blocked
            # in a host import (waiting for a lock) does not count.
            config.consume_fuel = True
            # Deep recursion traps well before the host's own stack is at
            # risk (the Rust host's setting).
            config.max_wasm_stack = 256 * 1024
            config.cranelift_opt_level = "speed"
            engine = wasmtime.Engine(config)
            linker = Linker(engine)
            linker.add_wasip2()
            with linker.root() as root:
                for name, functions in _IMPORTS.items():
                    with root.add_instance(name) as interface:
                        for function, body in functions.items():
                            interface.add_func(function, _guarded(body))
            _runtime = _Runtime(engine, linker, {}, threading.Lock())
        return _runtime


def _compile(module: str, wasm: bytes) -> Component:
    """The compiled component for these bytes, compiled at most once, and
    checked against the contract before anything runs."""
    if not wasm.startswith(b"\0asm"):
        raise PolicyError(module, "it is not a WebAssembly file (no `\\0asm` header)")
    runtime = _get_runtime()
    digest = hashlib.sha256(wasm).digest()
    with runtime.lock:
        component = runtime.compiled.get(digest)
    if component is None:
        try:
            component = Component(runtime.engine, wasm)
        except WasmtimeError as err:
            # wasmtime's messages can run to several lines; the first says
            # what went wrong.
            raise PolicyError(module, str(err).split("\n", 1)[0]) from None
        with runtime.lock:
            runtime.compiled[digest] = component
    problem = _check_contract(runtime.engine, component)
    if problem is not None:
        raise PolicyError(module, problem)
    return component


def _check_contract(engine: wasmtime.Engine, component: Component) -> str | None:
    """What is wrong with a component's imports and exports for this host,
    in the Rust host's words, or `None`."""
    package, _, version = CONTRACT.partition("@")
    ty = component.type
    names = [(name, True) for name in ty.imports(engine)]
    names += [(name, False) for name in ty.exports(engine)]
    exports_policy = False
    for name, imported in names:
        if name.startswith(f"{package}/"):
            theirs = name.partition("@")[2]
            if theirs != version:
                return (
                    f"it was built for contract `{package}@{theirs}`, "
                    f"but this host implements `{CONTRACT}`"
                )
            exports_policy |= not imported and name == _POLICY_EXPORT
        if imported and not _ALLOWED_IMPORTS.fullmatch(name):
            return (
                f"it imports `{name}`, which a policy is not granted (only `{package}` and "
                "standard error through `wasi:cli` and `wasi:io`)"
            )
    if not exports_policy:
        return f"it does not export `{_POLICY_EXPORT}`: it is not a wardlock policy"
    return None


def _trap_reason(err: Exception) -> str:
    """A trap in words, as the Rust host words it."""
    text = str(err)
    if "all fuel consumed" in text:
        return f"ran out of fuel: more than {FUEL_PER_CALL} instructions in one call"
    if "call stack exhausted" in text or "stack overflow" in text:
        return "overflowed its stack"
    # wasmtime-py cannot make a refused `memory.grow` trap (the Rust host
    # does, through its limiter); the guest sees -1 and usually aborts, so
    # running out of memory shows as the guest's own trap.
    if "memory" in text and "limit" in text:
        return f"exceeded its memory limit of {MEMORY_LIMIT >> 20} MiB: {text}"
    return f"trapped: {text}"


class _Instance:
    """One instance of a policy in a store of its own."""

    def __init__(self, component: Component, module: str) -> None:
        runtime = _get_runtime()
        self.store = wasmtime.Store(runtime.engine)
        # Standard error, where a panicking guest writes, and nothing else.
        wasi = wasmtime.WasiConfig()
        wasi.inherit_stderr()
        self.store.set_wasi(wasi)
        self.store.set_limits(memory_size=MEMORY_LIMIT, instances=16, tables=64, memories=16)
        self.store.set_fuel(FUEL_PER_CALL)
        try:
            instance: Instance = runtime.linker.instantiate(self.store, component)
        except WasmtimeError as err:
            raise PolicyError(module, f"failed to instantiate: {err}") from None
        interface = instance.get_export_index(self.store, _POLICY_EXPORT)
        if interface is None:
            raise PolicyError(module, f"the module does not export `{_POLICY_EXPORT}`")
        self.funcs: dict[str, Func] = {}
        for name in _EXPORTS:
            index = instance.get_export_index(self.store, name, interface)
            func = None if index is None else instance.get_func(self.store, index)
            if func is None:
                raise PolicyError(
                    module, f"the module's `{_POLICY_EXPORT}` has no function `{name}`"
                )
            self.funcs[name] = func


class Instances:
    """Instances of a policy bound to one lock directory (or to none, for
    inspection), with a pool of idle ones: each call takes one for itself,
    so a call blocked in a wait never holds up calls on other threads."""

    def __init__(self, policy: Policy, dir: DirShared | None) -> None:
        self.policy = policy
        self.dir = dir
        self._idle: list[_Instance] = []
        self._lock = threading.Lock()

    def call(self, export: str, *args: Any) -> tuple[Any, list[int]]:
        """Call `export` on an instance with a fresh budget. Returns its
        result and the handles opened during the call. If the guest traps,
        the handles it opened are closed and the instance is thrown away."""
        module = self.policy.module
        with self._lock:
            instance = self._idle.pop() if self._idle else None
        if instance is None:
            instance = _Instance(self.policy._component, module)
        instance.store.set_fuel(FUEL_PER_CALL)
        state = CallState(self.dir)
        try:
            with entered(state):
                result = instance.funcs[export](instance.store, *args)
        except BaseException as err:
            if self.dir is not None:
                for handle in state.opened:
                    self.dir.locks.close(handle)
            if state.escaped is not None:
                raise state.escaped from None
            if state.undelivered is not None:
                lock_file, failure = state.undelivered
                raise LockFailure(failure.code, failure.message, lock_file=lock_file) from None
            if isinstance(err, WasmtimeError):
                raise PolicyError(module, _trap_reason(err)) from None
            raise
        with self._lock:
            if len(self._idle) < POOL_SIZE:
                self._idle.append(instance)
        return result, state.opened


class Policy:
    """A loaded lock policy: a component for `wardlock:policy@0.1.0`.

    `module` names it in errors (its path); `info` is what it says of
    itself. `plan` asks it alone, with no lock directory.
    """

    def __init__(self, path: str | os.PathLike[str], wasm: bytes | None = None) -> None:
        """Load the policy component at `path`, or from `wasm`, its bytes
        (`path` then only names it in messages)."""
        self.module = os.fspath(path)
        if wasm is None:
            try:
                with open(self.module, "rb") as f:
                    wasm = f.read()
            except OSError as err:
                raise PolicyError(self.module, f"failed to read the policy file: {err}") from None
        self._component = _compile(self.module, wasm)
        self._inspect = Instances(self, None)
        raw, _ = self._inspect.call("info")
        self.info: PolicyInfo = policy_info(raw)
        if self.info.contract != CONTRACT:
            raise PolicyError(
                self.module,
                f"the module reports contract `{self.info.contract}`, "
                f"but this host implements `{CONTRACT}`",
            )

    def __repr__(self) -> str:
        return f"Policy({self.module!r}: {self.info.name} {self.info.version})"

    def plan(self, resource: str, timeout: TimeoutLike = None, shared: bool = False) -> Plan:
        """What acquiring `resource` would take, asked of the policy alone:
        no lock directory is needed and nothing is touched."""
        return run_plan(self._inspect, resource, timeout, shared)

    @property
    def label(self) -> str:
        """The policy's name and version, as messages show it."""
        return f"{self.info.name} {self.info.version}"


def mode_name(shared: bool) -> str:
    """The contract's mode for a `shared` flag."""
    return Mode.SHARED.value if shared else Mode.EXCLUSIVE.value


def request_error(err: Any) -> InvalidInput:
    """The exception for a `request-error` variant."""
    reason = str(err.payload)
    if err.tag == "invalid-timeout":
        return InvalidTimeout(reason)
    return InvalidResource(reason)


def run_plan(instances: Instances, resource: str, timeout: TimeoutLike, shared: bool) -> Plan:
    """Ask the policy for the plan of `resource`."""
    result, _ = instances.call("plan", resource, mode_name(shared), timeout_text(timeout))
    if isinstance(result, Variant):
        raise request_error(result)
    return plan(result)


def pinned(lock_dir: str, fs: Dir) -> Policy | None:
    """The policy the lock directory is pinned to, if it is; read through
    the directory's descriptor, never through a link."""
    try:
        wasm = fs.read_small(PINNED_POLICY, PINNED_LIMIT)
    except OSError as err:
        found = _lock_files.failure(lock_dir, err)
        raise LockFailure(found.code, found.message, path=lock_dir) from None
    if wasm is None:
        return None
    return Policy(os.path.join(lock_dir, PINNED_POLICY), wasm)


def locate(lock_dir: str, fs: Dir, given: Policy | str | os.PathLike[str] | None) -> Policy:
    """The policy for a lock directory: its pinned one, else the one given,
    else `$WARDLOCK_POLICY`, else the one shipped in the package.

    A directory that pins a policy (`.wardlock-policy.wasm`) binds every
    host: a policy given explicitly must have the same name and version, as
    two naming schemes on one directory would not exclude each other.
    """
    pin = pinned(lock_dir, fs)
    if given is not None:
        policy = given if isinstance(given, Policy) else Policy(given)
        if pin is not None and pin.label != policy.label:
            raise PolicyMismatch(lock_dir, pin, policy)
        return policy
    if pin is not None:
        return pin
    from_env = os.environ.get(ENV_POLICY)
    if from_env:
        return Policy(from_env)
    packaged = importlib.resources.files("wardlock").joinpath(PACKAGED_POLICY)
    if packaged.is_file():
        with importlib.resources.as_file(packaged) as path:
            return Policy(path)
    raise PolicyError(
        "(none)",
        f"no policy module: pass `policy=`, pin one as `{PINNED_POLICY}` in the lock directory, "
        f"set `{ENV_POLICY}`, or install the package with `wardlock/{PACKAGED_POLICY}` in it "
        "(see host/python/README.md)",
    )
