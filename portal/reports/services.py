"""Weekly enforcement reports: the one service the page, the downloads, the API, the CLI and the periodic
task call, so that all of them serve the same bytes.

- A week is an ISO week in the org's time zone (portal.reports.weeks); the default is the last closed one.
- A closed week is served from its snapshot (`WeeklyReport`): computed once, stored as canonical JSON with
  its SHA-256, never changed. The periodic task takes it shortly after the week ends; a pull of a closed
  week not taken yet takes it then. Both go through `snapshot()`, and the first writer wins a race.
- The current week is computed at each reading and says `"status": "live"`.
- Each report carries the previous 12 weeks' totals (`trends`), read from their snapshots, so a trend never
  disagrees with the report of its week. The periodic task keeps every closed week of the live week's
  trend window snapshotted, so a live page reads them in one query; a week never snapshotted (no worker
  ran yet) is computed for the trend, not stored. Weeks before the org's first activity read as empty.
"""
import hashlib
import json
import logging
from dataclasses import dataclass
from functools import cached_property

from peewee import IntegrityError, fn

from portal.audit import canonical_json
from portal.db import db
from portal.errors import ValidationError
from portal.events import emit
from portal.notices.models import Notice
from portal.reports.figures import INTEL_FIGURES, Cell, week_figures
from portal.reports.models import WeeklyReport
from portal.reports.weeks import IsoWeek, last_closed_week, parse_week, week_of
from portal.timeutil import utcnow

REPORT_KIND = "weekly-enforcement"
# 2: durations also in hours, and the open clocks past their deadline beside compliance. A version-1
# snapshot stays as it was taken (its bytes are its digest); read as a trend, its missing figures are null.
REPORT_VERSION = 2
TREND_WEEKS = 12
MAX_LISTED_WEEKS = 520  # ten years: the weeks list never grows without bound
log = logging.getLogger(__name__)


@dataclass
class Report:
    org: object
    week: IsoWeek
    body: str  # canonical JSON, exactly what the API returns
    sha256: str | None  # closed weeks only

    @property
    def closed(self):
        return self.sha256 is not None

    @cached_property
    def data(self):
        return json.loads(self.body)


def weekly_report(org, week=None, now=None):
    """The report of `week` (an IsoWeek, text such as "2026-W46", or None for the last closed week)."""
    now = now or utcnow()
    week = resolve_week(org, week, now)
    if week.is_closed(org.timezone, now):
        return snapshot(org, week, now)
    return Report(org, week, canonical_json(build(org, week, now)), None)


def this_week(org, now=None):
    """The live week's figures without their trends (the dashboard): {"week": ..., "totals": {...}}."""
    now = now or utcnow()
    week = week_of(now, org.timezone)
    start, end = week.bounds(org.timezone)
    return {"week": str(week), "totals": week_figures(org, start, end, now, totals_only=True)["totals"]}


def resolve_week(org, week, now):
    """The week asked for, checked: not before the org's first week, not after the current one."""
    current, first = week_of(now, org.timezone), first_week(org, now)
    if week is None or week == "":
        # The last closed week; an org that joined this week has none yet: its live week then.
        week = max(last_closed_week(org.timezone, now), first)
    elif not isinstance(week, IsoWeek):
        week = parse_week(week)
    if week > current:
        raise ValidationError({"week": f"{week} has not started yet; the current week is {current}."})
    if week < first:
        raise ValidationError({"week": f"Reports of {org.name} start at {first}, its first week on the portal."})
    return week


def first_week(org, now=None):
    """The week of the org's first activity: joining the portal, or its earliest notice (sent or received)."""
    side = Notice.platform if org.is_platform else Notice.org
    earliest = Notice.select(fn.MIN(Notice.filed_at)).where(side == org.id).scalar()
    moments = [m for m in (org.created_at, earliest, now) if m is not None]
    return week_of(min(moments), org.timezone)


def build(org, week, now):
    """The report's document for `week` as of `now`."""
    start, end = week.bounds(org.timezone)
    closed = end <= now
    return {
        "report": REPORT_KIND, "version": REPORT_VERSION,
        "org": {"slug": org.slug, "name": org.name, "kind": org.kind},
        "week": str(week), "time_zone": org.timezone, "starts_at": _iso(start), "ends_at": _iso(end),
        "status": "closed" if closed else "live", "as_of": _iso(min(end, now)), "computed_at": _iso(now),
        **week_figures(org, start, end, now),
        "trends": _trends(org, week, now),
    }


def snapshot(org, week, now=None):
    """The stored report of a closed week, taking it if it does not exist yet."""
    now = now or utcnow()
    if not week.is_closed(org.timezone, now):
        raise ValueError(f"{week} has not ended in {org.timezone}")
    return _stored(org, week) or _take(org, week, now)


def _take(org, week, now):
    body = canonical_json(build(org, week, now))
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
    start, end = week.bounds(org.timezone)
    try:
        with db.atomic():
            row = WeeklyReport.create(org=org, week=str(week), starts_at=start, ends_at=end, body=body,
                                      sha256=digest, created_at=now)
            # Announced for the week that just ended; an older week pulled for the first time is history.
            if week == last_closed_week(org.timezone, now):
                emit("report.weekly.ready", [org.id], row, {"week": str(week), "sha256": digest,
                                                             "starts_at": _iso(start), "ends_at": _iso(end)})
    except IntegrityError:  # another worker or request took it first: theirs is the snapshot
        return _stored(org, week)
    return Report(org, week, body, digest)


