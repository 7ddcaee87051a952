"""Telegram adapter (python-telegram-bot v22): updates → Inbound, Outbound → Bot API calls.

It runs against any Bot API server given by TELEGRAM_API_BASE_URL (official, an office's local
server, the tests' fake). Only sending replies is essential; the command menu, chat actions,
callback answers and keyboard clean-up are courtesies whose failure is logged and forgotten.

A text over Telegram's limits (4,096 UTF-16 units for a message, 1,024 for a caption) is sent as
several consecutive messages, cut by `bot.text_limits.split_text`; buttons go on the
last part, whose id is the one returned. One outbound is still one outbox row, delivered at least
once: if a later part fails with a temporary error, the whole outbound is retried and the parts
already delivered arrive a second time. Remembering the parts sent would need storage per part;
a repeated part of a rare, long message is the accepted price of keeping it simple.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("PTB_TIMEDELTA", "1")  # RetryAfter.retry_after as timedelta, no warning

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ChatAction, ChatType
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import AIORateLimiter, Application

from bot.buttons import decode
from bot.channels.base import (
    ChannelHost,
    PermanentDeliveryError,
    TemporaryDeliveryError,
    read_json_body,
)
from bot.channels.telegram.http import AiohttpRequest
from bot.files import after_download, before_download, file_type, sanitise_name
from bot.messages import (
    Inbound,
    InboundKind,
    IncomingFile,
    Outbound,
    ThreadAction,
    parse_command,
)
from bot.send_budget import TELEGRAM_BOT, TELEGRAM_GROUP, SharedSendBudget
from bot.settings import Settings
from bot.text_limits import (
    TELEGRAM_CAPTION_LIMIT,
    TELEGRAM_TEXT_LIMIT,
    split_text,
    utf16_length,
)

log = logging.getLogger(__name__)

CHANNEL = "telegram"
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
UNSUPPORTED_MEDIA = (
    "sticker",
    "voice",
    "audio",
    "video",
    "video_note",
    "animation",
    "location",
    "venue",
    "poll",
    "dice",
    "game",
    "story",
)
MAX_INITIALIZE_BACKOFF = 60.0


MAX_WEBHOOK_BYTES = 1_000_000  # Telegram's updates are far smaller; anything bigger is not one
PARSED_KEPT = 256  # webhook updates kept parsed until processed (see TelegramChannel._parsed)


def sender_of(payload: dict[str, Any]) -> str:
    """Whose update this is, from the raw JSON: one person's updates are handled in order."""
    for field in ("message", "edited_message", "callback_query"):
        part = payload.get(field)
        if isinstance(part, dict):
            person = part.get("from")
            if isinstance(person, dict) and "id" in person:
                return f"user:{person['id']}"
            chat = part.get("chat")
            if isinstance(chat, dict) and "id" in chat:
                return f"chat:{chat['id']}"
    return f"update:{payload.get('update_id')}"


class StartupError(Exception):
    """The Bot API refuses us for good (e.g. a wrong token): retrying cannot help."""


def update_key(bot_id: int, update_id: int) -> str:
    """The update's key in the inbox and the engine: unique per bot, stable on redelivery."""
    return f"{CHANNEL}:{bot_id}:{update_id}"


def to_inbound(update: Update, bot_id: int) -> Inbound | None:
    """Translate one update; None for updates the SOP has nothing to do with."""
    key = update_key(bot_id, update.update_id)
    if update.callback_query is not None:
        query = update.callback_query
        message = query.message
        chat_id = str(message.chat.id) if message is not None else str(query.from_user.id)
        private = message is None or message.chat.type == ChatType.PRIVATE
        label = _button_label(message, query.data) if isinstance(message, Message) else None
        thread = _thread(message) if isinstance(message, Message) else None
        return Inbound(
            channel=CHANNEL,
            user_id=str(query.from_user.id),
            chat_id=chat_id,
            update_key=key,
            kind=InboundKind.BUTTON,
            action=decode(query.data),
            text=label or "",
            is_private=private,
            thread_id=thread,
        )
    if update.edited_message is not None:
        edited = update.edited_message
        if edited.from_user is None:
            return None
        return _base(edited, key, InboundKind.EDITED, text=edited.text or "")
    message = update.message
    if message is None or message.from_user is None or message.from_user.is_bot:
        return None
    if message.contact is not None:
        contact = message.contact
        return _base(
            message,
            key,
            InboundKind.CONTACT,
            text=contact.phone_number,
            phone=contact.phone_number,
            contact_user_id=str(contact.user_id) if contact.user_id is not None else None,
        )
    if message.text is not None:
        text = message.text
        command = parse_command(text)
        if command is not None:
            name, args = command
            return _base(message, key, InboundKind.COMMAND, text=text, command=name, args=args)
        return _base(message, key, InboundKind.TEXT, text=text)
    incoming = _incoming_file(message)
    if incoming is not None:
        return _base(message, key, InboundKind.FILE, text=message.caption or "", file=incoming)
    for media in UNSUPPORTED_MEDIA:
        if getattr(message, media, None):
            return _base(
                message, key, InboundKind.UNSUPPORTED, media=media, text=message.caption or ""
            )
    return None  # service messages (members joining, pinned messages…)


