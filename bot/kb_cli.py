"""`csobot kb review` and `csobot kb suggest`: what a Kepala Seksi must look at in the knowledge
base, and what the CSO desk has taught it, printed for people to act on (nothing changes here).

Same exit codes as the rest of the command line: 0 success, 2 unusable input or configuration.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.config import Config, load_config
from bot.knowledge import Matcher
from bot.settings import Settings

EXIT_INPUT = 2


def cached_matcher_for(settings: Settings, config: Config) -> Matcher:
    """From the same on-disk cache the bot uses: unchanged files need no rebuild (nor
    scikit-learn), so the kb commands answer at once."""
    from bot.knowledge.cache import load_matcher

    return load_matcher(config, settings.csobot_knowledge_dir, settings.csobot_data_dir / "cache")


def register(kb_commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    review = kb_commands.add_parser(
        "review", help="entries to review per section: unverified, stale, sources missing"
    )
    review.add_argument("--kb", help="knowledge directory (default: ./knowledge)")
    review.add_argument(
        "--max-age-days",
        type=int,
        help="reviewed longer ago than this is stale (default: knowledge.review_after_days)",
    )
    review.set_defaults(handler=_review)
    suggest = kb_commands.add_parser(
        "suggest",
        help="candidate example questions and new entries from tickets resolved at the desk",
    )
    suggest.add_argument("--kb", help="knowledge directory (default: ./knowledge)")
    suggest.add_argument(
        "--days", type=int, default=90, help="tickets resolved in the last N days (default 90)"
    )
    suggest.add_argument(
        "--min-cluster",
        type=int,
        default=2,
        help="an unanswered question must come back this many times to become a new entry",
    )
    suggest.add_argument("--output", help="write the YAML to this file instead of stdout")
    suggest.set_defaults(handler=_suggest)


async def _review(settings: Settings, args: argparse.Namespace) -> int:
    from bot.knowledge import load_knowledge
    from bot.knowledge.review import needs_review, render_review

    config = load_config(settings.csobot_config)
    knowledge = load_knowledge(settings.csobot_knowledge_dir, sections=config.sections)
    if args.max_age_days is not None and args.max_age_days < 1:
        print("csobot: --max-age-days must be 1 or more", file=sys.stderr)
        return EXIT_INPUT
    today = datetime.now(ZoneInfo(config.current_office.timezone)).date()
    print(
        render_review(needs_review(knowledge, config, today, args.max_age_days), config, knowledge)
    )
    return 0


async def _suggest(settings: Settings, args: argparse.Namespace) -> int:
    from bot.knowledge.suggest import desk_resolutions, render_yaml, suggest
    from bot.store import db

    if args.days < 1 or args.min_cluster < 1:
        print("csobot: --days and --min-cluster must be 1 or more", file=sys.stderr)
        return EXIT_INPUT
    config = load_config(settings.csobot_config)
    matcher = cached_matcher_for(settings, config)
    engine = db.create_engine(settings.database_url)
    try:
        await db.upgrade(engine)
        async with db.session_factory(engine)() as session:
            since = datetime.now(UTC) - timedelta(days=args.days)
            resolutions = await desk_resolutions(session, since)
    finally:
        await engine.dispose()
    today = datetime.now(ZoneInfo(config.current_office.timezone)).date()
    text = render_yaml(suggest(matcher, resolutions, args.min_cluster), matcher.knowledge, today)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            print(f"csobot: cannot write {args.output}: {exc}", file=sys.stderr)
            return EXIT_INPUT
    else:
        print(text, end="")
    return 0
