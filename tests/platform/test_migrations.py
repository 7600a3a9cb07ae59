"""`flask --app wsgi db upgrade` on an empty database builds exactly the schema the models describe."""
import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import pytest
from playhouse.schema_diff import diff_models

from portal.db import open_database
from portal.models import ALL_MODELS
from tests.servers import ScratchDatabases

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def new_database(app, tmp_path):
    """Makes brand-new empty databases of the kind the suite runs on; returns their URLs."""
    url = app.config["DATABASE_URL"]
    created, admin = [], None
    if url.startswith("postgres"):
        admin = open_database(url)
        admin.connect()
        admin.connection().autocommit = True

    def make():
        name = f"portal_test_fresh_{uuid.uuid4().hex[:8]}"
        if admin is None:
            return f"sqlite:///{tmp_path / name}.db"
        admin.execute_sql(f'CREATE DATABASE "{name}"')
        created.append(name)
        return urlunparse(urlparse(url)._replace(path=f"/{name}"))

    yield make
    for name in created:  # not WITH (FORCE): that would have to end autovacuum's workers, which we may not
        admin.execute_sql(ScratchDatabases.terminate_ours(name))
        admin.execute_sql(f'DROP DATABASE IF EXISTS "{name}"')
    if admin is not None:
        admin.close()
        admin.close_all()


def schema_of(url):
    """Tables with their columns (type, nullability, key), foreign keys and indexes, as the database has them."""
    database = open_database(url)
    schema = {}
    with database.connection_context():
        for table in database.get_tables():
            if table == "schema_migration":
                continue
            schema[table] = {
                "columns": sorted((c.name, c.data_type.lower(), c.null, c.primary_key)
                                  for c in database.get_columns(table)),
                "foreign_keys": sorted((f.column, f.dest_table, f.dest_column)
                                       for f in database.get_foreign_keys(table)),
                "indexes": sorted((i.name, tuple(i.columns), i.unique) for i in database.get_indexes(table)),
            }
    if hasattr(database, "close_all"):
        database.close_all()
    return schema


def flask_cli(database_url, *args, instance=None):
    env = dict(os.environ, DATABASE_URL=database_url)
    if instance:
        env["INSTANCE_PATH"] = str(instance)
    return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_upgrade_builds_exactly_the_schema_the_models_create(new_database, tmp_path):
    """Columns, types, nullability, foreign keys and indexes: migrations == Model.create_table()."""
    migrated, from_models = new_database(), new_database()
    assert migrated != from_models
    assert flask_cli(migrated, "db", "upgrade", instance=tmp_path).returncode == 0
    database = open_database(from_models)
    with database.bind_ctx(ALL_MODELS), database.connection_context():
        database.create_tables(ALL_MODELS)
    if hasattr(database, "close_all"):
        database.close_all()
    expected, actual = schema_of(from_models), schema_of(migrated)
    assert sorted(actual) == sorted(expected)
    for table in expected:
        assert actual[table] == expected[table], f"table {table} differs"


def test_upgrade_on_an_empty_database_then_status(new_database, tmp_path):
    empty_database_url = new_database()
    status = flask_cli(empty_database_url, "db", "status", instance=tmp_path)
    assert status.returncode == 0, status.stderr
    assert '"pending": [\n    "0001_initial"' in status.stdout

    result = flask_cli(empty_database_url, "db", "upgrade", instance=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "0001_initial" in result.stdout

    database = open_database(empty_database_url)
    with database.connection_context():
        difference = diff_models(database, ALL_MODELS)
        assert not difference, f"migrations and models disagree:\n{difference}"
        for model in ALL_MODELS:
            columns = {c.name: c for c in database.get_columns(model._meta.table_name)}
            for field in model._meta.sorted_fields:
                if not field.primary_key:
                    assert columns[field.column_name].null == field.null, \
                        f"{model._meta.table_name}.{field.column_name}: nullability differs"
    if hasattr(database, "close_all"):
        database.close_all()

    again = flask_cli(empty_database_url, "db", "upgrade", instance=tmp_path)
    assert again.returncode == 0 and '"applied": []' in again.stdout
    status = flask_cli(empty_database_url, "db", "status", instance=tmp_path)
    assert '"pending": []' in status.stdout


def test_schema_of_the_test_database_matches_the_models(app):
    from portal.db import db
    assert not diff_models(db.obj, ALL_MODELS)


def test_a_bad_database_url_is_a_clear_error(tmp_path):
    result = flask_cli("mysql://somewhere/db", "db", "status", instance=tmp_path)
    assert result.returncode != 0
    assert "DATABASE_URL must start with sqlite:/// or postgresql://" in result.stderr
