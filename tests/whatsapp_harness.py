"""csobot serving WhatsApp (against the fake Graph API) and its desk on Telegram (the fake Bot
API), in one host whose web app listens on 127.0.0.1 so the fake can post signed webhooks."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from bot.channels.telegram import TelegramChannel
from bot.channels.whatsapp import WhatsAppChannel
from bot.clock import FakeClock
from bot.host import Host
from bot.runtime import Runtime, build_runtime
from bot.send_budget import SharedSendBudget
from bot.store.models import InboxUpdate
from tests.conftest import config_for_tests, make_settings, rows
from tests.fakes.bot_api import FakeBotApi
from tests.fakes.graph_api import FakeGraphApi
from tests.test_desk_e2e import DOCUMENTS, GROUP, STAFF
from tests.test_telegram_e2e import TOKEN

WA_ID = "6281234567890"
BSUID = "ID.1234567890123"
VERIFY_TOKEN = "verifikasi-kppn"


@dataclass
class WhatsAppDesk:
    runtime: Runtime
    host: Host
    graph: FakeGraphApi
    bot_api: FakeBotApi
    clock: FakeClock
    url: str

    async def post(self, payload: dict[str, Any] | bytes, **kwargs: Any) -> tuple[int, str]:
        return await self.graph.post(payload, url=self.url, **kwargs)

    async def say(self, text: str, replies: int, *, who: str = WA_ID, **kw: Any) -> list[str]:
        """The stakeholder writes; returns everything they got so far once `replies` more came."""
        before = len(self.graph.sent(who))
        status, _ = await self.post(self.graph.text(who, text, **kw))
        assert status == 200
        return await self.graph.wait_for_messages(who, before + replies)

    async def press(self, data: str, title: str, replies: int, *, who: str = WA_ID) -> list[str]:
        """A reply button or list row that the bot offered (the id must be in a sent body)."""
        before = len(self.graph.sent(who))
        kind = _choice_kind(self.graph.sent(who), data)
        builder = self.graph.list_reply if kind == "list" else self.graph.button_reply
        status, _ = await self.post(builder(who, data, title))
        assert status == 200
        return await self.graph.wait_for_messages(who, before + replies)

    async def identify(self, *, who: str = WA_ID, opt_in: bool = True) -> None:
        """Consent, notifications opt-in, name, role (a list), satker, organisation, phone."""
        await self.say("halo", 2, who=who)
        await self.press("consent:yes", "Setuju", 1, who=who)
        if opt_in:
            await self.press("optin:yes", "Ya, kirimi kabar", 1, who=who)
        else:
            await self.press("optin:no", "Tidak usah", 1, who=who)
        await self.say("Siti Rahmawati", 1, who=who)
        await self.press("role:ppk", "PPK", 1, who=who)
        await self.say("123456", 1, who=who)
        await self.say("Satker Contoh", 1, who=who)
        await self.press("phone:use", "Ya, pakai nomor ini", 2, who=who)

    async def hand_off(self, *, who: str = WA_ID) -> int:
        """A question the bot answers, which the stakeholder says is not solved: a desk topic."""
        texts = await self.say("bagaimana cara mengajukan tup?", 2, who=who)
        assert "Pengajuan Tambahan UP (TUP)" in texts[-1]
        answer = next(b for b in reversed(self.graph.sent(who)) if b.get("type") == "interactive")
        no = answer["interactive"]["action"]["buttons"][1]["reply"]["id"]
        await self.press(no, "Belum", 2, who=who)  # the hand-off; "what is still unclear?"
        await self.bot_api.wait_for(lambda: len(self.bot_api.sent("sendMessage", GROUP)) >= 1)
        return 500  # the fake Bot API's first forum topic

    async def all_processed(self, timeout: float = 10.0) -> None:
        """Every stored webhook item handled, and what it produced delivered."""
        deadline = asyncio.get_running_loop().time() + timeout
        while any(r.status == "pending" for r in await rows(self.runtime, InboxUpdate)):
            assert asyncio.get_running_loop().time() < deadline, "inbox not processed in time"
            await asyncio.sleep(0.02)
        await self.host.drain()

    async def advance_until(self, done: Callable[[], bool], timeout: float = 10.0) -> None:
        """Move the fake clock on in steps until `done`: a retry's backoff is in clock time."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not done():
            assert asyncio.get_running_loop().time() < deadline, "timed out"
            self.clock.advance(seconds=5)
            await asyncio.sleep(0.1)

    def refused(self) -> list[Any]:
        """Message sends the fake refused (a limit broken, a bad parameter); not the failures
        a test injected on purpose, which carry the injected code or status."""
        return [
            r
            for r in self.graph.requests
            if r.refused
            and r.path.endswith("/messages")
            and r.error_code in (100, 131009, 132000, 132001, 132018)
        ]


def _choice_kind(bodies: list[dict[str, Any]], data: str) -> str:
    for body in reversed(bodies):
        interactive = body.get("interactive", {})
        if interactive.get("type") == "list":
            rows = [r for s in interactive["action"]["sections"] for r in s["rows"]]
            if any(r["id"] == data for r in rows):
                return "list"
        if interactive.get("type") == "button":
            return "button"
    return "button"


@asynccontextmanager
async def whatsapp_desk(
    tmp_path: Path,
    bot_api: FakeBotApi,
    clock: FakeClock,
    *,
    token: str | None = None,
    database_url: str | None = None,
    shared_budget: bool = False,
    **config_changes: Any,
) -> AsyncIterator[WhatsAppDesk]:
    graph = FakeGraphApi(now=lambda: clock.now().timestamp())
    await graph.start()
    config = config_for_tests(
        tmp_path,
        staff=STAFF,
        desk={"telegram_group_id": GROUP, "documents": DOCUMENTS},
        **config_changes,
    )
    settings = make_settings(
        tmp_path,
        csobot_config=config,
        telegram_bot_token=TOKEN,
        telegram_api_base_url=bot_api.base_url,
        telegram_file_base_url=bot_api.file_base_url,
        whatsapp_access_token=token or graph.access_token,
        whatsapp_app_secret=graph.app_secret,
        whatsapp_verify_token=VERIFY_TOKEN,
        whatsapp_phone_number_id=graph.phone_number_id,
        whatsapp_api_base_url=graph.base_url,
        whatsapp_api_version=graph.version,
        **({"database_url": database_url} if database_url else {}),
    )
    runtime = await build_runtime(settings, clock=clock)
    budget = SharedSendBudget(runtime.sessions, runtime.clock) if shared_budget else None
    telegram = TelegramChannel(runtime.settings, budget=budget)
    telegram.initial_backoff = 0.01
    whatsapp = WhatsAppChannel(runtime.settings, budget=budget)
    whatsapp.initial_backoff = 0.01
    host = Host(runtime, [telegram, whatsapp], inbox_interval=0.05, outbox_interval=0.05)
    server: uvicorn.Server | None = None
    serving: asyncio.Task[None] | None = None
    try:
        await host.start()
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        server = uvicorn.Server(
            uvicorn.Config(host.web_app(), log_level="warning", lifespan="off", ws="none")
        )
        serving = asyncio.create_task(server.serve(sockets=[listener]))
        while not server.started:
            await asyncio.sleep(0.01)
        url = f"http://127.0.0.1:{port}/whatsapp"
        graph.webhook_url = url
        yield WhatsAppDesk(runtime, host, graph, bot_api, clock, url)
    finally:
        if server is not None and serving is not None:
            server.should_exit = True
            await serving
        await host.stop()
        await runtime.close()
        await graph.stop()
