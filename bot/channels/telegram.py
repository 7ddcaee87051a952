"""Telegram adapter (python-telegram-bot v22): updates → Inbound, Outbound → Bot API calls.

It runs against any Bot API server given by TELEGRAM_API_BASE_URL (official, an office's local
server, the tests' fake). Only sending replies is essential; the command menu, chat actions,
callback answers and keyboard clean-up are courtesies whose failure is logged and forgotten.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
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
from telegram.ext import AIORateLimiter, Application, ContextTypes, TypeHandler

from bot.buttons import decode
from bot.channels.base import (
    ChannelHost,
    PermanentDeliveryError,
    TemporaryDeliveryError,
)
from bot.files import file_type, problem, sanitise_name, store_incoming
from bot.messages import (
    Inbound,
    InboundKind,
    IncomingFile,
    Outbound,
    ThreadAction,
    parse_command,
)
from bot.settings import Settings

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


class StartupError(Exception):
    """The Bot API refuses us for good (e.g. a wrong token): retrying cannot help."""


def to_inbound(update: Update, bot_id: int) -> Inbound | None:
    """Translate one update; None for updates the SOP has nothing to do with."""
    key = f"{CHANNEL}:{bot_id}:{update.update_id}"
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
            photo.file_id, f"foto-{photo.file_unique_id}.jpg", "jpg", photo.file_size or 0
        )
    document = message.document
    if document is not None:
        name = sanitise_name(document.file_name or f"berkas-{document.file_unique_id}")
        return IncomingFile(
            document.file_id, name, file_type(name, document.mime_type), document.file_size or 0
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

    def __init__(self, application: Application, data_dir: Path) -> None:  # type: ignore[type-arg]
        self.application = application
        self.data_dir = data_dir

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
                await bot.send_message(chat_id=chat, text=outbound.text, message_thread_id=thread)
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
            with path.open("rb") as handle:
                sent = await bot.send_document(
                    chat_id=chat,
                    document=handle,
                    filename=file.name or path.name,
                    caption=outbound.text[:1024],
                    message_thread_id=thread,
                )
            return str(sent.message_id)
        message = await bot.send_message(
            chat_id=chat,
            text=outbound.text,
            reply_markup=reply_markup(outbound),
            message_thread_id=thread,
        )
        return str(message.message_id)


class TelegramChannel:
    """Telegram as a channel of the host: polling, or a webhook route in the host's web app."""

    name = CHANNEL
    initial_backoff = 1.0  # seconds before the first retry of an unreachable Bot API

    def __init__(self, settings: Settings, *, webhook: bool = False) -> None:
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
        builder = (
            Application.builder()
            .token(token.get_secret_value())
            .base_url(settings.telegram_api_base_url)
            .base_file_url(settings.telegram_file_base_url)
            .rate_limiter(AIORateLimiter(max_retries=3))
        )
        if webhook:
            builder = builder.updater(None)  # updates arrive through the /telegram route
        self.application = builder.build()
        self.application.add_handler(TypeHandler(Update, self._on_update))
        self.application.add_error_handler(self._on_error)
        self.sender = TelegramSender(self.application, settings.csobot_data_dir)
        self._host: ChannelHost | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

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
        await self.application.start()
        if self.webhook:
            await self._set_webhook_with_retry()
        else:
            assert self.application.updater is not None
            await self.application.updater.start_polling(
                allowed_updates=ALLOWED_UPDATES,
                bootstrap_retries=-1,
                timeout=timedelta(seconds=30),
            )
        mode = "webhook" if self.webhook else "polling"
        log.info("%s Telegram as @%s", mode, self.application.bot.username)

    async def stop(self) -> None:
        if self.application.updater is not None and self.application.updater.running:
            await self.application.updater.stop()
        if self.application.running:
            await self.application.stop()
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

    async def _receive_webhook(self, request: Request) -> Response:
        """Each update is handled before answering, so a failure (HTTP 500) makes Telegram deliver
        it again; the idempotency key keeps it once."""
        assert self.settings.telegram_webhook_secret is not None
        secret = self.settings.telegram_webhook_secret.get_secret_value()
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            return PlainTextResponse("forbidden", status_code=403)
        try:
            update = Update.de_json(await request.json(), self.application.bot)
        except (ValueError, TypeError, KeyError):
            return PlainTextResponse("bad update", status_code=400)
        if update is None:
            return PlainTextResponse("bad update", status_code=400)
        await self.application.process_update(update)
        return PlainTextResponse("ok")

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

    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
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
        reason = problem(incoming.name, incoming.file_type, incoming.size, rules)
        if reason is not None:
            return replace(incoming, error=reason)
        try:
            telegram_file = await self.application.bot.get_file(incoming.platform_id)
            content = bytes(await telegram_file.download_as_bytearray())
        except TelegramError as exc:
            log.warning("download of %s failed: %s", incoming.name, exc)
            return replace(incoming, error="download_failed")
        if len(content) > rules.max_bytes:
            return replace(incoming, error="too_large")
        stored, digest = store_incoming(self.settings.csobot_data_dir, content)
        return replace(incoming, stored=stored, sha256=digest, size=len(content))

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

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("error while handling an update", exc_info=context.error)
