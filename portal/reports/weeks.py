"""ISO weeks in an organization's time zone (DESIGN.md rule 5: stored in UTC, bucketed in the org's zone).

Groundwork of the weekly reports (issue 7). A week is named as ISO 8601 does, `2026-W46`: Monday 00:00 to
the next Monday 00:00 in the org's zone, whatever the UTC offset does in between (a week holding a DST
change is 167 or 169 hours long). Its bounds are given as naive UTC, the form every stored time has, so a
week's rows are `start <= at < end`. A week is closed once its end has passed in UTC.
"""
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from portal.errors import ValidationError

WEEK_PATTERN = re.compile(r"^([0-9]{4})-W([0-9]{2})$")  # ASCII digits only, as the API documents
FIRST_YEAR, LAST_YEAR = 2000, 2100  # no report can hold anything outside; keeps datetime arithmetic safe


@dataclass(frozen=True, order=True)
class IsoWeek:
    year: int
    week: int

    def __str__(self):
        return f"{self.year}-W{self.week:02d}"

    @property
    def monday(self):
        return date.fromisocalendar(self.year, self.week, 1)

    def shifted(self, weeks):
        """The week `weeks` later (earlier when negative)."""
        year, week, _ = (self.monday + timedelta(weeks=weeks)).isocalendar()
        return IsoWeek(year, week)

    def previous(self, count):
        """The `count` weeks before this one, oldest first (a trend's comparison weeks)."""
        return [self.shifted(-n) for n in range(count, 0, -1)]

    def bounds(self, tz_name):
        """(start, end) of the week in the zone, as naive UTC."""
        return _local_midnight_utc(self.monday, tz_name), _local_midnight_utc(self.monday + timedelta(weeks=1), tz_name)

    def is_closed(self, tz_name, now):
        """True once the week has ended in the zone (`now` naive UTC)."""
        return self.bounds(tz_name)[1] <= now


def parse_week(text, field="week"):
    """`2026-W46` -> IsoWeek; a clear ValidationError for anything else (W53 only in years that have one)."""
    match = WEEK_PATTERN.match(str(text or "").strip())
    if not match:
        raise ValidationError({field: f"Give an ISO week as YYYY-Www, such as 2026-W46; not {str(text)[:20]!r}."})
    year, week = int(match.group(1)), int(match.group(2))
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValidationError({field: f"Reports cover the years {FIRST_YEAR} to {LAST_YEAR}."})
    weeks_in_year = date(year, 12, 28).isocalendar()[1]  # 28 December is always in the year's last week
    if not 1 <= week <= weeks_in_year:
        raise ValidationError({field: f"{year} has weeks 1 to {weeks_in_year}; there is no week {week}."})
    return IsoWeek(year, week)


def week_of(moment, tz_name):
    """The ISO week holding `moment` (naive UTC) in the zone."""
    local = moment.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(tz_name))
    year, week, _ = local.isocalendar()
    return IsoWeek(year, week)


def last_closed_week(tz_name, now):
    """The most recent week that has ended in the zone (the default report)."""
    return week_of(now, tz_name).shifted(-1)


def _local_midnight_utc(day, tz_name):
    """Midnight starting `day` in the zone, as naive UTC. Where a zone skips midnight (a DST change at
    00:00, as Santiago's), zoneinfo reads the missing 00:00 with the offset before the change, which is the
    instant the day really starts (01:00 after the jump)."""
    local = datetime.combine(day, time(0), tzinfo=ZoneInfo(tz_name))
    return local.astimezone(timezone.utc).replace(tzinfo=None)
