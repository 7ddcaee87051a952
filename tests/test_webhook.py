"""Webhook mode (several processes behind a load balancer): updates posted by Telegram, checked
by the secret token header, handled once even when delivered twice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import OperationalError
from telegram import Update

from bot.channels.telegram import StartupError, TelegramChannel
from bot.clock import FakeClock
from bot.host import Host
from bot.runtime import Runtime, build_runtime
from bot.store.models import InboxUpdate, Message
from tests.conftest import count, make_settings, rows, start_telegram
from tests.fakes.bot_api import BOT_ID, FakeBotApi

USER = 515151
SECRET = "rahasia-webhook-123"


async def test_updates_arrive_through_the_webhook(
    tmp_path: Path, bot_api: FakeBotApi, clock: FakeClock
) -> None:
    bot_api.fail("setWebhook", 502)  # the Bot API is briefly unavailable at start
    runtime, channel = await webhook_bot(tmp_path, bot_api, clock)
    try:
        (hook,) = bot_api.sent("setWebhook")
        assert (hook.params["url"], hook.params["secret_token"]) == (
            "https://cso.example.go.id/telegram",
            SECRET,
        )
        assert bot_api.sent("getUpdates") == []  # no polling in webhook mode
        transport = httpx.ASGITransport(app=channel.web_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://csobot") as client:
            update = bot_api.text_update(USER, "/start")
            refused = await client.post(
                "/telegram", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "salah"}
            )
            assert refused.status_code == 403
            missing = await client.post("/telegram", json=update)
            assert missing.status_code == 403
            assert bot_api.sent("sendMessage", USER) == []
            accepted = await client.post(
                "/telegram", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
            )
            assert accepted.status_code == 200  # stored; handled from the inbox
            await bot_api.wait_for_messages(USER, 2)  # welcome and privacy notice
            again = await client.post(
                "/telegram", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
            )
            assert (
                again.status_code == 200 and len(bot_api.sent("sendMessage", USER)) == 2
            )  # redelivery: once
            broken = await client.post(
                "/telegram", content=b"{", headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
            )
            assert broken.status_code == 400
            health = await client.get("/healthz")
            assert health.status_code == 200
            assert health.json() == {
                "status": "ok",
                "checks": {"database": "ok", "telegram": "ok"},
            }
            metrics = (await client.get("/metrics")).text
            # The redelivery was recognised at the inbox and never handled again.
            assert 'csobot_updates_total{channel="telegram"} 1.0' in metrics
            assert "# TYPE csobot_inbox_updates gauge" in metrics
            assert [row.key for row in await rows(runtime, InboxUpdate)] == [
                f"telegram:{BOT_ID}:{update['update_id']}"
            ]
            assert 'csobot_messages_sent_total{channel="telegram"} 2.0' in metrics
        assert await count(runtime, Message) == 0  # nothing stored before consent
    finally:
        await channel.stop()
        await runtime.close()


async def test_webhook_mode_needs_its_url_and_secret(tmp_path: Path, clock: FakeClock) -> None:
    settings = make_settings(tmp_path, telegram_bot_token="123456:HOOK")
    runtime = await build_runtime(settings, clock=clock)
    try:
        try:
            TelegramChannel(runtime.settings, webhook=True)
        except StartupError as exc:
            assert "TELEGRAM_WEBHOOK_URL and TELEGRAM_WEBHOOK_SECRET" in str(exc)
        else:
            raise AssertionError("webhook mode started without its settings")
    finally:
        await runtime.close()


async def webhook_bot(
    tmp_path: Path, bot_api: FakeBotApi, clock: FakeClock
) -> tuple[Runtime, Host]:
    settings = make_settings(
        tmp_path,
        telegram_bot_token="123456:HOOK",
        telegram_api_base_url=bot_api.base_url,
        telegram_webhook_url="https://cso.example.go.id/telegram",
        telegram_webhook_secret=SECRET,
    )
    runtime = await build_runtime(settings, clock=clock)
    return runtime, await start_telegram(runtime, webhook=True)


async def test_malformed_webhook_bodies_get_4xx_and_nothing_is_stored(
    tmp_path: Path, bot_api: FakeBotApi, clock: FakeClock
) -> None:
    runtime, host = await webhook_bot(tmp_path, bot_api, clock)
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
    deep = b"[" * 100_000 + b"]" * 100_000
    bodies = {
        b"null": 400,
        b"[]": 400,
        b"42": 400,
        b'"teks"': 400,
        b'{"message": {}}': 400,  # no update_id
        b'{"update_id": "7"}': 400,
        b'{"update_id": 7, "message": {"chat": 5}}': 400,  # not something PTB can read
        deep: 400,
        b"{" + b" " * 2_000_000 + b"}": 413,
    }
    try:
        transport = httpx.ASGITransport(app=host.web_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://csobot") as client:
            for body, status in bodies.items():
                response = await client.post("/telegram", content=body, headers=headers)
                assert response.status_code == status, body[:40]
        assert await count(runtime, InboxUpdate) == 0
    finally:
        await host.stop()
        await runtime.close()


async def test_an_update_the_database_cannot_take_is_refused_so_telegram_sends_it_again(
    tmp_path: Path, bot_api: FakeBotApi, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime, host = await webhook_bot(tmp_path, bot_api, clock)
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    update = bot_api.text_update(USER, "/start")
    try:
        transport = httpx.ASGITransport(app=host.web_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://csobot") as client:

            async def database_down(*args: object, **kwargs: object) -> bool:
                raise OperationalError("INSERT", {}, Exception("database is locked"))

            with monkeypatch.context() as patch:
                patch.setattr(host.inbox, "store", database_down)
                refused = await client.post("/telegram", json=update, headers=headers)
            assert refused.status_code == 503
            assert await count(runtime, InboxUpdate) == 0
            assert bot_api.sent("sendMessage", USER) == []
            # Telegram delivers it again once the database is back: handled, once.
            accepted = await client.post("/telegram", json=update, headers=headers)
            assert accepted.status_code == 200
            await bot_api.wait_for_messages(USER, 2)
    finally:
        await host.stop()
        await runtime.close()


async def test_an_update_is_parsed_once_here_and_parsed_when_another_process_stored_it(
    tmp_path: Path, bot_api: FakeBotApi, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The webhook parses an update to check it; processing in the same process reuses that
    parse. One stored by another process (not parsed here) is parsed when processed."""
    parsed: list[int] = []
    parse = Update.de_json.__func__  # type: ignore[attr-defined]

    def counting(cls: type[Update], data: dict[str, Any], bot: Any = None) -> Update:
        parsed.append(data["update_id"])
        return parse(cls, data, bot)  # type: ignore[no-any-return]

    monkeypatch.setattr(Update, "de_json", classmethod(counting))
    runtime, host = await webhook_bot(tmp_path, bot_api, clock)
    try:
        transport = httpx.ASGITransport(app=host.web_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://csobot") as client:
            here = bot_api.text_update(USER, "/start")
            accepted = await client.post(
                "/telegram", json=here, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
            )
            assert accepted.status_code == 200
            await bot_api.wait_for_messages(USER, 2)  # welcome and privacy notice
        assert parsed == [here["update_id"]]
        other = bot_api.text_update(USER + 1, "/start")
        key = f"telegram:{BOT_ID}:{other['update_id']}"
        assert await host.store_update("telegram", key, str(USER + 1), other)
        await bot_api.wait_for_messages(USER + 1, 2)
        assert parsed == [here["update_id"], other["update_id"]]
    finally:
        await host.stop()
        await runtime.close()
