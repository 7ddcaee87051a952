"""The whole stack: real PTB Application, polling a fake Bot API server on 127.0.0.1, real SQLite."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel import select

from bot.clock import FakeClock
from bot.host import Host
from bot.runtime import Runtime, build_runtime
from bot.store.models import (
    Conversation,
    InboxUpdate,
    Message,
    OutboxItem,
    Stakeholder,
    Ticket,
)
from tests.conftest import count, events, make_settings, rows, start_telegram
from tests.fakes.bot_api import FakeBotApi, Request

USER = 424242
TOKEN = "123456:TEST-TOKEN"


async def start_bot(
    tmp_path: Path, bot_api: FakeBotApi, clock: FakeClock, **overrides: Any
) -> tuple[Runtime, Host]:
    """Start csobot on Telegram against the fake server (start-up retries 100× faster);
    `overrides` are further settings."""
    settings = make_settings(
        tmp_path,
        telegram_bot_token=TOKEN,
        telegram_api_base_url=bot_api.base_url,
        telegram_file_base_url=bot_api.file_base_url,
        **overrides,
    )
    runtime = await build_runtime(settings, clock=clock)
    channel = await start_telegram(runtime)
    return runtime, channel


async def stop_bot(runtime: Runtime, channel: Host) -> None:
    await channel.stop()
    await runtime.close()


@pytest.fixture
async def bot(
    tmp_path: Path, bot_api: FakeBotApi, clock: FakeClock
) -> AsyncIterator[tuple[Runtime, Host]]:
    runtime, channel = await start_bot(tmp_path, bot_api, clock)
    yield runtime, channel
    await stop_bot(runtime, channel)


async def say(bot_api: FakeBotApi, text: str, expect: int) -> list[str]:
    """Send text as the stakeholder and wait for `expect` more bot messages; return them."""
    before = len(bot_api.sent("sendMessage", USER))
    bot_api.push_text(USER, text)
    texts = await bot_api.wait_for_messages(USER, before + expect)
    return texts[before:]


async def press(bot_api: FakeBotApi, data: str, expect: int) -> list[str]:
    before = len(bot_api.sent("sendMessage", USER))
    bot_api.push_callback(USER, data)
    texts = await bot_api.wait_for_messages(USER, before + expect)
    return texts[before:]


async def identify(bot_api: FakeBotApi) -> None:
    await say(bot_api, "/start", 2)
    await press(bot_api, "consent:yes", 1)
    await say(bot_api, "Siti Rahmawati", 1)
    await press(bot_api, "role:ppk", 1)
    await say(bot_api, "123456", 1)
    await say(bot_api, "Satker Contoh", 1)
    before = len(bot_api.sent("sendMessage", USER))
    bot_api.push_contact(USER, "081234567890")
    await bot_api.wait_for_messages(USER, before + 2)


async def test_a_stakeholder_from_start_to_resolved(
    bot: tuple[Runtime, Host], bot_api: FakeBotApi
) -> None:
    runtime, _ = bot
    commands = bot_api.sent("setMyCommands")
    assert [c["command"] for c in commands[0].params["commands"]] == [
        "baru",
        "status",
        "profil",
        "pengaduan",
        "hapus_data",
        "batal",
        "bantuan",
        "start",
    ]

    welcome, _notice = await say(bot_api, "/start", 2)
    assert "KPPN Pekalongan" in welcome and "gratis" in welcome
    assert bot_api.sent("sendMessage", USER)[1].params["reply_markup"] == {
        "inline_keyboard": [
            [{"text": "Setuju", "callback_data": "consent:yes"}],
            [{"text": "Tidak setuju", "callback_data": "consent:no"}],
        ]
    }
    assert await count(runtime, Message) == 0  # nothing stored before consent

    (ask_name,) = await press(bot_api, "consent:yes", 1)
    assert "nama lengkap" in ask_name
    assert len(bot_api.sent("answerCallbackQuery")) == 1
    assert len(bot_api.sent("editMessageReplyMarkup")) == 1
    await say(bot_api, "Siti Rahmawati", 1)
    await press(bot_api, "role:ppk", 1)
    await say(bot_api, "123456", 1)
    (_ask_phone,) = await say(bot_api, "Satker Contoh", 1)
    phone_markup = bot_api.sent("sendMessage", USER)[-1].params["reply_markup"]
    assert phone_markup["keyboard"][0][0] == {"text": "Bagikan nomor HP", "request_contact": True}
    before = len(bot_api.sent("sendMessage", USER))
    bot_api.push_contact(USER, "+62 812 3456 7890")
    await bot_api.wait_for_messages(USER, before + 2)
    assert bot_api.sent("sendMessage", USER)[before].params["reply_markup"] == {
        "remove_keyboard": True
    }

    ack, answer = await say(bot_api, "bagaimana cara mengajukan tup?", 2)
    assert "KNS-20261123-0001" in ack
    assert "Pengajuan Tambahan UP (TUP)" in answer and "Dasar hukum" in answer
    assert bot_api.sent("sendChatAction") == []  # a quick answer needs no "typing…"
    assert bot_api.sent("sendMessage", USER)[-1].params["reply_markup"]["inline_keyboard"] == [
        [{"text": "Ya, terjawab", "callback_data": "answer:1:yes"}],
        [{"text": "Belum", "callback_data": "answer:1:no"}],
    ]

    resolved, survey_intro, _first_question = await press(bot_api, "answer:1:yes", 3)
    assert "Resolved" in resolved and "survei kepuasan" in survey_intro
    assert [
        b[0]["text"]
        for b in bot_api.sent("sendMessage", USER)[-1].params["reply_markup"]["inline_keyboard"]
    ] == [
        "1 – Tidak baik",
        "2 – Kurang baik",
        "3 – Baik",
        "4 – Sangat baik",
        "Lewati survei",
    ]

    stakeholder = (await rows(runtime, Stakeholder))[0]
    assert (stakeholder.channel, stakeholder.channel_user_id, stakeholder.phone) == (
        "telegram",
        str(USER),
        "+6281234567890",
    )
    ticket = (await rows(runtime, Ticket))[0]
    assert (ticket.status, ticket.topic_id, ticket.channel) == (
        "resolved",
        "tup-pengajuan",
        "telegram",
    )
    assert await events(runtime, ticket.id) == [
        (None, "asked"),
        ("asked", "answered"),
        ("answered", "resolved"),
    ]
    outbox = await rows(runtime, OutboxItem)
    assert {item.status for item in outbox} == {"sent"}
    assert all(item.platform_message_id for item in outbox)
    stored_out = [m.text for m in await rows(runtime, Message, Message.id) if m.direction == "out"]
    assert stored_out == bot_api.texts(USER)[2:]  # everything after consent, in order


async def test_a_stakeholder_to_the_cso_queue(
    bot: tuple[Runtime, Host], bot_api: FakeBotApi
) -> None:
    runtime, _ = bot
    await identify(bot_api)
    _ack, handoff = await say(
        bot_api, "bagaimana prosedur mutasi pegawai antar kementerian lembaga", 2
    )
    assert "petugas CSO" in handoff and "3 hari kerja" in handoff
    ticket = (await rows(runtime, Ticket))[0]
    assert ticket.status == "queued"
    (status,) = await say(bot_api, "/status", 1)
    assert ticket.number in status and "dalam antrean petugas CSO" in status


async def test_a_restart_during_identification_resumes_where_it_stopped(
    tmp_path: Path, bot_api: FakeBotApi, clock: FakeClock
) -> None:
    runtime, channel = await start_bot(tmp_path, bot_api, clock)
    await say(bot_api, "/start", 2)
    await press(bot_api, "consent:yes", 1)
    await say(bot_api, "Siti Rahmawati", 1)
    await stop_bot(runtime, channel)

    runtime, channel = await start_bot(tmp_path, bot_api, clock)
    try:
        async with runtime.sessions() as session:
            conversation = (await session.exec(select(Conversation))).one()
        assert conversation.step == "identify_role"
        assert conversation.data["draft"] == {"full_name": "Siti Rahmawati"}
        (ask_code,) = await press(bot_api, "role:ppk", 1)
        assert "kode satker" in ask_code
        await say(bot_api, "123456", 1)
        await say(bot_api, "Satker Contoh", 1)
        await say(bot_api, "Lewati", 2)
        stakeholder = (await rows(runtime, Stakeholder))[0]
        assert (stakeholder.full_name, stakeholder.role, stakeholder.satker_code) == (
            "Siti Rahmawati",
            "ppk",
            "123456",
        )
    finally:
        await stop_bot(runtime, channel)


async def test_bad_input_on_telegram(bot: tuple[Runtime, Host], bot_api: FakeBotApi) -> None:
    runtime, _ = bot
    await identify(bot_api)
    for push in (bot_api.push_sticker, bot_api.push_voice, bot_api.push_location):
        before = len(bot_api.sent("sendMessage", USER))
        push(USER)
        texts = await bot_api.wait_for_messages(USER, before + 1)
        assert "belum dapat kami proses" in texts[-1]
    before = len(bot_api.sent("sendMessage", USER))
    bot_api.push_edited(USER, "ralat pesan")
    assert "tidak kami proses" in (await bot_api.wait_for_messages(USER, before + 1))[-1]
    bot_api.push_text(USER, "halo semua", chat_type="supergroup", chat_id=-100777)
    (too_long,) = await say(bot_api, "x" * 4001, 1)
    assert "terlalu panjang" in too_long
    (unknown,) = await say(bot_api, "/tidakada", 1)
    assert "tidak dikenal" in unknown
    (stale,) = await press(bot_api, "role:ppk", 1)
    assert "sudah tidak berlaku" in stale
    assert bot_api.sent("sendMessage", -100777) == []
    assert await count(runtime, Ticket) == 0
    assert (await rows(runtime, Stakeholder))[0].full_name == "Siti Rahmawati"


async def test_failing_courtesy_calls_and_a_slow_start_are_not_fatal(
    tmp_path: Path, bot_api: FakeBotApi, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    bot_api.fail("getMe", 500, times=2)
    bot_api.fail("setMyCommands", 400, description="Bad Request: not supported here")
    bot_api.fail("sendChatAction", 500, times=5)
    bot_api.fail("answerCallbackQuery", 400, times=5, description="Bad Request: query is too old")
    bot_api.fail(
        "editMessageReplyMarkup", 400, times=5, description="Bad Request: message is not modified"
    )
    runtime, channel = await start_bot(tmp_path, bot_api, clock)
    channel.typing_after = 0  # every turn counts as slow: "typing…" is sent (and fails)
    try:
        assert [r.failed for r in bot_api.requests if r.method == "getMe"] == [True, True, False]
        await identify(bot_api)
        _ack, answer = await say(bot_api, "bagaimana cara mengajukan tup?", 2)
        assert "Pengajuan Tambahan UP (TUP)" in answer
        await bot_api.wait_for(lambda: any(r.method == "sendChatAction" for r in bot_api.requests))
        assert [r.params["action"] for r in bot_api.requests if r.method == "sendChatAction"][
            :1
        ] == ["typing"]
        assert "setMyCommands failed (not essential)" in caplog.text
        assert "answerCallbackQuery failed (not essential)" in caplog.text
    finally:
        await stop_bot(runtime, channel)


async def test_rate_limits_and_network_errors_delay_only_that_chat_and_lose_nothing(
    bot: tuple[Runtime, Host], bot_api: FakeBotApi, clock: FakeClock
) -> None:
    runtime, channel = bot
    await identify(bot_api)

    async def postponed() -> list[OutboxItem]:
        async with runtime.sessions() as session:
            query = select(OutboxItem).where(
                OutboxItem.status == "pending", OutboxItem.attempts == 1
            )
            return list((await session.exec(query)).all())

    async def until_postponed() -> None:
        for _ in range(500):
            if await postponed():
                return
            await asyncio.sleep(0.02)
        raise AssertionError("nothing was postponed")

    # A 429 for this chat holds back this chat only: another stakeholder is served meanwhile.
    before = len(bot_api.texts(USER))
    bot_api.fail("sendMessage", 429, retry_after=40)
    bot_api.push_text(USER, "bagaimana cara mengajukan tup?")
    await until_postponed()
    other = USER + 1
    bot_api.push_text(other, "/start")
    await bot_api.wait_for_messages(other, 2, timeout=5)
    assert len(bot_api.texts(USER)) == before
    clock.advance(seconds=41)
    await channel.deliver_due()
    ack, answer = bot_api.texts(USER)[before:]
    assert "KNS-20261123-0001" in ack and "Pengajuan Tambahan UP (TUP)" in answer

    bot_api.fail("sendMessage", 502, times=1, description="Bad Gateway")
    bot_api.push_callback(USER, "answer:1:yes")
    await until_postponed()
    assert len(await postponed()) == 1
    assert "Resolved" not in bot_api.texts(USER)[-1]
    clock.advance(seconds=5)
    await channel.deliver_due()
    texts = bot_api.texts(USER)
    assert "Resolved" in texts[-3] and texts[-1].startswith("(1/2)")  # in order, after the retry
    assert sum("Resolved" in text for text in texts) == 1
    assert {item.status for item in await rows(runtime, OutboxItem)} == {"sent"}


async def test_polling_confirms_an_update_only_once_it_is_stored(
    bot: tuple[Runtime, Host], bot_api: FakeBotApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database is down for a moment: the update stays unconfirmed (no getUpdates moves past
    it) until it is stored, then it is handled once."""
    runtime, host = bot
    store = host.inbox.store
    outage = [OperationalError("INSERT", {}, Exception("database is locked"))] * 3

    async def database_down_for_a_while(*args: Any, **kwargs: Any) -> bool:
        if outage:
            bot_api.requests.append(Request("store-failed", {}))
            raise outage.pop()
        stored = await store(*args, **kwargs)
        bot_api.requests.append(Request("stored", {}))
        return stored

    monkeypatch.setattr(host.inbox, "store", database_down_for_a_while)
    update_id = bot_api.push_text(USER, "/start")
    await bot_api.wait_for_messages(USER, 2)
    await bot_api.wait_for(
        lambda: any(
            int(r.params.get("offset") or 0) == update_id + 1 for r in bot_api.sent("getUpdates")
        )
    )
    methods = [r.method for r in bot_api.requests]
    assert methods.count("store-failed") == 3 and methods.count("stored") == 1, methods
    confirmed = next(
        i
        for i, r in enumerate(bot_api.requests)
        if r.method == "getUpdates" and int(r.params.get("offset") or 0) == update_id + 1
    )
    assert confirmed > methods.index("stored")
    for _ in range(200):  # marked done right after the turn that sent the replies
        statuses = [row.status for row in await rows(runtime, InboxUpdate)]
        if statuses != ["pending"]:
            break
        await asyncio.sleep(0.02)
    assert statuses == ["done"]


async def test_what_people_type_between_questions_on_telegram(
    bot: tuple[Runtime, Host], bot_api: FakeBotApi
) -> None:
    runtime, _ = bot
    await identify(bot_api)
    (greeting,) = await say(bot_api, "selamat pagi pak", 1)
    (vague,) = await say(bot_api, "min mau nanya soal spm", 1)
    assert "Silakan" in greeting and "Silakan" in vague
    assert await rows(runtime, Ticket) == []  # small talk opens no ticket
    _received, answer = await say(bot_api, "bagaimana cara mengajukan tup?", 2)
    assert "sudah terjawab" in answer
    handoff, unclear = await say(bot_api, "blm pak, masih bingung", 2)
    assert "petugas CSO" in handoff and "belum jelas" in unclear
    (ticket,) = await rows(runtime, Ticket)
    assert ticket.status == "queued"  # that ticket went to the CSO; no second one
