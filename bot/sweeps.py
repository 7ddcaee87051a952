"""The background loops' shape: do one sweep, then wait for the interval, a wake-up or the stop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


async def sweep_until(
    stop: asyncio.Event,
    sweep: Callable[[], Awaitable[object]],
    interval: float,
    name: str,
    wake: asyncio.Event | None = None,
) -> None:
    """Run `sweep` every `interval` seconds, or at once when `wake` is set, until `stop`.

    A failing sweep is logged and the loop goes on: it must outlive any single failure (the
    database away for a moment). A wake-up during a sweep is not lost: it is cleared before.
    """
    while not stop.is_set():
        if wake is not None:
            wake.clear()
        try:
            await sweep()
        except Exception:
            log.exception("%s sweep failed", name)
        waiters = [asyncio.ensure_future(stop.wait())]
        if wake is not None:
            waiters.append(asyncio.ensure_future(wake.wait()))
        await asyncio.wait(waiters, timeout=interval, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()
