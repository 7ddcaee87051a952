"""Supervision: transcripts complete and in order, report figures computed by hand, access control."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import FakeClock
from bot.files import store_incoming
from bot.messages import Inbound, InboundKind, IncomingFile, parse_command
from bot.report import build_report, render_csv
from bot.report import render_html as report_html
from bot.runtime import Runtime, build_runtime
from bot.store.models import Stakeholder, SurveyResponse, Ticket, TicketEvent
from bot.transcript import load_transcript, render_html, render_jsonl, render_markdown
from tests.conftest import FakeChat, config_for_tests, make_settings

WIB = ZoneInfo("Asia/Jakarta")
STAFF = [
    {"name": "Andi CSO", "role": "cso", "telegram_id": 8001},
    {"name": "Citra Kasi PD", "role": "kepala_seksi", "section": "pencairan", "telegram_id": 8101},
    {"name": "Eka Supervisor", "role": "supervisor", "telegram_id": 8201},
]


async def runtime_at(tmp_path: Path, clock: FakeClock) -> Runtime:
    settings = make_settings(tmp_path, csobot_config=config_for_tests(tmp_path, staff=STAFF))
    return await build_runtime(settings, clock=clock)


def staff(user: str, text: str, key: str) -> Inbound:
    parsed = parse_command(text)
    assert parsed is not None
    command, args = parsed
    return Inbound(
        channel="telegram",
        user_id=user,
        chat_id=user,
        update_key=key,
        kind=InboundKind.COMMAND,
        command=command,
        args=args,
        text=text,
    )


async def scripted_consultation(runtime: Runtime, clock: FakeClock, tmp_path: Path) -> FakeChat:
    """Hand-off, documents, escalation, resolution — a minute apart so the order is clear."""
    chat = FakeChat(runtime)
    await chat.identify()
    await chat.send("bagaimana cara mengajukan tup?")
    clock.advance(seconds=30)  # the stakeholder reads the answer
    await chat.press("Belum")
    steps = [
        staff("8001", "/ambil 1", "s1"),
        staff("8001", "/catatan cek sisa UP", "s2"),
        staff("8001", "/dokumen surat permohonan", "s3"),
    ]
    for inbound in steps:
        clock.advance(minutes=1)
        await runtime.engine.handle(inbound)
    clock.advance(minutes=1)
    stored, digest = store_incoming(tmp_path / "data", b"%PDF surat")
    await chat.send_raw(
        chat._inbound(
            InboundKind.FILE,
            text="",
            platform_message_id="77",
            file=IncomingFile("f1", "surat.pdf", "pdf", 10, stored, digest),
        )
    )
    clock.advance(minutes=1)
    await chat.send("sudah semua")
    clock.advance(minutes=1)
    await runtime.engine.handle(staff("8001", "/eskalasi perlu konfirmasi", "s4"))
    clock.advance(minutes=1)
    await runtime.engine.handle(staff("8001", "/selesai TUP diajukan dengan surat KPA.", "s5"))
    return chat


async def test_a_transcript_shows_everything_once_in_order(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 11, 23, 9, 0, tzinfo=WIB))
    runtime = await runtime_at(tmp_path, clock)
    try:
        await scripted_consultation(runtime, clock, tmp_path)
        async with runtime.sessions() as session:
            transcript = await load_transcript(session, runtime.config, "kns-20261123-0001")
        assert transcript is not None
        texts = [(e.kind, e.who, e.text) for e in transcript.entries]
        expected_in_order = [
            ("message", "Siti Rahmawati (pengguna layanan)", "bagaimana cara mengajukan tup?"),
            ("event", "Siti Rahmawati (pengguna layanan)", "baru → dicarikan jawaban oleh bot"),
            ("event", "csobot", "dicarikan jawaban oleh bot → dijawab bot, menunggu konfirmasi"),
            ("message", "Siti Rahmawati (pengguna layanan)", "Belum"),
            ("event", "Andi CSO (CSO)", "antre CSO → ditangani CSO"),
            ("note", "Andi CSO (CSO)", "cek sisa UP"),
            ("event", "Andi CSO (CSO)", "ditangani CSO → menunggu dokumen"),
            ("file", "Siti Rahmawati (pengguna layanan)", "surat.pdf"),
            ("message", "Siti Rahmawati (pengguna layanan)", "sudah semua"),
            ("event", "Andi CSO (CSO)", "ditangani CSO → dieskalasi ke Kepala Seksi"),
            ("event", "Andi CSO (CSO)", "dieskalasi ke Kepala Seksi → selesai (Resolved)"),
        ]
        positions = [texts.index(item) for item in expected_in_order]
        assert positions == sorted(positions)
        for item in expected_in_order:
            assert texts.count(item) == 1, item
        answer = [t for t in texts if t[1] == "Andi CSO (CSO)" and t[0] == "message"]
        assert answer == [
            (
                "message",
                "Andi CSO (CSO)",
                "Jawaban petugas CSO untuk tiket KNS-20261123-0001:\nTUP diajukan dengan surat KPA.\n\nTiket kami tutup dengan status Resolved. Bila masih ada yang belum jelas, silakan kirim pertanyaan baru.",
            )
        ]
        assert all(
            not e.text.startswith("🎫") for e in transcript.entries
        )  # desk cards are not repeated
        note = next(e for e in transcript.entries if e.kind == "note")
        assert note.internal

        markdown = render_markdown(transcript, runtime.config)
        assert "**[CATATAN INTERNAL]**" in markdown and "23-11-2026 09.0" in markdown  # local time
        lines = [json.loads(line) for line in render_jsonl(transcript).splitlines()]
        assert len(lines) == len(transcript.entries) and lines[0]["at"].endswith("+07:00")
        html = render_html(transcript, runtime.config)
        assert "@page { size: A4" in html and "CATATAN INTERNAL" in html and "surat.pdf" in html
    finally:
        await runtime.close()


def ident(ticket: Ticket) -> int:
    assert ticket.id is not None
    return ticket.id


def resolved(ticket: Ticket) -> datetime:
    assert ticket.resolved_at is not None
    return ticket.resolved_at


async def add_ticket(
    session: AsyncSession, number: int, opened: datetime, **fields: Any
) -> Ticket:
    values: dict[str, Any] = {
        "channel": "telegram",
        "status": "queued",
        "service_due_at": opened + timedelta(minutes=20),
        "deadline_at": opened + timedelta(days=3),
        **fields,
    }
    ticket = Ticket(
        number=f"KNS-T-{number:04d}",
        office="pekalongan",
        stakeholder_id=1,
        question="q",
        opened_at=opened,
        updated_at=opened,
        **values,
    )
    session.add(ticket)
    await session.flush()
    assert ticket.id is not None
    return ticket


async def test_report_figures_match_a_hand_count(tmp_path: Path) -> None:
    now = datetime(2026, 11, 27, 12, 0, tzinfo=WIB)
    runtime = await runtime_at(tmp_path, FakeClock(now))
    monday = datetime(2026, 11, 23, 9, 0, tzinfo=WIB)
    try:
        async with runtime.sessions() as session:
            session.add(
                Stakeholder(
                    id=1,
                    channel="telegram",
                    channel_user_id="1",
                    chat_id="1",
                    consent_at=monday,
                    created_at=monday,
                    updated_at=monday,
                )
            )
            await session.flush()
            # 1: bot answer confirmed after 0 min, resolved after 5 min (in time everywhere).
            t1 = await add_ticket(
                session,
                1,
                monday,
                status="resolved",
                topic_id="tup-pengajuan",
                first_answer_at=monday,
                resolved_at=monday + timedelta(minutes=5),
            )
            session.add(
                TicketEvent(
                    ticket_id=ident(t1),
                    at=resolved(t1),
                    actor="stakeholder",
                    from_status="answered",
                    to_status="resolved",
                    reason="x",
                )
            )
            # 2: CSO, first answer after 30 min (late), resolved after 2 days, escalated on the way.
            t2 = await add_ticket(
                session,
                2,
                monday + timedelta(hours=1),
                status="resolved",
                topic_id="retur-sp2d",
                channel="terminal",
                first_answer_at=monday + timedelta(hours=1, minutes=30),
                resolved_at=monday + timedelta(days=2, hours=1),
            )
            session.add(
                TicketEvent(
                    ticket_id=ident(t2),
                    at=monday,
                    actor="cso:Andi",
                    from_status="in_progress",
                    to_status="escalated",
                    reason="x",
                )
            )
            session.add(
                TicketEvent(
                    ticket_id=ident(t2),
                    at=resolved(t2),
                    actor="cso:Andi",
                    from_status="escalated",
                    to_status="resolved",
                    reason="x",
                )
            )
            # 3: CSO, resolved after 4 days: a breach.
            t3 = await add_ticket(
                session,
                3,
                monday + timedelta(hours=2),
                status="resolved",
                first_answer_at=monday + timedelta(hours=2, minutes=10),
                resolved_at=monday + timedelta(days=4),
            )
            session.add(
                TicketEvent(
                    ticket_id=ident(t3),
                    at=resolved(t3),
                    actor="cso:Budi",
                    from_status="in_progress",
                    to_status="resolved",
                    reason="x",
                )
            )
            # 4: still queued, deadline (Thu 09:00 + 3 h) passed at "now" (Fri 12:00): a breach; never answered.
            await add_ticket(session, 4, monday + timedelta(hours=3))
            # 5: opened the week before: outside the period.
            await add_ticket(session, 5, monday - timedelta(days=3))
            # 6: queued at Fri 11:55, its 20 minutes not over at 12:00 and its deadline far: in
            # neither share yet. (Before KEP-57's figures took only tickets that are due, the
            # 20-minute share was of all tickets, and this one made it 2 of 5, 40.0 %.)
            await add_ticket(session, 6, monday + timedelta(days=4, hours=2, minutes=55))
            # Survey: U3 4 and 2 (avg 3), U6 3 (avg 3) → index 75.00, grade C.
            for ticket, element, score in ((t1, "U3", 4), (t2, "U3", 2), (t1, "U6", 3)):
                session.add(
                    SurveyResponse(
                        ticket_id=ident(ticket), element=element, score=score, created_at=now
                    )
                )
            await session.commit()
            report = await build_report(
                session,
                runtime.config,
                "pekalongan",
                date(2026, 11, 23),
                date(2026, 11, 30),
                now.astimezone(UTC),
            )
        figures = report.figures()
        assert figures["tickets"] == 5 and figures["resolved"] == 3
        assert (
            figures["resolved_by_bot_share"] == 33.3 and figures["resolved_by_cso_share"] == 66.7
        )  # 1 of 3, 2 of 3
        # 20 minutes: 1 (0 min) and 3 (10 min) on time, 2 (30 min) late, 4 waiting past its
        # 20 minutes; 6 not yet due → 2 of 4.
        assert figures["served_within_20_minutes_share"] == 50.0
        assert (
            figures["served_on_time"],
            figures["served_late"],
            figures["waiting_past_20_minutes"],
            figures["service_denominator"],
        ) == (2, 1, 1, 4)
        # 3 working days: 1 and 2 on time, 3 late, 4 open past its deadline; 6 open within it.
        assert figures["resolved_within_3_working_days_share"] == 50.0
        assert (
            figures["resolved_on_time"],
            figures["resolved_late"],
            figures["open_past_deadline"],
            figures["resolution_denominator"],
            figures["open_within_deadline"],
        ) == (2, 1, 1, 4, 1)
        assert figures["escalations"] == 1 and figures["breaches"] == 2
        assert (
            figures["first_answer_minutes_median"] == 10.0
            and figures["first_answer_minutes_p90"] == 30.0
        )  # 0, 10, 30
        assert (
            figures["resolution_hours_median"] == 48.0 and figures["resolution_hours_p90"] == 94.0
        )  # 0.083, 48, 94
        assert (figures["skm_index"], figures["skm_grade"]) == (75.0, "C")
        assert figures["by_channel"] == {"telegram": 4, "terminal": 1}
        assert figures["busiest_hours"] == {"09": 1, "10": 1, "11": 2, "12": 1}
        assert figures["skm_element_average"] == {"U3": 3.0, "U6": 3.0}
        assert "served_within_20_minutes_share,50.0" in render_csv(report)
        html = report_html(report, runtime.config)
        assert html.count("data:image/png;base64,") == 2 and "75.00 — mutu C" in html
    finally:
        await runtime.close()


async def test_supervisor_commands_and_who_may_use_them(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 11, 23, 9, 0, tzinfo=WIB))
    runtime = await runtime_at(tmp_path, clock)
    try:
        chat = await scripted_consultation(runtime, clock, tmp_path)
        handled = await runtime.engine.handle(staff("8201", "/transkrip KNS-20261123-0001", "t2"))
        (document,) = handled.unstored
        assert document.file is not None
        assert document.file.path == "files/exports/transkrip-KNS-20261123-0001.html"
        assert "KNS-20261123-0001" in (tmp_path / "data" / document.file.path).read_text()
        found = await runtime.engine.handle(staff("8201", "/cari rahmawati status:resolved", "t3"))
        assert (
            "1 tiket cocok" in found.unstored[0].text
            and "KNS-20261123-0001" in found.unstored[0].text
        )
        none = await runtime.engine.handle(staff("8201", "/cari status:queued", "t4"))
        assert none.unstored[0].text == "Tidak ada tiket yang cocok."
        report = await runtime.engine.handle(staff("8201", "/laporan 2026-11-23 2026-11-23", "t5"))
        assert "1 tiket" in report.unstored[0].text and report.unstored[0].file is not None
        link = await runtime.engine.handle(staff("8201", "/masuk", "t6"))
        assert "belum diaktifkan" in link.unstored[0].text
        runtime.engine.web_base_url = "https://cso.example.go.id"
        link = await runtime.engine.handle(staff("8201", "/masuk", "t6b"))
        url = link.unstored[0].text.rsplit("\n", 1)[-1]
        assert url.startswith("https://cso.example.go.id/masuk/")
        from bot.web.auth import redeem_login_token

        assert (
            await redeem_login_token(runtime.sessions, url.rsplit("/", 1)[-1], clock.now())
            == "Eka Supervisor"
        )
        assert (
            await redeem_login_token(runtime.sessions, url.rsplit("/", 1)[-1], clock.now()) is None
        )  # once
        head = await runtime.engine.handle(staff("8101", "/cari rahmawati", "t7"))
        assert "1 tiket cocok" in head.unstored[0].text  # a Kepala Seksi may read too
        for command in ("/transkrip KNS-20261123-0001", "/cari rahmawati", "/laporan", "/masuk"):
            cso = await runtime.engine.handle(staff("8001", command, f"c{command}"))
            assert all("cocok" not in r.text and r.file is None for r in cso.unstored), command
            await chat.send(command)
            assert "tidak dikenal" in chat.text, command  # a stakeholder cannot either
    finally:
        await runtime.close()


async def test_the_weekly_report_goes_to_supervisors_once_a_week(tmp_path: Path) -> None:
    from bot.scheduler import Scheduler
    from bot.store.models import Message

    clock = FakeClock(datetime(2026, 11, 30, 7, 0, tzinfo=WIB))  # Monday, before 08:00
    runtime = await runtime_at(tmp_path, clock)
    try:
        scheduler = Scheduler(runtime.engine, runtime.sessions, clock)
        assert scheduler.weekly_report_key() is None
        clock.set(datetime(2026, 11, 30, 8, 0, tzinfo=WIB))
        assert scheduler.weekly_report_key() == "report:weekly:2026-W49"
        assert await scheduler.run_weekly_report() == 1
        assert await scheduler.run_weekly_report() == 0  # once per week
        clock.set(datetime(2026, 12, 3, 8, 0, tzinfo=WIB))
        assert await scheduler.run_weekly_report() == 0
        async with runtime.sessions() as session:
            from sqlmodel import select

            rows = (await session.exec(select(Message))).all()
        # Queued once, durably, to every supervisor's account on the desk channel.
        supervisors = [m.telegram_id for m in runtime.config.staff if m.role == "supervisor"]
        assert sorted(r.chat_id for r in rows) == sorted(str(i) for i in supervisors)
        assert all(r.stakeholder_id is None and r.payload["file"]["path"] for r in rows)
    finally:
        await runtime.close()
