"""Business-time arithmetic (portal.sla.calendar): worked examples as a table, in local wall-clock time,
across weekends, holidays and DST changes; and the law that elapsed() undoes add()."""
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.sla.calendar import BusinessCalendar, parse_days, parse_holidays

LONDON = BusinessCalendar("Europe/London")  # Mon-Fri 09:00-17:00
NEW_YORK = BusinessCalendar("America/New_York")
SHANGHAI = BusinessCalendar("Asia/Shanghai", opens=time(9, 30), closes=time(18, 30))
LONDON_HOLIDAYS = BusinessCalendar("Europe/London", holidays=parse_holidays(["2026-12-25", "2026-12-28"]))
GULF_WEEK = BusinessCalendar("Asia/Dubai", working_days=parse_days("mon-fri"), opens=time(8), closes=time(16))


def utc(calendar, local):
    """A local wall-clock time in the calendar's zone ("2026-11-20 16:00") as naive UTC."""
    moment = datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(calendar.timezone))
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def local(calendar, moment):
    return moment.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(calendar.timezone)).strftime("%a %Y-%m-%d %H:%M")


@pytest.mark.parametrize("calendar, start, hours, expected", [
    # DESIGN.md's example: Friday 16:00 + 4 business hours = Monday 12:00.
    (LONDON, "2026-11-20 16:00", 4, "Mon 2026-11-23 12:00"),
    # The clocks go forward on Sunday 29 March 2026: Monday noon is still noon (BST).
    (LONDON, "2026-03-27 16:00", 4, "Mon 2026-03-30 12:00"),
    # The clocks go back on Sunday 25 October 2026.
    (LONDON, "2026-10-23 16:00", 4, "Mon 2026-10-26 12:00"),
    # New York changes on 8 March and 1 November 2026.
    (NEW_YORK, "2026-03-06 15:00", 6, "Mon 2026-03-09 13:00"),
    (NEW_YORK, "2026-10-30 15:00", 6, "Mon 2026-11-02 13:00"),
    # Holidays are skipped like weekends: Christmas Friday and the Monday after.
    (LONDON_HOLIDAYS, "2026-12-24 16:00", 4, "Tue 2026-12-29 12:00"),
    # Before opening, after closing, at the weekend: the clock starts at the next opening.
    (LONDON, "2026-11-23 07:00", 2, "Mon 2026-11-23 11:00"),
    (LONDON, "2026-11-23 18:00", 1, "Tue 2026-11-24 10:00"),
    (LONDON, "2026-11-21 10:00", 1, "Mon 2026-11-23 10:00"),
    # Exactly a working day ends at the close, not at the next opening.
    (LONDON, "2026-11-23 09:00", 8, "Mon 2026-11-23 17:00"),
    (LONDON, "2026-11-23 09:00", 40, "Fri 2026-11-27 17:00"),
    (LONDON, "2026-11-23 12:00", 0, "Mon 2026-11-23 12:00"),
    # Half hours, and a zone east of UTC where the local day starts the UTC day before.
    (SHANGHAI, "2026-11-20 17:00", 3, "Mon 2026-11-23 11:00"),  # 1.5 h on Friday, 1.5 h on Monday
    (GULF_WEEK, "2026-11-22 07:00", 9, "Tue 2026-11-24 09:00"),
])
def test_worked_examples(calendar, start, hours, expected):
    deadline = calendar.add(utc(calendar, start), timedelta(hours=hours))
    assert local(calendar, deadline) == expected
    assert calendar.elapsed(utc(calendar, start), deadline) == timedelta(hours=hours)


def test_around_the_clock_counts_real_time_across_dst():
    calendar = BusinessCalendar.twenty_four_seven("Europe/London")
    start = utc(calendar, "2026-03-29 00:30")  # clocks jump from 01:00 to 02:00 GMT->BST
    deadline = calendar.add(start, timedelta(hours=2))
    assert local(calendar, deadline) == "Sun 2026-03-29 03:30" and deadline - start == timedelta(hours=2)
    assert calendar.elapsed(start, deadline) == timedelta(hours=2)


