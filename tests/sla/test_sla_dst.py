"""Business time on the days the clocks change, in every IANA zone, against a reference that walks time
minute by minute in UTC and asks each minute's local wall-clock time whether it is inside working hours.

The rule under test (portal.sla.calendar's docstring): a day's window is the shortest span of real time
holding every moment at which the local clock, on that date, shows a time within working hours; it never
starts before the previous day's window ends, and it is empty when nothing is left. So the reference
window of a date runs from its first working minute to the end of its last one, then is clamped to start
no earlier than the previous date's window ends. A time the clocks skip therefore maps to the moment of the
change; an opening time the clocks show twice is its first occurrence, a closing time its last one.

Coverage. The transitions are found from zoneinfo's UTC-to-local conversion alone (each zone's offset
sampled every 12 hours from 2000 to 2037, each change found to the second by bisection), never from the
calendar's local-to-UTC code: about 17,000 transitions in the ~340 of ~600 zones that have any. For every
key of `zoneinfo.available_timezones()` and every one of its transitions in 2000-2037, `window()` of the
dates around it is compared with the reference, for a dozen working hours placed around the change
(opening and closing inside the skipped or repeated time, at its edges, around it, 09-17, all day), every
day a working day. `add()` and `elapsed()` are compared on every distinct transition (a moment and its
offsets: ~3,100, each through one of the zones having it), from the start of the walk and from the change,
for durations ending all over the two or three dates; and more thoroughly (starts at each window's edges
and either side of the change, more durations, `is_open()` every 13 minutes) on the first transition of
each shape. A shape is a transition's UTC time of day with its zone's changes within two days of it:
transitions of one shape show the same wall-clock times, whole days apart, so one walk serves them all
(~160 shapes). The whole module runs in about 35 s.
"""
import bisect
import time as clock
import zoneinfo
from datetime import date, datetime, time, timedelta, timezone

import pytest

from portal.sla.calendar import BusinessCalendar, parse_days

FIRST_YEAR, LAST_YEAR = 2000, 2037
SAMPLE_STEP = 12 * 3600  # seconds: no zone changes its offset twice within half a day in these years
SPAN = 30 * 3600  # seconds walked on either side of a transition: the dates it touches are walked whole
EVERY_DAY = frozenset(range(7))
MINUTE = timedelta(minutes=1)


# --- the transitions, from UTC-to-local conversion only -------------------------------------------------

def offset_at(zone, ts):
    return datetime.fromtimestamp(ts, zone).utcoffset()


def transitions(zone):
    """[(UTC timestamp of the change, offset before, offset after)] between FIRST_YEAR and LAST_YEAR."""
    start = int(datetime(FIRST_YEAR, 1, 1, tzinfo=timezone.utc).timestamp())
    end = int(datetime(LAST_YEAR + 1, 1, 1, tzinfo=timezone.utc).timestamp())
    found, ts, before = [], start, offset_at(zone, start)
    while ts < end:
        after = offset_at(zone, ts + SAMPLE_STEP)
        if after != before:
            low, high = ts, ts + SAMPLE_STEP  # offset(low) == before, offset(high) != before
            while high - low > 1:
                middle = (low + high) // 2
                if offset_at(zone, middle) == before:
                    low = middle
                else:
                    high = middle
            found.append((high, before, offset_at(zone, high)))
            before = after
        ts += SAMPLE_STEP
    return found


@pytest.fixture(scope="module")
def all_transitions():
    started = clock.monotonic()
    found = {key: transitions(zoneinfo.ZoneInfo(key)) for key in sorted(zoneinfo.available_timezones())}
    print(f"\n{sum(map(len, found.values()))} transitions in {sum(1 for v in found.values() if v)} of "
          f"{len(found)} zones found in {clock.monotonic() - started:.1f} s")
    return found


def shapes(all_transitions):
    """{shape: {UTC timestamp of a transition: [zone keys]}}. A transition's shape is its UTC time of day and
    every change of its zone within two days of it, relative to it: transitions of one shape show the same
    wall-clock times over the walked span, whole days apart (so one walk serves them all, shifted)."""
    found = {}
    for key, changes in all_transitions.items():
        times = [ts for ts, _, _ in changes]
        for ts, _, _ in changes:
            near = changes[bisect.bisect_left(times, ts - 2 * 86400):bisect.bisect_right(times, ts + 2 * 86400)]
            shape = (ts % 86400, tuple((other - ts, before, after) for other, before, after in near))
            found.setdefault(shape, {}).setdefault(ts, []).append(key)
    return found


