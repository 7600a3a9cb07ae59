"""Issue 19: connections that outlive requests. SQLite keeps one connection per thread (opened, its pragmas
set and its schema parsed once); PostgreSQL borrows from its pool. Either way a request never sees a
transaction an earlier one left open, and on SQLite a kept connection is opened again when the database
file was replaced (a restore), when it failed, or in a forked child, and is never shared between threads."""
import os
import shutil
import sqlite3
import threading

import pytest
from peewee import OperationalError

from portal import backups
from portal import db as database
from portal.accounts.models import Organization
from portal.db import KeptSqliteDatabase, db, is_postgresql, open_database
from tests.platform.test_backup import portal_sqlite


def kept(app):
    if is_postgresql():
        pytest.skip("PostgreSQL borrows a connection from its pool for each request")
    assert isinstance(db.obj, KeptSqliteDatabase)
    return db.obj


def raw(database_obj=None):
    """The thread's DB-API connection, or None when it has none open."""
    database_obj = database_obj or db.obj
    return None if database_obj.is_closed() else database_obj._state.conn


def in_thread(work):
    """Run `work()` in a new thread; returns its result (or raises its exception)."""
    outcome = {}

    def run():
        try:
            outcome["value"] = work()
        except BaseException as error:  # shown by the caller
            outcome["error"] = error
    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def test_requests_of_one_thread_reuse_its_connection_with_the_pragmas_set_once(app, client):
    kept(app)
    assert client.get("/healthz").status_code == 200
    first = raw()
    assert first is not None  # kept open after the request
    assert client.get("/healthz").status_code == 200
    assert raw() is first
    assert first.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert first.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert not first.in_transaction


def test_each_thread_has_its_own_connection_and_keeps_it_across_tasks(app):
    kept(app)
    with app.app_context(), db.connection_context():
        mine = raw()

    def worker_thread():  # two tasks in a row on one worker thread (huey runs each in connection_context)
        seen = []
        for _ in range(2):
            with app.app_context(), db.connection_context():
                Organization.select().count()
                seen.append(raw())
        return seen

    first, second = in_thread(worker_thread)
    assert first is second and first is not mine  # kept between the thread's tasks, never the main thread's
    assert raw() is mine
    with pytest.raises(sqlite3.ProgrammingError):  # and sqlite3 refuses a connection used from another thread
        in_thread(lambda: mine.execute("SELECT 1"))


def test_a_transaction_left_open_is_rolled_back_at_the_end_of_the_request(app, world):
    """A bug leaving a transaction open must neither commit it nor hand it to the next request (on either
    database); on SQLite the connection it was on is closed."""
    with app.app_context():
        database.acquire()
        transaction = db.atomic()
        transaction.__enter__()  # never left: the bug
        Organization.create(slug="left-open", name="Left open", kind="brand")
        left = raw()
    assert not db.in_transaction()
    assert not Organization.select().where(Organization.slug == "left-open").exists()
    if not is_postgresql():
        assert raw() is not left and left is not None
        with pytest.raises(sqlite3.ProgrammingError):
            left.execute("SELECT 1")  # closed


def test_a_select_left_unread_does_not_hold_the_next_request_in_the_past(app):
    """A query read only in part keeps its statement, and with it a WAL read snapshot, alive: had it
    outlived its request (a reference cycle), the next request on the thread would not see what other
    connections committed since. Its cursor is closed at the request's end, as closing the connection was."""
    kept(app)
    for n in range(4):
        Organization.create(slug=f"org-{n}", name=f"Org {n}", kind="brand")
    leaked = []
    with app.app_context():
        database.acquire()
        rows = iter(Organization.select().order_by(Organization.id))
        next(rows)
        leaked.append(rows)  # outlives the request
    in_thread(lambda: Organization.create(slug="org-new", name="Committed meanwhile", kind="brand"))
    with app.app_context():
        database.acquire()
        assert Organization.select().count() == 5
    with pytest.raises(Exception):
        next(leaked[0])  # it ended with its request, as it did when the request closed its connection


def test_a_connection_that_failed_is_opened_again(app, client):
    kept(app)
    with app.app_context():
        database.acquire()
        before = raw()
        with pytest.raises(OperationalError):
            db.execute_sql("SELECT * FROM no_such_table")
    after_failure = raw()
    assert after_failure is None or after_failure is not before  # not kept
    assert client.get("/healthz").status_code == 200 and raw() is not before


def test_a_replaced_database_file_is_opened_again_by_every_kept_connection(app, tmp_path):
    """A file replaced under the portal (a restore over a damaged database, an operator's mv) is the new
    one at each thread's next request; the threads' old connections read the old file no more."""
    kept(app)
    live = portal_sqlite(tmp_path / "instance" / "portal.db", organizations=1)
    other = portal_sqlite(tmp_path / "other.db", organizations=3)
    working = db.obj
    db.initialize(open_database(f"sqlite:///{live}"))
    try:
        go, done = threading.Event(), threading.Event()
        counts = []

        def request_thread():  # two requests on one gunicorn thread, the file replaced between them
            for event in (go, None):
                with app.app_context():
                    database.acquire()
                    counts.append(Organization.select().count())
                if event:
                    done.set()
                    event.wait(30)
        thread = threading.Thread(target=request_thread)
        thread.start()
        done.wait(30)
        with app.app_context():
            database.acquire()
            assert Organization.select().count() == 1
        replacement = tmp_path / "instance" / ".replacement"
        shutil.copyfile(other, replacement)
        os.replace(replacement, live)
        go.set()
        thread.join(30)
        with app.app_context():
            database.acquire()
            assert Organization.select().count() == 3
        assert counts == [1, 3]
    finally:
        if not db.obj.is_closed():
            db.obj.close()
        db.initialize(working)


def test_a_restore_in_a_process_holding_a_connection_serves_the_restored_file(app, tmp_path):
    """`db restore` in a process whose thread kept a connection (the CLI reads the audit chain right after):
    its own idle connection does not count as the portal running, and what it reads next is the backup."""
    kept(app)
    source = portal_sqlite(tmp_path / "source.db", organizations=3)
    backups.backup(f"sqlite:///{source}", tmp_path / "good.backup")
    live = portal_sqlite(tmp_path / "instance" / "portal.db", organizations=1)
    working = db.obj
    db.initialize(open_database(f"sqlite:///{live}"))
    try:
        with app.app_context():
            database.acquire()
            assert Organization.select().count() == 1
        assert raw() is not None
        restored = backups.restore(f"sqlite:///{live}", tmp_path / "good.backup", force=True)
        assert restored["tables"]["organization"] == 3
        with app.app_context(), db.connection_context():
            assert Organization.select().count() == 3
            assert db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"  # the new file, set up anew
    finally:
        if not db.obj.is_closed():
            db.obj.close()
        db.initialize(working)


def test_a_forked_child_never_uses_its_parents_connection(app):
    kept(app)
    with app.app_context():
        database.acquire()
        parent = raw()
    pid, opened_as = db.obj._state.opened_as[0], db.obj._state.opened_as
    db.obj._state.opened_as = (pid + 1,) + opened_as[1:]  # as a child sees it after fork()
    try:
        with app.app_context():
            database.acquire()
            assert raw() is not parent
            assert Organization.select().count() >= 0
        parent.execute("SELECT 1")  # abandoned, not closed: it is the parent's
    finally:
        parent.close()

