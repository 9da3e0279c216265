"""The `clock` import: a monotonic clock for waits, a wall clock for owner
records."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

# The origin of the monotonic clock the guest sees: this module's import.
_ORIGIN = time.monotonic_ns()


def monotonic_now(_store: Any) -> int:
    return min(time.monotonic_ns() - _ORIGIN, 2**64 - 1)


def wall_now(_store: Any) -> int:
    return max(0, time.time_ns() // 1_000_000)


#: The functions of `wardlock:policy/clock`, by WIT name.
FUNCTIONS: dict[str, Callable[..., Any]] = {"monotonic-now": monotonic_now, "wall-now": wall_now}
