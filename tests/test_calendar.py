"""The working-day calendar: deadlines an auditor can recount by hand from a printed calendar.

Every expected value below is worked out in the comment next to it from the official 2026/2027
calendar (SKB 3 Menteri on national holidays and cuti bersama) and the shipped offices'
service hours: Monday–Friday 08:00–16:00 local time. Offices: pekalongan (Asia/Jakarta, WIB),
pontianak (Asia/Pontianak, also WIB), majene (Asia/Makassar, WITA = UTC+8).
"""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from bot.calendar import CalendarConfig, Closure, WorkingCalendar, calendar_for
from bot.calendar_cli import register
from bot.config import Config, OfficeConfig, load_config
from bot.settings import Settings

CONFIG_PATH = Path(__file__).resolve().parent.parent / "config.yaml"
WIB = ZoneInfo("Asia/Jakarta")
WIB_PONTIANAK = ZoneInfo("Asia/Pontianak")
WITA = ZoneInfo("Asia/Makassar")


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(CONFIG_PATH)


def office_calendar(config: Config, office_id: str, **calendar: object) -> WorkingCalendar:
    return WorkingCalendar.for_office(
        office_id, config.offices[office_id], CalendarConfig.model_validate(calendar)
    )


@pytest.fixture
def pekalongan(config: Config) -> WorkingCalendar:
    return office_calendar(config, "pekalongan")


@pytest.fixture
def majene(config: Config) -> WorkingCalendar:
    return office_calendar(config, "majene")


# --- deadlines ------------------------------------------------------------------------------


def test_friday_afternoon_wita_before_the_eid_and_nyepi_break(majene: WorkingCalendar) -> None:
    # Fri 13 Mar 2026 15:50 WITA (07:50 UTC). Friday itself does not count.
    # Mon 16 = day 1, Tue 17 = day 2; Wed 18 cuti bersama Nyepi, Thu 19 Nyepi,
    # Fri 20 cuti bersama Idul Fitri, Sat 21 / Sun 22 Idul Fitri, Mon 23 / Tue 24 cuti bersama;
    # Wed 25 = day 3 → closing time 16:00 WITA.
    opened = datetime(2026, 3, 13, 7, 50, tzinfo=UTC)
    assert majene.deadline(opened).isoformat() == "2026-03-25T16:00:00+08:00"


def test_question_on_a_cuti_bersama_friday(majene: WorkingCalendar) -> None:
    # Fri 20 Mar 2026 (cuti bersama) 15:50 WITA: the office is closed and the date does not count.
    # Sat 21 – Tue 24 closed (weekend, Idul Fitri, cuti bersama); Wed 25 = 1, Thu 26 = 2, Fri 27 = 3.
    opened = datetime(2026, 3, 20, 15, 50, tzinfo=WITA)
    assert majene.deadline(opened).isoformat() == "2026-03-27T16:00:00+08:00"


def test_friday_afternoon_before_ascension_long_weekend(majene: WorkingCalendar) -> None:
    # Wed 13 May 2026 15:50 WITA, the eve of Ascension: Thu 14 Kenaikan Yesus Kristus,
    # Fri 15 cuti bersama, weekend; Mon 18 = 1, Tue 19 = 2, Wed 20 = 3.
    opened = datetime(2026, 5, 13, 15, 50, tzinfo=WITA)
    assert majene.deadline(opened).isoformat() == "2026-05-20T16:00:00+08:00"


def test_question_at_opening_time_does_not_count_its_own_day(pekalongan: WorkingCalendar) -> None:
    # Mon 23 Nov 2026 08:00 WIB: Tue 24 = 1, Wed 25 = 2, Thu 26 = 3 (no holidays that week).
    opened = datetime(2026, 11, 23, 8, 0, tzinfo=WIB)
    assert pekalongan.deadline(opened).isoformat() == "2026-11-26T16:00:00+07:00"


def test_question_late_at_night_counts_from_its_local_date(pekalongan: WorkingCalendar) -> None:
    # Mon 23 Nov 2026 22:00 WIB: still Monday locally → Thu 26, like the 08:00 question.
    assert (
        pekalongan.deadline(datetime(2026, 11, 23, 22, 0, tzinfo=WIB)).isoformat()
        == "2026-11-26T16:00:00+07:00"
    )
    # Tue 24 Nov 2026 00:30 WIB is already Tuesday → Wed 25 = 1, Thu 26 = 2, Fri 27 = 3.
    assert (
        pekalongan.deadline(datetime(2026, 11, 24, 0, 30, tzinfo=WIB)).isoformat()
        == "2026-11-27T16:00:00+07:00"
    )


