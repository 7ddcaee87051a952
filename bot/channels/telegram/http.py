"""python-telegram-bot's HTTP transport over aiohttp instead of httpx.

Why: under load a send through PTB's default transport (httpx) cost about 1.3 ms of CPU, of
which about 1.1 ms was httpx itself (request and URL models, cookies, auth and redirect layers,
the response stream); through aiohttp, whose HTTP parser, URLs and headers are compiled, the same
`send_message` cost 0.24 ms (README "Performance"). The bot makes two to three Bot API calls per
update, so the transport was the largest single part of its CPU time.

PTB supports exactly this: any `BaseRequest` subclass can carry its requests. PTB's community
collection has an aiohttp one, but it is not published as a package and gives every request a
fixed 15 s total timeout, which would cut the 30 s long polls short; this one keeps PTB's own
timeout semantics (read, write, connect, pool) and its error classes (`TimedOut`,
`NetworkError`), so the outbox's classification of failures and the retries are unchanged.
Proxies come from the environment (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`), as with httpx,
looked up once per host (bot/proxies.py): with aiohttp's own `trust_env` the two thread hand-offs
it makes per request cancelled the whole gain under load.
"""

from __future__ import annotations

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from bot.proxies import ProxiesFromEnvironment


def _sum(*parts: float | None) -> float | None:
    """The bound on a whole request: the sum of its phases' bounds, none if any is unbounded."""
    if any(part is None for part in parts):
        return None
    return sum(part for part in parts if part is not None)


class AiohttpRequest(BaseRequest):
    """A `BaseRequest` for PTB's `Application.builder().request(…)` and `get_updates_request(…)`.

    The timeouts mean what they mean for PTB's `HTTPXRequest`: `pool_timeout` to get a
    connection from the pool, `connect_timeout` to open one, `write_timeout` to send the request,
    `read_timeout` between bytes of the answer. aiohttp bounds waiting for a free connection
    and opening one together, so that wait gets `pool_timeout + connect_timeout`; it has no write
    timeout, so the request as a whole is bounded by the sum of the four.
    """

    __slots__ = (
        "_connect_timeout",
        "_media_write_timeout",
        "_pool_size",
        "_pool_timeout",
        "_proxies",
        "_read_timeout",
        "_session",
        "_write_timeout",
    )

    def __init__(
        self,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        # Made in initialize(): an aiohttp session belongs to the running event loop.
        self._session: aiohttp.ClientSession | None = None
        self._proxies = ProxiesFromEnvironment()

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                headers={"User-Agent": self.USER_AGENT},
                cookie_jar=aiohttp.DummyCookieJar(),  # the Bot API sets none
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    def _timeout(
        self,
        files: bool,
        read: ODVInput[float],
        write: ODVInput[float],
        connect: ODVInput[float],
        pool: ODVInput[float],
    ) -> aiohttp.ClientTimeout:
        read_s = self._read_timeout if isinstance(read, DefaultValue) else read
        default_write = self._media_write_timeout if files else self._write_timeout
        write_s = default_write if isinstance(write, DefaultValue) else write
        connect_s = self._connect_timeout if isinstance(connect, DefaultValue) else connect
        pool_s = self._pool_timeout if isinstance(pool, DefaultValue) else pool
        return aiohttp.ClientTimeout(
            total=_sum(pool_s, connect_s, write_s, read_s),
            connect=_sum(pool_s, connect_s),  # aiohttp's: waiting for the pool and connecting
            sock_connect=connect_s,
            sock_read=read_s,
        )

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data is not None else None
        fields = request_data.json_parameters if request_data is not None else None
        data: aiohttp.FormData | dict[str, str] | None = fields  # form-encoded, as PTB sends
        if files:
            form = aiohttp.FormData(fields or {})
            for name, (filename, content, mime_type) in files.items():
                form.add_field(name, content, filename=filename, content_type=mime_type)
            data = form
        proxy, proxy_auth = self._proxies.for_url(url)
        timeout = self._timeout(
            bool(files), read_timeout, write_timeout, connect_timeout, pool_timeout
        )
        try:
            async with session.request(
                method, url, data=data, timeout=timeout, proxy=proxy, proxy_auth=proxy_auth
            ) as response:
                return response.status, await response.read()
        except aiohttp.ConnectionTimeoutError as exc:
            raise TimedOut(
                "Pool or connect timeout: no connection to the Bot API within the time allowed; "
                "the request was not sent."
            ) from exc
        except TimeoutError as exc:  # aiohttp's socket and total timeouts are TimeoutErrors
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc
