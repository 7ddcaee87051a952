"""Service-level report: does the office keep KEP-57/PB/2023? Figures from tickets and events.

Definitions (they are what auditors will ask about):
- the tickets of a report: those opened in [start, end), local dates of their own office. Every
  figure is about these tickets and no others, in the state they are in at `now` (when the
  report is made): a ticket opened in the period and resolved after it counts, one opened before
  the period and resolved in it does not. So the report of a past week settles as its tickets
  do, and a ticket that is never resolved never drops out of it;
- answered by the bot: resolved after the stakeholder confirmed a knowledge-base answer;
  by a CSO: resolved by a CSO (/selesai); shares are of resolved tickets;
- served within 20 minutes (KEP-57's first promise): `served_on_time` (first substantive answer
  at or before `service_due_at`, 20 working minutes) ÷ `service_denominator`, which is every
  ticket with a first answer (`served_on_time` + `served_late`) plus `waiting_past_20_minutes`,
  tickets still open without a first answer after their `service_due_at` (they have already
  missed it). An answer waiting for the stakeholder's confirmation (status answered) is an
  answer. A ticket still waiting but not yet 20 minutes is not in the figure (it may still be
  served in time), nor is one closed without ever being answered (the stakeholder left);
- resolved within 3 working days (the second): `resolved_on_time` (resolved_at ≤ deadline_at)
  ÷ `resolution_denominator` = resolved (`resolved_on_time` + `resolved_late`) +
  `open_past_deadline`, tickets not resolved whose deadline passed before `now`. A ticket open
  within its deadline (`open_within_deadline`) is not in the figure yet. An answer the
  stakeholder has not confirmed (status answered) is not a resolution: the ticket is open, and
  once its deadline has passed it is a breach like any other open ticket (the report counts
  these apart, `answered_unconfirmed` and `answered_unconfirmed_past_deadline`, so a reader can
  see how many breaches are answers nobody confirmed);
- tickets without a recorded clock (`service_due_at` or `deadline_at` empty: csobot sets both
  when a ticket opens) are left out of the figure for that clock;
- breaches: `resolved_late` + `open_past_deadline`;
- times: median and 90th percentile of minutes to the first answer and hours to resolution
  (clock time); SKM index of the survey answers given for these tickets (PermenPANRB 14/2017),
  with the average score (1–4) and the number of answers of every element (U1…U9) answered;
- all offices (`office` None or "*", a DJPb regional view): every office of config.yaml, each
  with its own local dates, added up — counts are sums, shares are recomputed from the summed
  numerators and denominators, times and the SKM index from all the tickets' values and answers
  together (not averages of the offices' figures) — with every office's figures as well.
"""

from __future__ import annotations

import base64
import csv
import io
import statistics
from collections import Counter
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import Config, format_local
from bot.knowledge.model import UNVERIFIED_MARK, KnowledgeBase
from bot.labels import StaffLabels
from bot.skm import skm_index
from bot.store.models import SurveyResponse, Ticket, TicketEvent, TicketStatus
from bot.transcript import TEMPLATES

ALL_OFFICES = "*"

# The figures of every office in an all-offices report (its per-office table).
OFFICE_FIGURES = (
    "tickets",
    "resolved",
    "served_within_20_minutes_share",
    "served_on_time",
    "served_late",
    "waiting_past_20_minutes",
    "service_denominator",
    "resolved_within_3_working_days_share",
    "resolved_on_time",
    "resolved_late",
    "open_past_deadline",
    "resolution_denominator",
    "open_within_deadline",
    "answered_unconfirmed",
    "answered_unconfirmed_past_deadline",
    "escalations",
    "answers_from_unverified_entries",
    "breaches",
    "skm_index",
    "skm_grade",
    "skm_grade_name",
    "survey_answers",
    "skm_element_average",
    "skm_element_answers",
)


