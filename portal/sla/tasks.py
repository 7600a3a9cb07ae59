"""The SLA clocks' background work: warnings and breaches as they happen."""
from huey import crontab

from portal.sla.clocks import check_clocks
from portal.worker import huey, in_app_context


@huey.periodic_task(crontab(minute="*"))
@in_app_context
def check_sla_clocks():
    """Every minute: emit sla.warning (75% of a target used) and sla.breached (deadline passed), once each."""
    warnings, breaches = check_clocks()
    return {"warnings": warnings, "breaches": breaches}
