"""A lock directory under a policy: acquire resources, inspect them, and
release them when the guard goes.

Mirrors the Rust host's `lock_dir.rs`: the policy decides everything
(names, order, modes, timeouts, stale owners, messages); this module only
calls it, keeps the leases it returns, and closes what a call left open.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import warnings
from types import TracebackType
from typing import Any

from wasmtime.component import Record, Variant

from . import _sys
from ._errors import Busy, LockFailure, PolicyError, Refused, TimedOut
from ._lock_files import LockTable, failure
from ._policy import Instances, Policy, locate, mode_name, request_error, run_plan
from ._state import DirShared, WaitHandler
from ._sys import Mode
from ._timeout import TimeoutLike, timeout_text
from ._types import LockStatus, Plan, PolicyInfo, get, holder, lock_status


def _lock_failure(value: Any) -> LockFailure:
    found = get(value, "failure")
    return LockFailure(get(found, "code"), get(found, "message"), lock_file=get(value, "lock_file"))


class LockDir:
    """A lock directory and the policy that governs it.

    Threads may share one and acquire different resources at once: a
    thread waiting for one lock never holds up another.

    `policy` is a `Policy` or the path of a policy component; without one,
    the directory's pinned policy (`.wardlock-policy.wasm`), else
    `$WARDLOCK_POLICY`, else the package's own default is used. `command` is
    recorded as what the locks are held for (default: this process's
    command line). `on_wait` is told each time the policy starts waiting
    for a lock somebody else holds.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        policy: Policy | str | os.PathLike[str] | None = None,
        command: str | None = None,
        on_wait: WaitHandler | None = None,
    ) -> None:
        shown = os.fspath(path)
        try:
            fs = _sys.Dir(shown)
        except OSError as err:
            code = failure(shown, err).code
            message = {
                errno.ENOENT: "it does not exist",
                errno.ENOTDIR: "it is not a directory",
            }.get(err.errno or 0, f"{err.strerror} (os error {err.errno})")
            raise LockFailure(code, message, path=shown) from None
        self._policy = locate(shown, fs, policy)
        self._shared = DirShared(shown, fs, LockTable(), command, on_wait)
        self._instances = Instances(self._policy, self._shared)

    def __repr__(self) -> str:
        return f"LockDir({self.path!r}, policy={self._policy.module!r})"

    @property
    def path(self) -> str:
        """The directory's path."""
        return self._shared.path

    @property
    def policy(self) -> Policy:
        """The policy in use."""
        return self._policy

    @property
    def policy_info(self) -> PolicyInfo:
        """Who the policy in use says it is."""
        return self._policy.info

    def plan(self, resource: str, timeout: TimeoutLike = None, shared: bool = False) -> Plan:
        """What acquiring `resource` would take, without taking anything."""
        return run_plan(self._instances, resource, timeout, shared)

    def acquire(self, resource: str, timeout: TimeoutLike = None, shared: bool = False) -> Guard:
        """Acquire `resource`, waiting as `timeout` allows; the guard
        releases it (also as a context manager).

        Raises `Busy`, `TimedOut` or `Refused` (all `Contention`) when the
        lock is held, `InvalidResource` or `InvalidTimeout` for bad input,
        `LockFailure` when the operating system refuses, `PolicyError` when
        the policy misbehaves.
        """
        result, opened = self._instances.call(
            "acquire", resource, mode_name(shared), timeout_text(timeout)
        )
        locks = self._shared.locks
        if isinstance(result, Variant):
            for handle in opened:
                locks.close(handle)
            raise self._acquire_error(result)
        lease: Record = result
        leased = [get(lock, "file") for lock in get(lease, "locks")]
        # Whatever the call opened and did not put in the lease is the
        # policy's litter: close it.
        for handle in opened:
            if handle not in leased:
                locks.close(handle)
        # A lease must only name handles that are open.
        bad = next((handle for handle in leased if not locks.contains(handle)), None)
        if bad is not None:
            for handle in leased:
                locks.close(handle)
            raise PolicyError(
                self._policy.module, f"returned a lease naming handle {bad}, which is not open"
            )
        return Guard(self, lease)

    def _acquire_error(self, err: Variant) -> Exception:
        if err.tag == "invalid":
            return request_error(err.payload)
        if err.tag == "failed":
            return _lock_failure(err.payload)
        kind = {"busy": Busy, "timed-out": TimedOut, "refused": Refused}[err.tag]
        c = err.payload
        return kind(
            resource=get(c, "resource"),
            lock_file=get(c, "lock_file"),
            holder=holder(get(c, "holder")),
            waited_ms=get(c, "waited_ms"),
            message=get(c, "message"),
        )

    def status(self) -> list[LockStatus]:
        """Every lock file in the directory, with its state and holder."""
        result, opened = self._instances.call("status")
        for handle in opened:
            self._shared.locks.close(handle)
        if isinstance(result, Record):
            raise _lock_failure(result)
        return [lock_status(s) for s in result]

    def _release(self, lease: Record) -> None:
        """Release a lease through the policy, then close whatever of it
        the policy left open: a lease never outlives its guard."""
        handles = [get(lock, "file") for lock in reversed(get(lease, "locks"))]
        locks = self._shared.locks
        try:
            result, opened = self._instances.call("release", lease)
        finally:
            for handle in handles:
                locks.close(handle)
        for handle in opened:
            locks.close(handle)
        if result is not None:
            raise _lock_failure(result)

    def _lost(self, lease: Record) -> list[str]:
        return [
            get(lock, "lock_file")
            for lock in get(lease, "locks")
            if not self._shared.locks.intact(self._shared.fs, get(lock, "file"))
        ]

    def _close_lease(self, lease: Record) -> None:
        for lock in get(lease, "locks"):
            self._shared.locks.close(get(lock, "file"))


