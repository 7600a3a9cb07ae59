"""The database: chosen from DATABASE_URL, one connection per request, schema only through migrations.

Models bind to `db`, a proxy, so the same model classes serve SQLite (embedded default) and PostgreSQL
(production). `configure_database` is called once per process by the app factory.
"""
from pathlib import Path

from flask import request
from peewee import DatabaseProxy, Model, PostgresqlDatabase, SqliteDatabase
from playhouse import db_url
from playhouse.pool import PooledPostgresqlDatabase

from portal.config import env_int
from playhouse.migrations import Runner

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

db = DatabaseProxy()

# WAL lets readers run beside the single writer; the busy timeout makes a second writer wait instead of
# failing with "database is locked"; SQLite leaves foreign keys off unless asked.
SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "busy_timeout": 10000,
    "synchronous": "normal",
}


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False


def open_database(url):
    """A peewee Database for a DATABASE_URL (sqlite:///path or postgresql://user:pass@host/name)."""
    scheme = url.split(":", 1)[0]
    if scheme == "sqlite":
        path = db_url.parse(url)["database"]
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Every transaction takes the write lock up front (BEGIN IMMEDIATE): a read-then-write transaction
        # can then never fail half-way with SQLITE_BUSY when another writer got there first.
        return SqliteDatabase(path, pragmas=SQLITE_PRAGMAS, timeout=10, lock_type="IMMEDIATE")
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
    """A SELECT on a hot path (the bearer-token check of every API request), compiled to SQL once.

    Peewee builds the SQL text anew on every execution, which costs more than running the query
    itself. `build(*placeholders)` returns the peewee query; its SQL is generated on first use (per
    database, so quoting and parameter style fit) and then run with new parameters. `first(*params)`
    returns the first row as a tuple of Python values (each column's `python_value` applied), or None.
    """

    def __init__(self, build, arity=1):
        self.build = build
        self.arity = arity
        self._compiled = {}

    def _compile(self):
        key = type(db.obj)
        if key not in self._compiled:
            query = self.build(*[f"__param_{n}__" for n in range(self.arity)])
            sql, params = query.sql()
            assert params == [f"__param_{n}__" for n in range(self.arity)], "parameters must appear in order"
            self._compiled[key] = (sql, [column.python_value for column in query._returning])
        return self._compiled[key]

    def first(self, *params):
        sql, converters = self._compile()
        row = db.execute_sql(sql, params).fetchone()
        if row is None:
            return None
        return tuple(convert(value) for convert, value in zip(converters, row))


def connect_for_request():
    if request.endpoint != "static":  # stylesheets and scripts never touch the database
        db.connect(reuse_if_open=True)


def close_after_request(_exc=None):
    if not db.is_closed():
        if db.in_transaction():
            # A view that raised inside db.atomic() has already rolled back; this only guards against
            # a connection left mid-transaction by a bug, which must never be committed by accident.
            db.rollback()
        db.close()


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
