"""The process: one runtime, its channels, one scheduler, one outbox dispatcher per channel,
signal handling, and one web app.

Every entry point runs a Host: `csobot run` (Telegram, polling or webhook), `csobot chat` (the
terminal), `csobot serve` (the web app alone). So the service clock, the outbox retries, the
metrics and the knowledge reload work the same whichever channels a process serves.

The data path:  platform update → channel (Inbound) → host.receive → engine (one transaction:
router → handlers → outbox rows) → host.deliver → each channel's dispatcher → channel sender.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any

import uvicorn
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from bot import heap, inbox
from bot.addresses import ToDesk
from bot.channels.base import Channel, DeliveryStatus
from bot.clock import Clock
from bot.config import Config
from bot.engine import Handled
from bot.inbox import Inbox
from bot.messages import Inbound, Outbound
from bot.metrics import Metrics
from bot.outbox import ClaimedMessage, OutboxDispatcher
from bot.runtime import Runtime
from bot.scheduler import Scheduler
from bot.settings import Settings
from bot.store.models import InboxUpdate, Message, Ticket
from bot.sweeps import sweep_until
from bot.text_limits import shorten
from bot.window import ServiceWindow

log = logging.getLogger(__name__)

PARALLEL_TURNS = 8  # updates of different people handled at once by one process
TYPING_AFTER = 1.0  # seconds a turn may take before the chat shows "typing…"


class ListenError(Exception):
    """The web app cannot listen where it was told to (a port in use, an address not ours)."""


def listening_socket(host: str, port: int) -> socket.socket:
    """Bound before anything starts, so a port in use is one clear line, not uvicorn's exit
    from inside a task after the channels have started."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ListenError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}); another program may be "
            "using the port: stop it or choose another (CSOBOT_WEBHOOK_LISTEN and "
            "CSOBOT_WEBHOOK_PORT for `csobot run`, --host and --port for `csobot serve`)"
        ) from exc
    return sock


