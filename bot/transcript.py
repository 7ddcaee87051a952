"""The record of one consultation, as supervisors and auditors read it.

Everything that happened on a ticket, in order and in the office's local time: every message in
either direction (the stakeholder, the bot, each CSO by name), files, internal notes (marked), and
every status change with who made it and why. Staff-only desk posts (cards, relayed copies) are
left out: they repeat what the transcript already shows.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import Config, format_local
from bot.store.models import Attachment, Message, Stakeholder, Ticket, TicketEvent

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class Entry:
    at: datetime
    kind: str  # message | note | file | event
    who: str
    text: str
    internal: bool = False
    detail: str = ""


@dataclass(frozen=True)
class Transcript:
    ticket: Ticket
    stakeholder: Stakeholder
    office_name: str
    timezone: str
    entries: tuple[Entry, ...]

    def local(self, moment: datetime | None) -> str:
        return format_local(moment, self.timezone) if moment else "-"


def speaker(actor: str, stakeholder: Stakeholder) -> str:
    if actor == "stakeholder":
        return f"{stakeholder.full_name or 'Stakeholder'} (stakeholder)"
    if actor.startswith("cso:"):
        return f"{actor[4:]} (CSO)"
    return "csobot" if actor == "bot" else actor


async def load_transcript(session: AsyncSession, config: Config, number: str) -> Transcript | None:
    ticket = (
        await session.exec(select(Ticket).where(Ticket.number == number.strip().upper()))
    ).first()
    if ticket is None:
        return None
    stakeholder = await session.get(Stakeholder, ticket.stakeholder_id)
    assert stakeholder is not None
    entries: list[tuple[datetime, int, Entry]] = []
    messages = (
        await session.exec(
            select(Message).where(Message.ticket_id == ticket.id).order_by(col(Message.id))
        )
    ).all()
    for message in messages:
        if message.kind == "desk":
            continue
        kind = "note" if message.kind == "note" else "message"
        who = speaker(message.actor, stakeholder)
        rank = (
            0 if message.direction == "in" else 3
        )  # at one instant: what was said, what it caused, replies
        entries.append(
            (
                message.created_at,
                rank,
                Entry(message.created_at, kind, who, message.text, message.internal),
            )
        )
    files = (
        await session.exec(
            select(Attachment)
            .where(Attachment.ticket_id == ticket.id)
            .order_by(col(Attachment.id))
        )
    ).all()
    for item in files:
        detail = f"{item.file_type.upper()}, {item.size:,} byte, sha256 {item.sha256[:16]}…, {item.path}".replace(
            ",", ".", 1
        )
        who = speaker("stakeholder" if item.direction == "in" else "bot", stakeholder)
        entries.append(
            (
                item.created_at,
                2,
                Entry(item.created_at, "file", who, item.file_name, detail=detail),
            )
        )
    changes = (
        await session.exec(
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket.id)
            .order_by(col(TicketEvent.id))
        )
    ).all()
    for event in changes:
        labels = config.texts.status_labels
        move = f"{labels.get(event.from_status or '', event.from_status or 'baru')} → {labels.get(event.to_status, event.to_status)}"
        entries.append(
            (
                event.at,
                1,
                Entry(
                    event.at, "event", speaker(event.actor, stakeholder), move, detail=event.reason
                ),
            )
        )
    ordered = tuple(entry for _, _, entry in sorted(entries, key=lambda item: (item[0], item[1])))
    office = config.offices.get(ticket.office, config.current_office)
    return Transcript(ticket, stakeholder, office.name, office.timezone, ordered)


def render_markdown(transcript: Transcript, config: Config) -> str:
    t, s = transcript.ticket, transcript.stakeholder
    role = config.role(s.role)
    lines = [
        f"# Transkrip {t.number} — {transcript.office_name}",
        "",
        f"- Stakeholder: {s.full_name or '-'} ({role.label if role else '-'}), {s.satker_code or ''} {s.organisation or ''}".rstrip(),
        f"- Status: {config.texts.status_labels.get(t.status, t.status)}; topik: {t.topic_id or '-'}",
        f"- Dibuka: {transcript.local(t.opened_at)}; batas solusi: {transcript.local(t.deadline_at)}; selesai: {transcript.local(t.resolved_at)}",
        "",
    ]
    zone = ZoneInfo(transcript.timezone)
    for entry in transcript.entries:
        when = entry.at.astimezone(zone).strftime("%d-%m-%Y %H.%M.%S")
        if entry.kind == "event":
            lines.append(f"**{when}** · _status_ {entry.text} ({entry.who}: {entry.detail})")
        elif entry.kind == "file":
            lines.append(f"**{when}** · {entry.who} · 📎 {entry.text} ({entry.detail})")
        else:
            tag = " · **[INTERNAL]**" if entry.internal else ""
            body = entry.text.replace("\n", "\n> ")
            lines.append(f"**{when}** · {entry.who}{tag}\n> {body}")
        lines.append("")
    return "\n".join(lines)


def render_jsonl(transcript: Transcript) -> str:
    zone = ZoneInfo(transcript.timezone)
    rows = []
    for entry in transcript.entries:
        row = asdict(entry)
        row["at"] = entry.at.astimezone(zone).isoformat()
        row["ticket"] = transcript.ticket.number
        rows.append(json.dumps(row, ensure_ascii=False))
    return "\n".join(rows) + "\n"


def render_html(transcript: Transcript, config: Config) -> str:
    zone = ZoneInfo(transcript.timezone)
    role = config.role(transcript.stakeholder.role)
    return TEMPLATES.get_template("transcript.html").render(
        t=transcript,
        role=role.label if role else "-",
        status=config.texts.status_labels.get(transcript.ticket.status, transcript.ticket.status),
        labels=config.texts.status_labels,
        when=lambda moment: moment.astimezone(zone).strftime("%d-%m-%Y %H.%M.%S"),
    )


RENDERERS = {"md": render_markdown, "html": render_html}
