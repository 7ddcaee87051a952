"""Working days per office: when a KPPN is open, and when a promise made to a stakeholder falls due.

The consultation standard promises a solution "paling lambat 3 hari kerja setelah konsultasi".
A working day is a weekday with service hours in the office's profile that is neither a national
holiday, a cuti bersama (both from the `holidays` package, country ID, categories public and
government) nor a day listed in the `calendar:` section of config.yaml. Everything is reckoned in
the office's own time zone: a KPPN in Majene (WITA) closes an hour before one in Pekalongan (WIB).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from types import MappingProxyType
from typing import Protocol
from zoneinfo import ZoneInfo

import holidays
from holidays.constants import GOVERNMENT, PUBLIC

# The configuration models live apart so that bot.config can embed them without importing this
# module's machinery, and this module needs nothing from bot.config (no import cycle).
from bot.calendar_config import CLOCK_TIME, END_OF_SERVICE_HOURS, CalendarConfig, Closure

__all__ = [
    "CLOCK_TIME",
    "END_OF_SERVICE_HOURS",
    "SEARCH_LIMIT_DAYS",
    "WEEKDAYS",
    "CalendarConfig",
    "CalendarSource",
    "Closure",
    "OfficeHours",
    "ServiceSpans",
    "WorkingCalendar",
    "calendar_for",
    "national_non_working_days",
]

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# How far to look for the next working day before concluding the configuration closes the
# office for good: longer than any run of holidays, cuti bersama and closures can be.
SEARCH_LIMIT_DAYS = 366


@cache
def national_non_working_days(year: int) -> Mapping[dt.date, str]:
    """Public holidays and cuti bersama of `year`, with their Indonesian names.

    Built once per year and shared by every office: the package computes them, no network.
    Dates the package only estimates (lunar holidays of coming years) carry "(perkiraan)".
    """
    days = holidays.country_holidays(
        "ID", years=year, categories=(PUBLIC, GOVERNMENT), language="id"
    )
    return MappingProxyType({day: name for day, name in sorted(days.items()) if day.year == year})


class ServiceSpans(Protocol):
    """Weekday name ("monday") → service span "HH:MM-HH:MM"; any mapping of them will do,
    whether its keys are typed as plain strings or as the literal weekday names."""

    def items(self) -> Iterable[tuple[str, str]]: ...


class OfficeHours(Protocol):
    """What a calendar needs of an office's profile (bot.config.OfficeConfig provides it)."""

    @property
    def timezone(self) -> str: ...

    @property
    def service_hours(self) -> ServiceSpans: ...


class CalendarSource(Protocol):
    """What `calendar_for` needs of the whole configuration (bot.config.Config provides it)."""

    @property
    def office(self) -> str: ...

    @property
    def offices(self) -> Mapping[str, OfficeHours]: ...

    @property
    def calendar(self) -> CalendarConfig: ...


def _require_aware(moment: dt.datetime, what: str = "moment") -> None:
    # A naive time cannot be placed on an office's clock without guessing its zone.
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got {moment.isoformat()}")


def _clock(text: str) -> dt.time:
    hours, minutes = text.split(":")
    return dt.time(int(hours), int(minutes))


def _merge(names: dict[dt.date, str], day: dt.date, name: str) -> None:
    known = names.get(day)
    if known is None:
        names[day] = name
    elif name not in known.split("; "):
        names[day] = f"{known}; {name}"


