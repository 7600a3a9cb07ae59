"""The database: chosen from DATABASE_URL, one transaction scope per request, schema only through migrations.

Models bind to `db`, a proxy, so the same model classes serve SQLite (embedded default) and PostgreSQL
(production). `configure_database` is called once per process by the app factory.

Connections outlive requests. PostgreSQL borrows one from a pool for each request (or task) and hands it
back. SQLite keeps one connection per thread (`KeptSqliteDatabase`): opening one, setting its pragmas and
parsing the schema at its first statement cost a third of a small request. A kept connection is checked
before each use and opened again when the database file was replaced (a restore), when it failed, or in a
forked child; a request never inherits a transaction (whatever one left open is rolled back at its end).
"""
import os
import sqlite3
import threading
import weakref
from datetime import datetime
from pathlib import Path

from flask import request
from peewee import (DatabaseError, DatabaseProxy, InterfaceError, InternalError, Model, OperationalError,
                    PostgresqlDatabase, SqliteDatabase)
from playhouse import db_url
from playhouse.pool import PooledPostgresqlDatabase

from portal.config import env_int
from playhouse.migrations import Runner

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

# How sqlite3 writes a timestamp: str(datetime), the same text as its default adapter (isoformat(" "),
# deprecated from Python 3.12, where peewee registers that same function), but without a Python call per
# value. peewee itself registers str for dates. So rows of dates and timestamps go to sqlite3 as they are,
# from peewee's queries and portal.bulk's alike.
sqlite3.register_adapter(datetime, str)


class PortalDatabaseProxy(DatabaseProxy):
    """The models' database. peewee's proxy builds its connection context on itself, which would connect
    and close the real database around every task; this one asks the database it stands for."""

    def connection_context(self):
        return ConnectionScope(self)


class ConnectionScope:
    """`with db.connection_context():` around a task, a script or a streamed response: the outermost one
    takes the thread's connection (`acquire`) and gives it back at its end (`release`)."""

    __slots__ = ("target", "database")

    def __init__(self, target):
        self.target, self.database = target, None

    def __enter__(self):
        database = self.target.obj if isinstance(self.target, DatabaseProxy) else self.target
        if not database._state.ctx:
            acquire(database)
        database._state.ctx.append(self)
        self.database = database
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        database, self.database = self.database, None
        database._state.ctx.pop()
        if not database._state.ctx:
            release(database)

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def inner(*args, **kwargs):
            with ConnectionScope(self.target):
                return fn(*args, **kwargs)
        return inner


db = PortalDatabaseProxy()

# WAL lets readers run beside the single writer; the busy timeout makes a second writer wait instead of
# failing with "database is locked"; SQLite leaves foreign keys off unless asked.
SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "busy_timeout": 10000,
    "synchronous": "normal",
    # Connections stay open, so the WAL file is never removed by a last close: truncate it after a
    # checkpoint instead of letting it keep its largest size.
    "journal_size_limit": 64 * 1024 * 1024,
}


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False


# Errors after which a kept SQLite connection is not trusted again: the file went away or is damaged, the
# disk failed. Constraint and programming errors say nothing about the connection.
SUSPECT_ERRORS = (OperationalError, InterfaceError, InternalError)

_generation = 0  # bumped when every kept connection of the process must be opened again
_generation_lock = threading.Lock()


