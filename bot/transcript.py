"""The record of one consultation, as supervisors and auditors read it.

Everything that happened on a ticket, in order and in the office's local time: every message in
either direction (the stakeholder, the bot, each CSO by name), files, internal notes (marked), and
every status change with who made it and why. Staff-only desk posts (cards, relayed copies) are
left out: they repeat what the transcript already shows.

Statuses, reasons, actors, topics and headings are shown in the office's words (config.yaml
texts, bot/labels.py); the stored codes stay in the JSONL export (`actor`, `code`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import Config, format_local
from bot.knowledge.model import KnowledgeBase
from bot.labels import StaffLabels, actor_kind
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
    role: str = ""  # stakeholder | cso | bot | other: who `who` is, for styling
    actor: str = ""  # as stored: stakeholder, bot, cso:<name>
    code: str = ""  # an event's reason as stored (`detail` is it in the office's words)


@dataclass(frozen=True)
class Transcript:
    ticket: Ticket
    stakeholder: Stakeholder
    office_name: str
    timezone: str
    entries: tuple[Entry, ...]
    status: str = ""  # the ticket's status as staff read it
    topic: str = ""  # its topic by title, or "tanpa topik"

    def local(self, moment: datetime | None) -> str:
        return format_local(moment, self.timezone) if moment else "-"


async def load_transcript(
    session: AsyncSession, config: Config, number: str, knowledge: KnowledgeBase | None = None
) -> Transcript | None:
    """The ticket's transcript; topics are shown by their titles in `knowledge` (else by id)."""
    names = StaffLabels(config, knowledge)
    ticket = (
        await session.exec(select(Ticket).where(Ticket.number == number.strip().upper()))
    ).first()
    if ticket is None:
        return None
    stakeholder = await session.get(Stakeholder, ticket.stakeholder_id)
    assert stakeholder is not None

    def entry(at: datetime, kind: str, actor: str, text: str, **more: Any) -> Entry:
        who = names.actor(actor, stakeholder.full_name)
        return Entry(at, kind, who, text, role=actor_kind(actor), actor=actor, **more)

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
        rank = (
            0 if message.direction == "in" else 3
        )  # at one instant: what was said, what it caused, replies
        entries.append(
            (
                message.created_at,
                rank,
                entry(
                    message.created_at,
                    kind,
                    message.actor,
                    message.text,
                    internal=message.internal,
                    detail=delivery_detail(
                        message.payload, config, transcript_zone(config, ticket)
                    ),
                ),
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
        actor = "stakeholder" if item.direction == "in" else "bot"
        entries.append(
            (
                item.created_at,
                2,
                entry(item.created_at, "file", actor, item.file_name, detail=detail),
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
        move = f"{names.status(event.from_status)} → {names.status(event.to_status)}"
        entries.append(
            (
                event.at,
                1,
                entry(
                    event.at,
                    "event",
                    event.actor,
                    move,
                    detail=names.reason(event.reason),
                    code=event.reason,
                ),
            )
        )
    ordered = tuple(item for _, _, item in sorted(entries, key=lambda item: (item[0], item[1])))
    office = config.offices.get(ticket.office, config.current_office)
    return Transcript(
        ticket,
        stakeholder,
        office.name,
        office.timezone,
        ordered,
        status=names.status(ticket.status),
        topic=names.topic(ticket.topic_id),
    )


def transcript_zone(config: Config, ticket: Ticket) -> str:
    return config.offices.get(ticket.office, config.current_office).timezone


def delivery_detail(payload: dict[str, Any], config: Config, timezone: str) -> str:
    """What the platform reported about an outgoing message (WhatsApp: sent, delivered, read,
    failed, with the time) and the template it went out as, for staff reading a transcript."""
    parts = []
    if payload.get("template"):
        parts.append(
            f"{config.texts.channel_names.get('whatsapp', 'WhatsApp')} template {payload['template']}"
        )
    statuses = payload.get("statuses") or []
    if statuses:
        last = statuses[-1]
        label = config.texts.delivery_status_labels.get(last.get("status"), last.get("status"))
        try:
            at = format_local(datetime.fromisoformat(last["at"]), timezone)
        except (KeyError, ValueError):
            at = ""
        error = f" ({last['error']})" if last.get("error") else ""
        parts.append(f"{label} {at}{error}".strip())
    return " · ".join(parts)


def render_markdown(transcript: Transcript, config: Config) -> str:
    t, s = transcript.ticket, transcript.stakeholder
    role = config.role(s.role)
    text = config.text
    lines = [
        f"# {text('transcript_heading', ticket=t.number)} — {transcript.office_name}",
        "",
        f"- {text('transcript_stakeholder')}: {s.full_name or '-'} ({role.label if role else '-'}), {s.satker_code or ''} {s.organisation or ''}".rstrip(),
        f"- {text('transcript_status')}: {transcript.status}; {text('transcript_topic')}: {transcript.topic}",
        f"- {text('transcript_opened')}: {transcript.local(t.opened_at)}; {text('transcript_deadline')}: {transcript.local(t.deadline_at)}; {text('transcript_resolved')}: {transcript.local(t.resolved_at)}",
        "",
    ]
    zone = ZoneInfo(transcript.timezone)
    for entry in transcript.entries:
        when = entry.at.astimezone(zone).strftime("%d-%m-%Y %H.%M.%S")
        if entry.kind == "event":
            event = text("transcript_event", change=entry.text, who=entry.who, reason=entry.detail)
            lines.append(f"**{when}** · {event}")
        elif entry.kind == "file":
            lines.append(f"**{when}** · {entry.who} · 📎 {entry.text} ({entry.detail})")
        else:
            tag = f" · **[{text('transcript_internal')}]**" if entry.internal else ""
            tag += f" · _{entry.detail}_" if entry.detail else ""
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
        text=config.text,
        when=lambda moment: moment.astimezone(zone).strftime("%d-%m-%Y %H.%M.%S"),
    )


RENDERERS = {"md": render_markdown, "html": render_html}
