"""The event loop `csobot run` serves on: uvloop where it is installed, else asyncio's own.

Why: under load a fifth of the bot's time went to asyncio's own scheduling and its selector
(profiles of `make bench-load`): every update wakes several tasks, database connections and
HTTP sockets, and aiosqlite hands each statement to a thread and back. uvloop does the same work
in compiled code (libuv); the figures are in README "Performance". It is installed with csobot on
Linux and macOS; elsewhere (Windows) the bot runs on asyncio's loop, unchanged.
`CSOBOT_EVENT_LOOP=asyncio` chooses asyncio's loop anywhere, should an office ever need to rule
uvloop out.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable

LoopFactory = Callable[[], asyncio.AbstractEventLoop]

CHOICES = ("auto", "uvloop", "asyncio")


class EventLoopError(RuntimeError):
    """The event loop asked for cannot be had."""


def loop_factory(choice: str) -> LoopFactory | None:
    """The factory for `asyncio.Runner`; None means asyncio's own loop."""
    if choice not in CHOICES:
        raise EventLoopError(
            f"CSOBOT_EVENT_LOOP must be one of {', '.join(CHOICES)} (found {choice!r})"
        )
    if choice == "asyncio":
        return None
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError as exc:
        if choice == "uvloop":
            raise EventLoopError("CSOBOT_EVENT_LOOP=uvloop, but uvloop is not installed") from exc
        return None
    factory: LoopFactory = uvloop.new_event_loop
    return factory
