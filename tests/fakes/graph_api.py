"""A fake WhatsApp Business Cloud API (Meta's Graph API) on 127.0.0.1 for the real HTTP client.

WhatsApp tests cannot reach Meta, yet the adapter must be proven against what Meta really does:
the exact JSON it accepts and answers, the limits it refuses with HTTP 400, the 24-hour
customer-service window (a free-form message outside it is *accepted* and only later reported
`failed` with 131047), signed webhooks that may batch several events, redelivered bodies,
throttling and network failures, and media that needs the access token to download. This server
answers the calls csobot makes, records each one for assertions, and builds webhook bodies shaped
like the examples in Meta's webhook reference, including the business-scoped user id (BSUID)
fields of the 2026 usernames rollout (`user_id`, `from_user_id`, `recipient_user_id`).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import hmac
import itertools
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp
from aiohttp import web

WINDOW_SECONDS = 24 * 60 * 60
TEXT_LIMIT = 4096
INTERACTIVE_BODY_LIMIT = 1024
HEADER_FOOTER_LIMIT = 60
CAPTION_LIMIT = 1024
REPLY_BUTTONS_MAX = 3
BUTTON_TITLE_LIMIT = 20
BUTTON_ID_LIMIT = 256
LIST_BUTTON_LIMIT = 20
LIST_SECTIONS_MAX = 10
LIST_ROWS_MAX = 10
SECTION_TITLE_LIMIT = 24
ROW_TITLE_LIMIT = 24
ROW_DESCRIPTION_LIMIT = 72
ROW_ID_LIMIT = 200
ERROR_CODES_HREF = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"
DEFAULT_TEMPLATES = {
    "csobot_progres_tiket": 5,
    "csobot_pesan_petugas": 1,
    "csobot_tiket_selesai": 2,
}
# Meta's titles for the codes the fake produces; a failed status repeats the title as `message`.
ERROR_TITLES = {
    100: "Invalid parameter",
    190: "Invalid OAuth access token",
    131000: "Something went wrong",
    131008: "Required parameter is missing",
    131009: "Parameter value is not valid",
    131026: "Message undeliverable",
    131047: "Re-engagement message",
    131051: "Message type unknown",
    131056: "(Business Account, Consumer Account) pair rate limit hit",
    130429: "Rate limit hit",
    132000: "Number of parameters does not match the expected number of params",
    132001: "Template name does not exist in the translation",
    132018: "There was an issue with the parameters in your template.",
}
ERROR_DETAILS = {
    131047: (
        "Message failed to send because more than 24 hours have passed since the customer "
        "last replied to this number."
    ),
    131051: "Message type is currently not supported.",
}
SUPPORTED_SEND_TYPES = {"text", "interactive", "template", "image", "document"}
# A parameter of a template body may not contain these (Meta answers 132018).
TEMPLATE_PARAM_FORBIDDEN = re.compile(r"[\n\t]| {5,}")


class Refusal(Exception):
    """A send Meta answers with a Graph error: raised deep in validation, answered at the top."""

    def __init__(self, code: int, details: str, http_status: int = 400) -> None:
        super().__init__(details)
        self.code = code
        self.details = details
        self.http_status = http_status


@dataclass
class RecordedRequest:
    """One call the client made, kept whatever the answer, so tests can count retries."""

    method: str
    path: str
    body: dict[str, Any] | None
    refused: bool = False
    error_code: int | None = None
    http_status: int = 200
    message_id: str | None = None


@dataclass
class Failure:
    """An answer queued by `fail` or `drop`; `code == 0` closes the connection instead."""

    code: int
    http_status: int
    retry_after: float | None = None
    details: str | None = None


@dataclass
class FakeGraphApi:
    phone_number_id: str = "106540352242922"
    waba_id: str = "102290129340398"
    display_phone_number: str = "+62 21 5555 0100"
    verified_name: str = "KPPN Test"
    access_token: str = "test-access-token"
    app_secret: str = "test-app-secret"
    version: str = "v24.0"
    now: Callable[[], float] = time.time
    webhook_url: str | None = None
    templates: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_TEMPLATES))
    auto_statuses: bool = False
    host: str = "127.0.0.1"
    port: int = 0
    requests: list[RecordedRequest] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    uploaded: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    pending_statuses: list[dict[str, Any]] = field(default_factory=list)
    last_message_id: str | None = None
    _media_failures: int = 0
    _last_inbound: dict[str, float] = field(default_factory=dict)
    _user_ids: dict[str, str] = field(default_factory=dict)  # phone digits -> BSUID
    _phones: dict[str, str] = field(default_factory=dict)  # BSUID -> phone digits
    _accepted: dict[str, dict[str, Any]] = field(default_factory=dict)  # wamid -> request body
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _media_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    _runner: web.AppRunner | None = None

    # ---- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/media-download/{media_id}", self._download)
        node = r"/{version:v\d+\.\d+}/{node}"
        app.router.add_post(node + "/messages", self._messages)
        app.router.add_post(node + "/media", self._upload)
        app.router.add_get(node, self._node)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        """Where the client points its Graph base URL; it appends `/{version}/...` itself."""
        return f"http://{self.host}:{self.port}"

    @property
    def business_number(self) -> str:
        """The display number as webhooks carry it: digits only."""
        return _digits(self.display_phone_number)

    # ---- what tests do: failures ---------------------------------------------------------------
    def fail(
        self,
        code: int,
        times: int = 1,
        http_status: int | None = None,
        retry_after: float | None = None,
        details: str | None = None,
    ) -> None:
        """Answer the next `times` message sends with Graph error `code`.

        Meta answers an expired token (190) with 401 and most other errors with 400, so that is
        the default; pass `http_status=500` for a server error. `retry_after` adds a Retry-After
        header, which Meta does not promise, to test that the client honours one when present.
        """
        status = http_status if http_status is not None else (401 if code == 190 else 400)
        self.failures.extend([Failure(code, status, retry_after, details)] * times)

    def drop(self, times: int = 1) -> None:
        """Close the connection on the next `times` message sends without answering."""
        self.failures.extend([Failure(0, 0)] * times)

    def fail_media(self, times: int = 1) -> None:
        """Answer the next `times` media downloads with HTTP 500."""
        self._media_failures += times

    # ---- what tests do: media --------------------------------------------------------------------
    def add_media(self, content: bytes, mime_type: str) -> str:
        """Host a file a user sent; its id goes into an inbound webhook for the bot to fetch."""
        media_id = self._new_media_id()
        self.media[media_id] = (content, mime_type)
        return media_id

    # ---- what tests do: inspection -----------------------------------------------------------
    def sent(self, to: str | None = None) -> list[dict[str, Any]]:
        """Bodies of accepted message sends, optionally only those addressed to `to`."""
        return [
            r.body
            for r in self.requests
            if r.path.endswith("/messages")
            and not r.refused
            and r.body is not None
            and (to is None or _addressed_to(r.body, to))
        ]

    def texts(self, to: str) -> list[str]:
        """What the user would read in each accepted message, in order."""
        return [visible_text(body) for body in self.sent(to)]

    def message_body(self, message_id: str) -> dict[str, Any] | None:
        """The request body that produced the message id the fake answered with."""
        return self._accepted.get(message_id)

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                calls = [(r.method, r.path, r.error_code) for r in self.requests]
                raise AssertionError(f"timed out; requests so far: {calls}")
            await asyncio.sleep(0.02)

    async def wait_for_messages(self, to: str, count: int, timeout: float = 10.0) -> list[str]:
        await self.wait_for(lambda: len(self.sent(to)) >= count, timeout)
        return self.texts(to)

    # ---- what tests do: webhook bodies -----------------------------------------------------------
    def text(
        self,
        wa_id: str | None,
        body: str,
        *,
        user_id: str | None = None,
        name: str = "Siti",
        context_id: str | None = None,
    ) -> dict[str, Any]:
        return self._inbound(
            wa_id, "text", {"body": body}, user_id=user_id, name=name, context_id=context_id
        )

    def button_reply(
        self,
        wa_id: str | None,
        button_id: str,
        title: str,
        *,
        context_id: str | None = None,
        user_id: str | None = None,
        name: str = "Siti",
    ) -> dict[str, Any]:
        """A tap on a reply button; the context defaults to the newest message that showed it."""
        context = context_id or self._sent_with_choice(wa_id, user_id, button_id)
        content = {"type": "button_reply", "button_reply": {"id": button_id, "title": title}}
        return self._inbound(
            wa_id, "interactive", content, user_id=user_id, name=name, context_id=context
        )

    def list_reply(
        self,
        wa_id: str | None,
        row_id: str,
        title: str,
        description: str = "",
        *,
        context_id: str | None = None,
        user_id: str | None = None,
        name: str = "Siti",
    ) -> dict[str, Any]:
        """A choice from a list message; the context defaults like `button_reply`'s."""
        reply = {"id": row_id, "title": title}
        if description:
            reply["description"] = description
        context = context_id or self._sent_with_choice(wa_id, user_id, row_id)
        content = {"type": "list_reply", "list_reply": reply}
        return self._inbound(
            wa_id, "interactive", content, user_id=user_id, name=name, context_id=context
        )

    def template_button(
        self,
        wa_id: str | None,
        payload: str,
        text: str,
        *,
        context_id: str | None = None,
        user_id: str | None = None,
        name: str = "Siti",
    ) -> dict[str, Any]:
        """A tap on a template's quick-reply button (type `button`, not `interactive`)."""
        context = context_id or self._sent_with_choice(wa_id, user_id, payload)
        return self._inbound(
            wa_id,
            "button",
            {"payload": payload, "text": text},
            user_id=user_id,
            name=name,
            context_id=context,
        )

    def image(
        self,
        wa_id: str | None,
        media_id: str,
        caption: str | None = None,
        mime_type: str = "image/jpeg",
        sha256: str | None = None,
        *,
        user_id: str | None = None,
        name: str = "Siti",
    ) -> dict[str, Any]:
        content: dict[str, Any] = {}
        if caption is not None:
            content["caption"] = caption
        content.update(mime_type=mime_type, sha256=sha256 or self._sha256(media_id), id=media_id)
        return self._inbound(wa_id, "image", content, user_id=user_id, name=name)

    def document(
        self,
        wa_id: str | None,
        media_id: str,
        filename: str,
        caption: str | None = None,
        mime_type: str = "application/pdf",
        sha256: str | None = None,
        *,
        user_id: str | None = None,
        name: str = "Siti",
    ) -> dict[str, Any]:
        content: dict[str, Any] = {}
        if caption is not None:
            content["caption"] = caption
        content.update(
            filename=filename,
            mime_type=mime_type,
            sha256=sha256 or self._sha256(media_id),
            id=media_id,
        )
        return self._inbound(wa_id, "document", content, user_id=user_id, name=name)

    def voice(
        self,
        wa_id: str | None,
        media_id: str,
        mime_type: str = "audio/ogg; codecs=opus",
        *,
        user_id: str | None = None,
        name: str = "Siti",
    ) -> dict[str, Any]:
        content = {
            "mime_type": mime_type,
            "sha256": self._sha256(media_id),
            "id": media_id,
            "voice": True,
        }
        return self._inbound(wa_id, "audio", content, user_id=user_id, name=name)

    def sticker(
        self,
        wa_id: str | None,
        media_id: str,
        animated: bool = False,
        *,
        user_id: str | None = None,
        name: str = "Siti",
    ) -> dict[str, Any]:
        content = {
            "mime_type": "image/webp",
            "sha256": self._sha256(media_id),
            "id": media_id,
            "animated": animated,
        }
        return self._inbound(wa_id, "sticker", content, user_id=user_id, name=name)

    def location(
        self,
        wa_id: str | None,
        latitude: float = -6.8915,
        longitude: float = 109.6754,
        place: str | None = None,
        address: str | None = None,
        *,
        user_id: str | None = None,
        name: str = "Siti",
    ) -> dict[str, Any]:
        content: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
        if place is not None:
            content["name"] = place
        if address is not None:
            content["address"] = address
        return self._inbound(wa_id, "location", content, user_id=user_id, name=name)

    def reaction(
        self,
        wa_id: str | None,
        message_id: str,
        emoji: str,
        *,
        user_id: str | None = None,
        name: str = "Siti",
    ) -> dict[str, Any]:
        """A reaction to one of the bot's messages; an empty emoji removes it, as on WhatsApp."""
        content = {"message_id": message_id, "emoji": emoji}
        return self._inbound(wa_id, "reaction", content, user_id=user_id, name=name)

    def unsupported(
        self,
        wa_id: str | None,
        unsupported_type: str = "unknown",
        *,
        user_id: str | None = None,
        name: str = "Siti",
    ) -> dict[str, Any]:
        envelope = self._inbound(
            wa_id, "unsupported", {"type": unsupported_type}, user_id=user_id, name=name
        )
        message = _change_value(envelope)["messages"][0]
        message["errors"] = [_error_object(131051)]
        return envelope

    def number_change(
        self,
        old_wa_id: str,
        new_wa_id: str,
        *,
        old_user_id: str | None = None,
        new_user_id: str | None = None,
        name: str = "Siti",
    ) -> dict[str, Any]:
        """The system message for a user who moved to a new number (no `contacts`, as Meta).

        Since v12 the new number is `system.wa_id` (the older `new_wa_id` is gone). A number
        change regenerates the BSUID: the new one is `system.user_id` and the one it replaces
        `system.previous_user_id`, while `from`/`from_user_id` still name the old identity.
        """
        system: dict[str, Any] = {
            "body": f"User {name} changed from {old_wa_id} to {new_wa_id}",
            "wa_id": new_wa_id,
            "type": "user_changed_number",
        }
        if new_user_id is not None:
            system["user_id"] = new_user_id
        if old_user_id is not None:
            system["previous_user_id"] = old_user_id
        message: dict[str, Any] = {"from": old_wa_id}
        if old_user_id is not None:
            message["from_user_id"] = old_user_id
        message.update(
            id=self._new_wamid(),
            timestamp=self._timestamp(),
            type="system",
            system=system,
        )
        self.last_message_id = message["id"]
        if new_user_id is not None:
            self._link(new_wa_id, new_user_id)
        return self._envelope({"messages": [message]})

    def status(
        self,
        message_id: str,
        recipient: str,
        status: Literal["sent", "delivered", "read", "failed"],
        *,
        error_code: int | None = None,
        category: str = "service",
    ) -> dict[str, Any]:
        """A status webhook for a message the bot sent to `recipient` (number or BSUID).

        Sent, delivered and read statuses name the recipient by number (`recipient_id`) and by
        BSUID (`recipient_user_id`) when the fake knows them, plus a `contacts` entry; a failed
        one carries `errors`, no `contacts`, and no `recipient_user_id` when sent to a number.
        """
        phone, user_id = self._identity(recipient)
        entry: dict[str, Any] = {
            "id": message_id,
            "status": status,
            "timestamp": self._timestamp(),
        }
        if phone is not None:
            entry["recipient_id"] = phone
        sent_to_bsuid = phone is None or recipient == user_id
        if user_id is not None and (status != "failed" or sent_to_bsuid):
            entry["recipient_user_id"] = user_id
        value: dict[str, Any] = {"statuses": [entry]}
        if status == "failed":
            entry["errors"] = [_error_object(error_code or 131026)]
        else:
            free = category == "service"
            entry["pricing"] = {
                "billable": not free,
                "pricing_model": "PMP",
                "category": category,
                "type": "free_customer_service" if free else "regular",
            }
            if user_id is not None:
                contact: dict[str, Any] = {}
                if phone is not None:
                    contact["wa_id"] = phone
                contact["user_id"] = user_id
                value = {"contacts": [contact], **value}
        return self._envelope(value)

    def batch(self, *envelopes: dict[str, Any], one_change: bool = True) -> dict[str, Any]:
        """Several events in one POST body, as Meta sends them under load.

        With `one_change`, every message (and every status) shares a single change whose
        `contacts` lists each user once; otherwise each event keeps its own entry.
        """
        if not one_change:
            entries = [e for envelope in envelopes for e in copy.deepcopy(envelope["entry"])]
            return {"object": "whatsapp_business_account", "entry": entries}
        messages: dict[str, Any] = {"contacts": [], "messages": []}
        statuses: dict[str, Any] = {"contacts": [], "statuses": []}
        for envelope in envelopes:
            for entry in envelope["entry"]:
                for change in entry["changes"]:
                    value = copy.deepcopy(change["value"])
                    target = statuses if "statuses" in value else messages
                    for contact in value.get("contacts", []):
                        if contact not in target["contacts"]:
                            target["contacts"].append(contact)
                    key = "statuses" if "statuses" in value else "messages"
                    target[key].extend(value.get(key, []))
        changes = []
        for value in (messages, statuses):
            key = "statuses" if value is statuses else "messages"
            if value[key]:
                if not value["contacts"]:
                    del value["contacts"]
                changes.append({"value": {**self._value_head(), **value}, "field": "messages"})
        return {
            "object": "whatsapp_business_account",
            "entry": [{"id": self.waba_id, "changes": changes}],
        }

    @staticmethod
    def message_ids(payload: dict[str, Any]) -> list[str]:
        """Ids of the user messages in a webhook body (to react to, or to check dedup)."""
        return [
            message["id"]
            for entry in payload.get("entry", [])
            for change in entry.get("changes", [])
            for message in change.get("value", {}).get("messages", [])
        ]

    # ---- what tests do: delivering webhooks ------------------------------------------------------
    def sign(self, body: bytes) -> str:
        """The X-Hub-Signature-256 value Meta computes over the raw body with the app secret."""
        digest = hmac.new(self.app_secret.encode(), body, hashlib.sha256).hexdigest()
        return f"sha256={digest}"

    async def post(
        self,
        payload: dict[str, Any] | bytes,
        *,
        signature: Literal["valid", "missing", "wrong"] = "valid",
        url: str | None = None,
    ) -> tuple[int, str]:
        """POST a webhook body to the bot; a 200 opens each sender's 24-hour window."""
        target = url or self.webhook_url
        if target is None:
            raise RuntimeError("no webhook_url to post to")
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "facebookexternalua"}
        if signature == "valid":
            headers["X-Hub-Signature-256"] = self.sign(body)
        elif signature == "wrong":
            headers["X-Hub-Signature-256"] = "sha256=" + "0" * 64
        async with (
            aiohttp.ClientSession() as session,
            session.post(target, data=body, headers=headers) as response,
        ):
            status, text = response.status, await response.text()
        if status == 200:
            self._open_windows(body)
        return status, text

    async def verify(
        self,
        url: str | None = None,
        mode: str = "subscribe",
        token: str = "",
        challenge: str = "1158201444",
    ) -> tuple[int, str]:
        """Meta's GET handshake when a webhook URL is configured."""
        target = url or self.webhook_url
        if target is None:
            raise RuntimeError("no webhook_url to verify")
        params = {"hub.mode": mode, "hub.verify_token": token, "hub.challenge": challenge}
        async with (
            aiohttp.ClientSession() as session,
            session.get(target, params=params) as response,
        ):
            return response.status, await response.text()

    async def flush_statuses(self) -> list[tuple[int, str]]:
        """Post every queued status webhook, one body each, as Meta delivers them."""
        answers = []
        while self.pending_statuses:
            answers.append(await self.post(self.pending_statuses.pop(0)))
        return answers

    # ---- server side: messages -------------------------------------------------------------------
    async def _messages(self, request: web.Request) -> web.StreamResponse:
        record = RecordedRequest(request.method, request.path, None)
        self.requests.append(record)
        try:
            self._authorise(request)
            self._own_number(request)
            try:
                body = await request.json()
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise Refusal(100, "The request body is not valid JSON.") from None
            if not isinstance(body, dict):
                raise Refusal(100, "The request body must be a JSON object.")
            record.body = body
            if self.failures:
                failure = self.failures.pop(0)
                if failure.code == 0:
                    record.refused, record.http_status = True, 0
                    assert request.transport is not None
                    request.transport.close()
                    return web.Response(status=500)
                return self._refuse(
                    record, failure.code, failure.details, failure.http_status, failure.retry_after
                )
            self._validate(body)
        except Refusal as refusal:
            return self._refuse(record, refusal.code, refusal.details, refusal.http_status)
        return self._accept(record, body)

    def _accept(self, record: RecordedRequest, body: dict[str, Any]) -> web.Response:
        message_id = self._new_wamid()
        record.message_id = message_id
        self._accepted[message_id] = body
        to = body.get("to")
        recipient = _digits(to) if to else str(body["recipient"])
        template = body.get("type") == "template"
        if template or self._in_window(recipient):
            category = "utility" if template else "service"
            states: tuple[Literal["sent", "delivered"], ...] = ("sent", "delivered")
            for state in states:
                status = self.status(message_id, recipient, state, category=category)
                self.pending_statuses.append(status)
        else:
            self.pending_statuses.append(
                self.status(message_id, recipient, "failed", error_code=131047)
            )
        contact: dict[str, Any] = {"input": to if to else body["recipient"]}
        if to:
            contact["wa_id"] = _digits(to)
        else:
            contact["user_id"] = body["recipient"]
        sent: dict[str, Any] = {"id": message_id}
        if template:
            sent["message_status"] = "accepted"
        if self.auto_statuses and self.webhook_url is not None:
            task = asyncio.get_running_loop().create_task(self._flush_soon())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return web.json_response(
            {"messaging_product": "whatsapp", "contacts": [contact], "messages": [sent]}
        )

    async def _flush_soon(self) -> None:
        await asyncio.sleep(0.01)  # let the send's answer reach the client first
        await self.flush_statuses()

    def _refuse(
        self,
        record: RecordedRequest,
        code: int,
        details: str | None,
        http_status: int = 400,
        retry_after: float | None = None,
    ) -> web.Response:
        record.refused, record.error_code, record.http_status = True, code, http_status
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        return web.json_response(_graph_error(code, details), status=http_status, headers=headers)

    def _validate(self, body: dict[str, Any]) -> None:
        if body.get("messaging_product") != "whatsapp":
            raise Refusal(100, "The parameter messaging_product is required.")
        if not body.get("to") and not body.get("recipient"):
            raise Refusal(100, "The parameter to is required.")
        kind = body.get("type", "text")
        if kind not in SUPPORTED_SEND_TYPES:
            raise Refusal(100, f"Param type '{kind}' is not a message type this fake accepts.")
        content = body.get(kind)
        if not isinstance(content, dict):
            raise Refusal(131008, f"The parameter {kind} is required.")
        if kind == "text":
            _text(content.get("body"), "text['body']", TEXT_LIMIT)
        elif kind == "interactive":
            self._validate_interactive(content)
        elif kind == "template":
            self._validate_template(content)
        else:
            self._validate_media(kind, content)

    def _validate_interactive(self, interactive: dict[str, Any]) -> None:
        body = interactive.get("body")
        _text(
            body.get("text") if isinstance(body, dict) else None,
            "body.text",
            INTERACTIVE_BODY_LIMIT,
        )
        header = interactive.get("header")
        if isinstance(header, dict) and header.get("type", "text") == "text":
            _text(header.get("text"), "header.text", HEADER_FOOTER_LIMIT)
        footer = interactive.get("footer")
        if footer is not None:
            text = footer.get("text") if isinstance(footer, dict) else None
            _text(text, "footer.text", HEADER_FOOTER_LIMIT)
        action = interactive.get("action")
        if not isinstance(action, dict):
            raise Refusal(131008, "The parameter interactive['action'] is required.")
        kind = interactive.get("type")
        if kind == "button":
            _validate_buttons(action.get("buttons"))
        elif kind == "list":
            _validate_list(action)
        else:
            raise Refusal(131009, f"Interactive type '{kind}' is not button or list.")

    def _validate_template(self, template: dict[str, Any]) -> None:
        name = template.get("name")
        language = template.get("language")
        if not isinstance(language, dict) or not language.get("code"):
            raise Refusal(131008, "The parameter template['language']['code'] is required.")
        if name not in self.templates:
            raise Refusal(132001, f"template name ({name}) does not exist in {language['code']}")
        body_params: list[Any] = []
        for component in template.get("components", []):
            if component.get("type") == "body":
                body_params = list(component.get("parameters", []))
            elif component.get("type") == "button" and component.get("sub_type") == "quick_reply":
                payloads = [p for p in component.get("parameters", []) if p.get("payload")]
                if not payloads:
                    raise Refusal(131008, "A quick_reply button parameter needs a payload.")
        expected = self.templates[str(name)]
        if len(body_params) != expected:
            raise Refusal(
                132000,
                f"body: number of localizable_params ({len(body_params)}) does not match "
                f"the expected number of params ({expected})",
            )
        for parameter in body_params:
            text = parameter.get("text") if parameter.get("type") == "text" else None
            if not text:
                raise Refusal(131008, "Template body parameters need a non-empty text.")
            if TEMPLATE_PARAM_FORBIDDEN.search(str(text)):
                raise Refusal(
                    132018,
                    "Param text cannot have new-line/tab characters or more than 4 "
                    "consecutive spaces",
                )

    def _validate_media(self, kind: str, content: dict[str, Any]) -> None:
        media_id, link = content.get("id"), content.get("link")
        if not media_id and not link:
            raise Refusal(131008, f"The parameter {kind}['id'] or {kind}['link'] is required.")
        if media_id and media_id not in self.uploaded and media_id not in self.media:
            raise Refusal(131009, f"Param {kind}['id'] is not a valid media id.")
        if "caption" in content:
            _text(content["caption"], f"{kind}['caption']", CAPTION_LIMIT)

    # ---- server side: media and the phone number --------------------------------------------------
    async def _upload(self, request: web.Request) -> web.Response:
        record = RecordedRequest(request.method, request.path, None)
        self.requests.append(record)
        try:
            self._authorise(request)
            self._own_number(request)
            form = await request.post()
            record.body = {k: v for k, v in form.items() if isinstance(v, str)}
            if form.get("messaging_product") != "whatsapp":
                raise Refusal(100, "The parameter messaging_product is required.")
            upload = form.get("file")
            if not isinstance(upload, web.FileField):
                raise Refusal(100, "The parameter file is required.")
            mime = str(form.get("type") or upload.content_type)
            content = upload.file.read()
        except Refusal as refusal:
            return self._refuse(record, refusal.code, refusal.details, refusal.http_status)
        media_id = self._new_media_id()
        self.uploaded[media_id] = (content, mime)
        return web.json_response({"id": media_id})

    async def _node(self, request: web.Request) -> web.Response:
        record = RecordedRequest(request.method, request.path, None)
        self.requests.append(record)
        node = request.match_info["node"]
        try:
            self._authorise(request)
            if node == self.phone_number_id:
                return web.json_response(
                    {
                        "verified_name": self.verified_name,
                        "display_phone_number": self.display_phone_number,
                        "quality_rating": "GREEN",
                        "id": self.phone_number_id,
                    }
                )
            stored = self.media.get(node) or self.uploaded.get(node)
            if stored is None:
                raise Refusal(100, _missing_object(node, "get"))
        except Refusal as refusal:
            return self._refuse(record, refusal.code, refusal.details, refusal.http_status)
        content, mime = stored
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "url": f"{self.base_url}/media-download/{node}?mid={node}&hash={_sha(content)}",
                "mime_type": mime,
                "sha256": _sha(content),
                "file_size": len(content),
                "id": node,
            }
        )

    async def _download(self, request: web.Request) -> web.Response:
        media_id = request.match_info["media_id"]
        record = RecordedRequest(request.method, request.path, None)
        self.requests.append(record)
        if request.headers.get("Authorization") != f"Bearer {self.access_token}":
            record.refused, record.http_status = True, 401
            return web.Response(status=401, text="Unauthorized")
        if self._media_failures:
            self._media_failures -= 1
            record.refused, record.http_status = True, 500
            return web.Response(status=500, text="Internal Server Error")
        stored = self.media.get(media_id) or self.uploaded.get(media_id)
        if stored is None:
            record.refused, record.http_status = True, 404
            return web.Response(status=404)
        return web.Response(body=stored[0], content_type=stored[1].split(";")[0])

    def _authorise(self, request: web.Request) -> None:
        if request.headers.get("Authorization") != f"Bearer {self.access_token}":
            raise Refusal(190, "Error validating access token.", http_status=401)

    def _own_number(self, request: web.Request) -> None:
        node = request.match_info["node"]
        if node != self.phone_number_id:
            raise Refusal(100, _missing_object(node, "post"))

    # ---- helpers -----------------------------------------------------------------------------------
    def _inbound(
        self,
        wa_id: str | None,
        kind: str,
        content: dict[str, Any],
        *,
        user_id: str | None,
        name: str,
        context_id: str | None = None,
    ) -> dict[str, Any]:
        if wa_id is None and user_id is None:
            raise ValueError("a user needs a phone number, a BSUID or both")
        contact: dict[str, Any] = {"profile": {"name": name}}
        if wa_id is not None:
            contact["wa_id"] = wa_id
        if user_id is not None:
            contact["user_id"] = user_id
        message: dict[str, Any] = {}
        if context_id is not None:
            message["context"] = {"from": self.business_number, "id": context_id}
        if wa_id is not None:
            message["from"] = wa_id
        if user_id is not None:
            message["from_user_id"] = user_id
        message.update(id=self._new_wamid(), timestamp=self._timestamp(), type=kind)
        message[kind] = content
        self.last_message_id = message["id"]
        if wa_id is not None and user_id is not None:
            self._link(wa_id, user_id)
        return self._envelope({"contacts": [contact], "messages": [message]})

    def _envelope(self, value: dict[str, Any]) -> dict[str, Any]:
        return {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": self.waba_id,
                    "changes": [{"value": {**self._value_head(), **value}, "field": "messages"}],
                }
            ],
        }

    def _value_head(self) -> dict[str, Any]:
        return {
            "messaging_product": "whatsapp",
            "metadata": {
                "display_phone_number": self.business_number,
                "phone_number_id": self.phone_number_id,
            },
        }

    def _open_windows(self, body: bytes) -> None:
        try:
            payload = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return
        if not isinstance(payload, dict):
            return
        for entry in payload.get("entry", []):
            for change in entry.get("changes", []):
                value = change.get("value", {})
                for contact in value.get("contacts", []):
                    if contact.get("wa_id") and contact.get("user_id"):
                        self._link(contact["wa_id"], contact["user_id"])
                for message in value.get("messages", []):
                    if message.get("type") == "system":  # not a customer message
                        continue
                    for key in ("from", "from_user_id"):
                        if message.get(key):
                            self._last_inbound[str(message[key])] = self.now()

    def _in_window(self, recipient: str) -> bool:
        phone, user_id = self._identity(recipient)
        times = [self._last_inbound[k] for k in (phone, user_id) if k in self._last_inbound]
        return bool(times) and self.now() - max(times) <= WINDOW_SECONDS

    def _identity(self, recipient: str) -> tuple[str | None, str | None]:
        """(phone digits, BSUID) for a number or BSUID, as far as the fake has seen them."""
        if _is_bsuid(recipient):
            return self._phones.get(recipient), recipient
        phone = _digits(recipient)
        return phone, self._user_ids.get(phone)

    def _link(self, wa_id: str, user_id: str) -> None:
        self._user_ids[_digits(wa_id)] = user_id
        self._phones[user_id] = _digits(wa_id)

    def _sent_with_choice(self, wa_id: str | None, user_id: str | None, choice: str) -> str:
        """The newest accepted message to this user offering `choice`, else a stranger's id."""
        for record in reversed(self.requests):
            body = record.body
            if record.refused or record.message_id is None or body is None:
                continue
            mine = (wa_id is not None and _addressed_to(body, wa_id)) or (
                user_id is not None and _addressed_to(body, user_id)
            )
            if mine and choice in _choices(body):
                return record.message_id
        return self._new_wamid()

    def _sha256(self, media_id: str) -> str:
        stored = self.media.get(media_id) or self.uploaded.get(media_id)
        return _sha(stored[0] if stored else media_id.encode())

    def _new_wamid(self) -> str:
        raw = f"{self.business_number}:{next(self._counter)}:{secrets.token_hex(8)}".encode()
        return "wamid." + base64.b64encode(raw).decode()

    def _new_media_id(self) -> str:
        return str(1_000_000_000_000_000 + next(self._media_ids))

    def _timestamp(self) -> str:
        return str(int(self.now()))


