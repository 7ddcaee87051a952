"""Nothing lost, nothing twice: `csobot run` killed with SIGKILL at random moments while
stakeholders write in bursts, compared with the same conversations without kills."""

from __future__ import annotations

from pathlib import Path

from tests.faults import scenario


async def test_kill_9_in_the_middle_loses_nothing_and_repeats_nothing(tmp_path: Path) -> None:
    outcome = await scenario(tmp_path, users=4, kills=3, seed=20261129)
    assert outcome.expected > 4 * 10  # the script really ran
    assert (outcome.lost, outcome.duplicated) == (0, 0), outcome.details