def test_night_question_in_utc_uses_the_office_date(majene: WorkingCalendar) -> None:
    # Thu 19 Nov 2026 17:00 UTC is Fri 20 Nov 01:00 WITA: the local date is Friday, so
    # Mon 23 = 1, Tue 24 = 2, Wed 25 = 3 (counting from Thursday would give Tue 24).
    opened = datetime(2026, 11, 19, 17, 0, tzinfo=UTC)
    assert majene.deadline(opened).isoformat() == "2026-11-25T16:00:00+08:00"


def test_saturday_question(pekalongan: WorkingCalendar) -> None:
    # Sat 21 Nov 2026 10:00 WIB: Sunday is closed; Mon 23 = 1, Tue 24 = 2, Wed 25 = 3.
    opened = datetime(2026, 11, 21, 10, 0, tzinfo=WIB)
    assert pekalongan.deadline(opened).isoformat() == "2026-11-25T16:00:00+07:00"


def test_christmas(pekalongan: WorkingCalendar) -> None:
    # Wed 23 Dec 2026 15:50 WIB: Thu 24 cuti bersama Natal, Fri 25 Natal, weekend;
    # Mon 28 = 1, Tue 29 = 2, Wed 30 = 3.
    opened = datetime(2026, 12, 23, 15, 50, tzinfo=WIB)
    assert pekalongan.deadline(opened).isoformat() == "2026-12-30T16:00:00+07:00"


def test_year_boundary(pekalongan: WorkingCalendar) -> None:
    # Wed 30 Dec 2026: Thu 31 = 1; Fri 1 Jan 2027 Tahun Baru, weekend; Mon 4 = 2;
    # Tue 5 Isra Mikraj; Wed 6 = 3.
    assert (
        pekalongan.deadline(datetime(2026, 12, 30, 10, 0, tzinfo=WIB)).isoformat()
        == "2027-01-06T16:00:00+07:00"
    )
    # Thu 31 Dec 2026 23:59 WIB: Fri 1 Jan holiday, weekend; Mon 4 = 1, Tue 5 holiday,
    # Wed 6 = 2, Thu 7 = 3.
    assert (
        pekalongan.deadline(datetime(2026, 12, 31, 23, 59, tzinfo=WIB)).isoformat()
        == "2027-01-07T16:00:00+07:00"
    )


def test_other_numbers_of_days_and_a_fixed_deadline_time(config: Config) -> None:
    calendar = office_calendar(config, "pekalongan", deadline_time="12:00")
    # Fri 20 Nov 2026: Mon 23 = 1 → at the configured 12:00 instead of the 16:00 closing.
    opened = datetime(2026, 11, 20, 9, 0, tzinfo=WIB)
    assert calendar.deadline(opened, working_days=1).isoformat() == "2026-11-23T12:00:00+07:00"
    # Mon 23 … Fri 27 = 1 … 5, Mon 30 = 6, Tue 1 Dec = 7.
    assert calendar.deadline(opened, working_days=7).isoformat() == "2026-12-01T12:00:00+07:00"
    with pytest.raises(ValueError, match="at least 1"):
        calendar.deadline(opened, working_days=0)


def test_deadline_uses_the_closing_time_of_that_day(config: Config) -> None:
    data = config.offices["pekalongan"].model_dump()
    data["service_hours"] = {**data["service_hours"], "friday": "08:00-11:30"}
    calendar = WorkingCalendar.for_office("pekalongan", OfficeConfig.model_validate(data))
    # Tue 24 Nov 2026: Wed 25 = 1, Thu 26 = 2, Fri 27 = 3 → Friday closes at 11:30.
    opened = datetime(2026, 11, 24, 10, 0, tzinfo=WIB)
    assert calendar.deadline(opened).isoformat() == "2026-11-27T11:30:00+07:00"


# --- what config adds -----------------------------------------------------------------------


