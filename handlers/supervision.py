"""Supervisors in Telegram: transcripts, ticket search, reports, a link into the dashboard, and
the weekly report sent to them by itself."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.addresses import ToStaffRole
from bot.login_tokens import issue_login_token
from bot.messages import Outbound, OutgoingFile
from bot.report import build_report
from bot.report import render_html as report_html
from bot.roles import SUPERVISOR
from bot.search import TicketQuery, search_tickets
from bot.transcript import load_transcript
from bot.transcript import render_html as transcript_html
from bot.turn import Turn

EXPORTS = Path("files") / "exports"
SEARCH_LIMIT = 10
_FILTER = re.compile(r"^(status|topik|dari|sampai):(\S+)$")


def _export(turn: Turn, name: str, content: str) -> str:
    """Write a file for sending; returns its path relative to the data directory."""
    relative = EXPORTS / name
    target = turn.data_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(content, encoding="utf-8")
    return str(relative)


def _document(turn: Turn, text: str, path: str) -> None:
    turn.send(Outbound(text, file=OutgoingFile(path, Path(path).name)))


async def transcript(turn: Turn, argument: str) -> None:
    """/transkrip KNS-…: the printable transcript as an HTML file."""
    if not argument:
        turn.say("supervisor_usage_transcript")
        return
    found = await load_transcript(turn.session, turn.config, argument, turn.matcher.knowledge)
    if found is None:
        turn.say("desk_unknown_ticket", ticket=argument)
        return
    path = _export(
        turn, f"transkrip-{found.ticket.number}.html", transcript_html(found, turn.config)
    )
    _document(turn, turn.text("supervisor_transcript", ticket=found.ticket.number), path)


async def search(turn: Turn, argument: str) -> None:
    """/cari [kata] [status:…] [topik:…] [dari:YYYY-MM-DD] [sampai:YYYY-MM-DD]"""
    filters: dict[str, str] = {}
    words = []
    for token in argument.split():
        match = _FILTER.match(token)
        if match:
            filters[match.group(1)] = match.group(2)
        else:
            words.append(token)
    try:
        query = TicketQuery(
            text=" ".join(words) or None,
            status=filters.get("status"),
            topic=filters.get("topik"),
            date_from=date.fromisoformat(filters["dari"]) if "dari" in filters else None,
            date_to=date.fromisoformat(filters["sampai"]) if "sampai" in filters else None,
            office=turn.config.office,
        )
    except ValueError:
        turn.say("supervisor_usage_search")
        return
    if not argument:
        turn.say("supervisor_usage_search")
        return
    zone = turn.config.current_office.timezone
    rows, total = await search_tickets(turn.session, query, zone, limit=SEARCH_LIMIT)
    if not rows:
        turn.say("supervisor_search_none")
        return
    lines = [turn.text("supervisor_search_header", total=total, shown=len(rows))]
    for ticket, stakeholder in rows:
        lines.append(
            f"• {ticket.number} · {turn.staff_status_label(ticket)} · "
            f"{stakeholder.full_name or '-'} ({stakeholder.satker_code or stakeholder.organisation or '-'}) · "
            f"{ticket.opened_at.astimezone(ZoneInfo(zone)):%d-%m-%Y}\n  {' '.join(ticket.question.split())[:80]}"
        )
    turn.reply("\n\n".join(lines), key="supervisor_search")


async def report(turn: Turn, argument: str) -> None:
    """/laporan [YYYY-MM-DD YYYY-MM-DD]: the report as an HTML file, with the headline figures."""
    zone = ZoneInfo(turn.config.current_office.timezone)
    today = turn.now.astimezone(zone).date()
    parts = argument.split()
    try:
        if len(parts) == 2:
            start, end = (
                date.fromisoformat(parts[0]),
                date.fromisoformat(parts[1]) + timedelta(days=1),
            )
        elif not parts:
            start, end = today - timedelta(days=7), today  # the last 7 full days
        else:
            raise ValueError(argument)
        if start >= end:
            raise ValueError(argument)
    except ValueError:
        turn.say("supervisor_usage_report")
        return
    await send_report(turn, start, end, to_supervisors=False)


async def send_report(turn: Turn, start: date, end: date, *, to_supervisors: bool) -> None:
    """The report as a file with its headline figures: to whoever asked, or to every supervisor."""
    built = await build_report(turn.session, turn.config, turn.config.office, start, end, turn.now)
    figures = built.figures()
    path = _export(
        turn,
        f"laporan-{turn.config.office}-{start}-{end - timedelta(days=1)}.html",
        report_html(built, turn.config, turn.matcher.knowledge),
    )
    summary = turn.text(
        "supervisor_report",
        office=built.office_name,
        start=start.strftime("%d-%m-%Y"),
        end=(end - timedelta(days=1)).strftime("%d-%m-%Y"),
        tickets=built.tickets,
        served=_pct(figures["served_within_20_minutes_share"])
        + f" ({built.served_on_time}/{built.service_denominator})",
        resolved=_pct(figures["resolved_within_3_working_days_share"])
        + f" ({built.resolved_on_time}/{built.resolution_denominator})",
        breaches=built.breaches,
        skm=f"{built.skm[0]:.2f} ({built.skm[1]})" if built.skm else "-",
    )
    file = OutgoingFile(path, Path(path).name)
    to = ToStaffRole(SUPERVISOR) if to_supervisors else None
    turn.send(Outbound(summary, to=to, key="supervisor_report", file=file))


def _pct(value: object) -> str:
    return "-" if value is None else f"{value} %".replace(".", ",")


async def login_link(turn: Turn, argument: str) -> None:
    """/masuk: a one-time link into the dashboard (10 minutes), if the dashboard is deployed."""
    base_url = turn.web_base_url.rstrip("/")
    if not base_url:
        turn.say("supervisor_no_dashboard")
        return
    assert turn.staff is not None
    token, row = issue_login_token(turn.staff.name, turn.now)
    turn.session.add(row)  # the link is sent only if the row is committed with this turn
    turn.say("supervisor_login_link", link=f"{base_url}/masuk/{token}")


async def weekly_report(turn: Turn) -> None:
    """The automatic weekly report: last Monday–Sunday, to every supervisor's private chat."""
    turn.record_inbound = False
    zone = ZoneInfo(turn.config.current_office.timezone)
    today = turn.now.astimezone(zone).date()
    start = today - timedelta(days=today.weekday() + 7)
    if turn.config.staff_with_role(SUPERVISOR):
        await send_report(turn, start, start + timedelta(days=7), to_supervisors=True)


COMMANDS = {"transkrip": transcript, "cari": search, "laporan": report, "masuk": login_link}