def _base(message: Message, key: str, kind: InboundKind, **fields: Any) -> Inbound:
    assert message.from_user is not None
    return Inbound(
        channel=CHANNEL,
        user_id=str(message.from_user.id),
        chat_id=str(message.chat.id),
        update_key=key,
        kind=kind,
        is_private=message.chat.type == ChatType.PRIVATE,
        platform_message_id=str(message.message_id),
        thread_id=_thread(message),
        **fields,
    )


def _thread(message: Message) -> str | None:
    return (
        str(message.message_thread_id)
        if message.is_topic_message and message.message_thread_id
        else None
    )


def _incoming_file(message: Message) -> IncomingFile | None:
    """A photo (its largest size) or a document, as announced; nothing is downloaded here."""
    if message.photo:
        photo = message.photo[-1]
        return IncomingFile(
            photo.file_id,
            f"foto-{photo.file_unique_id}.jpg",
            "jpg",
            photo.file_size or 0,
            unique_id=photo.file_unique_id,
        )
    document = message.document
    if document is not None:
        name = sanitise_name(document.file_name or f"berkas-{document.file_unique_id}")
        return IncomingFile(
            document.file_id,
            name,
            file_type(name, document.mime_type),
            document.file_size or 0,
            unique_id=document.file_unique_id,
        )
    return None


def _button_label(message: Message, data: str | None) -> str | None:
    markup = message.reply_markup
    if markup is None:
        return None
    for row in markup.inline_keyboard:
        for button in row:
            if button.callback_data == data:
                return button.text
    return None


def reply_markup(outbound: Outbound) -> Any:
    """Choices as inline buttons; a phone request (or choices without an action) as a reply
    keyboard, whose buttons send their label as text."""
    if outbound.request_phone is not None or any(b.action is None for b in outbound.buttons):
        rows = (
            [[KeyboardButton(outbound.request_phone, request_contact=True)]]
            if outbound.request_phone
            else []
        )
        rows += [[KeyboardButton(b.label)] for b in outbound.buttons]
        return ReplyKeyboardMarkup(rows, resize_keyboard=True, one_time_keyboard=True)
    if outbound.buttons:
        return InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        b.label, callback_data=b.action.encode() if b.action else ""
                    )
                ]
                for b in outbound.buttons
            ]
        )
    if outbound.clear_keyboard:
        return ReplyKeyboardRemove()
    return None


