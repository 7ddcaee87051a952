"""The kill -9 harness: stakeholders in bursts against a real `csobot run`, killed at random.

Used by tests/test_faults.py (small, in CI) and tests/benchmarks/faults.py (`make faults`, more
stakeholders and kills, SQLite and PostgreSQL). Each stakeholder follows the same script; the
replies each one receives are compared with a run without kills: a reply missing is lost, one
extra is a duplicate. Ticket numbers depend on arrival order and are compared as "KNS-#".

A duplicate is allowed in one case only, the at-least-once window the Bot API leaves (it has no
idempotency key): the bot was killed after Telegram accepted a message and before the bot could
mark it sent, so it sends it again after the restart. Whether that was so is read from the
database while the killed process is dead and before the next one starts (not guessed from
timing, which a slow machine stretches): a copy accepted before the kill is "in flight" when its
outbox row was still claimed and not marked sent (no row recorded its message id), or, for a
reply kept nowhere (before consent), when the update that produced it was still being
processed. A duplicate counts as in flight when such a copy came before a kill and another copy
after it, one copy per kill. Every other duplicate is a bug.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import col, select

from bot.inbox import CLAIM_TIME
from bot.outbox import STALE_CLAIM
from bot.store.models import InboxStatus, InboxUpdate, Message, OutboxItem, OutboxStatus
from bot.text_limits import TELEGRAM_TEXT_LIMIT, utf16_length
from tests.conftest import FIXTURE_KB, config_for_tests
from tests.fakes.bot_api import FakeBotApi

TICKET = re.compile(r"KNS-\d{8}-\d{4}")
# (kind, value): what one stakeholder does, sent in bursts without waiting for the replies.
SCRIPT: list[tuple[str, str]] = [
    ("text", "/start"),
    ("button", "consent:yes"),
    ("text", "Budi Santoso"),
    ("button", "role:ppk"),
    ("text", "123456"),
    ("text", "Satker Contoh"),
    ("text", "Lewati"),
    ("text", "bagaimana cara mengajukan tup?"),
    ("text", "/baru"),
    ("text", "bagaimana prosedur mutasi pegawai antar kementerian lembaga"),
    ("text", "/pengaduan"),
    ("text", "/bantuan"),
]


@dataclass(frozen=True)
class Copy:
    """One message the server accepted: its text, when (time.monotonic()) and its message id."""

    text: str
    at: float
    message_id: int


@dataclass(frozen=True)
class Database:
    """What the database held about the stakeholders' chats at one moment."""

    sending: dict[int, list[str]] = field(default_factory=dict)  # rows claimed, not marked sent
    recorded: frozenset[int] = frozenset()  # message ids the bot recorded as sent
    processing: frozenset[int] = frozenset()  # chats with an update claimed and not done
    texts: dict[int, list[str]] = field(default_factory=dict)  # every outbox row's text


@dataclass(frozen=True)
class Kill:
    """A killed process: `at` is when it was dead and the next one not yet started (every copy
    accepted before came from it), `database` what it left."""

    at: float
    database: Database


def part_of(text: str, row: str) -> bool:
    """The copy is this row's text, or one part of a text too long for one message."""
    return text == row or (utf16_length(row) > TELEGRAM_TEXT_LIMIT and text in row)


@dataclass
class Run:
    """What the stakeholders received, the kills, and what the database held in the end."""

    sent: dict[int, list[Copy]]
    kills: list[Kill] = field(default_factory=list)
    final: Database = field(default_factory=Database)

    def replies(self) -> dict[int, list[str]]:
        return {user: [copy.text for copy in copies] for user, copies in self.sent.items()}

    def in_flight(self, user: int, copy: Copy, kill: Kill) -> bool:
        """Whether this copy, accepted before the kill, may be sent again after it."""
        if copy.at > kill.at or copy.message_id in kill.database.recorded:
            return False
        if any(part_of(copy.text, row) for row in self.final.texts.get(user, [])):
            return any(part_of(copy.text, row) for row in kill.database.sending.get(user, []))
        return user in kill.database.processing  # kept nowhere: its update runs again