def _stored(org, week):
    row = WeeklyReport.for_org(org).where(WeeklyReport.week == str(week)).first()
    return None if row is None else Report(org, week, row.body, row.sha256)


def _trends(org, week, now):
    """The totals of the 12 weeks before `week`, oldest first: from their snapshots, so a trend agrees with
    each week's report. A week without one (before the worker first ran) is computed, not stored: storing
    would cascade into its own 12 weeks, and the event-time arithmetic gives the same totals."""
    first = first_week(org, now)
    weeks = week.previous(TREND_WEEKS)
    stored = {row.week: row for row in WeeklyReport.for_org(org).where(WeeklyReport.week.in_([str(w) for w in weeks]))}
    trend = []
    for earlier in weeks:
        if earlier < first:
            totals = _empty_totals()
        else:
            row = stored.get(str(earlier))
            if row is not None:
                totals = {**dict.fromkeys(_empty_totals()), **json.loads(row.body)["totals"]}
            else:
                totals = week_figures(org, *earlier.bounds(org.timezone), now, totals_only=True)["totals"]
        trend.append({"week": str(earlier), **totals})
    return trend


def _empty_totals():
    return {**Cell().figures(), "fast_lane_partnerships": 0, **{name: 0 for name in INTEL_FIGURES}}


def snapshot_closed_weeks(now=None, orgs=None):
    """The periodic task: snapshot every closed week in each org's trend window (the 12 weeks before its
    current one, from its first week on) that has none, oldest first. In steady state that is the week
    that just ended; the others are there after a first deployment or a stopped worker. So the live
    week's trend reads 12 snapshots (one query) instead of computing each missing week at every view,
    and each snapshot's own trend finds the weeks before it stored. Only the week that just ended is
    announced (`_take`). Returns how many were taken. A failure is logged and ends that org's turn (the
    next run tries again); the other orgs' reports do not wait for it."""
    from portal.accounts.models import Organization

    now = now or utcnow()
    taken = 0
    for org in orgs if orgs is not None else Organization.select().order_by(Organization.id):
        first = first_week(org, now)
        window = [week for week in week_of(now, org.timezone).previous(TREND_WEEKS) if week >= first]
        if not window:
            continue
        stored = set(WeeklyReport.for_org(org).where(WeeklyReport.week.in_([str(w) for w in window]))
                     .select(WeeklyReport.week).tuples())
        for week in window:
            if (str(week),) in stored:
                continue
            try:
                snapshot(org, week, now)
                taken += 1
            except Exception:  # the next run tries again; the other orgs' reports must not wait for this one
                log.exception("weekly report snapshot of %s %s failed", org.slug, week)
                break
    return taken


def available_weeks(org, now=None):
    """The weeks an org can pull, newest first: the live one, then closed ones, with their snapshot digest
    (None until taken)."""
    now = now or utcnow()
    current, first = week_of(now, org.timezone), first_week(org, now)
    weeks, week = [], current
    while week >= first and len(weeks) < MAX_LISTED_WEEKS:
        weeks.append(week)
        week = week.shifted(-1)
    digests = dict(WeeklyReport.for_org(org).where(WeeklyReport.week.in_([str(w) for w in weeks]))
                   .select(WeeklyReport.week, WeeklyReport.sha256).tuples())
    listed = []
    for week in weeks:
        start, end = week.bounds(org.timezone)
        listed.append({"week": str(week), "status": "closed" if end <= now else "live",
                       "starts_at": _iso(start), "ends_at": _iso(end), "sha256": digests.get(str(week))})
    return listed


# --- CSV: the same document, one figure per line -------------------------------------------------------

CSV_HEADER = ("section", "group", "figure", "value")
SECTIONS = ("totals", "by_marketplace", "by_partnership", "top_sellers", "trends")
GROUP_KEYS = {"by_marketplace": "marketplace", "by_partnership": "partnership", "trends": "week"}


def csv_rows(data):
    """The report as (section, group, figure, value) rows: every value of the JSON document, nothing else.
    Tables are named by their key (marketplace slug, partnership reference, week) or by rank (top sellers);
    nested objects (a partnership's good faith) are flattened with a dot."""
    for name in ("report", "version", "week", "status", "starts_at", "ends_at", "as_of", "computed_at", "time_zone"):
        yield ("report", "", name, csv_value(data[name]))
    yield from (("report", "", figure, text) for figure, text in _flat(data["org"], "org."))
    for section in SECTIONS:
        value = data[section]
        if isinstance(value, dict):
            yield from ((section, "", figure, text) for figure, text in _flat(value))
            continue
        for rank, row in enumerate(value, start=1):
            key = GROUP_KEYS.get(section)
            group = row[key] if key else str(rank)
            yield from ((section, group, figure, text) for figure, text in _flat(row) if figure != key)


def _flat(values, prefix=""):
    for name, value in values.items():
        if isinstance(value, dict):
            yield from _flat(value, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", csv_value(value)


def csv_value(value):
    """JSON values as CSV text: null is empty, booleans true/false, numbers as JSON writes them."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def _iso(moment):
    return moment.isoformat(timespec="seconds") + "Z"