def file_identity(path):
    """(device, inode) of the database file, or None when there is none: a replaced file has a new inode."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino


class KeptSqliteDatabase(SqliteDatabase):
    """SQLite with one connection kept open per thread, across requests and tasks.

    peewee keeps connection state per thread (threading.local) and sqlite3 refuses a connection used from
    another thread, so each gunicorn thread and each huey worker thread has its own. `acquire()` (at a
    request's or task's start) reuses the thread's connection unless it must be opened again:
    - the database file is not the one it opened (replaced by a restore, moved away, deleted);
    - `reopen_kept_connections()` was called (this process restored the file);
    - a statement on it failed with an error that may come from the connection or the file;
    - the process is a fork of the one that opened it (a SQLite connection must not cross a fork).
    `release()` (at the end) keeps it, except when a transaction was left open: then it is rolled back and
    the connection closed, so the next request starts clean. `close()` still closes.

    A SELECT not read to its end keeps its statement active, and with it the connection's read snapshot
    (WAL): every later query on the connection would see the database as it was then. So the cursors of a
    request are closed when it ends, as closing the connection used to do (even one kept alive by a
    reference cycle), and the next request sees every commit made meanwhile.
    """

    def _state_fields(self):
        state = self._state
        if not hasattr(state, "opened_as"):
            state.opened_as, state.suspect, state.cursors = None, False, weakref.WeakSet()
        return state

    def cursor(self, named_cursor=None):
        cursor = super().cursor(named_cursor)
        self._state_fields().cursors.add(cursor)
        return cursor

    def _close_cursors(self):
        cursors = self._state_fields().cursors
        for cursor in list(cursors):
            try:
                cursor.close()  # resets its statement: the read snapshot it held is let go
            except Exception:
                pass
        cursors.clear()

    def connect(self, reuse_if_open=False):
        identity = None if self.database == ":memory:" else file_identity(self.database)
        opened = super().connect(reuse_if_open)
        if opened:
            state = self._state_fields()
            state.opened_as, state.suspect = (os.getpid(), _generation, identity), False
            state.cursors.clear()
        return opened

    def _still_good(self):
        state = self._state_fields()
        if state.suspect or state.opened_as is None:
            return False
        pid, generation, identity = state.opened_as
        if pid != os.getpid():
            return False
        if generation != _generation:
            return False
        return self.database == ":memory:" or file_identity(self.database) == identity

    def _in_use(self):
        """A transaction or a connection context (a streamed download) is running on it."""
        return bool(self._state.ctx) or self.in_transaction()

    def acquire(self):
        """This thread's connection for a request or a task: the kept one when it is still good."""
        if not self.is_closed() and not self._in_use():
            if self._still_good():
                self._close_cursors()  # left by code that ran since the last release (a script, a test)
            else:
                self.drop()
        self.connect(reuse_if_open=True)

    def release(self):
        """The end of a request or task: keep the connection, unless a transaction was left open on it
        (rolled back and closed: it must never be committed by accident, nor seen by the next request),
        or it failed (closed; the next use opens a new one)."""
        if self.is_closed() or self._state.ctx:
            return
        conn = self._state.conn
        if self.in_transaction() or conn.in_transaction or self._state_fields().suspect:
            self.drop()
        else:
            self._close_cursors()

    def drop(self):
        """Close this thread's connection whatever its state, rolling back what it left open. In a forked
        child the parent's connection is abandoned, not closed (closing it would touch the parent's locks)."""
        state = self._state_fields()
        conn, opened_as = state.conn, state.opened_as
        state.reset()
        state.opened_as, state.suspect = None, False
        state.cursors.clear()
        if conn is None:
            return
        if opened_as is not None and opened_as[0] != os.getpid():
            _abandoned.append(conn)
            return
        try:
            if conn.in_transaction:
                conn.rollback()
        except Exception:  # a failed connection may refuse even that; closing it ends the transaction
            pass
        try:
            conn.close()
        except Exception:
            pass

    def _mark_suspect(self):
        if not self.is_closed():
            self._state_fields().suspect = True

    def execute_sql(self, sql, params=None):
        try:
            return super().execute_sql(sql, params)
        except SUSPECT_ERRORS:
            self._mark_suspect()
            raise
        except DatabaseError as error:
            if type(error) is DatabaseError:  # "file is not a database", "database disk image is malformed"
                self._mark_suspect()
            raise

    def begin(self, lock_type=None):
        try:
            return super().begin(lock_type)
        except SUSPECT_ERRORS:
            self._mark_suspect()
            raise

    def commit(self):
        try:
            return super().commit()
        except SUSPECT_ERRORS:
            self._mark_suspect()
            raise

    def rollback(self):
        try:
            return super().rollback()
        except SUSPECT_ERRORS:
            self._mark_suspect()
            raise

    def connection_context(self):
        """Like peewee's (the outermost context connects, its end closes), but a task keeps its thread's
        connection for the next one: acquire() at the start, release() at the end."""
        return ConnectionScope(self)


_abandoned = []  # connections inherited across a fork: never used nor closed in the child


def reopen_kept_connections():
    """Every kept SQLite connection of this process is opened again at its next use; this thread's is
    closed now (a restore is about to replace, or has replaced, the database file)."""
    global _generation
    with _generation_lock:
        _generation += 1
    database = db.obj
    if isinstance(database, KeptSqliteDatabase) and not database.is_closed() and not database._in_use():
        database.drop()


