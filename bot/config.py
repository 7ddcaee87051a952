"""config.yaml: the office-editable part of csobot, validated before anything runs.

Everything an office would change (its profile, texts, thresholds, roles, complaint channels)
lives in config.yaml, never in code. Secrets never do: they come from the environment (settings.py).
"""

from __future__ import annotations

import re
import string
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.calendar_config import CalendarConfig
from bot.yamlsource import YamlSyntaxError, load_yaml

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WEEKDAY_NAMES_ID = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
# Indonesia's three zones keep no daylight saving; stakeholders name them, not the IANA zone.
ZONE_LABELS = {
    "Asia/Jakarta": "WIB",
    "Asia/Pontianak": "WIB",
    "Asia/Makassar": "WITA",
    "Asia/Jayapura": "WIT",
}
TIME_RANGE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")

# Placeholders every text may use: the office profile and the service promises.
OFFICE_PLACEHOLDERS = frozenset(
    {
        "office_name",
        "office_address",
        "office_phone",
        "office_website",
        "service_hours",
        "complaint_channels",
        "resolution_days",
        "service_minutes",
        "retention_months",
    }
)

# The placeholders a particular text may use on top of the office ones: the contract between
# the handlers (which fill them) and the office (which edits the wording).
TEXT_PLACEHOLDERS: dict[str, frozenset[str]] = {
    "ask_what_is_unclear": frozenset({"ticket"}),
    "cancelled_identification": frozenset({"kept"}),
    "smalltalk_greeting": frozenset({"name"}),
    "smalltalk_vague": frozenset({"name"}),
    "smalltalk_thanks": frozenset({"name"}),
    "smalltalk_ack": frozenset({"name"}),
    "desk_gift_offered": frozenset({"ticket", "text"}),
    "answer_confirm_prompt": frozenset({"ticket"}),
    "new_ticket_while_cso": frozenset({"ticket", "old"}),
    "which_question": frozenset({"ticket"}),
    "clarify_again": frozenset({"ticket", "none"}),
    "button_more_for_ticket": frozenset({"ticket"}),
    "added_to_ticket": frozenset({"ticket"}),
    "human_with_cso": frozenset({"ticket", "status"}),
    "waiting_question_added": frozenset({"ticket", "text"}),
    "outside_service_hours": frozenset({"ticket", "opens"}),
    "auto_closed": frozenset({"ticket", "days"}),
    "ask_phone_confirm": frozenset({"phone"}),
    "desk_delivery_failed": frozenset({"ticket", "reason", "excerpt"}),
    "desk_window_open": frozenset({"until"}),
    "numbered_choice": frozenset({"options"}),
    "ask_organisation": frozenset({"organisation_label"}),
    "invalid_organisation": frozenset({"organisation_label"}),
    "identified": frozenset({"name"}),
    "ticket_received": frozenset({"ticket"}),
    "kb_answer": frozenset({"ticket", "title", "answer", "legal_basis"}),
    "kb_provisional": frozenset({"ticket", "title", "answer", "legal_basis", "deadline"}),
    "kb_guidance": frozenset({"ticket", "title", "answer", "legal_basis", "deadline"}),
    "kb_details": frozenset({"title", "details", "legal_basis"}),
    "desk_suggestion": frozenset({"topic", "state"}),
    "resolved": frozenset({"ticket"}),
    "handoff": frozenset({"ticket", "deadline"}),
    "handoff_out_of_scope": frozenset({"ticket", "reply", "deadline"}),
    "attached_to_ticket": frozenset({"ticket", "status"}),
    "status_line": frozenset({"ticket", "status", "opened", "summary", "deadline"}),
    "too_long": frozenset({"length", "max_length"}),
    "unknown_command": frozenset({"command"}),
    "profile": frozenset({"name", "role", "satker_code", "organisation", "phone"}),
    "ticket_already_closed": frozenset({"ticket", "status"}),
    "kb_reloaded": frozenset({"entries", "out_of_scope"}),
    "kb_reload_failed": frozenset({"problems"}),
    "supervisor_transcript": frozenset({"ticket"}),
    "supervisor_search_header": frozenset({"shown", "total"}),
    "supervisor_report": frozenset(
        {"breaches", "end", "office", "resolved", "served", "skm", "start", "tickets"}
    ),
    "supervisor_login_link": frozenset({"link"}),
    "progress_update": frozenset({"deadline", "officer", "status", "ticket"}),
    "survey_intro": frozenset({"count"}),
    "desk_queue_reminder": frozenset({"id", "ticket", "waited"}),
    "desk_deadline_reminder": frozenset({"deadline", "officer", "status", "ticket"}),
    "desk_auto_escalated": frozenset({"deadline", "head", "section"}),
    "breach_notice": frozenset({"deadline", "link", "officer", "status", "ticket"}),
    "cso_message": frozenset({"text"}),
    "ticket_taken": frozenset({"officer", "ticket"}),
    "documents_requested": frozenset({"documents", "max_mb", "ticket", "types"}),
    "document_received": frozenset({"count", "name", "ticket"}),
    "document_rejected_type": frozenset({"name", "types"}),
    "document_too_large": frozenset({"max_mb", "name", "size"}),
    "document_download_failed": frozenset({"name"}),
    "documents_complete": frozenset({"count", "ticket"}),
    "escalated_notice": frozenset({"ticket"}),
    "resolved_by_cso": frozenset({"answer", "ticket"}),
    "reopened_notice": frozenset({"ticket"}),
    "desk_card": frozenset(
        {
            "channel",
            "deadline",
            "name",
            "opened",
            "phone",
            "question",
            "role",
            "satker",
            "service_due",
            "status",
            "ticket",
            "tried",
        }
    ),
    "desk_take_hint": frozenset({"id"}),
    "desk_requeued": frozenset({"ticket"}),
    "desk_from_stakeholder": frozenset({"name", "text"}),
    "desk_file_from_stakeholder": frozenset({"name"}),
    "desk_documents_complete": frozenset({"count"}),
    "desk_taken": frozenset({"officer"}),
    "desk_already_taken": frozenset({"officer"}),
    "desk_not_with_cso": frozenset({"ticket", "status"}),
    "desk_unknown_ticket": frozenset({"ticket"}),
    "desk_need_text": frozenset({"command"}),
    "desk_documents_menu": frozenset({"topic"}),
    "desk_document_picked": frozenset({"count", "document"}),
    "desk_documents_sent": frozenset({"documents"}),
    "desk_no_head": frozenset({"section"}),
    "escalation_to_head": frozenset({"card", "link", "officer", "reason", "ticket"}),
    "desk_escalated": frozenset({"head", "officer", "reason", "section"}),
    "desk_resolved": frozenset({"answer", "officer"}),
    "desk_unknown_topic": frozenset({"topic"}),
    "desk_handed_to_bot": frozenset({"topic"}),
    "desk_reopened": frozenset({"officer"}),
    "erasure_explain": frozenset({"open_tickets"}),
    "erasure_open_tickets": frozenset({"tickets"}),
    "erasure_expired": frozenset({"minutes"}),
    "desk_erased": frozenset({"ticket"}),
    "desk_queue_header": frozenset({"count"}),
    "desk_queue_line": frozenset(
        {"age", "deadline", "id", "officer", "opened", "status", "summary", "ticket"}
    ),
    # Staff-facing labels of transcripts, reports and `csobot tickets` (bot/labels.py).
    "actor_stakeholder": frozenset({"name"}),
    "actor_cso": frozenset({"name"}),
    "topic_out_of_scope": frozenset({"title"}),
    # Any of these; each translation may use only those its reason code has (Texts checks).
    "event_reasons": frozenset({"days", "reason", "score", "topic"}),
    "transcript_title": frozenset({"ticket"}),
    "transcript_heading": frozenset({"ticket"}),
    "transcript_event": frozenset({"change", "reason", "who"}),
    "report_title": frozenset({"office"}),
    "report_heading": frozenset({"office"}),
    "report_period": frozenset({"end", "generated", "start"}),
    "report_tickets_value": frozenset({"resolved", "tickets"}),
    "report_skm_value": frozenset({"answers", "grade", "index", "quality"}),
}


