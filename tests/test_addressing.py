"""Addresses into deliveries (bot/addressing.py): against a real SQLite database and a config
loaded from YAML like config.yaml."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.addresses import ToDesk, ToStaff, ToStaffRole, ToStakeholder
from bot.addressing import AddressBook, Delivery
from bot.config import Config, load_config
from bot.store import db
from bot.store.db import SessionFactory
from bot.store.models import Stakeholder, Ticket, TicketStatus
from tests.conftest import MONDAY_MORNING, config_for_tests

GROUP = -1001234567890
DOCUMENTS = {"accepted_types": ["pdf"], "max_size_mb": 1}
STAFF: list[dict[str, Any]] = [
    {"name": "Andi CSO", "role": "cso", "telegram_id": 8001, "terminal_user": "andi"},
    {"name": "Budi CSO", "role": "cso", "telegram_id": 8002},
    {"name": "Cici CSO", "role": "cso", "terminal_user": "cici"},  # no Telegram account
    {
        "name": "Citra Kasi PD",
        "role": "kepala_seksi",
        "section": "pencairan",
        "telegram_id": 8101,
    },
    {"name": "Dedi Kasi Bank", "role": "kepala_seksi", "section": "bank", "telegram_id": 8102},
    {"name": "Eka Supervisor", "role": "supervisor", "telegram_id": 8201, "terminal_user": "eka"},
]


def config(tmp_path: Path, **desk: Any) -> Config:
    return load_config(
        config_for_tests(tmp_path, staff=STAFF, desk={"documents": DOCUMENTS, **desk})
    )


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[SessionFactory]:
    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'addresses.db'}")
    try:
        await db.upgrade(engine)
        yield db.session_factory(engine)
    finally:
        await engine.dispose()


class Data:
    """A stakeholder on the test channel with an unassigned ticket and tickets of staff."""

    def __init__(self, stakeholder: int, unassigned: int, andi: int, cici: int, gone: int) -> None:
        self.stakeholder = stakeholder
        self.unassigned = unassigned
        self.andi = andi  # assigned to Andi CSO (accounts on Telegram and the terminal)
        self.cici = cici  # assigned to Cici CSO (terminal only)
        self.gone = gone  # assigned to someone no longer in config.yaml


@pytest.fixture
async def data(sessions: SessionFactory) -> Data:
    async with sessions() as session:
        person = Stakeholder(
            channel="test",
            channel_user_id="u-1001",
            chat_id="c-1001",
            full_name="Siti Rahmawati",
            consent_at=MONDAY_MORNING,
            created_at=MONDAY_MORNING,
            updated_at=MONDAY_MORNING,
        )
        session.add(person)
        await session.flush()
        assert person.id is not None
        ids = []
        for number, assignee in enumerate([None, "Andi CSO", "Cici CSO", "Fajar Pensiun"], 1):
            ticket = Ticket(
                number=f"KNS-20261123-000{number}",
                office="pekalongan",
                stakeholder_id=person.id,
                channel="test",
                status=TicketStatus.QUEUED if assignee is None else TicketStatus.IN_PROGRESS,
                question="bagaimana prosedur mutasi pegawai",
                assignee=assignee,
                opened_at=MONDAY_MORNING,
                updated_at=MONDAY_MORNING,
            )
            session.add(ticket)
            await session.flush()
            assert ticket.id is not None
            ids.append(ticket.id)
        await session.commit()
        return Data(person.id, *ids)


async def resolve(book: AddressBook, sessions: SessionFactory, address: Any) -> list[Delivery]:
    async with sessions() as session:
        return await book.resolve(session, address)


async def test_a_stakeholder_is_reached_on_their_own_channel_and_chat(
    tmp_path: Path, sessions: SessionFactory, data: Data
) -> None:
    for book in (
        AddressBook(config(tmp_path)),
        AddressBook(config(tmp_path, group_id=GROUP)),
        AddressBook(config(tmp_path), desk_channel="terminal"),
    ):
        assert await resolve(book, sessions, ToStakeholder(data.stakeholder)) == [
            Delivery("test", "c-1001")
        ]
        assert await resolve(book, sessions, ToStakeholder(data.stakeholder + 99)) == []


async def test_the_desk_of_any_ticket_is_the_staff_group_when_there_is_one(
    tmp_path: Path, sessions: SessionFactory, data: Data
) -> None:
    book = AddressBook(config(tmp_path, channel="telegram", group_id=GROUP))
    for ticket_id in (data.unassigned, data.andi, data.cici):
        assert await resolve(book, sessions, ToDesk(ticket_id)) == [
            Delivery("telegram", str(GROUP), ticket_id)
        ]
    # The earlier layout means the same.
    earlier = load_config(
        config_for_tests(
            tmp_path, staff=STAFF, desk={"telegram_group_id": GROUP, "documents": DOCUMENTS}
        )
    )
    assert (earlier.desk.channel, earlier.desk.group_id) == ("telegram", GROUP)
    assert await resolve(AddressBook(earlier), sessions, ToDesk(data.unassigned)) == [
        Delivery("telegram", str(GROUP), data.unassigned)
    ]


async def test_without_a_group_the_desk_is_the_assignee_on_the_desk_channel(
    tmp_path: Path, sessions: SessionFactory, data: Data
) -> None:
    book = AddressBook(config(tmp_path))
    assert book.desk_channel == "telegram" and book.desk_group is None
    assert await resolve(book, sessions, ToDesk(data.andi)) == [Delivery("telegram", "8001")]
    assert await resolve(book, sessions, ToDesk(data.unassigned)) == []
    assert await resolve(book, sessions, ToDesk(data.cici)) == []  # no Telegram account
    assert await resolve(book, sessions, ToDesk(data.gone)) == []  # not in config.yaml
    assert await resolve(book, sessions, ToDesk(data.gone + 99)) == []  # no such ticket


async def test_a_role_reaches_those_with_it_who_have_an_account(
    tmp_path: Path, sessions: SessionFactory, data: Data
) -> None:
    book = AddressBook(config(tmp_path))
    assert await resolve(book, sessions, ToStaffRole("kepala_seksi", "pencairan")) == [
        Delivery("telegram", "8101")
    ]
    assert await resolve(book, sessions, ToStaffRole("kepala_seksi", "bank")) == [
        Delivery("telegram", "8102")
    ]
    assert await resolve(book, sessions, ToStaffRole("kepala_seksi")) == [
        Delivery("telegram", "8101"),
        Delivery("telegram", "8102"),
    ]
    assert await resolve(book, sessions, ToStaffRole("kepala_seksi", "umum")) == []
    # Cici has no Telegram account: skipped.
    assert await resolve(book, sessions, ToStaffRole("cso")) == [
        Delivery("telegram", "8001"),
        Delivery("telegram", "8002"),
    ]
    assert await resolve(book, sessions, ToStaffRole("supervisor")) == [
        Delivery("telegram", "8201")
    ]


async def test_one_staff_member_by_name(
    tmp_path: Path, sessions: SessionFactory, data: Data
) -> None:
    book = AddressBook(config(tmp_path))
    assert await resolve(book, sessions, ToStaff("Eka Supervisor")) == [
        Delivery("telegram", "8201")
    ]
    assert await resolve(book, sessions, ToStaff("Cici CSO")) == []
    assert await resolve(book, sessions, ToStaff("Fajar Pensiun")) == []


async def test_on_the_terminal_staff_are_their_terminal_users(
    tmp_path: Path, sessions: SessionFactory, data: Data
) -> None:
    """`csobot chat` puts the desk in the terminal: AddressBook(config, desk_channel=…)."""
    loaded = config(tmp_path)
    book = AddressBook(loaded, desk_channel="terminal")
    assert await resolve(book, sessions, ToStaffRole("cso")) == [
        Delivery("terminal", "andi"),
        Delivery("terminal", "cici"),
    ]
    assert await resolve(book, sessions, ToStaffRole("kepala_seksi", "pencairan")) == []
    assert await resolve(book, sessions, ToStaff("Eka Supervisor")) == [
        Delivery("terminal", "eka")
    ]
    assert await resolve(book, sessions, ToDesk(data.andi)) == [Delivery("terminal", "andi")]
    assert await resolve(book, sessions, ToDesk(data.cici)) == [Delivery("terminal", "cici")]
    assert await resolve(book, sessions, ToDesk(data.unassigned)) == []
    # The same from config.yaml's desk.channel.
    configured = AddressBook(config(tmp_path, channel="terminal"))
    assert configured.desk_channel == "terminal"
    assert await resolve(configured, sessions, ToStaffRole("cso")) == [
        Delivery("terminal", "andi"),
        Delivery("terminal", "cici"),
    ]


async def test_a_telegram_group_is_left_out_when_the_desk_moves_to_the_terminal(
    tmp_path: Path, sessions: SessionFactory, data: Data
) -> None:
    """A `-100…` group id means nothing on the terminal: desk posts go to the officer instead."""
    book = AddressBook(
        config(tmp_path, channel="telegram", group_id=GROUP), desk_channel="terminal"
    )
    assert book.desk_group is None
    assert await resolve(book, sessions, ToDesk(data.andi)) == [Delivery("terminal", "andi")]


async def test_build_runtime_moves_the_desk_for_csobot_chat(tmp_path: Path) -> None:
    from bot.runtime import build_runtime
    from tests.conftest import make_settings

    path = config_for_tests(
        tmp_path, staff=STAFF, desk={"group_id": GROUP, "documents": DOCUMENTS}
    )
    runtime = await build_runtime(
        make_settings(tmp_path, csobot_config=path), desk_channel="terminal"
    )
    try:
        assert (runtime.config.desk.channel, runtime.config.desk.group_id) == ("terminal", None)
        assert runtime.engine.addresses.desk_channel == "terminal"
    finally:
        await runtime.close()
