"""wardlock: named, cross-process locks whose policy is a sandboxed
WebAssembly component, the very same `.wasm` the Rust `wardlock` runs.

Several processes working in one project directory take named locks on
resources such as `wp:<feature>/WP01`, `feature:<slug>` or `config:<name>`.
What a resource means (lock files, order, modes, timeouts, stale owners,
the message a waiting user sees) is decided by the policy component; this
package is a host for it, as thin as the Rust one: it lends the policy OS
file locks inside one lock directory and a process probe, and nothing else.
A Python holder and a Rust holder of the same resource exclude each other,
and each reads the other's owner records.

    import wardlock

    locks = wardlock.LockDir(".kittify")
    with locks.acquire("wp:my-feature/WP01", timeout=30):
        ...  # change work package WP01

    try:
        locks.acquire("config:ci", timeout=0).release()
    except wardlock.Busy as busy:
        print(busy.message, busy.holder.pid)

Guaranteed, as by the Rust host: the OS lock (`flock(2)`) is the only proof
of holding, released by the kernel when the holder exits however it exits;
lock files are opened by bare name relative to the directory's descriptor,
never through a symbolic link, never truncated, close-on-exec; a waiter is
woken by the kernel, not by polling; contention (`Busy`, `TimedOut`,
`Refused`) is never confused with failure (`LockFailure`, `InvalidInput`,
`PolicyError`). Not guaranteed: exclusion on network file systems, and
judging owners in other PID namespaces or on other hosts (they stay
`unknown`).

The policy is, in this order: `policy=` as given; else the lock
directory's pinned `.wardlock-policy.wasm`; else `$WARDLOCK_POLICY`; else
`default-policy.wasm` shipped in this package, if it was put there before
installing (see `host/python/README.md`).
"""

from ._errors import (
    Busy,
    Contention,
    Error,
    InvalidInput,
    InvalidResource,
    InvalidTimeout,
    LockFailure,
    PolicyError,
    PolicyMismatch,
    Refused,
    TimedOut,
)
from ._lock_dir import Guard, LockDir
from ._lock_files import HOST_PREFIX, OWNER_SUFFIX, TEMP_SUFFIX
from ._policy import CONTRACT, ENV_POLICY, FUEL_PER_CALL, MEMORY_LIMIT, PINNED_POLICY, Policy
from ._state import WaitHandler
from ._sys import Mode
from ._timeout import TimeoutLike
from ._types import Holder, Liveness, LockStatus, Plan, PolicyInfo, Step, WaitNotice

__all__ = [
    "CONTRACT",
    "ENV_POLICY",
    "FUEL_PER_CALL",
    "HOST_PREFIX",
    "MEMORY_LIMIT",
    "OWNER_SUFFIX",
    "PINNED_POLICY",
    "TEMP_SUFFIX",
    "Busy",
    "Contention",
    "Error",
    "Guard",
    "Holder",
    "InvalidInput",
    "InvalidResource",
    "InvalidTimeout",
    "Liveness",
    "LockDir",
    "LockFailure",
    "LockStatus",
    "Mode",
    "Plan",
    "Policy",
    "PolicyError",
    "PolicyInfo",
    "PolicyMismatch",
    "Refused",
    "Step",
    "TimedOut",
    "TimeoutLike",
    "WaitHandler",
    "WaitNotice",
]
