"""The read-only supervision dashboard as a web application, and `csobot serve`.

Supervisors and Kepala Seksi read here what the bot and the CSOs did, without a database client.
Nothing in it changes a ticket. The pages are in pages.py, login and sessions in auth.py; this
module assembles them, adds the headers every response carries, and runs the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Iterator
from typing import ClassVar

import uvicorn
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.host import Host, ListenError
from bot.runtime import Runtime
from bot.web import pages
from bot.web.auth import PasswordHash, PasswordHashError, SessionSigner
from bot.web.settings import WebSettings

log = logging.getLogger(__name__)

EXIT_RUNTIME = 1
EXIT_CONFIG = 2
# No scripts at all; the report's charts are inline PNGs, the templates carry inline styles.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


class SecurityHeaders:
    """Headers for every response: no framing, no scripts, nothing cached, no referrer.

    No caching because these pages hold personal data and are read on shared office computers;
    no referrer so the path of a login link never leaves the site.
    """

    HEADERS: ClassVar[dict[str, str]] = {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for key, value in self.HEADERS.items():
                    headers.setdefault(key, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(
    runtime: Runtime, *, secret: str, password_hash: str | None, session_minutes: int = 60
) -> Starlette:
    """The dashboard as an ASGI application.

    Raises ValueError (PasswordHashError) when `secret` is empty or `password_hash` is malformed,
    so a misconfigured server stops at start rather than refusing everyone later.
    """
    if session_minutes < 1:
        raise ValueError("session_minutes must be at least 1")
    routes = [
        Route("/", pages.ticket_list, methods=["GET"]),
        Route("/tiket/{number}", pages.ticket_transcript, methods=["GET"]),
        Route("/laporan", pages.report_page, methods=["GET"]),
        Route("/laporan.csv", pages.report_csv, methods=["GET"]),
        Route("/masuk/{token}", pages.login_link, methods=["GET"]),
        Route("/login", pages.login, methods=["GET", "POST"]),
        Route("/keluar", pages.logout, methods=["GET"]),
        Route("/sehat", pages.health, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={
            404: pages.not_found,
            405: pages.method_not_allowed,
            500: pages.server_error,
        },
    )
    app.state.dashboard = pages.Dashboard(
        runtime=runtime,
        signer=SessionSigner(secret),
        password=PasswordHash.parse(password_hash) if password_hash else None,
        session_minutes=session_minutes,
    )
    app.add_middleware(SecurityHeaders)
    return app


class RedactLoginTokens(logging.Filter):
    """Access-log lines show `/masuk/…`, never the token itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        if (
            isinstance(record.args, tuple)
            and len(record.args) >= 3
            and isinstance(record.args[2], str)
        ):
            path = record.args[2]
            if path.startswith("/masuk/"):
                record.args = (*record.args[:2], "/masuk/…", *record.args[3:])
        return True


class Server(uvicorn.Server):
    """uvicorn, except that SIGINT and SIGTERM stop it and `serve` returns.

    uvicorn re-raises the signal after its shutdown, which would interrupt the caller while it
    closes the database; like the Telegram channel, we take the signals on the event loop.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        installed = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self.handle_exit, sig, None)
                installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
                pass
        try:
            yield
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)


class DashboardSettingsError(Exception):
    """The dashboard's environment settings are missing or invalid; the message says what to do."""


def dashboard_from_environment(runtime: Runtime) -> Starlette:
    """The dashboard configured by CSOBOT_WEB_* (environment or .env); raises
    DashboardSettingsError with instructions when they are missing or invalid."""
    try:
        settings = WebSettings()
    except ValidationError as exc:
        raise DashboardSettingsError(f"invalid dashboard setting:\n{exc}") from exc
    secret = settings.secret_value()
    if secret is None:
        raise DashboardSettingsError(
            "CSOBOT_WEB_SECRET is not set.\n"
            "  The dashboard signs its session cookies with it. Set a long random value, e.g.\n"
            "    export CSOBOT_WEB_SECRET=\"$(python3 -c 'import secrets; "
            "print(secrets.token_urlsafe(48))')\"\n"
            "  or put CSOBOT_WEB_SECRET=... in the .env file, and run `csobot serve` again."
        )
    try:
        app = create_app(
            runtime,
            secret=secret,
            password_hash=settings.password_hash_value(),
            session_minutes=settings.session_minutes,
        )
    except PasswordHashError as exc:
        raise DashboardSettingsError(
            f"CSOBOT_WEB_PASSWORD_HASH is invalid: {exc}.\n"
            "  Create one with `csobot web hash-password`, or unset it to use login links only."
        ) from exc
    logging.getLogger("uvicorn.access").addFilter(RedactLoginTokens())
    log.info(
        "dashboard enabled (password login %s)", "on" if settings.password_hash_value() else "off"
    )
    return app


def dashboard_if_configured(runtime: Runtime) -> Starlette | None:
    """The dashboard when CSOBOT_WEB_SECRET is set (with a channel's web app), else None."""
    try:
        settings = WebSettings()
    except ValidationError as exc:
        raise DashboardSettingsError(f"invalid dashboard setting:\n{exc}") from exc
    if settings.secret_value() is None:
        return None
    return dashboard_from_environment(runtime)


async def serve(runtime: Runtime, host: str, port: int) -> int:
    """`csobot serve`: the host's web app with the dashboard (and /healthz, /metrics), no
    channels. 0 after a clean stop, 1 if it could not listen, 2 when the web settings are
    missing or invalid."""
    try:
        app = dashboard_from_environment(runtime)
    except DashboardSettingsError as exc:
        print(f"csobot: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        return await Host(runtime, run_scheduler=False, dashboard=app).run_until_signal(
            (host, port)
        )
    except ListenError as exc:
        print(f"csobot: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
