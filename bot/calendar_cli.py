"""`csobot calendar …`: let staff check a deadline or an office's closed days from the shell.

Same exit codes as the rest of the command line: 0 success, 2 unusable input or configuration.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import TYPE_CHECKING

from bot.config import Config, load_config
from bot.settings import Settings

if TYPE_CHECKING:  # the calendar (holidays) loads only for the calendar commands
    from bot.calendar import WorkingCalendar

EXIT_INPUT = 2


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `calendar deadline` and `calendar holidays` to the `csobot` command line."""
    calendar = commands.add_parser("calendar", help="working days per office: deadlines, holidays")
    calendar_commands = calendar.add_subparsers(dest="calendar_command", required=True)

    deadline = calendar_commands.add_parser(
        "deadline", help="when 'at the latest N working days after' a consultation runs out"
    )
    deadline.add_argument("--office", required=True, help="office id (a key under `offices:`)")
    deadline.add_argument(
        "--from",
        dest="opened_at",
        required=True,
        metavar="ISO-TIME",
        help="when the question arrived, e.g. 2026-11-20T15:50+08:00; without an offset: "
        "the office's local time",
    )
    deadline.add_argument(
        "--days",
        type=_positive_int,
        help="working days (default: service.resolution_working_days in config.yaml)",
    )
    deadline.set_defaults(handler=_deadline)

    listing = calendar_commands.add_parser(
        "holidays", help="an office's holidays, cuti bersama and closures in a year"
    )
    listing.add_argument("--office", required=True, help="office id (a key under `offices:`)")
    listing.add_argument("--year", required=True, type=_year, metavar="YYYY")
    listing.set_defaults(handler=_holidays)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    return value


def _year(text: str) -> int:
    if len(text) != 4 or not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a year YYYY, got {text!r}")
    return int(text)


def _calendar(config: Config, office_id: str) -> WorkingCalendar | None:
    """The office's calendar, or None after telling which offices exist."""
    if office_id not in config.offices:
        print(
            f"csobot: unknown office {office_id!r}; offices: {', '.join(sorted(config.offices))}",
            file=sys.stderr,
        )
        return None
    from bot.calendar import calendar_for

    return calendar_for(config, office_id)


async def _deadline(settings: Settings, args: argparse.Namespace) -> int:
    """Print the deadline as ISO-8601 local time with its offset."""
    config = load_config(settings.csobot_config)
    calendar = _calendar(config, args.office)
    if calendar is None:
        return EXIT_INPUT
    try:
        opened_at = dt.datetime.fromisoformat(args.opened_at)
    except ValueError:
        print(
            f"csobot: --from {args.opened_at!r} is not an ISO-8601 time "
            "(e.g. 2026-11-20T15:50+08:00, or 2026-11-20T15:50 for the office's local time)",
            file=sys.stderr,
        )
        return EXIT_INPUT
    if opened_at.tzinfo is None:
        opened_at = opened_at.replace(tzinfo=calendar.zone)
    days = args.days if args.days is not None else config.service.resolution_working_days
    print(calendar.deadline(opened_at, days).isoformat(timespec="seconds"))
    return 0


async def _holidays(settings: Settings, args: argparse.Namespace) -> int:
    """Print `YYYY-MM-DD<TAB>name` for each named closed date of the year."""
    config = load_config(settings.csobot_config)
    calendar = _calendar(config, args.office)
    if calendar is None:
        return EXIT_INPUT
    for day, name in sorted(calendar.non_working_days(args.year).items()):
        print(f"{day.isoformat()}\t{name}")
    return 0
