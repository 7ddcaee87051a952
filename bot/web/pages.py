"""The dashboard's pages: who may see them, the query parameters they take, what they show.

Every page but the health check and the login pages goes through `readers_only`, which reads the
signed session cookie and the reader's current role in config.yaml. Transcript and report pages
are the same HTML as `csobot transcript` and `csobot report` produce, with a navigation bar
added, so what is read on screen is what is printed.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from bot import report as reports
from bot import transcript as transcripts
from bot.config import ZONE_LABELS
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
    redeem_login_token,
)

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


def nav(reader: Reader, **context: Any) -> Markup:
    return Markup(
        TEMPLATES.get_template("nav.html").render(
            reader=reader, role_labels=ROLE_LABELS, **context
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
        if reader is None:
            return refuse_unauthenticated(request)
        role = current_role(dashboard.runtime.config, reader, dashboard.password is not None)
        if role not in READER_ROLES:
            return error_page(
                request, 403, "Akses ditolak", "Akun Anda tidak berhak membuka dasbor supervisi."
            )
        try:
            return await endpoint(request, replace(reader, role=role))
        except BadRequest as exc:
            return error_page(request, 400, "Permintaan tidak valid", str(exc), nav=nav(reader))

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


async def login(request: Request) -> Response:
    """GET/POST /login: the password login, when CSOBOT_WEB_PASSWORD_HASH is set."""
    dashboard = _dashboard(request)
    target = safe_next(request.query_params.get("next"))
    if dashboard.password is None:
        return page(request, "login.html", title="Masuk", disabled=True, next=target)
    if request.method == "GET":
        return page(request, "login.html", title="Masuk", next=target)
    async with request.form() as form:
        username, password = str(form.get("username", "")), str(form.get("password", ""))
        target = safe_next(str(form.get("next", "/")))
    # PBKDF2 is deliberately slow: keep it off the event loop.
    valid = await asyncio.to_thread(dashboard.password.matches, password)
    if not (username.strip() == PASSWORD_USER and valid):
        log.warning("dashboard password login failed for user %r", username[:40])
        return page(
            request,
            "login.html",
            401,
            title="Masuk",
            next=target,
            username=username,
            failed="Nama pengguna atau kata sandi salah.",
        )
    log.info("dashboard login by password")
    return start_session(request, PASSWORD_USER, "supervisor", target)


async def logout(request: Request) -> Response:
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
    ticket: Ticket, stakeholder: Stakeholder, timezone: str, labels: dict[str, str]
) -> dict[str, str]:
    """One line of the ticket list, in the ticket's office time."""
    question = ticket.question if len(ticket.question) <= 90 else ticket.question[:89] + "…"
    satker = " ".join(filter(None, [stakeholder.satker_code, stakeholder.organisation]))
    return {
        "number": ticket.number,
        "url": f"/tiket/{quote(ticket.number)}",
        "opened": local_time(ticket.opened_at, timezone),
        "deadline": local_time(ticket.deadline_at, timezone),
        "stakeholder": stakeholder.full_name or "-",
        "satker": satker or "-",
        "status": labels.get(ticket.status, ticket.status),
        "topic": ticket.topic_id or "-",
        "question": question,
    }


@readers_only
async def ticket_list(request: Request, reader: Reader) -> Response:
    """GET /: tickets newest first, filtered, 25 a page."""
    dashboard = _dashboard(request)
    config = dashboard.runtime.config
    params = request.query_params
    labels = config.texts.status_labels
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
    async with dashboard.runtime.sessions() as session:
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
    topics = [(entry.id, entry.title) for entry in knowledge.entries]
    topics += [(topic.id, f"Di luar layanan: {topic.title}") for topic in knowledge.out_of_scope]
    zones = {key: office_config.timezone for key, office_config in config.offices.items()}
    return page(
        request,
        "tickets.html",
        title="Daftar tiket",
        nav=nav(reader),
        rows=[
            ticket_row(ticket, stakeholder, zones.get(ticket.office, timezone), labels)
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
    async with dashboard.runtime.sessions() as session:
        transcript = await transcripts.load_transcript(session, dashboard.runtime.config, number)
    if transcript is None:
        return error_page(
            request,
            404,
            "Tiket tidak ditemukan",
            f"Tidak ada tiket dengan nomor {number}.",
            nav=nav(reader),
        )
    document = transcripts.render_html(transcript, dashboard.runtime.config)
    return HTMLResponse(with_nav(document, nav(reader)))


async def _report(request: Request) -> tuple[reports.Report, date]:
    """The report the query asks for, and its last day (inclusive)."""
    dashboard = _dashboard(request)
    config = dashboard.runtime.config
    params = request.query_params
    office = parse_office(dashboard, params.get("office"), config.office)
    assert office is not None
    now = dashboard.now()
    start, end = reports.default_period(
        now.astimezone(ZoneInfo(config.offices[office].timezone)).date()
    )
    date_from, date_to = (
        parse_date(params.get("from"), "awal"),
        parse_date(params.get("to"), "akhir"),
    )
    start = date_from or start
    end = date_to + timedelta(days=1) if date_to else end
    if start >= end:
        raise BadRequest("Tanggal awal tidak boleh sesudah tanggal akhir.")
    async with dashboard.runtime.sessions() as session:
        report = await reports.build_report(session, config, office, start, end, now)
    return report, end - timedelta(days=1)


@readers_only
async def report_page(request: Request, reader: Reader) -> Response:
    """GET /laporan: the service-level report with its charts."""
    dashboard = _dashboard(request)
    report, last = await _report(request)
    # Charts are drawn with matplotlib: off the event loop, and one at a time (pyplot is global).
    async with dashboard.chart_lock:
        document = await asyncio.to_thread(reports.render_html, report, dashboard.runtime.config)
    period = {"from": report.start.isoformat(), "to": last.isoformat(), "office": report.office}
    return HTMLResponse(
        with_nav(
            document,
            nav(
                reader,
                period=period,
                offices=sorted(dashboard.runtime.config.offices),
                csv_url="/laporan.csv?" + urlencode(period),
            ),
        )
    )


@readers_only
async def report_csv(request: Request, reader: Reader) -> Response:
    """GET /laporan.csv: the same figures as a spreadsheet download."""
    report, last = await _report(request)
    name = f"laporan-{report.office}-{report.start.isoformat()}-{last.isoformat()}.csv"
    return Response(
        reports.render_csv(report),
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