def test_cuti_bersama_from_config_for_a_year_the_package_lacks(config: Config) -> None:
    # A made-up cuti bersama on Tue 26 Dec 2028 (the package has no 2028 cuti bersama).
    calendar = office_calendar(
        config,
        "pekalongan",
        cuti_bersama=[{"date": "2028-12-26", "name": "Cuti Bersama Hari Raya Natal"}],
    )
    # Fri 22 Dec 2028: weekend, Mon 25 Natal, Tue 26 cuti bersama (config);
    # Wed 27 = 1, Thu 28 = 2, Fri 29 = 3.
    opened = datetime(2028, 12, 22, 10, 0, tzinfo=WIB)
    assert calendar.deadline(opened).isoformat() == "2028-12-29T16:00:00+07:00"
    assert calendar.non_working_days(2028)[date(2028, 12, 26)] == "Cuti Bersama Hari Raya Natal"
    assert not calendar.is_working_day(date(2028, 12, 26))


def test_cuti_bersama_already_in_the_package_is_not_listed_twice(config: Config) -> None:
    calendar = office_calendar(
        config,
        "pekalongan",
        cuti_bersama=[{"date": "2026-12-24", "name": "Cuti Bersama Hari Raya Natal"}],
    )
    assert calendar.non_working_days(2026)[date(2026, 12, 24)] == "Cuti Bersama Hari Raya Natal"


def test_closures_apply_per_office(config: Config) -> None:
    closures = {
        "closures": [
            {"date": "2026-11-24", "name": "Gedung kantor direnovasi", "offices": ["majene"]},
            {"date": "2026-11-26", "name": "Gangguan jaringan nasional"},
        ]
    }
    majene = office_calendar(config, "majene", **closures)
    pekalongan = office_calendar(config, "pekalongan", **closures)
    # Mon 23 Nov 2026, 10:00 local in both offices.
    # Majene: Tue 24 closed (its closure), Wed 25 = 1, Thu 26 closed (everyone), Fri 27 = 2,
    # Mon 30 = 3.
    assert (
        majene.deadline(datetime(2026, 11, 23, 10, 0, tzinfo=WITA)).isoformat()
        == "2026-11-30T16:00:00+08:00"
    )
    # Pekalongan: Tue 24 = 1, Wed 25 = 2, Thu 26 closed, Fri 27 = 3.
    assert (
        pekalongan.deadline(datetime(2026, 11, 23, 10, 0, tzinfo=WIB)).isoformat()
        == "2026-11-27T16:00:00+07:00"
    )
    assert majene.non_working_days(2026)[date(2026, 11, 24)] == "Gedung kantor direnovasi"
    assert date(2026, 11, 24) not in pekalongan.non_working_days(2026)
    assert pekalongan.non_working_days(2026)[date(2026, 11, 26)] == "Gangguan jaringan nasional"


def test_calendar_config_validation() -> None:
    assert CalendarConfig().deadline_time == "end_of_service_hours"
    invalid: list[dict[str, object]] = [
        {"deadline_time": "25:00"},
        {"deadline_time": "4pm"},
        {"holidays": []},
    ]
    for bad in invalid:
        with pytest.raises(ValidationError):
            CalendarConfig.model_validate(bad)
    with pytest.raises(ValidationError):
        Closure.model_validate({"date": "2026-11-24", "name": ""})
    with pytest.raises(ValidationError):
        Closure.model_validate({"date": "2026-11-24", "name": "x", "offices": []})
    section = CalendarConfig.model_validate(
        {"closures": [{"date": "2026-11-24", "name": "x", "offices": ["majene", "mamuju"]}]}
    )
    assert section.unknown_offices(["majene", "pekalongan"]) == {"mamuju"}


def test_calendar_for_without_a_calendar_section(config: Config) -> None:
    calendar = calendar_for(config)
    assert (calendar.office_id, calendar.zone) == ("pekalongan", WIB)
    assert calendar_for(config, "majene").zone == WITA


# --- days and the official list -------------------------------------------------------------


def test_non_working_days_2026_in_indonesian(pekalongan: WorkingCalendar) -> None:
    days = pekalongan.non_working_days(2026)
    # SKB 3 Menteri 2026: cuti bersama 16 Feb, 18 Mar, 20/23/24 Mar, 15 May, 28 May, 24 Dec.
    cuti = sorted(day for day, name in days.items() if name.startswith("Cuti Bersama"))
    assert cuti == [
        date(2026, 2, 16),
        date(2026, 3, 18),
        date(2026, 3, 20),
        date(2026, 3, 23),
        date(2026, 3, 24),
        date(2026, 5, 15),
        date(2026, 5, 28),
        date(2026, 12, 24),
    ]
    assert days[date(2026, 8, 17)] == "Hari Kemerdekaan Republik Indonesia"
    # A plain Saturday is closed but not listed.
    assert date(2026, 11, 21) not in days
    assert not pekalongan.is_working_day(date(2026, 11, 21))
    assert pekalongan.is_working_day(date(2026, 11, 23))
    assert not pekalongan.is_working_day(date(2026, 12, 24))


