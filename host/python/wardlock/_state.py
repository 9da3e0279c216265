"""What a guest call can reach: the lock directory it works in and the
handles it opened.

`wasmtime.component` host functions receive a store context but no data of
ours, so the call running on a thread is found through a thread-local
stack: a guest call runs, with every import it makes, on the thread that
started it. It is a stack because a user's `on_wait` callback may itself
use another lock directory while the outer call is inside an import.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ._sys import Dir
from ._types import WaitNotice

if TYPE_CHECKING:
    from ._lock_files import LockTable

WaitHandler = Callable[[WaitNotice], None]


@dataclass
class DirShared:
    """One lock directory as the host functions see it, shared by every
    call and every waiting helper thread."""

    path: str
    fs: Dir
    locks: LockTable
    # What the locks are held for, reported as the owner's command.
    command: str | None
    on_wait: WaitHandler | None


@dataclass
class Failure:
    """A failed host operation (`types.failure`)."""

    code: str
    message: str


@dataclass
class CallState:
    """One guest call in progress."""

    # `None` while a policy is only being inspected, in which case every
    # lock-file operation fails.
    dir: DirShared | None
    # Handles opened during this call, so that the host can close what a
    # failed call left open.
    opened: list[int] = field(default_factory=list)
    # A failure the host could not hand to the guest (see
    # `_lock_files.read_owner`); the call is reported as this failure.
    undelivered: tuple[str, Failure] | None = None
    # An exception raised in a host function (Ctrl-C while waiting, or a
    # bug of ours); the guest call is ended and this is raised again.
    escaped: BaseException | None = None


_local = threading.local()


def current() -> CallState:
    """The guest call running on this thread."""
    stack: list[CallState] = getattr(_local, "stack", [])
    if not stack:
        # Only a guest call can reach a host function: this is a bug.
        raise RuntimeError("wardlock host function called outside a guest call")
    return stack[-1]


def current_call_or_none() -> CallState | None:
    """The guest call running on this thread, if any."""
    stack: list[CallState] = getattr(_local, "stack", [])
    return stack[-1] if stack else None


@contextmanager
def entered(state: CallState) -> Iterator[CallState]:
    """Make `state` the current call on this thread while the block runs."""
    stack: list[CallState] = getattr(_local, "stack", None) or []
    _local.stack = stack
    stack.append(state)
    try:
        yield state
    finally:
        stack.pop()