@dataclass
class Outcome:
    lost: int = 0
    duplicated: int = 0
    in_flight: int = 0  # duplicates explained by a kill during their send
    kills: int = 0
    users: int = 0
    expected: int = 0
    details: list[str] = field(default_factory=list)


def environment(tmp_path: Path, server: FakeBotApi, database_url: str) -> dict[str, str]:
    keep = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TELEGRAM_", "CSOBOT_", "DATABASE_URL"))
    }
    return {
        **keep,
        "TELEGRAM_BOT_TOKEN": "123456:FAULTS",
        "TELEGRAM_API_BASE_URL": server.base_url,
        "DATABASE_URL": database_url,
        "CSOBOT_KNOWLEDGE_DIR": str(FIXTURE_KB),
        "CSOBOT_CONFIG": str(config_for_tests(tmp_path)),
        "CSOBOT_DATA_DIR": str(tmp_path / "data"),
        "CSOBOT_LOG_LEVEL": "WARNING",
    }


async def start_bot(tmp_path: Path, env: dict[str, str]) -> asyncio.subprocess.Process:
    """A `csobot run`; what it logs (warnings and worse) goes to bot.log beside its database."""
    with (tmp_path / "bot.log").open("ab") as log:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=log,
        )


async def polling(server: FakeBotApi, tmp_path: Path) -> None:
    """Wait until the first process polls; say what it logged if it never does."""
    try:
        await server.wait_for(lambda: bool(server.sent("getUpdates")), timeout=90)
    except AssertionError as exc:
        raise AssertionError(f"the bot did not start polling; {log_tail(tmp_path)}") from exc


def log_tail(tmp_path: Path) -> str:
    log = (tmp_path / "bot.log").read_text(encoding="utf-8", errors="replace")
    return f"the bot's log ends:\n{log[-3000:]}"


def received(server: FakeBotApi, users: list[int]) -> dict[int, list[Copy]]:
    return {
        user: [
            Copy(
                TICKET.sub("KNS-#", str(request.params["text"])),
                request.at,
                int(request.params["_result"]["message_id"]),
            )
            for request in server.sent("sendMessage", user)
        ]
        for user in users
    }


