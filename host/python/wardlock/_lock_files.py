"""The `lock-files` import: lock files inside the one lock directory.

Mirrors the Rust host's `lock_files.rs`. Handles are numbers in a table
that belongs to the lock directory, not to a component instance, so a lease
taken by one instance can be released by another, and the host can close
whatever a failed call left open.

Waiting is done by the kernel: a blocked `lock` opens its own descriptor on
a helper thread and blocks in `flock` there, so the waiter is woken the
moment the holder releases, while the caller waits on an event with the
deadline. A helper whose caller gave up drops its descriptor as soon as the
kernel grants it the lock, so it never holds it for longer than that
instant.

A process never waits on itself: asking for a lock file that this process
already holds through another handle, in a conflicting mode, fails at once
with `held-by-this-process`. A forked child that inherited a handle never
releases its parent's lock: it only closes its copy.
"""

from __future__ import annotations

import errno
import itertools
import logging
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from wasmtime import WasmtimeError
from wasmtime.component import Variant

from . import _sys
from ._state import CallState, DirShared, Failure, current
from ._sys import FileId, LockFd, Mode
from ._types import record

log = logging.getLogger("wardlock")

#: The suffix of an owner record's name, after its lock file's name.
OWNER_SUFFIX = ".owner"

#: The suffix of the temporary file an owner record is written through.
TEMP_SUFFIX = ".owner.tmp"

#: The prefix of the host's own files in a lock directory (the pinned
#: policy), which are never lock files.
HOST_PREFIX = ".wardlock"

#: The largest owner record the host reads.
OWNER_LIMIT = 64 * 1024

#: The longest lock-file name accepted, leaving room for the suffixes.
NAME_LIMIT = 255 - len(TEMP_SUFFIX)

#: How often a lock is retried when its file is swapped under it.
SWAP_RETRIES = 8

#: `lock`'s timeout that means for ever.
FOREVER_NS = 2**64 - 1


class LockFailed(Exception):
    """A host operation failed; carries the contract's failure."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


@dataclass
class _Entry:
    name: str
    file: LockFd
    id: FileId
    # The mode held through this handle, if any.
    held: Mode | None
    # A process-wide unique key for the held-locks registry.
    key: int
    # The process that opened the handle; a forked child is not it.
    opener: int


# Locks held by this process, across every lock directory and handle: for
# each file, the handles (by key) holding it and their modes.
_HELD: dict[FileId, list[tuple[int, Mode]]] = {}
_HELD_LOCK = threading.Lock()
_NEXT_KEY = itertools.count(1)


class LockTable:
    """The open lock files of one lock directory."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next = 0
        self._entries: dict[int, _Entry] = {}

    def get(self, handle: int) -> tuple[str, LockFd, int]:
        with self._lock:
            entry = self._entries.get(handle)
            if entry is None:
                raise LockFailed(_bad_handle(handle))
            return entry.name, entry.file, entry.key

    def name(self, handle: int) -> str:
        return self.get(handle)[0]

    def insert(self, name: str, file: LockFd, id: FileId) -> int:
        with self._lock:
            handle = self._next
            self._next = (self._next + 1) % 2**32
            self._entries[handle] = _Entry(name, file, id, None, next(_NEXT_KEY), _sys.pid())
            return handle

    def close(self, handle: int) -> None:
        """Close `handle`, releasing its lock if this process took it."""
        with self._lock:
            entry = self._entries.pop(handle, None)
        if entry is not None:
            _release(entry)

    def intact(self, fs: _sys.Dir, handle: int) -> bool:
        """Whether the lock file held through `handle` is still the file its
        name refers to. `False` means it was removed or replaced while held,
        so later lockers may have taken a lock of their own."""
        with self._lock:
            entry = self._entries.get(handle)
            if entry is None:
                return False
            name, id = entry.name, entry.id
        try:
            return fs.id_of(name) == id
        except OSError:
            return False

    def contains(self, handle: int) -> bool:
        with self._lock:
            return handle in self._entries

    def close_all(self) -> None:
        with self._lock:
            entries = list(self._entries.values())
            self._entries.clear()
        for entry in entries:
            _release(entry)

    def unlock(self, handle: int) -> None:
        with self._lock:
            entry = self._entries.get(handle)
            if entry is None:
                raise LockFailed(_bad_handle(handle))
            _release(entry)
            entry.held = None

    def mark_held(self, handle: int, file: LockFd, id: FileId, mode: Mode) -> None:
        """Record that `handle` now holds `file` in `mode`."""
        with self._lock:
            entry = self._entries.get(handle)
            if entry is None:
                # Closed by another thread while we waited: give the lock back.
                _unlock_quietly(file)
                raise LockFailed(_bad_handle(handle))
            if entry.held is not None:
                _forget(entry.id, entry.key)
            with _HELD_LOCK:
                _HELD.setdefault(id, []).append((entry.key, mode))
            entry.file = file
            entry.id = id
            entry.held = mode

    def __del__(self) -> None:
        try:
            self.close_all()
        except Exception:  # interpreter shutdown: the kernel releases anyway
            pass


