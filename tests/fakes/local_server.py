"""A throwaway HTTP server on 127.0.0.1 answering every path with one handler: for what the
fakes do not do (answer late, hang, stand for a proxy or a port nothing listens on any more)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def _nothing(request: web.Request) -> web.Response:
    return web.Response()


@asynccontextmanager
async def local_server(handler: Handler = _nothing) -> AsyncIterator[str]:
    """Yields the server's origin (`http://127.0.0.1:<port>`); the port is closed afterwards."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
