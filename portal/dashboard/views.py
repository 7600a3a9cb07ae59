"""The home page of an org: what a brand team or a platform team sees first after signing in."""
from flask import Blueprint, render_template
from peewee import fn

from portal.access import member
from portal.accounts.audit_trail import lines as trail_lines
from portal.accounts.models import Invitation, Marketplace, Membership, Organization
from portal.audit import AuditEvent
from portal.db import PreparedSelect
from portal.intel.services import summary as intel_summary
from portal.marks.services import summary as marks_summary
from portal.notices import goodfaith
from portal.notices.services import summary as notices_summary
from portal.notices.services import waiting_counts
from portal.partnerships.models import Partnership
from portal.partnerships.services import partnerships_of, with_sides
from portal.reports.figures import LABELS as report_labels
from portal.reports.services import this_week
from portal.tenancy import current_membership, current_org
from portal.timeutil import utcnow

bp = Blueprint("dashboard", __name__)

RECENT_EVENTS = 8


# The page's own queries, each with its SQL built once per process (portal.db.PreparedSelect), scoped to
# the org by the same helpers as before, the org's id a placeholder.
TEAM = PreparedSelect(lambda org_id, now: Organization.select(
    Membership.for_org(org_id).where(Membership.active == True).select(fn.COUNT(Membership.id)),  # noqa: E712
    Invitation.pending_for_org(org_id, now).select(fn.COUNT(Invitation.id)),
).where(Organization.id == org_id).tuples(), arity=2)
RECENT = PreparedSelect(lambda org_id: AuditEvent.for_org(org_id).order_by(AuditEvent.seq.desc()).limit(RECENT_EVENTS))
MARKETPLACES = PreparedSelect(lambda org_id: Marketplace.for_org(org_id).order_by(Marketplace.name))
ACTIVE_PARTNERSHIPS = PreparedSelect(lambda org_id: with_sides(partnerships_of(org_id)).where(
    Partnership.status == "active").order_by(Partnership.id))


@bp.route("/")
@member("viewer")
def index():
    team_size, pending_invitations = TEAM.first(current_org.id, utcnow()) or (0, 0)
    recent_events = []
    if current_membership.role == "admin":
        recent_events = trail_lines(RECENT.rows(current_org.id))  # in the audit trail's words
    marketplaces = []
    if current_org.is_platform:
        marketplaces = MARKETPLACES.rows(current_org.id)
    return render_template(f"dashboard/{current_org.kind}.html", team_size=team_size,
                           pending_invitations=pending_invitations, recent_events=recent_events,
                           marketplaces=marketplaces, marks=marks_summary(current_org),
                           notices=notices_summary(current_org), intel=intel_summary(current_org),
                           this_week=this_week(current_org), report_labels=report_labels,
                           standings=goodfaith.scores(ACTIVE_PARTNERSHIPS.rows(current_org.id)),
                           waiting=None if current_org.is_platform else waiting_counts(current_org))