def _release(entry: _Entry) -> None:
    """Forget `entry`'s lock in the registry and release it, unless this is
    a forked child, which must only close its copy of the descriptor."""
    if entry.held is None:
        return
    _forget(entry.id, entry.key)
    if _sys.pid() != entry.opener:
        return
    try:
        _sys.unlock(entry.file)
    except OSError as err:
        log.warning("failed to unlock `%s`: %s", entry.name, err)


def _forget(id: FileId, key: int) -> None:
    with _HELD_LOCK:
        holders = _HELD.get(id)
        if holders is None:
            return
        holders[:] = [(k, m) for k, m in holders if k != key]
        if not holders:
            del _HELD[id]


def _unlock_quietly(file: LockFd) -> None:
    try:
        _sys.unlock(file)
    except OSError:
        pass


def _check_self_conflict(id: FileId, key: int, mode: Mode, name: str) -> None:
    """Refuse a lock this process would wait on itself for."""
    with _HELD_LOCK:
        conflict = any(
            k != key and (m == Mode.EXCLUSIVE or mode == Mode.EXCLUSIVE)
            for k, m in _HELD.get(id, [])
        )
    if conflict:
        raise LockFailed(
            Failure(
                "held-by-this-process",
                f"lock file `{name}` is already held by this process in a conflicting mode; "
                "waiting for it would wait for ever",
            )
        )


def _bad_handle(handle: int) -> Failure:
    return Failure("bad-handle", f"no open lock file has handle {handle}")


_CODES = {
    errno.ENOENT: "not-found",
    errno.EACCES: "permission-denied",
    errno.EPERM: "permission-denied",
    errno.EROFS: "read-only",
    errno.ENOLCK: "unsupported",
    errno.ENOTSUP: "unsupported",
    errno.ENOSYS: "unsupported",
    errno.ENOSPC: "no-space",
    errno.EDQUOT: "no-space",
    errno.ENAMETOOLONG: "invalid-name",
}


def failure(name: str, err: OSError) -> Failure:
    """Turn an OS error on `name` into the contract's failure, with the
    same codes and the same message form as the Rust host."""
    if isinstance(err, _sys.NotRegular):
        return Failure("not-regular-file", str(err))
    code = _CODES.get(err.errno or 0, "other")
    if err.errno is not None and err.strerror:
        words = f"{err.strerror} (os error {err.errno})"
    else:
        words = str(err)
    return Failure(code, f"`{name}`: {words}")


def check_name(name: str) -> None:
    """Check that `name` is a plain file name the host may use as a lock
    file; same rules as the Rust host."""
    problem: str | None = None
    bad_char = next((c for c in name if c in "/\\\0" or unicodedata.category(c) == "Cc"), None)
    if not name:
        problem = "is empty"
    elif len(name.encode("utf-8", "surrogatepass")) > NAME_LIMIT:
        problem = f"is longer than {NAME_LIMIT} bytes"
    elif name in (".", ".."):
        problem = "names a directory"
    elif ".." in name:
        problem = "contains `..`"
    elif bad_char is not None:
        problem = f"contains the character {bad_char!r}"
    elif name.endswith(OWNER_SUFFIX) or ".owner." in name:
        problem = f"ends with the owner-record suffix `{OWNER_SUFFIX}`"
    elif name.startswith(HOST_PREFIX):
        problem = f"starts with `{HOST_PREFIX}`, which the host keeps for its own files"
    if problem is not None:
        shown = name.encode("unicode_escape").decode("ascii")
        raise LockFailed(Failure("invalid-name", f"lock-file name `{shown}` {problem}"))


def _dir(state: CallState) -> DirShared:
    """The lock directory, or the failure every lock-file operation gets
    while a policy is only being inspected."""
    if state.dir is None:
        raise LockFailed(Failure("not-found", "no lock directory: the policy is being inspected"))
    return state.dir


def _open_file(state: CallState, name: str, create: bool) -> tuple[LockFd, FileId]:
    try:
        file = _dir(state).fs.open_lock_file(name, create)
        return file, _sys.file_id(file)
    except OSError as err:
        raise LockFailed(failure(name, err)) from None


