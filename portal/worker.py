"""The one huey instance and the context its tasks run in (plumbing: it imports no domain).

Each domain keeps its tasks in its own `tasks` module (`portal/marks/tasks.py`, ...), registered with this
instance when imported; `portal/consumer.py` imports them all for `huey_consumer portal.consumer.huey`.
Storage is SQLite in the instance folder by default and Redis when REDIS_URL is set (several web and
worker machines). Tests set HUEY_IMMEDIATE=1 so tasks run inline. Every task runs inside an app context,
with its own database connection, and audits as "worker".
"""
import contextlib
import functools
import logging
import os
import threading

from flask import has_app_context
from huey import RedisHuey, SqliteHuey

from portal.config import env_bool, instance_path

log = logging.getLogger(__name__)


def make_huey():
    immediate = env_bool("HUEY_IMMEDIATE", False)
    if os.environ.get("REDIS_URL"):
        return RedisHuey("alliance-portal", url=os.environ["REDIS_URL"], immediate=immediate)
    folder = instance_path()
    folder.mkdir(parents=True, exist_ok=True)
    return SqliteHuey("alliance-portal", filename=str(folder / "huey.db"), immediate=immediate)


huey = make_huey()
_worker_app = None
_worker_app_lock = threading.Lock()


def worker_app():
    """The worker's app, created once. The consumer's threads start tasks at the same moment (the periodic
    ones at each minute): without the lock two of them build an app at once, and create_app, binding the
    module-level API object, fails in one of them, losing that task (an import then waits for the resume)."""
    global _worker_app
    if _worker_app is None:
        with _worker_app_lock:
            if _worker_app is None:
                from portal import create_app
                _worker_app = create_app()
    return _worker_app


@contextlib.contextmanager
def app_context():
    """The app context a task runs in: the caller's (immediate mode, CLI) or the worker's own app."""
    if has_app_context():
        yield
        return
    app = worker_app()
    from portal import audit
    from portal.db import db
    with app.app_context(), audit.acting_as("worker"), db.connection_context():
        yield


def in_app_context(func):
    """Run the task in an app context. On the worker, a database that cannot be reached costs the task one
    line in the log, not a traceback: the consumer goes on, periodic tasks run again at their next time,
    an import is resumed after its last committed batch and a webhook delivery stays due."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if has_app_context():  # immediate mode (tests), the CLI: the caller sees every exception
            return func(*args, **kwargs)
        from peewee import InterfaceError, OperationalError
        from playhouse.pool import MaxConnectionsExceeded
        try:
            with app_context():
                return func(*args, **kwargs)
        except (OperationalError, InterfaceError, MaxConnectionsExceeded) as error:
            log.error("task %s skipped: the database is unavailable (%s: %s)", func.__name__,
                      type(error).__name__, str(error).strip())
            return None
    return wrapper