def open_database(url):
    """A peewee Database for a DATABASE_URL (sqlite:///path or postgresql://user:pass@host/name)."""
    scheme = url.split(":", 1)[0]
    if scheme == "sqlite":
        path = db_url.parse(url)["database"]
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Every transaction takes the write lock up front (BEGIN IMMEDIATE): a read-then-write transaction
        # can then never fail half-way with SQLITE_BUSY when another writer got there first.
        return KeptSqliteDatabase(path, pragmas=SQLITE_PRAGMAS, timeout=10, lock_type="IMMEDIATE")
    if scheme in ("postgres", "postgresql"):
        # Pooled: a request "connects" by borrowing a live connection and "closes" by returning it, so
        # per-request connections cost no TCP and authentication round trips.
        params = db_url.parse(url, unquote_password=True, unquote_user=True)
        return PooledPostgresqlDatabase(max_connections=env_int("DATABASE_POOL_SIZE", 20),
                                        stale_timeout=300, timeout=10, **params)
    raise ValueError(f"DATABASE_URL must start with sqlite:/// or postgresql://, got {scheme}://")


_configured_url = None


def configure_database(url):
    """Bind the models to DATABASE_URL, once per process.

    A second app in the same process must use the same database: re-pointing the shared proxy would
    silently move every other app (and test) onto another database.
    """
    global _configured_url
    if _configured_url is not None:
        if url != _configured_url:
            raise RuntimeError(f"this process already uses {_configured_url}; cannot switch to {url}")
        return db.obj
    database = open_database(url)
    db.initialize(database)
    _configured_url = url
    return database


def is_postgresql():
    return isinstance(db.obj, PostgresqlDatabase)


class PreparedSelect:
    """A SELECT on a hot path, compiled to SQL once per process instead of at every execution.

    Peewee builds a query's SQL text anew on every execution, walking its whole expression tree, which
    costs more than running the query itself (a page of 30 queries spent most of its time there).

    `build(*placeholders)` returns the peewee query, written exactly as it would be inline, with
    placeholders where the values of each execution go. It must be pure: whatever else it reads (a
    constant list, a column) is compiled into the SQL for good. Its SQL is generated on first use, per
    database class (so quoting and parameter style fit) and per `shape`, then run with new parameters.

    `shape` is for queries whose text depends on something other than values (the side of an org, whether
    a bound is inclusive, how many ids a list holds): with `shaped=True`, `build(shape, *placeholders)`;
    shapes must be hashable and few, and `arity` may be a function of the shape (a list of n ids takes n
    placeholders). A placeholder may appear several times, or inside constant
    expressions; a value whose column would convert it (a boolean) must not be a placeholder.

    Values are passed to the driver as given (ids, not model instances), as peewee passes them.
    - `first(*params)`: the first row as a tuple of Python values (each column's `python_value`), or None;
    - `rows(*params)`: every row, as the built query would give them (models, tuples or dicts);
    - `tuples(*params)`: every row as a tuple of Python values;
    - `scalar(*params)`: the first column of the first row, converted, or None.
    """

    def __init__(self, build, arity=1, shaped=False):
        self.build = build
        self.arity = arity
        self.shaped = shaped
        self._compiled = {}
        self._converters = {}

    def _arity(self, shape):
        return self.arity(shape) if callable(self.arity) else self.arity

    @staticmethod
    def placeholder(n):
        return f"\x00prepared-param-{n}\x00"

    def _compile(self, shape=None):
        key = (type(db.obj), shape)
        compiled = self._compiled.get(key)
        if compiled is None:
            marks = [self.placeholder(n) for n in range(self._arity(shape))]
            query = self.build(shape, *marks) if self.shaped else self.build(*marks)
            sql, params = query.sql()
            slots = {mark: n for n, mark in enumerate(marks)}
            template = tuple((slots[value], None) if isinstance(value, str) and value in slots else (None, value)
                             for value in params)
            missing = set(range(len(marks))) - {n for n, _ in template if n is not None}
            assert not missing, f"placeholders {sorted(missing)} were converted or left out of the SQL"
            # Rows are made by peewee's own cursor wrappers (each column's conversion, functions' included).
            compiled = self._compiled[key] = (sql, template, query, query.tuples())
        return compiled

    def _execute(self, params, shape):
        assert len(params) == self._arity(shape), f"{self._arity(shape)} parameters expected, got {len(params)}"
        sql, template, query, as_tuples = self._compile(shape)
        values = [params[n] if n is not None else constant for n, constant in template]
        return db.execute_sql(sql, values), query, as_tuples

    def _converted(self, cursor, as_tuples, shape, rows):
        """`rows` of `cursor` as tuples of Python values. Which column needs which conversion depends only
        on the SQL, so it is worked out (by peewee's own cursor wrapper) at the first execution and kept:
        resolving the columns again cost more than a small query itself."""
        key = (type(db.obj), shape)
        converting = self._converters.get(key)
        if converting is None:
            wrapper = as_tuples._get_cursor_wrapper(cursor)
            wrapper.initialize()
            converting = self._converters[key] = tuple((i, c) for i, c in enumerate(wrapper.converters) if c)
        return converted_rows(rows, converting)

    def first(self, *params, shape=None):
        cursor, _, as_tuples = self._execute(params, shape)
        try:
            row = cursor.fetchone()
            return None if row is None else self._converted(cursor, as_tuples, shape, [row])[0]
        finally:
            cursor.close()

    def scalar(self, *params, shape=None):
        row = self.first(*params, shape=shape)
        return None if row is None else row[0]

    def rows(self, *params, shape=None):
        cursor, query, _ = self._execute(params, shape)
        return list(query._get_cursor_wrapper(cursor).iterator())

    def tuples(self, *params, shape=None):
        cursor, _, as_tuples = self._execute(params, shape)
        try:
            return self._converted(cursor, as_tuples, shape, cursor.fetchall())
        finally:
            cursor.close()


