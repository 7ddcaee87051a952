"""`make bench-load`: csobot under load, beside a bare python-telegram-bot application.

Simulated stakeholders talk to a fake Bot API on 127.0.0.1 over HTTP: newcomers identify
themselves, then ask answerable and out-of-scope questions. Each stakeholder sends its next update
only when the replies to the previous one have arrived (as a person would), all of them at once.
The real `csobot run` (a subprocess) serves them: polling on SQLite with the rate limiter off and
on, and, when CSOBOT_TEST_POSTGRES_URL is set, PostgreSQL with one and two webhook processes
(updates posted to each process in turn), the two also with the send budget they share (their
messages per second together stay under Telegram's 30). A bare PTB application answering each update once is
measured against the same fake in the same run.

A SQLite run starts with 10,000 open tickets (and their 40,000 pending jobs) in the database,
for the memory target; another paces all stakeholders together at 21 updates/s (Telegram's 30
messages/s at 1.4 messages per update), for the latency target at the platform's ceiling. Printed per mode: updates/s, p50/p99 from an update to its last reply, peak RSS of the bot
process(es), messages sent per update, the ratio to bare PTB, the bot's CPU and how many of the
machine's cores were busy (whether the machine was the limit); bare PTB runs again at the
end, and the unpaced runs are also given against the mean of both. BENCH_UPDATES (default 2000)
sets the size.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from tests.conftest import postgres_database, postgres_url
from tests.fakes.bot_api import FakeBotApi
from tests.faults import SCRIPT as FAULTS_SCRIPT
from tests.faults import environment

ROOT = Path(__file__).resolve().parents[2]
SECRET = "bench-load-secret"
OPEN_TICKETS = 10_000  # the memory target is stated with this many open tickets
PACE = 21.0  # updates/s that make Telegram's 30 messages/s at 1.4 messages per update
PACED_UPDATES = 600
IDENTIFICATION = FAULTS_SCRIPT[:7]  # /start … "Lewati": a newcomer identifying
# One stakeholder's conversation: identification, then questions (answerable, out of scope).
SCRIPT: list[tuple[str, str]] = [
    *IDENTIFICATION,
    ("text", "bagaimana cara mengajukan tup?"),
    ("text", "/baru"),
    ("text", "bagaimana prosedur mutasi pegawai antar kementerian lembaga"),
    ("text", "/baru"),
    ("text", "kapan gup bisa diajukan"),
    ("text", "/status"),
    ("text", "/baru"),
    ("text", "dana sp2d diretur bank karena rekening salah"),
    ("text", "/baru"),
    ("text", "apakah sp2d saya sudah terbit"),
    ("text", "/pengaduan"),
    ("text", "/bantuan"),
    ("text", "/status"),
]


@dataclass
class Result:
    name: str
    updates: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    messages: int = 0
    rss_mb: float = 0.0
    cpu_seconds: float = 0.0  # the bot processes' CPU time during the run (user + system)
    machine_busy: float = 0.0  # cores the whole machine kept busy (bot, database, fake, driver)

    @property
    def rate(self) -> float:
        return self.updates / self.seconds if self.seconds else 0.0

    def line(self, bare: Result | None) -> str:
        p50 = statistics.median(self.latencies) * 1000 if self.latencies else 0.0
        p99 = (
            statistics.quantiles(self.latencies, n=100)[98] * 1000
            if len(self.latencies) >= 100
            else max(self.latencies, default=0.0) * 1000
        )
        ratio = f"{self.rate / bare.rate:6.1%}" if bare is not None and bare.rate else "     -"
        return (
            f"{self.name:<34} {self.rate:8.1f} upd/s  p50 {p50:7.0f} ms  p99 {p99:7.0f} ms  "
            f"RSS {self.rss_mb:6.0f} MB  {self.messages / max(self.updates, 1):4.2f} msg/upd  "
            f"{ratio} of bare PTB  ({self.messages / self.seconds if self.seconds else 0:.1f} msg/s, "
            f"bot CPU {self.cpu_seconds / self.seconds if self.seconds else 0:.2f} cores, "
            f"machine {self.machine_busy:.2f} of {os.cpu_count()} busy)"
        )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process so far (/proc/<pid>/stat, clock ticks)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def machine_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs so far (/proc/stat; idle and iowait are not
    busy): whether the machine itself was the limit of a run."""
    try:
        fields = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return (0, 0)
    total = sum(fields[:8])  # user … steal; guest time is already counted in user
    return (total - fields[3] - fields[4], total)


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class Driver:
    """Pushes each stakeholder's next update once its replies have come (closed loop); with
    `pace`, no more than that many updates per second from all stakeholders together (the
    rate a bot meets when Telegram's 30 messages/s is what it can send)."""

    def __init__(
        self,
        server: FakeBotApi,
        users: list[int],
        replies_per_step: list[int],
        post: Callable[[dict[str, Any]], Any] | None = None,
        pace: float | None = None,
    ) -> None:
        self.server = server
        self.users = users
        self.expected = replies_per_step
        self.post = post  # webhook mode: deliver the update by HTTP instead of getUpdates
        self.pace = pace
        self.latencies: list[float] = []
        self._seen = 0
        self._counts: dict[str, int] = {}
        self._next_slot = 0.0

    async def _wait_for_slot(self) -> None:
        if self.pace is None:
            return
        now = time.monotonic()
        slot = max(now, self._next_slot)
        self._next_slot = slot + 1 / self.pace
        await asyncio.sleep(slot - now)

    def _count(self, user: int) -> int:
        """Messages sent to `user` so far (reading only the requests new since last time)."""
        requests = self.server.requests
        for request in requests[self._seen :]:
            if request.method == "sendMessage":
                chat = str(request.params.get("chat_id"))
                self._counts[chat] = self._counts.get(chat, 0) + 1
        self._seen = len(requests)
        return self._counts.get(str(user), 0)

    async def _send(self, user: int, kind: str, value: str) -> None:
        if self.post is None:
            if kind == "text":
                self.server.push_text(user, value)
            else:
                self.server.push_callback(user, value)
            return
        update = (
            self.server.text_update(user, value)
            if kind == "text"
            else {"update_id": 0, **self.server.callback_update(user, value)}
        )
        update["update_id"] = next(self.server._update_ids)
        await self.post(update)

    async def stakeholder(self, user: int, timeout: float = 120.0) -> None:
        received = 0
        for (kind, value), expected in zip(SCRIPT, self.expected, strict=True):
            await self._wait_for_slot()
            started = time.monotonic()
            await self._send(user, kind, value)
            received += expected
            deadline = started + timeout
            while self._count(user) < received:
                if time.monotonic() > deadline:
                    raise AssertionError(f"user {user}: no reply to {value!r}")
                await asyncio.sleep(0.005)
            self.latencies.append(time.monotonic() - started)

    async def run(self) -> float:
        started = time.monotonic()
        await asyncio.gather(*(self.stakeholder(user) for user in self.users))
        return time.monotonic() - started


