"""Nothing lost, nothing twice: `csobot run` killed with SIGKILL at random moments while
stakeholders write in bursts, compared with the same conversations without kills."""

from __future__ import annotations

from pathlib import Path

from tests.faults import Copy, Database, Kill, Outcome, Run, compare, scenario


async def test_kill_9_in_the_middle_loses_nothing_and_repeats_nothing(tmp_path: Path) -> None:
    """Repeats nothing but a message in flight when the bot was killed (the Bot API has no
    idempotency key): at most one per chat per kill, sent again after the restart."""
    outcome = await scenario(tmp_path, users=4, kills=3, seed=20261129)
    assert outcome.expected > 4 * 10  # the script really ran
    assert outcome.lost == 0, outcome.details
    assert outcome.duplicated == outcome.in_flight, outcome.details


def test_only_a_message_in_flight_at_a_kill_may_come_twice() -> None:
    """The rule itself, read from what the database held at the kill: a copy accepted before
    the kill may come again after it only if its row was still claimed and not marked sent (or,
    for a reply kept nowhere, its update was still being processed); any other repeat is a bug,
    however close to the kill it came."""
    expected = {1: ["a", "b"], 2: ["c"]}
    sent = {1: [Copy("a", 10.0, 101), Copy("a", 13.0, 103), Copy("b", 14.0, 104)]}
    sent[2] = [Copy("c", 1.0, 100)]
    stored = Database(texts={1: ["a", "b"], 2: ["c"]})

    def outcome(*kills: Kill) -> Outcome:
        return compare(expected, Run(sent, list(kills), stored), kills=len(kills))

    claimed = Kill(10.5, Database(sending={1: ["a"]}))
    assert (outcome(claimed).lost, outcome(claimed).duplicated) == (0, 1)
    assert outcome(claimed).in_flight == 1
    # The bot had recorded the message as sent: the repeat is a bug, even 0.1 s after.
    marked = Kill(10.1, Database(sending={1: ["a"]}, recorded=frozenset({101})))
    assert outcome(marked).in_flight == 0
    # Nothing of that chat was claimed at the kill.
    assert outcome(Kill(10.5, Database(sending={2: ["c"]}))).in_flight == 0
    # A kill explains a copy sent before it and again after it, not one after both.
    assert outcome(Kill(13.5, Database(sending={1: ["a"]}))).in_flight == 0
    # A reply kept nowhere (no outbox row): in flight while its update was being processed.
    unstored = Run(sent, [Kill(10.5, Database(processing=frozenset({1})))], Database())
    assert compare(expected, unstored, kills=1).in_flight == 1
    idle = Run(sent, [Kill(10.5, Database(processing=frozenset({2})))], Database())
    assert compare(expected, idle, kills=1).in_flight == 0
    # One kill explains one copy of a text; a third copy needs a second kill.
    thrice = {1: [*sent[1][:2], Copy("a", 15.0, 105), Copy("b", 16.0, 106)], 2: sent[2]}
    one_kill = Run(thrice, [claimed], stored)
    assert compare(expected, one_kill, kills=1).in_flight == 1
    again = Kill(14.0, Database(sending={1: ["a"]}))
    assert compare(expected, Run(thrice, [claimed, again], stored), kills=2).in_flight == 2
    assert compare(expected, Run({1: [Copy("a", 10.0, 101)], 2: sent[2]}), kills=0).lost == 1
