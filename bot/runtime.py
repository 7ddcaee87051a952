"""Assembles csobot from settings: config, knowledge base, database, engine. Used by every entry
point (terminal, Telegram, tests) so they all run exactly the same SOP."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import Clock, SystemClock
from bot.config import Config, load_config
from bot.engine import Engine
from bot.intents import DEFAULT_INTENTS, INTENTS_FILE, IntentReader, load_intents
from bot.knowledge import Matcher
from bot.knowledge.cache import load_matcher
from bot.knowledge_holder import KnowledgeHolder
from bot.settings import Settings
from bot.store import db
from handlers.router import route

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    config: Config
    knowledge: KnowledgeHolder
    db_engine: AsyncEngine
    sessions: db.SessionFactory
    engine: Engine
    clock: Clock

    async def close(self) -> None:
        await self.db_engine.dispose()


async def build_runtime(
    settings: Settings,
    *,
    office: str | None = None,
    clock: Clock | None = None,
    desk_channel: str | None = None,
    build_apart: bool = False,
) -> Runtime:
    """Raises ConfigError, KnowledgeError or DatabaseError with a message for the operator.

    `desk_channel` puts the desk on another channel for this process (`csobot chat` shows it
    in the terminal); a staff group belongs to its own channel, so it is left out then.
    `build_apart` builds a changed knowledge base in a child process (`csobot run`).
    """
    config = load_config(settings.csobot_config, office)
    if desk_channel is not None and desk_channel != config.desk.channel:
        desk = config.desk.model_copy(update={"channel": desk_channel, "group_id": None})
        config = config.model_copy(update={"desk": desk})

    def load() -> Matcher:
        cache = settings.csobot_data_dir / "cache"
        return load_matcher(config, settings.csobot_knowledge_dir, cache, apart=build_apart)

    def intents(matcher: Matcher) -> IntentReader:
        own = settings.csobot_knowledge_dir / INTENTS_FILE
        path = own if own.is_file() else DEFAULT_INTENTS
        return load_intents(path, matcher.knowledge.abbreviations)

    holder = KnowledgeHolder(load(), load, load_intents=intents)
    db_engine = db.create_engine(settings.database_url, settings.database_pool_size)
    try:
        await db.upgrade(db_engine)
    except Exception:
        await db_engine.dispose()
        raise
    sessions = db.session_factory(db_engine)
    clock = clock or SystemClock()
    engine = Engine(
        config,
        holder,
        sessions,
        clock,
        route,
        settings.csobot_data_dir,
        settings.csobot_web_base_url,
    )
    log.info(
        "csobot ready: office %s, %d knowledge entries, database %s",
        config.office,
        len(holder.matcher.knowledge.entries),
        db_engine.url.render_as_string(hide_password=True),
    )
    return Runtime(settings, config, holder, db_engine, sessions, engine, clock)