@dataclass
class Report:
    office: str  # an office id, or ALL_OFFICES
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
    served_on_time: int = 0
    served_late: int = 0
    waiting_past_20_minutes: int = 0
    resolved_on_time: int = 0
    resolved_late: int = 0
    open_past_deadline: int = 0
    open_within_deadline: int = 0
    answered_unconfirmed: int = 0
    answered_unconfirmed_past_deadline: int = 0
    escalations: int = 0
    answers_from_unverified: int = 0  # tickets answered (provisionally or not) from such entries
    first_answer_minutes: list[float] = field(default_factory=list)
    resolution_hours: list[float] = field(default_factory=list)
    survey_scores: list[tuple[str, int]] = field(default_factory=list)  # (element, score 1–4)
    by_hour: Counter[int] = field(default_factory=Counter)
    per_office: dict[str, Report] = field(default_factory=dict)  # all offices: each one's own

    @property
    def service_denominator(self) -> int:
        return self.served_on_time + self.served_late + self.waiting_past_20_minutes

    @property
    def resolution_denominator(self) -> int:
        return self.resolved_on_time + self.resolved_late + self.open_past_deadline

    @property
    def breaches(self) -> int:
        return self.resolved_late + self.open_past_deadline

    @property
    def survey_answers(self) -> int:
        return len(self.survey_scores)

    @property
    def skm(self) -> tuple[float, str, str] | None:
        return skm_index(self.survey_scores)

    @property
    def skm_elements(self) -> dict[str, tuple[int, float]]:
        """Element → (answers, average score 1–4), U1…U9 in order; only elements answered."""
        scores: dict[str, list[int]] = {}
        for element, score in self.survey_scores:
            scores.setdefault(element, []).append(score)
        return {
            element: (len(values), round(sum(values) / len(values), 3))
            for element, values in sorted(scores.items(), key=lambda item: _element_order(item[0]))
        }

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
        """Every figure, flat, for JSON and CSV (an all-offices report adds `offices`: the
        figures of OFFICE_FIGURES for every office)."""
        first_median, first_p90 = self.median_p90(self.first_answer_minutes)
        resolution_median, resolution_p90 = self.median_p90(self.resolution_hours)
        skm = self.skm
        elements = self.skm_elements
        figures: dict[str, object] = {
            "office": self.office,
            "from": self.start.isoformat(),
            "to": (self.end - timedelta(days=1)).isoformat(),
            "tickets": self.tickets,
            "resolved": self.resolved,
            "resolved_by_bot_share": self.share(self.resolved_by_bot, self.resolved),
            "resolved_by_cso_share": self.share(self.resolved_by_cso, self.resolved),
            "served_within_20_minutes_share": self.share(
                self.served_on_time, self.service_denominator
            ),
            "served_on_time": self.served_on_time,
            "served_late": self.served_late,
            "waiting_past_20_minutes": self.waiting_past_20_minutes,
            "service_denominator": self.service_denominator,
            "resolved_within_3_working_days_share": self.share(
                self.resolved_on_time, self.resolution_denominator
            ),
            "resolved_on_time": self.resolved_on_time,
            "resolved_late": self.resolved_late,
            "open_past_deadline": self.open_past_deadline,
            "resolution_denominator": self.resolution_denominator,
            "open_within_deadline": self.open_within_deadline,
            "answered_unconfirmed": self.answered_unconfirmed,
            "answered_unconfirmed_past_deadline": self.answered_unconfirmed_past_deadline,
            "escalations": self.escalations,
            "answers_from_unverified_entries": self.answers_from_unverified,
            "breaches": self.breaches,
            "first_answer_minutes_median": first_median,
            "first_answer_minutes_p90": first_p90,
            "resolution_hours_median": resolution_median,
            "resolution_hours_p90": resolution_p90,
            "skm_index": skm[0] if skm else None,
            "skm_grade": skm[1] if skm else None,
            "skm_grade_name": skm[2] if skm else None,
            "survey_answers": self.survey_answers,
            "skm_element_average": {element: avg for element, (_, avg) in elements.items()},
            "skm_element_answers": {element: n for element, (n, _) in elements.items()},
            "by_status": dict(self.by_status),
            "by_topic": dict(self.by_topic.most_common()),
            "by_channel": dict(self.by_channel),
            "busiest_hours": {
                f"{hour:02d}": count for hour, count in sorted(self.by_hour.items())
            },
        }
        if self.office == ALL_OFFICES:
            figures["offices"] = {
                key: {
                    name: value for name, value in part.figures().items() if name in OFFICE_FIGURES
                }
                for key, part in self.per_office.items()
            }
        return figures


def _element_order(element: str) -> tuple[int, str]:
    """U1, U2, …, U9 (and U10 after U9, were there one); anything else after them."""
    digits = element[1:]
    return (int(digits), element) if element[:1] == "U" and digits.isdigit() else (10**6, element)


def default_period(today: date) -> tuple[date, date]:
    """The last 7 days including today."""
    return today - timedelta(days=6), today + timedelta(days=1)


