"""The `calendar:` section of config.yaml: closures and cuti bersama the `holidays` package cannot
know, and when on its last working day a deadline falls.

Pure configuration models, importing neither bot.config (which embeds them) nor bot.calendar
(which reckons with them), so that neither of those needs the other at import time.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

END_OF_SERVICE_HOURS = "end_of_service_hours"
CLOCK_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class Closure(BaseModel):
    """A named day on which offices are closed: a cuti bersama or an ad-hoc closure."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    date: dt.date
    name: str = Field(min_length=1)
    # None: every office; otherwise only the offices (keys of `offices:`) listed.
    offices: list[str] | None = Field(default=None, min_length=1)

    def applies_to(self, office_id: str) -> bool:
        return self.offices is None or office_id in self.offices


class CalendarConfig(BaseModel):
    """The `calendar:` section of config.yaml: what the `holidays` package cannot know."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Office-specific or sudden closures (a flood, a power cut, a regional holiday).
    closures: list[Closure] = Field(default_factory=list)
    # The SKB 3 Menteri list for years the package does not cover yet.
    cuti_bersama: list[Closure] = Field(default_factory=list)
    # When on the last working day a deadline falls: the end of that day's service hours, or a
    # fixed local time "HH:MM".
    deadline_time: Literal["end_of_service_hours"] | str = END_OF_SERVICE_HOURS

    @field_validator("deadline_time")
    @classmethod
    def _deadline_time(cls, value: str) -> str:
        if value != END_OF_SERVICE_HOURS and not CLOCK_TIME.match(value):
            raise ValueError(f"expected {END_OF_SERVICE_HOURS!r} or a local time 'HH:MM'")
        return value

    def unknown_offices(self, office_ids: Iterable[str]) -> set[str]:
        """Offices named by closures or cuti bersama that `office_ids` does not know."""
        named = {o for day in (*self.closures, *self.cuti_bersama) for o in day.offices or ()}
        return named - set(office_ids)
