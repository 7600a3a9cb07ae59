"""The weekly reports' background work: snapshots of ended weeks."""
from huey import crontab

from portal.reports.services import snapshot_closed_weeks
from portal.worker import huey, in_app_context


@huey.periodic_task(crontab(minute="*/15"))
@in_app_context
def snapshot_weekly_reports():
    """Every 15 minutes: snapshot each org's week once it has ended in the org's zone (zones end their
    weeks at different hours), which also announces report.weekly.ready."""
    return snapshot_closed_weeks()
