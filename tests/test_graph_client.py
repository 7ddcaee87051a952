"""The WhatsApp channel's Graph API client over aiohttp, against the fake Graph API (and small
servers standing for a dead port and a proxy): sends, media both ways, and network trouble
classified so the outbox retries it."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from bot.channels.base import TemporaryDeliveryError
from bot.channels.whatsapp import UNREACHABLE, GraphClient, WhatsAppSender
from bot.channels.whatsapp.messages import ChoiceTexts
from bot.messages import Outbound
from bot.settings import Settings
from tests.conftest import make_settings
from tests.fakes.graph_api import FakeGraphApi
from tests.fakes.local_server import local_server

WA_ID = "6281234567890"


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraphApi]:
    api = FakeGraphApi()
    await api.start()
    api._last_inbound[WA_ID] = api.now()  # the stakeholder wrote: the window is open
    yield api
    await api.stop()


def settings_for(tmp_path: Path, graph: FakeGraphApi, base_url: str | None = None) -> Settings:
    return make_settings(
        tmp_path,
        whatsapp_access_token=graph.access_token,
        whatsapp_app_secret=graph.app_secret,
        whatsapp_verify_token="verify",
        whatsapp_phone_number_id=graph.phone_number_id,
        whatsapp_api_base_url=base_url or graph.base_url,
        whatsapp_api_version=graph.version,
    )


def sender_for(client: GraphClient, settings: Settings) -> WhatsAppSender:
    sender = WhatsAppSender(client, settings)
    sender.texts = ChoiceTexts(
        prompt="Silakan pilih:", list_button="Pilih", numbered="Ketik nomornya:\n{options}"
    )
    return sender


async def test_a_text_goes_out_and_a_dropped_connection_is_retried(
    tmp_path: Path, graph: FakeGraphApi
) -> None:
    settings = settings_for(tmp_path, graph)
    client = GraphClient(settings)
    sender = sender_for(client, settings)
    try:
        assert (await client.number())["id"] == graph.phone_number_id
        wamid = await sender.send(WA_ID, Outbound("Sugeng siang, Bu. SP2D sudah terbit."))
        assert wamid.startswith("wamid.")
        graph.drop()  # the connection closes without an answer
        with pytest.raises(TemporaryDeliveryError):
            await sender.send(WA_ID, Outbound("Pesan kedua"))
        await sender.send(WA_ID, Outbound("Pesan kedua"))  # the outbox's next attempt
    finally:
        await client.close()
    assert graph.texts(WA_ID) == ["Sugeng siang, Bu. SP2D sudah terbit.", "Pesan kedua"]


async def test_media_is_uploaded_as_multipart_and_downloaded_with_the_token(
    tmp_path: Path, graph: FakeGraphApi
) -> None:
    client = GraphClient(settings_for(tmp_path, graph))
    content = b"%PDF-1.4 rekap SPM\x00\xff"
    try:
        media_id = await client.upload(content, "rekap.pdf", "application/pdf")
        assert graph.uploaded[media_id] == (content, "application/pdf")
        graph.media["777"] = (b"foto kuitansi", "image/jpeg")
        got, mime, sha256 = await client.download("777", limit=1_000_000)
        assert (got, mime) == (b"foto kuitansi", "image/jpeg")
        assert sha256 == hashlib.sha256(b"foto kuitansi").hexdigest()
        with pytest.raises(ValueError, match="too_large"):
            await client.download("777", limit=5)
    finally:
        await client.close()


async def test_a_dead_port_is_network_trouble_not_a_crash(
    tmp_path: Path, graph: FakeGraphApi
) -> None:
    async with local_server() as origin:
        pass  # after this block nothing listens there: refused
    settings = settings_for(tmp_path, graph, base_url=origin)
    client = GraphClient(settings)
    try:
        with pytest.raises(UNREACHABLE):
            await client.number()
        with pytest.raises(TemporaryDeliveryError):
            await sender_for(client, settings).send(WA_ID, Outbound("halo"))
    finally:
        await client.close()


async def test_goes_through_the_proxy_named_in_the_environment(
    tmp_path: Path, graph: FakeGraphApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, str]] = []

    async def proxy(request: web.Request) -> web.Response:
        seen.append((str(request.url), request.headers.get("Authorization", "")))
        return web.json_response({"id": graph.phone_number_id})

    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    async with local_server(proxy) as origin:
        monkeypatch.setenv("HTTP_PROXY", origin)
        client = GraphClient(settings_for(tmp_path, graph, base_url="http://graph.invalid"))
        try:
            assert (await client.number())["id"] == graph.phone_number_id
        finally:
            await client.close()
    assert seen == [
        (
            f"http://graph.invalid/{graph.version}/{graph.phone_number_id}",
            f"Bearer {graph.access_token}",
        )
    ]