def _time_range(hours: str) -> str:
    if not TIME_RANGE.match(hours) or hours[:5] >= hours[6:]:
        raise ValueError("expected 'HH:MM-HH:MM' with start before end, e.g. '08:00-16:00'")
    return hours


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OfficeConfig(StrictModel):
    """One KPPN office's public profile, as published in its service standard."""

    name: str = Field(min_length=1)
    full_name: str = Field(min_length=1)
    type: str = Field(min_length=1)
    parent: str = Field(min_length=1)
    address: str = Field(min_length=1)
    phone: str = Field(min_length=1)
    website: str = Field(pattern=r"^https?://")
    timezone: str
    service_hours: dict[Literal[WEEKDAYS], Annotated[str, AfterValidator(_time_range)]]  # type: ignore[valid-type]
    complaint_channels: list[str] = Field(min_length=1)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (expected e.g. Asia/Jakarta)") from exc
        return value

    def hours_text(self) -> str:
        """Service hours as stakeholders read them, e.g. 'Senin–Jumat 08.00–16.00'."""
        groups: list[tuple[list[str], str]] = []
        for day, name in zip(WEEKDAYS, WEEKDAY_NAMES_ID, strict=True):
            hours = self.service_hours.get(day)
            if hours is None:
                continue
            if groups and groups[-1][1] == hours and _follows(groups[-1][0][-1], name):
                groups[-1][0].append(name)
            else:
                groups.append(([name], hours))
        parts = []
        for days, hours in groups:
            label = days[0] if len(days) == 1 else f"{days[0]}–{days[-1]}"
            parts.append(f"{label} {hours[:5].replace(':', '.')}–{hours[6:].replace(':', '.')}")
        zone = ZONE_LABELS.get(self.timezone, self.timezone)
        return f"{', '.join(parts)} {zone}"


