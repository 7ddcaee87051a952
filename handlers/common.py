"""Commands any stakeholder can use at any point: /start /bantuan /pengaduan /batal /status /profil /baru."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.messages import Button
from bot.turn import Turn
from handlers import consultation, identification

EDIT_PROFILE = "profile:edit"
SUMMARY_LENGTH = 80


def complaints(turn: Turn) -> None:
    """The office's complaint channels, exactly as its service standard lists them."""
    channels = turn.config.office_values()["complaint_channels"]
    turn.reply(f"{turn.text('complaints_header')}\n\n{channels}")


def help_(turn: Turn) -> None:
    turn.say("help")


async def start(turn: Turn) -> None:
    turn.say("welcome")
    if identification.is_complete(turn) and not turn.step.startswith("identify_"):
        turn.say("ask_question")
    else:
        identification.resume(turn)


async def cancel(turn: Turn) -> None:
    if turn.step == "idle":
        turn.say("nothing_to_cancel")
        return
    turn.set_step("idle")  # the draft stays: identification resumes where it stopped
    turn.say("cancelled")


async def new_question(turn: Turn) -> None:
    if not identification.is_complete(turn):
        turn.say("profile_missing")
        identification.resume(turn)
        return
    turn.set_step(consultation.AWAITING_QUESTION)
    turn.say("new_question_prompt")


async def status(turn: Turn) -> None:
    tickets = await consultation.open_tickets(turn)
    if not tickets:
        turn.say("status_none")
        return
    zone = ZoneInfo(turn.config.current_office.timezone)
    lines = [turn.text("status_header")]
    for ticket in tickets:
        summary = " ".join(ticket.question.split())
        if len(summary) > SUMMARY_LENGTH:
            summary = summary[: SUMMARY_LENGTH - 1] + "…"
        lines.append(
            turn.text(
                "status_line",
                ticket=ticket.number,
                opened=ticket.opened_at.astimezone(zone).strftime("%d-%m-%Y %H.%M"),
                status=turn.config.texts.status_labels.get(ticket.status, ticket.status),
                summary=summary,
                deadline=turn.deadline_text(ticket),
            )
        )
    turn.reply("\n".join(lines))


async def profile(turn: Turn) -> None:
    if not identification.is_complete(turn):
        turn.say("profile_missing")
        identification.resume(turn)
        return
    turn.reply(
        identification.profile_text(turn), [Button(turn.text("button_edit_profile"), EDIT_PROFILE)]
    )


async def edit_profile_button(turn: Turn) -> None:
    turn.inbound_label = turn.text("button_edit_profile")
    identification.start_edit(turn)