class Guard:
    """A held resource. `release()` (or leaving the `with` block) releases
    it; a guard dropped while held releases it too, with a
    `ResourceWarning`.

    In a forked child the guard never touches its parent's lock or owner
    record: releasing it there only closes the child's copies of the lock
    files.
    """

    def __init__(self, dir: LockDir, lease: Record) -> None:
        self._dir = dir
        self._lease: Record | None = lease
        self._pid = _sys.pid()
        self._lock = threading.Lock()
        self.resource: str = get(lease, "resource")
        self.mode: Mode = Mode(get(lease, "mode"))
        self.lock_files: tuple[str, ...] = tuple(
            get(lock, "lock_file") for lock in get(lease, "locks")
        )

    def __repr__(self) -> str:
        state = "held" if self.held else "released"
        return f"<wardlock.Guard {self.resource!r} {self.mode.value} {state}>"

    @property
    def held(self) -> bool:
        """Whether the resource is still held through this guard."""
        return self._lease is not None

    def lost_lock_files(self) -> list[str]:
        """The lock files of this lease that were removed or replaced while
        held (by a temp cleaner or a person). Empty while all is well; if
        not, other processes may have taken the resource since."""
        lease = self._lease
        return [] if lease is None else self._dir._lost(lease)

    def release(self) -> None:
        """Release the resource now, reporting any failure; a no-op once
        released."""
        with self._lock:
            lease, self._lease = self._lease, None
        if lease is None:
            return
        if _sys.pid() != self._pid:
            # A forked child: the lock and its owner record are the
            # parent's. Closing never unlocks a lock this process did not
            # take.
            self._dir._close_lease(lease)
            return
        self._dir._release(lease)

    def __enter__(self) -> Guard:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def __del__(self) -> None:
        if getattr(self, "_lease", None) is None:
            return
        warnings.warn(
            f"{self!r} was never released; releasing it now", ResourceWarning, stacklevel=2
        )
        try:
            self.release()
        except Exception as err:
            logging.getLogger("wardlock").warning(
                "failed to release `%s` cleanly: %s", self.resource, err
            )
