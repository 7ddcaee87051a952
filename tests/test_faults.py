"""Nothing lost, nothing twice: `csobot run` killed with SIGKILL at random moments while
stakeholders write in bursts, compared with the same conversations without kills."""

from __future__ import annotations

from pathlib import Path

from tests.faults import Run, compare, scenario


async def test_kill_9_in_the_middle_loses_nothing_and_repeats_nothing(tmp_path: Path) -> None:
    """Repeats nothing but a message in flight when the bot was killed (the Bot API has no
    idempotency key): at most one per chat per kill, sent again after the restart."""
    outcome = await scenario(tmp_path, users=4, kills=3, seed=20261129)
    assert outcome.expected > 4 * 10  # the script really ran
    assert outcome.lost == 0, outcome.details
    assert outcome.duplicated == outcome.in_flight, outcome.details


def test_only_a_message_in_flight_at_a_kill_may_come_twice() -> None:
    """The rule itself: a copy sent again after a kill that came within IN_FLIGHT of the first
    copy is the at-least-once case; any other repeat is counted as a bug."""
    expected = {1: ["a", "b"], 2: ["c"]}
    in_flight = Run({1: [("a", 10.0), ("a", 13.0), ("b", 14.0)], 2: [("c", 1.0)]}, [10.5])
    outcome = compare(expected, in_flight, kills=1)
    assert (outcome.lost, outcome.duplicated, outcome.in_flight) == (0, 1, 1)
    late_kill = Run({1: [("a", 10.0), ("a", 13.0), ("b", 14.0)], 2: [("c", 1.0)]}, [12.0])
    assert compare(expected, late_kill, kills=1).in_flight == 0  # 2 s after: not in flight
    twice = Run({1: [("a", 10.0), ("a", 13.0), ("a", 15.0), ("b", 16.0)], 2: [("c", 1.0)]}, [10.5])
    assert compare(expected, twice, kills=1).in_flight == 1  # one kill explains one copy
    lost = Run({1: [("a", 10.0)], 2: [("c", 1.0)]}, [])
    assert compare(expected, lost, kills=0).lost == 1