# --- moments --------------------------------------------------------------------------------


def test_is_working_time_edges(pekalongan: WorkingCalendar) -> None:
    monday = datetime(2026, 11, 23, tzinfo=WIB)
    assert not pekalongan.is_working_time(monday.replace(hour=7, minute=59, second=59))
    assert pekalongan.is_working_time(monday.replace(hour=8))  # opening included
    assert pekalongan.is_working_time(monday.replace(hour=15, minute=59, second=59))
    assert not pekalongan.is_working_time(monday.replace(hour=16))  # closing excluded
    assert not pekalongan.is_working_time(datetime(2026, 11, 21, 10, 0, tzinfo=WIB))  # Saturday
    assert not pekalongan.is_working_time(datetime(2026, 12, 24, 10, 0, tzinfo=WIB))  # cuti


def test_pontianak_and_jakarta_share_wib_while_majene_is_an_hour_ahead(config: Config) -> None:
    pontianak = office_calendar(config, "pontianak")
    pekalongan = office_calendar(config, "pekalongan")
    majene = office_calendar(config, "majene")
    # 01:00 UTC = 08:00 WIB (opening in Pekalongan and Pontianak) = 09:00 WITA.
    # 08:30 UTC = 15:30 WIB (still open) = 16:30 WITA (Majene closed).
    for moment, expected in (
        (datetime(2026, 11, 23, 1, 0, tzinfo=UTC), (True, True, True)),
        (datetime(2026, 11, 23, 8, 30, tzinfo=UTC), (True, True, False)),
        (datetime(2026, 11, 23, 0, 30, tzinfo=UTC), (False, False, True)),
    ):
        got = tuple(c.is_working_time(moment) for c in (pekalongan, pontianak, majene))
        assert got == expected, moment
    # Mon 23 Nov 2026 10:00 WIB: Tue 24, Wed 25, Thu 26 → 16:00 WIB in both WIB offices.
    opened = datetime(2026, 11, 23, 10, 0, tzinfo=WIB)
    assert pontianak.deadline(opened).isoformat() == "2026-11-26T16:00:00+07:00"
    assert pontianak.deadline(opened) == pekalongan.deadline(opened)
    assert pontianak.deadline(opened).tzinfo == WIB_PONTIANAK
    # The same question in Majene (11:00 WITA, also Monday) is due Thu 26 16:00 WITA,
    # which is 15:00 WIB: one hour earlier.
    assert pekalongan.deadline(opened) - majene.deadline(opened) == timedelta(hours=1)


def test_next_working_start(pekalongan: WorkingCalendar) -> None:
    inside = datetime(2026, 11, 23, 3, 15, tzinfo=UTC)  # Mon 10:15 WIB
    assert pekalongan.next_working_start(inside).isoformat() == "2026-11-23T10:15:00+07:00"
    before = datetime(2026, 11, 23, 6, 0, tzinfo=WIB)  # Mon before opening → Mon 08:00
    assert pekalongan.next_working_start(before).isoformat() == "2026-11-23T08:00:00+07:00"
    closing = datetime(2026, 11, 20, 16, 0, tzinfo=WIB)  # Fri at closing → Mon 08:00
    assert pekalongan.next_working_start(closing).isoformat() == "2026-11-23T08:00:00+07:00"
    # Wed 18 Mar 2026 (cuti Nyepi): closed Wed 18 through Tue 24 → Wed 25 08:00.
    nyepi = datetime(2026, 3, 18, 9, 0, tzinfo=WIB)
    assert pekalongan.next_working_start(nyepi).isoformat() == "2026-03-25T08:00:00+07:00"


