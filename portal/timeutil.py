"""Time rules (DESIGN.md rule 5): stored as naive UTC, shown in the org's IANA time zone."""
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones


def utcnow():
    """The current time as naive UTC, the form every DateTimeField stores on SQLite and PostgreSQL alike."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def is_valid_timezone(name):
    if not name or name not in available_timezones():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def to_local(moment, tz_name):
    """A stored UTC datetime as an aware datetime in the given zone."""
    if moment is None:
        return None
    return moment.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(tz_name))


def format_local(moment, tz_name, fmt="%Y-%m-%d %H:%M %Z"):
    local = to_local(moment, tz_name)
    return local.strftime(fmt) if local else ""


def local_today(tz_name):
    """Today's date in the given zone (a mark expires at the end of its expiry date there)."""
    return datetime.now(ZoneInfo(tz_name)).date()


def human_duration(delta):
    """A length of (business) time for people: "2 d 3 h", "3 h 20 min", "45 min"; sign ignored."""
    seconds = abs(int(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"


def human_hours(minutes):
    """A target in minutes as hours: 240 -> "4 h", 90 -> "1.5 h", 5 -> "0.08 h"."""
    text = f"{minutes / 60:.2f}".rstrip("0").rstrip(".")
    return f"{text} h"
