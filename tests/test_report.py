"""The service-level report against KEP-57/PB/2023, every figure counted by hand.

Two offices in two time zones, one week (Monday 23 – Sunday 29 November 2026), the report made
on Friday 27 November at 12.00 WIB (13.00 WITA). The clocks are written out on every ticket
(`due` = service_due_at, 20 working minutes; `deadline` = deadline_at, 3 working days) so the
expectations follow from this file alone. The definitions are at the top of bot/report.py.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import FakeClock
from bot.report import ALL_OFFICES, build_report, render_csv, render_html, render_json
from bot.runtime import Runtime, build_runtime
from bot.store.models import Stakeholder, SurveyResponse, Ticket, TicketEvent
from bot.web import create_app, create_login_link
from tests.conftest import FIXTURE_KB, config_for_tests, make_settings

WIB = ZoneInfo("Asia/Jakarta")  # KPPN Pekalongan
WITA = ZoneInfo("Asia/Makassar")  # KPPN Majene
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=WIB)  # Friday, 13.00 WITA
START, END = date(2026, 11, 23), date(2026, 11, 30)  # Monday to Sunday (END exclusive)
STAFF = [
    {"name": "Ratna Wulandari", "role": "supervisor", "telegram_id": 9001},
    {"name": "Budi Santoso", "role": "kepala_seksi", "section": "pencairan", "telegram_id": 9002},
]


def wib(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=WIB)


def wita(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=WITA)


@dataclass
class Row:
    key: str
    office: str
    opened: datetime
    status: str
    due: datetime
    deadline: datetime
    answered: datetime | None = None
    resolved: datetime | None = None
    closed_by: str | None = None  # actor of the Resolved event
    escalated: bool = False
    channel: str = "telegram"
    topic: str | None = None
    survey: dict[str, int] = field(default_factory=dict)


ROWS = [
    # ---- KPPN Pekalongan (WIB)
    # P1: the bot's answer at once, confirmed 5 minutes later: on time twice; resolved by the bot.
    Row("P1", "pekalongan", wib(23, 9), "resolved", wib(23, 9, 20), wib(26, 9),
        answered=wib(23, 9), resolved=wib(23, 9, 5), closed_by="stakeholder",
        topic="tup-pengajuan", survey={"U3": 4, "U6": 3}),
    # P2: first answer after 30 minutes (late), escalated, resolved by a CSO an hour after the
    # deadline (late).
    Row("P2", "pekalongan", wib(23, 10), "resolved", wib(23, 10, 20), wib(26, 10),
        answered=wib(23, 10, 30), resolved=wib(26, 11), closed_by="cso:Andi", escalated=True,
        channel="terminal", survey={"U3": 2, "U7": 4}),
    # P3: answered in 10 minutes, still queued, deadline Friday 09.00 passed at 12.00: a breach.
    Row("P3", "pekalongan", wib(24, 9), "queued", wib(24, 9, 20), wib(27, 9),
        answered=wib(24, 9, 10)),
    # P4: opened at 11.50, nobody has answered, but its 20 minutes end at 12.10: in neither figure.
    Row("P4", "pekalongan", wib(27, 11, 50), "queued", wib(27, 12, 10), wib(30, 11, 50)),
    # P5: the bot answered at once, the stakeholder never confirmed; deadline Thursday passed:
    # served on time, and a breach (an unconfirmed answer is not a resolution).
    Row("P5", "pekalongan", wib(23, 11), "answered", wib(23, 11, 20), wib(26, 11),
        answered=wib(23, 11)),
    # P6: opened at 11.00, no answer at 12.00: past its 20 minutes; within its deadline.
    Row("P6", "pekalongan", wib(27, 11), "queued", wib(27, 11, 20), wib(30, 11)),
    # P7: Sunday 23.30 WIB, the week before in Pekalongan (though Monday 00.30 in Majene): out.
    Row("P7", "pekalongan", wib(22, 23, 30), "resolved", wib(23, 8, 20), wib(25, 16),
        answered=wib(23, 8, 10), resolved=wib(23, 10), closed_by="cso:Andi", survey={"U3": 1}),
    # P8: closed without an answer (the stakeholder left while choosing a topic): in the 3-day
    # figure (resolved on time), not in the 20-minute one (nobody is waiting, nothing to time).
    Row("P8", "pekalongan", wib(24, 14), "resolved", wib(24, 14, 20), wib(27, 14),
        resolved=wib(24, 14, 30), closed_by="stakeholder"),
    # ---- KPPN Majene (WITA)
    # M1: Monday 00.30 WITA (Sunday 23.30 WIB): in Majene's week. Answered 08.15 (due 08.20),
    # resolved by a CSO at 09.30: on time twice.
    Row("M1", "majene", wita(23, 0, 30), "resolved", wita(23, 8, 20), wita(26, 16),
        answered=wita(23, 8, 15), resolved=wita(23, 9, 30), closed_by="cso:Sari",
        survey={"U3": 3, "U6": 4, "U7": 2}),
    # M2: with a CSO but never answered, deadline Friday 09.00 WITA passed at 13.00 WITA: waiting
    # past 20 minutes and a breach.
    Row("M2", "majene", wita(25, 9), "in_progress", wita(25, 9, 20), wita(27, 9)),
    # M3: Sunday, the week before: out (it would be a breach).
    Row("M3", "majene", wita(22, 10), "queued", wita(23, 8, 20), wita(25, 16)),
    # M4: the bot's answer at once, confirmed only on Friday, a day after the deadline: late.
    Row("M4", "majene", wita(23, 10), "resolved", wita(23, 10, 20), wita(26, 10),
        answered=wita(23, 10), resolved=wita(27, 10), closed_by="stakeholder",
        survey={"U5": 4}),
]  # fmt: skip


async def insert(session: AsyncSession) -> None:
    session.add(
        Stakeholder(
            id=1,
            channel="telegram",
            channel_user_id="1",
            chat_id="1",
            consent_at=wib(20, 9),
            created_at=wib(20, 9),
            updated_at=wib(20, 9),
        )
    )
    await session.flush()
    for row in ROWS:
        ticket = Ticket(
            number=f"KNS-R-{row.key}",
            office=row.office,
            stakeholder_id=1,
            channel=row.channel,
            status=row.status,
            question="q",
            topic_id=row.topic,
            opened_at=row.opened,
            updated_at=row.opened,
            service_due_at=row.due,
            deadline_at=row.deadline,
            first_answer_at=row.answered,
            resolved_at=row.resolved,
        )
        session.add(ticket)
        await session.flush()
        assert ticket.id is not None
        if row.escalated:
            session.add(
                TicketEvent(
                    ticket_id=ticket.id,
                    at=row.opened + timedelta(hours=1),
                    actor="cso:Andi",
                    from_status="in_progress",
                    to_status="escalated",
                    reason="x",
                )
            )
        if row.key == "M2":  # sent provisionally from an entry nobody verified, then to a CSO
            session.add(
                TicketEvent(
                    ticket_id=ticket.id,
                    at=row.opened,
                    actor="bot",
                    from_status="asked",
                    to_status="queued",
                    reason="provisional answer from unverified entry tup-pengajuan",
                )
            )
        if row.resolved is not None:
            assert row.closed_by is not None
            session.add(
                TicketEvent(
                    ticket_id=ticket.id,
                    at=row.resolved,
                    actor=row.closed_by,
                    from_status="answered",
                    to_status="resolved",
                    reason="x",
                )
            )
        for element, score in row.survey.items():
            session.add(
                SurveyResponse(ticket_id=ticket.id, element=element, score=score, created_at=NOW)
            )
        if row.key == "M1":  # the closing comment has no score: not in the index
            session.add(
                SurveyResponse(
                    ticket_id=ticket.id, element="comment", comment="cepat", created_at=NOW
                )
            )
    await session.commit()


async def runtime_at(tmp_path: Path) -> Runtime:
    settings = make_settings(tmp_path, csobot_config=config_for_tests(tmp_path, staff=STAFF))
    return await build_runtime(settings, clock=FakeClock(NOW))


# Pekalongan: P1 P2 P3 P4 P5 P6 P8 (P7 is the week before).
#   20 minutes: on time P1 (0 min), P3 (10), P5 (0); late P2 (30); waiting past 20 min P6;
#     not in it: P4 (its 20 minutes not over), P8 (closed unanswered) → 3 / (3 + 1 + 1) = 60.0 %.
#   3 working days: on time P1, P8; late P2; open past the deadline P3, P5 (unconfirmed);
#     open within it P4, P6 → 2 / (2 + 1 + 2) = 40.0 %; breaches P2, P3, P5 = 3.
#   First answers 0, 0, 10, 30 minutes: median 5, p90 30 (the 4th of 4).
#   Resolutions 5 min (0.083 h), 73 h (P2: Monday 10.00 to Thursday 11.00), 0.5 h: median 0.5,
#     p90 73.
#   SKM: U3 4, 2 (3.0); U6 3 (3.0); U7 4 (4.0) → (3 + 3 + 4) / 3 × 25 = 83.33, B.
PEKALONGAN: dict[str, object] = {
    "office": "pekalongan",
    "from": "2026-11-23",
    "to": "2026-11-29",
    "tickets": 7,
    "resolved": 3,
    "resolved_by_bot_share": 66.7,  # P1, P8 of 3
    "resolved_by_cso_share": 33.3,  # P2
    "served_within_20_minutes_share": 60.0,
    "served_on_time": 3,
    "served_late": 1,
    "waiting_past_20_minutes": 1,
    "service_denominator": 5,
    "resolved_within_3_working_days_share": 40.0,
    "resolved_on_time": 2,
    "resolved_late": 1,
    "open_past_deadline": 2,
    "resolution_denominator": 5,
    "open_within_deadline": 2,
    "answered_unconfirmed": 1,
    "answered_unconfirmed_past_deadline": 1,
    "escalations": 1,
    "answers_from_unverified_entries": 0,
    "breaches": 3,
    "first_answer_minutes_median": 5.0,
    "first_answer_minutes_p90": 30.0,
    "resolution_hours_median": 0.5,
    "resolution_hours_p90": 73.0,
    "skm_index": 83.33,
    "skm_grade": "B",
    "skm_grade_name": "Baik",
    "survey_answers": 4,
    "skm_element_average": {"U3": 3.0, "U6": 3.0, "U7": 4.0},
    "skm_element_answers": {"U3": 2, "U6": 1, "U7": 1},
    "by_status": {"resolved": 3, "queued": 3, "answered": 1},
    "by_topic": {"-": 6, "tup-pengajuan": 1},
    "by_channel": {"telegram": 6, "terminal": 1},
    "busiest_hours": {"09": 2, "10": 1, "11": 3, "14": 1},  # WIB
}

# Majene: M1 M2 M4 (M3 is the week before).
#   20 minutes: on time M1 (08.15 ≤ 08.20), M4; waiting past 20 min M2 → 2 / 3 = 66.7 %.
#   3 working days: on time M1; late M4; open past the deadline M2 → 1 / 3 = 33.3 %;
#     breaches M2, M4 = 2.
#   First answers 465 min (00.30 to 08.15), 0: median 232.5, p90 465.
#   Resolutions 9 h (M1), 96 h (M4: Monday to Friday 10.00): median 52.5, p90 96.
#   SKM: U3 3, U5 4, U6 4, U7 2 → (3 + 4 + 4 + 2) / 4 × 25 = 81.25, B.
MAJENE: dict[str, object] = {
    "office": "majene",
    "from": "2026-11-23",
    "to": "2026-11-29",
    "tickets": 3,
    "resolved": 2,
    "resolved_by_bot_share": 50.0,  # M4
    "resolved_by_cso_share": 50.0,  # M1
    "served_within_20_minutes_share": 66.7,
    "served_on_time": 2,
    "served_late": 0,
    "waiting_past_20_minutes": 1,
    "service_denominator": 3,
    "resolved_within_3_working_days_share": 33.3,
    "resolved_on_time": 1,
    "resolved_late": 1,
    "open_past_deadline": 1,
    "resolution_denominator": 3,
    "open_within_deadline": 0,
    "answered_unconfirmed": 0,
    "answered_unconfirmed_past_deadline": 0,
    "escalations": 0,
    "answers_from_unverified_entries": 1,  # M2
    "breaches": 2,
    "first_answer_minutes_median": 232.5,
    "first_answer_minutes_p90": 465.0,
    "resolution_hours_median": 52.5,
    "resolution_hours_p90": 96.0,
    "skm_index": 81.25,
    "skm_grade": "B",
    "skm_grade_name": "Baik",
    "survey_answers": 4,
    "skm_element_average": {"U3": 3.0, "U5": 4.0, "U6": 4.0, "U7": 2.0},
    "skm_element_answers": {"U3": 1, "U5": 1, "U6": 1, "U7": 1},
    "by_status": {"resolved": 2, "in_progress": 1},
    "by_topic": {"-": 3},
    "by_channel": {"telegram": 3},
    "busiest_hours": {"00": 1, "09": 1, "10": 1},  # WITA
}

# Pontianak: no tickets. Shares of nothing are None, not 100 %.
PONTIANAK_ROW: dict[str, object] = {
    "tickets": 0,
    "resolved": 0,
    "served_within_20_minutes_share": None,
    "served_on_time": 0,
    "served_late": 0,
    "waiting_past_20_minutes": 0,
    "service_denominator": 0,
    "resolved_within_3_working_days_share": None,
    "resolved_on_time": 0,
    "resolved_late": 0,
    "open_past_deadline": 0,
    "resolution_denominator": 0,
    "open_within_deadline": 0,
    "answered_unconfirmed": 0,
    "answered_unconfirmed_past_deadline": 0,
    "escalations": 0,
    "answers_from_unverified_entries": 0,
    "breaches": 0,
    "skm_index": None,
    "skm_grade": None,
    "skm_grade_name": None,
    "survey_answers": 0,
    "skm_element_average": {},
    "skm_element_answers": {},
}

# All offices: the sums of the counts, shares of the sums (not averages of the shares), times
# and the SKM index from every ticket's values and every answer together.
#   20 minutes (3 + 2) / (5 + 3) = 62.5 %; 3 working days (2 + 1) / (5 + 3) = 37.5 %.
#   First answers 0, 0, 0, 10, 30, 465: median 5, p90 465 (the 6th of 6).
#   Resolutions 0.083, 0.5, 9, 73, 96: median 9, p90 96 (the 5th of 5).
#   SKM: U3 4, 2, 3 (3.0); U5 4 (4.0); U6 3, 4 (3.5); U7 4, 2 (3.0)
#     → (3 + 4 + 3.5 + 3) / 4 × 25 = 84.375 → 84.38 (not the mean of 83.33 and 81.25), B.
ALL: dict[str, object] = {
    "office": "*",
    "from": "2026-11-23",
    "to": "2026-11-29",
    "tickets": 10,
    "resolved": 5,
    "resolved_by_bot_share": 60.0,  # P1, P8, M4 of 5
    "resolved_by_cso_share": 40.0,  # P2, M1
    "served_within_20_minutes_share": 62.5,
    "served_on_time": 5,
    "served_late": 1,
    "waiting_past_20_minutes": 2,
    "service_denominator": 8,
    "resolved_within_3_working_days_share": 37.5,
    "resolved_on_time": 3,
    "resolved_late": 2,
    "open_past_deadline": 3,
    "resolution_denominator": 8,
    "open_within_deadline": 2,
    "answered_unconfirmed": 1,
    "answered_unconfirmed_past_deadline": 1,
    "escalations": 1,
    "answers_from_unverified_entries": 1,  # M2
    "breaches": 5,
    "first_answer_minutes_median": 5.0,
    "first_answer_minutes_p90": 465.0,
    "resolution_hours_median": 9.0,
    "resolution_hours_p90": 96.0,
    "skm_index": 84.38,
    "skm_grade": "B",
    "skm_grade_name": "Baik",
    "survey_answers": 8,
    "skm_element_average": {"U3": 3.0, "U5": 4.0, "U6": 3.5, "U7": 3.0},
    "skm_element_answers": {"U3": 3, "U5": 1, "U6": 2, "U7": 2},
    "by_status": {"resolved": 5, "queued": 3, "answered": 1, "in_progress": 1},
    "by_topic": {"-": 9, "tup-pengajuan": 1},
    "by_channel": {"telegram": 9, "terminal": 1},
    "busiest_hours": {"00": 1, "09": 3, "10": 2, "11": 3, "14": 1},  # each office's local hour
}


def office_row(figures: dict[str, object]) -> dict[str, object]:
    """An office's line of the all-offices table: its counts, shares, breaches and SKM, not
    the period, the bot/CSO shares, the times or the breakdowns."""
    return {key: value for key, value in figures.items() if key in PONTIANAK_ROW}


async def test_every_figure_by_hand_per_office_and_for_all_offices(tmp_path: Path) -> None:
    runtime = await runtime_at(tmp_path)
    try:
        async with runtime.sessions() as session:
            await insert(session)
            now = NOW.astimezone(UTC)
            pekalongan = await build_report(session, runtime.config, "pekalongan", START, END, now)
            majene = await build_report(session, runtime.config, "majene", START, END, now)
            everything = await build_report(session, runtime.config, None, START, END, now)
            star = await build_report(session, runtime.config, ALL_OFFICES, START, END, now)
            # The period ends at local midnight: Monday–Thursday leaves out P4 and P6 (Friday).
            shorter = await build_report(
                session, runtime.config, "pekalongan", START, date(2026, 11, 27), now
            )
        assert pekalongan.figures() == PEKALONGAN
        assert majene.figures() == MAJENE
        assert shorter.tickets == 5

        figures = everything.figures()
        offices = figures.pop("offices")
        assert figures == ALL
        assert star.figures() == everything.figures()  # "*" and None are the same
        assert isinstance(offices, dict)
        assert offices == {
            "majene": office_row(MAJENE),
            "pekalongan": office_row(PEKALONGAN),
            "pontianak": PONTIANAK_ROW,
        }
        assert list(offices) == ["majene", "pekalongan", "pontianak"]
        assert everything.office_name == "KPPN Majene, KPPN Pekalongan, KPPN Pontianak"
        assert "offices" not in pekalongan.figures()  # a single office has no table

        # The same figures in the three formats.
        assert json.loads(render_json(everything)) == everything.figures()
        rows = dict(csv.reader(io.StringIO(render_csv(everything))))
        assert rows["resolution_denominator"] == "8" and rows["open_past_deadline"] == "3"
        assert rows["service_denominator"] == "8" and rows["waiting_past_20_minutes"] == "2"
        assert rows["skm_element_average.U6"] == "3.5"
        assert rows["offices.majene.resolved_within_3_working_days_share"] == "33.3"
        assert rows["offices.pekalongan.served_within_20_minutes_share"] == "60.0"
        assert rows["offices.pekalongan.skm_element_answers.U3"] == "2"
        assert rows["offices.pontianak.resolved_within_3_working_days_share"] == ""
        single = dict(csv.reader(io.StringIO(render_csv(pekalongan))))
        assert single["resolved_within_3_working_days_share"] == "40.0"
        assert single["resolved_on_time"] == "2" and single["resolution_denominator"] == "5"
        assert not any(key.startswith("offices.") for key in single)

        html = render_html(pekalongan, runtime.config)
        for shown in ("60.0 %", "3 dari 5", "40.0 %", "2 dari 5", "83.33 — mutu B", "3.000"):
            assert shown in html, shown
        html = render_html(everything, runtime.config)
        for shown in (
            "KPPN Majene",
            "KPPN Pontianak",
            "60.0 % (3/5)",  # Pekalongan
            "40.0 % (2/5)",
            "66.7 % (2/3)",  # Majene
            "33.3 % (1/3)",
            "62.5 % (5/8)",  # together
            "37.5 % (3/8)",
            "84.38 — mutu B",
            "3.500 (2 jawaban)",  # U6 over all offices
        ):
            assert shown in html, shown
    finally:
        await runtime.close()


async def test_the_dashboard_report_of_all_offices_is_for_supervisors(tmp_path: Path) -> None:
    runtime = await runtime_at(tmp_path)
    try:
        async with runtime.sessions() as session:
            await insert(session)
        app = create_app(
            runtime, secret="uji-rahasia-penandatangan-sesi-cukup-panjang", password_hash=None
        )
        base = "http://dasbor.test"
        period = "from=2026-11-23&to=2026-11-29"
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=base
        ) as client:
            link = await create_login_link(runtime, "Ratna Wulandari", base)
            await client.get(urlsplit(link).path)
            response = await client.get(f"/laporan.csv?{period}&kantor=semua")
            assert response.status_code == 200
            assert (
                response.headers["content-disposition"]
                == 'attachment; filename="laporan-semua-2026-11-23-2026-11-29.csv"'
            )
            rows = dict(csv.reader(io.StringIO(response.text)))
            assert rows["tickets"] == "10" and rows["offices.majene.tickets"] == "3"
            assert rows["resolved_within_3_working_days_share"] == "37.5"
            majene = dict(
                csv.reader(
                    io.StringIO((await client.get(f"/laporan.csv?{period}&kantor=majene")).text)
                )
            )
            assert majene["tickets"] == "3" and "offices.majene.tickets" not in majene
            page = await client.get(f"/laporan?{period}&kantor=semua")
            assert page.status_code == 200 and "62.5 % (5/8)" in page.text
            assert '<option value="semua" selected>' in page.text  # the form keeps the choice
            # The form of the navigation sends `office`: the same report.
            same = await client.get(f"/laporan.csv?{period}&office=semua")
            assert dict(csv.reader(io.StringIO(same.text))) == rows

        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=base
        ) as client:
            link = await create_login_link(runtime, "Budi Santoso", base)
            await client.get(urlsplit(link).path)
            refused = await client.get(f"/laporan?{period}&kantor=semua")
            assert (
                refused.status_code == 400 and "hanya dapat dibuka oleh supervisor" in refused.text
            )
            page = await client.get(f"/laporan?{period}")
            assert page.status_code == 200 and 'value="semua"' not in page.text
    finally:
        await runtime.close()


def test_csobot_report_office_all(tmp_path: Path) -> None:
    """The CLI on a database with two tickets of 2024, long past every deadline (the CLI reads
    the real clock): one resolved on time in Pekalongan, one still queued in Majene."""
    import asyncio

    database = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    opened = datetime(2024, 1, 8, 9, 0, tzinfo=WIB)

    async def fill() -> None:
        settings = make_settings(tmp_path, database_url=database)
        runtime = await build_runtime(settings, clock=FakeClock(opened))
        try:
            async with runtime.sessions() as session:
                session.add(
                    Stakeholder(
                        id=1,
                        channel="telegram",
                        channel_user_id="1",
                        chat_id="1",
                        consent_at=opened,
                        created_at=opened,
                        updated_at=opened,
                    )
                )
                await session.flush()
                for number, office, status in (
                    ("A", "pekalongan", "resolved"),
                    ("B", "majene", "queued"),
                ):
                    session.add(
                        Ticket(
                            number=f"KNS-C-{number}",
                            office=office,
                            stakeholder_id=1,
                            channel="telegram",
                            status=status,
                            question="q",
                            opened_at=opened,
                            updated_at=opened,
                            service_due_at=opened + timedelta(minutes=20),
                            deadline_at=opened + timedelta(days=3),
                            first_answer_at=opened if status == "resolved" else None,
                            resolved_at=opened + timedelta(hours=1)
                            if status == "resolved"
                            else None,
                        )
                    )
                await session.commit()
        finally:
            await runtime.close()

    asyncio.run(fill())
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TELEGRAM_", "CSOBOT_", "DATABASE_URL"))
    }
    environment.update(
        {
            "DATABASE_URL": database,
            "CSOBOT_KNOWLEDGE_DIR": str(FIXTURE_KB),
            "CSOBOT_CONFIG": str(config_for_tests(tmp_path)),
        }
    )

    def csobot(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", *args],
            check=False,
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=environment,
            timeout=120,
        )

    result = csobot("report", "--office", "all", "--from", "2024-01-08", "--to", "2024-01-14")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["office"] == "*" and figures["tickets"] == 2
    assert (figures["resolved_on_time"], figures["open_past_deadline"]) == (1, 1)
    assert figures["resolution_denominator"] == 2
    assert figures["resolved_within_3_working_days_share"] == 50.0
    # Majene's ticket was never answered: past its 20 minutes, not served.
    assert (figures["served_on_time"], figures["service_denominator"]) == (1, 2)
    assert figures["offices"]["majene"]["open_past_deadline"] == 1
    assert figures["offices"]["pekalongan"]["resolved_within_3_working_days_share"] == 100.0
    assert figures["offices"]["pontianak"]["tickets"] == 0
    one = csobot("report", "--office", "majene", "--from", "2024-01-08", "--to", "2024-01-14")
    assert one.returncode == 0, one.stderr
    assert json.loads(one.stdout)["resolved_within_3_working_days_share"] == 0.0
    unknown = csobot("report", "--office", "atlantis")
    assert unknown.returncode != 0 and "or all" in unknown.stderr
