"""Secrets and deployment settings: from the environment or a .env file, never from config.yaml."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/csobot.db"


class Settings(BaseSettings):
    """What differs between deployments of the same office configuration."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    telegram_file_base_url: str = "https://api.telegram.org/file/bot"
    telegram_webhook_url: str = ""  # public https address Telegram posts updates to (webhook mode)
    telegram_webhook_secret: SecretStr | None = None  # checked on every webhook request
    # PTB's AIORateLimiter keeps the bot under Telegram's 30 messages/s (20/min per group);
    # off only for benchmarks against a local fake.
    telegram_rate_limit: bool = True
    csobot_webhook_listen: str = "0.0.0.0"
    csobot_webhook_port: int = 8443
    database_url: str = DEFAULT_DATABASE_URL
    # Connections each process keeps (default 3 on SQLite, 20 on PostgreSQL): on PostgreSQL,
    # processes × (this + 10) must stay under the server's max_connections.
    database_pool_size: int | None = Field(default=None, ge=1, le=200)
    csobot_config: Path = Field(default=Path("config.yaml"))
    csobot_knowledge_dir: Path = Field(default=Path("knowledge"))
    csobot_data_dir: Path = Field(default=Path("data"))
    csobot_log_level: str = "INFO"
    csobot_event_loop: str = "auto"  # `run`'s loop: uvloop when installed (bot/event_loop.py)
    csobot_web_base_url: str = ""  # the dashboard's public address, for /masuk links
    # WhatsApp Business Platform (Cloud API): served when the token and the number id are set.
    whatsapp_access_token: SecretStr | None = None  # a system user's permanent token
    whatsapp_app_secret: SecretStr | None = None  # signs every webhook POST (X-Hub-Signature-256)
    whatsapp_verify_token: SecretStr | None = None  # our answer to Meta's webhook verification
    whatsapp_phone_number_id: str = ""  # the business number's id (not the number itself)
    whatsapp_api_base_url: str = "https://graph.facebook.com"
    whatsapp_api_version: str = "v24.0"
    # The Cloud API's throughput per business number: 80 messages/s unless Meta raised it.
    whatsapp_messages_per_second: float = Field(default=80.0, gt=0, le=1000)

    @property
    def whatsapp_enabled(self) -> bool:
        return self.whatsapp_access_token is not None and bool(self.whatsapp_phone_number_id)
