"""The `report` import: the policy's diagnostics go to the `wardlock`
logger, its waiting notices to whoever opened the lock directory."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ._state import current
from ._types import wait_notice

log = logging.getLogger("wardlock")

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING}


def log_(_store: Any, level: str, message: str) -> None:
    log.log(_LEVELS.get(level, logging.WARNING), "%s", message)


def waiting(_store: Any, notice: Any) -> None:
    told = wait_notice(notice)
    log.debug("%s", told.message)
    call = current()
    if call.dir is not None and call.dir.on_wait is not None:
        try:
            call.dir.on_wait(told)
        except Exception:
            # The caller's callback must not break the policy's wait.
            log.warning("the on_wait callback failed", exc_info=True)


#: The functions of `wardlock:policy/report`, by WIT name.
FUNCTIONS: dict[str, Callable[..., Any]] = {"log": log_, "waiting": waiting}
