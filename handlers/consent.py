"""Before consent nothing about the person is stored (UU 27/2022 PDP): only the notice is shown."""

from __future__ import annotations

from bot.buttons import Action, action
from bot.messages import Button
from bot.store.models import Conversation, Stakeholder
from bot.turn import Turn
from handlers import identification

CONSENT = "consent"
ACCEPT = action(CONSENT, "yes")
DECLINE = action(CONSENT, "no")


def consent_buttons(turn: Turn) -> list[Button]:
    return [
        Button(turn.text("button_consent_accept"), ACCEPT),
        Button(turn.text("button_consent_decline"), DECLINE),
    ]


def show_notice(turn: Turn, *, remind: bool = False) -> None:
    """Welcome plus the privacy notice with its buttons; `remind` when they wrote something else."""
    if remind:
        turn.say("consent_required")
    else:
        turn.say("welcome")
    turn.say("privacy_notice", consent_buttons(turn))


async def handle_button(turn: Turn, pressed: Action) -> None:
    """The only button a person without consent can press; the consent record starts the transcript."""
    if pressed != ACCEPT:
        turn.say("consent_declined")
        return
    inbound = turn.inbound
    stakeholder = Stakeholder(
        channel=inbound.channel,
        channel_user_id=inbound.user_id,
        chat_id=inbound.chat_id,
        consent_at=turn.now,
        created_at=turn.now,
        updated_at=turn.now,
    )
    turn.session.add(stakeholder)
    await turn.session.flush()
    turn.stakeholder = stakeholder
    turn.conversation = Conversation(
        stakeholder_id=stakeholder.id,  # type: ignore[arg-type]
        step="idle",
        data={},
        updated_at=turn.now,
    )
    turn.session.add(turn.conversation)
    turn.inbound_label = turn.text("button_consent_accept")
    identification.resume(turn)