class Host:
    """Owns the runtime's loops for the channels it serves (see the module docstring)."""

    def __init__(
        self,
        runtime: Runtime,
        channels: Sequence[Channel] = (),
        *,
        scheduler_interval: float = 30.0,
        outbox_interval: float = 2.0,
        inbox_interval: float = 1.0,
        run_scheduler: bool = True,
        dashboard: Starlette | None = None,
    ) -> None:
        self.runtime = runtime
        self.channels = list(channels)
        self.metrics = Metrics()
        self.dispatchers = {
            channel.name: OutboxDispatcher(
                runtime.sessions,
                channel.sender,
                runtime.clock,
                self.metrics,
                window=ServiceWindow.for_channel(runtime.config, channel.name),
                on_failed=self._tell_desk_of_failure,
            )
            for channel in self.channels
        }
        self.scheduler = Scheduler(
            runtime.engine,
            runtime.sessions,
            runtime.clock,
            self.deliver,
            concurrent=runtime.db_engine.dialect.name == "postgresql",
        )
        self.inbox = Inbox(runtime.sessions, runtime.clock)
        self._inbox_wake = {channel.name: asyncio.Event() for channel in self.channels}
        # One delivery task per chat at a time: a chat that waits (429, a slow group) never
        # holds up another chat or the processing of updates. What it is to do next: rows turns
        # claimed for this process, and whether to look in the outbox for the chat's rows.
        self._delivering: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._claimed: dict[tuple[str, str], list[ClaimedMessage]] = {}
        self._again: set[tuple[str, str]] = set()
        # A turn claims its replies for this process on PostgreSQL only: on SQLite (one writer,
        # one process) it gained nothing measurable (README "Performance").
        self._claims_in_turn = runtime.db_engine.dialect.name == "postgresql"
        self._processing = asyncio.Semaphore(PARALLEL_TURNS)
        self.scheduler_interval = scheduler_interval
        self.outbox_interval = outbox_interval
        self.inbox_interval = inbox_interval
        self.run_scheduler = run_scheduler
        self.typing_after = TYPING_AFTER
        self.dashboard = dashboard
        self._stop = asyncio.Event()
        self._loops: list[asyncio.Task[None]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._started: list[Channel] = []

    # ---- what channels use (bot.channels.base.ChannelHost) -----------------------------------
    @property
    def config(self) -> Config:
        return self.runtime.config

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    @property
    def clock(self) -> Clock:
        return self.runtime.clock

    async def receive(self, inbound: Inbound, typing: Callable[[], None] = lambda: None) -> None:
        self.metrics.update_received(inbound.channel)
        started = time.perf_counter()
        # "Typing…" only when the reply takes noticeably long: most turns finish in
        # milliseconds, and each chat action costs a message of the platform's send budget.
        loop = asyncio.get_running_loop()
        timers: list[asyncio.TimerHandle] = []

        def typing_if_slow() -> None:
            timers.append(loop.call_later(self.typing_after, typing))

        try:
            handled = await self.runtime.engine.handle(
                inbound,
                typing_if_slow,
                deliver_here=self._claims_in_turn and inbound.channel in self.dispatchers,
            )
        finally:
            for timer in timers:
                timer.cancel()
        self.metrics.observe_turn(inbound.channel, time.perf_counter() - started)
        await self.deliver(handled)

    async def store_update(
        self, channel: str, key: str, sender: str, payload: dict[str, Any]
    ) -> bool:
        stored = await self.inbox.store(channel, key, sender, payload)
        wake = self._inbox_wake.get(channel)
        if wake is not None:
            wake.set()
        return stored

    async def accepts_files(self, inbound: Inbound) -> bool:
        return await self.runtime.engine.accepts_files(inbound)

    async def delivery_status(self, channel: str, status: DeliveryStatus) -> None:
        dispatcher = self.dispatchers.get(channel)
        if dispatcher is None:
            return
        chat_id = await dispatcher.record_status(status)
        if chat_id is not None:  # a postponed or rerouted message: without waiting a sweep
            self._kick((channel, chat_id))

    async def identity_changed(
        self,
        channel: str,
        old_user_id: str,
        new_user_id: str,
        new_chat_id: str,
        phones: tuple[str, str] | None = None,
    ) -> None:
        chat = await self.runtime.engine.change_identity(
            channel, old_user_id, new_user_id, new_chat_id, phones
        )
        if chat is not None and chat[0] in self.dispatchers:
            self._kick(chat)

    async def _tell_desk_of_failure(self, message: Message, reason: str) -> None:
        """A message to a stakeholder failed for good: the CSO reads why in the ticket's thread
        and can reach the stakeholder another way."""
        if message.ticket_id is None:
            return

        def notice(ticket: Ticket) -> Outbound:
            return Outbound(
                self.config.text(
                    "desk_delivery_failed",
                    ticket=ticket.number,
                    reason=reason[:200],
                    excerpt=shorten(message.text, 200),
                ),
                to=ToDesk(ticket.id or 0),
                ticket_id=ticket.id,
                key="desk_delivery_failed",
                internal=True,
            )

        chats = await self.runtime.engine.queue_about(message.ticket_id, notice)
        for chat in chats:
            if chat[0] in self.dispatchers:
                self._kick(chat)

    def wake(self) -> None:
        self.scheduler.wake()

    def request_stop(self) -> None:
        self._stop.set()

    # ---- delivery ------------------------------------------------------------------------------
    async def deliver(self, handled: Handled) -> None:
        """Send what a turn produced: unstored replies at once (best effort), then each touched
        chat's outbox in the background, in order per chat. A chat on a channel this process
        does not serve is left to a process that does."""
        sender_dispatcher = self.dispatchers.get(handled.channel)
        if sender_dispatcher is not None and handled.unstored:
            await sender_dispatcher.send_unstored(handled.chat_id, handled.unstored)
        if handled.claimed:
            chat = handled.claimed[0].chat
            self._claimed.setdefault(chat, []).extend(handled.claimed)
            self._start_delivery(chat)
        for channel, chat_id in handled.chats:
            if channel in self.dispatchers:
                self._kick((channel, chat_id))

    def _kick(self, chat: tuple[str, str]) -> None:
        """Deliver what the outbox holds for this chat."""
        self._again.add(chat)
        self._start_delivery(chat)

    def _start_delivery(self, chat: tuple[str, str]) -> None:
        if chat not in self._delivering:  # else the running task goes round once more
            self._delivering[chat] = asyncio.create_task(self._deliver_chat(chat))

    async def _deliver_chat(self, chat: tuple[str, str]) -> None:
        channel, chat_id = chat
        dispatcher = self.dispatchers[channel]
        try:
            while chat in self._claimed or chat in self._again:
                claimed = self._claimed.pop(chat, [])
                look = chat in self._again
                self._again.discard(chat)
                if claimed and not await dispatcher.deliver_claimed(claimed):
                    break  # stopped by a temporary failure: the outbox retry loop goes on
                if look:
                    await dispatcher.deliver_chat(chat_id)
        except Exception:  # the outbox retry loop picks the chat up again
            log.exception("delivery to %s:%s failed", channel, chat_id)
        finally:
            self._delivering.pop(chat, None)
            # Claimed after the chat stopped: they would overtake the row that failed.
            if stopped := self._claimed.pop(chat, []):
                await dispatcher.release(stopped)

    async def drain(self) -> None:
        """Wait until every delivery started so far has finished (or backed off)."""
        while self._delivering:
            await asyncio.gather(*list(self._delivering.values()), return_exceptions=True)

    async def deliver_due(self) -> int:
        """One sweep of every channel's outbox (what could not be delivered at once)."""
        await self.drain()
        return sum([await dispatcher.deliver_due() for dispatcher in self.dispatchers.values()])

    async def process_inbox(self, channel: Channel) -> int:
        """Process what this channel's inbox holds now; returns how many updates were done.

        Each claimed row is its sender's oldest, so rows of one claim belong to different people
        and are handled side by side: one person's slow turn never holds up another's.
        """
        done = 0
        while rows := await self.inbox.claim(channel.name):
            outcomes = await asyncio.gather(*(self._process_row(channel, row) for row in rows))
            done += sum(outcomes)
        return done

    async def _process_row(self, channel: Channel, row: InboxUpdate) -> bool:
        assert row.id is not None
        async with self._processing:
            processing = inbox.PROCESSING.set(row.id)
            marked = inbox.MARKED.set(False)
            try:
                await channel.process(row.payload, row.attempts)
            except Exception as exc:  # noqa: BLE001 - not the update's fault (database down)
                log.warning("processing %s failed, will retry: %s", row.key, type(exc).__name__)
                await self.inbox.retry(row.id, f"{type(exc).__name__}: {exc}")
                return False
            finally:
                done_in_turn = inbox.MARKED.get()
                inbox.PROCESSING.reset(processing)
                inbox.MARKED.reset(marked)
        if not done_in_turn:  # no turn marked it (nothing to handle, a redelivery, a status)
            await self.inbox.done(row.id)
        return True

    # ---- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the channels, then the loops; a channel failing to start stops those started."""
        for channel in self.channels:
            try:
                await channel.start(self)
            except BaseException:
                await self._stop_channels()
                raise
            self._started.append(channel)
        if self.runtime.db_engine.dialect.name == "sqlite":  # one process: no one else's claims
            for dispatcher in self.dispatchers.values():
                await dispatcher.release_claims()
            for channel in self.channels:
                await self.inbox.release_claims(channel.name)
        for dispatcher in self.dispatchers.values():
            self._loops.append(
                asyncio.create_task(dispatcher.run(self._stop, self.outbox_interval))
            )
        for channel in self.channels:
            inbox_sweep = functools.partial(self.process_inbox, channel)
            self._loops.append(
                asyncio.create_task(
                    sweep_until(
                        self._stop,
                        inbox_sweep,
                        self.inbox_interval,
                        f"inbox {channel.name}",
                        self._inbox_wake[channel.name],
                    )
                )
            )
        if self.run_scheduler:
            self._loops.append(
                asyncio.create_task(self.scheduler.run(self._stop, self.scheduler_interval))
            )

    async def stop(self) -> None:
        """Finish in-flight work: the loops end their sweep, then the channels close."""
        self._stop.set()
        for loop in self._loops:
            await loop
        self._loops.clear()
        await self.drain()
        for task in list(self._tasks):
            task.cancel()
        await self._stop_channels()

    async def _stop_channels(self) -> None:
        for channel in reversed(self._started):
            try:
                await channel.stop()
            except Exception:
                log.exception("stopping the %s channel failed", channel.name)
        self._started.clear()

    async def wait_stopped(self) -> None:
        await self._stop.wait()

    def reload_knowledge(self) -> None:
        task = asyncio.create_task(self.runtime.knowledge.reload())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- the web app ---------------------------------------------------------------------------
    def web_app(self) -> Starlette:
        """Channel webhooks, /healthz, /metrics and, when enabled, the dashboard: one ASGI app."""
        routes: list[BaseRoute] = []
        for channel in self.channels:
            routes.extend(channel.routes())
        routes.append(Route("/healthz", self._healthz, methods=["GET"]))
        routes.append(Route("/metrics", self._metrics, methods=["GET"]))
        if self.dashboard is not None:
            routes.append(Mount("/", app=self.dashboard))
        return Starlette(routes=routes)

    async def _healthz(self, request: Request) -> Response:
        """200 when the database answers and every channel reaches its platform, else 503."""
        checks: dict[str, str] = {}
        try:
            async with self.runtime.sessions() as session:
                await session.exec(text("SELECT 1"))  # type: ignore[call-overload]
            checks["database"] = "ok"
        except Exception as exc:  # noqa: BLE001 - any failure is the answer
            checks["database"] = f"error: {type(exc).__name__}"
        for channel in self.channels:
            try:
                problem = await asyncio.wait_for(channel.check(), timeout=5)
            except Exception as exc:  # noqa: BLE001 - any failure is the answer
                problem = type(exc).__name__
            checks[channel.name] = "ok" if problem is None else f"error: {problem}"
        healthy = all(value == "ok" for value in checks.values())
        return JSONResponse(
            {"status": "ok" if healthy else "error", "checks": checks},
            status_code=200 if healthy else 503,
        )

    async def _metrics(self, request: Request) -> Response:
        await self.metrics.refresh(self.runtime.sessions, self.clock.now())
        body, content_type = self.metrics.render()
        return Response(body, media_type=content_type)

    # ---- running until a signal ----------------------------------------------------------------
    async def run_until_signal(self, listen: tuple[str, int] | None = None) -> int:
        """Serve until SIGINT/SIGTERM (or a channel's request), then finish and stop.

        `listen` (address, port) serves the web app; SIGHUP reloads the knowledge base, keeping
        the old version when the files have problems.
        """
        sock = listening_socket(*listen) if listen is not None else None
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.request_stop)
        with contextlib.suppress(NotImplementedError, AttributeError, RuntimeError):
            loop.add_signal_handler(signal.SIGHUP, self.reload_knowledge)
        try:
            await self.start()
        except BaseException:
            if sock is not None:
                sock.close()
            raise
        heap.settle()
        server: uvicorn.Server | None = None
        serving: asyncio.Task[None] | None = None
        if listen is not None:
            config = uvicorn.Config(
                self.web_app(),
                host=listen[0],
                port=listen[1],
                log_level="warning",
                lifespan="off",
                ws="none",
                log_config=None,
                server_header=False,
            )
            server = uvicorn.Server(config)
            server.install_signal_handlers = lambda: None  # type: ignore[attr-defined]  # ours handle them
            serving = asyncio.create_task(server.serve(sockets=[sock] if sock else None))
            log.info("web app on http://%s:%d", *listen)
        stopped = asyncio.create_task(self.wait_stopped())
        waiting: set[asyncio.Task[Any]] = {stopped} | ({serving} if serving else set())
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        failed = serving is not None and serving.done() and not (server and server.started)
        if server is not None and serving is not None:
            server.should_exit = True
            with contextlib.suppress(SystemExit):
                await serving
        stopped.cancel()
        await self.stop()
        return 1 if failed else 0
