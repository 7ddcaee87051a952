"""WhatsApp Business Platform (Cloud API) adapter: webhooks → Inbound, Outbound → Graph API.

Only Meta's official Cloud API: an office's number registered under its own business
portfolio (README "WhatsApp"). A thin client over aiohttp, which Telegram's transport uses too
(a tenth of httpx's CPU per call, README "Performance"): the adapter needs a handful of Graph API
calls, and control over what a library would do for it (acknowledging a webhook only once it is
stored, one inbox row per message of a batched POST, the 2026 business-scoped user ids).

Receiving: Meta POSTs to /whatsapp. The signature (X-Hub-Signature-256, HMAC-SHA256 of the raw
body with the app secret) is checked before anything else; each message and each status of the
POST is stored in the host's inbox as its own one-item envelope, in Meta's shape, under a key
made from the message id, then 200 is answered. A redelivered POST finds its keys stored and has
no further effect. Keys and senders are HMACs of the ids, never the ids themselves: message ids
and wa_ids embed phone numbers, and nothing about a person is kept before consent; the stored
payload is emptied once processed (bot/inbox.py).

Identity: a person is their business-scoped user id (`user_id`, BSUID) when Meta gives one, else
their wa_id (phone digits); we send with `recipient` to a BSUID and `to` to a wa_id. Someone
first known by wa_id who later arrives with a BSUID, and someone who changes number (a `system`
message), stays the same stakeholder.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import mimetypes
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import aiohttp
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bot.buttons import decode
from bot.channels.base import (
    ChannelHost,
    DeliveryStatus,
    OutsideWindowError,
    PermanentDeliveryError,
    TemporaryDeliveryError,
    parse_json,
    read_body,
)
from bot.channels.whatsapp.messages import (
    TEXT_CHOICE,
    ChoiceTexts,
    bodies,
    fits_caption,
    media_body,
    text_bodies,
)
from bot.files import after_download, before_download, file_type, sanitise_name
from bot.messages import (
    Inbound,
    InboundKind,
    IncomingFile,
    Outbound,
    parse_command,
)
from bot.proxies import ProxiesFromEnvironment
from bot.send_budget import Rate, SharedSendBudget
from bot.settings import Settings

log = logging.getLogger(__name__)

CHANNEL = "whatsapp"
MAX_WEBHOOK_BYTES = 3_000_000  # Meta batches up to 1,000 updates; each is small
MAX_BACKOFF = 60.0
MEDIA_ATTEMPTS = 4  # a failed media download is retried from the inbox this many times
TOKEN_REJECTED_RETRY = 600.0  # seconds: a rejected token is an operator's job, not a retry loop
JOINED_KEPT = 10_000  # number → business-scoped id pairs remembered per process

# Graph API error codes (developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes)
OUTSIDE_WINDOW = 131047  # re-engagement: more than 24 hours since the person wrote
TEMPORARY_CODES = frozenset(
    {
        1,  # unknown API error
        2,  # temporary API error
        4,  # application request limit
        80007,  # WABA rate limit
        130429,  # throughput (messages per second) reached
        131000,  # something went wrong
        131016,  # service unavailable
        131056,  # too many messages to this person (pair rate limit)
        133004,  # server temporarily unavailable
    }
)
TOKEN_INVALID = 190
UNSUPPORTED_TYPES = (
    "audio",
    "video",
    "sticker",
    "location",
    "contacts",
    "reaction",
    "order",
    "unsupported",
    "unknown",
    "request_welcome",
)
STATUS_FAILURES = {OUTSIDE_WINDOW: "window"}


class StartupError(Exception):
    """The Cloud API refuses our configuration (a wrong token, a wrong number id)."""


class GraphError(Exception):
    def __init__(self, status: int, code: int | None, message: str) -> None:
        super().__init__(f"{code or status}: {message}")
        self.status = status
        self.code = code


def classify(code: int | None, status: int = 400) -> str:
    """What a failure means for the outbox: "window", "temporary" or "permanent"."""
    if code == OUTSIDE_WINDOW:
        return "window"
    if code in TEMPORARY_CODES or status >= 500 or status == 429 or code == TOKEN_INVALID:
        return "temporary"
    return "permanent"


def is_bsuid(identity: str) -> bool:
    """A business-scoped user id ("ID.1234…") rather than phone digits."""
    return not identity.isdigit()


# What reaching the Graph API can raise besides its own errors: network trouble and timeouts.
UNREACHABLE = (aiohttp.ClientError, TimeoutError)


class GraphClient:
    """The few Graph API calls csobot makes, with the access token."""

    def __init__(self, settings: Settings, timeout: float = 20.0) -> None:
        assert settings.whatsapp_access_token is not None
        self.settings = settings
        self.token = settings.whatsapp_access_token.get_secret_value()
        self.number_id = settings.whatsapp_phone_number_id
        base = settings.whatsapp_api_base_url.rstrip("/")
        self.base_url = f"{base}/{settings.whatsapp_api_version}"
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.proxies = ProxiesFromEnvironment()
        # Made on first use: an aiohttp session belongs to the running event loop.
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers={"Authorization": f"Bearer {self.token}"},
                cookie_jar=aiohttp.DummyCookieJar(),
                timeout=self.timeout,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _request(self, method: str, url: str, **kwargs: Any) -> tuple[int, str, bytes]:
        """(status, reason, body). Redirects are not followed (the token goes nowhere else)."""
        proxy, proxy_auth = self.proxies.for_url(url)
        async with self._http().request(
            method, url, allow_redirects=False, proxy=proxy, proxy_auth=proxy_auth, **kwargs
        ) as response:
            return response.status, response.reason or "", await response.read()

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        status, reason, body = await self._request(method, self.base_url + path, **kwargs)
        try:
            data = json.loads(body)
        except ValueError:
            data = {}
        if status >= 400 or not isinstance(data, dict) or "error" in data:
            error = data.get("error", {}) if isinstance(data, dict) else {}
            error = error if isinstance(error, dict) else {}
            code = error.get("code")
            details = (error.get("error_data") or {}).get("details") if error else None
            message = str(details or error.get("message") or reason)
            raise GraphError(status, code if isinstance(code, int) else None, message)
        return data

    async def number(self) -> dict[str, Any]:
        return await self._call("GET", f"/{self.number_id}")

    async def send(self, body: dict[str, Any]) -> str:
        data = await self._call("POST", f"/{self.number_id}/messages", json=body)
        messages = data.get("messages") or [{}]
        return str(messages[0].get("id", ""))

    async def upload(self, content: bytes, name: str, mime: str) -> str:
        form = aiohttp.FormData({"messaging_product": "whatsapp", "type": mime})
        form.add_field("file", content, filename=name, content_type=mime)
        data = await self._call("POST", f"/{self.number_id}/media", data=form)
        return str(data["id"])

    async def download(self, media_id: str, limit: int) -> tuple[bytes, str, str | None]:
        """(content, mime type, sha256 Meta gives); the URL needs the same token."""
        meta = await self._call("GET", f"/{media_id}")
        if int(meta.get("file_size") or 0) > limit:
            raise ValueError("too_large")
        status, _reason, content = await self._request("GET", str(meta["url"]))
        if status >= 400:
            raise GraphError(status, None, "media download failed")
        return content, str(meta.get("mime_type", "")), meta.get("sha256")


class WhatsAppSender:
    """Sends outbox messages through the Cloud API and classifies failures for the outbox."""

    channel = CHANNEL

    def __init__(
        self, client: GraphClient, settings: Settings, budget: SharedSendBudget | None = None
    ) -> None:
        self.client = client
        self.data_dir = settings.csobot_data_dir
        # The business number's throughput, shared by every process (PostgreSQL).
        self.budget = budget
        self.bucket = f"whatsapp:{settings.whatsapp_phone_number_id}"
        self.rate = Rate(
            settings.whatsapp_messages_per_second, settings.whatsapp_messages_per_second
        )
        self.texts: ChoiceTexts | None = None  # set at start, from config.yaml
        self.token_rejected = False

    def thread_link(self, chat_id: str, thread_id: str) -> str | None:
        return None

    async def send(self, chat_id: str, outbound: Outbound, thread_id: str | None = None) -> str:
        if outbound.thread_action is not None or thread_id is not None:
            raise PermanentDeliveryError("WhatsApp chats have no threads (the desk is elsewhere)")
        try:
            if outbound.file is not None and outbound.template is None:
                return await self._send_file(chat_id, outbound)
            assert self.texts is not None, "the channel is not started"
            last = ""
            for body in bodies(outbound, self.texts):
                last = await self._post(chat_id, body)
            return last
        except GraphError as exc:
            raise self._failure(exc) from exc
        except UNREACHABLE as exc:  # network trouble, timeouts
            raise TemporaryDeliveryError(f"{type(exc).__name__}: {exc}") from exc

    async def _post(self, chat_id: str, body: dict[str, Any]) -> str:
        address = {"recipient": chat_id} if is_bsuid(chat_id) else {"to": chat_id}
        message = {"messaging_product": "whatsapp", "recipient_type": "individual"}
        if self.budget is not None:
            await self.budget.acquire(self.bucket, self.rate)
        return await self.client.send({**message, **address, **body})

    async def _send_file(self, chat_id: str, outbound: Outbound) -> str:
        file = outbound.file
        assert file is not None
        path = self.data_dir / file.path if file.path else None
        if path is None or not path.is_file():
            raise PermanentDeliveryError(f"file to send is missing: {file.path or file.name}")
        name = file.name or path.name
        mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
        media_id = await self.client.upload(path.read_bytes(), name, mime)
        kind = "image" if mime in ("image/jpeg", "image/png") else "document"
        caption: str | None = outbound.text or None
        if caption is not None and not fits_caption(caption):
            for body in text_bodies(caption):  # too long for a caption: the text first
                await self._post(chat_id, body)
            caption = None
        return await self._post(chat_id, media_body(kind, media_id, name, caption))

    def _failure(self, exc: GraphError) -> Exception:
        kind = classify(exc.code, exc.status)
        if exc.code == TOKEN_INVALID:
            self.token_rejected = True
            log.error(
                "configuration error: the Cloud API rejected WHATSAPP_ACCESS_TOKEN (%s); "
                "messages wait until a valid token is set",
                exc,
            )
            return TemporaryDeliveryError(str(exc), TOKEN_REJECTED_RETRY)
        if kind == "window":
            return OutsideWindowError(str(exc))
        if kind == "temporary":
            return TemporaryDeliveryError(str(exc))
        return PermanentDeliveryError(str(exc))


class WhatsAppChannel:
    """WhatsApp as a channel of the host: a webhook route, and the sender."""

    name = CHANNEL
    initial_backoff = 1.0

    def __init__(self, settings: Settings, budget: SharedSendBudget | None = None) -> None:
        missing = [
            name
            for name, value in (
                ("WHATSAPP_ACCESS_TOKEN", settings.whatsapp_access_token),
                ("WHATSAPP_PHONE_NUMBER_ID", settings.whatsapp_phone_number_id),
                ("WHATSAPP_APP_SECRET", settings.whatsapp_app_secret),
                ("WHATSAPP_VERIFY_TOKEN", settings.whatsapp_verify_token),
            )
            if not value
        ]
        if missing:
            raise StartupError(f"WhatsApp needs {', '.join(missing)}")
        assert settings.whatsapp_app_secret is not None
        assert settings.whatsapp_verify_token is not None
        self.settings = settings
        self.secret = settings.whatsapp_app_secret.get_secret_value().encode()
        self.verify_token = settings.whatsapp_verify_token.get_secret_value()
        self.client = GraphClient(settings)
        self.sender = WhatsAppSender(self.client, settings, budget)
        self._host: ChannelHost | None = None
        # Numbers already joined to their business-scoped id in this process (number → id).
        self._joined: OrderedDict[str, str] = OrderedDict()

    @property
    def host(self) -> ChannelHost:
        assert self._host is not None, "the channel is not started"
        return self._host

    # ---- lifecycle -----------------------------------------------------------------------------
    async def start(self, host: ChannelHost) -> None:
        self._host = host
        texts = host.config.texts
        self.sender.texts = ChoiceTexts(
            texts.choose_prompt, texts.list_button, texts.numbered_choice
        )
        delay = self.initial_backoff
        while True:
            try:
                number = await self.client.number()
                break
            except GraphError as exc:
                if exc.code == TOKEN_INVALID or exc.status in (400, 401, 403, 404):
                    await self.client.close()
                    raise StartupError(
                        "configuration error: the Cloud API refused WHATSAPP_ACCESS_TOKEN / "
                        f"WHATSAPP_PHONE_NUMBER_ID ({exc})"
                    ) from exc
                log.warning("Cloud API not reachable (%s); retrying in %.0f s", exc, delay)
            except UNREACHABLE as exc:
                log.warning("Cloud API not reachable (%s); retrying in %.0f s", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF)
        log.info("WhatsApp webhook for %s", number.get("display_phone_number", "?"))

    async def stop(self) -> None:
        await self.client.close()

    async def check(self) -> str | None:
        if self.sender.token_rejected:
            return "configuration error: access token rejected (190)"
        try:
            await self.client.number()
        except (GraphError, *UNREACHABLE) as exc:
            return f"{type(exc).__name__}: {exc}"
        return None

    def routes(self) -> Sequence[BaseRoute]:
        return [
            Route("/whatsapp", self._verify, methods=["GET"]),
            Route("/whatsapp", self._receive, methods=["POST"]),
        ]

    # ---- the webhook ---------------------------------------------------------------------------
    async def _verify(self, request: Request) -> Response:
        """Meta's subscription handshake: echo the challenge to whoever knows the verify token."""
        params = request.query_params
        token = params.get("hub.verify_token", "")
        if params.get("hub.mode") == "subscribe" and hmac.compare_digest(
            token.encode(), self.verify_token.encode()
        ):
            return PlainTextResponse(params.get("hub.challenge", ""))
        return PlainTextResponse("forbidden", status_code=403)

    async def _receive(self, request: Request) -> Response:
        """200 only once every message and status of the POST is stored."""
        given = request.headers.get("X-Hub-Signature-256", "")
        if not given:
            return PlainTextResponse("signature missing", status_code=401)
        body = await read_body(request, MAX_WEBHOOK_BYTES)
        if isinstance(body, Response):
            return body
        expected = "sha256=" + hmac.new(self.secret, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return PlainTextResponse("bad signature", status_code=403)
        payload = parse_json(body)
        if isinstance(payload, Response):
            return payload
        if not isinstance(payload, dict):
            return PlainTextResponse("not a webhook", status_code=400)
        try:
            for key, sender, item in self.items(payload):
                await self.host.store_update(CHANNEL, key, sender, item)
        except Exception as exc:  # noqa: BLE001 - not stored: Meta must deliver it again
            log.error("WhatsApp webhook not stored: %s", type(exc).__name__)
            return PlainTextResponse("try again", status_code=503)
        return PlainTextResponse("ok")

    def digest(self, value: str) -> str:
        """An id as it may be kept before consent: keyed with the app secret, so the phone
        numbers inside message ids and wa_ids cannot be recovered by trying them all."""
        return hmac.new(self.secret, value.encode(), hashlib.sha256).hexdigest()[:40]

    def items(self, payload: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
        """Every message and status of a (batched) POST as (inbox key, sender, one-item
        envelope). Anything else (other fields, errors) is logged and not stored."""
        found: list[tuple[str, str, dict[str, Any]]] = []
        if payload.get("object") != "whatsapp_business_account":
            log.warning("webhook for %r ignored", payload.get("object"))
            return found
        for entry in _dicts(payload.get("entry")):
            for change in _dicts(entry.get("changes")):
                value = change.get("value")
                if change.get("field") != "messages" or not isinstance(value, dict):
                    log.info("webhook field %r ignored", change.get("field"))
                    continue
                for error in _dicts(value.get("errors")):
                    log.warning("WhatsApp reports an error: %s", error.get("code"))
                head = {
                    key: value[key] for key in ("messaging_product", "metadata") if key in value
                }
                contacts = _dicts(value.get("contacts"))
                for message in _dicts(value.get("messages")):
                    identity = _identity(message, contacts)
                    one = {
                        **head,
                        "contacts": _contact_of(message, contacts),
                        "messages": [message],
                    }
                    found.append(
                        (
                            f"{CHANNEL}:m:{self.digest(str(message.get('id')))}",
                            f"{CHANNEL}:{self.digest(identity)}",
                            _envelope(entry, one),
                        )
                    )
                for status in _dicts(value.get("statuses")):
                    recipient = str(
                        status.get("recipient_user_id") or status.get("recipient_id") or ""
                    )
                    errors = ",".join(str(e.get("code")) for e in _dicts(status.get("errors")))
                    key = f"{status.get('id')}:{status.get('status')}:{errors}"
                    found.append(
                        (
                            f"{CHANNEL}:s:{self.digest(key)}",
                            f"{CHANNEL}:s:{self.digest(recipient)}",
                            _envelope(entry, {**head, "statuses": [status]}),
                        )
                    )
        return found

    # ---- processing stored items ---------------------------------------------------------------
    async def process(self, payload: dict[str, Any], attempt: int = 0) -> None:
        for entry in _dicts(payload.get("entry")):
            for change in _dicts(entry.get("changes")):
                value = change.get("value")
                if not isinstance(value, dict):
                    continue
                contacts = _dicts(value.get("contacts"))
                for message in _dicts(value.get("messages")):
                    await self._message(message, contacts, attempt)
                for status in _dicts(value.get("statuses")):
                    await self._status(status)

    async def _message(
        self, message: dict[str, Any], contacts: list[dict[str, Any]], attempt: int
    ) -> None:
        wa_id = str(message.get("from") or "") or _contact_field(message, contacts, "wa_id")
        user_id = str(message.get("from_user_id") or "") or _contact_field(
            message, contacts, "user_id"
        )
        identity = user_id or wa_id
        if not identity:
            log.warning("WhatsApp message without a sender ignored")
            return
        kind = message.get("type")
        if kind == "system":
            await self._system(message, identity, wa_id)
            return
        await self._join_identities(wa_id, user_id)
        inbound = self.to_inbound(message, identity, wa_id)
        if inbound is None:
            return
        if inbound.kind is InboundKind.FILE and inbound.file is not None:
            last_try = attempt + 1 >= MEDIA_ATTEMPTS
            inbound = replace(inbound, file=await self._fetch(inbound, inbound.file, last_try))
        await self.host.receive(inbound)

    async def _join_identities(self, wa_id: str, user_id: str) -> None:
        """First known by number, now with a business-scoped id: the same stakeholder. Once per
        pair and process, not a database transaction on every message that carries both; a
        message by number alone (a stakeholder may be created under it) makes the next pair
        checked again."""
        if not wa_id:
            return
        if not user_id:
            self._joined.pop(wa_id, None)
            return
        if self._joined.get(wa_id) == user_id:
            self._joined.move_to_end(wa_id)
            return
        await self.host.identity_changed(CHANNEL, wa_id, user_id, user_id)
        self._joined[wa_id] = user_id
        if len(self._joined) > JOINED_KEPT:
            self._joined.popitem(last=False)

    def to_inbound(self, message: dict[str, Any], identity: str, wa_id: str) -> Inbound | None:
        """One WhatsApp message as what the person did."""
        base = Inbound(
            channel=CHANNEL,
            user_id=identity,
            chat_id=identity,
            update_key=f"{CHANNEL}:{self.digest(str(message.get('id')))}",
            kind=InboundKind.TEXT,
            platform_message_id=str(message.get("id") or "") or None,
            sender_phone=f"+{wa_id}" if wa_id.isdigit() else None,
        )
        kind = str(message.get("type") or "")
        if kind == "text":
            text = str(_part(message, "text").get("body", ""))
            return self._typed(base, text)
        if kind == "interactive":
            interactive = _part(message, "interactive")
            reply = interactive.get("button_reply") or interactive.get("list_reply") or {}
            return self._pressed(base, str(reply.get("id", "")), str(reply.get("title", "")))
        if kind == "button":  # a template's quick reply
            button = _part(message, "button")
            return self._pressed(base, str(button.get("payload", "")), str(button.get("text", "")))
        if kind in ("image", "document"):
            media = _part(message, kind)
            media_id = str(media.get("id", ""))
            mime = str(media.get("mime_type", ""))
            suffix = mimetypes.guess_extension(mime.split(";")[0].strip()) or ""
            fallback = f"{'foto' if kind == 'image' else 'berkas'}-{media_id[-8:]}{suffix}"
            name = sanitise_name(str(media.get("filename") or fallback))
            incoming = IncomingFile(
                media_id,
                name,
                file_type(name, mime),
                0,
                unique_id=str(media.get("sha256") or media_id),
            )
            caption = str(media.get("caption") or "")
            return replace(base, kind=InboundKind.FILE, text=caption, file=incoming)
        if kind == "edit":
            return replace(base, kind=InboundKind.EDITED)
        if kind == "reaction" and not _part(message, "reaction").get("emoji"):
            return None  # a reaction taken back
        what = "voice" if kind == "audio" and _part(message, "audio").get("voice") else kind
        return replace(base, kind=InboundKind.UNSUPPORTED, media=what or "unknown")

    def _typed(self, base: Inbound, text: str) -> Inbound:
        """Commands with or without the slash: WhatsApp has no command menu, so "status" or
        "bantuan" typed alone is the command."""
        command = parse_command(text)
        if command is None:
            word = text.strip().lower()
            if word in self.host.config.texts.command_menu or word in ("batal", "start"):
                command = (word, "")
        if command is not None:
            return replace(
                base, kind=InboundKind.COMMAND, text=text, command=command[0], args=command[1]
            )
        return replace(base, text=text)

    def _pressed(self, base: Inbound, data: str, title: str) -> Inbound:
        if data.startswith(TEXT_CHOICE):  # a choice that sends its label, as typed text
            return replace(base, text=data[len(TEXT_CHOICE) :] or title)
        return replace(base, kind=InboundKind.BUTTON, action=decode(data), text=title)

    async def _system(self, message: dict[str, Any], identity: str, wa_id: str) -> None:
        """A new number: Meta gives the new wa_id (and a new BSUID); the stakeholder follows."""
        system = _part(message, "system")
        if system.get("type") not in ("user_changed_number", "user_changed_user_id"):
            return
        new_wa_id = str(system.get("wa_id") or system.get("new_wa_id") or "")
        new_user_id = str(system.get("user_id") or system.get("new_user_id") or "")
        new_identity = new_user_id or new_wa_id
        if not new_identity or new_identity == identity:
            return
        phones = (f"+{wa_id}", f"+{new_wa_id}") if wa_id.isdigit() and new_wa_id else None
        for old in {identity, wa_id, str(system.get("previous_user_id") or "")} - {""}:
            await self.host.identity_changed(CHANNEL, old, new_identity, new_identity, phones)

    async def _status(self, status: dict[str, Any]) -> None:
        errors = _dicts(status.get("errors"))
        code = errors[0].get("code") if errors else None
        failure = None
        error = None
        if status.get("status") == "failed":
            failure = classify(code if isinstance(code, int) else None)
            first = errors[0] if errors else {}
            details = (first.get("error_data") or {}).get("details")
            error = f"{code}: {details or first.get('title') or first.get('message') or 'failed'}"
        try:
            at = datetime.fromtimestamp(int(status.get("timestamp") or 0), UTC)
        except (ValueError, OverflowError):
            at = self.host.clock.now()
        await self.host.delivery_status(
            CHANNEL,
            DeliveryStatus(
                str(status.get("id", "")), str(status.get("status")), at, failure, error
            ),
        )

    async def _fetch(
        self, inbound: Inbound, incoming: IncomingFile, last_try: bool
    ) -> IncomingFile:
        """media id → URL → authorised download; checked like Telegram's files. A failed
        download is retried from the inbox; on the last try the stakeholder is asked to resend."""
        if not await self.host.accepts_files(inbound):
            return incoming
        rules = self.host.config.desk.documents
        data_dir = self.settings.csobot_data_dir
        key = f"{CHANNEL}:{incoming.platform_id}"
        settled = before_download(incoming, rules, data_dir, key)
        if settled is not None:
            return settled
        try:
            content, _mime, announced = await self.client.download(
                incoming.platform_id, rules.max_bytes
            )
        except ValueError:
            return replace(incoming, error="too_large")
        except (GraphError, *UNREACHABLE, KeyError) as exc:
            if not last_try:
                raise  # the inbox tries again later
            log.warning("download of %s failed for good: %s", incoming.name, exc)
            return replace(incoming, error="download_failed")
        digest = hashlib.sha256(content).hexdigest()
        if announced and announced.lower() != digest and not last_try:
            raise ValueError("media checksum does not match")  # a broken transfer: again
        return after_download(incoming, content, rules, data_dir, key)


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _part(message: dict[str, Any], name: str) -> dict[str, Any]:
    part = message.get(name)
    return part if isinstance(part, dict) else {}


def _identity(message: dict[str, Any], contacts: list[dict[str, Any]]) -> str:
    return str(
        message.get("from_user_id")
        or _contact_field(message, contacts, "user_id")
        or message.get("from")
        or ""
    )


def _contact_of(message: dict[str, Any], contacts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The contact entry that belongs to this message (a batch lists several people)."""
    for contact in contacts:
        if (message.get("from") and contact.get("wa_id") == message.get("from")) or (
            message.get("from_user_id") and contact.get("user_id") == message.get("from_user_id")
        ):
            return [contact]
    return contacts[:1] if len(contacts) == 1 else []


def _contact_field(message: dict[str, Any], contacts: list[dict[str, Any]], field: str) -> str:
    for contact in _contact_of(message, contacts):
        if contact.get(field):
            return str(contact[field])
    return ""


def _envelope(entry: dict[str, Any], value: dict[str, Any]) -> dict[str, Any]:
    """One item in the shape Meta posts it, so it is processed like any webhook."""
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": entry.get("id"), "changes": [{"field": "messages", "value": value}]}],
    }