def test_elapsed_counts_only_working_time():
    start, end = utc(LONDON, "2026-11-20 16:00"), utc(LONDON, "2026-11-23 10:30")
    assert LONDON.elapsed(start, end) == timedelta(hours=2, minutes=30)
    assert LONDON.elapsed(end, start) == timedelta(0)
    assert LONDON.is_open(utc(LONDON, "2026-11-23 10:30")) and not LONDON.is_open(utc(LONDON, "2026-11-22 10:30"))


def test_bad_calendars_are_refused():
    with pytest.raises(ValueError):
        BusinessCalendar("Europe/London", working_days=frozenset())
    with pytest.raises(ValueError):
        BusinessCalendar("Europe/London", opens=time(17), closes=time(9))
    with pytest.raises(Exception):
        BusinessCalendar("Mars/Olympus_Mons")
    with pytest.raises(ValueError):
        LONDON.add(utc(LONDON, "2026-11-23 09:00"), timedelta(hours=-1))
    with pytest.raises(ValueError):
        parse_days("mon-funday")


def test_day_lists():
    assert parse_days("mon-fri") == frozenset(range(5))
    assert parse_days("sun-thu") == frozenset({6, 0, 1, 2, 3})
    assert parse_days("mon, wed,fri") == frozenset({0, 2, 4})


@settings(max_examples=300, deadline=None)
@given(start=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31)),
       minutes=st.integers(min_value=0, max_value=60 * 24 * 20),
       zone=st.sampled_from(["Europe/London", "America/New_York", "Asia/Shanghai", "Australia/Lord_Howe"]))
def test_elapsed_undoes_add(start, minutes, zone):
    calendar = BusinessCalendar(zone, holidays=parse_holidays(["2026-12-25", "2027-01-01"]))
    duration = timedelta(minutes=minutes)
    deadline = calendar.add(start, duration)
    assert deadline >= start
    assert calendar.elapsed(start, deadline) == duration


@settings(max_examples=300, deadline=None)
@given(start=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31)),
       minutes=st.integers(min_value=0, max_value=60 * 24 * 3),  # 15 minutes a week reach it within ten years
       opens=st.integers(min_value=0, max_value=4 * 4), length=st.integers(min_value=1, max_value=4 * 12),
       days=st.sampled_from(["mon-fri", "sun", "sat-sun", "mon-sun"]),
       zone=st.sampled_from(["Europe/London", "America/New_York", "America/Havana", "Australia/Lord_Howe",
                             "America/Santiago", "America/St_Johns", "Asia/Tehran"]))
def test_hours_around_the_clock_changes_keep_windows_ordered_and_elapsed_undoing_add(start, minutes, opens, length,
                                                                                    days, zone):
    """Working hours opening between 00:00 and 04:00 in quarter hours, so that many open or close inside a
    skipped or repeated hour: windows are never empty-but-present, negative or overlapping, and the law
    holds."""
    opening = timedelta(minutes=15 * opens)
    closing = min(opening + timedelta(minutes=15 * length), timedelta(hours=23, minutes=59))
    calendar = BusinessCalendar(zone, working_days=parse_days(days), opens=time(*divmod(opening.seconds // 60, 60)),
                                closes=time(*divmod(closing.seconds // 60, 60)))
    day = start.date() - timedelta(days=2)
    windows = [w for w in (calendar.window(day + timedelta(days=n)) for n in range(12)) if w is not None]
    assert all(begin < end for begin, end in windows)
    assert all(earlier[1] <= later[0] for earlier, later in zip(windows, windows[1:]))
    duration = timedelta(minutes=minutes)
    deadline = calendar.add(start, duration)
    assert deadline >= start and calendar.elapsed(start, deadline) == duration
    assert minutes == 0 or calendar.is_open(deadline - timedelta(seconds=1))
