"""The fake Graph API must behave like Meta's, or the WhatsApp tests built on it prove nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import web

from tests.fakes.graph_api import FakeGraphApi

USER = "6281234567890"
BSUID = "ID.1234567890123"


class Receiver:
    """A stand-in for the bot's webhook endpoint that keeps every signed body it is sent."""

    def __init__(self) -> None:
        self.bodies: list[tuple[str, bytes]] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/whatsapp", self._receive)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}/whatsapp"

    async def _receive(self, request: web.Request) -> web.Response:
        self.bodies.append((request.headers.get("X-Hub-Signature-256", ""), await request.read()))
        return web.Response(text="ok")

    def statuses(self) -> list[dict[str, Any]]:
        return [
            status
            for _, body in self.bodies
            for entry in json.loads(body)["entry"]
            for change in entry["changes"]
            for status in change["value"].get("statuses", [])
        ]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = Receiver()
    await server.start()
    yield server
    assert server.runner is not None
    await server.runner.cleanup()


@pytest.fixture
async def graph(receiver: Receiver) -> AsyncIterator[FakeGraphApi]:
    fake = FakeGraphApi(webhook_url=receiver.url)
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def client(graph: FakeGraphApi) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {graph.access_token}"}
    async with httpx.AsyncClient(base_url=graph.base_url, headers=headers) as http:
        yield http


def messages_path(graph: FakeGraphApi) -> str:
    return f"/{graph.version}/{graph.phone_number_id}/messages"


def text_body(body: str, to: str = USER) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "text",
        "text": {"body": body},
    }


async def test_a_wrong_token_is_refused_with_oauth_190(graph: FakeGraphApi) -> None:
    async with httpx.AsyncClient(base_url=graph.base_url) as http:
        response = await http.post(
            messages_path(graph),
            json=text_body("halo"),
            headers={"Authorization": "Bearer expired"},
        )
    assert response.status_code == 401
    error = response.json()["error"]
    assert (error["code"], error["type"]) == (190, "OAuthException")
    assert graph.requests[-1].refused and graph.sent() == []


