"""Before consent nothing about the person is stored (UU 27/2022 PDP): only the notice is shown."""

from __future__ import annotations

from bot.buttons import Action, action
from bot.messages import Button
from bot.store.models import Conversation, Stakeholder
from bot.turn import Turn
from bot.window import ServiceWindow
from handlers import identification

CONSENT = "consent"
ACCEPT = action(CONSENT, "yes")
DECLINE = action(CONSENT, "no")
OPT_IN = "optin"  # optin:yes / optin:no — template notifications outside the window
OPT_IN_STEP = "notifications_opt_in"


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
    if asks_opt_in(turn):
        ask_opt_in(turn)
        return
    identification.resume(turn)


def accepts_typed(turn: Turn) -> Action | None:
    """The consent buttons' labels typed instead of pressed (before consent nothing is stored,
    so the buttons of the notice cannot be looked up like other choices)."""
    typed = " ".join(turn.inbound.text.split()).casefold()
    if typed == turn.text("button_consent_accept").casefold():
        return ACCEPT
    if typed == turn.text("button_consent_decline").casefold():
        return DECLINE
    return None


def asks_opt_in(turn: Turn) -> bool:
    """Channels with a customer-service window send notices outside it only to people who said
    yes (WhatsApp's opt-in rule)."""
    return (
        ServiceWindow.for_channel(turn.config, turn.inbound.channel) is not None
        and turn.config.whatsapp.ask_notifications_opt_in
    )


def ask_opt_in(turn: Turn) -> None:
    turn.set_step(OPT_IN_STEP)
    turn.say(
        "ask_notifications_opt_in",
        [
            Button(turn.text("button_opt_in_yes"), action(OPT_IN, "yes")),
            Button(turn.text("button_opt_in_no"), action(OPT_IN, "no")),
        ],
    )


async def handle_opt_in(turn: Turn, pressed: Action) -> None:
    """The answer is stored; then identification goes on where it was (or the profile ends)."""
    stakeholder = turn.stakeholder
    if pressed.args == ("ask",):  # from /profil
        ask_opt_in(turn)
        return
    if stakeholder is None or pressed.args not in (("yes",), ("no",)):
        turn.say("stale_button")
        return
    yes = pressed.args == ("yes",)
    stakeholder.notifications_opt_in = yes
    stakeholder.updated_at = turn.now
    turn.session.add(stakeholder)
    turn.inbound_label = turn.text("button_opt_in_yes" if yes else "button_opt_in_no")
    if turn.step == OPT_IN_STEP:
        turn.set_step("idle")
    if identification.is_complete(turn):  # changed from /profil
        turn.say("opt_in_saved")
        return
    identification.resume(turn)


def change_button(turn: Turn) -> list[Button]:
    """/profil's button to change the answer, where the question is asked at all."""
    if not asks_opt_in(turn):
        return []
    return [Button(turn.text("button_change_notifications"), action(OPT_IN, "ask"))]
