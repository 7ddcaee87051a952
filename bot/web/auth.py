"""Who may read the dashboard: one-time login links, the password hash, and signed session cookies.

Supervisors log in with a link the bot sends them in Telegram (`/masuk`) or, where an office
prefers, with one shared password whose hash lives in the environment. Either way the browser
then holds a cookie signed with HMAC-SHA256: no table of open sessions, no extra dependency,
and a restart or a second process accepts the same cookie. The one thing kept server-side is
the end of a session: /keluar stores the cookie's MAC until the cookie would expire, and every
page refuses a cookie whose MAC is stored, so a copied cookie is worthless after logout. Only
the sha256 of a login token is stored, so a copy of the database gives nobody a way in.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from bot.config import Config
from bot.login_tokens import issue_login_token, token_hash
from bot.roles import READERS
from bot.store.models import LoginToken, RevokedSession

if TYPE_CHECKING:
    from bot.runtime import Runtime
    from bot.store.db import SessionFactory

# Roles that may read consultations and figures: supervisors (Kepala Kantor, QA) and Kepala Seksi.
READER_ROLES = READERS
# The user name of the password login; it is not a staff member, so it carries the supervisor role.
PASSWORD_USER = "supervisor"
PASSWORD_SCHEME = "pbkdf2_sha256"
# OWASP's 2023 recommendation for PBKDF2-HMAC-SHA256.
DEFAULT_ITERATIONS = 600_000


class PasswordHashError(ValueError):
    """The configured password hash is not `pbkdf2_sha256$<iterations>$<salt hex>$<hash hex>`."""


@dataclass(frozen=True)
class PasswordHash:
    iterations: int
    salt: bytes
    digest: bytes

    @classmethod
    def parse(cls, text: str) -> PasswordHash:
        parts = text.strip().split("$")
        if len(parts) != 4 or parts[0] != PASSWORD_SCHEME:
            raise PasswordHashError(
                f"expected {PASSWORD_SCHEME}$<iterations>$<salt hex>$<hash hex>"
            )
        try:
            iterations = int(parts[1])
            salt, digest = bytes.fromhex(parts[2]), bytes.fromhex(parts[3])
        except ValueError as exc:
            raise PasswordHashError(
                f"iterations must be a number and salt and hash hex: {exc}"
            ) from exc
        if iterations < 1 or not salt or len(digest) != hashlib.sha256().digest_size:
            raise PasswordHashError(
                "iterations must be positive, the salt non-empty, the hash 32 bytes"
            )
        return cls(iterations, salt, digest)

    def matches(self, password: str) -> bool:
        candidate = hashlib.pbkdf2_hmac("sha256", password.encode(), self.salt, self.iterations)
        return hmac.compare_digest(candidate, self.digest)


def hash_password(password: str, *, iterations: int = DEFAULT_ITERATIONS) -> str:
    """The value for CSOBOT_WEB_PASSWORD_HASH: a salted PBKDF2-SHA256 hash of `password`."""
    if not password:
        raise ValueError("the password must not be empty")
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"{PASSWORD_SCHEME}${iterations}${salt.hex()}${digest.hex()}"


@dataclass(frozen=True)
class Reader:
    """Someone logged in to the dashboard."""

    name: str
    role: str
    expires_at: int  # epoch seconds
    # Not in the cookie: the section a Kepala Seksi heads, from config.yaml at each request.
    section: str | None = None
    # The cookie's MAC, which identifies the session (for logout); empty for a new session.
    mac: str = field(default="", compare=False, repr=False)


class SessionSigner:
    """Cookie value `<name b64>.<role>.<expires epoch>.<hmac hex>`.

    The MAC covers `name|role|expires` with the name base64url-encoded, so a name containing `|`
    or `.` can never be read as another name and role. Expired or tampered values read as None.
    """

    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("the session secret must not be empty")
        self._key = hashlib.sha256(b"csobot-web-session\x00" + secret.encode()).digest()

    def _mac(self, encoded_name: str, role: str, expires: int) -> str:
        message = f"{encoded_name}|{role}|{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def sign(self, reader: Reader) -> str:
        encoded = base64.urlsafe_b64encode(reader.name.encode()).decode().rstrip("=")
        mac = self._mac(encoded, reader.role, reader.expires_at)
        return f"{encoded}.{reader.role}.{reader.expires_at}.{mac}"

    def read(self, value: str | None, now: datetime) -> Reader | None:
        if not value:
            return None
        parts = value.split(".")
        if len(parts) != 4 or not parts[2].isdigit():
            return None
        encoded, role, expires_text, mac = parts
        expires = int(expires_text)
        if not hmac.compare_digest(self._mac(encoded, role, expires), mac):
            return None
        if now.timestamp() >= expires:
            return None
        try:
            name = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return Reader(name, role, expires, mac=mac)


def current_role(config: Config, reader: Reader, password_login: bool) -> str | None:
    """The reader's role now, from config.yaml: a demoted or removed officer loses access at once.

    The password user is not a staff member; that session stays valid only while password login
    is configured.
    """
    member = next((m for m in config.staff if m.name == reader.name), None)
    if member is not None:
        return member.role
    if reader.name == PASSWORD_USER and reader.role == "supervisor" and password_login:
        return "supervisor"
    return None


async def end_session(sessions: SessionFactory, reader: Reader, now: datetime) -> None:
    """Refuse this session's cookie from now on (every process reads the same table), and forget
    sessions that have expired by themselves since: their cookies are refused anyway."""
    if not reader.mac:
        return
    async with sessions() as session:
        await session.exec(delete(RevokedSession).where(col(RevokedSession.expires_at) <= now))
        await session.commit()
    expires = datetime.fromtimestamp(reader.expires_at, UTC)
    with contextlib.suppress(IntegrityError):  # ended already: a second click, another process
        async with sessions() as session:
            session.add(RevokedSession(mac=reader.mac, expires_at=expires))
            await session.commit()


async def session_ended(sessions: SessionFactory, reader: Reader) -> bool:
    """Whether the reader's session was ended with /keluar."""
    async with sessions() as session:
        return await session.get(RevokedSession, reader.mac) is not None


async def redeem_login_token(sessions: SessionFactory, token: str, now: datetime) -> str | None:
    """The staff name of an unused, unexpired token, marking it used; None otherwise.

    One conditional UPDATE is the whole check: of two simultaneous uses (two tabs, two
    processes), exactly one changes the row.
    """
    hashed = token_hash(token)
    async with sessions() as session:
        claimed = await session.exec(
            update(LoginToken)
            .where(
                col(LoginToken.token_hash) == hashed,
                col(LoginToken.used_at).is_(None),
                col(LoginToken.expires_at) > now,
            )
            .values(used_at=now)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            await session.rollback()
            return None
        row = await session.get(LoginToken, hashed)
        await session.commit()
    return row.staff_name if row is not None else None


async def create_login_link(
    runtime: Runtime, staff_name: str, base_url: str, minutes: int = 10
) -> str:
    """A one-time link into the dashboard for `staff_name`, valid for `minutes`.

    The role is checked when the link is used, not here: an officer demoted in config.yaml
    between the two cannot get in.
    """
    token, row = issue_login_token(staff_name, runtime.clock.now(), minutes)
    async with runtime.sessions() as session:
        session.add(row)
        await session.commit()
    return f"{base_url.rstrip('/')}/masuk/{token}"
