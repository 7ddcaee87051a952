"""The read-only supervision dashboard (`csobot serve`)."""

from bot.web.app import create_app, serve
from bot.web.auth import create_login_link, hash_password

__all__ = ["create_app", "create_login_link", "hash_password", "serve"]
