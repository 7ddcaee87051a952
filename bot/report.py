"""Service-level report: does the office keep KEP-57/PB/2023? Figures from tickets and events.

Definitions (they are what auditors will ask about):
- tickets: opened in [start, end) (local dates of the office), by status, topic and channel;
- answered by the bot: resolved after the stakeholder confirmed a knowledge-base answer;
  by a CSO: resolved by a CSO (/selesai); shares are of resolved tickets;
- served within 20 minutes: first substantive answer at or before the 20-working-minute target,
  of all tickets (a ticket never answered counts as not served);
- resolved within 3 working days: resolved at or before the deadline, of tickets that are
  resolved or whose deadline has passed;
- breaches: deadline passed before resolution (resolved late, or still open after it);
- times: median and 90th percentile of minutes to the first answer and hours to resolution
  (clock time); SKM index of the survey answers given for these tickets (PermenPANRB 14/2017).
"""

from __future__ import annotations

import base64
import csv
import io
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import Config, format_local
from bot.skm import skm_index
from bot.store.models import SurveyResponse, Ticket, TicketEvent, TicketStatus
from bot.transcript import TEMPLATES


@dataclass
class Report:
    office: str
    office_name: str
    start: date
    end: date  # exclusive
    generated_at: datetime
    tickets: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    by_topic: Counter[str] = field(default_factory=Counter)
    by_channel: Counter[str] = field(default_factory=Counter)
    resolved: int = 0
    resolved_by_bot: int = 0
    resolved_by_cso: int = 0
    served_in_time: int = 0
    due_for_resolution: int = 0
    resolved_in_time: int = 0
    escalations: int = 0
    breaches: int = 0
    first_answer_minutes: list[float] = field(default_factory=list)
    resolution_hours: list[float] = field(default_factory=list)
    skm: tuple[float, str, str] | None = None
    survey_answers: int = 0
    by_hour: Counter[int] = field(default_factory=Counter)

    @staticmethod
    def share(part: int, whole: int) -> float | None:
        return round(100 * part / whole, 1) if whole else None

    @staticmethod
    def median_p90(values: list[float]) -> tuple[float | None, float | None]:
        if not values:
            return None, None
        ordered = sorted(values)
        p90 = ordered[min(len(ordered) - 1, max(0, -(-9 * len(ordered) // 10) - 1))]
        return round(statistics.median(ordered), 1), round(p90, 1)

    def figures(self) -> dict[str, object]:
        """Every figure, flat, for JSON and CSV."""
        first_median, first_p90 = self.median_p90(self.first_answer_minutes)
        resolution_median, resolution_p90 = self.median_p90(self.resolution_hours)
        return {
            "office": self.office,
            "from": self.start.isoformat(),
            "to": (self.end - timedelta(days=1)).isoformat(),
            "tickets": self.tickets,
            "resolved": self.resolved,
            "resolved_by_bot_share": self.share(self.resolved_by_bot, self.resolved),
            "resolved_by_cso_share": self.share(self.resolved_by_cso, self.resolved),
            "served_within_20_minutes_share": self.share(self.served_in_time, self.tickets),
            "resolved_within_3_working_days_share": self.share(
                self.resolved_in_time, self.due_for_resolution
            ),
            "escalations": self.escalations,
            "breaches": self.breaches,
            "first_answer_minutes_median": first_median,
            "first_answer_minutes_p90": first_p90,
            "resolution_hours_median": resolution_median,
            "resolution_hours_p90": resolution_p90,
            "skm_index": self.skm[0] if self.skm else None,
            "skm_grade": self.skm[1] if self.skm else None,
            "survey_answers": self.survey_answers,
            "by_status": dict(self.by_status),
            "by_topic": dict(self.by_topic.most_common()),
            "by_channel": dict(self.by_channel),
            "busiest_hours": {
                f"{hour:02d}": count for hour, count in sorted(self.by_hour.items())
            },
        }


def default_period(today: date) -> tuple[date, date]:
    """The last 7 days including today."""
    return today - timedelta(days=6), today + timedelta(days=1)


async def build_report(
    session: AsyncSession, config: Config, office: str, start: date, end: date, now: datetime
) -> Report:
    """The figures for tickets of `office` opened on local dates start ≤ d < end."""
    office_config = config.offices[office]
    zone = ZoneInfo(office_config.timezone)
    begin = datetime.combine(start, time(), tzinfo=zone)
    finish = datetime.combine(end, time(), tzinfo=zone)
    report = Report(office, office_config.name, start, end, now)
    query = select(Ticket).where(
        Ticket.office == office, Ticket.opened_at >= begin, Ticket.opened_at < finish
    )
    tickets = list((await session.exec(query)).all())
    ids = [ticket.id for ticket in tickets]
    events: dict[int, list[TicketEvent]] = {}
    if ids:
        rows = (
            await session.exec(
                select(TicketEvent)
                .where(col(TicketEvent.ticket_id).in_(ids))
                .order_by(col(TicketEvent.id))
            )
        ).all()
        for event in rows:
            events.setdefault(event.ticket_id, []).append(event)
    for ticket in tickets:
        report.tickets += 1
        report.by_status[ticket.status] += 1
        report.by_topic[ticket.topic_id or "-"] += 1
        report.by_channel[ticket.channel] += 1
        report.by_hour[ticket.opened_at.astimezone(zone).hour] += 1
        history = events.get(ticket.id or 0, [])
        if any(event.to_status == TicketStatus.ESCALATED for event in history):
            report.escalations += 1
        if ticket.first_answer_at is not None:
            report.first_answer_minutes.append(
                (ticket.first_answer_at - ticket.opened_at).total_seconds() / 60
            )
            if ticket.service_due_at is None or ticket.first_answer_at <= ticket.service_due_at:
                report.served_in_time += 1
        deadline = ticket.deadline_at
        if ticket.status == TicketStatus.RESOLVED and ticket.resolved_at is not None:
            report.resolved += 1
            report.resolution_hours.append(
                (ticket.resolved_at - ticket.opened_at).total_seconds() / 3600
            )
            closing = next(
                (e for e in reversed(history) if e.to_status == TicketStatus.RESOLVED), None
            )
            if closing is not None and closing.actor.startswith("cso:"):
                report.resolved_by_cso += 1
            else:
                report.resolved_by_bot += 1
            if deadline is not None:
                report.due_for_resolution += 1
                if ticket.resolved_at <= deadline:
                    report.resolved_in_time += 1
                else:
                    report.breaches += 1
        elif deadline is not None and now > deadline:
            report.due_for_resolution += 1
            report.breaches += 1
    if ids:
        answers = (
            await session.exec(
                select(SurveyResponse).where(col(SurveyResponse.ticket_id).in_(ids))
            )
        ).all()
        scored = [(answer.element, answer.score) for answer in answers if answer.score is not None]
        report.survey_answers = len(scored)
        report.skm = skm_index(scored)
    return report


def render_json(report: Report) -> str:
    import json

    return json.dumps(report.figures(), ensure_ascii=False, indent=2) + "\n"


def render_csv(report: Report) -> str:
    """Two columns, figure and value; breakdowns as `by_status.queued` and so on."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["figure", "value"])
    for key, value in report.figures().items():
        if isinstance(value, dict):
            for sub, count in value.items():
                writer.writerow([f"{key}.{sub}", count])
        else:
            writer.writerow([key, "" if value is None else value])
    return out.getvalue()


def _chart(counts: dict[str, int], title: str) -> str:
    """A bar chart as a base64 PNG (matplotlib, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(7, 2.8), dpi=100)
    labels = list(counts) or ["-"]
    axes.bar(labels, [counts.get(label, 0) for label in labels], color="#2b6cb0")
    axes.set_title(title, fontsize=10)
    axes.tick_params(axis="x", labelsize=8, labelrotation=30)
    axes.tick_params(axis="y", labelsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    pyplot.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def render_html(report: Report, config: Config) -> str:
    figures = report.figures()
    labels = config.texts.status_labels
    status_chart = _chart(
        {labels.get(k, k): v for k, v in report.by_status.items()}, "Tiket menurut status"
    )
    hours_chart = _chart(
        {f"{h:02d}": report.by_hour.get(h, 0) for h in range(6, 19)},
        "Tiket menurut jam (waktu setempat)",
    )
    return TEMPLATES.get_template("report.html").render(
        r=report,
        f=figures,
        labels=labels,
        status_chart=status_chart,
        hours_chart=hours_chart,
        to=report.end - timedelta(days=1),
        generated=format_local(report.generated_at, config.offices[report.office].timezone),
    )
