"""Webhook mode (several processes behind a load balancer): updates posted by Telegram, checked
by the secret token header, handled once even when delivered twice."""

from __future__ import annotations

from pathlib import Path

import httpx

from bot.channels.telegram import StartupError, TelegramChannel
from bot.clock import FakeClock
from bot.runtime import build_runtime
from bot.store.models import Message
from tests.conftest import count, make_settings, start_telegram
from tests.fakes.bot_api import FakeBotApi

USER = 515151
SECRET = "rahasia-webhook-123"


async def test_updates_arrive_through_the_webhook(
    tmp_path: Path, bot_api: FakeBotApi, clock: FakeClock
) -> None:
    settings = make_settings(
        tmp_path,
        telegram_bot_token="123456:HOOK",
        telegram_api_base_url=bot_api.base_url,
        telegram_webhook_url="https://cso.example.go.id/telegram",
        telegram_webhook_secret=SECRET,
    )
    runtime = await build_runtime(settings, clock=clock)
    bot_api.fail("setWebhook", 502)  # the Bot API is briefly unavailable at start
    channel = await start_telegram(runtime, webhook=True)
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
            assert accepted.status_code == 200
            assert (
                len(bot_api.sent("sendMessage", USER)) == 2
            )  # welcome and privacy notice, already sent
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
            assert (
                'csobot_updates_total{channel="telegram"} 2.0' in metrics
            )  # the redelivery counts
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