def visible_text(body: dict[str, Any]) -> str:
    """What a user reads: the text, the interactive body, a template's name and parameters, or
    a caption."""
    kind = body.get("type", "text")
    content = body.get(kind) or {}
    if kind == "text":
        return str(content.get("body", ""))
    if kind == "interactive":
        return str((content.get("body") or {}).get("text", ""))
    if kind == "template":
        params = [
            str(p.get("text", ""))
            for component in content.get("components", [])
            if component.get("type") == "body"
            for p in component.get("parameters", [])
        ]
        return f"[{content.get('name')}] " + " | ".join(params)
    return str(content.get("caption", ""))


def _choices(body: dict[str, Any]) -> set[str]:
    """The button ids, row ids and quick-reply payloads a sent message offers."""
    content = body.get(body.get("type", "text")) or {}
    action = content.get("action") or {}
    found = {b.get("reply", {}).get("id") for b in action.get("buttons", [])}
    found |= {r.get("id") for s in action.get("sections", []) for r in s.get("rows", [])}
    for component in content.get("components", []):
        if component.get("type") == "button":
            found |= {p.get("payload") for p in component.get("parameters", [])}
    return {str(choice) for choice in found if choice}


def _validate_buttons(buttons: Any) -> None:
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= REPLY_BUTTONS_MAX:
        raise Refusal(131009, "Interactive reply buttons must be between 1 and 3.")
    titles, ids = set(), set()
    for button in buttons:
        reply = button.get("reply") if isinstance(button, dict) else None
        if not isinstance(reply, dict) or button.get("type") != "reply":
            raise Refusal(131009, "Each button must be of type reply with a reply object.")
        _text(reply.get("id"), "buttons[].reply.id", BUTTON_ID_LIMIT)
        _text(reply.get("title"), "buttons[].reply.title", BUTTON_TITLE_LIMIT)
        titles.add(reply["title"])
        ids.add(reply["id"])
    if len(titles) != len(buttons):
        raise Refusal(131009, "Button title must be unique.")
    if len(ids) != len(buttons):
        raise Refusal(131009, "Button id must be unique.")