# --- the reference: a minute-by-minute walk --------------------------------------------------------------

class Walk:
    """The minutes of [T - SPAN, T + SPAN) in UTC around the transition at T, each with its local date and
    wall-clock minute of the day, as the zone's clock shows them."""

    def __init__(self, zone, ts):
        self.ts, self.first = ts, ts - SPAN
        self.base = datetime.fromtimestamp(self.first, timezone.utc).replace(tzinfo=None)
        self.dates, self.minutes = [], []
        for step in range(2 * SPAN // 60):
            wall = datetime.fromtimestamp(self.first + 60 * step, zone)
            self.dates.append(wall.date())
            self.minutes.append(wall.hour * 60 + wall.minute)
        self.at = (ts - self.first) // 60  # the index of the first minute after the change
        # Dates walked whole: every date strictly between the first and the last minute's.
        self.whole = sorted({d for d in self.dates if self.dates[0] < d < self.dates[-1]})
        self.indices = {}
        for index, day in enumerate(self.dates):
            self.indices.setdefault(day, []).append(index)

    def moment(self, index):
        return self.base + timedelta(minutes=index)

    def windows(self, opens, closes):
        """{date: (first index, end index) or None} for the whole dates, and the end of the last window of
        the date before the first whole one (known as far as the walk sees it), for working hours
        [opens, closes) in minutes of the day, every day a working day."""
        raw = {}
        for day, indices in self.indices.items():
            inside = [i for i in indices if opens <= self.minutes[i] < closes]
            raw[day] = (inside[0], inside[-1] + 1) if inside else None
        found, previous_end = {}, None
        before_first = self.whole[0] - timedelta(days=1)
        if raw.get(before_first):
            previous_end = raw[before_first][1]
        for day in self.whole:
            window = raw[day]
            if window and raw.get(day - timedelta(days=1)):
                window = (max(window[0], raw[day - timedelta(days=1)][1]), window[1])
            found[day] = window if window and window[0] < window[1] else None
        return found, previous_end


def working_hours(walk):
    """A dozen (opens, closes) in minutes of the day around the change at walk.at: inside the skipped or
    repeated time, at its edges, around it, a normal day, the whole day."""
    before, after = walk.minutes[walk.at - 1] + 1, walk.minutes[walk.at]  # the clock just before and at it
    low, high = min(before, after), max(before, after)
    middle = (low + high) // 2 if high - low < 720 else (high + (low + 1440 - high) // 2) % 1440
    candidates = {(middle, middle + 360), (middle - 360, middle), (low, high), (high, high + 180),
                  (low - 180, low), (low - 60, high + 60), (low + 1, high - 1), (middle, middle + 1),
                  (low, 1439), (0, high), (9 * 60, 17 * 60), (0, 1439), (middle - 1, middle + 1)}
    return sorted((max(o, 0), min(c, 1439)) for o, c in candidates if max(o, 0) < min(c, 1439))


def calendar_for(key, opens, closes, days=EVERY_DAY):
    return BusinessCalendar(timezone=key, working_days=days, opens=time(opens // 60, opens % 60),
                            closes=time(closes // 60, closes % 60))


def reference_add(members, start, minutes):
    """Walk the working minutes (sorted indices) from `start`: the end of the `minutes`-th one (or the
    first working minute when `minutes` is 0); None when the walk does not reach it."""
    position = bisect.bisect_left(members, start)
    if minutes == 0:
        return members[position] if position < len(members) else None
    last = position + minutes - 1
    return members[last] + 1 if last < len(members) else None


# --- the tests -----------------------------------------------------------------------------------------

@pytest.mark.slow
def test_the_scan_finds_the_transitions_of_every_zone_that_has_them(all_transitions):
    assert len(all_transitions) == len(zoneinfo.available_timezones()) > 400
    utc = {k: [datetime.fromtimestamp(ts, timezone.utc).replace(tzinfo=None) for ts, _, _ in v]
           for k, v in all_transitions.items()}
    assert datetime(2027, 3, 14, 7) in utc["America/New_York"] and datetime(2027, 11, 7, 6) in utc["America/New_York"]
    assert datetime(2027, 10, 2, 15, 30) in utc["Australia/Lord_Howe"]
    assert datetime(2011, 12, 30, 10) in utc["Pacific/Apia"]  # the day Samoa skipped
    assert len(utc["America/New_York"]) == 2 * (LAST_YEAR - FIRST_YEAR + 1)
    assert utc["Asia/Tokyo"] == [] and utc["UTC"] == []
    assert sum(1 for v in all_transitions.values() if v) > 300


class Reference:
    """One walk of a shape's first transition, and its windows for each of its working hours; `at(ts)` the
    same for another transition of the shape: dates and moments shifted by whole days."""

    def __init__(self, ts, key):
        self.ts, self.key, self.walk = ts, key, Walk(zoneinfo.ZoneInfo(key), ts)
        self.hours = working_hours(self.walk)
        self.windows = {hours: self.walk.windows(*hours) for hours in self.hours}

    def at(self, ts, hours):
        """({date: (start, end) naive UTC or None}, the working minutes as sorted indices, the index a
        deadline may start from, and the index -> moment function) for the transition at `ts`."""
        days = (ts - self.ts) // 86400
        shift = timedelta(days=days)
        windows, previous_end = self.windows[hours]

        def moment(index):
            return self.walk.moment(index) + shift
        expected = {day + shift: window and (moment(window[0]), moment(window[1])) for day, window in windows.items()}
        members = [i for window in windows.values() if window for i in range(*window)]
        earliest = max(self.walk.indices[self.walk.whole[0]][0], previous_end or 0)
        return expected, members, earliest, moment


@pytest.fixture(scope="module")
def references(all_transitions):
    started = clock.monotonic()
    found = {}
    for shape, occurrences in shapes(all_transitions).items():
        ts = min(occurrences)
        found[shape] = Reference(ts, occurrences[ts][0])
    print(f"\n{len(found)} shapes walked in {clock.monotonic() - started:.1f} s")
    return found


@pytest.mark.slow
def test_every_zones_windows_on_its_transition_days_match_the_minute_walk(all_transitions, references):
    started, checked = clock.monotonic(), 0
    for shape, occurrences in shapes(all_transitions).items():
        reference = references[shape]
        for hours in reference.hours:
            for ts, keys in occurrences.items():
                expected = reference.at(ts, hours)[0]
                for key in keys:
                    calendar = calendar_for(key, *hours)
                    got = {day: calendar.window(day) for day in expected}
                    assert got == expected, (key, hours, datetime.fromtimestamp(ts, timezone.utc))
                    checked += len(got)
    print(f"\n{checked} windows of {sum(map(len, all_transitions.values()))} zone transitions checked in "
          f"{clock.monotonic() - started:.1f} s")


@pytest.mark.slow
def test_deadlines_and_elapsed_time_across_every_distinct_transition_match_the_minute_walk(all_transitions,
                                                                                            references):
    started, checked = clock.monotonic(), 0
    for shape, occurrences in shapes(all_transitions).items():
        reference = references[shape]
        walk = reference.walk
        for ts, keys in occurrences.items():
            first = ts == reference.ts  # the shape's first transition in full, the others more briefly
            for hours in reference.hours:
                expected, members, earliest, moment = reference.at(ts, hours)
                calendar = calendar_for(keys[0], *hours)
                starts = {earliest, walk.at}
                if first:
                    edges = {edge for window in reference.windows[hours][0].values() if window for edge in window}
                    starts |= {walk.at - 1, walk.at + 1} | edges
                for start in sorted(s for s in starts if s >= earliest):
                    left = len(members) - bisect.bisect_left(members, start)
                    durations = {0, 1, 60, left // 2, left - 1, left} if first else {1, left // 2, left}
                    for minutes in sorted(durations):
                        wanted = reference_add(members, start, minutes) if 0 <= minutes <= left else None
                        if wanted is None:
                            continue
                        deadline = calendar.add(moment(start), timedelta(minutes=minutes))
                        assert deadline == moment(wanted), (keys[0], hours, moment(start), minutes)
                        assert calendar.elapsed(moment(start), deadline) == timedelta(minutes=minutes)
                        checked += 1
                if not first:
                    continue
                member = set(members)
                for index in range(earliest, walk.indices[walk.whole[-1]][-1] + 1, 13):
                    assert calendar.is_open(moment(index)) == (index in member), (keys[0], hours, moment(index))
    print(f"\n{checked} deadlines checked in {clock.monotonic() - started:.1f} s")


# --- the cases of the issue, by name -------------------------------------------------------------------

SUNDAY = parse_days("sun")


def utc(*args):
    return datetime(*args)


def test_new_york_hours_opening_in_the_skipped_hour_open_at_the_change():
    calendar = BusinessCalendar(timezone="America/New_York", working_days=SUNDAY, opens=time(2, 30),
                                closes=time(8, 30))
    assert calendar.window(date(2027, 3, 14)) == (utc(2027, 3, 14, 7), utc(2027, 3, 14, 12, 30))  # 03:00-08:30 EDT
    assert calendar.window(date(2027, 3, 7)) == (utc(2027, 3, 7, 7, 30), utc(2027, 3, 7, 13, 30))  # 02:30-08:30 EST


def test_new_york_hours_closing_in_the_skipped_hour_close_at_the_change():
    calendar = BusinessCalendar(timezone="America/New_York", working_days=SUNDAY, opens=time(0, 30),
                                closes=time(2, 30))
    assert calendar.window(date(2027, 3, 14)) == (utc(2027, 3, 14, 5, 30), utc(2027, 3, 14, 7))  # 1.5 h
    start = utc(2027, 3, 14, 5, 30)
    assert calendar.add(start, timedelta(minutes=90)) == utc(2027, 3, 14, 7)  # the close: 03:00 EDT
    # 100 minutes: 90 that Sunday, 10 the next (00:40 EDT), never 03:10 EDT after closing time.
    assert calendar.add(start, timedelta(minutes=100)) == utc(2027, 3, 21, 4, 40)
    assert not calendar.is_open(utc(2027, 3, 14, 7, 5))
    every_day = BusinessCalendar(timezone="America/New_York", working_days=EVERY_DAY, opens=time(0, 30),
                                 closes=time(2, 30))
    assert every_day.add(start, timedelta(minutes=100)) == utc(2027, 3, 15, 4, 40)  # Monday 00:40 EDT


def test_london_hours_opening_and_closing_in_the_skipped_hour():
    opening = BusinessCalendar(timezone="Europe/London", working_days=SUNDAY, opens=time(1, 30), closes=time(7, 30))
    assert opening.window(date(2027, 3, 28)) == (utc(2027, 3, 28, 1), utc(2027, 3, 28, 6, 30))  # 02:00-07:30 BST
    closing = BusinessCalendar(timezone="Europe/London", working_days=SUNDAY, opens=time(0, 15), closes=time(1, 30))
    assert closing.window(date(2027, 3, 28)) == (utc(2027, 3, 28, 0, 15), utc(2027, 3, 28, 1))
    # 45 minutes that Sunday, 5 the next (00:20 BST).
    assert closing.add(utc(2027, 3, 28, 0, 15), timedelta(minutes=50)) == utc(2027, 4, 3, 23, 20)


def test_havana_hours_opening_at_half_past_midnight_open_at_the_change():
    # Cuba goes from 00:00 CST to 01:00 CDT: 00:30 does not exist on 14 March 2027.
    calendar = BusinessCalendar(timezone="America/Havana", working_days=SUNDAY, opens=time(0, 30),
                                closes=time(8, 30))
    assert calendar.window(date(2027, 3, 14)) == (utc(2027, 3, 14, 5), utc(2027, 3, 14, 12, 30))  # 01:00-08:30 CDT
    short = BusinessCalendar(timezone="America/Havana", working_days=SUNDAY, opens=time(0, 10), closes=time(0, 50))
    assert short.window(date(2027, 3, 14)) is None  # wholly skipped: no working time that day


def test_lord_howe_thirty_minute_shift():
    # Lord Howe Island goes from 02:00 (+10:30) to 02:30 (+11) on 3 October 2027, and from 02:00 (+11) back
    # to 01:30 (+10:30) on 4 April 2027.
    opening = BusinessCalendar(timezone="Australia/Lord_Howe", working_days=SUNDAY, opens=time(2, 15),
                               closes=time(9))
    assert opening.window(date(2027, 10, 3)) == (utc(2027, 10, 2, 15, 30), utc(2027, 10, 2, 22))  # 02:30-09:00
    closing = BusinessCalendar(timezone="Australia/Lord_Howe", working_days=SUNDAY, opens=time(1), closes=time(2, 15))
    assert closing.window(date(2027, 10, 3)) == (utc(2027, 10, 2, 14, 30), utc(2027, 10, 2, 15, 30))  # 01:00-02:30
    assert closing.add(utc(2027, 10, 2, 14, 30), timedelta(minutes=60)) == utc(2027, 10, 2, 15, 30)  # the close
    assert closing.add(utc(2027, 10, 2, 14, 30), timedelta(minutes=61)) == utc(2027, 10, 9, 14, 1)  # next Sunday
    repeated = BusinessCalendar(timezone="Australia/Lord_Howe", working_days=SUNDAY, opens=time(1, 45),
                                closes=time(1, 50))
    # 01:45 first (+11, 14:45 UTC) to 01:50 last (+10:30, 15:20 UTC): 35 real minutes.
    assert repeated.window(date(2027, 4, 4)) == (utc(2027, 4, 3, 14, 45), utc(2027, 4, 3, 15, 20))


def test_the_repeated_hour_opens_at_its_first_occurrence_and_closes_at_its_last():
    def window(opens, closes):
        return BusinessCalendar(timezone="America/New_York", working_days=SUNDAY, opens=opens,
                                closes=closes).window(date(2027, 11, 7))  # 02:00 EDT becomes 01:00 EST
    assert window(time(1, 30), time(9)) == (utc(2027, 11, 7, 5, 30), utc(2027, 11, 7, 14))  # 01:30 EDT
    assert window(time(0), time(1, 30)) == (utc(2027, 11, 7, 4), utc(2027, 11, 7, 6, 30))  # to 01:30 EST: 2.5 h
    assert window(time(1, 15), time(1, 45)) == (utc(2027, 11, 7, 5, 15), utc(2027, 11, 7, 6, 45))  # 1.5 h
    # 01:00 is reached counting up once (the second 01:00 is jumped onto from 01:59 EDT): closed at the first.
    assert window(time(0), time(1)) == (utc(2027, 11, 7, 4), utc(2027, 11, 7, 5))
    assert window(time(0), time(2)) == (utc(2027, 11, 7, 4), utc(2027, 11, 7, 7))  # 3 real hours


def test_a_zone_going_back_across_midnight_never_overlaps_two_days():
    # St. John's went back from 00:01 NDT on 29 October 2006 to 23:01 NST on the 28th.
    calendar = BusinessCalendar(timezone="America/St_Johns", working_days=EVERY_DAY, opens=time(0), closes=time(23, 30))
    saturday, sunday = calendar.window(date(2006, 10, 28)), calendar.window(date(2006, 10, 29))
    assert saturday[1] == utc(2006, 10, 29, 3) == sunday[0]  # the second 23:30 NST; Sunday starts there
    start = utc(2006, 10, 29, 2)
    assert calendar.elapsed(start, utc(2006, 10, 29, 4)) == timedelta(hours=2)  # nothing counted twice
    # Casey (Antarctica) went back three hours across midnight on 5 March 2010.
    casey = BusinessCalendar(timezone="Antarctica/Casey", working_days=EVERY_DAY, opens=time(0, 30),
                             closes=time(23, 30))
    thursday, friday = casey.window(date(2010, 3, 4)), casey.window(date(2010, 3, 5))
    assert thursday[1] == friday[0] == utc(2010, 3, 4, 15, 30)
    assert casey.is_open(utc(2010, 3, 4, 14)) and casey.is_open(utc(2010, 3, 4, 15, 40))


def test_a_skipped_day_has_no_window():
    # Samoa went from 29 to 31 December 2011.
    calendar = BusinessCalendar(timezone="Pacific/Apia", working_days=EVERY_DAY)
    assert calendar.window(date(2011, 12, 30)) is None
    # Thursday 16:00 (-10) + 2 h: one hour on Thursday, one on Saturday 31st from 09:00 (+14).
    assert calendar.add(utc(2011, 12, 30, 2), timedelta(hours=2)) == utc(2011, 12, 30, 20)
