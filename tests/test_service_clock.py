"""The service clock over simulated weeks: exact times of progress messages, reminders,
escalation and breach notices, a restart in the middle, downtime, and the survey."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlmodel import col, select

from bot.clock import FakeClock
from bot.runtime import Runtime, build_runtime
from bot.scheduler import Scheduler
from bot.skm import skm_index
from bot.store.models import Message, ScheduledJob, SurveyResponse, Ticket
from tests.conftest import ROOT, FakeChat, config_for_tests, events, make_settings, rows

WIB = ZoneInfo("Asia/Jakarta")
STAFF = [
    {"name": "Andi CSO", "role": "cso", "telegram_id": 8001},
    {"name": "Citra Kasi PD", "role": "kepala_seksi", "section": "pencairan", "telegram_id": 8101},
    {"name": "Dedi Kasi Bank", "role": "kepala_seksi", "section": "bank", "telegram_id": 8102},
    {"name": "Eka Supervisor", "role": "supervisor", "telegram_id": 8201},
]


def wib(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=WIB)


async def runtime_for(tmp_path: Path, clock: FakeClock, **sla: object) -> Runtime:
    changes: dict[str, object] = {"staff": STAFF}
    if sla:
        base = {
            "progress_time": "10:00",
            "queue_reminder_minutes": 60,
            "reminder_share": 0.5,
            "escalate_share": 0.8,
            "pause_while_awaiting_documents": False,
        }
        changes["sla"] = {**base, **sla}
    settings = make_settings(tmp_path, csobot_config=config_for_tests(tmp_path, **changes))
    return await build_runtime(settings, clock=clock)


async def run_until(runtime: Runtime, clock: FakeClock, chat: FakeChat, end: datetime) -> None:
    """Jump the clock to each next due job up to `end`, run it, deliver; then stop at `end`."""
    scheduler = chat.host.scheduler
    while True:
        async with runtime.sessions() as session:
            query = (
                select(ScheduledJob)
                .where(ScheduledJob.status == "pending")
                .order_by(col(ScheduledJob.due_at))
            )
            upcoming = (await session.exec(query)).first()
        if upcoming is None or upcoming.due_at > end:
            break
        clock.set(max(upcoming.due_at, clock.now()))
        await scheduler.run_due()
        await chat.host.deliver_due()
    clock.set(end)


async def sent(runtime: Runtime, chat_id: str, contains: str = "") -> list[tuple[datetime, str]]:
    """(local time, text) of messages queued to `chat_id` containing `contains`."""
    async with runtime.sessions() as session:
        query = (
            select(Message)
            .where(Message.chat_id == chat_id, Message.direction == "out")
            .order_by(col(Message.id))
        )
        found = (await session.exec(query)).all()
    return [(m.created_at.astimezone(WIB), m.text) for m in found if contains in m.text]


async def queued_question(runtime: Runtime) -> FakeChat:
    chat = FakeChat(runtime)
    await chat.identify()
    await chat.send("bagaimana cara mengajukan tup?")
    await chat.press("Belum")  # → queued, section pencairan (tup-pengajuan)
    return chat


async def test_a_week_of_one_ticket_with_nobody_answering(tmp_path: Path) -> None:
    clock = FakeClock(wib(23, 9))  # Monday 23 November 2026, 09:00 WIB
    runtime = await runtime_for(tmp_path, clock)
    try:
        chat = await queued_question(runtime)
        ticket = await chat.ticket()
        # Deadline: the question day does not count; Tue 24, Wed 25, Thu 26 → Thu 16:00 WIB.
        assert ticket.deadline_at == wib(26, 16)
        assert ticket.service_due_at == wib(23, 9, 20)
        await run_until(runtime, clock, chat, wib(30, 12))  # through Monday 30 November noon

        progress = [t for t, _ in await sent(runtime, chat.user_id, "Kabar perkembangan")]
        # Every working day at 10:00 while open (the first on the day of the hand-off).
        assert progress == [
            wib(23, 10),
            wib(24, 10),
            wib(25, 10),
            wib(26, 10),
            wib(27, 10),
            wib(30, 10),
        ]
        # Working time Mon 09:00 → Thu 16:00 = 7 + 8 + 8 + 8 = 31 h.
        queue = [t for t, _ in await sent(runtime, "8001", "tanpa petugas")]
        assert queue == [wib(23, 10)]  # 60 working minutes after 09:00
        reminder = [t for t, _ in await sent(runtime, "8001", "Pengingat")]
        assert reminder == [wib(25, 8, 30)]  # 50 % = 15.5 h: Mon 7 h + Tue 8 h + 0.5 h on Wed
        escalation = [t for t, _ in await sent(runtime, "8101", "Eskalasi tiket")]
        assert escalation == [wib(26, 9, 48)]  # 80 % = 24.8 h: 7 + 8 + 8 + 1.8 h on Thu
        assert await sent(runtime, "8102") == []  # the other section's head is not involved
        breach = [t for t, _ in await sent(runtime, "8201", "Batas waktu terlewati")]
        assert breach == [wib(26, 16)]
        assert [
            t for t, _ in await sent(runtime, chat.user_id, "untuk konfirmasi lebih lanjut")
        ] == [wib(26, 9, 48)]
        ticket = await chat.ticket()
        assert ticket.status == "escalated" and ticket.escalated_to == "Citra Kasi PD"
        assert (await events(runtime, ticket.id))[-1] == ("queued", "escalated")
        progress_text = (await sent(runtime, chat.user_id, "Kabar perkembangan"))[-1][1]
        assert (
            "dieskalasi kepada Kepala Seksi" in progress_text
            and "Kamis, 26-11-2026 pukul 16.00 WIB" in progress_text
        )
    finally:
        await runtime.close()


async def test_a_restart_in_the_middle_loses_and_repeats_nothing(tmp_path: Path) -> None:
    clock = FakeClock(wib(23, 9))
    runtime = await runtime_for(tmp_path, clock)
    chat = await queued_question(runtime)
    await run_until(runtime, clock, chat, wib(24, 18))  # Tuesday evening
    await runtime.close()
    runtime = await runtime_for(tmp_path, clock)  # a new process on the same database
    try:
        chat = FakeChat(runtime, user_id=chat.user_id)
        await run_until(runtime, clock, chat, wib(26, 17))
        progress = [t for t, _ in await sent(runtime, chat.user_id, "Kabar perkembangan")]
        assert progress == [wib(23, 10), wib(24, 10), wib(25, 10), wib(26, 10)]
        assert len(await sent(runtime, "8101", "Eskalasi tiket")) == 1
        assert len(await sent(runtime, "8201", "Batas waktu terlewati")) == 1
    finally:
        await runtime.close()


async def test_after_downtime_missed_progress_messages_collapse_into_one_in_service_hours(
    tmp_path: Path,
) -> None:
    clock = FakeClock(wib(23, 9))
    runtime = await runtime_for(tmp_path, clock, escalate_share=0.95)
    try:
        chat = await queued_question(runtime)
        await run_until(runtime, clock, chat, wib(23, 11))
        scheduler = Scheduler(runtime.engine, runtime.sessions, clock)
        clock.set(wib(25, 21))  # down from Monday 11:00 to Wednesday 21:00
        await scheduler.run_due()
        await chat.host.deliver_due()
        assert [t for t, _ in await sent(runtime, chat.user_id, "Kabar perkembangan")] == [
            wib(23, 10)
        ]  # not at night
        await run_until(runtime, clock, chat, wib(26, 11))
        progress = [t for t, _ in await sent(runtime, chat.user_id, "Kabar perkembangan")]
        assert progress == [
            wib(23, 10),
            wib(26, 8),
            wib(26, 10),
        ]  # one catch-up at Thursday's opening
    finally:
        await runtime.close()


async def test_taken_tickets_are_not_reminded_and_resolved_ones_stop_everything(
    tmp_path: Path,
) -> None:
    from tests.conftest import Inbound, InboundKind

    clock = FakeClock(wib(23, 9))
    runtime = await runtime_for(tmp_path, clock)
    try:
        chat = await queued_question(runtime)
        clock.set(wib(23, 9, 30))
        staff = Inbound(
            channel="telegram",
            user_id="8001",
            chat_id="8001",
            update_key="take",
            kind=InboundKind.COMMAND,
            command="ambil",
            args="1",
            text="/ambil 1",
        )
        await runtime.engine.handle(staff)
        await run_until(runtime, clock, chat, wib(24, 11))
        assert await sent(runtime, "8001", "tanpa petugas") == []
        progress = await sent(runtime, chat.user_id, "Kabar perkembangan")
        assert [t for t, _ in progress] == [
            wib(23, 10),
            wib(24, 10),
        ] and "Ditangani oleh: Andi CSO" in progress[-1][1]
        resolve = Inbound(
            channel="telegram",
            user_id="8001",
            chat_id="8001",
            update_key="done",
            kind=InboundKind.COMMAND,
            command="selesai",
            args="Jawabannya begini.",
            text="/selesai Jawabannya begini.",
        )
        await runtime.engine.handle(resolve)
        async with runtime.sessions() as session:
            pending = (
                await session.exec(select(ScheduledJob).where(ScheduledJob.status == "pending"))
            ).all()
        assert pending == []
        await run_until(runtime, clock, chat, wib(30, 17))
        assert len(await sent(runtime, chat.user_id, "Kabar perkembangan")) == 2
        assert await sent(runtime, "8201", "Batas waktu terlewati") == []
    finally:
        await runtime.close()


async def test_waiting_for_documents_pauses_the_deadline_when_configured(tmp_path: Path) -> None:
    from tests.conftest import Inbound, InboundKind

    clock = FakeClock(wib(23, 9))
    runtime = await runtime_for(tmp_path, clock, pause_while_awaiting_documents=True)
    try:
        chat = await queued_question(runtime)
        clock.set(wib(23, 10))
        await runtime.engine.handle(
            Inbound(
                channel="telegram",
                user_id="8001",
                chat_id="8001",
                update_key="a",
                kind=InboundKind.COMMAND,
                command="ambil",
                args="1",
                text="/ambil 1",
            )
        )
        await runtime.engine.handle(
            Inbound(
                channel="telegram",
                user_id="8001",
                chat_id="8001",
                update_key="d",
                kind=InboundKind.COMMAND,
                command="dokumen",
                args="surat",
                text="/dokumen surat",
            )
        )
        clock.set(wib(24, 14))  # the documents come a working day and 4 hours later (8 + 4 = 12 h)
        await chat.send("sudah semua")
        ticket = await chat.ticket()
        # Thu 16:00 + 12 working hours → Fri 16:00 (8 h) + Mon 12:00 (4 h).
        assert (ticket.status, ticket.deadline_at) == ("in_progress", wib(30, 12))
    finally:
        await runtime.close()


async def test_the_survey_after_resolution(tmp_path: Path) -> None:
    clock = FakeClock(wib(23, 9))
    runtime = await runtime_for(tmp_path, clock)
    try:
        chat = FakeChat(runtime)
        await chat.identify()
        await chat.send("bagaimana cara mengajukan tup?")
        await chat.press("Ya, terjawab")
        # Answered by the bot alone: the questions about officers (U6, U7) are not asked.
        assert "survei kepuasan singkat (2 pertanyaan" in chat.text
        assert chat.replies[-1].text.startswith(
            "(1/2) Bagaimana pendapat Bapak/Ibu tentang kecepatan waktu"
        )
        first = chat.button("2 – Kurang baik").action.encode()  # type: ignore[union-attr]
        await chat.press("4 – Sangat baik")
        second = chat.button("3 – Baik").action
        await chat.press_data(first)  # an old question pressed again: refused
        assert "sudah tidak berlaku" in chat.text
        await chat.press_action(second)
        assert "saran atau masukan" in chat.text
        await chat.send("Respons cepat, terima kasih")
        assert "Terima kasih atas penilaian" in chat.text
        answers = {(r.element, r.score, r.comment) for r in await rows(runtime, SurveyResponse)}
        assert answers == {
            ("U3", 4, None),
            ("U5", 3, None),
            ("comment", None, "Respons cepat, terima kasih"),
        }
        # Within the next 30 days the same stakeholder is not surveyed again.
        await chat.send("/baru")
        await chat.send("kapan gup bisa diajukan")
        await chat.press("Ya, terjawab")
        assert "survei" not in chat.text
        assert len(await rows(runtime, SurveyResponse)) == 3
    finally:
        await runtime.close()


async def test_typed_survey_answers_and_leaving_the_survey(tmp_path: Path) -> None:
    clock = FakeClock(wib(23, 9))
    shipped = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    survey = {**shipped["survey"], "min_days_between": 0}
    settings = make_settings(
        tmp_path, csobot_config=config_for_tests(tmp_path, staff=STAFF, survey=survey)
    )
    runtime = await build_runtime(settings, clock=clock)
    try:
        chat = FakeChat(runtime)
        await chat.identify()
        await chat.send("bagaimana cara mengajukan tup?")
        await chat.press("Ya, terjawab")
        await chat.send("4")  # the number of the option
        await chat.send("sgt baik pak")  # an abbreviation of "Sangat baik" (not "baik": 3)
        assert "saran atau masukan" in chat.text
        await chat.press("Lewati")
        scores = {(r.element, r.score) for r in await rows(runtime, SurveyResponse)}
        assert scores == {("U3", 4), ("U5", 4)}
        await chat.send("/baru")
        await chat.send("kapan gup bisa diajukan")
        await chat.press("Ya, terjawab")
        await chat.send("hmm")  # not a score: asked once more
        assert "pilih nilai 1–4" in chat.text
        await chat.send("bagaimana cara mengajukan tup?")  # moving on: the survey is left
        assert "survei kami tutup" in chat.text
        assert "KNS-20261123-0003" in chat.text  # and the question is handled as usual
        assert len(await rows(runtime, SurveyResponse)) == 2
    finally:
        await runtime.close()


def test_skm_index_as_the_regulation_defines_it() -> None:
    # U3: 4, 3 → 3.5; U6: 3 → 3.0; U7: 2, 2, 3 → 7/3; mean = (3.5 + 3 + 2.3333) / 3 = 2.9444; × 25 = 73.61 → C.
    assert skm_index([("U3", 4), ("U3", 3), ("U6", 3), ("U7", 2), ("U7", 2), ("U7", 3)]) == (
        73.61,
        "C",
        "Kurang Baik",
    )
    assert skm_index([("U1", 4)] * 3) == (100.0, "A", "Sangat Baik")
    assert skm_index([("U1", 1)]) == (25.0, "D", "Tidak Baik")
    assert skm_index([]) is None
    with pytest.raises(ValueError):
        skm_index([("U1", 5)])


async def test_ticket_clock_fields_are_utc_and_shown_in_status(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 11, 23, 2, 0, tzinfo=UTC))
    runtime = await runtime_for(tmp_path, clock)
    try:
        chat = await queued_question(runtime)
        await chat.send("/status")
        assert "Solusi paling lambat Kamis, 26-11-2026 pukul 16.00 WIB" in chat.text
        (stored,) = await rows(runtime, Ticket)
        assert stored.deadline_at is not None and stored.deadline_at.tzinfo is not None
    finally:
        await runtime.close()


async def test_a_job_whose_turn_fails_is_set_aside_once_not_retried_forever(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in a timer's handler: the turn is rolled back and its key used up, so the job could
    never run; it is marked failed at once, and the next sweep leaves it alone."""
    from handlers import service_clock

    clock = FakeClock(wib(23, 9))
    runtime = await runtime_for(tmp_path, clock)
    try:
        chat = await queued_question(runtime)
        calls: list[int] = []

        async def broken(turn: object) -> None:
            calls.append(1)
            raise RuntimeError("bug in a timer handler")

        monkeypatch.setattr(service_clock, "handle_timer", broken)
        clock.set(wib(23, 10))  # the first progress message and the queue reminder are due
        await chat.host.scheduler.run_due()
        jobs = await rows(runtime, ScheduledJob)
        failed = sorted(job.kind for job in jobs if job.status == "failed")
        assert failed == ["progress", "queue_reminder"] and len(calls) == 2
        clock.set(wib(23, 10, 10))
        await chat.host.scheduler.run_due()
        assert len(calls) == 2  # set aside: not tried again
    finally:
        await runtime.close()
