"""The host (bot/host.py): its web app's /healthz and /metrics, messages crossing from one channel
to another (a stakeholder on one, the CSO desk on Telegram), and command arguments arriving the
same from Telegram and the terminal."""

from __future__ import annotations

import asyncio
import hashlib
import io
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import create_async_engine

from bot.addressing import AddressBook
from bot.channels.terminal import TerminalChannel
from bot.clock import FakeClock
from bot.files import store_incoming
from bot.host import Host
from bot.messages import InboundKind, IncomingFile
from bot.runtime import Runtime, build_runtime
from bot.store import db
from bot.store.models import Attachment, Ticket
from tests.conftest import (
    FakeChat,
    RecordingChannel,
    config_for_tests,
    make_settings,
    rows,
    start_telegram,
)
from tests.fakes.bot_api import FakeBotApi
from tests.test_desk_e2e import ANDI, BUDI, GROUP
from tests.test_desk_e2e import start as start_desk
from tests.test_telegram_e2e import TOKEN, USER, identify, say

UNKNOWN_QUESTION = "bagaimana prosedur mutasi pegawai antar kementerian lembaga"


async def get(app: Any, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://csobot") as client:
        return await client.get(path)


class ProblemChannel(RecordingChannel):
    """A channel whose platform cannot be reached: check() says why, or fails outright."""

    def __init__(self, name: str, problem: str | None = None, error: bool = False) -> None:
        super().__init__(name)
        self.problem = problem
        self.error = error

    async def check(self) -> str | None:
        if self.error:
            raise ConnectionResetError("peer went away")
        return self.problem


# ---- /healthz ------------------------------------------------------------------------------


async def test_healthz_is_ok_when_the_database_and_every_channel_answer(chat: FakeChat) -> None:
    response = await get(chat.host.web_app(), "/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "test": "ok"}}


async def test_healthz_names_the_channel_that_cannot_reach_its_platform(
    runtime: Runtime,
) -> None:
    host = Host(
        runtime,
        [
            FakeChat(runtime).channel,
            ProblemChannel("whatsapp", "unreachable"),
            ProblemChannel("sms", error=True),
        ],
    )
    response = await get(host.web_app(), "/healthz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "error",
        "checks": {
            "database": "ok",
            "test": "ok",
            "whatsapp": "error: unreachable",
            "sms": "error: ConnectionResetError",
        },
    }


async def test_healthz_reports_a_database_that_cannot_be_opened(
    runtime: Runtime, chat: FakeChat, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await runtime.db_engine.dispose()
    not_a_folder = tmp_path / "not-a-folder"
    not_a_folder.write_text("a file where the database folder should be")
    broken = create_async_engine(f"sqlite+aiosqlite:///{not_a_folder / 'csobot.db'}")
    monkeypatch.setattr(runtime, "sessions", db.session_factory(broken))
    before = set(threading.enumerate())
    try:
        response = await get(chat.host.web_app(), "/healthz")
    finally:
        await broken.dispose()
        # aiosqlite stops the worker thread of a connection that failed to open by queueing a
        # call whose result it posts back to this loop: let it finish while the loop runs.
        for thread in set(threading.enumerate()) - before:
            if "_connection_worker_thread" in thread.name:
                await asyncio.to_thread(thread.join, 5)
    assert response.status_code == 503
    assert response.json() == {
        "status": "error",
        "checks": {"database": "error: OperationalError", "test": "ok"},
    }


async def test_healthz_reports_a_session_factory_that_fails(
    runtime: Runtime, chat: FakeChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse() -> Any:
        raise ConnectionRefusedError("database server is down")

    monkeypatch.setattr(runtime, "sessions", refuse)
    response = await get(chat.host.web_app(), "/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body == {
        "status": "error",
        "checks": {"database": "error: ConnectionRefusedError", "test": "ok"},
    }
    assert "Traceback" not in response.text


# ---- /metrics ------------------------------------------------------------------------------


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def test_metrics_count_a_conversation(chat: FakeChat) -> None:
    await chat.identify()
    await chat.send("cara mengajukan tup")
    assert (await chat.ticket()).status == "answered"
    updates = chat._sequence  # every inbound event the chat sent
    assert updates >= 8

    response = await get(chat.host.web_app(), "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found = samples(response.text)
    test = (("channel", "test"),)
    assert found[("csobot_updates_total", test)] == updates
    assert found[("csobot_messages_sent_total", test)] == len(chat.sender.delivered)
    assert len(chat.sender.delivered) > updates  # some turns say more than one thing
    assert found[("csobot_turn_seconds_count", test)] == updates
    assert found[("csobot_open_tickets", (("status", "answered"),))] == 1.0
    assert found[("csobot_open_tickets", (("status", "queued"),))] == 0.0
    assert found.get(("csobot_outbox_pending", test), 0.0) == 0.0  # all delivered
    assert 'csobot_open_tickets{status="answered"} 1.0' in response.text


# ---- a stakeholder on one channel, the desk on Telegram ----------------------------------------

DESK_DOCUMENTS = {"accepted_types": ["pdf", "jpg", "png"], "max_size_mb": 1}


@pytest.fixture
async def telegram_desk(
    tmp_path: Path, bot_api: FakeBotApi, clock: FakeClock
) -> AsyncIterator[tuple[Runtime, Host]]:
    config = config_for_tests(
        tmp_path,
        staff=[{"name": "Andi CSO", "role": "cso", "telegram_id": ANDI}],
        desk={"channel": "telegram", "group_id": GROUP, "documents": DESK_DOCUMENTS},
    )
    settings = make_settings(
        tmp_path,
        csobot_config=config,
        telegram_bot_token=TOKEN,
        telegram_api_base_url=bot_api.base_url,
        telegram_file_base_url=bot_api.file_base_url,
    )
    runtime = await build_runtime(settings, clock=clock)
    host = await start_telegram(runtime)
    try:
        yield runtime, host
    finally:
        await host.stop()
        await runtime.close()


async def delivered(host: Host, bot_api: FakeBotApi, predicate: Any) -> None:
    """Sweep the Telegram outbox until the fake Bot API has seen what `predicate` looks for."""

    async def sweep() -> bool:
        await host.deliver_due()
        return bool(predicate())

    async def until() -> None:
        while not await sweep():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(until(), timeout=10)


def in_thread(bot_api: FakeBotApi, method: str, thread: str) -> list[Any]:
    return [
        r for r in bot_api.sent(method, GROUP) if str(r.params.get("message_thread_id")) == thread
    ]


async def test_a_file_from_another_channel_is_uploaded_into_the_desk_topic(
    telegram_desk: tuple[Runtime, Host], bot_api: FakeBotApi
) -> None:
    runtime, telegram = telegram_desk
    stakeholder = FakeChat(runtime)  # the "test" channel; this host does not serve Telegram
    await stakeholder.identify()
    await stakeholder.send(UNKNOWN_QUESTION)
    assert "petugas CSO" in stakeholder.text
    assert bot_api.sent("createForumTopic") == []  # left to the process that serves Telegram

    await delivered(telegram, bot_api, lambda: bot_api.sent("createForumTopic"))
    (topic,) = bot_api.sent("createForumTopic")
    assert topic.params["chat_id"] == str(GROUP)
    assert topic.params["name"].startswith("KNS-20261123-0001")
    await delivered(
        telegram,
        bot_api,
        lambda: any(
            "/ambil" in r.params["text"] for r in in_thread(bot_api, "sendMessage", "500")
        ),
    )
    ticket = await stakeholder.ticket()
    assert (ticket.status, ticket.desk_chat_id, ticket.desk_thread_id) == (
        "queued",
        str(GROUP),
        "500",
    )

    content = b"%PDF-1.4 surat permohonan mutasi"
    stored, digest = store_incoming(runtime.settings.csobot_data_dir, content)
    await stakeholder.send_raw(
        stakeholder._inbound(
            InboundKind.FILE,
            text="",
            platform_message_id="77",
            file=IncomingFile("f1", "surat.pdf", "pdf", len(content), stored, digest),
        )
    )
    assert "Diterima: surat.pdf" in stakeholder.text

    await delivered(telegram, bot_api, lambda: bot_api.sent("sendDocument"))
    (document,) = bot_api.sent("sendDocument")
    assert document.params["chat_id"] == str(GROUP)
    assert document.params["message_thread_id"] == "500"
    assert document.params["_upload"] == ("surat.pdf", content)
    assert "Berkas dari Siti Rahmawati" in document.params["caption"]
    assert bot_api.sent("copyMessage") == []  # a test-channel message cannot be copied

    (attachment,) = await rows(runtime, Attachment)
    assert (attachment.direction, attachment.ticket_id, attachment.file_name) == (
        "in",
        ticket.id,
        "surat.pdf",
    )
    assert (attachment.sha256, attachment.size) == (
        hashlib.sha256(content).hexdigest(),
        len(content),
    )
    assert (runtime.settings.csobot_data_dir / attachment.path).read_bytes() == content


# ---- command arguments ---------------------------------------------------------------------


async def test_a_telegram_command_with_the_bot_mention_and_an_argument(
    tmp_path: Path, bot_api: FakeBotApi, clock: FakeClock
) -> None:
    runtime, host = await start_desk(tmp_path, bot_api, clock, group=None)
    try:
        await identify(bot_api)
        await say(bot_api, UNKNOWN_QUESTION, 2)
        await bot_api.wait_for(lambda: bool(bot_api.sent("sendMessage", ANDI)))
        assert "Ambil dengan /ambil 1" in bot_api.texts(ANDI)[-1]
        before = len(bot_api.texts(USER))
        bot_api.push_text(ANDI, "/ambil@csobot_test_bot 1")
        await bot_api.wait_for(lambda: len(bot_api.texts(USER)) > before)
        assert any("sedang ditangani" in text for text in bot_api.texts(USER)[before:])
        (ticket,) = await rows(runtime, Ticket)
        assert (ticket.status, ticket.assignee) == ("in_progress", "Andi CSO")
        # A colleague's mention form is parsed the same and finds it taken.
        bot_api.push_text(BUDI, "/AMBIL@csobot_test_bot 1")
        await bot_api.wait_for(
            lambda: any("sedang ditangani Andi CSO" in t for t in bot_api.texts(BUDI))
        )
    finally:
        await host.stop()
        await runtime.close()


async def test_terminal_commands_carry_their_arguments(tmp_path: Path, clock: FakeClock) -> None:
    supervisor = {"name": "Eka Supervisor", "role": "supervisor", "terminal_user": "eka"}
    config = config_for_tests(tmp_path, staff=[supervisor])
    settings = make_settings(tmp_path, csobot_config=config)
    runtime = await build_runtime(settings, clock=clock)
    try:
        runtime.engine.addresses = AddressBook(runtime.config, desk_channel="terminal")
        stakeholder = FakeChat(runtime)
        await stakeholder.identify()
        await stakeholder.send(UNKNOWN_QUESTION)
        assert (await stakeholder.ticket()).number == "KNS-20261123-0001"

        output = io.StringIO()
        script = "/transkrip KNS-20261123-0001\n/cari Siti\n/cari Budi\n"
        channel = TerminalChannel(
            user_id="eka", input_stream=io.StringIO(script), output=output, interactive=False
        )
        host = Host(runtime, [channel], scheduler_interval=0.05, outbox_interval=0.05)
        assert await asyncio.wait_for(host.run_until_signal(), timeout=30) == 0
        text = output.getvalue()
        transcript, _, searches = text.partition("Anda: /cari Siti")
        assert "Bot: Transkrip KNS-20261123-0001" in transcript
        assert "[berkas: files/exports/transkrip-KNS-20261123-0001.html di folder data]" in (
            transcript
        )
        exported = settings.csobot_data_dir / "files/exports/transkrip-KNS-20261123-0001.html"
        assert UNKNOWN_QUESTION in exported.read_text(encoding="utf-8")
        found, _, none = searches.partition("Anda: /cari Budi")
        assert "1 tiket cocok" in found and "KNS-20261123-0001" in found
        assert "Tidak ada tiket yang cocok." in none
        assert "tidak dikenal" not in text
    finally:
        await runtime.close()
