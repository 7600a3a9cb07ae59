"""Reading and writing many rows at the speed of the database driver: one statement per table and shape,
its text built once per process, run with the driver's own `executemany` (SQLite; psycopg pipelines it on
PostgreSQL) or COPY (inserts on PostgreSQL), and lookups by a list of keys read as tuples.

Why not peewee's query builder here: it renders an INSERT of a thousand rows as one statement with a
parameter per cell (17,000 for a batch of marks) at every batch, and building that text cost more than the
database's own work; a SELECT per batch likewise, and a model instance per row read. Values go to the
driver as they are, so they must already be in the stored form: ids (not model instances), packed lists as
text; dates and timestamps as Python values (sqlite3 writes them through the adapters peewee and portal.db
register, as for peewee's own queries). Each statement is one event for the database's query hooks, and
the driver's errors arrive as peewee's (IntegrityError, OperationalError).

Plumbing: imports no domain. Callers run it inside their own transaction and scope it (the org is one of
the values or conditions they give).
"""
import time
from datetime import date, datetime
from functools import lru_cache

from peewee import BooleanField, DateField, DateTimeField, QueryEvent
from peewee import __exception_wrapper__ as driver_errors  # the driver's errors as peewee's (IntegrityError...)

from portal.db import converted_rows, db, is_postgresql


def _quoted(name):
    return '"' + name.replace('"', '""') + '"'


@lru_cache(maxsize=None)
def _columns(model, field_names):
    fields = [model._meta.fields[name] for name in field_names]
    return _quoted(model._meta.table_name), ", ".join(_quoted(field.column_name) for field in fields)


@lru_cache(maxsize=None)
def insert_sql(model, field_names, param):
    table, columns = _columns(model, field_names)
    return f"INSERT INTO {table} ({columns}) VALUES ({', '.join([param] * len(field_names))})"


@lru_cache(maxsize=None)
def copy_sql(model, field_names):
    table, columns = _columns(model, field_names)
    return f"COPY {table} ({columns}) FROM STDIN"


@lru_cache(maxsize=None)
def update_sql(model, field_names, param):
    """UPDATE of `field_names` of one row by id: each parameter row is (*values, id)."""
    table, _ = _columns(model, field_names)
    sets = ", ".join(f"{_quoted(model._meta.fields[name].column_name)} = {param}" for name in field_names)
    return f"UPDATE {table} SET {sets} WHERE {_quoted(model._meta.primary_key.column_name)} = {param}"


def _for_sqlite(value):
    """A date or timestamp as sqlite3 stores it (the adapters peewee and portal.db register: str)."""
    if isinstance(value, (date, datetime)):
        return str(value)
    return value


def _run(sql, write):
    """Run one statement for many rows (`write(cursor)`) as peewee runs a query: its errors as peewee's,
    and seen by the database's query hooks (the query counters of the tests and benchmarks) as one query."""
    started = time.perf_counter()
    error = None
    try:
        with driver_errors:
            write(db.cursor())
    except Exception as failed:
        error = failed
        raise
    finally:
        for hook in db.query_hooks:
            hook(QueryEvent(sql, (), time.perf_counter() - started, error))


@lru_cache(maxsize=None)
def _defaulted(model, field_names):
    """The fields `field_names` leaves out that have a default: peewee's insert fills them in, so must we."""
    return tuple(field for field in model._meta.sorted_fields
                 if field.name not in field_names and field.default is not None and field is not model._meta.primary_key)


def _with_defaults(model, field_names, rows):
    """The columns and rows with the model's defaults added (a callable default is called once per call).
    The rows come back as a generator: the driver reads them once, and SQLite's conversion joins the pass."""
    defaulted = _defaulted(model, field_names)
    if not defaulted:
        return field_names, rows
    values = tuple(field.db_value(field.default() if callable(field.default) else field.default)
                   for field in defaulted)
    return field_names + tuple(field.name for field in defaulted), (row + values for row in rows)


def insert(model, field_names, rows):
    """Insert `rows` (tuples in the order of `field_names`, stored values) into `model`'s table; the
    columns it leaves out get the model's defaults, as with peewee."""
    field_names = tuple(field_names)
    if not rows:
        return 0
    count = len(rows)
    field_names, rows = _with_defaults(model, field_names, rows)
    if is_postgresql():
        sql = copy_sql(model, field_names)

        def write(cursor):
            with cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)
        _run(sql, write)
        return count
    sql = insert_sql(model, field_names, "?")
    _run(sql, lambda cursor: cursor.executemany(sql, rows))  # dates as they are: sqlite3's adapters (portal.db)
    return count