async def build_report(
    session: AsyncSession,
    config: Config,
    office: str | None,
    start: date,
    end: date,
    now: datetime,
) -> Report:
    """The figures for tickets of `office` opened on local dates start ≤ d < end, as they stand
    at `now`; `office` None or ALL_OFFICES: every office together, with each one's figures."""
    if office is not None and office != ALL_OFFICES:
        return await _office_report(session, config, office, start, end, now)
    parts = {
        key: await _office_report(session, config, key, start, end, now)
        for key in sorted(config.offices)
    }
    names = ", ".join(part.office_name for part in parts.values())
    total = Report(ALL_OFFICES, names, start, end, now, per_office=parts)
    added = [
        item.name
        for item in fields(Report)
        if item.name not in {"office", "office_name", "start", "end", "generated_at", "per_office"}
    ]
    for part in parts.values():
        for name in added:  # counts add up, counters merge, lists of values join
            setattr(total, name, getattr(total, name) + getattr(part, name))
    return total


async def _office_report(
    session: AsyncSession, config: Config, office: str, start: date, end: date, now: datetime
) -> Report:
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
        if any(UNVERIFIED_MARK in event.reason for event in history):
            report.answers_from_unverified += 1
        is_resolved = ticket.status == TicketStatus.RESOLVED and ticket.resolved_at is not None
        unconfirmed = ticket.status == TicketStatus.ANSWERED
        report.answered_unconfirmed += int(unconfirmed)
        # KEP-57's first promise: a first answer within 20 working minutes.
        service_due = ticket.service_due_at
        if ticket.first_answer_at is not None:
            report.first_answer_minutes.append(
                (ticket.first_answer_at - ticket.opened_at).total_seconds() / 60
            )
            if service_due is not None:
                if ticket.first_answer_at <= service_due:
                    report.served_on_time += 1
                else:
                    report.served_late += 1
        elif service_due is not None and not is_resolved and now > service_due:
            report.waiting_past_20_minutes += 1
        # The second: a solution by the end of the 3rd working day.
        deadline = ticket.deadline_at
        if is_resolved:
            assert ticket.resolved_at is not None
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
                if ticket.resolved_at <= deadline:
                    report.resolved_on_time += 1
                else:
                    report.resolved_late += 1
        elif deadline is not None:
            if now > deadline:
                report.open_past_deadline += 1
                report.answered_unconfirmed_past_deadline += int(unconfirmed)
            else:
                report.open_within_deadline += 1
    if ids:
        answers = (
            await session.exec(
                select(SurveyResponse).where(col(SurveyResponse.ticket_id).in_(ids))
            )
        ).all()
        report.survey_scores = [
            (answer.element, answer.score) for answer in answers if answer.score is not None
        ]
    return report


def render_json(report: Report) -> str:
    import json

    return json.dumps(report.figures(), ensure_ascii=False, indent=2) + "\n"


def render_csv(report: Report) -> str:
    """Two columns, figure and value; breakdowns as `by_status.queued` and so on, an
    all-offices report's offices as `offices.pekalongan.tickets`."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["figure", "value"])

    def rows(prefix: str, values: dict[str, object]) -> None:
        for key, value in values.items():
            if isinstance(value, dict):
                rows(f"{prefix}{key}.", value)
            else:
                writer.writerow([f"{prefix}{key}", "" if value is None else value])

    rows("", report.figures())
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


def render_html(report: Report, config: Config, knowledge: KnowledgeBase | None = None) -> str:
    """The printable report, in the office's words (config.yaml texts): statuses as staff name
    them, topics by their knowledge-base titles (by id without `knowledge`)."""
    figures = report.figures()
    names = StaffLabels(config, knowledge)
    labels = config.texts.staff_status_labels
    status_chart = _chart(
        {names.status(k): v for k, v in report.by_status.items()},
        config.text("report_status_chart"),
    )
    hours_chart = _chart(
        {f"{h:02d}": report.by_hour.get(h, 0) for h in range(6, 19)},
        config.text("report_hours_chart"),
    )
    return TEMPLATES.get_template("report.html").render(
        r=report,
        f=figures,
        labels=labels,
        text=config.text,
        topic_name=names.topic,
        status_chart=status_chart,
        hours_chart=hours_chart,
        to=report.end - timedelta(days=1),
        generated=format_local(report.generated_at, _timezone(report, config)),
    )


def _timezone(report: Report, config: Config) -> str:
    """The office's time zone; for all offices, that of the office served."""
    office = config.offices.get(report.office) or config.current_office
    return office.timezone