def test_working_time_between_across_a_weekend(pekalongan: WorkingCalendar) -> None:
    # Fri 20 Nov 2026 14:00 → 16:00 = 2 h; Sat/Sun none; Mon 23 08:00 → 10:00 = 2 h.
    start = datetime(2026, 11, 20, 14, 0, tzinfo=WIB)
    end = datetime(2026, 11, 23, 10, 0, tzinfo=WIB)
    assert pekalongan.working_time_between(start, end) == timedelta(hours=4)
    assert pekalongan.working_time_between(end, start) == -timedelta(hours=4)
    # Across the Christmas break: Wed 23 Dec 15:00 → 16:00 = 1 h; Thu 24, Fri 25, weekend
    # closed; Mon 28 08:00 → 08:30 = 30 min. Given in UTC: 08:00 UTC = 15:00 WIB.
    assert pekalongan.working_time_between(
        datetime(2026, 12, 23, 8, 0, tzinfo=UTC), datetime(2026, 12, 28, 8, 30, tzinfo=WIB)
    ) == timedelta(hours=1, minutes=30)
    # Saturday to Sunday: nothing.
    assert pekalongan.working_time_between(
        datetime(2026, 11, 21, 9, 0, tzinfo=WIB), datetime(2026, 11, 22, 15, 0, tzinfo=WIB)
    ) == timedelta(0)


def test_add_working_hours_crossing_days(pekalongan: WorkingCalendar) -> None:
    friday = datetime(2026, 11, 20, 14, 0, tzinfo=WIB)
    # Fri 14:00 + 3 h: 2 h until Friday's 16:00 closing, 1 h from Monday 08:00 → Mon 09:00.
    assert pekalongan.add_working_hours(friday, 3).isoformat() == "2026-11-23T09:00:00+07:00"
    # Exactly filling Friday ends at its closing, not at Monday's opening.
    assert pekalongan.add_working_hours(friday, 2).isoformat() == "2026-11-20T16:00:00+07:00"
    # Saturday 10:00 + 1.5 h: starts Monday 08:00 → 09:30.
    saturday = datetime(2026, 11, 21, 10, 0, tzinfo=WIB)
    assert pekalongan.add_working_hours(saturday, 1.5).isoformat() == "2026-11-23T09:30:00+07:00"
    # Wed 23 Dec 2026 15:00 + 2 h: 1 h Wednesday; Thu 24 cuti, Fri 25 Natal, weekend;
    # 1 h from Mon 28 08:00 → 09:00.
    christmas = datetime(2026, 12, 23, 15, 0, tzinfo=WIB)
    assert pekalongan.add_working_hours(christmas, 2).isoformat() == "2026-12-28T09:00:00+07:00"
    # 20 working hours from Mon 23 Nov 08:00: 8 h Mon, 8 h Tue, 4 h Wed → Wed 25 12:00.
    monday = datetime(2026, 11, 23, 8, 0, tzinfo=WIB)
    assert pekalongan.add_working_hours(monday, 20).isoformat() == "2026-11-25T12:00:00+07:00"
    with pytest.raises(ValueError):
        pekalongan.add_working_hours(monday, -1)


def test_naive_datetimes_are_rejected(pekalongan: WorkingCalendar) -> None:
    naive = datetime(2026, 11, 23, 10, 0)
    aware = naive.replace(tzinfo=WIB)
    for call in (
        lambda: pekalongan.deadline(naive),
        lambda: pekalongan.is_working_time(naive),
        lambda: pekalongan.next_working_start(naive),
        lambda: pekalongan.add_working_hours(naive, 1),
        lambda: pekalongan.working_time_between(naive, aware),
        lambda: pekalongan.working_time_between(aware, naive),
    ):
        with pytest.raises(ValueError, match="timezone-aware"):
            call()


# --- command line ---------------------------------------------------------------------------

SETTINGS = Settings(_env_file=None, csobot_config=CONFIG_PATH)  # type: ignore[call-arg]


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="csobot")
    register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["calendar", *argv])


async def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    args = parse(*argv)
    code = await args.handler(SETTINGS, args)
    out, err = capsys.readouterr()
    return code, out, err


async def test_cli_deadline_with_offset(capsys: pytest.CaptureFixture[str]) -> None:
    # Fri 13 Mar 2026 15:50 WITA → Wed 25 Mar 16:00 WITA (see the first test above).
    result = await run(
        capsys, "deadline", "--office", "majene", "--from", "2026-03-13T15:50+08:00"
    )
    assert result == (0, "2026-03-25T16:00:00+08:00\n", "")


