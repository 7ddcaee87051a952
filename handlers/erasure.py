"""/hapus_data: a stakeholder withdraws consent and has their personal data erased themselves
(UU 27/2022 PDP: the right to withdraw consent and to have personal data deleted).

The bot says what will happen and asks for confirmation with two buttons (or a typed "ya" /
"batal"). Open tickets are closed first, not left waiting or used to refuse: the person has the
right to withdraw at any time, and nobody could be answered afterwards anyway. The CSOs who
hold such a ticket are told why it closed. Then the profile, the conversation and every message
text are erased (bot/queries/erasure.py), their files and exported transcripts deleted, and
tickets, status events and survey answers stay as the office's records without identity, until
retention removes them. The last message is said in the same turn, to the chat the
confirmation came from, and like every reply to someone without consent it is stored nowhere.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.addresses import ToStaffRole
from bot.buttons import Action, action
from bot.files import TICKETS
from bot.messages import Button, ThreadAction
from bot.queries import erasure, tickets
from bot.retention import exported_transcripts
from bot.roles import CSO
from bot.store.models import HANDED_OFF, Ticket, TicketStatus
from bot.tickets import TRANSITIONS
from bot.turn import Turn
from handlers import desk

ERASE = "erase"  # erase:<yes|no>:<nonce> — the nonce of the confirmation that showed it
CONFIRM = "erasure_confirm"
YES, NO = "yes", "no"
CONFIRM_MINUTES = 10  # a confirmation left longer than this must be asked again
YES_WORDS = frozenset({"ya", "iya", "ya hapus", "ya hapus data saya"})
NO_WORDS = frozenset({"batal", "tidak", "tdk", "jangan", "gak", "nggak"})
ACTOR = "stakeholder"
REASON = "consent withdrawn: personal data erased (UU 27/2022)"


def nothing_stored(turn: Turn) -> None:
    """Before consent there is nothing to erase."""
    turn.say("erasure_nothing_stored")


async def ask(turn: Turn) -> None:
    """/hapus_data: explain, and ask to confirm with buttons that only this question accepts."""
    assert turn.stakeholder is not None and turn.stakeholder.id is not None
    open_tickets = await tickets.open_of(turn.session, turn.stakeholder.id)
    pending = _pending(turn)
    previous = pending["previous"] if pending else turn.step
    nonce = secrets.token_hex(4)
    turn.set_step(
        CONFIRM, erasure={"nonce": nonce, "asked": turn.now.isoformat(), "previous": previous}
    )
    if open_tickets:
        numbers = ", ".join(ticket.number for ticket in open_tickets)
        open_text = turn.text("erasure_open_tickets", tickets=numbers)
    else:
        open_text = turn.text("erasure_no_open_tickets")
    buttons = [
        Button(turn.text("button_erasure_confirm"), action(ERASE, YES, nonce)),
        Button(turn.text("button_erasure_cancel"), action(ERASE, NO, nonce)),
    ]
    turn.say("erasure_explain", buttons, open_tickets=open_text)


async def handle_button(turn: Turn, pressed: Action) -> None:
    """A confirmation button: only that of the question now waiting counts; others are stale."""
    pending = _pending(turn)
    choice, nonce = pressed.arg(0), pressed.arg(1)
    if pending is None or choice not in (YES, NO) or not nonce or nonce != pending["nonce"]:
        turn.say("stale_button")
        return
    if choice == NO:
        turn.inbound_label = turn.text("button_erasure_cancel")
        cancel(turn)
        return
    turn.inbound_label = turn.text("button_erasure_confirm")
    await _confirmed(turn, pending)


async def handle_text(turn: Turn) -> bool:
    """Text while the confirmation waits: "ya" erases, "batal" cancels; anything else cancels
    too and is then handled as usual (False), so a question typed instead is not lost."""
    pending = _pending(turn)
    if pending is None:
        return False
    word = " ".join(turn.inbound.text.casefold().replace(",", " ").replace(".", " ").split())
    if word in YES_WORDS:
        await _confirmed(turn, pending)
        return True
    cancel(turn)
    return word in NO_WORDS


def cancel(turn: Turn) -> None:
    """Batal (button, typed, or /batal): nothing is erased; back to where they were."""
    _restore(turn)
    turn.say("erasure_cancelled")


def is_confirming(turn: Turn) -> bool:
    return _pending(turn) is not None


def _pending(turn: Turn) -> dict[str, Any] | None:
    if turn.conversation is None or turn.step != CONFIRM:
        return None
    pending = turn.conversation.data.get("erasure")
    return pending if isinstance(pending, dict) and pending.get("nonce") else None


def _restore(turn: Turn) -> None:
    pending = _pending(turn) or {}
    assert turn.conversation is not None
    turn.conversation.data = {k: v for k, v in turn.conversation.data.items() if k != "erasure"}
    turn.set_step(str(pending.get("previous") or "idle"))


async def _confirmed(turn: Turn, pending: dict[str, Any]) -> None:
    asked = datetime.fromisoformat(str(pending["asked"]))
    if turn.now - asked > timedelta(minutes=CONFIRM_MINUTES):
        _restore(turn)
        turn.say("erasure_expired", minutes=CONFIRM_MINUTES)
        return
    await _erase(turn)


async def _erase(turn: Turn) -> None:
    stakeholder = turn.stakeholder
    assert stakeholder is not None and stakeholder.id is not None
    for ticket in await tickets.open_of(turn.session, stakeholder.id):
        _close(turn, ticket)
    erased = await erasure.erase(turn.session, stakeholder, turn.now)
    # Files go now, in the transaction's turn: should the commit fail, the person asked for
    # their deletion anyway, and /hapus_data again finishes the rest.
    for path in erased.files:
        _delete(turn, turn.data_dir / path)
    for export in exported_transcripts(turn.data_dir, erased.tickets):
        export.unlink(missing_ok=True)
    # From here the person is someone without consent: the inbound is not recorded and the
    # reply goes once to the chat it came from (engine._persist), stored nowhere.
    turn.stakeholder = None
    turn.conversation = None
    turn.say("erasure_done")


def _close(turn: Turn, ticket: Ticket) -> None:
    """Resolve an open ticket whose owner withdrew, and tell the staff who have it.

    The conversation row is deleted before the service clock runs after the turn, so closing
    starts no satisfaction survey (survey.start finds no conversation)."""
    with_staff = ticket.status in HANDED_OFF or ticket.desk_thread_id is not None
    if TicketStatus.RESOLVED in TRANSITIONS[TicketStatus(ticket.status)]:
        turn.move(ticket, TicketStatus.RESOLVED, actor=ACTOR, reason=REASON)
    else:  # asked: the owner was choosing among offered topics
        erasure.close_unanswered(turn.session, ticket, actor=ACTOR, reason=REASON, at=turn.now)
    if not with_staff:
        return
    if desk.has_group(turn) or ticket.assignee is not None:
        desk.post_text(turn, ticket, "desk_erased", ticket=ticket.number)
    else:
        turn.tell(
            ToStaffRole(CSO), "desk_erased", about=ticket, internal=True, ticket=ticket.number
        )
    if desk.has_group(turn):
        desk.post(turn, ticket, ticket.number, thread_action=ThreadAction.CLOSE)


def _delete(turn: Turn, target: Path) -> None:
    target.unlink(missing_ok=True)
    folder = target.parent  # the ticket's folder, named by its number: removed once empty
    if folder.parent == turn.data_dir / TICKETS and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
