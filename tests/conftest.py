"""Shared fixtures: a real runtime on a temporary SQLite file, a fixed clock, and a fake chat."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func
from sqlmodel import SQLModel, col, select
from starlette.routing import BaseRoute

from bot.buttons import Action, decode
from bot.channels.base import ChannelHost
from bot.clock import FakeClock
from bot.host import Host
from bot.messages import Button, Inbound, InboundKind, Outbound, parse_command
from bot.runtime import Runtime, build_runtime
from bot.settings import Settings
from bot.store.models import Message, Stakeholder, Ticket, TicketEvent
from tests.fakes.bot_api import FakeBotApi

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_KB = ROOT / "tests" / "data" / "kb"
# Monday 23 November 2026, 09:00 WIB: inside service hours.
MONDAY_MORNING = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


# The fixture knowledge base is small and stable; these thresholds separate its topics. The shipped
# config.yaml keeps thresholds calibrated for the shipped knowledge base, which may change.
TEST_MATCHER = {
    "answer_score": 55,
    "answer_margin": 15,
    "clarify_score": 44,
    "option_score": 30,
    "min_similarity": 25,
    "max_candidates": 3,
    "offer_score": None,  # four topics: every question has a best guess; unknown ones go to a CSO
}


def config_for_tests(tmp_path: Path, **changes: Any) -> Path:
    """The shipped config.yaml with the test thresholds (and any other top-level `changes`)."""
    data = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    data.update({"matcher": TEST_MATCHER, **changes})
    path = tmp_path / f"config-{len(list(tmp_path.glob('config-*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'csobot.db'}",
        "csobot_config": config_for_tests(tmp_path),
        "csobot_knowledge_dir": FIXTURE_KB,
        "csobot_data_dir": tmp_path / "data",
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
async def bot_api() -> AsyncIterator[FakeBotApi]:
    """A fake Telegram Bot API server on 127.0.0.1 for the real PTB client."""
    server = FakeBotApi()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(MONDAY_MORNING)


@pytest.fixture
async def runtime(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Runtime]:
    runtime = await build_runtime(make_settings(tmp_path), clock=clock)
    yield runtime
    await runtime.close()


class RecordingSender:
    def __init__(self, channel: str = "test") -> None:
        self.channel = channel
        self.delivered: list[tuple[str, Outbound]] = []

    def thread_link(self, chat_id: str, thread_id: str) -> str | None:
        return None

    async def send(self, chat_id: str, outbound: Outbound, thread_id: str | None = None) -> str:
        self.delivered.append((chat_id, outbound))
        return f"m{len(self.delivered)}"


class RecordingChannel:
    """A channel whose sender records what it was asked to deliver."""

    def __init__(self, name: str = "test") -> None:
        self.name = name
        self.sender = RecordingSender(name)

    async def start(self, host: ChannelHost) -> None:
        pass

    async def stop(self) -> None:
        pass

    def routes(self) -> list[BaseRoute]:
        return []

    async def check(self) -> str | None:
        return None

    async def process(self, payload: dict[str, Any], attempt: int = 0) -> None:
        pass


class FakeChat:
    """Talk to the real engine like a stakeholder would: send, press, share; read the replies."""

    def __init__(self, runtime: Runtime, user_id: str = "1001", channel: str = "test") -> None:
        self.runtime = runtime
        self.user_id = user_id
        self.channel = RecordingChannel(channel)
        self.sender = self.channel.sender
        self.host = Host(runtime, [self.channel])
        self.replies: list[Outbound] = []
        self._sequence = 0

    async def _deliver(self, inbound: Inbound) -> list[Outbound]:
        before = len(self.sender.delivered)
        await self.host.receive(inbound)
        await self.host.drain()
        self.replies = [outbound for _, outbound in self.sender.delivered[before:]]
        return self.replies

    def _inbound(self, kind: InboundKind, **fields: Any) -> Inbound:
        self._sequence += 1
        return Inbound(
            channel=self.channel.name,
            user_id=self.user_id,
            chat_id=self.user_id,
            update_key=f"test:{self.user_id}:{self._sequence}:{id(self)}",
            kind=kind,
            **fields,
        )

    async def send(self, text: str) -> list[Outbound]:
        parsed = parse_command(text)
        if parsed is not None:
            command, args = parsed
            return await self._deliver(
                self._inbound(InboundKind.COMMAND, command=command, args=args, text=text)
            )
        return await self._deliver(self._inbound(InboundKind.TEXT, text=text))

    async def send_raw(self, inbound: Inbound) -> list[Outbound]:
        return await self._deliver(inbound)

    def button(self, label: str) -> Button:
        for reply in reversed(self.replies):
            for button in reply.buttons:
                if button.label == label:
                    return button
        raise AssertionError(
            f"no button {label!r} in {[b.label for r in self.replies for b in r.buttons]}"
        )

    async def press(self, label: str) -> list[Outbound]:
        pressed = self.button(label)
        if pressed.action is None:  # a reply-keyboard choice sends its label as text
            return await self.send(pressed.label)
        return await self.press_action(pressed.action)

    async def press_data(self, data: str) -> list[Outbound]:
        """A button press carrying raw data (as a forged or stale callback would)."""
        return await self.press_action(decode(data))

    async def press_action(self, pressed: Action | None) -> list[Outbound]:
        return await self._deliver(self._inbound(InboundKind.BUTTON, action=pressed))

    async def share_contact(self, phone: str, owner: str | None = None) -> list[Outbound]:
        return await self._deliver(
            self._inbound(
                InboundKind.CONTACT, phone=phone, contact_user_id=owner or self.user_id, text=phone
            )
        )

    async def send_media(self, media: str) -> list[Outbound]:
        return await self._deliver(self._inbound(InboundKind.UNSUPPORTED, media=media))

    @property
    def text(self) -> str:
        return "\n---\n".join(reply.text for reply in self.replies)

    async def identify(self, role: str = "PPK", name: str = "Siti Rahmawati") -> None:
        await self.send("/start")
        await self.press("Setuju")
        if any(
            b.label == "Ya, kirimi kabar" for b in self.channel.sender.delivered[-1][1].buttons
        ):
            await self.press("Ya, kirimi kabar")  # WhatsApp asks for the notifications opt-in
        await self.send(name)
        await self.press(role)
        role_config = next(r for r in self.runtime.config.roles if r.label == role)
        if role_config.needs_satker_code:
            await self.send("123456")
        await self.send("Satker Contoh")
        await self.send("Lewati")

    async def ticket(self) -> Ticket:
        async with self.runtime.sessions() as session:
            query = select(Ticket).order_by(Ticket.id.desc()).limit(1)  # type: ignore[union-attr]
            ticket = (await session.exec(query)).one_or_none()
        assert ticket is not None, "no ticket"
        return ticket

    async def stakeholder(self) -> Stakeholder | None:
        async with self.runtime.sessions() as session:
            query = select(Stakeholder).where(Stakeholder.channel_user_id == self.user_id)
            return (await session.exec(query)).one_or_none()


@pytest.fixture
def chat(runtime: Runtime) -> FakeChat:
    return FakeChat(runtime)


async def count(runtime: Runtime, model: type[SQLModel]) -> int:
    async with runtime.sessions() as session:
        return int((await session.exec(select(func.count()).select_from(model))).one())


async def rows(runtime: Runtime, model: type[SQLModel], order: Any = None) -> list[Any]:
    async with runtime.sessions() as session:
        query = select(model)
        if order is not None:
            query = query.order_by(order)
        return list((await session.exec(query)).all())


async def events(runtime: Runtime, ticket_id: int | None) -> list[tuple[str | None, str]]:
    async with runtime.sessions() as session:
        query = (
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket_id)
            .order_by(col(TicketEvent.id))
        )  # type: ignore[arg-type]
        return [(e.from_status, e.to_status) for e in (await session.exec(query)).all()]


async def texts_to(runtime: Runtime, chat_id: str) -> list[str]:
    """Texts queued to `chat_id`, oldest first (also those to staff, delivered or not)."""
    async with runtime.sessions() as session:
        query = select(Message).where(Message.chat_id == chat_id, Message.direction == "out")
        return [m.text for m in (await session.exec(query.order_by(col(Message.id)))).all()]


async def transcript(runtime: Runtime) -> list[tuple[str, str]]:
    return [(m.direction, m.text) for m in await rows(runtime, Message, Message.id)]


def postgres_url() -> str | None:
    return os.environ.get("CSOBOT_TEST_POSTGRES_URL") or None


@asynccontextmanager
async def postgres_database(base_url: str) -> AsyncIterator[str]:
    """A throwaway database on the server of `base_url`, dropped afterwards; yields its URL."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from bot.store import db

    base = make_url(base_url)
    name = f"csobot_test_{uuid.uuid4().hex[:12]}"
    admin = db.create_engine(base.render_as_string(hide_password=False))
    try:
        async with admin.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def start_telegram(runtime: Runtime, *, webhook: bool = False) -> Host:
    """csobot on Telegram (the real PTB stack) in a started host; start-up retries 100× faster."""
    from bot.channels.telegram import TelegramChannel

    channel = TelegramChannel(runtime.settings, webhook=webhook)
    channel.initial_backoff = 0.01
    host = Host(runtime, [channel])
    await host.start()
    return host
