"""What a channel is to the host: a small protocol, and what the host offers it in return.

A channel turns its platform's updates into `Inbound` events and hands them to the host, and
delivers `Outbound` messages through its `Sender`. It knows nothing of the scheduler, the outbox
loops, other channels or the handlers: the host (bot/host.py) runs all of that.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute

from bot.clock import Clock
from bot.config import Config
from bot.messages import Inbound, Outbound
from bot.settings import Settings


class TemporaryDeliveryError(Exception):
    """Try again later (network trouble, rate limit)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class PermanentDeliveryError(Exception):
    """The platform refuses this message for good; retrying cannot help."""


class OutsideWindowError(Exception):
    """Free text is refused because the person's customer-service window is closed (WhatsApp
    131047): the message goes the template-or-hold way (bot/window.py)."""


@dataclass(frozen=True)
class DeliveryStatus:
    """What the platform later says about a message it accepted (WhatsApp status callbacks).

    `failure` classifies a failed status: "window" (send a template or hold), "temporary"
    (send again later), "permanent" (give up and tell the CSO)."""

    platform_message_id: str
    status: str  # sent | delivered | read | failed
    at: datetime
    failure: str | None = None
    error: str | None = None


class Sender(Protocol):
    @property
    def channel(self) -> str: ...

    async def send(self, chat_id: str, outbound: Outbound, thread_id: str | None = None) -> str:
        """Deliver (in `thread_id` of the chat when given); return the platform's id of what was
        created: the message, or the thread for ThreadAction.OPEN. Raises TemporaryDeliveryError
        or PermanentDeliveryError."""
        ...

    def thread_link(self, chat_id: str, thread_id: str) -> str | None:
        """A link staff can open to reach a thread this sender created (None if none)."""
        ...


class ChannelHost(Protocol):
    """What a running channel may use of the host."""

    @property
    def config(self) -> Config: ...

    @property
    def settings(self) -> Settings: ...

    @property
    def clock(self) -> Clock: ...

    async def receive(self, inbound: Inbound, typing: Callable[[], None] = ...) -> None:
        """Handle one event (one transaction) and deliver what it produced."""
        ...

    async def store_update(
        self, channel: str, key: str, sender: str, payload: dict[str, Any]
    ) -> bool:
        """Commit a raw platform update to the inbox before confirming it to the platform;
        False for one stored before. Raises when it cannot be stored (do not confirm then)."""
        ...

    async def delivery_status(self, channel: str, status: DeliveryStatus) -> None:
        """Record a status callback in the transcript; act on a failure it reports."""
        ...

    async def identity_changed(
        self,
        channel: str,
        old_user_id: str,
        new_user_id: str,
        new_chat_id: str,
        phones: tuple[str, str] | None = None,
    ) -> None:
        """The platform says a person now has another id (a new number on WhatsApp): the same
        stakeholder, reached at the new chat from now on."""
        ...

    async def accepts_files(self, inbound: Inbound) -> bool:
        """Whether a file from this sender may be downloaded (before receive)."""
        ...

    def wake(self) -> None:
        """Run the service clock now (after a channel moved a test clock forward)."""
        ...

    def request_stop(self) -> None: ...

    async def drain(self) -> None:
        """Wait until the deliveries started so far are done (a terminal prints before the
        next prompt)."""
        ...


class Channel(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def sender(self) -> Sender: ...

    async def start(self, host: ChannelHost) -> None:
        """Connect to the platform and begin receiving (polling, or wait for the web routes)."""
        ...

    async def stop(self) -> None: ...

    def routes(self) -> Sequence[BaseRoute]:
        """HTTP routes this channel serves in the host's web app (a webhook), if any."""
        ...

    async def check(self) -> str | None:
        """None when the platform is reachable, else why not (for /healthz)."""
        ...

    async def process(self, payload: dict[str, Any], attempt: int = 0) -> None:
        """Handle one update stored in the inbox (turn it into Inbound events for the host).
        Raising means "try again later" (`attempt` counts earlier tries); a handler's own bug is
        handled by the engine."""
        ...


async def read_body(request: Request, limit: int) -> bytes | Response:
    """The request's raw body, or 413 over `limit` bytes (read in chunks, so a huge body is
    never held)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return PlainTextResponse("too large", status_code=413)
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            return PlainTextResponse("too large", status_code=413)
    return bytes(body)


async def read_json_body(request: Request, limit: int) -> Any:
    """The request's JSON, or the response to give: 413 over `limit` bytes, 400 when it is not
    JSON."""
    body = await read_body(request, limit)
    if isinstance(body, Response):
        return body
    return parse_json(body)


def parse_json(body: bytes) -> Any:
    """The JSON of a request body, or a 400 response."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return PlainTextResponse("not JSON", status_code=400)
