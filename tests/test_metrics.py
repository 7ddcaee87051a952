"""The Prometheus metrics: counters as counted, gauges as read from a real SQLite database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update
from sqlmodel import col

from bot.clock import FakeClock
from bot.metrics import Metrics
from bot.store import db
from bot.store.db import SessionFactory
from bot.store.models import (
    Direction,
    Message,
    OutboxItem,
    OutboxStatus,
    Stakeholder,
    Ticket,
    TicketStatus,
)

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)

Labels = tuple[tuple[str, str], ...]


def samples(metrics: Metrics) -> dict[tuple[str, Labels], float]:
    """Every sample of the rendered exposition, by (sample name, sorted labels)."""
    body, _content_type = metrics.render()
    found: dict[tuple[str, Labels], float] = {}
    for family in text_string_to_metric_families(body.decode("utf-8")):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def gauge(found: dict[tuple[str, Labels], float], name: str, **labels: str) -> float | None:
    return found.get((name, tuple(sorted(labels.items()))))


def series(found: dict[tuple[str, Labels], float], name: str) -> dict[Labels, float]:
    return {labels: value for (sample, labels), value in found.items() if sample == name}


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[SessionFactory]:
    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")
    try:
        await db.upgrade(engine)
        yield db.session_factory(engine)
    finally:
        await engine.dispose()


def test_counters_count_by_channel() -> None:
    metrics = Metrics()
    metrics.update_received("telegram")
    metrics.update_received("telegram")
    metrics.update_received("whatsapp")
    metrics.message_sent("telegram")
    metrics.message_sent("terminal")
    metrics.message_sent("terminal")
    metrics.message_sent("terminal")
    metrics.delivery_failed("telegram", permanent=False)
    metrics.delivery_failed("telegram", permanent=False)
    metrics.delivery_failed("telegram", permanent=True)

    body, content_type = metrics.render()
    text = body.decode("utf-8")
    assert content_type.startswith("text/plain")
    assert 'csobot_updates_total{channel="telegram"} 2.0' in text
    assert 'csobot_updates_total{channel="whatsapp"} 1.0' in text
    assert 'csobot_messages_sent_total{channel="telegram"} 1.0' in text
    assert 'csobot_messages_sent_total{channel="terminal"} 3.0' in text
    assert 'csobot_delivery_failures_total{channel="telegram",kind="temporary"} 2.0' in text
    assert 'csobot_delivery_failures_total{channel="telegram",kind="permanent"} 1.0' in text
    assert 'channel="whatsapp",kind=' not in text


def test_turn_histogram() -> None:
    metrics = Metrics()
    metrics.observe_turn("telegram", 0.004)
    metrics.observe_turn("telegram", 0.3)
    metrics.observe_turn("telegram", 12.0)  # beyond the last bucket: only in +Inf

    found = samples(metrics)
    name = "csobot_turn_seconds"
    assert gauge(found, f"{name}_count", channel="telegram") == 3
    assert gauge(found, f"{name}_sum", channel="telegram") == pytest.approx(12.304)
    assert gauge(found, f"{name}_bucket", channel="telegram", le="0.001") == 0
    assert gauge(found, f"{name}_bucket", channel="telegram", le="0.005") == 1
    assert gauge(found, f"{name}_bucket", channel="telegram", le="0.5") == 2
    assert gauge(found, f"{name}_bucket", channel="telegram", le="10.0") == 2
    assert gauge(found, f"{name}_bucket", channel="telegram", le="+Inf") == 3
    text = metrics.render()[0].decode("utf-8")
    assert 'csobot_turn_seconds_count{channel="telegram"} 3.0' in text
    assert 'csobot_turn_seconds_bucket{channel="telegram",le="0.005"} 1.0' in text


def test_instances_do_not_share_counts() -> None:
    first, second = Metrics(), Metrics()
    first.update_received("telegram")
    first.observe_turn("telegram", 0.01)

    assert first.registry is not second.registry
    found = samples(second)
    assert gauge(found, "csobot_updates_total", channel="telegram") is None
    assert gauge(found, "csobot_turn_seconds_count", channel="telegram") is None
    assert gauge(samples(first), "csobot_updates_total", channel="telegram") == 1


async def _seed(sessions: SessionFactory) -> list[int]:
    """Tickets in several statuses and an outbox; returns the ids of the pending rows."""
    async with sessions() as session:
        person = Stakeholder(
            channel="telegram",
            channel_user_id="42",
            chat_id="42",
            consent_at=NOW - timedelta(days=1),
            created_at=NOW - timedelta(days=1),
            updated_at=NOW - timedelta(days=1),
        )
        session.add(person)
        await session.flush()
        assert person.id is not None
        past, future = NOW - timedelta(hours=1), NOW + timedelta(days=2)
        tickets = [
            (TicketStatus.RESOLVED, past),  # past deadline but resolved: no breach
            (TicketStatus.RESOLVED, None),
            (TicketStatus.QUEUED, future),
            (TicketStatus.QUEUED, None),
            (TicketStatus.IN_PROGRESS, past),  # the one breach
        ]
        for number, (status, deadline) in enumerate(tickets):
            session.add(
                Ticket(
                    number=f"KPPN-{number}",
                    office="jakarta2",
                    stakeholder_id=person.id,
                    channel="telegram",
                    status=status,
                    question="Bagaimana cara mengajukan SP2D?",
                    opened_at=NOW - timedelta(days=4),
                    deadline_at=deadline,
                    updated_at=NOW - timedelta(days=4),
                )
            )
        outbox = [
            ("telegram", "42", OutboxStatus.PENDING, 90),
            ("telegram", "42", OutboxStatus.PENDING, 30),
            ("telegram", "42", OutboxStatus.SENT, 600),  # delivered: neither counted nor aged
            ("terminal", "local", OutboxStatus.SENDING, 5),
            ("terminal", "local", OutboxStatus.FAILED, 900),  # given up: not pending
        ]
        pending: list[OutboxItem] = []
        for channel, chat_id, state, age in outbox:
            message = Message(
                channel=channel,
                chat_id=chat_id,
                direction=Direction.OUT,
                actor="bot",
                kind="text",
                text="Terima kasih",
                created_at=NOW - timedelta(seconds=age),
            )
            session.add(message)
            await session.flush()
            assert message.id is not None
            item = OutboxItem(
                message_id=message.id,
                channel=channel,
                chat_id=chat_id,
                status=state,
                next_attempt_at=NOW,
            )
            session.add(item)
            if state == OutboxStatus.PENDING:
                pending.append(item)
        await session.commit()
    return [item.id for item in pending if item.id is not None]


async def test_refresh_sets_gauges_from_the_database(sessions: SessionFactory) -> None:
    pending = await _seed(sessions)
    assert len(pending) == 2
    metrics = Metrics()

    await metrics.refresh(sessions, NOW)

    found = samples(metrics)
    assert series(found, "csobot_outbox_pending") == {
        (("channel", "telegram"),): 2,
        (("channel", "terminal"),): 1,
    }
    assert series(found, "csobot_outbox_oldest_seconds") == {
        (("channel", "telegram"),): 90,
        (("channel", "terminal"),): 5,
    }
    open_tickets = series(found, "csobot_open_tickets")
    assert open_tickets == {
        (("status", "asked"),): 0,
        (("status", "answered"),): 0,
        (("status", "queued"),): 2,
        (("status", "in_progress"),): 1,
        (("status", "awaiting_documents"),): 0,
        (("status", "escalated"),): 0,
    }
    assert (("status", "resolved"),) not in open_tickets
    assert gauge(found, "csobot_sla_breaches") == 1

    # The telegram backlog is delivered: its series stay, at 0; the rest is unchanged.
    async with sessions() as session:
        await session.exec(
            update(OutboxItem)
            .where(col(OutboxItem.id).in_(pending))
            .values(status=OutboxStatus.SENT, sent_at=NOW)
        )
        await session.commit()
    later = NOW + timedelta(seconds=10)
    await metrics.refresh(sessions, later)

    found = samples(metrics)
    assert series(found, "csobot_outbox_pending") == {
        (("channel", "telegram"),): 0,
        (("channel", "terminal"),): 1,
    }
    assert series(found, "csobot_outbox_oldest_seconds") == {
        (("channel", "telegram"),): 0,
        (("channel", "terminal"),): 15,
    }
    assert gauge(found, "csobot_sla_breaches") == 1


async def test_refresh_on_an_empty_database(sessions: SessionFactory) -> None:
    metrics = Metrics()

    await metrics.refresh(sessions, NOW)

    found = samples(metrics)
    assert series(found, "csobot_outbox_pending") == {}
    assert series(found, "csobot_outbox_oldest_seconds") == {}
    assert set(series(found, "csobot_open_tickets").values()) == {0}
    assert len(series(found, "csobot_open_tickets")) == len(TicketStatus) - 1
    assert gauge(found, "csobot_sla_breaches") == 0


async def test_open_ticket_series_of_an_unknown_status_goes_when_emptied(
    sessions: SessionFactory,
) -> None:
    """A status the enum no longer lists (say, after a rename) is still counted while a ticket
    has it, and its series is cleared once none does: refresh never keeps a stale value."""
    async with sessions() as session:
        person = Stakeholder(
            channel="terminal",
            channel_user_id="local",
            chat_id="local",
            consent_at=NOW,
            created_at=NOW,
            updated_at=NOW,
        )
        session.add(person)
        await session.flush()
        assert person.id is not None
        ticket = Ticket(
            number="KPPN-legacy",
            office="jakarta2",
            stakeholder_id=person.id,
            channel="terminal",
            status="on_hold",
            question="Kapan SP2D saya terbit?",
            opened_at=NOW,
            updated_at=NOW,
        )
        session.add(ticket)
        await session.commit()
    metrics = Metrics()

    await metrics.refresh(sessions, NOW)
    assert gauge(samples(metrics), "csobot_open_tickets", status="on_hold") == 1

    async with sessions() as session:
        await session.exec(update(Ticket).values(status=TicketStatus.RESOLVED, resolved_at=NOW))
        await session.commit()
    await metrics.refresh(sessions, NOW)

    open_tickets = series(samples(metrics), "csobot_open_tickets")
    assert (("status", "on_hold"),) not in open_tickets
    assert set(open_tickets.values()) == {0}


async def test_inbox_updates_waiting_and_set_aside_by_channel(sessions: SessionFactory) -> None:
    from bot.inbox import Inbox

    inbox = Inbox(sessions, FakeClock(NOW))
    for n in range(3):
        await inbox.store("telegram", f"t{n}", f"user:{n}", {"update_id": n})
    await inbox.store("whatsapp", "w0", "user:w", {"entry": []})
    claimed = await inbox.claim("telegram")
    first, second = claimed[0], claimed[1]
    assert first.id is not None and second.id is not None
    await inbox.done(first.id)
    for _ in range(20):
        await inbox.retry(second.id, "OperationalError")
    metrics = Metrics()
    await metrics.refresh(sessions, NOW)
    found = samples(metrics)
    assert series(found, "csobot_inbox_updates") == {
        (("channel", "telegram"), ("state", "pending")): 1.0,
        (("channel", "telegram"), ("state", "failed")): 1.0,
        (("channel", "whatsapp"), ("state", "pending")): 1.0,
        (("channel", "whatsapp"), ("state", "failed")): 0.0,
    }