def format_local(moment: datetime, timezone: str) -> str:
    """'Rabu, 25-11-2026 pukul 16.00 WIB': a time as Indonesian stakeholders write it."""
    local = moment.astimezone(ZoneInfo(timezone))
    zone = ZONE_LABELS.get(timezone, timezone)
    return f"{WEEKDAY_NAMES_ID[local.weekday()]}, {local:%d-%m-%Y} pukul {local:%H.%M} {zone}"


def _follows(previous: str, current: str) -> bool:
    return WEEKDAY_NAMES_ID.index(current) == WEEKDAY_NAMES_ID.index(previous) + 1


class RoleConfig(StrictModel):
    """A stakeholder role offered as a button during identification."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str = Field(min_length=1, max_length=40)
    needs_satker_code: bool
    organisation_label: str = Field(min_length=1)
    # Words stakeholders type for this role instead of pressing its button ("rekanan", "bpp");
    # a word two roles share names neither (the stakeholder is asked to choose).
    words: list[str] = Field(default_factory=list)


class StaffMember(StrictModel):
    """A KPPN officer known to the bot; identified per channel, never by what they type."""

    name: str = Field(min_length=1)
    role: Literal["cso", "kepala_seksi", "supervisor"]
    section: str | None = None  # the section a Kepala Seksi heads
    telegram_id: int | None = None
    terminal_user: str | None = None  # for `csobot chat --user NAME` on the office machine

    def account(self, channel: str) -> str | None:
        value = {"telegram": self.telegram_id, "terminal": self.terminal_user}.get(channel)
        return str(value) if value is not None else None


class DocumentsConfig(StrictModel):
    """What stakeholders may send when a CSO asks for supporting documents."""

    accepted_types: list[str] = Field(min_length=1)  # file extensions, lower case, no dot
    max_size_mb: float = Field(gt=0, le=2000)  # Telegram's cloud Bot API downloads at most 20 MB

    @property
    def max_bytes(self) -> int:
        return int(self.max_size_mb * 1024 * 1024)


class DeskConfig(StrictModel):
    """Where CSO staff work: `channel` reaches staff (their accounts on it, in `staff`), and
    `group_id` is the staff group on that channel whose threads hold the tickets (a Telegram
    supergroup with topics); without a group, staff work in their private chats."""

    channel: Literal["telegram", "terminal"] = "telegram"
    group_id: int | None = None
    documents: DocumentsConfig

    @model_validator(mode="before")
    @classmethod
    def _earlier_layout(cls, data: Any) -> Any:
        """`telegram_group_id` (before desk.channel existed) still means a Telegram group."""
        if isinstance(data, dict) and "telegram_group_id" in data:
            data = dict(data)
            data.setdefault("group_id", data.pop("telegram_group_id"))
            data.setdefault("channel", "telegram")
        return data


class SlaConfig(StrictModel):
    """When the bot reports progress, reminds staff, escalates and reports breaches (working time)."""

    progress_time: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")  # local time on working days
    queue_reminder_minutes: int = Field(gt=0)  # working minutes a ticket may wait untaken
    reminder_share: float = Field(gt=0, lt=1)  # of the working time to the deadline
    escalate_share: float = Field(gt=0, lt=1)  # automatic escalation before a breach
    pause_while_awaiting_documents: bool
    # An answer nobody confirms or denies is closed after this many working days (a message
    # says so), so no ticket waits for "sudah terjawab?" forever.
    auto_close_answered_days: int = Field(default=2, ge=1, le=30)

    @model_validator(mode="after")
    def _ordered(self) -> SlaConfig:
        if self.escalate_share <= self.reminder_share:
            raise ValueError("escalate_share must come after reminder_share")
        return self


SKM_ELEMENTS = {
    "U1": "Persyaratan",
    "U2": "Sistem, mekanisme, dan prosedur",
    "U3": "Waktu penyelesaian",
    "U4": "Biaya/tarif",
    "U5": "Produk spesifikasi jenis pelayanan",
    "U6": "Kompetensi pelaksana",
    "U7": "Perilaku pelaksana",
    "U8": "Sarana dan prasarana",
    "U9": "Penanganan pengaduan, saran dan masukan",
}


SkmElement = Literal["U1", "U2", "U3", "U4", "U5", "U6", "U7", "U8", "U9"]
assert set(get_args(SkmElement)) == set(SKM_ELEMENTS)


def _officer_elements() -> list[SkmElement]:
    return ["U6", "U7"]


class SurveyConfig(StrictModel):
    """The satisfaction survey (SKM, PermenPANRB 14/2017) asked after a ticket is resolved."""

    enabled: bool
    elements: list[SkmElement] = Field(min_length=1)
    questions: dict[str, str]
    ask_comment: bool
    # Elements about officers, asked only when an officer took part in the ticket.
    officer_elements: list[SkmElement] = Field(default_factory=_officer_elements)
    # Not asked again within this many days of a survey answered (0: after every ticket).
    min_days_between: int = Field(default=30, ge=0, le=366)
    # Typed answers that count as a score (besides the number and the button's label).
    typed_scores: dict[int, list[str]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _every_element_has_a_question(self) -> SurveyConfig:
        missing = [element for element in self.elements if element not in self.questions]
        if missing:
            raise ValueError(f"questions: no question for {missing}")
        return self


class ReportsConfig(StrictModel):
    """The weekly report sent to supervisors by itself (last Monday–Sunday)."""

    weekly: bool
    weekday: Literal[WEEKDAYS]  # type: ignore[valid-type]
    time: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")


class ServiceConfig(StrictModel):
    """The service promises of KEP-57/PB/2023 and operational limits."""

    service_minutes: int = Field(gt=0)
    resolution_working_days: int = Field(gt=0)
    ticket_prefix: str = Field(pattern=r"^[A-Z]{2,6}$")
    max_message_length: int = Field(gt=0, le=4096)
    retention_months: int = Field(gt=0)


class MatcherConfig(StrictModel):
    """Thresholds (0–100) that turn the matcher's ranking into a decision.

    Answer when the best topic's score reaches answer_score, leads the runner-up by answer_margin,
    and the question is at least min_similarity close to that topic's examples; offer up to
    max_candidates topics (those scoring option_score or more besides the best) when the best
    reaches clarify_score, or its best max_candidates guesses when the best in-scope topic still
    reaches offer_score (unset: never); otherwise hand over to a CSO. `csobot kb calibrate`
    suggests the other values.
    """

    answer_score: float = Field(ge=0, le=100)
    answer_margin: float = Field(ge=0, le=100)
    clarify_score: float = Field(ge=0, le=100)
    option_score: float = Field(ge=0, le=100)
    min_similarity: float = Field(ge=0, le=100)
    max_candidates: int = Field(ge=1, le=3)
    offer_score: float | None = Field(default=None, ge=0, le=100)
    # While a CSO has the ticket, a message is a new question about another topic only when the
    # matcher would answer it and its best topic scores this much (unset: answer_score). Apart from
    # answer_score because calibration moves that for knowledge-base questions alone, and a
    # progress ask taken for a new question opens a ticket nobody asked for.
    new_topic_score: float | None = Field(default=None, ge=0, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> MatcherConfig:
        if self.clarify_score > self.answer_score:
            raise ValueError("clarify_score must not be above answer_score")
        return self


class KnowledgeConfig(StrictModel):
    """How the bot uses knowledge-base answers: only reviewed answers are presented as settled."""

    # An entry marked verified: false is sent as a provisional answer with a caveat and handed to
    # a CSO to confirm or correct (provisional), never sent (cso_only), or sent like a verified
    # one (answer; not recommended).
    unverified: Literal["provisional", "cso_only", "answer"] = "provisional"
    # Per-entry override by id, e.g. {spm-dispensasi: cso_only}: the office's own choice.
    delivery: dict[str, Literal["answer", "provisional", "cso_only", "handoff"]] = Field(
        default_factory=dict
    )
    # `csobot kb review` lists entries reviewed longer ago than this.
    review_after_days: int = Field(default=180, ge=1, le=3650)
    # Details longer than this wait behind a "Selengkapnya" button instead of following the
    # direct answer in the same message.
    inline_details_max: int = Field(default=500, ge=0, le=4000)
    # `csobot kb check` warns when the direct answer (the first part) is longer than this.
    direct_answer_max: int = Field(default=300, ge=80, le=1000)


class Texts(StrictModel):
    """Everything the bot says to stakeholders and staff; the office may reword any of it."""

    welcome: str
    privacy_notice: str
    button_consent_accept: str
    button_consent_decline: str
    consent_declined: str
    consent_required: str
    ask_name: str
    invalid_name: str
    ask_role: str
    ask_satker_code: str
    invalid_satker_code: str
    ask_organisation: str
    invalid_organisation: str
    ask_phone: str
    ask_what_is_unclear: str
    ask_which_field: str
    button_edit_name: str
    button_edit_role: str
    button_edit_satker_code: str
    button_edit_organisation: str
    button_edit_phone: str
    profile_updated: str
    profile_kept: str
    cancelled_edit: str
    cancelled_identification: str
    # How a profile field is named where the bot lists what it kept ({kept} above).
    field_names: dict[Literal["full_name", "role", "satker_code", "organisation", "phone"], str]
    cancelled_identification_empty: str
    survey_reask: str
    survey_left: str
    smalltalk_greeting: str  # small talk gets a short reply inviting the question, no ticket
    smalltalk_vague: str
    smalltalk_thanks: str
    smalltalk_ack: str
    gift_refused: str
    desk_gift_offered: str
    answer_confirm_prompt: str
    new_ticket_while_cso: str
    which_question: str
    button_new_question: str
    button_more_for_ticket: str
    added_to_ticket: str
    human_with_cso: str
    waiting_question_added: str
    outside_service_hours: str
    auto_closed: str
    ask_phone_confirm: str  # the channel told us the number (WhatsApp): confirm it
    button_phone_confirm: str
    button_phone_other: str
    ask_phone_typed: str
    ask_notifications_opt_in: str
    button_opt_in_yes: str
    button_opt_in_no: str
    opt_in_saved: str
    button_change_notifications: str
    choose_prompt: str  # after a text too long to carry buttons, the buttons come with this
    list_button: str  # opens a list of choices (WhatsApp: at most 20 characters)
    numbered_choice: str  # choices a channel cannot show as buttons, typed as a number
    button_share_phone: str
    button_skip: str
    invalid_phone: str
    contact_not_own: str
    identified: str
    ask_question: str
    ticket_received: str
    kb_answer: str
    kb_provisional: str
    kb_guidance: str
    kb_details: str
    button_more: str
    desk_suggestion: str
    desk_suggestion_states: dict[Literal["provisional", "cso_only", "handoff"], str]
    button_answered: str
    button_not_answered: str
    clarify: str
    question_kept: str
    role_unclear: str
    clarify_again: str
    button_none_of_these: str
    resolved: str
    handoff: str
    handoff_out_of_scope: str
    attached_to_ticket: str
    new_question_prompt: str
    status_none: str
    status_header: str
    status_line: str
    help: str
    complaints_header: str
    cancelled: str
    nothing_to_cancel: str
    profile: str
    profile_missing: str
    button_edit_profile: str
    unsupported_message: str
    too_long: str
    unknown_command: str
    stale_button: str
    erasure_explain: str
    erasure_open_tickets: str
    erasure_no_open_tickets: str
    button_erasure_confirm: str
    button_erasure_cancel: str
    erasure_cancelled: str
    erasure_expired: str
    erasure_done: str
    erasure_nothing_stored: str
    edited_ignored: str
    contact_unexpected: str
    ticket_already_closed: str
    internal_error: str
    kb_reloaded: str
    kb_reload_failed: str
    progress_update: str
    officer_unassigned: str
    survey_intro: str
    survey_comment: str
    survey_thanks: str
    survey_skipped: str
    button_skip_survey: str
    desk_queue_reminder: str
    desk_deadline_reminder: str
    desk_auto_escalated: str
    auto_escalation_reason: str
    breach_notice: str
    supervisor_usage_transcript: str
    supervisor_transcript: str
    supervisor_usage_search: str
    supervisor_search_none: str
    supervisor_search_header: str
    supervisor_usage_report: str
    supervisor_report: str
    supervisor_no_dashboard: str
    supervisor_login_link: str
    survey_scale: list[str] = Field(min_length=4, max_length=4)
    cso_message: str
    ticket_taken: str
    documents_requested: str
    button_documents_done: str
    document_received: str
    document_rejected_type: str
    document_too_large: str
    document_download_failed: str
    documents_complete: str
    file_not_expected: str
    escalated_notice: str
    resolved_by_cso: str
    reopened_notice: str
    desk_card: str
    desk_take_hint: str
    desk_requeued: str
    desk_from_stakeholder: str
    desk_file_from_stakeholder: str
    desk_documents_complete: str
    desk_help: str
    desk_ticket_closed: str
    desk_not_with_cso: str
    desk_erased: str
    desk_not_resolved: str
    desk_taken: str
    desk_already_taken: str
    desk_not_in_ticket: str
    desk_unknown_ticket: str
    desk_need_text: str
    desk_note_saved: str
    desk_documents_usage: str
    desk_documents_menu: str
    button_send_request: str
    desk_document_picked: str
    desk_documents_sent: str
    desk_no_head: str
    escalation_to_head: str
    desk_escalated: str
    desk_resolved: str
    desk_unknown_topic: str
    desk_handed_to_bot: str
    desk_reopened: str
    desk_queue_empty: str
    desk_queue_header: str
    desk_queue_line: str
    status_labels: dict[str, str]
    delivery_status_labels: dict[str, str]  # sent/delivered/read/failed, in transcripts
    channel_names: dict[str, str]  # channel → its name for staff (desk card, reports)
    desk_window_open: str
    desk_window_closed: str
    desk_delivery_failed: str
    command_menu: dict[str, str]  # command → description, in the platform's menu, in order
    # What staff read (transcripts, reports, dashboard, desk, `csobot tickets`): bot/labels.py.
    staff_status_labels: dict[str, str]  # status → label for staff, same statuses as status_labels
    event_reasons: dict[str, str]  # stored English reason code (a pattern) → label for staff
    actor_stakeholder: str
    actor_unnamed: str
    actor_cso: str
    actor_bot: str
    status_new: str
    topic_none: str
    topic_out_of_scope: str
    transcript_title: str
    transcript_heading: str
    transcript_office: str
    transcript_stakeholder: str
    transcript_satker: str
    transcript_status: str
    transcript_topic: str
    transcript_opened: str
    transcript_deadline: str
    transcript_resolved: str
    transcript_question: str
    transcript_course: str
    transcript_event: str
    transcript_file: str
    transcript_internal: str
    report_title: str
    report_heading: str
    report_period: str
    report_tickets: str
    report_tickets_value: str
    report_resolved_by: str
    report_served: str
    report_resolved_in_time: str
    report_escalations: str
    report_unverified_answers: str
    report_breaches: str
    report_first_answer: str
    report_resolution: str
    report_skm: str
    report_skm_value: str
    report_by_status: str
    report_by_topic: str
    report_by_channel: str
    report_busiest_hours: str
    report_count: str
    report_status_chart: str
    report_hours_chart: str
    tickets_ticket: str
    tickets_status: str
    tickets_opened: str
    tickets_topic: str
    tickets_question: str
    tickets_none: str

    @model_validator(mode="after")
    def _known_placeholders(self) -> Texts:
        for name, value in self:
            values = (
                value.values()
                if isinstance(value, dict)
                else value
                if isinstance(value, list)
                else [value]
            )
            allowed = OFFICE_PLACEHOLDERS | TEXT_PLACEHOLDERS.get(name, frozenset())
            for text in values:
                unknown = placeholders_in(text) - allowed
                if unknown:
                    raise ValueError(
                        f"{name}: unknown placeholder(s) {sorted(unknown)}; "
                        f"allowed: {sorted(allowed)}"
                    )
        return self

    @model_validator(mode="after")
    def _staff_labels(self) -> Texts:
        if set(self.staff_status_labels) != set(self.status_labels):
            raise ValueError(
                "staff_status_labels: must name the same statuses as status_labels: "
                f"{sorted(self.status_labels)}"
            )
        known = TEXT_PLACEHOLDERS["event_reasons"]
        for code, text in self.event_reasons.items():
            fields = placeholders_in(code)
            named = [f for _, f, _, _ in string.Formatter().parse(code) if f is not None]
            if len(named) != len(fields):
                raise ValueError(f"event_reasons: {code!r}: a placeholder used twice")
            if fields - known:
                raise ValueError(
                    f"event_reasons: {code!r}: unknown placeholder(s) {sorted(fields - known)}; "
                    f"allowed: {sorted(known)}"
                )
            unknown = placeholders_in(text) - fields - OFFICE_PLACEHOLDERS
            if unknown:
                raise ValueError(
                    f"event_reasons: {code!r}: unknown placeholder(s) {sorted(unknown)}; "
                    f"allowed: {sorted(fields | OFFICE_PLACEHOLDERS)}"
                )
        return self


def placeholders_in(text: str) -> set[str]:
    """Names used as {name} in a template; raises ValueError on unbalanced braces."""
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


class TemplateConfig(StrictModel):
    """A pre-approved WhatsApp utility template: its name and language as approved in WhatsApp
    Manager, and which message values fill its body's {{1}}, {{2}}… in order (office
    placeholders such as office_name are available too). A template with `quick_reply` only
    announces a message, which is held until the stakeholder answers (the button does); one
    without replaces the message entirely."""

    name: str = Field(min_length=1, max_length=100, pattern=r"^[a-z0-9_]+$")
    language: str = Field(default="id", min_length=2, max_length=10)
    parameters: list[str] = Field(default_factory=list)
    quick_reply: str | None = Field(default=None, min_length=1, max_length=20)
    messages: list[str] = Field(default_factory=list)  # message keys (texts) it stands in for


class WhatsAppConfig(StrictModel):
    """What an office changes about WhatsApp; the credentials are settings (environment)."""

    window_hours: float = Field(default=24, gt=0, le=24)  # Meta: 24 hours after their message
    ask_notifications_opt_in: bool = True  # templates outside the window need the person's yes
    templates: list[TemplateConfig] = Field(default_factory=list)
    # Announces any other message held while the window is closed (needs a quick_reply).
    waiting_template: str | None = None
    texts: dict[str, str] = Field(default_factory=dict)  # text name → its WhatsApp wording

    @model_validator(mode="after")
    def _consistent(self) -> WhatsAppConfig:
        names = [template.name for template in self.templates]
        if len(names) != len(set(names)):
            raise ValueError("templates: a template name is listed twice")
        if self.waiting_template is not None:
            waiting = self.template(self.waiting_template)
            if waiting is None or waiting.quick_reply is None:
                raise ValueError(
                    "waiting_template: must name one of the templates, with a quick_reply"
                )
        keys = [key for template in self.templates for key in template.messages]
        if len(keys) != len(set(keys)):
            raise ValueError("templates: a message key is given to two templates")
        unknown = set(self.texts) - set(Texts.model_fields)
        if unknown:
            raise ValueError(f"texts: unknown text name(s) {sorted(unknown)}")
        for name, text in self.texts.items():
            allowed = OFFICE_PLACEHOLDERS | TEXT_PLACEHOLDERS.get(name, frozenset())
            extra = placeholders_in(text) - allowed
            if extra:
                raise ValueError(
                    f"texts.{name}: unknown placeholder(s) {sorted(extra)}; "
                    f"allowed: {sorted(allowed)}"
                )
        return self

    def template(self, name: str) -> TemplateConfig | None:
        return next((t for t in self.templates if t.name == name), None)

    def template_for(self, message_key: str | None) -> TemplateConfig | None:
        """The template a message with this key goes out as (or is announced by) when the
        window is closed; the waiting template for any other message."""
        chosen = next((t for t in self.templates if message_key in t.messages), None)
        if chosen is None and self.waiting_template is not None:
            chosen = self.template(self.waiting_template)
        return chosen


class Config(StrictModel):
    """The whole config.yaml."""

    office: str
    offices: dict[str, OfficeConfig] = Field(min_length=1)
    sections: dict[str, str] = Field(min_length=1)
    roles: list[RoleConfig] = Field(min_length=1)
    staff: list[StaffMember] = Field(default_factory=list)
    desk: DeskConfig
    calendar: CalendarConfig = Field(default_factory=CalendarConfig)
    sla: SlaConfig
    survey: SurveyConfig
    reports: ReportsConfig
    service: ServiceConfig
    matcher: MatcherConfig
    knowledge: KnowledgeConfig = Field(default_factory=KnowledgeConfig)
    texts: Texts
    whatsapp: WhatsAppConfig = Field(default_factory=WhatsAppConfig)

    @model_validator(mode="after")
    def _consistent(self) -> Config:
        if self.office not in self.offices:
            raise ValueError(
                f"office {self.office!r} is not one of the offices: {sorted(self.offices)}"
            )
        ids = [role.id for role in self.roles]
        if len(ids) != len(set(ids)):
            raise ValueError("roles: duplicate role id")
        unknown = self.calendar.unknown_offices(self.offices)
        if unknown:
            raise ValueError(
                f"calendar: unknown office(s) {sorted(unknown)}; offices are {sorted(self.offices)}"
            )
        for member in self.staff:
            if member.role == "kepala_seksi" and member.section not in self.sections:
                raise ValueError(
                    f"staff: {member.name} is kepala_seksi of unknown section {member.section!r}; "
                    f"sections are {sorted(self.sections)}"
                )
        return self

    def staff_member(self, channel: str, user_id: str) -> StaffMember | None:
        return next((m for m in self.staff if m.account(channel) == user_id), None)

    def staff_with_role(self, role: str, section: str | None = None) -> list[StaffMember]:
        return [
            m for m in self.staff if m.role == role and (section is None or m.section == section)
        ]

    @property
    def current_office(self) -> OfficeConfig:
        return self.offices[self.office]

    def role(self, role_id: str | None) -> RoleConfig | None:
        return next((role for role in self.roles if role.id == role_id), None)

    def office_values(self) -> dict[str, Any]:
        """The office placeholders, filled: used by texts and knowledge-base answers alike."""
        office = self.current_office
        channels = "\n".join(
            f"{number}. {channel}" for number, channel in enumerate(office.complaint_channels, 1)
        )
        return {
            "office_name": office.name,
            "office_address": office.address,
            "office_phone": office.phone,
            "office_website": office.website,
            "service_hours": office.hours_text(),
            "complaint_channels": channels,
            "resolution_days": self.service.resolution_working_days,
            "service_minutes": self.service.service_minutes,
            "retention_months": self.service.retention_months,
        }

    def text(self, name: str, /, **values: Any) -> str:
        """A stakeholder text with its placeholders filled."""
        return self.text_on(None, name, **values)

    def text_on(self, channel: str | None, name: str, /, **values: Any) -> str:
        """A text in its wording for `channel` when the office gave one (e.g. the WhatsApp
        privacy notice, which says the number is kept)."""
        template = self.channel_texts(channel).get(name)
        if template is None:
            template = getattr(self.texts, name)
        return str(template).format(**self.office_values(), **values)

    def channel_texts(self, channel: str | None) -> dict[str, str]:
        return self.whatsapp.texts if channel == "whatsapp" else {}

    def with_office(self, office_id: str) -> Config:
        """The same configuration serving another of its offices."""
        return Config.model_validate({**self.model_dump(), "office": office_id})


class ConfigError(Exception):
    """config.yaml is unusable; the message names file, line, key and what is expected."""


def load_config(path: Path, office: str | None = None) -> Config:
    """Load and validate config.yaml; `office` overrides the file's selected office."""
    if not path.is_file():
        raise ConfigError(f"{path}: configuration file not found")
    try:
        document = load_yaml(path)
    except YamlSyntaxError as exc:
        raise ConfigError(str(exc)) from exc
    data = document.data
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: expected a mapping of settings at the top level")
    if office is not None:
        data = {**data, "office": office}
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            location = [part for part in error["loc"] if not isinstance(part, str) or part]
            key = ".".join(str(part) for part in location) or "(top level)"
            line = document.line_of(location)
            where = f"{path}:{line}" if line else str(path)
            problems.append(f"{where}: {key}: {error['msg']}")
        raise ConfigError("\n".join(problems)) from exc