class WorkingCalendar:
    """One office's working days and service hours, in its own time zone.

    All moments in and out are timezone-aware; results are in the office's local time.
    """

    def __init__(
        self,
        office_id: str,
        zone: ZoneInfo,
        service_hours: Mapping[int, tuple[dt.time, dt.time]],
        config: CalendarConfig | None = None,
    ) -> None:
        if not service_hours:
            raise ValueError(f"office {office_id!r} has no service hours: it is never open")
        for weekday, (start, end) in service_hours.items():
            if not 0 <= weekday <= 6 or start >= end:
                raise ValueError(f"office {office_id!r}: bad service hours for weekday {weekday}")
        self.office_id = office_id
        self.zone = zone
        self.service_hours = dict(service_hours)
        self.config = config or CalendarConfig()
        self._years: dict[int, Mapping[dt.date, str]] = {}

    @classmethod
    def for_office(
        cls, office_id: str, office: OfficeHours, config: CalendarConfig | None = None
    ) -> WorkingCalendar:
        """The calendar of `office` (its key under `offices:` is `office_id`)."""
        hours = {
            WEEKDAYS.index(day): (_clock(span[:5]), _clock(span[6:]))
            for day, span in office.service_hours.items()
        }
        return cls(office_id, ZoneInfo(office.timezone), hours, config)

    # --- days -------------------------------------------------------------------------------

    def non_working_days(self, year: int) -> dict[dt.date, str]:
        """Named closed dates of `year`: holidays, cuti bersama and this office's closures.

        Listed even when they fall on a weekend, so the list reads like the official one;
        plain weekends and other days without service hours are closed too but not listed.
        """
        return dict(self._closed(year))

    def _closed(self, year: int) -> Mapping[dt.date, str]:
        cached = self._years.get(year)
        if cached is None:
            names = dict(national_non_working_days(year))
            for day in (*self.config.cuti_bersama, *self.config.closures):
                if day.date.year == year and day.applies_to(self.office_id):
                    _merge(names, day.date, day.name)
            cached = self._years[year] = MappingProxyType(dict(sorted(names.items())))
        return cached

    def is_working_day(self, day: dt.date) -> bool:
        """A day with service hours that no holiday, cuti bersama or closure takes away."""
        return day.weekday() in self.service_hours and day not in self._closed(day.year)

    def working_days_after(self, day: dt.date) -> Iterator[dt.date]:
        """The working days strictly after `day`, in order, without end."""
        while True:
            day = self._next_working_day(day)
            yield day

    def _next_working_day(self, day: dt.date) -> dt.date:
        for offset in range(1, SEARCH_LIMIT_DAYS + 1):
            candidate = day + dt.timedelta(days=offset)
            if self.is_working_day(candidate):
                return candidate
        raise ValueError(
            f"office {self.office_id!r} has no working day within a year after {day}; "
            "check the calendar closures"
        )

    def service_period(self, day: dt.date) -> tuple[dt.datetime, dt.datetime] | None:
        """Opening and closing time of `day` in local time, or None when the office is closed."""
        if not self.is_working_day(day):
            return None
        start, end = self.service_hours[day.weekday()]
        return self._at(day, start), self._at(day, end)

    def _at(self, day: dt.date, clock: dt.time) -> dt.datetime:
        return dt.datetime.combine(day, clock, tzinfo=self.zone)

    def local(self, moment: dt.datetime) -> dt.datetime:
        """`moment` on this office's clock."""
        _require_aware(moment)
        return moment.astimezone(self.zone)

    # --- moments ----------------------------------------------------------------------------

    def is_working_time(self, moment: dt.datetime) -> bool:
        """Inside service hours of a working day: opening time included, closing time not."""
        local = self.local(moment)
        period = self.service_period(local.date())
        return period is not None and period[0] <= local < period[1]

    def next_working_start(self, moment: dt.datetime) -> dt.datetime:
        """`moment` itself (local) if it is working time, else the next opening time."""
        local = self.local(moment)
        period = self.service_period(local.date())
        if period is not None and local < period[1]:
            return max(local, period[0])
        day = self._next_working_day(local.date())
        return self._at(day, self.service_hours[day.weekday()][0])

    def deadline(self, opened_at: dt.datetime, working_days: int = 3) -> dt.datetime:
        """When "paling lambat N hari kerja setelah konsultasi" runs out, in local time.

        The rule, as an auditor can recount it from a calendar: take the local calendar date on
        which the question arrived; that date never counts, whatever the hour and whether or not
        it is a working day. The working days strictly after it are counted 1, 2, … N, and the
        deadline is on day N at the configured `deadline_time` (by default the end of that day's
        service hours). So a question on Monday at 08:00 or at 23:00 is due Thursday at closing;
        one on Tuesday at 00:30 is due Friday; one on Friday evening, Saturday or Sunday is due
        Wednesday; holidays, cuti bersama and closures are skipped like weekends.
        """
        if isinstance(working_days, bool) or working_days < 1:
            raise ValueError(f"working_days must be at least 1, got {working_days!r}")
        day = self.local(opened_at).date()
        for _ in range(working_days):
            day = self._next_working_day(day)
        if self.config.deadline_time == END_OF_SERVICE_HOURS:
            return self._at(day, self.service_hours[day.weekday()][1])
        return self._at(day, _clock(self.config.deadline_time))

    def add_working_hours(self, moment: dt.datetime, hours: float) -> dt.datetime:
        """The moment `hours` of service time after `moment`, counting only service hours.

        Starts at the next opening when `moment` is outside them; work that fills a day exactly
        ends at that day's closing time, not at the next opening.
        """
        if not math.isfinite(hours) or hours < 0:
            raise ValueError(f"hours must be a finite number ≥ 0, got {hours!r}")
        remaining = dt.timedelta(hours=hours)
        current = self.next_working_start(moment)
        while True:
            period = self.service_period(current.date())
            assert period is not None  # next_working_start only returns service time
            available = _elapsed(current, period[1])
            if remaining <= available:
                return (current.astimezone(dt.UTC) + remaining).astimezone(self.zone)
            remaining -= available
            current = self.next_working_start(period[1])

    def working_time_between(self, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
        """Service time from `start` to `end`; negative when `end` is before `start`."""
        _require_aware(start, "start")
        _require_aware(end, "end")
        if end < start:
            return -self.working_time_between(end, start)
        first, last = self.local(start), self.local(end)
        total = dt.timedelta()
        day = first.date()
        while day <= last.date():
            period = self.service_period(day)
            if period is not None:
                opening, closing = max(period[0], first), min(period[1], last)
                if opening < closing:
                    total += _elapsed(opening, closing)
            day += dt.timedelta(days=1)
        return total


def _elapsed(start: dt.datetime, end: dt.datetime) -> dt.timedelta:
    # Subtracting datetimes that share a tzinfo ignores offset changes; UTC never lies.
    return end.astimezone(dt.UTC) - start.astimezone(dt.UTC)


def calendar_for(config: CalendarSource, office_id: str | None = None) -> WorkingCalendar:
    """The working calendar of `office_id` (default: the office served) from the whole config.

    Raises KeyError for an office that config.yaml does not define.
    """
    office_id = office_id or config.office
    return WorkingCalendar.for_office(office_id, config.offices[office_id], config.calendar)
