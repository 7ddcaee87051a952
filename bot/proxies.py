"""Which HTTP proxy the environment names for a URL, looked up once per origin.

Offices often reach the internet only through a proxy (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`).
aiohttp can read these itself (`trust_env`), but then reads the environment and `~/.netrc` in a
worker thread on every request: under load that cost more than the request (README
"Performance"). The Bot API and the Graph API are each one or two origins, so one lookup each.
"""

from __future__ import annotations

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from yarl import URL

Proxy = tuple[URL | None, aiohttp.BasicAuth | None]
DIRECT: Proxy = (None, None)


class ProxiesFromEnvironment:
    """`proxy` and `proxy_auth` for aiohttp's `request`, by the URL's origin."""

    def __init__(self) -> None:
        self._by_origin: dict[str, Proxy] = {}

    def for_url(self, url: str) -> Proxy:
        end = url.find("/", url.find("//") + 2)
        origin = url if end < 0 else url[:end]
        proxy = self._by_origin.get(origin)
        if proxy is None:
            try:
                proxy = get_env_proxy_for_url(URL(url))
            except LookupError:  # bypassed (NO_PROXY) or none set for the scheme
                proxy = DIRECT
            self._by_origin[origin] = proxy
        return proxy
