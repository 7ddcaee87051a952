"""The kill -9 harness: stakeholders in bursts against a real `csobot run`, killed at random.

Used by tests/test_faults.py (small, in CI) and tests/benchmarks/faults.py (`make faults`, more
stakeholders and kills, SQLite and PostgreSQL). Each stakeholder follows the same script; the
replies each one receives are compared with a run without kills: a reply missing is lost, one
extra is a duplicate. Ticket numbers depend on arrival order and are compared as "KNS-#".

A duplicate is allowed in one case only, the at-least-once window the Bot API leaves (it has no
idempotency key): the bot was killed after Telegram accepted a message and before the bot could
mark it sent, so it sends it again after the restart. Such a duplicate is "in flight": its first
copy reached the server at most IN_FLIGHT before a kill and the copy came after that kill, at
most one per chat per kill. Every other duplicate is a bug.
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

from bot.inbox import CLAIM_TIME
from bot.outbox import STALE_CLAIM
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


IN_FLIGHT = 1.0  # seconds between Telegram accepting a message and the bot marking it sent


@dataclass
class Run:
    """What the stakeholders received: texts with when the server accepted them, and when the
    bot was killed (both time.monotonic())."""

    sent: dict[int, list[tuple[str, float]]]
    kills: list[float] = field(default_factory=list)

    def replies(self) -> dict[int, list[str]]:
        return {user: [text for text, _ in texts] for user, texts in self.sent.items()}


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
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


def received(server: FakeBotApi, users: list[int]) -> dict[int, list[tuple[str, float]]]:
    return {
        user: [
            (TICKET.sub("KNS-#", str(request.params["text"])), request.at)
            for request in server.sent("sendMessage", user)
        ]
        for user in users
    }


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
    killed: list[float] = []
    rng = random.Random(seed)
    server = FakeBotApi()
    await server.start()
    people = [600_000 + n for n in range(users)]
    env = environment(tmp_path, server, database_url)
    process = await start_bot(tmp_path, env)
    try:
        await server.wait_for(lambda: bool(server.sent("getUpdates")), timeout=90)
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
                killed.append(time.monotonic())
                process.send_signal(signal.SIGKILL)
                await process.wait()
                process = await start_bot(tmp_path, env)
                await server.wait_for(lambda: bool(server.sent("getUpdates")), timeout=90)
        await server.wait_consumed(timeout=120)
        await quiet(server, settle)
        return Run(received(server, people), killed)
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
        got = [text for text, _ in sent]
        outcome.expected += len(wanted)
        missing = Counter(wanted) - Counter(got)
        extra = Counter(got) - Counter(wanted)
        outcome.lost += sum(missing.values())
        outcome.duplicated += sum(extra.values())
        for text in missing:
            outcome.details.append(f"{user} lost: {text[:60]!r}")
        used: set[float] = set()  # a kill explains at most one duplicate in this chat
        for text, count in extra.items():
            times = [at for sent_text, at in sent if sent_text == text]
            explained = 0
            for kill in actual.kills:
                if explained == count or kill in used:
                    continue
                before = any(kill - IN_FLIGHT <= at <= kill for at in times)
                after = any(at > kill for at in times)
                if before and after:
                    used.add(kill)
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
