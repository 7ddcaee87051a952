"""Which handler gets an inbound event. The order matters and is explained once, here:

1. Outside private chats the bot only works in the staff group, and only for staff.
2. Edited messages are not re-processed: what was answered stays answered.
3. Staff (recognised by their account in config.yaml, never by what they type) are served by
   the desk; a stakeholder typing a staff command only gets "unknown command".
4. Without consent, only the notice, the help and the complaint channels are available, and
   nothing is stored (UU 27/2022 PDP).
5. Commands work at every step, so /batal and /bantuan always get the stakeholder out.
6. Buttons go to the handler that made them, by the name of their action (bot/buttons.py).
7. Text goes to identification while it is incomplete, otherwise to the consultation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot import timers, window
from bot.buttons import Action
from bot.messages import InboundKind
from bot.turn import Turn
from handlers import (
    answers,
    common,
    consent,
    consultation,
    conversation,
    desk,
    desk_commands,
    erasure,
    identification,
    service_clock,
    staff,
    supervision,
    survey,
    ticket_status,
)

CommandHandler = Callable[[Turn], Awaitable[None] | None]

COMMANDS: dict[str, CommandHandler] = {
    "start": common.start,
    "bantuan": common.help_,
    "help": common.help_,
    "pengaduan": common.complaints,
    "hapus_data": erasure.ask,
    "batal": common.cancel,
    "status": ticket_status.show,
    "profil": common.profile,
    "baru": common.new_question,
}
WITHOUT_CONSENT = {
    "bantuan": common.help_,
    "help": common.help_,
    "pengaduan": common.complaints,
    "hapus_data": erasure.nothing_stored,
}


async def route(turn: Turn) -> None:
    await _route(turn)
    await service_clock.after_turn(turn)


async def _route(turn: Turn) -> None:
    inbound = turn.inbound
    if inbound.kind is InboundKind.TIMER:
        if inbound.action is not None and inbound.action.name == timers.WEEKLY_REPORT:
            await supervision.weekly_report(turn)
        else:
            await service_clock.handle_timer(turn)
        return
    if not inbound.is_private:
        turn.record_inbound = False
        if (
            desk.is_desk_chat(turn)
            and turn.staff is not None
            and inbound.kind is not InboundKind.EDITED
        ):
            await desk_commands.handle_staff(turn)
        return
    if inbound.kind is InboundKind.EDITED:
        turn.say("edited_ignored")
        return
    if inbound.kind is InboundKind.COMMAND and staff.handles(turn):
        await staff.handle(turn)
        return
    if desk.is_staff_turn(turn):
        await desk_commands.handle_staff(turn)
        return
    if turn.stakeholder is None:
        await _without_consent(turn)
        return
    if inbound.kind is InboundKind.COMMAND:
        await _command(turn)
    elif inbound.kind is InboundKind.BUTTON:
        await _button(turn)
    elif inbound.kind is InboundKind.CONTACT:
        if turn.step == identification.PHONE:
            await identification.handle(turn)
        else:
            turn.say("contact_unexpected")
    elif inbound.kind is InboundKind.UNSUPPORTED:
        turn.say("unsupported_message")
    elif inbound.kind is InboundKind.FILE:
        await consultation.handle_file(turn)
    else:
        await _text(turn)
    await identification.ask_kept_question(turn)


async def _without_consent(turn: Turn) -> None:
    inbound = turn.inbound
    if inbound.kind is InboundKind.BUTTON and inbound.action in (consent.ACCEPT, consent.DECLINE):
        await consent.handle_button(turn, inbound.action)
    elif inbound.kind is InboundKind.TEXT and (typed := consent.accepts_typed(turn)) is not None:
        await consent.handle_button(turn, typed)
    elif inbound.kind is InboundKind.COMMAND and inbound.command in WITHOUT_CONSENT:
        await _call(WITHOUT_CONSENT[inbound.command], turn)
    else:
        consent.show_notice(
            turn, remind=not (inbound.kind is InboundKind.COMMAND and inbound.command == "start")
        )


async def _command(turn: Turn) -> None:
    command = turn.inbound.command or ""
    if command == "batal" and erasure.is_confirming(turn):
        erasure.cancel(turn)  # /batal answers the waiting erasure question: nothing is erased
        return
    handler = COMMANDS.get(command)
    if handler is None:
        turn.say("unknown_command", command=f"/{command}")
        return
    await _call(handler, turn)


IDENTIFICATION_BUTTONS = {
    (identification.ROLE_BUTTON, identification.ROLE),
    (identification.PHONE_BUTTON, identification.PHONE),
}
ButtonHandler = Callable[[Turn, Action], Awaitable[None]]
# action name → the handler that made such buttons
BUTTONS: dict[str, ButtonHandler] = {
    answers.ANSWER: consultation.handle_button,
    answers.MORE: consultation.handle_more,
    consultation.TOPIC: consultation.handle_button,
    desk.DOCUMENTS_DONE: consultation.handle_documents_done,
    erasure.ERASE: erasure.handle_button,
    survey.SKM: survey.handle_button,
    window.OPEN: common.open_held_messages,
    conversation.WHICH: conversation.handle_which,
    identification.FIELD_BUTTON: common.edit_field_button,
}


async def _button(turn: Turn) -> None:
    pressed = turn.inbound.action
    if pressed is None:
        turn.say("stale_button")
    elif (pressed.name, turn.step) in IDENTIFICATION_BUTTONS:
        await identification.handle(turn)
    elif pressed == common.EDIT_PROFILE:
        await common.edit_profile_button(turn)
    elif pressed.name == consent.OPT_IN:
        await consent.handle_opt_in(turn, pressed)
    elif pressed.name in BUTTONS:
        await BUTTONS[pressed.name](turn, pressed)
    else:
        turn.say("stale_button")


async def _text(turn: Turn) -> None:
    limit = turn.config.service.max_message_length
    if len(turn.inbound.text) > limit:
        turn.say(
            "too_long",
            length=f"{len(turn.inbound.text):,}".replace(",", "."),
            max_length=f"{limit:,}".replace(",", "."),
        )
        return
    if turn.step == erasure.CONFIRM and await erasure.handle_text(turn):
        return
    if survey.in_survey(turn) and await survey.handle_comment(turn):
        return
    if turn.step == consent.OPT_IN_STEP:
        consent.ask_opt_in(turn)  # typed labels and numbers arrive as the button already
    elif turn.step.startswith("identify_"):
        await identification.handle(turn)
    elif not identification.is_complete(turn):
        turn.say("profile_missing")
        identification.resume(turn)
    else:
        await conversation.handle_text(turn)


async def _call(handler: CommandHandler, turn: Turn) -> None:
    result = handler(turn)
    if result is not None:
        await result
