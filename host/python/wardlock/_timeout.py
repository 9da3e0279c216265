"""Timeouts as callers give them, spelled as the contract's text.

Only the spelling happens here: the policy reads the text and decides what
it accepts, so a negative or NaN number is passed on for the policy to
refuse in its own words.
"""

from __future__ import annotations

import math
from datetime import timedelta
from decimal import Decimal

#: What `timeout` may be: `None` for the policy's default, seconds as a
#: number (`0` tries once, `math.inf` waits for ever), a `timedelta`, or the
#: contract's own text (`"250ms"`, `"2m"`, `"inf"`).
TimeoutLike = None | int | float | Decimal | timedelta | str


def timeout_text(timeout: TimeoutLike) -> str | None:
    """The timeout as the contract spells it (`None`: the policy's
    default)."""
    if timeout is None or isinstance(timeout, str):
        return timeout
    if isinstance(timeout, bool):
        raise TypeError("timeout must be seconds, a timedelta or text, not a bool")
    if isinstance(timeout, timedelta):
        micros = (timeout.days * 86_400 + timeout.seconds) * 1_000_000 + timeout.microseconds
        sign = "-" if micros < 0 else ""
        return f"{sign}{abs(micros) // 1_000_000}.{abs(micros) % 1_000_000:06d}"
    if isinstance(timeout, int):
        return str(timeout)
    if isinstance(timeout, (float, Decimal)):
        if math.isnan(timeout):
            return "nan"
        if math.isinf(timeout):
            return "inf" if timeout > 0 else "-inf"
        if timeout == 0:
            return "0"
        # Exact decimal digits: the policy keeps nanoseconds and drops the
        # rest, as it does for any text.
        return format(Decimal(timeout), "f")
    raise TypeError(f"timeout must be seconds, a timedelta or text, not {type(timeout).__name__}")