async def test_cli_deadline_without_offset_is_office_time(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Mon 23 Nov 2026 22:00 in Pekalongan (WIB) → Tue 24, Wed 25, Thu 26 → Thu 16:00 WIB.
    result = await run(capsys, "deadline", "--office", "pekalongan", "--from", "2026-11-23T22:00")
    assert result == (0, "2026-11-26T16:00:00+07:00\n", "")


async def test_cli_deadline_converts_to_office_time(capsys: pytest.CaptureFixture[str]) -> None:
    # Mon 23 Nov 2026 16:30 UTC = Tue 24 Nov 00:30 WITA in Majene → Wed 25, Thu 26, Fri 27.
    result = await run(capsys, "deadline", "--office", "majene", "--from", "2026-11-23T16:30:00Z")
    assert result == (0, "2026-11-27T16:00:00+08:00\n", "")


async def test_cli_deadline_days(capsys: pytest.CaptureFixture[str]) -> None:
    # Wed 30 Dec 2026, 1 working day: Thu 31 Dec = 1.
    result = await run(
        capsys, "deadline", "--office", "pontianak", "--from", "2026-12-30T09:00", "--days", "1"
    )
    assert result == (0, "2026-12-31T16:00:00+07:00\n", "")
    # 2 working days: Thu 31 = 1, (Fri 1 Jan Tahun Baru, weekend) Mon 4 Jan = 2.
    result = await run(
        capsys, "deadline", "--office", "pontianak", "--from", "2026-12-30T09:00", "--days", "2"
    )
    assert result == (0, "2027-01-04T16:00:00+07:00\n", "")


async def test_cli_deadline_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = await run(capsys, "deadline", "--office", "majene", "--from", "besok pagi")
    assert (code, out) == (2, "")
    assert "'besok pagi' is not an ISO-8601 time" in err

    code, out, err = await run(capsys, "deadline", "--office", "mamuju", "--from", "2026-11-23")
    assert (code, out) == (2, "")
    assert "unknown office 'mamuju'; offices: majene, pekalongan, pontianak" in err

    with pytest.raises(SystemExit) as exit_info:
        parse("deadline", "--office", "majene", "--from", "2026-11-23T10:00", "--days", "0")
    assert exit_info.value.code == 2
    assert "expected at least 1" in capsys.readouterr().err


async def test_cli_holidays(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = await run(capsys, "holidays", "--office", "majene", "--year", "2026")
    assert (code, err) == (0, "")
    # The official 2026 list: national holidays (Keppres/SKB 3 Menteri) and cuti bersama,
    # including those on weekends (21/22 Mar, 5 Apr, 31 May); no plain weekends.
    assert out.splitlines() == [
        "2026-01-01\tTahun Baru Masehi",
        "2026-01-16\tIsra Mikraj Nabi Muhammad",
        "2026-02-16\tCuti Bersama Tahun Baru Imlek",
        "2026-02-17\tTahun Baru Imlek",
        "2026-03-18\tCuti Bersama Hari Suci Nyepi",
        "2026-03-19\tHari Suci Nyepi",
        "2026-03-20\tCuti Bersama Hari Raya Idul Fitri",
        "2026-03-21\tHari Raya Idul Fitri",
        "2026-03-22\tHari kedua dari Hari Raya Idul Fitri",
        "2026-03-23\tCuti Bersama Hari Raya Idul Fitri",
        "2026-03-24\tCuti Bersama Hari Raya Idul Fitri",
        "2026-04-03\tWafat Yesus Kristus",
        "2026-04-05\tKebangkitan Yesus Kristus",
        "2026-05-01\tHari Buruh Internasional",
        "2026-05-14\tKenaikan Yesus Kristus",
        "2026-05-15\tCuti Bersama Kenaikan Yesus Kristus",
        "2026-05-27\tHari Raya Idul Adha",
        "2026-05-28\tCuti Bersama Hari Raya Idul Adha",
        "2026-05-31\tHari Raya Waisak",
        "2026-06-01\tHari Lahir Pancasila",
        "2026-06-16\tTahun Baru Islam",
        "2026-08-17\tHari Kemerdekaan Republik Indonesia",
        "2026-08-25\tMaulid Nabi Muhammad",
        "2026-12-24\tCuti Bersama Hari Raya Natal",
        "2026-12-25\tHari Raya Natal",
    ]


async def test_cli_holidays_bad_year(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse("holidays", "--office", "majene", "--year", "26")
    assert exit_info.value.code == 2
    assert "expected a year YYYY" in capsys.readouterr().err
