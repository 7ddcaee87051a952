"""The dashboard's own settings, from the environment or `.env` like the rest of csobot.

They live here rather than in bot/settings.py because only `csobot serve` needs them: the bot
itself must start without a web secret.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebSettings(BaseSettings):
    """CSOBOT_WEB_SECRET signs session cookies (required to serve); CSOBOT_WEB_PASSWORD_HASH
    enables the password login; CSOBOT_WEB_SESSION_MINUTES is how long a login lasts."""

    model_config = SettingsConfigDict(
        env_prefix="CSOBOT_WEB_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    secret: SecretStr | None = None
    password_hash: SecretStr | None = None
    session_minutes: int = Field(default=60, ge=1, le=24 * 60)

    def secret_value(self) -> str | None:
        return _present(self.secret)

    def password_hash_value(self) -> str | None:
        return _present(self.password_hash)


def _present(value: SecretStr | None) -> str | None:
    """An empty variable (`CSOBOT_WEB_SECRET=`) counts as unset."""
    text = value.get_secret_value().strip() if value is not None else ""
    return text or None