async def read_database(database_url: str) -> Database:
    """The outbox's and the inbox's state, read with the bot stopped."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    select(
                        col(OutboxItem.chat_id),
                        col(OutboxItem.status),
                        col(OutboxItem.platform_message_id),
                        col(Message.payload),
                    ).join(Message, col(Message.id) == col(OutboxItem.message_id))
                )
            ).all()
            senders = (
                await connection.execute(
                    select(col(InboxUpdate.sender)).where(
                        col(InboxUpdate.status) == InboxStatus.PENDING,
                        col(InboxUpdate.claimed_until).is_not(None),
                    )
                )
            ).all()
    finally:
        await engine.dispose()
    sending: dict[int, list[str]] = {}
    texts: dict[int, list[str]] = {}
    recorded: set[int] = set()
    for chat_id, status, platform_id, payload in rows:
        if not str(chat_id).lstrip("-").isdigit():
            continue
        text = TICKET.sub("KNS-#", str(payload.get("text", "")))
        texts.setdefault(int(chat_id), []).append(text)
        if status == OutboxStatus.SENDING:
            sending.setdefault(int(chat_id), []).append(text)
        if platform_id is not None and str(platform_id).isdigit():
            recorded.add(int(platform_id))
    processing = {
        int(sender.removeprefix("user:"))
        for (sender,) in senders
        if sender.removeprefix("user:").isdigit()
    }
    return Database(sending, frozenset(recorded), frozenset(processing), texts)


async def drive(
    tmp_path: Path,
    database_url: str,
    *,
    users: int,
    kills: int,
    seed: int,
    settle: float = 4.0,
) -> Run:
    """Run the script for `users` stakeholders in bursts, SIGKILL the bot `kills` times at
    random moments (seeded) and restart it; return what each stakeholder received."""
    killed: list[Kill] = []
    rng = random.Random(seed)
    server = FakeBotApi()
    await server.start()
    people = [600_000 + n for n in range(users)]
    env = environment(tmp_path, server, database_url)
    process = await start_bot(tmp_path, env)
    try:
        await polling(server, tmp_path)
        queue = [(user, step) for user in people for step in SCRIPT]
        # Interleave the stakeholders while keeping each one's own order.
        order = sorted(range(len(queue)), key=lambda i: (i % len(SCRIPT), rng.random()))
        pushes = [queue[i] for i in order]
        kill_at = sorted(rng.sample(range(1, len(pushes)), kills)) if kills else []
        for index, (user, (kind, value)) in enumerate(pushes):
            if kind == "text":
                server.push_text(user, value)
            else:
                server.push_callback(user, value)
            if index % 4 == 3:  # a burst, then a short pause
                await asyncio.sleep(rng.uniform(0.05, 0.4))
            if index in kill_at:
                await asyncio.sleep(rng.uniform(0.0, 0.6))  # somewhere in the middle of work
                process.send_signal(signal.SIGKILL)
                await process.wait()
                left = await read_database(database_url)
                await asyncio.sleep(0.05)  # the server has read what the dead process had sent
                killed.append(Kill(time.monotonic(), left))
                # Not waiting for it to poll: the next kill may land while it is starting.
                process = await start_bot(tmp_path, env)
        try:
            await server.wait_consumed(timeout=120)
        except AssertionError as exc:
            raise AssertionError(f"updates left unread; {log_tail(tmp_path)}") from exc
        await quiet(server, settle)
        return Run(received(server, people), killed, await read_database(database_url))
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), timeout=30)
            except TimeoutError:
                process.kill()
                await process.wait()
        await server.stop()


async def quiet(server: FakeBotApi, seconds: float) -> None:
    """Wait until the bot has sent nothing for `seconds` (everything pending delivered)."""
    while True:
        before = len(server.requests)
        await asyncio.sleep(seconds)
        if len(server.requests) == before or all(
            r.method == "getUpdates" for r in server.requests[before:]
        ):
            return


def compare(expected: dict[int, list[str]], actual: Run, kills: int) -> Outcome:
    outcome = Outcome(kills=kills, users=len(expected))
    for user, wanted in expected.items():
        sent = actual.sent.get(user, [])
        got = [copy.text for copy in sent]
        outcome.expected += len(wanted)
        missing = Counter(wanted) - Counter(got)
        extra = Counter(got) - Counter(wanted)
        outcome.lost += sum(missing.values())
        outcome.duplicated += sum(extra.values())
        for text in missing:
            outcome.details.append(f"{user} lost: {text[:60]!r}")
        for text, count in extra.items():
            copies = [copy for copy in sent if copy.text == text]
            explained = 0
            for kill in actual.kills:  # a kill explains one copy of a text
                if explained == count:
                    break
                before = any(actual.in_flight(user, copy, kill) for copy in copies)
                if before and any(copy.at > kill.at for copy in copies):
                    explained += 1
            outcome.in_flight += explained
            kind = "extra (in flight at a kill)" if explained == count else "extra"
            outcome.details.append(f"{user} {kind}: {text[:60]!r}")
    return outcome


async def scenario(
    tmp_path: Path, urls: tuple[str, str] | None = None, *, users: int, kills: int, seed: int
) -> Outcome:
    """The same script twice, on two fresh databases (`urls`, default two SQLite files):
    without kills, then with them."""
    baseline_dir, faulty_dir = tmp_path / "baseline", tmp_path / "faulty"
    baseline_dir.mkdir()
    faulty_dir.mkdir()
    baseline_url, faulty_url = urls or (
        f"sqlite+aiosqlite:///{baseline_dir / 'faults.db'}",
        f"sqlite+aiosqlite:///{faulty_dir / 'faults.db'}",
    )
    expected = (await drive(baseline_dir, baseline_url, users=users, kills=0, seed=seed)).replies()
    # On PostgreSQL another process may be alive, so a killed process's claims are not taken
    # back at start: on received updates they run out after CLAIM_TIME, on messages it was
    # sending after STALE_CLAIM, and then they are processed and sent. Waiting less counted
    # a chat held up by a message in flight at the last kill as lost.
    longest_claim = max(CLAIM_TIME, STALE_CLAIM).total_seconds()
    settle = 4.0 if urls is None else longest_claim + 5
    actual = await drive(
        faulty_dir, faulty_url, users=users, kills=kills, seed=seed, settle=settle
    )
    return compare(expected, actual, kills)
