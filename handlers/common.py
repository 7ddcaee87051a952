"""Commands any stakeholder can use at any point: /start /bantuan /pengaduan /batal /status /profil /baru."""

from __future__ import annotations

from bot.buttons import Action, action
from bot.turn import Turn
from handlers import consent, consultation, conversation, identification

EDIT_PROFILE = action("profile_edit")


def complaints(turn: Turn) -> None:
    """The office's complaint channels, exactly as its service standard lists them."""
    channels = turn.config.office_values()["complaint_channels"]
    turn.reply(f"{turn.text('complaints_header')}\n\n{channels}", key="complaints")


def help_(turn: Turn) -> None:
    turn.say("help")


async def start(turn: Turn) -> None:
    turn.say("welcome")
    if identification.is_complete(turn) and not turn.step.startswith("identify_"):
        turn.say("ask_question")
    else:
        identification.resume(turn)


async def cancel(turn: Turn) -> None:
    """Stop the current step and say exactly what is kept."""
    if turn.step == "idle":
        turn.say("cancelled" if conversation.drop_waiting_question(turn) else "nothing_to_cancel")
        return
    if turn.step.startswith("identify_"):
        editing, kept = identification.kept_fields(turn)
        if editing:  # a change of one field: the profile stays as it was
            turn.set_step("idle", draft=None)
            turn.say("cancelled_edit")
        elif kept:  # a first identification: what was answered waits for the rest
            turn.set_step("idle")
            turn.say("cancelled_identification", kept=", ".join(kept))
        else:
            turn.set_step("idle")
            turn.say("cancelled_identification_empty")
        return
    turn.set_step("idle")
    turn.say("cancelled")


async def new_question(turn: Turn) -> None:
    if not identification.is_complete(turn):
        turn.say("profile_missing")
        identification.resume(turn)
        return
    if await conversation.ask_waiting_question(turn):
        return
    turn.set_step(consultation.AWAITING_QUESTION)
    turn.say("new_question_prompt")


async def profile(turn: Turn) -> None:
    if not identification.is_complete(turn):
        turn.say("profile_missing")
        identification.resume(turn)
        return
    turn.reply(
        identification.profile_text(turn),
        [*identification.field_buttons(turn), *consent.change_button(turn)],
        key="profile",
    )


async def edit_profile_button(turn: Turn) -> None:
    """The former "Ubah data diri" button (on older messages): which field to change."""
    turn.inbound_label = turn.text("button_edit_profile")
    identification.start_edit(turn)


async def edit_field_button(turn: Turn, pressed: Action) -> None:
    identification.edit_field(turn, pressed.arg(0) or "")


async def open_held_messages(turn: Turn, pressed: Action) -> None:
    """ "Buka pesan" on a template: writing to us opened the window, and the engine releases
    what was held for them; nothing more to say."""
    turn.inbound_label = turn.inbound.text or pressed.name