def _seconds(value: float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramSender:
    """Sends outbox messages through PTB and classifies failures for the outbox."""

    channel = CHANNEL

    def __init__(
        self,
        application: Application,  # type: ignore[type-arg]
        data_dir: Path,
        budget: SharedSendBudget | None = None,
    ) -> None:
        self.application = application
        self.data_dir = data_dir
        self.budget = budget  # the deployment's shared send budget (several processes)

    async def _pace(self, chat: int) -> None:
        """Wait for a token of the shared budget: the bot's, and a group's own."""
        if self.budget is None:
            return
        await self.budget.acquire("telegram:bot", TELEGRAM_BOT)
        if chat < 0:
            await self.budget.acquire(f"telegram:group:{chat}", TELEGRAM_GROUP)

    def thread_link(self, chat_id: str, thread_id: str) -> str | None:
        """A t.me link to a forum topic (supergroup ids are -100 followed by the internal id)."""
        if not chat_id.startswith("-100") or not thread_id:
            return None
        return f"https://t.me/c/{chat_id[4:]}/{thread_id}"

    async def send(self, chat_id: str, outbound: Outbound, thread_id: str | None = None) -> str:
        try:
            chat, thread = int(chat_id), int(thread_id) if thread_id else None
        except ValueError as exc:  # an id from another platform: nothing Telegram can reach
            raise PermanentDeliveryError(
                f"not a Telegram chat or thread: {chat_id}/{thread_id}"
            ) from exc
        try:
            return await self._send(chat, outbound, thread)
        except RetryAfter as exc:
            raise TemporaryDeliveryError(str(exc), _seconds(exc.retry_after)) from exc
        except (Forbidden, BadRequest, InvalidToken) as exc:
            raise PermanentDeliveryError(f"{type(exc).__name__}: {exc}") from exc
        except TelegramError as exc:  # NetworkError, TimedOut, server errors
            raise TemporaryDeliveryError(f"{type(exc).__name__}: {exc}") from exc

    async def _send(self, chat: int, outbound: Outbound, thread: int | None) -> str:
        bot = self.application.bot
        await self._pace(chat)
        if outbound.thread_action is ThreadAction.OPEN:
            topic = await bot.create_forum_topic(chat_id=chat, name=outbound.text[:128])
            return str(topic.message_thread_id)
        if outbound.thread_action is ThreadAction.CLOSE and thread is not None:
            await bot.close_forum_topic(chat_id=chat, message_thread_id=thread)
            return str(thread)
        if outbound.thread_action is ThreadAction.REOPEN and thread is not None:
            await bot.reopen_forum_topic(chat_id=chat, message_thread_id=thread)
            return str(thread)
        file = outbound.file
        if file is not None and file.source is not None and file.source[0] == CHANNEL:
            # Both sides on Telegram: copy the original, with its photo preview and caption.
            if outbound.text and outbound.desk_ticket_id is not None:
                # In the desk thread, say whose file follows.
                await self._send_text(chat, outbound.text, thread)
            copied = await bot.copy_message(
                chat_id=chat,
                from_chat_id=int(file.source[1]),
                message_id=int(file.source[2]),
                message_thread_id=thread,
            )
            return str(copied.message_id)
        if file is not None:
            path = self.data_dir / file.path if file.path else None
            if path is None or not path.is_file():
                raise PermanentDeliveryError(f"file to send is missing: {file.path or file.name}")
            caption: str | None = outbound.text
            if utf16_length(outbound.text) > TELEGRAM_CAPTION_LIMIT:
                # Too long for a caption: the text goes first as message(s), the file after it.
                await self._send_text(chat, outbound.text, thread)
                caption = None
            with path.open("rb") as handle:
                sent = await bot.send_document(
                    chat_id=chat,
                    document=handle,
                    filename=file.name or path.name,
                    caption=caption,
                    message_thread_id=thread,
                )
            return str(sent.message_id)
        message = await self._send_text(chat, outbound.text, thread, reply_markup(outbound))
        return str(message.message_id)

    async def _send_text(
        self, chat: int, text: str, thread: int | None, markup: Any = None
    ) -> Message:
        """`text` as one message, or as consecutive parts when it is over Telegram's limit; the
        buttons (`markup`) go on the last part, which is returned."""
        bot = self.application.bot
        *first, last = split_text(text, TELEGRAM_TEXT_LIMIT) or [text]
        for part in first:
            await bot.send_message(chat_id=chat, text=part, message_thread_id=thread)
            await self._pace(chat)  # each part is a message of the budget
        return await bot.send_message(
            chat_id=chat, text=last, reply_markup=markup, message_thread_id=thread
        )


class TelegramChannel:
    """Telegram as a channel of the host: polling, or a webhook route in the host's web app.

    Either way an update is committed to the host's inbox before Telegram is told we have it
    (the next getUpdates offset, or the webhook's 200), and handled from there.
    """

    name = CHANNEL
    initial_backoff = 1.0  # seconds before the first retry of an unreachable Bot API
    poll_timeout = 30  # seconds of long polling

    def __init__(
        self, settings: Settings, *, webhook: bool = False, budget: SharedSendBudget | None = None
    ) -> None:
        self.settings = settings
        self.webhook = webhook
        token = settings.telegram_bot_token
        if token is None:
            raise StartupError("TELEGRAM_BOT_TOKEN is not set")
        if webhook and (
            not settings.telegram_webhook_url or settings.telegram_webhook_secret is None
        ):
            raise StartupError(
                "webhook mode needs TELEGRAM_WEBHOOK_URL and TELEGRAM_WEBHOOK_SECRET"
            )
        # No retries inside a send: a 429 goes back to the outbox, which holds back that chat
        # only; the limiter still paces the bot as a whole and each group.
        builder: Any = (  # PTB's builder changes its type parameters with each setting
            Application.builder()
            .token(token.get_secret_value())
            .base_url(settings.telegram_api_base_url)
            .base_file_url(settings.telegram_file_base_url)
            .updater(None)  # we fetch updates ourselves, so they are stored before confirmed
            .request(AiohttpRequest())  # a lighter transport than httpx: http.py
            .get_updates_request(AiohttpRequest(connection_pool_size=1))
        )
        if settings.telegram_rate_limit and budget is None:  # else the shared budget paces
            builder = builder.rate_limiter(AIORateLimiter(max_retries=0))
        self.application = builder.build()
        self.sender = TelegramSender(self.application, settings.csobot_data_dir, budget)
        self._host: ChannelHost | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        # Webhook updates as parsed on receipt, for processing in this process without parsing
        # them again (a parse was 3 % of the bot's time under load); bounded, as another process
        # may be the one that processes an update.
        self._parsed: OrderedDict[int, Update] = OrderedDict()
        self._polling: asyncio.Task[None] | None = None

    @property
    def host(self) -> ChannelHost:
        assert self._host is not None, "the channel is not started"
        return self._host

    async def start(self, host: ChannelHost) -> None:
        self._host = host
        try:
            await self._initialize_with_retry()
        except StartupError:
            await self.application.shutdown()
            raise
        await self._set_commands()
        if self.webhook:
            await self._set_webhook_with_retry()
        else:
            await self._courtesy(
                self.application.bot.delete_webhook(drop_pending_updates=False), "deleteWebhook"
            )
            self._polling = asyncio.create_task(self._poll())
        mode = "webhook" if self.webhook else "polling"
        log.info("%s Telegram as @%s", mode, self.application.bot.username)

    async def stop(self) -> None:
        if self._polling is not None:
            self._polling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._polling
        for task in list(self._tasks):
            task.cancel()
        await self.application.shutdown()

    async def check(self) -> str | None:
        try:
            await self.application.bot.get_me()
        except TelegramError as exc:
            return f"{type(exc).__name__}: {exc}"
        return None

    def routes(self) -> Sequence[BaseRoute]:
        if not self.webhook:
            return []
        return [Route("/telegram", self._receive_webhook, methods=["POST"])]

    # ---- receiving -----------------------------------------------------------------------------
    async def _poll(self) -> None:
        """Long polling: the offset moves past an update only once it is stored."""
        offset: int | None = None
        delay = self.initial_backoff
        while True:
            try:
                updates = await self.application.bot.get_updates(
                    offset=offset, timeout=self.poll_timeout, allowed_updates=ALLOWED_UPDATES
                )
            except TelegramError as exc:  # network trouble, 5xx, a webhook still set: wait
                log.warning("getUpdates failed (%s); retrying in %.0f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_INITIALIZE_BACKOFF)
                continue
            delay = self.initial_backoff
            for update in updates:
                await self._store_until_stored(update.to_dict())
                offset = update.update_id + 1

    async def _store_until_stored(self, payload: dict[str, Any]) -> None:
        """A database outage holds polling here, so nothing unstored is ever confirmed."""
        delay = self.initial_backoff
        while True:
            try:
                await self._store(payload)
                return
            except Exception as exc:  # noqa: BLE001 - any failure means "not stored yet"
                log.error("update not stored (%s); retrying in %.0f s", type(exc).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_INITIALIZE_BACKOFF)

    async def _store(self, payload: dict[str, Any]) -> bool:
        key = update_key(self.application.bot.id, int(payload["update_id"]))
        return await self.host.store_update(CHANNEL, key, sender_of(payload), payload)

    async def _receive_webhook(self, request: Request) -> Response:
        """200 only once the update is stored: until then Telegram delivers it again."""
        assert self.settings.telegram_webhook_secret is not None
        secret = self.settings.telegram_webhook_secret.get_secret_value()
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            return PlainTextResponse("forbidden", status_code=403)
        payload = await read_json_body(request, MAX_WEBHOOK_BYTES)
        if isinstance(payload, Response):
            return payload
        if not isinstance(payload, dict) or not isinstance(payload.get("update_id"), int):
            return PlainTextResponse("not a Telegram update", status_code=400)
        try:
            update = Update.de_json(payload, self.application.bot)
        except Exception:  # noqa: BLE001 - whatever PTB cannot read is not an update
            return PlainTextResponse("not a Telegram update", status_code=400)
        try:
            await self._store(payload)
        except Exception as exc:  # noqa: BLE001 - not stored: Telegram must deliver it again
            log.error("webhook update not stored: %s", type(exc).__name__)
            return PlainTextResponse("try again", status_code=503)
        self._parsed[update.update_id] = update
        while len(self._parsed) > PARSED_KEPT:
            self._parsed.popitem(last=False)
        return PlainTextResponse("ok")

    async def process(self, payload: dict[str, Any], attempt: int = 0) -> None:
        parsed = self._parsed.pop(payload["update_id"], None)  # every stored update has one
        update = parsed if parsed is not None else Update.de_json(payload, self.application.bot)
        if update is not None:
            await self._handle(update)

    async def _set_webhook_with_retry(self) -> None:
        """Every process sets the same webhook: idempotent, so no process is special."""
        secret = self.settings.telegram_webhook_secret
        assert secret is not None
        delay = self.initial_backoff
        while True:
            try:
                await self.application.bot.set_webhook(
                    url=self.settings.telegram_webhook_url,
                    secret_token=secret.get_secret_value(),
                    allowed_updates=ALLOWED_UPDATES,
                )
                return
            except (NetworkError, RetryAfter) as exc:
                log.warning("setWebhook failed (%s); retrying in %.0f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_INITIALIZE_BACKOFF)

    async def _initialize_with_retry(self) -> None:
        """getMe until it works: a Bot API server that is down at start is waited for, not fatal."""
        delay = self.initial_backoff
        while True:
            try:
                await self.application.initialize()
                return
            except InvalidToken as exc:
                raise StartupError(f"the Bot API rejected TELEGRAM_BOT_TOKEN: {exc}") from exc
            except (NetworkError, RetryAfter) as exc:
                log.warning("Bot API not reachable (%s); retrying in %.0f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_INITIALIZE_BACKOFF)

    async def _set_commands(self) -> None:
        menu = self.host.config.texts.command_menu
        await self._courtesy(
            self.application.bot.set_my_commands(
                [BotCommand(name, text) for name, text in menu.items()]
            ),
            "setMyCommands",
        )

    async def _handle(self, update: Update) -> None:
        inbound = to_inbound(update, self.application.bot.id)
        if update.callback_query is not None:
            await self._courtesy(update.callback_query.answer(), "answerCallbackQuery")
        if inbound is None:
            return
        if inbound.kind is InboundKind.FILE and inbound.file is not None:
            inbound = replace(inbound, file=await self._fetch(inbound, inbound.file))
        if update.callback_query is not None and isinstance(
            update.callback_query.message, Message
        ):
            # The choice is made: take the buttons away so an old message cannot be pressed again.
            await self._courtesy(
                update.callback_query.message.edit_reply_markup(reply_markup=None),
                "editMessageReplyMarkup",
            )
        await self.host.receive(inbound, typing=self._typing_in(inbound.chat_id))

    async def _fetch(self, inbound: Inbound, incoming: IncomingFile) -> IncomingFile:
        """Download a file if its sender may send one and it is within the configured limits."""
        if not await self.host.accepts_files(inbound):
            return incoming
        rules = self.host.config.desk.documents
        data_dir = self.settings.csobot_data_dir
        key = f"{CHANNEL}:{incoming.unique_id or incoming.platform_id}"
        settled = before_download(incoming, rules, data_dir, key)
        if settled is not None:  # refused, or processed before (a retry): no download
            return settled
        try:
            telegram_file = await self.application.bot.get_file(incoming.platform_id)
            if (telegram_file.file_size or 0) > rules.max_bytes:  # larger than announced
                return replace(incoming, error="too_large", size=telegram_file.file_size or 0)
            content = bytes(await telegram_file.download_as_bytearray())
        except TelegramError as exc:
            log.warning("download of %s failed: %s", incoming.name, exc)
            return replace(incoming, error="download_failed")
        return after_download(incoming, content, rules, data_dir, key)

    def _typing_in(self, chat_id: str) -> Callable[[], None]:
        def typing() -> None:
            call = self.application.bot.send_chat_action(
                chat_id=int(chat_id), action=ChatAction.TYPING
            )
            task = asyncio.create_task(self._courtesy(call, "sendChatAction"))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        return typing

    async def _courtesy(self, call: Awaitable[Any], name: str) -> None:
        try:
            await call
        except TelegramError as exc:
            log.warning("%s failed (not essential): %s", name, exc)
