"""A fake Telegram Bot API server on 127.0.0.1 that the real PTB client talks to.

It queues updates for getUpdates, answers the methods csobot uses, records every request
(method and decoded parameters) for assertions, and can be told to fail a method (HTTP 500,
429 with retry_after, a network drop) to exercise retries. Like Telegram, it refuses (HTTP 400)
a message text over 4,096 UTF-16 code units and a caption over 1,024.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BOT_ID = 7000001
BOT_USERNAME = "csobot_test_bot"
JSON_FIELDS = {"reply_markup", "commands", "allowed_updates", "scope", "entities"}
TEXT_LIMIT = 4096  # Telegram's limits, in UTF-16 code units
CAPTION_LIMIT = 1024
CAPTIONED = {"sendDocument", "sendPhoto", "copyMessage"}


@dataclass
class Request:
    method: str
    params: dict[str, Any]
    failed: bool = False
    at: float = field(default_factory=time.monotonic)  # when it arrived (benchmarks)


@dataclass
class FakeBotApi:
    host: str = "127.0.0.1"
    requests: list[Request] = field(default_factory=list)
    failures: dict[str, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)
    _updates: list[dict[str, Any]] = field(default_factory=list)
    _update_ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _message_ids: itertools.count = field(default_factory=lambda: itertools.count(100))
    _new_update: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None
    port: int = 0
    files: dict[str, bytes] = field(default_factory=dict)
    _thread_ids: itertools.count = field(default_factory=lambda: itertools.count(500))

    # ---- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.*}", self._download)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/bot"

    @property
    def file_base_url(self) -> str:
        return f"http://{self.host}:{self.port}/file/bot"

    # ---- what tests do -----------------------------------------------------------------------
    def fail(self, method: str, status: int, times: int = 1, **body: Any) -> None:
        """Answer the next `times` calls of `method` with an error (e.g. 429 with retry_after)."""
        self.failures.setdefault(method, []).extend([(status, body)] * times)

    def push(self, update: dict[str, Any]) -> int:
        update_id = next(self._update_ids)
        self._updates.append({"update_id": update_id, **update})
        self._new_update.set()
        return update_id

    def text_update(self, user: int, text: str) -> dict[str, Any]:
        """A complete update (as Telegram would post it to a webhook), not queued for polling."""
        message = self._message(user)
        message["text"] = text
        if text.startswith("/"):
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": len(text.split()[0])}
            ]
        return {"update_id": next(self._update_ids), "message": message}

    def push_text(
        self, user: int, text: str, chat_type: str = "private", chat_id: int | None = None
    ) -> int:
        message = self._message(user, chat_type, chat_id)
        message["text"] = text
        if text.startswith("/"):
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": len(text.split()[0])}
            ]
        return self.push({"message": message})

    def push_edited(self, user: int, text: str) -> int:
        message = self._message(user)
        message["text"] = text
        message["edit_date"] = int(time.time())
        return self.push({"edited_message": message})

    def push_contact(self, user: int, phone: str, contact_user: int | None = None) -> int:
        message = self._message(user)
        message["contact"] = {
            "phone_number": phone,
            "first_name": "Kontak",
            "user_id": contact_user if contact_user is not None else user,
        }
        return self.push({"message": message})

    def push_sticker(self, user: int) -> int:
        message = self._message(user)
        message["sticker"] = {
            "file_id": "sticker1",
            "file_unique_id": "s1",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        }
        return self.push({"message": message})

    def push_voice(self, user: int) -> int:
        message = self._message(user)
        message["voice"] = {"file_id": "voice1", "file_unique_id": "v1", "duration": 3}
        return self.push({"message": message})

    def push_location(self, user: int) -> int:
        message = self._message(user)
        message["location"] = {"latitude": -6.89, "longitude": 109.67}
        return self.push({"message": message})

    def push_group_text(
        self, user: int, chat_id: int, text: str, thread_id: int | None = None
    ) -> int:
        """A message in a supergroup, inside forum topic `thread_id` when given."""
        message = self._message(user, "supergroup", chat_id)
        message["chat"]["is_forum"] = True
        message["text"] = text
        if text.startswith("/"):
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": len(text.split()[0])}
            ]
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
        return self.push({"message": message})

    def push_document(
        self,
        user: int,
        name: str,
        content: bytes,
        mime: str = "application/pdf",
        size: int | None = None,
        chat_id: int | None = None,
        thread_id: int | None = None,
        caption: str | None = None,
    ) -> int:
        file_id = f"doc{len(self.files) + 1}"
        self.files[file_id] = content
        message = self._message(user, "private" if chat_id is None else "supergroup", chat_id)
        message["document"] = {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_name": name,
            "mime_type": mime,
            "file_size": size if size is not None else len(content),
        }
        if caption:
            message["caption"] = caption
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
        return self.push({"message": message})

    def push_photo(self, user: int, content: bytes, caption: str | None = None) -> int:
        file_id = f"photo{len(self.files) + 1}"
        self.files[file_id] = content
        message = self._message(user)
        message["photo"] = [
            {
                "file_id": f"{file_id}s",
                "file_unique_id": f"u{file_id}s",
                "width": 90,
                "height": 90,
                "file_size": 10,
            },
            {
                "file_id": file_id,
                "file_unique_id": f"u{file_id}",
                "width": 800,
                "height": 800,
                "file_size": len(content),
            },
        ]
        if caption:
            message["caption"] = caption
        return self.push({"message": message})

    def push_callback(
        self, user: int, data: str, message_id: int | None = None, chat: int | None = None
    ) -> int:
        """Press a button; by default on the newest message with it that the bot sent in the
        user's chat (or in `chat`, a group)."""
        return self.push(self.callback_update(user, data, message_id, chat))

    def callback_update(
        self, user: int, data: str, message_id: int | None = None, chat: int | None = None
    ) -> dict[str, Any]:
        """A button press as an update (without update_id: `push` or a webhook post adds it)."""
        source = self._sent_message_with_button(user, data, message_id, chat)
        return {
            "callback_query": {
                "id": f"cb{next(self._update_ids)}",
                "from": self._user(user),
                "chat_instance": f"ci{user}",
                "data": data,
                "message": source,
            }
        }

    def sent(self, method: str = "sendMessage", chat_id: int | None = None) -> list[Request]:
        """Successful calls of `method` (to `chat_id`)."""
        return [
            r
            for r in self.requests
            if r.method == method
            and not r.failed
            and (chat_id is None or str(r.params.get("chat_id")) == str(chat_id))
        ]

    def texts(self, chat_id: int) -> list[str]:
        """Texts of messages the server accepted (failed attempts are left out)."""
        return [str(r.params["text"]) for r in self.sent("sendMessage", chat_id)]

    def requests_for(self, method: str, chat_id: int) -> list[Request]:
        """Every attempt, including those answered with an injected failure."""
        return [
            r
            for r in self.requests
            if r.method == method and str(r.params.get("chat_id")) == str(chat_id)
        ]

    async def wait_for(self, predicate: Any, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out; requests so far: {[r.method for r in self.requests]}"
                )
            await asyncio.sleep(0.02)

    async def wait_for_messages(
        self, chat_id: int, count: int, timeout: float = 10.0
    ) -> list[str]:
        await self.wait_for(lambda: len(self.sent("sendMessage", chat_id)) >= count, timeout)
        return self.texts(chat_id)

    async def wait_consumed(self, timeout: float = 10.0) -> None:
        """Until the bot has fetched every pushed update."""
        await self.wait_for(lambda: not self._updates, timeout)

    # ---- server side ---------------------------------------------------------------------------
    def _user(self, user: int) -> dict[str, Any]:
        return {"id": user, "is_bot": False, "first_name": f"User{user}", "language_code": "id"}

    def _message(
        self, user: int, chat_type: str = "private", chat_id: int | None = None
    ) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": chat_id if chat_id is not None else user, "type": chat_type}
        if chat_type != "private":
            chat["title"] = "Grup"
        return {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": self._user(user),
        }

    def _sent_message_with_button(
        self, user: int, data: str, message_id: int | None, chat: int | None = None
    ) -> dict[str, Any]:
        for request in reversed(self.sent("sendMessage", chat if chat is not None else user)):
            markup = request.params.get("reply_markup") or {}
            keyboard = markup.get("inline_keyboard")
            if not keyboard:
                continue
            result = request.params["_result"]
            if message_id is not None and result["message_id"] != message_id:
                continue
            if not any(b.get("callback_data") == data for row in keyboard for b in row):
                continue
            return result
        # A button from a message we never sent (forged or from long ago).
        return {**self._message(user), "from": self._bot(), "text": "?"}

    def _bot(self) -> dict[str, Any]:
        return {"id": BOT_ID, "is_bot": True, "first_name": "csobot", "username": BOT_USERNAME}

    def push_group_callback(self, user: int, data: str, group: int) -> int:
        """Press a button the bot showed in a group (e.g. in a forum topic)."""
        return self.push_callback(user, data, chat=group)

    async def _download(self, request: web.Request) -> web.Response:
        self.requests.append(Request("download", {"path": request.match_info["path"]}))
        content = self.files.get(request.match_info["path"].rsplit("/", 1)[-1])
        if content is None:
            return web.Response(status=404)
        return web.Response(body=content)

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        record = Request(method, params)
        self.requests.append(record)
        queued = self.failures.get(method)
        if queued:
            status, body = queued.pop(0)
            record.failed = True
            body = dict(body)
            if status == 0:  # a dropped connection
                assert request.transport is not None
                request.transport.close()
                return web.Response(status=500)
            description = body.pop("description", "Injected failure")
            payload: dict[str, Any] = {
                "ok": False,
                "error_code": status,
                "description": description,
            }
            if status == 429:
                payload["parameters"] = {"retry_after": body.get("retry_after", 1)}
                payload["description"] = (
                    f"Too Many Requests: retry after {body.get('retry_after', 1)}"
                )
            return web.json_response(payload, status=status)
        refusal = self._too_long(method, params)
        if refusal is not None:
            record.failed = True
            return web.json_response(
                {"ok": False, "error_code": 400, "description": refusal}, status=400
            )
        result = await self._result(method, params)
        if method == "sendMessage":
            params["_result"] = result
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    def _too_long(method: str, params: dict[str, Any]) -> str | None:
        """Telegram's refusal of a text or caption over its limit (UTF-16 code units)."""

        def units(value: Any) -> int:
            return len(str(value or "").encode("utf-16-le", "surrogatepass")) // 2

        if method == "sendMessage" and units(params.get("text")) > TEXT_LIMIT:
            return "Bad Request: message is too long"
        if method in CAPTIONED and units(params.get("caption")) > CAPTION_LIMIT:
            return "Bad Request: message caption is too long"
        return None

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            return dict(await request.json())
        form = await request.post()
        params: dict[str, Any] = {}
        for key, value in form.items():
            if isinstance(value, str) and key in JSON_FIELDS:
                params[key] = json.loads(value)
            else:
                params[key] = value
        return params

    async def _result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return {
                **self._bot(),
                "can_join_groups": True,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            }
        if method == "getUpdates":
            offset = int(params.get("offset", 0) or 0)
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            if not self._updates:
                self._new_update.clear()
                timeout = min(float(params.get("timeout", 0) or 0), 0.5)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._new_update.wait(), timeout=timeout)
            return list(self._updates)
        if method == "sendMessage":
            chat_id = int(params["chat_id"])
            message = {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
                "from": self._bot(),
                "text": params.get("text", ""),
            }
            if params.get("message_thread_id"):
                message["message_thread_id"] = int(params["message_thread_id"])
                message["is_topic_message"] = True
            if (
                isinstance(params.get("reply_markup"), dict)
                and "inline_keyboard" in params["reply_markup"]
            ):
                message["reply_markup"] = params["reply_markup"]
            return message
        if method == "editMessageReplyMarkup":
            return True
        if method == "createForumTopic":
            return {
                "message_thread_id": next(self._thread_ids),
                "name": params["name"],
                "icon_color": 7322096,
            }
        if method in {"closeForumTopic", "reopenForumTopic"}:
            return True
        if method == "getFile":
            file_id = str(params["file_id"])
            if file_id not in self.files:
                return {"file_id": file_id, "file_unique_id": f"u{file_id}"}
            return {
                "file_id": file_id,
                "file_unique_id": f"u{file_id}",
                "file_size": len(self.files[file_id]),
                "file_path": f"documents/{file_id}",
            }
        if method == "copyMessage":
            return {"message_id": next(self._message_ids)}
        if method == "sendDocument":
            upload = params.get("document")
            name = getattr(upload, "filename", "file")
            params["_upload"] = (
                name,
                upload.file.read() if upload is not None and hasattr(upload, "file") else b"",
            )
            return {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": {"id": int(params["chat_id"]), "type": "private"},
                "from": self._bot(),
                "document": {"file_id": "sent1", "file_unique_id": "usent1", "file_name": name},
                "caption": params.get("caption", ""),
            }
        if method in {
            "deleteWebhook",
            "setMyCommands",
            "sendChatAction",
            "answerCallbackQuery",
            "setWebhook",
            "close",
            "logOut",
            "deleteMyCommands",
        }:
            return True
        if method == "getWebhookInfo":
            return {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
        return True
