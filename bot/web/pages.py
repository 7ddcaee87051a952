"""The dashboard's pages: who may see them, the query parameters they take, what they show.

Every page but the health check and the login pages goes through `readers_only`, which reads the
signed session cookie, refuses it after /keluar, and takes the reader's current role (and a
Kepala Seksi's section) from config.yaml. Pages read the database through `reading`, which shows
a Kepala Seksi only their section's tickets (scope.py). Transcript and report pages are the same
HTML as `csobot transcript` and `csobot report` produce, with a navigation bar added, so what is
read on screen is what is printed.

The password form is guarded twice: a POST must come from the dashboard's own pages (Origin, or
Referer without it), and failures are throttled per address and per user name (throttle.py).
"""

from __future__ import annotations

import asyncio
import csv
import functools
import io
import logging
import math
import re
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit
from zoneinfo import ZoneInfo

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from bot import report as reports
from bot import transcript as transcripts
from bot.config import ZONE_LABELS
from bot.labels import StaffLabels
from bot.roles import SUPERVISOR
from bot.runtime import Runtime
from bot.search import TicketQuery, search_tickets
from bot.store.models import Stakeholder, Ticket
from bot.web.auth import (
    PASSWORD_USER,
    READER_ROLES,
    PasswordHash,
    Reader,
    SessionSigner,
    current_role,
    end_session,
    redeem_login_token,
    session_ended,
)
from bot.web.scope import reader_section, restricted_session, section_condition
from bot.web.throttle import Throttled, account_key, attempt_succeeded, begin_attempt

log = logging.getLogger(__name__)

COOKIE = "csobot_sesi"
PAGE_SIZE = 25
ROLE_LABELS = {"supervisor": "Supervisor", "kepala_seksi": "Kepala Seksi", "cso": "CSO"}
# Link-preview robots fetch every URL posted in a chat; they must not spend a one-time link.
PREVIEW_AGENTS = ("TelegramBot", "WhatsApp", "Slackbot", "facebookexternalhit", "Discordbot")

