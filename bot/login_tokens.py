"""One-time login tokens for the dashboard: only their sha256 is stored; they expire and work once."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.store.models import LoginToken

LIFETIME = timedelta(minutes=10)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_login_token(session: AsyncSession, staff_name: str, now: datetime) -> str:
    token = secrets.token_urlsafe(32)
    session.add(LoginToken(token_hash=token_hash(token), staff_name=staff_name, expires_at=now + LIFETIME, created_at=now))
    return token
