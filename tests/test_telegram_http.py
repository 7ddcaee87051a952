"""The aiohttp transport under PTB: what PTB's own transport guarantees must still hold.

A real PTB `Bot` talks through `AiohttpRequest` to servers on 127.0.0.1: the fake Bot API, and
small servers that answer late, hang, or pretend to be a proxy.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from io import BytesIO

import pytest
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import NetworkError, TimedOut

from bot.channels.telegram.http import AiohttpRequest
from tests.fakes.bot_api import FakeBotApi
from tests.fakes.local_server import Handler, local_server

TOKEN = "123:abc"


@asynccontextmanager
async def server(handler: Handler) -> AsyncIterator[str]:
    """A local server; yields its base URL for PTB (`…/bot`)."""
    async with local_server(handler) as origin:
        yield f"{origin}/bot"


def me() -> dict[str, object]:
    return {"id": 1, "is_bot": True, "first_name": "csobot", "username": "csobot_test_bot"}


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    api = FakeBotApi()
    await api.start()
    yield api
    await api.stop()


async def test_sends_text_with_buttons_and_reads_the_sent_message(fake: FakeBotApi) -> None:
    bot = Bot(TOKEN, base_url=fake.base_url, request=AiohttpRequest())
    async with bot:
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("Ya", callback_data="ya")]])
        sent = await bot.send_message(chat_id=5, text="Sugeng énjing, Bu 🙏", reply_markup=markup)
    request = fake.sent("sendMessage")[-1]
    assert request.params["text"] == "Sugeng énjing, Bu 🙏"
    assert request.params["chat_id"] == "5"
    assert request.params["reply_markup"] == {
        "inline_keyboard": [[{"text": "Ya", "callback_data": "ya"}]]
    }
    assert sent.message_id == request.params["_result"]["message_id"]
    assert sent.text == "Sugeng énjing, Bu 🙏"


async def test_uploads_a_document_as_multipart() -> None:
    content = b"%PDF-1.4 surat permohonan\x00\xff"
    received: dict[str, object] = {}

    async def upload(request: web.Request) -> web.Response:
        form = await request.post()
        document = form["document"]
        assert isinstance(document, web.FileField)
        received.update(
            caption=form["caption"],
            name=document.filename,
            type=document.content_type,
            content=document.file.read(),
        )
        chat = {"id": 5, "type": "private"}
        return web.json_response(
            {"ok": True, "result": {"message_id": 9, "date": 0, "chat": chat}}
        )

    async with server(upload) as base_url:
        bot = Bot(TOKEN, base_url=base_url, request=AiohttpRequest())
        await bot.request.initialize()
        try:
            sent = await bot.send_document(
                chat_id=5, document=BytesIO(content), filename="spm.pdf", caption="SPM terlampir"
            )
        finally:
            await bot.request.shutdown()
    assert sent.message_id == 9
    assert received == {
        "caption": "SPM terlampir",
        "name": "spm.pdf",
        "type": "application/pdf",
        "content": content,
    }


async def test_downloads_a_file(fake: FakeBotApi) -> None:
    fake.files["f1.pdf"] = b"isi berkas"
    bot = Bot(
        TOKEN,
        base_url=fake.base_url,
        base_file_url=fake.file_base_url,
        request=AiohttpRequest(),
    )
    async with bot:
        assert await bot.request.retrieve(f"{fake.file_base_url}{TOKEN}/documents/f1.pdf") == (
            b"isi berkas"
        )


async def test_a_late_answer_is_a_timeout_and_a_long_poll_is_not_cut_short() -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(0.6)
        if request.path.endswith("/getMe"):
            return web.json_response({"ok": True, "result": me()})
        return web.json_response({"ok": True, "result": []})

    async with server(slow) as base_url:
        request = AiohttpRequest(read_timeout=0.2)
        bot = Bot(TOKEN, base_url=base_url, request=request, get_updates_request=request)
        await request.initialize()
        try:
            with pytest.raises(TimedOut):
                await bot.get_me()
            # getUpdates waits up to its own timeout more than the read timeout, as with httpx.
            assert await bot.get_updates(timeout=1) == ()
        finally:
            await request.shutdown()


async def test_no_free_connection_in_time_is_a_timeout_and_nothing_is_sent() -> None:
    release = asyncio.Event()
    seen: list[str] = []

    async def hanging(request: web.Request) -> web.Response:
        seen.append(request.path)
        await release.wait()
        return web.json_response({"ok": True, "result": me()})

    async with server(hanging) as base_url:
        request = AiohttpRequest(
            connection_pool_size=1, pool_timeout=0.2, connect_timeout=0.2, read_timeout=5
        )
        await request.initialize()
        try:
            first = asyncio.create_task(request.post(f"{base_url}{TOKEN}/getMe"))
            while not seen:
                await asyncio.sleep(0.01)
            started = time.monotonic()
            with pytest.raises(TimedOut, match="not sent"):
                await request.post(f"{base_url}{TOKEN}/getChat")
            assert time.monotonic() - started < 2
            assert seen == ["/bot123:abc/getMe"]  # the second never reached the server
            release.set()
            answer = await first
            assert isinstance(answer, dict) and answer["username"] == "csobot_test_bot"
        finally:
            release.set()
            await request.shutdown()


async def test_a_closed_port_and_a_dropped_connection_are_network_errors(
    fake: FakeBotApi,
) -> None:
    async with local_server() as origin:
        base_url = f"{origin}/bot"  # after this block nothing listens there: refused
    request = AiohttpRequest(connect_timeout=1)
    bot = Bot(TOKEN, base_url=base_url, request=request)
    await request.initialize()
    try:
        with pytest.raises(NetworkError) as refused:
            await bot.get_me()
        assert not isinstance(refused.value, TimedOut)
    finally:
        await request.shutdown()
    fake.fail("sendMessage", 0)  # the fake closes the connection without answering
    bot = Bot(TOKEN, base_url=fake.base_url, request=AiohttpRequest())
    async with bot:
        with pytest.raises(NetworkError):
            await bot.send_message(chat_id=5, text="halo")
        await bot.send_message(chat_id=5, text="halo lagi")  # the next one goes through
    sends = [r for r in fake.requests if r.method == "sendMessage"]
    assert [r.failed for r in sends] == [True, False]


async def test_works_again_after_shutdown(fake: FakeBotApi) -> None:
    request = AiohttpRequest()
    bot = Bot(TOKEN, base_url=fake.base_url, request=request)
    async with bot:
        await bot.send_message(chat_id=5, text="satu")
    with pytest.raises(NetworkError, match="not initialized"):  # PTB wraps the RuntimeError
        await request.post(f"{fake.base_url}{TOKEN}/getMe")
    async with bot:  # PTB initializes its request again
        await bot.send_message(chat_id=5, text="dua")
    assert fake.texts(5) == ["satu", "dua"]


async def test_goes_through_the_proxy_named_in_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Offices often reach the internet only through a proxy (HTTPS_PROXY, HTTP_PROXY)."""
    through: list[str] = []

    async def proxy(request: web.Request) -> web.Response:
        through.append(str(request.url))
        return web.json_response({"ok": True, "result": me()})

    async with server(proxy) as proxy_url:
        monkeypatch.setenv("HTTP_PROXY", proxy_url.removesuffix("/bot"))
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        bot = Bot(TOKEN, base_url="http://api.telegram.invalid/bot", request=AiohttpRequest())
        async with bot:
            assert bot.username == "csobot_test_bot"
    assert through == [f"http://api.telegram.invalid/bot{TOKEN}/getMe"]