async def calibrate(
    server: FakeBotApi,
    post: Callable[[dict[str, Any]], Any] | None = None,
    user: int = 999_999,
    settle: float = 0.6,
) -> list[int]:
    """How many replies each step of the script gets (one stakeholder, one step at a time)."""
    counts: list[int] = []
    driver = Driver(server, [user], [], post)
    for kind, value in SCRIPT:
        before = driver._count(user)
        await driver._send(user, kind, value)
        last, quiet_since = before, time.monotonic()
        while time.monotonic() - quiet_since < settle:
            now = driver._count(user)
            if now != last:
                last, quiet_since = now, time.monotonic()
            await asyncio.sleep(0.01)
        counts.append(last - before)
    return counts


async def start(command: list[str], env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *command,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout=30)
        except TimeoutError:
            process.kill()
            await process.wait()


async def open_tickets(database_url: str, count: int) -> None:
    """`count` tickets waiting for a CSO, each with its four pending jobs due in the coming
    days (nothing due during the run): what an office's database holds in a busy season."""
    from bot.store import db
    from tests.benchmarks.scheduler import populate

    engine = db.create_engine(database_url)
    try:
        await db.upgrade(engine)
        await populate(db.session_factory(engine), due=0, now=datetime.now(UTC), count=count)
    finally:
        await engine.dispose()


