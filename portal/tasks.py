"""Background work on huey: `huey_consumer portal.tasks.huey` runs it beside the web server.

Storage is SQLite in the instance folder by default and Redis when REDIS_URL is set (several web and
worker machines). Tests set HUEY_IMMEDIATE=1 so tasks run inline. Every task runs inside an app context,
with its own database connection, and audits as "worker".
"""
import contextlib
import functools
import os

from flask import has_app_context
from huey import RedisHuey, SqliteHuey, crontab

from portal.config import env_bool, instance_path


def make_huey():
    immediate = env_bool("HUEY_IMMEDIATE", False)
    if os.environ.get("REDIS_URL"):
        return RedisHuey("alliance-portal", url=os.environ["REDIS_URL"], immediate=immediate)
    folder = instance_path()
    folder.mkdir(parents=True, exist_ok=True)
    return SqliteHuey("alliance-portal", filename=str(folder / "huey.db"), immediate=immediate)


huey = make_huey()
_worker_app = None


@contextlib.contextmanager
def app_context():
    """The app context a task runs in: the caller's (immediate mode, CLI) or the worker's own app."""
    if has_app_context():
        yield
        return
    global _worker_app
    if _worker_app is None:
        from portal import create_app
        _worker_app = create_app()
    from portal import audit
    from portal.db import db
    with _worker_app.app_context(), audit.acting_as("worker"), db.connection_context():
        yield


def in_app_context(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with app_context():
            return func(*args, **kwargs)
    return wrapper


@huey.periodic_task(crontab(minute="*/10"))
@in_app_context
def end_expired_sessions():
    """Close login sessions past their idle or absolute limit, so the sessions table says who is signed in."""
    from portal.accounts.sessions import end_expired_sessions as end_expired
    return end_expired()


@huey.periodic_task(crontab(minute="17", hour="3"))
@in_app_context
def purge_expired_oauth_credentials():
    """Daily: delete authorization codes and tokens past their lifetimes (they are dead, not evidence)."""
    from portal.oauth.services import purge_expired_credentials
    return purge_expired_credentials()
