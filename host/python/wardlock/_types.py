"""The contract's values as Python sees them, and their conversion from and
to the records and variants `wasmtime.component` passes.

Field names follow the WIT records (`lock-file` becomes `lock_file`); the
meaning of every field is documented in `wit/`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from wasmtime.component import Record

from ._sys import Mode


class Liveness(StrEnum):
    """Whether a process recorded as a lock owner still exists."""

    ALIVE = "alive"
    GONE = "gone"
    REUSED = "reused"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class PolicyInfo:
    """Who a policy says it is (`policy.policy-info`)."""

    name: str
    version: str
    contract: str
    default_timeout_ms: int


@dataclass(frozen=True)
class Step:
    """One lock file to take, in plan order."""

    lock_file: str
    mode: Mode
    records_owner: bool


@dataclass(frozen=True)
class Plan:
    """What acquiring a resource would do (`policy.lock-plan`);
    `timeout_ms` is `None` for a wait without end."""

    resource: str
    mode: Mode
    steps: tuple[Step, ...]
    timeout_ms: int | None


@dataclass(frozen=True)
class Holder:
    """The holder of a lock, as well as the policy could find out."""

    pid: int | None
    liveness: Liveness
    command: str | None
    host: str | None
    since: str | None
    held_for_ms: int | None
    mode: Mode | None
    others: tuple[int, ...] = field(default=())


@dataclass(frozen=True)
class LockStatus:
    """A lock file in the directory, as `status` shows it."""

    lock_file: str
    resource: str | None
    held: Mode | None
    holder: Holder | None
    stale_record: bool


@dataclass(frozen=True)
class WaitNotice:
    """The policy is about to wait for a lock someone else holds."""

    resource: str
    lock_file: str
    mode: Mode
    timeout_ms: int
    message: str


def record(**fields: Any) -> Record:
    """A WIT record for the guest; `start_token` names field `start-token`."""
    out = Record()
    for name, value in fields.items():
        setattr(out, name.replace("_", "-"), value)
    return out


def get(value: Any, name: str) -> Any:
    """A WIT record's field; `lock_file` reads field `lock-file`."""
    return getattr(value, name.replace("_", "-"))


def policy_info(value: Any) -> PolicyInfo:
    return PolicyInfo(
        name=get(value, "name"),
        version=get(value, "version"),
        contract=get(value, "contract"),
        default_timeout_ms=get(value, "default_timeout_ms"),
    )


def plan(value: Any) -> Plan:
    return Plan(
        resource=get(value, "resource"),
        mode=Mode(get(value, "mode")),
        steps=tuple(
            Step(get(s, "lock_file"), Mode(get(s, "mode")), get(s, "records_owner"))
            for s in get(value, "steps")
        ),
        timeout_ms=get(value, "timeout_ms"),
    )


def holder(value: Any) -> Holder:
    mode = get(value, "mode")
    return Holder(
        pid=get(value, "pid"),
        liveness=Liveness(get(value, "liveness")),
        command=get(value, "command"),
        host=get(value, "host"),
        since=get(value, "since"),
        held_for_ms=get(value, "held_for_ms"),
        mode=None if mode is None else Mode(mode),
        others=tuple(get(value, "others")),
    )


def lock_status(value: Any) -> LockStatus:
    held = get(value, "held")
    found = get(value, "holder")
    return LockStatus(
        lock_file=get(value, "lock_file"),
        resource=get(value, "resource"),
        held=None if held is None else Mode(held),
        holder=None if found is None else holder(found),
        stale_record=get(value, "stale_record"),
    )


def wait_notice(value: Any) -> WaitNotice:
    return WaitNotice(
        resource=get(value, "resource"),
        lock_file=get(value, "lock_file"),
        mode=Mode(get(value, "mode")),
        timeout_ms=get(value, "timeout_ms"),
        message=get(value, "message"),
    )
