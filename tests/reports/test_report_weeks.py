"""ISO weeks in an org's time zone and the report figures (groundwork of the weekly reports)."""
from datetime import datetime

import pytest

from portal.errors import ValidationError
from portal.reports.stats import compliance, median, percentile
from portal.reports.weeks import IsoWeek, last_closed_week, parse_week, week_of


@pytest.mark.parametrize("text, expected", [("2026-W46", IsoWeek(2026, 46)), (" 2026-W01 ", IsoWeek(2026, 1)),
                                            ("2020-W53", IsoWeek(2020, 53))])
def test_weeks_are_parsed(text, expected):
    assert parse_week(text) == expected and str(expected) == text.strip()


@pytest.mark.parametrize("text, message", [
    ("2026-46", "YYYY-Www"), ("2026-W6", "YYYY-Www"), ("W46", "YYYY-Www"), ("", "YYYY-Www"), (None, "YYYY-Www"),
    ("2026-W00", "weeks 1 to 53"), ("2026-W54", "weeks 1 to 53"), ("2025-W53", "weeks 1 to 52"),
    ("1999-W10", "2000 to 2100"), ("9999-W01", "2000 to 2100"), ("2026-W4\x006", "YYYY-Www")])
def test_bad_weeks_are_refused_clearly(text, message):
    with pytest.raises(ValidationError) as refused:
        parse_week(text)
    assert message in refused.value.errors["week"][0]


def test_a_week_runs_monday_to_monday_in_the_org_zone():
    week = parse_week("2026-W46")  # Monday 9 November 2026
    assert week.bounds("UTC") == (datetime(2026, 11, 9), datetime(2026, 11, 16))
    assert week.bounds("Asia/Shanghai") == (datetime(2026, 11, 8, 16), datetime(2026, 11, 15, 16))
    assert week.bounds("America/New_York") == (datetime(2026, 11, 9, 5), datetime(2026, 11, 16, 5))


def test_weeks_holding_a_dst_change_are_an_hour_shorter_or_longer():
    spring = parse_week("2026-W13")  # Europe/London moves to BST on Sunday 29 March 2026
    start, end = spring.bounds("Europe/London")
    assert (start, end) == (datetime(2026, 3, 23), datetime(2026, 3, 29, 23)) and (end - start).total_seconds() == 167 * 3600
    autumn = parse_week("2026-W43")  # back to GMT on Sunday 25 October 2026
    start, end = autumn.bounds("Europe/London")
    assert (end - start).total_seconds() == 169 * 3600
    # Santiago moved to summer time at midnight on Sunday 11 September 2022 (00:00 -> 01:00, UTC-4 -> UTC-3):
    # that week (W36) is 167 hours long, the next starts at 03:00 UTC.
    start, end = parse_week("2022-W36").bounds("America/Santiago")
    assert (start, end) == (datetime(2022, 9, 5, 4), datetime(2022, 9, 12, 3))


def test_the_week_of_a_moment_and_the_last_closed_week_depend_on_the_zone():
    sunday_night_utc = datetime(2026, 11, 15, 20)  # already Monday 04:00 in Shanghai
    assert week_of(sunday_night_utc, "UTC") == IsoWeek(2026, 46)
    assert week_of(sunday_night_utc, "Asia/Shanghai") == IsoWeek(2026, 47)
    assert last_closed_week("UTC", sunday_night_utc) == IsoWeek(2026, 45)
    assert last_closed_week("Asia/Shanghai", sunday_night_utc) == IsoWeek(2026, 46)
    assert parse_week("2026-W46").is_closed("Asia/Shanghai", sunday_night_utc)
    assert not parse_week("2026-W46").is_closed("UTC", sunday_night_utc)
    assert week_of(datetime(2027, 1, 1, 12), "UTC") == IsoWeek(2026, 53)  # 2026 has 53 ISO weeks


def test_previous_weeks_cross_years_oldest_first():
    assert IsoWeek(2027, 2).previous(3) == [IsoWeek(2026, 52), IsoWeek(2026, 53), IsoWeek(2027, 1)]
    assert len(IsoWeek(2026, 46).previous(12)) == 12 and IsoWeek(2026, 46).previous(12)[-1] == IsoWeek(2026, 45)
    assert IsoWeek(2026, 53).shifted(1) == IsoWeek(2027, 1)


def test_percentiles_are_nearest_rank_and_observed():
    hours = [5, 1, 3, 2, 4, 10, 6, 8, 7, 9]
    assert median(hours) == 5 and percentile(hours, 0.9) == 9 and percentile(hours, 1) == 10
    assert median([3, 5]) == 3 and median([7]) == 7 and median([]) is None
    assert percentile(list(range(1, 101)), 0.9) == 90
    with pytest.raises(ValueError):
        percentile(hours, 0)


def test_compliance_counts_only_decided_clocks():
    assert compliance(9, 1) == 90.0 and compliance(2, 1) == 66.7
    assert compliance(0, 0) is None and compliance(0, 3) == 0.0