def update(model, field_names, rows):
    """Set `field_names` of many rows by id: `rows` are (*values, id) tuples, one per row."""
    field_names = tuple(field_names)
    if not rows:
        return 0
    sql = update_sql(model, field_names, "%s" if is_postgresql() else "?")
    _run(sql, lambda cursor: cursor.executemany(sql, rows))
    return len(rows)


@lru_cache(maxsize=None)
def select_in_sql(model, field_names, equal_names, in_name, count, param):
    """The SELECT of `select_in`. On PostgreSQL (`count` None) the values are one array parameter,
    `= ANY(%s)`: one statement text whatever their number, which psycopg prepares once and the server plans
    once, where an IN list of a new length is parsed and planned again (a few ms for a batch's keys)."""
    table, columns = _columns(model, field_names)
    fields = model._meta.fields
    conditions = [f"{_quoted(fields[name].column_name)} = {param}" for name in equal_names]
    column = _quoted(fields[in_name].column_name)
    conditions.append(f"{column} = ANY({param})" if count is None else f"{column} IN ({', '.join([param] * count)})")
    return f"SELECT {columns} FROM {table} WHERE {' AND '.join(conditions)}"


def _date_reader(python_value):
    """A DateField's python_value with a fast path for the text SQLite hands back, "2031-05-31": the date
    peewee makes of it (it parses it with datetime.fromisoformat), without its lambdas; anything else, and
    a date object from PostgreSQL, goes to python_value."""
    def read(value):
        if value.__class__ is str and len(value) == 10:
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        return python_value(value)
    return read


@lru_cache(maxsize=None)
def _readers(model, field_names):
    """(position, python_value) of the columns the driver does not hand back as Python wants them:
    dates and timestamps stored as text on SQLite, booleans stored as integers."""
    readers = []
    for index, name in enumerate(field_names):
        field = model._meta.fields[name]
        if isinstance(field, DateTimeField) or isinstance(field, BooleanField):
            readers.append((index, field.python_value))
        elif isinstance(field, DateField):
            readers.append((index, _date_reader(field.python_value)))
    return tuple(readers)


def select_in(model, field_names, equal, in_name, values):
    """Rows (tuples of `field_names`, Python values) of `model` whose fields equal `equal` ({name: value})
    and whose `in_name` is one of `values`: a SELECT compiled once per shape, for lookups by natural key a
    batch at a time. The caller scopes it (the org is one of `equal`)."""
    field_names, values = tuple(field_names), list(values)
    if not values:
        return []
    equal_names = tuple(equal)
    if is_postgresql():
        sql = select_in_sql(model, field_names, equal_names, in_name, None, "%s")
        params = [*equal.values(), values]
    else:
        sql = select_in_sql(model, field_names, equal_names, in_name, len(values), "?")
        params = [_for_sqlite(v) for v in equal.values()] + values
    found = []

    def read(cursor):
        cursor.execute(sql, params)
        found.extend(cursor.fetchall())
    _run(sql, read)
    return converted_rows(found, _readers(model, field_names))



def gathers_statistics():
    """Whether the database plans from statistics that `analyze` refreshes (PostgreSQL). SQLite keeps none
    unless asked, and plans a lookup by the columns of its indexes."""
    return is_postgresql()


def analyze(model, field_names=()):
    """Have PostgreSQL gather its planner statistics of `model`'s table now (of `field_names` only, when
    given), after many rows went in since autovacuum last did, so that the next lookups are planned from
    what the table holds. Run it outside a transaction (it holds a lock against other ANALYZEs until its
    transaction ends). SKIP_LOCKED: when autovacuum is gathering them already, it does not wait for it."""
    if gathers_statistics():
        columns = ", ".join(_quoted(model._meta.fields[name].column_name) for name in field_names)
        sql = f"ANALYZE (SKIP_LOCKED) {_quoted(model._meta.table_name)}" + (f" ({columns})" if columns else "")
        _run(sql, lambda cursor: cursor.execute(sql))
