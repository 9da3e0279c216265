"""What can go wrong, told apart as the Rust host tells it: contention,
invalid input, a failing policy module, and the operating system refusing.

`Busy`, `TimedOut` and `Refused` are contention: nothing failed, the lock
is held by someone else, who is named. Every other error is a failure that
waiting would not mend.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._types import Holder

if TYPE_CHECKING:
    from ._policy import Policy


class Error(Exception):
    """Anything wardlock raises."""


class Contention(Error):
    """A resource was not acquired although nothing failed: its lock is held.

    `message` is the policy's one-line story (which lock, held by whom, for
    how long); `holder` names the holder as well as the policy could find
    out.
    """

    def __init__(
        self, resource: str, lock_file: str, holder: Holder, waited_ms: int, message: str
    ) -> None:
        super().__init__(message)
        self.resource = resource
        self.lock_file = lock_file
        self.holder = holder
        self.waited_ms = waited_ms
        self.message = message


class Busy(Contention):
    """The lock was held and the timeout was zero."""


class TimedOut(Contention):
    """The lock stayed held until the timeout ran out."""


class Refused(Contention):
    """The policy refused to wait for this holder (a strict policy facing a
    holder whose recorded owner is gone, say)."""


class InvalidInput(Error, ValueError):
    """The caller's input breaks one of the policy's rules; nothing was
    touched. `message` names the rule."""

    prefix = "invalid input"

    def __init__(self, message: str) -> None:
        super().__init__(f"{self.prefix}: {message}")
        self.message = message


class InvalidResource(InvalidInput):
    """The resource id breaks one of the policy's rules."""

    prefix = "invalid resource"


class InvalidTimeout(InvalidInput):
    """The timeout is not one the policy accepts."""

    prefix = "invalid timeout"


class LockFailure(Error, OSError):
    """The operating system refused an operation on a lock file or on the
    lock directory.

    `code` is the contract's `error-code` name (`not-found`,
    `permission-denied`, `held-by-this-process`, ...); `lock_file` is the
    lock file concerned, or `None` when the directory itself failed, whose
    path is then in `filename`.
    """

    def __init__(
        self, code: str, message: str, lock_file: str | None = None, path: str | None = None
    ) -> None:
        text = (
            f"failed to lock `{lock_file}`: {message}"
            if path is None
            else f"failed to use lock directory `{path}`: {message}"
        )
        super().__init__(text)
        self.code = code
        self.message = message
        self.lock_file = lock_file
        self.filename = path

    def __str__(self) -> str:
        return str(self.args[0])


class PolicyError(Error):
    """The policy module failed to load or misbehaved: it trapped, ran out
    of fuel or memory, or broke the contract. `module` names it."""

    def __init__(self, module: str, reason: str) -> None:
        super().__init__(f"policy `{module}` failed: {reason}")
        self.module = module
        self.reason = reason


class PolicyMismatch(PolicyError):
    """The lock directory is pinned to another policy than the one given:
    two naming schemes on one directory would not exclude each other.
    `module` is the policy given; `pinned` and `requested` are the name and
    version of each."""

    def __init__(self, lock_dir: str, pinned: Policy, requested: Policy) -> None:
        reason = (
            f"lock directory `{lock_dir}` is pinned to policy `{pinned.label}`; refusing policy "
            f"`{requested.label}` ({requested.module}), since two policies on one directory "
            "would not exclude each other"
        )
        super().__init__(requested.module, reason)
        self.args = (reason,)
        self.lock_dir = lock_dir
        self.pinned = pinned.label
        self.requested = requested.label

    def __str__(self) -> str:
        return self.reason
