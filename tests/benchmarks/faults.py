"""`make faults`: stakeholders in bursts against `csobot run`, killed with SIGKILL at random
moments (seeded) and restarted; prints what was lost or duplicated against a run without kills,
on SQLite and, when CSOBOT_TEST_POSTGRES_URL is set, on PostgreSQL. Fails on anything lost and
on any duplicate that was not in flight at a kill (tests/faults.py)."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from tests.conftest import postgres_database
from tests.faults import Outcome, scenario

USERS = int(os.environ.get("FAULTS_USERS", "8"))
KILLS = int(os.environ.get("FAULTS_KILLS", "8"))
SEEDS = [int(seed) for seed in os.environ.get("FAULTS_SEEDS", "1,2").split(",")]


def report(database: str, seed: int, outcome: Outcome, seconds: float) -> None:
    print(
        f"  {database:<10} seed {seed}: {outcome.users} stakeholders, {outcome.kills} kills, "
        f"{outcome.expected} replies expected: lost {outcome.lost}, duplicated "
        f"{outcome.duplicated} (in flight at a kill: {outcome.in_flight}) ({seconds:.0f} s)"
    )
    for line in outcome.details[:10]:
        print(f"      {line}")


async def main() -> int:
    print(f"kill -9 faults ({USERS} stakeholders in bursts, {KILLS} kills per run)")
    failed = False
    for seed in SEEDS:
        with tempfile.TemporaryDirectory() as folder:
            started = time.monotonic()
            outcome = await scenario(Path(folder), users=USERS, kills=KILLS, seed=seed)
            report("SQLite", seed, outcome, time.monotonic() - started)
            failed |= bool(outcome.lost or outcome.duplicated > outcome.in_flight)
        postgres = os.environ.get("CSOBOT_TEST_POSTGRES_URL")
        if postgres:
            async with postgres_database(postgres) as one, postgres_database(postgres) as two:
                urls = (one, two)
                with tempfile.TemporaryDirectory() as folder:
                    started = time.monotonic()
                    outcome = await scenario(
                        Path(folder), urls, users=USERS, kills=KILLS, seed=seed
                    )
                    report("PostgreSQL", seed, outcome, time.monotonic() - started)
                    failed |= bool(outcome.lost or outcome.duplicated > outcome.in_flight)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