async def test_a_fourth_reply_button_is_refused(
    graph: FakeGraphApi, client: httpx.AsyncClient
) -> None:
    buttons = [
        {"type": "reply", "reply": {"id": f"b{i}", "title": f"Pilihan {i}"}} for i in "1234"
    ]
    body = {
        "messaging_product": "whatsapp",
        "to": USER,
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": "Pilih"},
            "action": {"buttons": buttons},
        },
    }
    response = await client.post(messages_path(graph), json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 131009
    assert error["error_data"]["messaging_product"] == "whatsapp"
    assert graph.sent(USER) == []


async def test_a_free_form_message_outside_the_window_is_accepted_then_fails(
    graph: FakeGraphApi, client: httpx.AsyncClient, receiver: Receiver
) -> None:
    response = await client.post(messages_path(graph), json=text_body("halo"))
    assert response.status_code == 200
    answer = response.json()
    message_id = answer["messages"][0]["id"]
    assert message_id.startswith("wamid.")
    assert answer["contacts"] == [{"input": USER, "wa_id": USER}]

    await graph.flush_statuses()
    signature, body = receiver.bodies[-1]
    expected = hmac.new(graph.app_secret.encode(), body, hashlib.sha256).hexdigest()
    assert signature == f"sha256={expected}"
    [status] = receiver.statuses()
    assert (status["id"], status["status"], status["recipient_id"]) == (message_id, "failed", USER)
    assert status["errors"][0]["code"] == 131047


async def test_a_message_after_the_user_wrote_is_sent_and_delivered(
    graph: FakeGraphApi, client: httpx.AsyncClient, receiver: Receiver
) -> None:
    assert (await graph.post(graph.text(USER, "halo", user_id=BSUID)))[0] == 200
    response = await client.post(messages_path(graph), json=text_body("Selamat pagi"))
    await graph.flush_statuses()
    states = [(s["status"], s.get("recipient_user_id")) for s in receiver.statuses()]
    assert states == [("sent", BSUID), ("delivered", BSUID)]
    assert response.json()["messages"][0]["id"] == receiver.statuses()[0]["id"]
    assert graph.texts(USER) == ["Selamat pagi"]


async def test_a_template_is_delivered_outside_the_window(
    graph: FakeGraphApi, client: httpx.AsyncClient, receiver: Receiver
) -> None:
    body = {
        "messaging_product": "whatsapp",
        "to": USER,
        "type": "template",
        "template": {
            "name": "csobot_pesan_petugas",
            "language": {"code": "id"},
            "components": [
                {"type": "body", "parameters": [{"type": "text", "text": "Berkas diterima"}]},
                {
                    "type": "button",
                    "sub_type": "quick_reply",
                    "index": "0",
                    "parameters": [{"type": "payload", "payload": "reply:42"}],
                },
            ],
        },
    }
    response = await client.post(messages_path(graph), json=body)
    assert response.status_code == 200
    assert response.json()["messages"][0]["message_status"] == "accepted"
    await graph.flush_statuses()
    assert [s["status"] for s in receiver.statuses()] == ["sent", "delivered"]
    assert graph.texts(USER) == ["[csobot_pesan_petugas] Berkas diterima"]
    tap = graph.template_button(USER, "reply:42", "Balas")
    assert (
        tap["entry"][0]["changes"][0]["value"]["messages"][0]["context"]["id"]
        == (response.json()["messages"][0]["id"])
    )

    body["template"]["components"][0]["parameters"] = []  # type: ignore[index]
    refused = await client.post(messages_path(graph), json=body)
    assert refused.json()["error"]["code"] == 132000


async def test_inbound_media_needs_the_token_to_download(
    graph: FakeGraphApi, client: httpx.AsyncClient
) -> None:
    media_id = graph.add_media(b"%PDF-1.7 surat", "application/pdf")
    meta = (await client.get(f"/{graph.version}/{media_id}")).json()
    assert meta["mime_type"] == "application/pdf" and meta["file_size"] == 14
    assert meta["sha256"] == hashlib.sha256(b"%PDF-1.7 surat").hexdigest()
    assert (await client.get(meta["url"])).content == b"%PDF-1.7 surat"
    async with httpx.AsyncClient() as anonymous:
        assert (await anonymous.get(meta["url"])).status_code == 401
    graph.fail_media()
    assert (await client.get(meta["url"])).status_code == 500


async def test_an_uploaded_document_can_be_sent_by_id(
    graph: FakeGraphApi, client: httpx.AsyncClient
) -> None:
    upload = await client.post(
        f"/{graph.version}/{graph.phone_number_id}/media",
        data={"messaging_product": "whatsapp", "type": "application/pdf"},
        files={"file": ("rekap.pdf", b"%PDF-1.7 rekap", "application/pdf")},
    )
    media_id = upload.json()["id"]
    assert graph.uploaded[media_id] == (b"%PDF-1.7 rekap", "application/pdf")
    document = {"id": media_id, "filename": "rekap.pdf", "caption": "Rekap tiket"}
    body = {"messaging_product": "whatsapp", "to": USER, "type": "document", "document": document}
    assert (await client.post(messages_path(graph), json=body)).status_code == 200
    document["id"] = "999"
    assert (await client.post(messages_path(graph), json=body)).status_code == 400
    assert graph.texts(USER) == ["Rekap tiket"]


async def test_injected_throttling_and_a_dropped_connection(
    graph: FakeGraphApi, client: httpx.AsyncClient
) -> None:
    graph.fail(130429)
    throttled = await client.post(messages_path(graph), json=text_body("halo"))
    assert throttled.status_code == 400
    assert throttled.json()["error"]["code"] == 130429
    graph.drop()
    with pytest.raises(httpx.TransportError):
        await client.post(messages_path(graph), json=text_body("halo"))
    assert (await client.post(messages_path(graph), json=text_body("halo"))).status_code == 200
    assert [r.error_code for r in graph.requests] == [130429, None, None]


async def test_a_batch_shares_one_change_and_a_number_change_has_no_contacts(
    graph: FakeGraphApi,
) -> None:
    first = graph.text(USER, "satu", user_id=BSUID)
    second = graph.button_reply("6289876543210", "menu:faq", "FAQ")
    batch = graph.batch(first, second)
    [change] = batch["entry"][0]["changes"]
    assert len(change["value"]["messages"]) == 2 and len(change["value"]["contacts"]) == 2
    assert graph.message_ids(batch) == graph.message_ids(first) + graph.message_ids(second)
    change_number = graph.number_change(
        USER, "6281111111111", old_user_id=BSUID, new_user_id="ID.9"
    )
    system = change_number["entry"][0]["changes"][0]["value"]["messages"][0]
    assert "contacts" not in change_number["entry"][0]["changes"][0]["value"]
    assert system["system"]["wa_id"] == "6281111111111" and system["from_user_id"] == BSUID