TEMPLATES = Environment(
    loader=ChoiceLoader(
        [
            FileSystemLoader(Path(__file__).parent / "templates"),
            FileSystemLoader(Path(transcripts.__file__).parent / "templates"),  # base.html
        ]
    ),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


class BadRequest(ValueError):
    """A query parameter the dashboard cannot use; the message is shown to the reader."""


@dataclass
class Dashboard:
    """What every request needs: the runtime, the cookie signer and the login settings."""

    runtime: Runtime
    signer: SessionSigner
    password: PasswordHash | None
    session_minutes: int
    chart_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def now(self) -> datetime:
        return self.runtime.clock.now()

    def section_name(self, section: str | None) -> str:
        return self.runtime.config.sections.get(section or "", section or "-")

    def ticket_scope(self, reader: Reader) -> ColumnElement[bool] | None:
        """None (every ticket) for a supervisor; for anyone else, their section's tickets."""
        if reader.role == SUPERVISOR:
            return None
        knowledge = self.runtime.knowledge.matcher.knowledge
        topics = [entry.id for entry in knowledge.entries if entry.section == reader.section]
        return section_condition(reader.section, topics)

    def reading(self, reader: Reader) -> AbstractAsyncContextManager[AsyncSession]:
        """A database session that shows `reader` only the tickets they may see."""
        return restricted_session(self.runtime.sessions, self.ticket_scope(reader))


def _dashboard(request: Request) -> Dashboard:
    dashboard: Dashboard = request.app.state.dashboard
    return dashboard


# ---------------------------------------------------------------- pages and responses


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("reader", None)
    return HTMLResponse(
        TEMPLATES.get_template(template).render(request=request, **context), status_code
    )


def error_page(
    request: Request, status_code: int, title: str, message: str, **context: Any
) -> HTMLResponse:
    return page(request, "error.html", status_code, title=title, message=message, **context)


def with_nav(document: str, bar: Markup) -> str:
    """Put the dashboard's navigation at the top of a full printable page (hidden on paper)."""
    head, body, rest = document.partition("<body>")
    return f"{head}{body}\n{bar}{rest}" if body else document


def nav(dashboard: Dashboard, reader: Reader, **context: Any) -> Markup:
    section = dashboard.section_name(reader.section) if reader.section else None
    return Markup(
        TEMPLATES.get_template("nav.html").render(
            reader=reader, role_labels=ROLE_LABELS, section=section, **context
        )
    )


def refuse_unauthenticated(request: Request) -> HTMLResponse:
    response = error_page(
        request,
        401,
        "Silakan masuk",
        "Halaman ini hanya untuk supervisor dan Kepala Seksi yang sudah masuk.",
        login_next=request.url.path,
    )
    if COOKIE in request.cookies:
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")
    return response


Endpoint = Callable[[Request, Reader], Awaitable[Response]]


def readers_only(endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    """Let the request through only with a valid session whose holder may still read."""

    @functools.wraps(endpoint)
    async def guarded(request: Request) -> Response:
        dashboard = _dashboard(request)
        reader = dashboard.signer.read(request.cookies.get(COOKIE), dashboard.now())
        if reader is None or await session_ended(dashboard.runtime.sessions, reader):
            return refuse_unauthenticated(request)
        config = dashboard.runtime.config
        role = current_role(config, reader, dashboard.password is not None)
        if role not in READER_ROLES:
            return error_page(
                request, 403, "Akses ditolak", "Akun Anda tidak berhak membuka dasbor supervisi."
            )
        reader = replace(reader, role=role, section=reader_section(config, reader.name, role))
        try:
            return await endpoint(request, reader)
        except BadRequest as exc:
            return error_page(
                request, 400, "Permintaan tidak valid", str(exc), nav=nav(dashboard, reader)
            )

    return guarded


def start_session(request: Request, reader_name: str, role: str, target: str) -> Response:
    dashboard = _dashboard(request)
    expires = int(dashboard.now().timestamp()) + dashboard.session_minutes * 60
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        dashboard.signer.sign(Reader(reader_name, role, expires)),
        max_age=dashboard.session_minutes * 60,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


def safe_next(target: str | None) -> str:
    """Only a path on this site: a login must never redirect elsewhere."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` of an http(s) URL, as browsers write it in Origin (lower case,
    no default port); None for anything else, `null` included."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in ("http", "https") or not host:
        return None
    if ":" in host:  # IPv6
        host = f"[{host}]"
    if port is None or port == {"http": 80, "https": 443}[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def from_this_site(request: Request, base_url: str) -> bool:
    """Whether a POST was sent by a page of this dashboard: its Origin header (or, without one,
    its Referer) names the dashboard's address, CSOBOT_WEB_BASE_URL when set, else the address
    the request was sent to. A request naming neither (`Origin: null` included) is refused:
    browsers send Origin with every POST, and the login page lets it carry the address."""
    expected = origin_of(base_url) if base_url.strip() else origin_of(str(request.base_url))
    origin = request.headers.get("origin")
    sent = origin if origin is not None else request.headers.get("referer")
    return expected is not None and sent is not None and origin_of(sent) == expected


def client_address(request: Request) -> str:
    """The client's IP (uvicorn takes it from X-Forwarded-For when the proxy is trusted)."""
    return request.client.host if request.client else "-"


# ---------------------------------------------------------------- query parameters


def parse_date(value: str | None, label: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadRequest(
            f"Tanggal {label} tidak valid: {value!r}. Gunakan format TTTT-BB-HH, mis. 2026-11-23."
        ) from None


def parse_page(value: str | None) -> int:
    if not value:
        return 1
    if not value.isdigit() or int(value) < 1:
        raise BadRequest(f"Nomor halaman tidak valid: {value!r}.")
    return int(value)


def parse_office(dashboard: Dashboard, value: str | None, default: str | None) -> str | None:
    if not value:
        return default
    if value not in dashboard.runtime.config.offices:
        raise BadRequest(f"Kantor tidak dikenal: {value!r}.")
    return value


def local_time(moment: datetime | None, timezone: str) -> str:
    if moment is None:
        return "-"
    local = moment.astimezone(ZoneInfo(timezone))
    return f"{local:%d-%m-%Y %H.%M} {ZONE_LABELS.get(timezone, '')}".rstrip()


# ---------------------------------------------------------------- endpoints


async def health(request: Request) -> Response:
    return PlainTextResponse("ok")


async def login_link(request: Request) -> Response:
    """GET /masuk/{token}: the one-time link from the bot's /masuk command."""
    if request.method == "HEAD" or any(
        agent in request.headers.get("user-agent", "") for agent in PREVIEW_AGENTS
    ):
        return page(
            request,
            "error.html",
            title="Tautan masuk",
            message="Buka tautan ini di peramban untuk masuk ke dasbor.",
        )
    dashboard = _dashboard(request)
    name = await redeem_login_token(
        dashboard.runtime.sessions, request.path_params["token"], dashboard.now()
    )
    if name is None:
        return error_page(
            request,
            403,
            "Tautan tidak berlaku",
            "Tautan masuk ini sudah dipakai, sudah kedaluwarsa, atau tidak dikenal. "
            "Mintalah tautan baru dengan perintah /masuk kepada bot di Telegram.",
        )
    member = next((m for m in dashboard.runtime.config.staff if m.name == name), None)
    if member is None or member.role not in READER_ROLES:
        return error_page(
            request, 403, "Akses ditolak", "Akun Anda tidak berhak membuka dasbor supervisi."
        )
    log.info("dashboard login by link: %s (%s)", member.name, member.role)
    return start_session(request, member.name, member.role, "/")


def login_page(request: Request, status_code: int = 200, **context: Any) -> HTMLResponse:
    response = page(request, "login.html", status_code, title="Masuk", **context)
    # The form's POST must carry this site's Origin (from_this_site); under the no-referrer
    # policy of every other page browsers would send `Origin: null`. Same-origin still never
    # lets an address of the dashboard leave the site.
    response.headers["Referrer-Policy"] = "same-origin"
    return response


async def login(request: Request) -> Response:
    """GET/POST /login: the password login, when CSOBOT_WEB_PASSWORD_HASH is set."""
    dashboard = _dashboard(request)
    target = safe_next(request.query_params.get("next"))
    if dashboard.password is None:
        return login_page(request, disabled=True, next=target)
    if request.method == "GET":
        return login_page(request, next=target)
    if not from_this_site(request, dashboard.runtime.settings.csobot_web_base_url):
        log.warning(
            "dashboard login refused: sent from another site (origin %r, referer present: %s)",
            request.headers.get("origin", "")[:100],
            "referer" in request.headers,
        )
        return error_page(
            request,
            403,
            "Permintaan ditolak",
            "Formulir masuk hanya dapat dikirim dari halaman masuk dasbor ini sendiri. "
            "Buka halaman masuk dasbor lalu coba lagi.",
            login_next=target,
        )
    async with request.form() as form:
        username, password = str(form.get("username", "")), str(form.get("password", ""))
        target = safe_next(str(form.get("next", "/")))
    sessions = dashboard.runtime.sessions
    address, account = client_address(request), account_key(username)
    throttled = await begin_attempt(sessions, address, account, dashboard.now())
    if isinstance(throttled, Throttled):
        log.warning("dashboard password login throttled for %s, user %r", address, username[:40])
        minutes = math.ceil(throttled.retry_after / 60)
        response = error_page(
            request,
            429,
            "Terlalu banyak percobaan",
            "Terlalu banyak percobaan masuk yang gagal dari alamat ini atau dengan nama pengguna "
            f"ini. Coba lagi dalam {minutes} menit, atau mintalah tautan masuk sekali pakai "
            "dengan perintah /masuk kepada bot di Telegram.",
        )
        response.headers["Retry-After"] = str(throttled.retry_after)
        return response
    # PBKDF2 is deliberately slow: keep it off the event loop.
    valid = await asyncio.to_thread(dashboard.password.matches, password)
    if not (username.strip() == PASSWORD_USER and valid):
        log.warning("dashboard password login failed for %s, user %r", address, username[:40])
        return login_page(
            request,
            401,
            next=target,
            username=username,
            failed="Nama pengguna atau kata sandi salah.",
        )
    await attempt_succeeded(sessions, address, account)
    log.info("dashboard login by password")
    return start_session(request, PASSWORD_USER, "supervisor", target)


async def logout(request: Request) -> Response:
    """GET /keluar: the cookie is deleted, and refused from now on should a copy be replayed."""
    dashboard = _dashboard(request)
    reader = dashboard.signer.read(request.cookies.get(COOKIE), dashboard.now())
    if reader is not None:
        await end_session(dashboard.runtime.sessions, reader, dashboard.now())
        log.info("dashboard logout: %s", reader.name)
    response = page(
        request,
        "error.html",
        title="Anda sudah keluar",
        message="Sesi dasbor Anda sudah diakhiri.",
        login_next="/",
    )
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")
    return response


def ticket_row(
    ticket: Ticket, stakeholder: Stakeholder, timezone: str, names: StaffLabels
) -> dict[str, str]:
    """One line of the ticket list, in the ticket's office time; status and topic as staff
    name them."""
    question = ticket.question if len(ticket.question) <= 90 else ticket.question[:89] + "…"
    satker = " ".join(filter(None, [stakeholder.satker_code, stakeholder.organisation]))
    return {
        "number": ticket.number,
        "url": f"/tiket/{quote(ticket.number)}",
        "opened": local_time(ticket.opened_at, timezone),
        "deadline": local_time(ticket.deadline_at, timezone),
        "stakeholder": stakeholder.full_name or "-",
        "satker": satker or "-",
        "status": names.status(ticket.status),
        "topic": names.topic(ticket.topic_id),
        "question": question,
    }


@readers_only
async def ticket_list(request: Request, reader: Reader) -> Response:
    """GET /: tickets newest first, filtered, 25 a page."""
    dashboard = _dashboard(request)
    config = dashboard.runtime.config
    params = request.query_params
    labels = config.texts.staff_status_labels
    status = params.get("status") or None
    if status is not None and status not in labels:
        raise BadRequest(f"Status tidak dikenal: {status!r}.")
    office = parse_office(dashboard, params.get("office"), None)
    date_from, date_to = (
        parse_date(params.get("from"), "awal"),
        parse_date(params.get("to"), "akhir"),
    )
    if date_from and date_to and date_from > date_to:
        raise BadRequest("Tanggal awal tidak boleh sesudah tanggal akhir.")
    number = parse_page(params.get("page"))
    query = TicketQuery(
        text=(params.get("q") or "").strip() or None,
        topic=params.get("topic") or None,
        status=status,
        date_from=date_from,
        date_to=date_to,
        office=office,
    )
    timezone = config.offices[office].timezone if office else config.current_office.timezone
    async with dashboard.reading(reader) as session:
        rows, total = await search_tickets(
            session, query, timezone, PAGE_SIZE, (number - 1) * PAGE_SIZE
        )
    pages = max(1, math.ceil(total / PAGE_SIZE))
    filters = {
        key: params.get(key, "") for key in ("q", "status", "topic", "from", "to", "office")
    }

    def page_url(target: int) -> str:
        kept = {key: value for key, value in filters.items() if value}
        return "/?" + urlencode({**kept, "page": target})

    knowledge = dashboard.runtime.knowledge.matcher.knowledge
    names = StaffLabels(config, knowledge)
    topics = [(entry.id, entry.title) for entry in knowledge.entries]
    topics += [(topic.id, names.topic(topic.id)) for topic in knowledge.out_of_scope]
    zones = {key: office_config.timezone for key, office_config in config.offices.items()}
    return page(
        request,
        "tickets.html",
        title="Daftar tiket",
        nav=nav(dashboard, reader),
        section=dashboard.section_name(reader.section) if reader.role != SUPERVISOR else None,
        rows=[
            ticket_row(ticket, stakeholder, zones.get(ticket.office, timezone), names)
            for ticket, stakeholder in rows
        ],
        total=total,
        page_number=number,
        pages=pages,
        previous_url=page_url(number - 1) if number > 1 else None,
        next_url=page_url(number + 1) if number < pages else None,
        filters=filters,
        statuses=list(labels.items()),
        topics=topics,
        offices=sorted(config.offices),
    )


@readers_only
async def ticket_transcript(request: Request, reader: Reader) -> Response:
    """GET /tiket/{number}: the printable transcript."""
    dashboard = _dashboard(request)
    number = request.path_params["number"]
    # Another section's ticket is not found for a Kepala Seksi: its number tells them nothing.
    async with dashboard.reading(reader) as session:
        transcript = await transcripts.load_transcript(
            session,
            dashboard.runtime.config,
            number,
            dashboard.runtime.knowledge.matcher.knowledge,
        )
    if transcript is None:
        return error_page(
            request,
            404,
            "Tiket tidak ditemukan",
            f"Tidak ada tiket dengan nomor {number} yang dapat Anda buka.",
            nav=nav(dashboard, reader),
        )
    document = transcripts.render_html(transcript, dashboard.runtime.config)
    return HTMLResponse(with_nav(document, nav(dashboard, reader)))


# `?kantor=semua`: every office together, with a table per office (supervisors only).
ALL_OFFICES = "semua"


def report_office(dashboard: Dashboard, reader: Reader, value: str | None) -> str:
    """The office of a report: an office id, or reports.ALL_OFFICES for `semua`, which only a
    supervisor may ask for (a Kepala Seksi reads their section, in one office at a time);
    default the office served."""
    config = dashboard.runtime.config
    if value == ALL_OFFICES and value not in config.offices:
        if reader.role != SUPERVISOR:
            raise BadRequest("Laporan semua kantor hanya dapat dibuka oleh supervisor.")
        return reports.ALL_OFFICES
    office = parse_office(dashboard, value, config.office)
    assert office is not None
    return office


async def _report(request: Request, reader: Reader) -> tuple[reports.Report, date]:
    """The report the query asks for, and its last day (inclusive): of the reader's section's
    tickets only for a Kepala Seksi, which its title says. The office is `kantor` (or `office`,
    which the navigation's form sends)."""
    dashboard = _dashboard(request)
    config = dashboard.runtime.config
    params = request.query_params
    office = report_office(dashboard, reader, params.get("kantor") or params.get("office"))
    now = dashboard.now()
    # The default period in the office's own dates; for all offices, the served office's.
    zone = config.offices.get(office, config.current_office).timezone
    start, end = reports.default_period(now.astimezone(ZoneInfo(zone)).date())
    date_from, date_to = (
        parse_date(params.get("from"), "awal"),
        parse_date(params.get("to"), "akhir"),
    )
    start = date_from or start
    end = date_to + timedelta(days=1) if date_to else end
    if start >= end:
        raise BadRequest("Tanggal awal tidak boleh sesudah tanggal akhir.")
    async with dashboard.reading(reader) as session:
        report = await reports.build_report(session, config, office, start, end, now)
    if reader.role != SUPERVISOR:
        office_name = f"{report.office_name} — {dashboard.section_name(reader.section)}"
        report = replace(report, office_name=office_name)
    return report, end - timedelta(days=1)


@readers_only
async def report_page(request: Request, reader: Reader) -> Response:
    """GET /laporan: the service-level report with its charts."""
    dashboard = _dashboard(request)
    report, last = await _report(request, reader)
    # Charts are drawn with matplotlib: off the event loop, and one at a time (pyplot is global).
    async with dashboard.chart_lock:
        document = await asyncio.to_thread(
            reports.render_html,
            report,
            dashboard.runtime.config,
            dashboard.runtime.knowledge.matcher.knowledge,
        )
    office = ALL_OFFICES if report.office == reports.ALL_OFFICES else report.office
    period = {"from": report.start.isoformat(), "to": last.isoformat(), "office": office}
    offices = sorted(dashboard.runtime.config.offices)
    if reader.role == SUPERVISOR:
        offices.append(ALL_OFFICES)
    return HTMLResponse(
        with_nav(
            document,
            nav(
                dashboard,
                reader,
                period=period,
                offices=offices,
                csv_url="/laporan.csv?" + urlencode(period),
            ),
        )
    )


@readers_only
async def report_csv(request: Request, reader: Reader) -> Response:
    """GET /laporan.csv: the same figures as a spreadsheet download (for a Kepala Seksi, with a
    last row `section` naming the section they cover, which the file name also carries)."""
    report, last = await _report(request, reader)
    scope = ALL_OFFICES if report.office == reports.ALL_OFFICES else report.office
    text = reports.render_csv(report)
    if reader.role != SUPERVISOR:
        extra = io.StringIO()
        csv.writer(extra).writerow(["section", reader.section or "-"])
        section = re.sub(r"[^A-Za-z0-9_-]", "_", reader.section or "-")
        text, scope = text + extra.getvalue(), f"{report.office}-{section}"
    name = f"laporan-{scope}-{report.start.isoformat()}-{last.isoformat()}.csv"
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def not_found(request: Request, exc: Exception) -> Response:
    return error_page(request, 404, "Halaman tidak ditemukan", "Alamat ini tidak ada di dasbor.")


async def method_not_allowed(request: Request, exc: Exception) -> Response:
    return error_page(request, 405, "Metode tidak diizinkan", "Dasbor ini hanya untuk dibaca.")


async def server_error(request: Request, exc: Exception) -> Response:
    return error_page(
        request,
        500,
        "Terjadi kesalahan",
        "Halaman ini tidak dapat ditampilkan. Kesalahan sudah dicatat.",
    )
