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
import logging
import signal
import time
from collections.abc import Callable, Sequence
from typing import Any

import uvicorn
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from bot.channels.base import Channel
from bot.clock import Clock
from bot.config import Config
from bot.engine import Handled
from bot.messages import Inbound
from bot.metrics import Metrics
from bot.outbox import OutboxDispatcher
from bot.runtime import Runtime
from bot.scheduler import Scheduler
from bot.settings import Settings

log = logging.getLogger(__name__)


class Host:
    """Owns the runtime's loops for the channels it serves (see the module docstring)."""

    def __init__(
        self,
        runtime: Runtime,
        channels: Sequence[Channel] = (),
        *,
        scheduler_interval: float = 30.0,
        outbox_interval: float = 2.0,
        run_scheduler: bool = True,
        dashboard: Starlette | None = None,
    ) -> None:
        self.runtime = runtime
        self.channels = list(channels)
        self.metrics = Metrics()
        self.dispatchers = {
            channel.name: OutboxDispatcher(
                runtime.sessions, channel.sender, runtime.clock, self.metrics
            )
            for channel in self.channels
        }
        self.scheduler = Scheduler(runtime.engine, runtime.sessions, runtime.clock, self.deliver)
        self.scheduler_interval = scheduler_interval
        self.outbox_interval = outbox_interval
        self.run_scheduler = run_scheduler
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
        handled = await self.runtime.engine.handle(inbound, typing)
        self.metrics.observe_turn(inbound.channel, time.perf_counter() - started)
        await self.deliver(handled)

    async def accepts_files(self, inbound: Inbound) -> bool:
        return await self.runtime.engine.accepts_files(inbound)

    def wake(self) -> None:
        self.scheduler.wake()

    def request_stop(self) -> None:
        self._stop.set()

    # ---- delivery ------------------------------------------------------------------------------
    async def deliver(self, handled: Handled) -> None:
        """Send what a turn produced: unstored replies, then each touched chat's outbox in order.
        A chat on a channel this process does not serve is left to a process that does."""
        sender_dispatcher = self.dispatchers.get(handled.channel)
        if sender_dispatcher is not None and handled.unstored:
            await sender_dispatcher.send_unstored(handled.chat_id, handled.unstored)
        for channel, chat_id in handled.chats:
            dispatcher = self.dispatchers.get(channel)
            if dispatcher is not None:
                await dispatcher.deliver_chat(chat_id)

    async def deliver_due(self) -> int:
        """One sweep of every channel's outbox (what could not be delivered at once)."""
        return sum([await dispatcher.deliver_due() for dispatcher in self.dispatchers.values()])

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
        for dispatcher in self.dispatchers.values():
            self._loops.append(
                asyncio.create_task(dispatcher.run(self._stop, self.outbox_interval))
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
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.request_stop)
        with contextlib.suppress(NotImplementedError, AttributeError, RuntimeError):
            loop.add_signal_handler(signal.SIGHUP, self.reload_knowledge)
        await self.start()
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
            serving = asyncio.create_task(server.serve())
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
