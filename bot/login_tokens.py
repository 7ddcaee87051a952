"""One-time login tokens: issued by the bot's /masuk, redeemed by the dashboard."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from bot.store.models import LoginToken


def token_hash(token: str) -> str:
    """Only the hash is stored: a copy of the database opens no dashboard."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_login_token(staff_name: str, now: datetime, minutes: int = 10) -> tuple[str, LoginToken]:
    """(token for the link, row to store): for a caller that adds the row in its own transaction,
    such as the bot's /masuk handler, so the link is sent only if the row is committed."""
    token = secrets.token_urlsafe(32)
    row = LoginToken(
        token_hash=token_hash(token),
        staff_name=staff_name,
        expires_at=now + timedelta(minutes=minutes),
        created_at=now,
    )
    return token, row