def _validate_list(action: dict[str, Any]) -> None:
    _text(action.get("button"), "action.button", LIST_BUTTON_LIMIT)
    sections = action.get("sections")
    if not isinstance(sections, list) or not 1 <= len(sections) <= LIST_SECTIONS_MAX:
        raise Refusal(131009, "A list message needs between 1 and 10 sections.")
    rows = [row for section in sections for row in section.get("rows", [])]
    if not 1 <= len(rows) <= LIST_ROWS_MAX:
        raise Refusal(131009, "Total row count exceed max allowed count: 10")
    for section in sections:
        if len(sections) > 1 or "title" in section:
            _text(section.get("title"), "sections[].title", SECTION_TITLE_LIMIT)
    for row in rows:
        _text(row.get("id"), "rows[].id", ROW_ID_LIMIT)
        _text(row.get("title"), "rows[].title", ROW_TITLE_LIMIT)
        if "description" in row:
            _text(row["description"], "rows[].description", ROW_DESCRIPTION_LIMIT, empty=True)
    if len({row["id"] for row in rows}) != len(rows):
        raise Refusal(131009, "Row id must be unique.")


def _text(value: Any, param: str, limit: int, *, empty: bool = False) -> None:
    if not isinstance(value, str) or (not value and not empty):
        raise Refusal(131008, f"The parameter {param} is required.")
    if len(value) > limit:
        raise Refusal(100, f"Param {param} must be at most {limit} characters long.")