def converted_rows(rows, converting):
    """Driver rows as tuples, each column `i` of `converting` ((i, python_value), ...) passed through its
    converter: the one loop prepared reads and portal.bulk's reads share."""
    if not converting:
        return [tuple(row) for row in rows]
    converted = []
    for row in rows:
        values = list(row)
        for i, convert in converting:
            values[i] = convert(values[i])
        converted.append(tuple(values))
    return converted


def padded_ids(ids):
    """`ids` (not empty) padded to the next power of two by repeating the last, with that length: a
    prepared `IN (...)` shaped by its length then needs a handful of statements (1, 2, 4, ... 512), not
    one per count. A repeated id changes nothing in an IN list."""
    ids = list(ids)
    size = 1 << (len(ids) - 1).bit_length()
    return size, ids + [ids[-1]] * (size - len(ids))


_BY_ID = {}


def get_by_id(model, pk):
    """`model.get_by_id(pk)` through a statement compiled once per model: for lookups by primary key on
    hot paths (a bulk move of 300 listings makes thousands), where peewee's SQL building costs more than
    the query. Raises `model.DoesNotExist` like peewee."""
    prepared = _BY_ID.get(model)
    if prepared is None:
        prepared = _BY_ID[model] = PreparedSelect(lambda key: model.select().where(model._meta.primary_key == key))
    rows = prepared.rows(pk)
    if not rows:
        raise model.DoesNotExist(f"{model.__name__} {pk} does not exist")
    return rows[0]


def acquire(database=None):
    """The connection of a request or task: the thread's kept one (SQLite) or one from the pool."""
    database = db.obj if database is None else database
    if isinstance(database, KeptSqliteDatabase):
        database.acquire()
    else:
        database.connect(reuse_if_open=True)


def release(database=None):
    """End of a request or task: a kept SQLite connection stays open; a pooled one goes back to the pool.
    Either way nothing is left in a transaction: a view that raised inside db.atomic() has already rolled
    back; this guards against a transaction left open by a bug, which must never be committed by accident
    nor seen by the next request. A connection a context still uses (a streamed download) is left to it."""
    database = db.obj if database is None else database
    if isinstance(database, KeptSqliteDatabase):
        database.release()
        return
    if not database.is_closed() and not database._state.ctx:
        try:
            if database.in_transaction():
                database.rollback()
        finally:  # back to the pool, which closes a connection left in a failed state
            del database._state.transactions[:]
            database.close()


def connect_for_request():
    if request.endpoint != "static":  # stylesheets and scripts never touch the database
        acquire()


def close_after_request(_exc=None):
    release()


def init_app(app):
    configure_database(app.config["DATABASE_URL"])
    app.before_request(connect_for_request)
    app.teardown_appcontext(close_after_request)


def migration_runner():
    return Runner(db.obj, directory=str(MIGRATIONS_DIR))


def upgrade():
    """Apply pending migrations; returns the names applied."""
    with db.connection_context():
        return migration_runner().up()


def status():
    """[(name, applied_at or None)] for every migration file and every recorded migration."""
    with db.connection_context():
        return [(m.name, m.applied) for m in migration_runner().status()]