class _Wait:
    """A blocked `flock` on a helper thread, and whether its caller still
    wants the result."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.result: LockFd | OSError | None = None
        self.abandoned = False


def _wait_for(state: CallState, name: str, mode: Mode, left_ns: int | None) -> LockFd | None:
    """Block in the kernel for the lock on a helper thread, at most
    `left_ns` (`None`: for ever). Returns the newly opened, locked file."""
    shared = _dir(state)
    wait = _Wait()

    def helper() -> None:
        result: LockFd | OSError
        try:
            file = shared.fs.open_lock_file(name, True)
            _sys.lock(file, mode)
            result = file
        except OSError as err:
            result = err
        with wait.lock:
            if not wait.abandoned:
                wait.result = result
                wait.done.set()
        # If the caller gave up, the file, with its lock, is dropped here.

    thread = threading.Thread(target=helper, name="wardlock-wait", daemon=True)
    try:
        thread.start()
    except RuntimeError as err:
        raise LockFailed(
            Failure("other", f"`{name}`: cannot start a waiting thread: {err}")
        ) from None
    timeout = None if left_ns is None else min(left_ns / 1e9, threading.TIMEOUT_MAX)
    try:
        wait.done.wait(timeout)
    finally:
        with wait.lock:
            result = wait.result
            if result is None:
                wait.abandoned = True
    if isinstance(result, OSError):
        raise LockFailed(failure(name, result))
    return result


def _lock_file(state: CallState, handle: int, mode: Mode, timeout_ns: int | None) -> str:
    """Lock `handle`, waiting up to `timeout_ns` (`None`: try once).

    After locking, the name must still refer to the locked file; if the
    file was removed or replaced meanwhile, the lock guards nothing, so it
    is dropped and the file the name now refers to is locked instead.
    """
    shared = _dir(state)
    name, file, key = shared.locks.get(handle)
    deadline: int | None = None
    if timeout_ns is not None and timeout_ns != FOREVER_NS:
        deadline = time.monotonic_ns() + timeout_ns
    for _ in range(SWAP_RETRIES):
        try:
            id = _sys.file_id(file)
            _check_self_conflict(id, key, mode, name)
            locked: LockFd | None = file if _sys.try_lock(file, mode) else None
        except OSError as err:
            raise LockFailed(failure(name, err)) from None
        if locked is None and timeout_ns is not None:
            left = None if deadline is None else max(0, deadline - time.monotonic_ns())
            if left != 0:
                locked = _wait_for(state, name, mode, left)
        if locked is None:
            return "busy"
        try:
            id = _sys.file_id(locked)
            now = shared.fs.id_of(name)
        except OSError as err:
            raise LockFailed(failure(name, err)) from None
        if now == id:
            shared.locks.mark_held(handle, locked, id, mode)
            return "acquired"
        log.warning(
            "lock file `%s` was removed or replaced while locking it; locking the new one", name
        )
        _unlock_quietly(locked)
        file = _open_file(state, name, True)[0]
    raise LockFailed(
        Failure("other", f"lock file `{name}` kept being replaced while it was locked")
    )


def _fallible(body: Any) -> Any:
    """Run a host function body; a failure becomes the contract's `err`."""
    try:
        return body()
    except LockFailed as failed:
        return record(code=failed.failure.code, message=failed.failure.message)


# The host functions, one per `lock-files` function. wasmtime-py lowers a
# `result` from a plain value when its two cases have different Python
# types (an int, a str, a list or `None` for `ok`, a record for `err`), and
# needs a tagged `Variant` when both are records (`state`).


def open_(_store: Any, name: str, disposition: str) -> Any:
    def body() -> int:
        state = current()
        check_name(name)
        file, id = _open_file(state, name, disposition == "create")
        handle = _dir(state).locks.insert(name, file, id)
        state.opened.append(handle)
        return handle

    return _fallible(body)


def try_lock(_store: Any, handle: int, mode: str) -> Any:
    return _fallible(lambda: _lock_file(current(), handle, Mode(mode), None))


def lock(_store: Any, handle: int, mode: str, timeout_ns: int) -> Any:
    return _fallible(lambda: _lock_file(current(), handle, Mode(mode), timeout_ns))


def unlock(_store: Any, handle: int) -> Any:
    def body() -> None:
        _dir(current()).locks.unlock(handle)

    return _fallible(body)


def close(_store: Any, handle: int) -> None:
    state = current()
    if state.dir is not None:
        state.dir.locks.close(handle)