async def measure(
    name: str,
    *,
    workdir: Path,
    database_url: str,
    updates: int,
    bare: bool = False,
    rate_limit: bool = False,
    processes: int = 0,  # 0: polling; n: n webhook processes
    backlog: int = 0,  # open tickets already in the database
    pace: float | None = None,  # updates per second from all stakeholders together
) -> Result:
    if backlog:
        await open_tickets(database_url, backlog)
    server = FakeBotApi()
    await server.start()
    env = environment(workdir, server, database_url)
    env["CSOBOT_LOG_LEVEL"] = "ERROR"
    env["TELEGRAM_RATE_LIMIT"] = "true" if rate_limit else "false"
    bots: list[asyncio.subprocess.Process] = []
    ports = [18700 + n for n in range(processes)]
    session = aiohttp.ClientSession()
    turn = 0

    async def post(update: dict[str, Any]) -> None:
        nonlocal turn
        port = ports[turn % len(ports)]
        turn += 1
        for _ in range(50):
            try:
                async with session.post(
                    f"http://127.0.0.1:{port}/telegram",
                    json=update,
                    headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
                ) as response:
                    if response.status == 200:
                        return
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
                # A kept-alive connection the server closed as it was reused (disconnected, or
                # reset on uvloop); Telegram retries such a delivery too (the inbox drops the
                # repeat by update_id).
                pass
            await asyncio.sleep(0.1)
        raise AssertionError("webhook refused the update")

    try:
        if bare:
            command = [sys.executable, "-m", "tests.benchmarks.bare_ptb"]
            bots.append(await start(command, env, ROOT))
        elif processes:
            for number, port in enumerate(ports, 1):
                own = {
                    **env,
                    "TELEGRAM_WEBHOOK_URL": "https://bench.example/telegram",
                    "TELEGRAM_WEBHOOK_SECRET": SECRET,
                    "CSOBOT_WEBHOOK_LISTEN": "127.0.0.1",
                    "CSOBOT_WEBHOOK_PORT": str(port),
                }
                command = [sys.executable, "-m", "bot", "run", "--webhook"]
                bots.append(await start(command, own, workdir))
                # One at a time: the first migrates the database.
                await server.wait_for(lambda n=number: len(server.sent("setWebhook")) >= n, 90)
                await asyncio.sleep(1.0)  # the web app listens right after setWebhook
        else:
            bots.append(await start([sys.executable, "-m", "bot", "run"], env, workdir))
        if not processes:
            await server.wait_for(lambda: bool(server.sent("getUpdates")), timeout=90)
        per_step = (
            [1] * len(SCRIPT) if bare else await calibrate(server, post if processes else None)
        )
        users = [700_000 + n for n in range(max(1, updates // len(SCRIPT)))]
        before = len(server.sent("sendMessage"))
        driver = Driver(server, users, per_step, post if processes else None, pace)
        cpu_before = sum(cpu_seconds(bot.pid) for bot in bots)
        busy_before, total_before = machine_ticks()
        seconds = await driver.run()
        cpu = sum(cpu_seconds(bot.pid) for bot in bots) - cpu_before
        busy_after, total_after = machine_ticks()
        ticks = total_after - total_before
        machine_busy = (busy_after - busy_before) / ticks * (os.cpu_count() or 1) if ticks else 0
        sent = len(server.sent("sendMessage")) - before
        rss = sum(peak_rss_mb(bot.pid) for bot in bots)
        return Result(
            name,
            len(users) * len(SCRIPT),
            seconds,
            driver.latencies,
            sent,
            rss_mb=rss,
            cpu_seconds=cpu,
            machine_busy=machine_busy,
        )
    finally:
        for bot in bots:
            await stop(bot)
        await session.close()
        await server.stop()


async def main() -> None:
    updates = int(os.environ.get("BENCH_UPDATES", "2000"))
    print(
        f"bench-load: {updates} updates, {len(SCRIPT)} per stakeholder, on {os.cpu_count()} CPUs"
    )
    unpaced: list[Result] = []  # no rate limit: what measures the stack's own speed
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)

        def sqlite(name: str) -> str:
            (base / name).mkdir()
            return f"sqlite+aiosqlite:///{base / name / 'csobot.db'}"

        (base / "bare").mkdir()
        bare = await measure(
            "bare PTB (answers once)",
            workdir=base / "bare",
            database_url="",
            updates=updates,
            bare=True,
        )
        print(bare.line(None), flush=True)
        for name, limit in (("off", False), ("on", True)):
            url = sqlite(f"sqlite-{name}")
            result = await measure(
                f"csobot SQLite polling, limiter {name}",
                workdir=base / f"sqlite-{name}",
                database_url=url,
                updates=updates,
                rate_limit=limit,
            )
            if not limit:
                unpaced.append(result)
            print(result.line(bare), flush=True)
        url = sqlite("sqlite-backlog")
        backlog = await measure(
            f"csobot SQLite, {OPEN_TICKETS:,} open tickets",
            workdir=base / "sqlite-backlog",
            database_url=url,
            updates=updates,
            backlog=OPEN_TICKETS,
        )
        unpaced.append(backlog)
        print(backlog.line(bare), flush=True)
        # Latency at the platform's ceiling (1.4 messages per update, 30 messages/s): csobot's
        # own (limiter off), then with the queue a limiter at exactly that rate adds.
        for name, limit in (("off", False), ("on", True)):
            paced = await measure(
                f"csobot SQLite, paced {PACE:g} upd/s, limiter {name}",
                workdir=base / f"sqlite-paced-{name}",
                database_url=sqlite(f"sqlite-paced-{name}"),
                updates=min(updates, PACED_UPDATES),
                rate_limit=limit,
                pace=PACE,
            )
            print(paced.line(bare), flush=True)
        pg = postgres_url()
        if pg is None:
            print("PostgreSQL: CSOBOT_TEST_POSTGRES_URL is not set, skipped")
            await bracket(bare, unpaced, updates)
            return
        async with postgres_database(pg) as url:
            workdir = base / "pg-paced"
            workdir.mkdir()
            paced = await measure(
                f"csobot PostgreSQL webhook x1, paced {PACE:g} upd/s, limiter off",
                workdir=workdir,
                database_url=url,
                updates=min(updates, PACED_UPDATES),
                processes=1,
                pace=PACE,
            )
            print(paced.line(bare), flush=True)
        for processes, limit in ((1, False), (2, False), (2, True)):
            async with postgres_database(pg) as url:
                workdir = base / f"pg-{processes}-{limit}"
                workdir.mkdir()
                result = await measure(
                    f"csobot PostgreSQL webhook x{processes}"
                    + (", shared budget" if limit else ""),
                    workdir=workdir,
                    database_url=url,
                    updates=updates,
                    processes=processes,
                    rate_limit=limit,
                )
                if not limit:
                    unpaced.append(result)
                print(result.line(bare), flush=True)
    await bracket(bare, unpaced, updates)


async def bracket(first: Result, unpaced: list[Result], updates: int) -> None:
    """Bare PTB once more at the end, and the unpaced runs against both bare runs' mean: the
    machines we measure on change speed within minutes (bare PTB 378 to 547 updates/s within an
    hour on one of them), so one bare run at the start can flatter or shame what follows."""
    with tempfile.TemporaryDirectory() as tmp:
        again = await measure(
            "bare PTB again, at the end",
            workdir=Path(tmp),
            database_url="",
            updates=updates,
            bare=True,
        )
    print(again.line(None), flush=True)
    mean = (first.rate + again.rate) / 2
    print(f"against the mean of both bare PTB runs ({mean:.1f} updates/s):")
    for result in unpaced:
        print(f"  {result.name:<38} {result.rate / mean:6.1%}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
