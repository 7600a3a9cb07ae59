"""The worker process: `huey_consumer portal.consumer.huey`. Each domain keeps its tasks in its own
`tasks` module; importing them here registers them all with the one huey instance (portal.worker), as
create_app registers every blueprint. Nothing imports this module: it is a composition root."""
from portal.accounts import tasks as accounts_tasks  # noqa: F401
from portal.api import tasks as api_tasks  # noqa: F401
from portal.imports import tasks as import_tasks  # noqa: F401
from portal.marks import tasks as marks_tasks  # noqa: F401
from portal.notifications import tasks as notifications_tasks  # noqa: F401
from portal.oauth import tasks as oauth_tasks  # noqa: F401
from portal.reports import tasks as reports_tasks  # noqa: F401
from portal.sla import tasks as sla_tasks  # noqa: F401
from portal.webhooks import tasks as webhooks_tasks  # noqa: F401
from portal.worker import huey  # noqa: F401