def state(_store: Any, handle: int) -> Any:
    def body() -> Any:
        shared = _dir(current())
        name, file, _ = shared.locks.get(handle)
        try:
            found = _sys.holders(_sys.file_id(file))
            if found is not None:
                held = None
                if found:
                    held = (
                        Mode.EXCLUSIVE
                        if any(h.mode == Mode.EXCLUSIVE for h in found)
                        else Mode.SHARED
                    )
                pids = [h.pid for h in found if h.pid is not None]
                return Variant("ok", record(held=held and held.value, holders=pids))
            # No lock table to read: find out by trying, on a descriptor of
            # our own, and let go at once.
            probe = shared.fs.open_lock_file(name, False)
            if _sys.try_lock(probe, Mode.EXCLUSIVE):
                held = None
            elif _sys.try_lock(probe, Mode.SHARED):
                held = Mode.SHARED
            else:
                held = Mode.EXCLUSIVE
            del probe
            return Variant("ok", record(held=held and held.value, holders=[]))
        except OSError as err:
            raise LockFailed(failure(name, err)) from None

    try:
        return body()
    except LockFailed as failed:
        return Variant("err", record(code=failed.failure.code, message=failed.failure.message))


def read_owner(_store: Any, handle: int) -> Any:
    call = current()
    try:
        shared = _dir(call)
        rec = shared.locks.name(handle) + OWNER_SUFFIX
        try:
            data = shared.fs.read_small(rec, OWNER_LIMIT)
        except OSError as err:
            raise LockFailed(failure(rec, err)) from None
        if data is not None and len(data) == 0:
            # An empty file is a cleared record: the Rust host empties the
            # record file on release instead of removing it.
            return None
        if data is not None and len(data) > OWNER_LIMIT:
            raise LockFailed(
                Failure("too-large", f"owner record `{rec}` is larger than {OWNER_LIMIT} bytes")
            )
        return data
    except LockFailed as failed:
        # wasmtime-py 50 cannot lower `err` for this function's type,
        # `result<option<list<u8>>, failure>`: its untagged lowering
        # matches every value to `ok`, because `option`'s `none` case
        # accepts any Python object. The failure is kept for the caller
        # and the guest call is ended with a trap, so the caller sees this
        # failure as a `LockFailure` (the Rust host hands it to the policy,
        # which goes on: it replaces an oversized or planted record with a
        # warning, and `status` shows it as unreadable).
        name = (
            call.dir.locks.name(handle)
            if call.dir is not None and call.dir.locks.contains(handle)
            else ""
        )
        call.undelivered = (name, failed.failure)
        raise WasmtimeError(
            f"host failure the policy cannot be told of: {failed.failure.message}"
        ) from None


def write_owner(_store: Any, handle: int, contents: bytes) -> Any:
    def body() -> None:
        shared = _dir(current())
        name = shared.locks.name(handle)
        rec = name + OWNER_SUFFIX
        if len(contents) > OWNER_LIMIT:
            raise LockFailed(
                Failure(
                    "too-large", f"owner record `{rec}` would be larger than {OWNER_LIMIT} bytes"
                )
            )
        try:
            shared.fs.replace(rec, name + TEMP_SUFFIX, bytes(contents))
        except OSError as err:
            raise LockFailed(failure(rec, err)) from None

    return _fallible(body)


def clear_owner(_store: Any, handle: int) -> Any:
    def body() -> None:
        shared = _dir(current())
        rec = shared.locks.name(handle) + OWNER_SUFFIX
        try:
            shared.fs.remove(rec)
        except OSError as err:
            raise LockFailed(failure(rec, err)) from None

    return _fallible(body)


def list_files(_store: Any) -> Any:
    def body() -> list[str]:
        shared = _dir(current())
        try:
            entries = shared.fs.names()
        except OSError as err:
            raise LockFailed(failure(shared.path, err)) from None
        names = []
        for name, is_file in entries:
            try:
                name.encode("utf-8")
            except UnicodeEncodeError:
                continue  # not UTF-8: never a name a policy gave
            try:
                check_name(name)
            except LockFailed:
                continue
            if is_file and not name.endswith(TEMP_SUFFIX):
                names.append(name)
        return sorted(names)

    return _fallible(body)


#: The functions of `wardlock:policy/lock-files`, by WIT name.
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "open": open_,
    "try-lock": try_lock,
    "lock": lock,
    "unlock": unlock,
    "close": close,
    "state": state,
    "read-owner": read_owner,
    "write-owner": write_owner,
    "clear-owner": clear_owner,
    "list-files": list_files,
}
