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

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def empty_database_url(app, tmp_path):
    """A brand-new empty database of the same kind as the one the suite runs on."""
    url = app.config["DATABASE_URL"]
    if not url.startswith("postgres"):
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    name = f"portal_test_fresh_{uuid.uuid4().hex[:8]}"
    admin = open_database(url)
    admin.connect()
    admin.connection().autocommit = True
    admin.execute_sql(f'CREATE DATABASE "{name}"')
    try:
        yield urlunparse(urlparse(url)._replace(path=f"/{name}"))
    finally:
        admin.execute_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
        admin.close_all()


def flask_cli(database_url, *args, instance=None):
    env = dict(os.environ, DATABASE_URL=database_url)
    if instance:
        env["INSTANCE_PATH"] = str(instance)
    return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_upgrade_on_an_empty_database_builds_the_models_schema(empty_database_url, tmp_path):
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
