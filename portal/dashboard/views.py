"""The home page of an org: what a brand team or a platform team sees first after signing in."""
from flask import Blueprint, render_template

from portal.access import member
from portal.accounts.models import Invitation, Marketplace, Membership
from portal.audit import AuditEvent
from portal.intel.services import summary as intel_summary
from portal.marks.services import summary as marks_summary
from portal.notices import goodfaith
from portal.notices.services import summary as notices_summary
from portal.partnerships.models import Partnership
from portal.partnerships.services import partnerships_of, with_sides
from portal.reports.figures import LABELS as report_labels
from portal.reports.services import this_week
from portal.tenancy import current_membership, current_org

bp = Blueprint("dashboard", __name__)

RECENT_EVENTS = 8


@bp.route("/")
@member("viewer")
def index():
    team_size = Membership.for_org(current_org).where(Membership.active == True).count()  # noqa: E712
    pending_invitations = Invitation.pending_for_org(current_org).count()
    recent_events = []
    if current_membership.role == "admin":
        recent_events = list(AuditEvent.for_org(current_org).order_by(AuditEvent.seq.desc()).limit(RECENT_EVENTS))
    marketplaces = []
    if current_org.is_platform:
        marketplaces = list(Marketplace.for_org(current_org).order_by(Marketplace.name))
    return render_template(f"dashboard/{current_org.kind}.html", team_size=team_size,
                           pending_invitations=pending_invitations, recent_events=recent_events,
                           marketplaces=marketplaces, marks=marks_summary(current_org),
                           notices=notices_summary(current_org), intel=intel_summary(current_org),
                           this_week=this_week(current_org), report_labels=report_labels,
                           standings=goodfaith.scores(with_sides(partnerships_of(current_org)).where(
                               Partnership.status == "active").order_by(Partnership.id)))
