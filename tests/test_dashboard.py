"""The supervision dashboard: who gets in, what they see, and the real page in a real browser."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import re
import socket
import struct
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from sqlalchemy import update
from sqlmodel import col, select
from starlette.applications import Starlette

from bot.clock import FakeClock
from bot.runtime import Runtime, build_runtime
from bot.store.models import LoginFailure, LoginToken, RevokedSession, Stakeholder, Ticket
from bot.web import create_app, create_login_link, hash_password, serve
from bot.web.app import Server
from bot.web.auth import PasswordHash, PasswordHashError, Reader, SessionSigner, token_hash
from bot.web.pages import COOKIE, origin_of, safe_next
from tests.conftest import FakeChat, config_for_tests, make_settings

SECRET = "uji-rahasia-penandatangan-sesi-yang-cukup-panjang"
PASSWORD = "Kppn-Pekalongan-2026"
# Few iterations keep the tests fast; the format is the one production uses.
PASSWORD_HASH = hash_password(PASSWORD, iterations=1_000)
BASE = "http://dasbor.test"
# What a browser sends with the login form's POST from the dashboard's own login page.
SAME_SITE = {"Origin": BASE}
STAFF = [
    {"name": "Ratna Wulandari", "role": "supervisor", "telegram_id": 9001},
    {"name": "Budi Santoso", "role": "kepala_seksi", "section": "pencairan", "telegram_id": 9002},
    {"name": "Andi Pratama", "role": "cso", "telegram_id": 9003},
]
QUESTION = "bagaimana cara mengajukan tup?"
CHROMIUM = Path("/usr/bin/chromium")  # Debian's chromium package
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
async def runtime(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Runtime]:
    """The shared runtime, with a supervisor, a Kepala Seksi and a CSO in config.yaml."""
    settings = make_settings(tmp_path, csobot_config=config_for_tests(tmp_path, staff=STAFF))
    runtime = await build_runtime(settings, clock=clock)
    yield runtime
    await runtime.close()


@pytest.fixture
def app(runtime: Runtime) -> Starlette:
    return create_app(runtime, secret=SECRET, password_hash=PASSWORD_HASH, session_minutes=60)


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        yield client


async def consultation(runtime: Runtime, clock: FakeClock) -> Ticket:
    """A stakeholder asks about TUP, the bot answers, that does not help: a CSO gets the ticket."""
    chat = FakeChat(runtime)
    await chat.identify()
    clock.advance(minutes=1)
    await chat.send(QUESTION)
    clock.advance(minutes=2)
    await chat.press("Belum")
    ticket = await chat.ticket()
    assert ticket.status == "queued"
    return ticket


async def log_in(
    client: httpx.AsyncClient, runtime: Runtime, name: str = "Ratna Wulandari"
) -> httpx.Response:
    link = await create_login_link(runtime, name, BASE)
    return await client.get(urlsplit(link).path)


def numbers(html: str) -> list[str]:
    """Ticket numbers linked from a ticket list, in page order."""
    return re.findall(r'href="/tiket/(KNS-[0-9-]+)"', html)


# 30 tickets over six days (five a day, newest first by i), three statuses, two topics, two
# stakeholders: every filter and the paging can be checked against this table by hand.
def ticket_rows() -> list[dict[str, object]]:
    rows = []
    for i in range(30):
        day = date(2026, 11, 23) - timedelta(days=i // 5)
        opened = datetime(
            day.year, day.month, day.day, 2, 50 - 10 * (i % 5), tzinfo=UTC
        )  # 09:xx WIB
        rows.append(
            {
                "number": f"KNS-{day:%Y%m%d}-9{i:03d}",
                "opened": opened,
                "status": ("resolved", "queued", "in_progress")[i % 3],
                "topic": "tup-pengajuan" if i % 2 == 0 else "sp2d-status",
                "who": 0 if i < 10 else 1,
            }
        )
    return rows


async def insert_tickets(runtime: Runtime) -> list[dict[str, object]]:
    now = runtime.clock.now()
    rows = ticket_rows()
    async with runtime.sessions() as session:
        people = [
            Stakeholder(
                channel="test",
                channel_user_id=f"9{n}",
                chat_id=f"9{n}",
                full_name=name,
                role="ppk",
                satker_code=code,
                organisation=organisation,
                consent_at=now,
                created_at=now,
                updated_at=now,
            )
            for n, (name, code, organisation) in enumerate(
                [
                    ("Dewi Lestari", "654321", "Satker Dewi"),
                    ("Rudi Hartono", "777888", "Satker Rudi"),
                ]
            )
        ]
        session.add_all(people)
        await session.flush()
        for row in rows:
            opened = row["opened"]
            assert isinstance(opened, datetime)
            resolved = row["status"] == "resolved"
            session.add(
                Ticket(
                    number=str(row["number"]),
                    office="pekalongan",
                    stakeholder_id=people[int(str(row["who"]))].id or 0,
                    channel="test",
                    status=str(row["status"]),
                    question=f"pertanyaan nomor {row['number']}",
                    topic_id=str(row["topic"]),
                    opened_at=opened,
                    service_due_at=opened + timedelta(minutes=20),
                    first_answer_at=opened + timedelta(minutes=10),
                    deadline_at=opened + timedelta(days=3),
                    resolved_at=opened + timedelta(hours=1) if resolved else None,
                    updated_at=opened,
                )
            )
        await session.commit()
    return rows


# ---------------------------------------------------------------- refusals


async def test_health_check_needs_no_login(client: httpx.AsyncClient) -> None:
    response = await client.get("/sehat")
    assert response.status_code == 200 and response.text == "ok"


async def test_unauthenticated_requests_are_refused_and_show_no_data(
    client: httpx.AsyncClient, runtime: Runtime, clock: FakeClock
) -> None:
    ticket = await consultation(runtime, clock)
    for path in (
        "/",
        f"/tiket/{ticket.number}",
        "/laporan",
        "/laporan.csv",
        "/laporan.csv?from=2026-11-23",
    ):
        for cookie in (None, "bukan-sesi"):
            client.cookies.clear()
            if cookie:
                client.cookies.set(COOKIE, cookie)
            response = await client.get(path)
            assert response.status_code == 401, path
            assert "Silakan masuk" in response.text and 'href="/login' in response.text
            for secret in (
                QUESTION,
                "Siti Rahmawati",
                "Satker Contoh",
                "Jumlah tiket",
                "figure,value",
            ):
                assert secret not in response.text, (path, secret)


async def test_unknown_pages_and_methods_get_indonesian_pages(client: httpx.AsyncClient) -> None:
    assert "Halaman tidak ditemukan" in (await client.get("/tidak-ada")).text
    response = await client.post("/laporan")
    assert response.status_code == 405 and "hanya untuk dibaca" in response.text


# ---------------------------------------------------------------- one-time links


async def test_a_login_link_works_once(
    client: httpx.AsyncClient, runtime: Runtime, clock: FakeClock
) -> None:
    ticket = await consultation(runtime, clock)
    link = await create_login_link(runtime, "Ratna Wulandari", BASE + "/")
    assert link.startswith(f"{BASE}/masuk/") and len(link.rsplit("/", 1)[1]) >= 40
    response = await client.get(urlsplit(link).path)
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower() and "Max-Age=3600" in cookie
    page = await client.get("/")
    assert (
        page.status_code == 200 and ticket.number in page.text and "Ratna Wulandari" in page.text
    )
    async with runtime.sessions() as session:
        stored = (await session.exec(select(LoginToken))).one()
    assert (
        stored.token_hash == token_hash(link.rsplit("/", 1)[1])
        and stored.used_at == runtime.clock.now()
    )

    client.cookies.clear()
    again = await client.get(urlsplit(link).path)
    assert again.status_code == 403 and "sudah dipakai" in again.text
    assert "set-cookie" not in again.headers
    assert (await client.get("/")).status_code == 401


async def test_link_previews_do_not_spend_a_login_link(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    path = urlsplit(await create_login_link(runtime, "Ratna Wulandari", BASE)).path
    preview = await client.get(path, headers={"user-agent": "TelegramBot (like TwitterBot)"})
    assert preview.status_code == 200 and "set-cookie" not in preview.headers
    assert (await client.head(path)).status_code == 200
    assert (await client.get(path)).status_code == 303


async def test_an_expired_link_is_refused(
    client: httpx.AsyncClient, runtime: Runtime, clock: FakeClock
) -> None:
    link = await create_login_link(runtime, "Ratna Wulandari", BASE, minutes=10)
    clock.advance(minutes=10)
    response = await client.get(urlsplit(link).path)
    assert response.status_code == 403 and "kedaluwarsa" in response.text
    assert (await client.get("/")).status_code == 401


async def test_unknown_links_and_cso_links_are_refused(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    assert (await client.get("/masuk/tebakan-acak")).status_code == 403
    for name in ("Andi Pratama", "Orang Lain"):
        response = await log_in(client, runtime, name)
        assert response.status_code == 403 and "tidak berhak" in response.text, name
        assert "set-cookie" not in response.headers
        assert (await client.get("/")).status_code == 401


async def test_a_kepala_seksi_may_read(client: httpx.AsyncClient, runtime: Runtime) -> None:
    assert (await log_in(client, runtime, "Budi Santoso")).status_code == 303
    page = await client.get("/")
    assert page.status_code == 200 and "Kepala Seksi" in page.text


# ---------------------------------------------------------------- password login


async def test_password_login(client: httpx.AsyncClient) -> None:
    form = await client.get("/login")
    assert form.status_code == 200 and 'name="password"' in form.text

    wrong = await client.post(
        "/login", data={"username": "supervisor", "password": "salah"}, headers=SAME_SITE
    )
    assert (
        wrong.status_code == 401
        and "kata sandi salah" in wrong.text
        and "set-cookie" not in wrong.headers
    )
    other = await client.post(
        "/login", data={"username": "admin", "password": PASSWORD}, headers=SAME_SITE
    )
    assert other.status_code == 401 and "set-cookie" not in other.headers
    assert (await client.get("/")).status_code == 401

    right = await client.post(
        "/login",
        data={"username": "supervisor", "password": PASSWORD, "next": "/laporan"},
        headers=SAME_SITE,
    )
    assert right.status_code == 303 and right.headers["location"] == "/laporan"
    assert (await client.get("/")).status_code == 200
    assert (await client.get("/keluar")).status_code == 200
    assert (await client.get("/")).status_code == 401


async def test_without_a_password_hash_the_form_is_disabled(runtime: Runtime) -> None:
    app = create_app(runtime, secret=SECRET, password_hash=None)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        assert "tidak diaktifkan" in (await client.get("/login")).text
        response = await client.post(
            "/login", data={"username": "supervisor", "password": PASSWORD}
        )
        assert "tidak diaktifkan" in response.text and "set-cookie" not in response.headers
        # A password session from when the hash was set no longer opens anything.
        expires = int(runtime.clock.now().timestamp()) + 600
        client.cookies.set(
            COOKIE, SessionSigner(SECRET).sign(Reader("supervisor", "supervisor", expires))
        )
        assert (await client.get("/")).status_code == 403


def client_at(app: Starlette, address: str) -> httpx.AsyncClient:
    """A client whose requests come from `address`, as uvicorn would report it."""
    transport = httpx.ASGITransport(app=app, client=(address, 50_000))
    return httpx.AsyncClient(transport=transport, base_url=BASE)


async def try_password(
    client: httpx.AsyncClient, password: str, username: str = "supervisor"
) -> httpx.Response:
    return await client.post(
        "/login", data={"username": username, "password": password}, headers=SAME_SITE
    )


async def failures(runtime: Runtime) -> list[LoginFailure]:
    async with runtime.sessions() as session:
        return list((await session.exec(select(LoginFailure))).all())


async def test_password_guessing_from_one_address_is_throttled(
    app: Starlette, runtime: Runtime, clock: FakeClock
) -> None:
    async with client_at(app, "10.0.0.1") as guesser, client_at(app, "10.0.0.2") as colleague:
        # Five user names, so that only the address has five failures.
        for n in range(5):
            clock.advance(seconds=10)
            assert (await try_password(guesser, "salah", f"tamu{n}")).status_code == 401
        refused = await try_password(guesser, PASSWORD)  # even the right password
        assert refused.status_code == 429 and "set-cookie" not in refused.headers
        assert "Terlalu banyak percobaan" in refused.text and "/masuk" in refused.text
        # Free again when the oldest of the five leaves the 15 minutes, 40 seconds after it.
        assert refused.headers["retry-after"] == str(15 * 60 - 40)
        assert refused.headers["cache-control"] == "no-store"
        assert len(await failures(runtime)) == 5  # refused attempts are not failures

        # Another address is not affected, nor is the account the guesser never tried.
        assert (await try_password(colleague, PASSWORD)).status_code == 303

        # Retrying does not extend the wait: 10 minutes later, 4 min 20 s are left.
        clock.advance(minutes=10)
        later = await try_password(guesser, "salah", "tamu9")
        assert later.status_code == 429 and later.headers["retry-after"] == str(5 * 60 - 40)
        assert "Coba lagi dalam 5 menit" in later.text
        clock.advance(minutes=6)  # 16 minutes after the failures
        assert (await try_password(guesser, PASSWORD)).status_code == 303
        # That attempt also pruned the failures that had left the window; the success cleared
        # the address's own.
        assert await failures(runtime) == []


async def test_password_guessing_on_one_account_is_throttled_across_addresses(
    app: Starlette, runtime: Runtime, clock: FakeClock
) -> None:
    async with (
        client_at(app, "10.0.0.1") as first,
        client_at(app, "10.0.0.2") as second,
        client_at(app, "2001:db8::7") as third,
    ):
        for client in (first, second, first, second, first):
            assert (await try_password(client, "salah", " Supervisor")).status_code == 401
        stored = await failures(runtime)
        assert {row.ip for row in stored} == {"10.0.0.1", "10.0.0.2"}
        assert {row.account for row in stored} == {"supervisor"}

        refused = await try_password(third, PASSWORD)
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) == 15 * 60
        # Three failures on the first address: another account may still be tried from it.
        assert (await try_password(first, "salah", "admin")).status_code == 401
        # The throttle is in the database: a second process (another app) refuses as well.
        other_process = create_app(runtime, secret=SECRET, password_hash=PASSWORD_HASH)
        async with client_at(other_process, "10.0.0.9") as elsewhere:
            assert (await try_password(elsewhere, PASSWORD)).status_code == 429

        clock.advance(minutes=16)
        assert (await try_password(third, PASSWORD)).status_code == 303


async def test_a_successful_login_clears_the_failures(
    app: Starlette, runtime: Runtime, clock: FakeClock
) -> None:
    async with client_at(app, "10.0.0.1") as client:
        for _ in range(4):
            assert (await try_password(client, "salah")).status_code == 401
        assert (await try_password(client, PASSWORD)).status_code == 303
        assert await failures(runtime) == []
        for _ in range(5):
            assert (await try_password(client, "salah")).status_code == 401
        assert (await try_password(client, PASSWORD)).status_code == 429


async def test_the_login_form_only_accepts_posts_from_the_dashboard_itself(
    client: httpx.AsyncClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    form = await client.get("/login")
    # Under no-referrer, browsers would send `Origin: null` with the form; same-origin keeps
    # the address on the site and lets the Origin through.
    assert form.headers["referrer-policy"] == "same-origin"
    assert (await client.get("/")).headers["referrer-policy"] == "no-referrer"

    data = {"username": "supervisor", "password": PASSWORD}
    for headers in (
        {"Origin": "https://penyerang.test"},
        {"Origin": "http://dasbor.test.penyerang.test"},
        {"Origin": "https://dasbor.test"},  # another scheme is another site
        {"Origin": "null"},  # a sandboxed frame, a privacy redirect
        {"Origin": "https://penyerang.test", "Referer": f"{BASE}/login"},
        {"Referer": "https://penyerang.test/dasbor.test/login"},
        {},  # neither header: not a browser's form post
    ):
        response = await client.post("/login", data=data, headers=headers)
        assert response.status_code == 403, headers
        assert "Permintaan ditolak" in response.text and "set-cookie" not in response.headers
    assert await failures(runtime) == []  # another site cannot spend an account's attempts
    assert (await client.get("/")).status_code == 401

    referred = await client.post("/login", data=data, headers={"Referer": f"{BASE}/login"})
    assert referred.status_code == 303
    client.cookies.clear()
    same = await client.post("/login", data=data, headers={"Origin": "http://DASBOR.test:80"})
    assert same.status_code == 303 and (await client.get("/")).status_code == 200

    # With CSOBOT_WEB_BASE_URL set (behind a proxy), that address is the dashboard's.
    monkeypatch.setattr(runtime.settings, "csobot_web_base_url", "https://dasbor.kppn.test/")
    client.cookies.clear()
    assert (await client.post("/login", data=data, headers=SAME_SITE)).status_code == 403
    proxied = await client.post(
        "/login", data=data, headers={"Origin": "https://dasbor.kppn.test"}
    )
    assert proxied.status_code == 303


def test_origins_are_compared_as_browsers_write_them() -> None:
    assert origin_of("http://Dasbor.test:80/login?x=1") == "http://dasbor.test"
    assert origin_of("https://dasbor.test:443") == "https://dasbor.test"
    assert origin_of("https://dasbor.test:8443/") == "https://dasbor.test:8443"
    assert origin_of("http://[::1]:8080/") == "http://[::1]:8080"
    for value in ("null", "", "dasbor.test", "ftp://dasbor.test", "http://", "http://x:99999"):
        assert origin_of(value) is None, value


def test_password_hashes() -> None:
    value = hash_password("rahasia")
    scheme, iterations, salt, digest = value.split("$")
    assert (
        scheme == "pbkdf2_sha256" and int(iterations) >= 600_000 and len(bytes.fromhex(salt)) == 16
    )
    assert len(digest) == 64 and value != hash_password("rahasia")  # salted
    parsed = PasswordHash.parse(PASSWORD_HASH)
    assert parsed.matches(PASSWORD) and not parsed.matches(PASSWORD + " ")
    for broken in (
        "",
        "md5$1$00$00",
        "pbkdf2_sha256$x$00$" + "0" * 64,
        "pbkdf2_sha256$10$zz$" + "0" * 64,
        "pbkdf2_sha256$10$00$00",
    ):
        with pytest.raises(PasswordHashError):
            PasswordHash.parse(broken)


async def test_create_app_refuses_a_broken_configuration(runtime: Runtime) -> None:
    with pytest.raises(ValueError):
        create_app(runtime, secret="", password_hash=None)
    with pytest.raises(PasswordHashError):
        create_app(runtime, secret=SECRET, password_hash="rahasia")


async def test_serve_without_a_secret_explains_and_exits_2(
    runtime: Runtime,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.delenv("CSOBOT_WEB_SECRET", raising=False)
    assert await serve(runtime, "127.0.0.1", 0) == 2
    assert "CSOBOT_WEB_SECRET is not set" in capsys.readouterr().err
    monkeypatch.setenv("CSOBOT_WEB_SECRET", SECRET)
    monkeypatch.setenv("CSOBOT_WEB_PASSWORD_HASH", "plain-text")
    assert await serve(runtime, "127.0.0.1", 0) == 2
    assert "CSOBOT_WEB_PASSWORD_HASH is invalid" in capsys.readouterr().err


async def test_serve_on_a_port_in_use_says_so_and_exits_1(
    runtime: Runtime,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """One clear line, no traceback (uvicorn would exit from inside its task otherwise)."""
    import socket

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CSOBOT_WEB_SECRET", SECRET)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert await serve(runtime, "127.0.0.1", port) == 1
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err and "CSOBOT_WEBHOOK_PORT" in err
    assert "Traceback" not in err


# ---------------------------------------------------------------- sessions


async def test_tampered_forged_and_expired_sessions_are_refused(
    client: httpx.AsyncClient, runtime: Runtime, clock: FakeClock
) -> None:
    await log_in(client, runtime, "Budi Santoso")
    value = client.cookies[COOKIE]
    encoded, role, expires, mac = value.split(".")
    assert role == "kepala_seksi"
    other_name = (
        SessionSigner(SECRET)
        .sign(Reader("Ratna Wulandari", "supervisor", int(expires)))
        .split(".")[0]
    )
    tampered = [
        f"{encoded}.supervisor.{expires}.{mac}",  # promoted
        f"{encoded}.{role}.{int(expires) + 86400}.{mac}",  # extended
        f"{other_name}.{role}.{expires}.{mac}",  # someone else
        f"{encoded}.{role}.{expires}.{mac[:-1]}{'0' if mac[-1] != '0' else '1'}",
        SessionSigner("another secret").sign(
            Reader("Ratna Wulandari", "supervisor", int(expires))
        ),
        # Correctly signed, but config.yaml says Andi is a CSO: the role is checked on every page.
        SessionSigner(SECRET).sign(Reader("Andi Pratama", "supervisor", int(expires))),
    ]
    for forged in tampered:
        client.cookies.clear()
        client.cookies.set(COOKIE, forged)
        response = await client.get("/")
        assert response.status_code in (401, 403), forged
        assert "Daftar tiket konsultasi" not in response.text

    client.cookies.clear()
    client.cookies.set(COOKIE, value)
    assert (await client.get("/")).status_code == 200
    clock.advance(minutes=59)
    assert (await client.get("/laporan.csv")).status_code == 200
    clock.advance(minutes=1)
    for path in ("/", "/laporan", "/laporan.csv"):
        assert (await client.get(path)).status_code == 401, path


async def test_a_session_ended_with_keluar_cannot_be_replayed(
    client: httpx.AsyncClient, runtime: Runtime, app: Starlette, clock: FakeClock
) -> None:
    await log_in(client, runtime, "Budi Santoso")
    value = client.cookies[COOKIE]
    encoded, role, expires, mac = value.split(".")
    # The same person's other session; a login in the same second would have the very same
    # cookie, and end with it.
    clock.advance(seconds=1)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE
    ) as other_tab:
        await log_in(other_tab, runtime, "Budi Santoso")
        assert other_tab.cookies[COOKIE] != value

        out = await client.get("/keluar")
        assert out.status_code == 200 and "sudah keluar" in out.text
        assert COOKIE not in client.cookies
        # A copy of the cookie (an unlocked office computer, a proxy log) no longer opens
        # anything, nor does the same MAC written differently.
        for replayed in (value, f"{encoded}.{role}.0{expires}.{mac}"):
            client.cookies.set(COOKIE, replayed)
            for path in ("/", "/laporan.csv", "/tiket/KNS-20261123-0001"):
                response = await client.get(path)
                assert response.status_code == 401, (replayed, path)
                assert "Silakan masuk" in response.text
        # Refused in every process: the end of the session is in the database.
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(
                app=create_app(runtime, secret=SECRET, password_hash=None)
            ),
            base_url=BASE,
            cookies={COOKIE: value},
        ) as elsewhere:
            assert (await elsewhere.get("/")).status_code == 401
        # Logging out again is harmless; the other session is untouched.
        assert (await client.get("/keluar")).status_code == 200
        assert (await other_tab.get("/")).status_code == 200

        async with runtime.sessions() as session:
            ended = (await session.exec(select(RevokedSession))).all()
        assert [row.mac for row in ended] == [mac]
        assert ended[0].expires_at == datetime.fromtimestamp(int(expires), UTC)
        # Kept only while the cookie could be used: the next logout after expiry prunes it.
        clock.advance(minutes=61)
        await log_in(other_tab, runtime, "Budi Santoso")
        newer = other_tab.cookies[COOKIE].split(".")[3]
        assert (await other_tab.get("/keluar")).status_code == 200
        async with runtime.sessions() as session:
            left = (await session.exec(select(RevokedSession))).all()
        assert [row.mac for row in left] == [newer]


def test_logins_only_redirect_within_the_site() -> None:
    assert safe_next("/tiket/KNS-1") == "/tiket/KNS-1"
    for target in (
        None,
        "",
        "https://contoh.test/",
        "//contoh.test",
        "/\\contoh.test",
        "javascript:alert(1)",
    ):
        assert safe_next(target) == "/"


# ---------------------------------------------------------------- reading


async def test_filters_and_paging(client: httpx.AsyncClient, runtime: Runtime) -> None:
    rows = await insert_tickets(runtime)
    await log_in(client, runtime)
    everything = [str(row["number"]) for row in rows]  # newest first by construction

    first = await client.get("/")
    assert numbers(first.text) == everything[:25]
    assert "30 tiket" in first.text and "halaman 1 dari 2" in first.text
    assert 'rel="prev"' not in first.text and 'href="/?page=2" rel="next"' in first.text
    second = await client.get("/?page=2")
    assert numbers(second.text) == everything[25:] and 'href="/?page=1" rel="prev"' in second.text
    assert numbers((await client.get("/?page=3")).text) == []

    def expect(keep: object) -> list[str]:
        return [str(row["number"]) for row in rows if keep(row)]  # type: ignore[operator]

    resolved = await client.get("/?status=resolved")
    assert numbers(resolved.text) == expect(lambda r: r["status"] == "resolved")
    assert '<option value="resolved" selected>' in resolved.text
    assert numbers((await client.get("/?topic=sp2d-status")).text) == expect(
        lambda r: r["topic"] == "sp2d-status"
    )
    assert numbers((await client.get("/?q=dewi")).text) == expect(lambda r: r["who"] == 0)
    assert numbers((await client.get("/?q=777888")).text) == expect(lambda r: r["who"] == 1)
    assert numbers((await client.get("/?q=KNS-20261122-9007")).text) == ["KNS-20261122-9007"]
    dated = await client.get("/?from=2026-11-21&to=2026-11-22")
    assert numbers(dated.text) == everything[5:15]
    combined = await client.get("/?q=rudi&status=queued&from=2026-11-18&topic=sp2d-status")
    assert numbers(combined.text) == expect(
        lambda r: r["who"] == 1 and r["status"] == "queued" and r["topic"] == "sp2d-status"
    )
    # The filters survive paging.
    paged = await client.get("/?q=rudi")
    assert (
        numbers(paged.text) == expect(lambda r: r["who"] == 1) and "halaman 1 dari 1" in paged.text
    )

    for bad in (
        "/?from=23-11-2026",
        "/?to=2026-02-30",
        "/?from=2026-11-23&to=2026-11-01",
        "/?page=0",
        "/?status=hilang",
    ):
        response = await client.get(bad)
        assert response.status_code == 400 and "tidak" in response.text, bad
        assert not numbers(response.text)


async def test_the_transcript_page(
    client: httpx.AsyncClient, runtime: Runtime, clock: FakeClock
) -> None:
    ticket = await consultation(runtime, clock)
    await log_in(client, runtime)
    listing = await client.get("/")
    assert f'href="/tiket/{ticket.number}"' in listing.text and QUESTION in listing.text
    page = await client.get(f"/tiket/{ticket.number}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for expected in (
        f"Transkrip konsultasi {ticket.number}",
        QUESTION,
        "Siti Rahmawati",
        "antre CSO",  # the status as staff name it
        "Pengajuan Tambahan UP (TUP)",  # the topic by its title, not tup-pengajuan
        'href="/keluar"',
    ):
        assert expected in page.text, expected
    assert (
        page.headers["cache-control"] == "no-store"
        and "frame-ancestors 'none'" in page.headers["content-security-policy"]
    )
    assert (await client.get(f"/tiket/{ticket.number.lower()}")).status_code == 200
    missing = await client.get("/tiket/KNS-20000101-0001")
    assert missing.status_code == 404 and "Tiket tidak ditemukan" in missing.text


async def test_report_page_and_csv(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await insert_tickets(runtime)
    await log_in(client, runtime)

    page = await client.get("/laporan")
    assert page.status_code == 200 and "Laporan Layanan Konsultasi Stakeholder" in page.text
    assert "Periode 17-11-2026 s.d. 23-11-2026" in page.text  # the last 7 days, today included
    assert page.text.count("data:image/png;base64,") == 2
    assert (
        'href="/laporan.csv?from=2026-11-17&amp;to=2026-11-23&amp;office=pekalongan"' in page.text
    )

    # 22 and 23 November (to is inclusive): tickets 0–9, i % 3 = 0 resolved (0, 3, 6, 9),
    # 1 queued (1, 4, 7), 2 in progress (2, 5, 8); all resolved within an hour, answered in 10 min.
    response = await client.get("/laporan.csv?from=2026-11-22&to=2026-11-23&office=pekalongan")
    assert (
        response.status_code == 200
        and response.headers["content-type"] == "text/csv; charset=utf-8"
    )
    assert (
        response.headers["content-disposition"]
        == 'attachment; filename="laporan-pekalongan-2026-11-22-2026-11-23.csv"'
    )
    figures = dict(csv.reader(io.StringIO(response.text)))
    assert figures["tickets"] == "10" and figures["resolved"] == "4"
    assert (
        figures["by_status.resolved"] == "4"
        and figures["by_status.queued"] == "3"
        and figures["by_status.in_progress"] == "3"
    )
    assert figures["by_topic.tup-pengajuan"] == "5" and figures["by_topic.sp2d-status"] == "5"
    assert figures["from"] == "2026-11-22" and figures["to"] == "2026-11-23"
    whole = dict(csv.reader(io.StringIO((await client.get("/laporan.csv")).text)))
    assert whole["tickets"] == "30" and whole["by_status.resolved"] == "10"
    one_day = dict(
        csv.reader(
            io.StringIO((await client.get("/laporan.csv?from=2026-11-18&to=2026-11-18")).text)
        )
    )
    assert one_day["tickets"] == "5"

    for bad in (
        "/laporan?from=kemarin",
        "/laporan.csv?to=2026-13-01",
        "/laporan?from=2026-11-23&to=2026-11-22",
        "/laporan?office=atlantis",
    ):
        response = await client.get(bad)
        assert response.status_code == 400 and "Permintaan tidak valid" in response.text, bad


# The 30 tickets of ticket_rows spread over sections: handed to Pencairan (i % 3 == 0), to Bank
# (i % 3 == 1), or never handed off (i % 3 == 2), then of the section owning their topic: both
# topics are Pencairan's, except 2 and 5 (retur-sp2d, Bank's) and 8 (no topic yet).
def section_for(i: int) -> str | None:
    return ("pencairan", "bank", None)[i % 3]


TOPIC_CHANGES = {2: "retur-sp2d", 5: "retur-sp2d", 8: None}


def pencairan_sees(i: int) -> bool:
    return section_for(i) == "pencairan" or (section_for(i) is None and i not in TOPIC_CHANGES)


async def insert_tickets_of_sections(runtime: Runtime) -> list[dict[str, object]]:
    rows = await insert_tickets(runtime)
    async with runtime.sessions() as session:
        for i, row in enumerate(rows):
            values: dict[str, object] = {"section": section_for(i)}
            if i in TOPIC_CHANGES:
                values["topic_id"] = TOPIC_CHANGES[i]
            await session.exec(
                update(Ticket).where(col(Ticket.number) == row["number"]).values(**values)
            )
        await session.commit()
    return rows


async def test_a_kepala_seksi_reads_only_their_sections_tickets(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    rows = await insert_tickets_of_sections(runtime)
    everything = [str(row["number"]) for row in rows]
    visible = [number for i, number in enumerate(everything) if pencairan_sees(i)]
    hidden = [number for number in everything if number not in visible]
    assert len(visible) == 17 and len(hidden) == 13
    await log_in(client, runtime, "Budi Santoso")

    listing = await client.get("/")
    assert numbers(listing.text) == visible and "17 tiket" in listing.text
    assert "Hanya tiket Seksi Pencairan Dana" in listing.text
    assert "(Kepala Seksi, Seksi Pencairan Dana)" in listing.text
    assert numbers((await client.get("/?status=queued")).text) == [
        n for i, n in enumerate(everything) if pencairan_sees(i) and i % 3 == 1
    ]  # none: the queued ones (i % 3 == 1) are Bank's
    for number in hidden:
        assert numbers((await client.get(f"/?q={number}")).text) == [], number

    # Another section's transcript, asked for by its address, is not there for them.
    for number in (hidden[0], hidden[1].lower(), everything[2], everything[8]):
        response = await client.get(f"/tiket/{number}")
        assert response.status_code == 404, number
        assert "Tiket tidak ditemukan" in response.text and "pertanyaan nomor" not in response.text
    own = await client.get(f"/tiket/{visible[0]}")
    assert own.status_code == 200 and f"pertanyaan nomor {visible[0]}" in own.text

    # The figures are the section's: 22–23 November are tickets 0–9, of which 0, 3, 6 and 9
    # are Pencairan's (all resolved); over the week, its 17.
    response = await client.get("/laporan.csv?from=2026-11-22&to=2026-11-23")
    figures = dict(csv.reader(io.StringIO(response.text)))
    assert figures["tickets"] == "4" and figures["by_status.resolved"] == "4"
    assert "by_status.queued" not in figures and figures["section"] == "pencairan"
    assert (
        response.headers["content-disposition"]
        == 'attachment; filename="laporan-pekalongan-pencairan-2026-11-22-2026-11-23.csv"'
    )
    whole = dict(csv.reader(io.StringIO((await client.get("/laporan.csv")).text)))
    assert whole["tickets"] == "17"
    page = await client.get("/laporan")
    assert page.status_code == 200 and "— Seksi Pencairan Dana" in page.text


async def test_a_supervisor_reads_every_section(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    rows = await insert_tickets_of_sections(runtime)
    everything = [str(row["number"]) for row in rows]
    await log_in(client, runtime, "Ratna Wulandari")
    listing = await client.get("/")
    assert numbers(listing.text) == everything[:25] and "30 tiket" in listing.text
    assert "Hanya tiket" not in listing.text
    assert numbers((await client.get("/?page=2")).text) == everything[25:]
    for i in (0, 1, 2, 8):
        assert (await client.get(f"/tiket/{everything[i]}")).status_code == 200
    figures = dict(csv.reader(io.StringIO((await client.get("/laporan.csv")).text)))
    assert figures["tickets"] == "30" and "section" not in figures


# ---------------------------------------------------------------- a real browser


@contextlib.asynccontextmanager
async def running(app: Starlette) -> AsyncIterator[str]:
    """The app behind a real HTTP server on a free local port, for as long as the block runs."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, loop="none", lifespan="off", ws="none", http="h11", log_level="warning"
    )
    server = Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(500):
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        assert server.started, "the dashboard did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
        sock.close()


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


@pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium package is not installed (apt-get install chromium)",
)
async def test_in_a_real_browser(
    app: Starlette, runtime: Runtime, clock: FakeClock, tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright

    ticket = await consultation(runtime, clock)
    viewport = {"width": 1280, "height": 900}
    async with running(app) as base, async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = await browser.new_context(viewport=viewport)  # type: ignore[arg-type]
            page = await context.new_page()
            await page.goto(await create_login_link(runtime, "Ratna Wulandari", base))
            assert page.url == f"{base}/"
            assert "Daftar tiket konsultasi" in await page.inner_text("h1")
            cookie = next(c for c in await context.cookies() if c["name"] == COOKIE)
            assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"

            await page.click(f"a[href='/tiket/{ticket.number}']")
            await page.wait_for_url(f"{base}/tiket/{ticket.number}")
            text = await page.inner_text("body")
            assert f"Transkrip konsultasi {ticket.number}" in text
            assert QUESTION in text and "Siti Rahmawati (pengguna layanan)" in text
            assert "status baru → dicarikan jawaban oleh bot" in text
            assert "antre CSO" in text
            screenshot = await page.screenshot()
            (tmp_path / "transkrip.png").write_bytes(screenshot)
            assert len(screenshot) > 10_000
            assert png_size(screenshot) == (viewport["width"], viewport["height"])

            stranger = await browser.new_context(viewport=viewport)  # type: ignore[arg-type]
            other = await stranger.new_page()
            response = await other.goto(f"{base}/tiket/{ticket.number}")
            assert response is not None and response.status == 401
            refused = await other.inner_text("body")
            assert (
                "Silakan masuk" in refused
                and QUESTION not in refused
                and "Siti Rahmawati" not in refused
            )

            # The password form from the browser: its POST carries the page's Origin (the
            # login page's referrer policy allows it), so it is accepted.
            await other.click("a[href^='/login']")
            await other.fill("input[name=password]", PASSWORD)
            await other.click("button[type=submit]")
            await other.wait_for_url(f"{base}/tiket/{ticket.number}")
            assert QUESTION in await other.inner_text("body")
            session = next(c for c in await stranger.cookies() if c["name"] == COOKIE)
            # Keluar ends the session; the same cookie put back is refused.
            await other.click("a[href='/keluar']")
            assert "Anda sudah keluar" in await other.inner_text("h1")
            assert not [c for c in await stranger.cookies() if c["name"] == COOKIE]
            await stranger.add_cookies([{"name": COOKIE, "value": session["value"], "url": base}])
            replayed = await other.goto(f"{base}/")
            assert replayed is not None and replayed.status == 401
            await stranger.close()
            await context.close()
        finally:
            await browser.close()


# ---------------------------------------------------------------- on a phone

VIEWPORT_META = '<meta name="viewport" content="width=device-width, initial-scale=1">'
# A question with a word longer than a phone is wide and no place to break it (a pasted link):
# it must wrap anyway, not widen the page.
LONG_WORD = "https://spanint.kemenkeu.go.id/" + "BerkasPengajuanTupSatker654321" * 4


async def test_every_page_fits_a_phone_and_runs_no_script(
    client: httpx.AsyncClient, runtime: Runtime, clock: FakeClock
) -> None:
    ticket = await consultation(runtime, clock)
    await insert_tickets(runtime)
    pages: list[httpx.Response] = [
        await client.get("/login"),
        await client.get("/"),  # 401: not logged in yet
        await client.get("/masuk/bukan-tautan"),
        await client.get("/tidak-ada"),
        await client.post("/laporan"),
    ]
    pages.append(await log_in(client, runtime))
    for path in (
        "/",
        "/?page=2",
        "/?status=resolved&q=dewi",
        "/?page=9",
        "/?from=kemarin",
        f"/tiket/{ticket.number}",
        "/tiket/KNS-20000101-0001",
        "/laporan",
        "/laporan?from=2026-11-23&to=2026-11-01",
        "/keluar",
    ):
        pages.append(await client.get(path))
    html = [r for r in pages if r.headers.get("content-type", "").startswith("text/html")]
    assert len(html) == len(pages) - 1  # every page but the redirect of the login link
    for response in html:
        where = f"{response.request.method} {response.request.url.path}: {response.status_code}"
        assert response.text.count(VIEWPORT_META) == 1, where
        assert "<script" not in response.text.lower(), where
        assert "script-src" not in response.headers["content-security-policy"], where


# Every link, button and form field a thumb has to hit, except links inside a sentence.
SMALL_TAP_TARGETS = """() => [...document.querySelectorAll(
    "a, button, select, input:not([type=hidden])")]
  .filter((e) => e.offsetParent !== null && !e.closest("p"))
  .map((e) => [e.outerHTML.slice(0, 80), e.getBoundingClientRect()])
  .filter(([, box]) => box.height < 44 || box.width < 44)
  .map(([html, box]) => `${html} ${Math.round(box.width)}x${Math.round(box.height)}`)"""


@pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium package is not installed (apt-get install chromium)",
)
async def test_on_a_phone(
    app: Starlette, runtime: Runtime, clock: FakeClock, tmp_path: Path
) -> None:
    """A Kepala Seksi reads every page on a 390-px-wide phone: nothing scrolls sideways, the
    ticket list turns into cards, the filters stack, the charts shrink, every tap target is at
    least 44 px and the text at least 16 px; paper still gets the printable page."""
    from playwright.async_api import Page, async_playwright

    ticket = await consultation(runtime, clock)
    await insert_tickets(runtime)
    async with runtime.sessions() as session:
        await session.exec(
            update(Ticket)
            .where(col(Ticket.number) == ticket.number)
            .values(question=f"{QUESTION} {LONG_WORD}")
        )
        await session.commit()
    phone = {"width": 390, "height": 844}

    async def fits(page: Page, name: str, *visible: str) -> None:
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= phone["width"], (name, width)
        for selector in visible:
            assert await page.locator(selector).first.is_visible(), (name, selector)
        assert await page.evaluate(SMALL_TAP_TARGETS) == [], name
        font = await page.evaluate("getComputedStyle(document.body).fontSize")
        assert float(font.removesuffix("px")) >= 16, (name, font)
        path = tmp_path / f"telepon-{name}.png"
        await page.screenshot(path=str(path), full_page=True)
        assert path.exists() and path.stat().st_size > 10_000, name
        assert png_size(path.read_bytes())[0] == 3 * phone["width"], name

    async with running(app) as base, async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = await browser.new_context(
                viewport=phone,  # type: ignore[arg-type]
                device_scale_factor=3,
                is_mobile=True,
                has_touch=True,
            )
            page = await context.new_page()
            await page.goto(f"{base}/login")
            await fits(page, "masuk", "h1", "input[name=password]", "button[type=submit]")

            await page.goto(await create_login_link(runtime, "Budi Santoso", base))
            assert page.url == f"{base}/"
            await fits(
                page,
                "daftar",
                "h1",
                "form.filters input[name=q]",
                "form.filters button[type=submit]",
                f"a[href='/tiket/{ticket.number}']",
                "a[rel=next]",
                "a[href='/keluar']",
            )
            # The filters stack: one under another, each as wide as the form.
            boxes = await page.eval_on_selector_all(
                "form.filters label",
                "(labels) => labels.map((l) => [l.getBoundingClientRect().left,"
                " l.getBoundingClientRect().top, l.getBoundingClientRect().width])",
            )
            assert len(boxes) >= 5 and len({round(left) for left, _, _ in boxes}) == 1
            assert [top for _, top, _ in boxes] == sorted({top for _, top, _ in boxes})
            assert min(width for _, _, width in boxes) > phone["width"] / 2
            # Each ticket is a card with its own labels, and the long question wraps.
            card = page.locator(f"tr:has(a[href='/tiket/{ticket.number}'])")
            labels = await card.locator("td").evaluate_all(
                "(cells) => cells.map((c) => getComputedStyle(c, '::before').content)"
            )
            headings = await page.locator("table.tickets th").all_text_contents()
            assert labels == [f'"{heading}"' for heading in headings] and "Pertanyaan" in headings
            assert not await page.locator("table.tickets th").first.is_visible()
            assert (await card.bounding_box() or {"width": 1e9})["width"] <= phone["width"]

            await page.click("a[rel=next]")
            await page.wait_for_url(f"{base}/?page=2")
            await fits(page, "daftar-2", "h1", "a[rel=prev]")

            await page.goto(f"{base}/tiket/{ticket.number}")
            await fits(page, "transkrip", "h1", "nav", "table.meta", ".entry", "pre")
            assert LONG_WORD in await page.inner_text("body")

            await page.goto(f"{base}/laporan")
            await fits(page, "laporan", "h1", "nav form input[name=from]", "table.meta")
            charts = await page.eval_on_selector_all(
                "img",
                "(images) => images.map((i) => [i.naturalWidth, i.getBoundingClientRect().right])",
            )
            assert len(charts) == 2
            for natural, right in charts:
                assert natural > phone["width"] and 0 < right <= phone["width"]

            # Printing from the phone still gives the printable report: no navigation, 11 pt.
            await page.emulate_media(media="print")
            assert not await page.locator("nav").is_visible()
            printed = await page.evaluate("getComputedStyle(document.body).fontSize")
            assert float(printed.removesuffix("px")) == pytest.approx(11 * 4 / 3, abs=0.01)
            await context.close()

            # A small tablet keeps the table, which scrolls in its own box rather than the page.
            tablet = await browser.new_context(viewport={"width": 700, "height": 1000})
            page = await tablet.new_page()
            await page.goto(await create_login_link(runtime, "Budi Santoso", base))
            assert await page.locator("table.tickets th").first.is_visible()
            assert await page.evaluate("document.documentElement.scrollWidth") <= 700
            box = await page.eval_on_selector(
                ".table-scroll", "(box) => [box.clientWidth, box.scrollWidth]"
            )
            assert box[0] <= 700 and box[1] > box[0]
            await tablet.close()
        finally:
            await browser.close()