def _graph_error(code: int, details: str | None) -> dict[str, Any]:
    """Graph's error body; an OAuth failure (190) has no WhatsApp `error_data`."""
    if code == 190:
        return {
            "error": {
                "message": f"Error validating access token: {details or 'invalid token'}",
                "type": "OAuthException",
                "code": 190,
                "fbtrace_id": "A" + secrets.token_urlsafe(16),
            }
        }
    title = ERROR_TITLES.get(code, "Injected failure")
    return {
        "error": {
            "message": f"(#{code}) {title}",
            "type": "OAuthException",
            "code": code,
            "error_data": {
                "messaging_product": "whatsapp",
                "details": details or ERROR_DETAILS.get(code, title),
            },
            "fbtrace_id": "A" + secrets.token_urlsafe(16),
        }
    }


def _error_object(code: int) -> dict[str, Any]:
    title = ERROR_TITLES.get(code, "Injected failure")
    return {
        "code": code,
        "title": title,
        "message": title,
        "error_data": {"details": ERROR_DETAILS.get(code, title)},
        "href": ERROR_CODES_HREF,
    }


def _missing_object(node: str, verb: str) -> str:
    return (
        f"Unsupported {verb} request. Object with ID '{node}' does not exist, cannot be loaded "
        "due to missing permissions, or does not support this operation."
    )


def _change_value(envelope: dict[str, Any]) -> dict[str, Any]:
    value: dict[str, Any] = envelope["entry"][0]["changes"][0]["value"]
    return value


def _addressee(body: dict[str, Any]) -> str | None:
    """Who a send went to: Meta lets `to` (a number) win over `recipient` (a BSUID)."""
    if body.get("to"):
        return _digits(str(body["to"]))
    recipient = body.get("recipient")
    return str(recipient) if recipient else None


def _addressed_to(body: dict[str, Any], who: str) -> bool:
    """Whether a send went to `who`, a number (in any spelling) or a BSUID."""
    if body.get("recipient") == who:
        return True
    return _addressee(body) == (who if _is_bsuid(who) else _digits(who))


def _is_bsuid(value: str) -> bool:
    return "." in value and not value.replace("+", "").replace(" ", "").isdigit()


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def _sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()
