"""An organization's audit trail as its admins read it: filtered by who, what, which object and when, each
event in words (portal.trail), on the page and in the CSV export. The events themselves are never changed.
"""
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from portal import trail
from portal.accounts.models import User
from portal.audit import AuditEvent
from portal.errors import ValidationError

MAX_FILTER = 200


@dataclass
class Filters:
    who: str = ""  # an actor label (an e-mail, "cli", "api:client")
    action: str = ""
    object_type: str = ""
    object_id: str = ""
    since: date = None  # first day, in the org's zone
    until: date = None  # last day, included

    def as_args(self):
        """The filters as query arguments (for the pager and the CSV link)."""
        values = {"who": self.who, "action": self.action, "object_type": self.object_type,
                  "object_id": self.object_id, "from": self.since and self.since.isoformat(),
                  "to": self.until and self.until.isoformat()}
        return {key: value for key, value in values.items() if value}


def parse_filters(args):
    """Filters from a query string; a bad date or an over-long value is a ValidationError naming it."""
    errors = {}
    values = {}
    for name in ("who", "action", "object_type", "object_id"):
        value = (args.get(name) or "").strip()
        if len(value) > MAX_FILTER:
            errors[name] = f"Use at most {MAX_FILTER} characters."
        values[name] = value
    for name, attribute in (("from", "since"), ("to", "until")):
        text = (args.get(name) or "").strip()
        values[attribute] = None
        if text:
            try:
                values[attribute] = date.fromisoformat(text)
            except ValueError:
                errors[name] = "Give a date as YYYY-MM-DD."
    if not errors and values["since"] and values["until"] and values["since"] > values["until"]:
        errors["to"] = "The last day comes before the first."
    if errors:
        raise ValidationError(errors)
    return Filters(**values)


def _utc_midnight(day, tz_name):
    try:
        moment = datetime.combine(day, time(0), tzinfo=ZoneInfo(tz_name or "UTC"))
        return moment.astimezone(timezone.utc).replace(tzinfo=None)
    except OverflowError:
        return None


def events(org, filters):
    """The org's events matching `filters`, newest first."""
    query = AuditEvent.for_org(org)
    if filters.who:
        query = query.where(AuditEvent.actor_label == filters.who)
    if filters.action:
        query = query.where(AuditEvent.action == filters.action)
    if filters.object_type:
        query = query.where(AuditEvent.object_type == filters.object_type)
    if filters.object_id:
        query = query.where(AuditEvent.object_id == filters.object_id)
    if filters.since:
        start = _utc_midnight(filters.since, org.timezone)
        if start:
            query = query.where(AuditEvent.created_at >= start)
    if filters.until:
        end = _utc_midnight(filters.until + timedelta(days=1), org.timezone) if filters.until < date.max else None
        if end:
            query = query.where(AuditEvent.created_at < end)
    return query.order_by(AuditEvent.seq.desc())


def choices(org):
    """What the filters offer: the actors, actions (by their human names) and object types of the trail."""
    base = AuditEvent.for_org(org)
    column = lambda field: sorted(v for (v,) in base.select(field).distinct().tuples() if v)  # noqa: E731
    return {"who": column(AuditEvent.actor_label), "actions": trail.labels(column(AuditEvent.action)),
            "object_types": column(AuditEvent.object_type)}


@dataclass
class Line:
    event: AuditEvent
    who: str  # the actor's name, else their label
    label: str
    described: trail.Described


def lines(rows):
    """Events with their words; the actors' names are read in one query."""
    rows = list(rows)
    ids = {e.actor_id for e in rows if e.actor_id}
    names = {u.id: u.name for u in User.select(User.id, User.name).where(User.id.in_(ids))} if ids else {}
    return [Line(e, names.get(e.actor_id) or e.actor_label, trail.label_of(e.action), trail.describe(e))
            for e in rows]


CSV_HEADER = ["seq", "time", "time_utc", "who", "actor_label", "action", "action_name", "sentence", "object_type",
              "object_id", "link", "change", "hash"]


def csv_rows(org, filters, format_local):
    """The CSV export's rows, read a thousand events at a time (a long trail is never held whole)."""
    query = events(org, filters)
    last = None
    while True:
        page = query if last is None else query.where(AuditEvent.seq < last)
        batch = lines(page.limit(1000))
        if not batch:
            return
        for line in batch:
            e = line.event
            yield [e.seq, format_local(e.created_at, org.timezone, "%Y-%m-%dT%H:%M:%S%z"),
                   e.created_at.isoformat(timespec="seconds") + "Z", line.who, e.actor_label, e.action, line.label,
                   f"{line.who} {line.described.sentence}", e.object_type, e.object_id, line.described.link or "",
                   e.change, e.hash]
        last = batch[-1].event.seq
