"""Business time: adding working hours to a moment, and measuring the working time between two moments,
in a calendar's IANA time zone, working days, working hours and holidays, or around the clock (24/7).

Moments are naive UTC datetimes, the form the database stores (DESIGN.md rule 5). Working hours are wall
clock times in the calendar's zone, so each day's window is built in local time and turned into UTC on
its own: a day whose clocks change (DST) has a window of the right real length, and "Fri 16:00 + 4
business hours" lands on Monday at the same wall-clock time whatever happened to the clocks over the
weekend. A 24/7 calendar counts real elapsed time (across a DST change, 02:00 + 2 h is 2 real hours).

Example (DESIGN.md): Fri 16:00 + 4 business hours, Mon-Fri 09:00-17:00 Europe/London = Mon 12:00.
"""
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_DAYS_SEARCHED = 3660  # a deadline further than ten years of calendar away is a configuration mistake


@dataclass(frozen=True)
class BusinessCalendar:
    timezone: str = "UTC"
    working_days: frozenset = frozenset(range(5))  # 0 = Monday ... 6 = Sunday
    opens: time = time(9)
    closes: time = time(17)
    holidays: frozenset = field(default_factory=frozenset)  # local dates
    always_open: bool = False  # 24/7: every moment counts

    def __post_init__(self):
        ZoneInfo(self.timezone)  # an unknown zone fails here, not in the middle of a deadline
        if not self.always_open:
            if not self.working_days:
                raise ValueError("a business calendar needs at least one working day")
            if not self.opens < self.closes:
                raise ValueError("working hours must open before they close on the same day")

    @classmethod
    def twenty_four_seven(cls, timezone_name="UTC"):
        return cls(timezone=timezone_name, always_open=True)

    @property
    def zone(self):
        return ZoneInfo(self.timezone)

    # --- windows --------------------------------------------------------------------------------------

    def window(self, day):
        """The working window of a local date as (start, end) in naive UTC, or None on a closed day."""
        if day.weekday() not in self.working_days or day in self.holidays:
            return None
        return (self._utc(datetime.combine(day, self.opens)), self._utc(datetime.combine(day, self.closes)))

    def _utc(self, local_wall_clock):
        aware = local_wall_clock.replace(tzinfo=self.zone)
        return aware.astimezone(timezone.utc).replace(tzinfo=None)

    def _local_date(self, moment):
        return moment.replace(tzinfo=timezone.utc).astimezone(self.zone).date()

    def _windows_from(self, moment):
        """Working windows (naive UTC) from the local day of `moment` on, in order."""
        day = self._local_date(moment) - timedelta(days=1)  # a window may start the local day before in UTC
        for _ in range(MAX_DAYS_SEARCHED):
            window = self.window(day)
            if window is not None:
                yield window
            day += timedelta(days=1)
        raise ValueError("no working time found within ten years: check the calendar's days and holidays")

    # --- arithmetic -----------------------------------------------------------------------------------

    def add(self, start, duration):
        """The moment `duration` of working time after `start` (both naive UTC)."""
        if duration < timedelta(0):
            raise ValueError("a duration of working time cannot be negative")
        if self.always_open:
            return start + duration
        remaining, cursor = duration, start
        for window_start, window_end in self._windows_from(start):
            if window_end <= cursor:
                continue
            cursor = max(cursor, window_start)
            available = window_end - cursor
            if remaining <= available:
                return cursor + remaining
            remaining -= available
            cursor = window_end

    def elapsed(self, start, end):
        """Working time between two naive UTC moments (zero when `end` is not after `start`)."""
        if end <= start:
            return timedelta(0)
        if self.always_open:
            return end - start
        total = timedelta(0)
        for window_start, window_end in self._windows_from(start):
            if window_start >= end:
                break
            overlap = min(window_end, end) - max(window_start, start)
            if overlap > timedelta(0):
                total += overlap
        return total

    def is_open(self, moment):
        if self.always_open:
            return True
        window = self.window(self._local_date(moment))
        return window is not None and window[0] <= moment < window[1]


def parse_days(text):
    """"mon-fri" or "mon,wed,fri" or "sun-thu" -> frozenset of weekday numbers (0 = Monday)."""
    days = set()
    for part in (text or "").lower().replace(" ", "").split(","):
        if not part:
            continue
        first, _, last = part.partition("-")
        if first not in WEEKDAYS or (last and last not in WEEKDAYS):
            raise ValueError(f"unknown day in {text!r}: use mon, tue, wed, thu, fri, sat, sun")
        start = WEEKDAYS.index(first)
        stop = WEEKDAYS.index(last) if last else start
        index = start
        while True:
            days.add(index)
            if index == stop:
                break
            index = (index + 1) % 7  # "fri-mon" wraps over the weekend
    return frozenset(days)


def parse_holidays(dates):
    return frozenset(date.fromisoformat(str(value)) for value in dates)


def calendar_to_dict(calendar):
    """A calendar as plain data, the form a clock snapshots when it starts."""
    return {"timezone": calendar.timezone, "always_open": calendar.always_open,
            "working_days": sorted(calendar.working_days), "opens": calendar.opens.strftime("%H:%M"),
            "closes": calendar.closes.strftime("%H:%M"), "holidays": sorted(d.isoformat() for d in calendar.holidays)}


def calendar_from_dict(data):
    if data.get("always_open"):
        return BusinessCalendar.twenty_four_seven(data.get("timezone", "UTC"))
    return BusinessCalendar(timezone=data["timezone"], working_days=frozenset(data["working_days"]),
                            opens=time.fromisoformat(data["opens"]), closes=time.fromisoformat(data["closes"]),
                            holidays=parse_holidays(data.get("holidays", ())))
