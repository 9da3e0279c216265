"""The `processes` import: who this process is, and whether a recorded
owner still runs.

Mirrors the Rust host's `processes.rs`. An owner counts as gone only on
proof: its pid is free, or belongs to a process that started at another
time (reused), or it was recorded before this machine last booted. An owner
on another host, or in another PID namespace, is unknown, never gone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from . import _sys
from ._state import current as current_call
from ._types import record

# This process's facts, read once per pid (a forked child reads its own).
_cached: tuple[int, _sys.ProcessFacts | None] | None = None
_cached_lock = threading.Lock()


def _me() -> tuple[int, _sys.ProcessFacts | None]:
    global _cached
    pid = _sys.pid()
    with _cached_lock:
        if _cached is None or _cached[0] != pid:
            _cached = (pid, _sys.process(pid))
        return _cached


def current(_store: Any) -> Any:
    pid, facts = _me()
    command = facts.command if facts else None
    call = current_call()
    if call.dir is not None and call.dir.command is not None:
        # A host that holds locks for something reports that, not itself.
        command = call.dir.command
    return record(
        pid=pid,
        start_token=facts.start_token if facts else "",
        started_at_ms=facts.started_at_ms if facts else None,
        host=_sys.host_name(),
        command=command,
    )


def probe(_store: Any, pid: int, start_token: str, host: str) -> str:
    if host != _sys.host_name():
        return "unknown"
    return _sys.probe(pid, start_token).value


def lookup(_store: Any, pid: int) -> Any:
    facts = _sys.process(pid)
    if facts is None:
        return None
    return record(
        pid=pid,
        start_token=facts.start_token,
        started_at_ms=facts.started_at_ms,
        host=_sys.host_name(),
        command=facts.command,
    )


#: The functions of `wardlock:policy/processes`, by WIT name.
FUNCTIONS: dict[str, Callable[..., Any]] = {"current": current, "probe": probe, "lookup": lookup}
