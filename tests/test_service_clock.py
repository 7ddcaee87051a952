"""The service clock over simulated weeks: exact times of progress messages, reminders,
escalation and breach notices, a restart in the middle, downtime, and the survey."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlalchemy import event
from sqlmodel import col, select

from bot.clock import FakeClock
from bot.runtime import Runtime, build_runtime
from bot.scheduler import Scheduler
from bot.skm import skm_index
from bot.store.models import Message, ScheduledJob, SurveyResponse, Ticket
from bot.turn import Turn
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


async def confirmed_answer(runtime: Runtime) -> FakeChat:
    """A stakeholder whose question the bot answered and who said it was: the survey starts."""
    chat = FakeChat(runtime)
    await chat.identify()
    await chat.send("bagaimana cara mengajukan tup?")
    await chat.press("Ya, terjawab")
    return chat


async def test_the_survey_after_resolution(tmp_path: Path) -> None:
    clock = FakeClock(wib(23, 9))
    runtime = await runtime_for(tmp_path, clock)
    try:
        chat = await confirmed_answer(runtime)
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


async def test_a_survey_left_unanswered_is_not_offered_again_soon(tmp_path: Path) -> None:
    clock = FakeClock(wib(23, 9))
    runtime = await runtime_for(tmp_path, clock)
    try:
        chat = await confirmed_answer(runtime)
        assert "survei kepuasan" in chat.text
        await chat.send("kapan gup bisa diajukan?")  # leaves the survey unanswered
        await chat.press("Ya, terjawab")
        assert "survei" not in chat.text
        clock.advance(days=31)  # after the configured 30 days: offered again
        await chat.send("/baru")
        await chat.send("bagaimana cara mengajukan tup?")
        await chat.press("Ya, terjawab")
        assert "survei kepuasan" in chat.text
        assert await rows(runtime, SurveyResponse) == []
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
        chat = await confirmed_answer(runtime)
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
        # Tried in their batch (rolled back as a whole), then each alone, where it is set aside.
        assert failed == ["progress", "queue_reminder"] and len(calls) == 4
        clock.set(wib(23, 10, 10))
        await chat.host.scheduler.run_due()
        assert len(calls) == 4  # set aside: not tried again
    finally:
        await runtime.close()


async def three_queued_tickets(runtime: Runtime) -> list[FakeChat]:
    chats = []
    for user_id in ("1001", "1002", "1003"):
        chat = FakeChat(runtime, user_id=user_id)
        await chat.identify()
        await chat.send("bagaimana cara mengajukan tup?")
        await chat.press("Belum")
        chats.append(chat)
    return chats


async def test_due_jobs_of_many_tickets_share_a_transaction(tmp_path: Path) -> None:
    """A backlog runs in batches: one transaction for every ticket's first due job, one for
    every ticket's second, and so on (one ticket's jobs in order, never in one transaction)."""
    clock = FakeClock(wib(23, 9))
    runtime = await runtime_for(tmp_path, clock)
    try:
        chats = await three_queued_tickets(runtime)
        clock.set(wib(23, 10))  # each ticket's first progress message and queue reminder
        due: dict[int, int] = {}
        for job in await rows(runtime, ScheduledJob):
            if job.due_at <= clock.now():
                due[job.ticket_id] = due.get(job.ticket_id, 0) + 1
        assert len(due) == 3 and max(due.values()) == 2
        await chats[0].host.scheduler.run_weekly_report()  # not a job: out of the count below
        claims: list[str] = []

        def count_claims(conn: object, cursor: object, statement: str, *_: object) -> None:
            if statement.startswith("INSERT INTO processed_update"):
                claims.append(statement)

        engine = runtime.db_engine.sync_engine
        event.listen(engine, "before_cursor_execute", count_claims)
        try:
            assert await chats[0].host.scheduler.run_due() == sum(due.values())
        finally:
            event.remove(engine, "before_cursor_execute", count_claims)
        # One statement (and transaction) per layer takes the keys of all its jobs: 2, not 6.
        assert len(claims) == max(due.values())
        for chat in chats:
            assert len(await sent(runtime, chat.user_id, "Kabar perkembangan")) == 1
        jobs = await rows(runtime, ScheduledJob)
        assert sorted(job.ticket_id for job in jobs if job.status == "done") == sorted(
            ticket_id for ticket_id, count in due.items() for _ in range(count)
        )
        planned = {
            job.ticket_id for job in jobs if job.kind == "progress" and job.status == "pending"
        }
        assert planned == set(due)  # each ticket's next progress message
    finally:
        await runtime.close()


async def test_a_failing_job_in_a_batch_does_not_hold_back_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When one job's turn fails, its batch is rolled back and each job runs alone: the others
    still reach their stakeholders exactly once, and only the broken one is set aside."""
    from handlers import service_clock

    clock = FakeClock(wib(23, 9))
    runtime = await runtime_for(tmp_path, clock)
    try:
        chats = await three_queued_tickets(runtime)
        stakeholder = await chats[1].stakeholder()
        assert stakeholder is not None
        (broken_ticket,) = [
            ticket.id
            for ticket in await rows(runtime, Ticket)
            if ticket.stakeholder_id == stakeholder.id
        ]
        original = service_clock.handle_timer
        tried: list[int] = []

        async def sometimes_broken(turn: Turn) -> None:
            action = turn.inbound.action
            job = await turn.session.get(ScheduledJob, action.int_arg(0) if action else 0)
            assert job is not None
            tried.append(job.ticket_id)
            if job.ticket_id == broken_ticket and job.kind == "progress":
                raise RuntimeError("bug in a timer handler")
            await original(turn)

        monkeypatch.setattr(service_clock, "handle_timer", sometimes_broken)
        clock.set(wib(23, 10))
        await chats[0].host.scheduler.run_due()
        for chat in (chats[0], chats[2]):
            assert len(await sent(runtime, chat.user_id, "Kabar perkembangan")) == 1
        assert await sent(runtime, "1002", "Kabar perkembangan") == []
        progress = [job for job in await rows(runtime, ScheduledJob) if job.kind == "progress"]
        finished = sorted(
            (job.ticket_id, job.status) for job in progress if job.status != "pending"
        )
        assert finished == sorted(
            (ticket_id, "failed" if ticket_id == broken_ticket else "done")
            for ticket_id in {job.ticket_id for job in progress}
        )
        # The progress layer's batch failed: its three jobs ran in it, then each alone.
        assert tried.count(broken_ticket) >= 2 and len(tried) > len(set(tried))
    finally:
        await runtime.close()
