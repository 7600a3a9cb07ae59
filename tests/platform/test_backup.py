"""`db backup` while the portal writes, and `db restore` (SQLite) or pg_restore (PostgreSQL) into a new
instance that then serves the data; bad targets and bad backups are refused with nothing lost."""
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import threading
import time
from urllib.parse import urlparse

import pytest
from playhouse.migrations import Runner
from peewee import SqliteDatabase

from portal import backups
from portal.accounts.models import Organization
from portal.audit import AuditHead, acting_as
from portal.db import MIGRATIONS_DIR, db
from portal.marks.models import Mark
from portal.marks.services import create_mark
from tests import servers
from tests.servers import limit_file_size, portal_env, query, run_flask, signed_in_session

processes, scratch = servers.processes, servers.scratch  # shared fixtures (a bare import would look unused)


def invoke(runner, *args):
    result = runner.invoke(args=list(args))
    return result.exit_code, json.loads(result.stdout)


def is_postgresql(app):
    return app.config["DATABASE_URL"].startswith("postgres")


class Writer(threading.Thread):
    """Audited changes, one transaction each, as fast as it can until stopped: creates marks and logs, for
    each, its registration number and the audit head's sequence number right after its commit (it is
    the only writer, so the head then is its event)."""

    def __init__(self, app, org):
        super().__init__(daemon=True)
        self.app, self.org, self.log, self.failure = app, org, [], None
        self.halt = threading.Event()

    def run(self):
        try:
            with self.app.app_context(), acting_as("writer"), db.connection_context():
                while not self.halt.is_set():
                    number = str(30000000 + len(self.log))
                    create_mark(self.org, dict(word=f"W{number}", office="USPTO", registration_number=number,
                                               nice_classes="9"))
                    self.log.append((number, AuditHead.get_by_id(1).seq))
        except BaseException as error:  # shown by the test
            self.failure = error

    def stop(self):
        self.halt.set()
        self.join(30)
        assert self.failure is None, self.failure


def check_consistent(backup, base_marks, base_seq, log):
    """The backup is the database at one moment between two of the writer's commits: its audit head is
    the event of the last mark it holds."""
    taken = backup["tables"]["mark"] - base_marks
    assert 0 <= taken <= len(log)
    assert backup["audit"]["events"] == (log[taken - 1][1] if taken else base_seq)
    assert backup["tables"]["audit_event"] == backup["audit"]["events"]
    return taken


def sign_in_and_find(base, numbers_present, number_absent):
    """Sign in as the admin; the marks page finds each number present (its word, W<number>, is listed)
    and not the absent one."""
    session = signed_in_session(base, "admin@microsoft.example")
    for number in numbers_present:
        assert f"W{number}" in session.get(f"{base}/marks", params={"q": number}).text
    if number_absent:
        assert f"W{number_absent}" not in session.get(f"{base}/marks", params={"q": number_absent}).text


def test_backups_taken_while_the_portal_writes_restore_into_a_working_portal(app, world, runner, scratch, processes,
                                                                             tmp_path):
    """Backups taken while another thread commits audited changes are each the database at one moment
    (their audit head is the event of the last mark they hold); one is restored into a new instance
    (SQLite: `db restore`; PostgreSQL: the pg_restore command `db restore` prints, into a new database),
    where `audit verify` passes, the counts are the backup's, and gunicorn serves it: the admin signs in
    and finds the marks the backup holds, and not the ones written after it."""
    org = world.org("Microsoft")
    world.person(org, "admin", email="admin@microsoft.example")
    for n in range(5):
        world.mark(org, word=f"W{2000000 + n}", number=str(2000000 + n))
    base_marks, base_seq = Mark.select().count(), AuditHead.get_by_id(1).seq
    writer = Writer(app, org)
    writer.start()
    taken, during = [], 0
    try:
        for n in range(3):
            time.sleep(0.1)
            before = len(writer.log)
            code, backup = invoke(runner, "db", "backup", str(tmp_path / f"backup-{n}"))
            during += len(writer.log) - before
            assert code == 0, backup
            taken.append(backup)
    finally:
        writer.stop()
    assert during > 0 and len(writer.log) > 5  # the portal kept writing while the backups ran
    kind = "postgresql" if is_postgresql(app) else "sqlite"
    for backup in taken:
        assert backup["database"] == kind and backup["integrity"] == "ok"
        assert backup["sha256"] == hashlib.sha256(open(backup["path"], "rb").read()).hexdigest()
        assert backup["bytes"] == os.path.getsize(backup["path"])
        check_consistent(backup, base_marks, base_seq, writer.log)
        if kind == "sqlite":  # checked again here, independently of the command
            assert query(f"sqlite:///{backup['path']}", "PRAGMA integrity_check") == [("ok",)]
    assert [name for name in os.listdir(tmp_path) if name.startswith(".")] == []  # no temporary files left

    backup = taken[-1]
    held = check_consistent(backup, base_marks, base_seq, writer.log)
    last_held = writer.log[held - 1][0] if held else None
    first_missing = writer.log[held][0] if held < len(writer.log) else None
    instance = tmp_path / "restored"
    if kind == "sqlite":
        url = f"sqlite:///{instance / 'portal.db'}"
        env = portal_env(url, instance)
        code, restored, stderr = run_flask(env, "db", "restore", backup["path"])
        assert code == 0, (restored, stderr)
        assert restored["audit"] == {"ok": True, "events": backup["audit"]["events"],
                                     "head_hash": backup["audit"]["head_hash"]}
        assert restored["previous"] is None and restored["pending"] == [] and restored["sha256"] == backup["sha256"]
    else:
        url = scratch.make("restore")
        env = portal_env(url, instance)
        code, refused, _ = run_flask(env, "db", "restore", backup["path"])
        assert code == 1 and "pg_restore" in refused["error"] and "is empty" in refused["error"]
        assert refused["command"][0] == "pg_restore" and refused["command"][-1] == backup["path"]
        done = subprocess.run(refused["command"], env=dict(os.environ, PGPASSWORD=urlparse(url).password),
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        code, verified, _ = run_flask(env, "audit", "verify")
        assert code == 0 and verified == {"ok": True, "events": backup["audit"]["events"],
                                          "head_hash": backup["audit"]["head_hash"]}
    for table, count in backup["tables"].items():
        assert query(url, f'SELECT COUNT(*) FROM "{table}"') == [(count,)], table
    sign_in_and_find(processes.gunicorn(env).url, ["2000004"] + ([last_held] if last_held else []), first_missing)


def test_a_backup_never_overwrites_by_surprise_nor_leaves_a_half_file(app, world, runner, tmp_path):
    world.org("Microsoft")
    code, data = invoke(runner, "db", "backup", str(tmp_path / "no" / "such" / "folder" / "backup"))
    assert code == 1 and "does not exist" in data["error"]
    existing = tmp_path / "existing"
    existing.write_bytes(b"precious")
    code, data = invoke(runner, "db", "backup", str(existing))
    assert code == 1 and "already exists" in data["error"] and "--force" in data["error"]
    assert existing.read_bytes() == b"precious"
    code, data = invoke(runner, "db", "backup", str(tmp_path))
    assert code == 1 and "is a folder" in data["error"]
    code, data = invoke(runner, "db", "backup", "--force", str(existing))
    assert code == 0 and data["tables"]["organization"] == 1
    assert hashlib.sha256(existing.read_bytes()).hexdigest() == data["sha256"]
    assert sorted(os.listdir(tmp_path)) == ["existing"]


def test_a_backup_that_runs_out_of_room_leaves_nothing(app, world, tmp_path):
    """The backup process may not write more than 64 KB (RLIMIT_FSIZE, as a full disk): the copy fails,
    the command says so and nothing is left at PATH or beside it."""
    world.org("Microsoft")
    for n in range(20):
        world.mark(world.org(f"Brand {n}"), number=str(2100000 + n))
    env = portal_env(app.config["DATABASE_URL"], tmp_path / "instance")
    target = tmp_path / "backups" / "portal.backup"
    target.parent.mkdir()
    code, data, stderr = run_flask(env, "db", "backup", str(target), preexec_fn=limit_file_size(64 * 1024))
    assert code == 1 and "nothing was written" in data["error"].lower(), (data, stderr)
    assert os.listdir(target.parent) == []


# --- restoring: what is refused ---------------------------------------------------------------------------

def portal_sqlite(path, organizations=1):
    """A migrated SQLite portal database at `path` with `organizations` rows (the model bound to it for a
    moment: this test runs no other thread)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    database = SqliteDatabase(str(path))
    Runner(database, directory=str(MIGRATIONS_DIR)).up()
    with database.bind_ctx([Organization], bind_refs=False, bind_backrefs=False):
        for n in range(organizations):
            Organization.create(slug=f"org-{n}", name=f"Org {n}", kind="brand")
    database.close()
    return path


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_restore_refuses_what_is_not_a_good_backup_and_changes_nothing(tmp_path):
    source = portal_sqlite(tmp_path / "source.db", organizations=3)
    good = tmp_path / "good.backup"
    made = backups.backup(f"sqlite:///{source}", good)
    assert made["tables"]["organization"] == 3
    live = portal_sqlite(tmp_path / "instance" / "portal.db", organizations=1)
    url, before = f"sqlite:///{live}", digest(live)

    def untouched():
        assert query(url, "SELECT slug FROM organization") == [("org-0",)]
        assert query(url, "PRAGMA integrity_check") == [("ok",)]
        assert [name for name in os.listdir(live.parent) if name.startswith(".")] == []  # no temporary file

    def refused(backup_path, *words, force=False):
        with pytest.raises(backups.BackupRefused) as caught:
            backups.restore(url, backup_path, force=force)
        for word in words:
            assert word in caught.value.message
        untouched()

    refused(tmp_path / "missing.backup", "There is no backup file")
    junk = tmp_path / "junk.backup"
    junk.write_bytes(b"not a database at all" * 100)
    refused(junk, "is not a SQLite database")
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE notes (text)")
    refused(other, "is not an Alliance Portal database")
    truncated = tmp_path / "truncated.backup"
    truncated.write_bytes(good.read_bytes()[:len(good.read_bytes()) // 2])
    refused(truncated, "Nothing was changed")
    future = tmp_path / "future.backup"
    shutil.copyfile(good, future)
    with sqlite3.connect(future) as connection:
        connection.execute("INSERT INTO schema_migration (name, applied) VALUES ('9999_future', '2030-01-01')")
    refused(future, "newer version", "9999_future")
    refused(good, "holds data", "--force", "Stop the portal")  # the live database holds an organization
    assert digest(live) == before and os.listdir(live.parent) == ["portal.db"]  # not a byte changed
    holder = sqlite3.connect(live)  # the portal still running: a connection in WAL mode stays open
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("SELECT COUNT(*) FROM organization").fetchall()
    try:
        refused(good, "in use", "Stop the portal", force=True)
    finally:
        holder.close()
    assert good.read_bytes() and digest(good) == made["sha256"]  # the backups themselves are never changed

    restored = backups.restore(url, good, force=True)
    assert restored["tables"]["organization"] == 3 and restored["pending"] == []
    previous = tmp_path / "instance" / os.path.basename(restored["previous"])
    assert query(f"sqlite:///{previous}", "SELECT slug FROM organization") == [("org-0",)]  # kept, whole
    assert query(url, "SELECT COUNT(*) FROM organization") == [(3,)]
    assert sorted(os.listdir(live.parent)) == sorted(["portal.db", previous.name])


def test_restore_on_the_command_line(app, world, runner, tmp_path):
    """The CLI prints refusals as JSON and exits 1; on PostgreSQL it prints the pg_restore command."""
    code, data = invoke(runner, "db", "restore", str(tmp_path / "missing.backup"))
    assert code == 1 and "There is no backup file" in data["error"]
    if not is_postgresql(app):
        world.org("Microsoft")
        backup = tmp_path / "portal.backup"
        assert invoke(runner, "db", "backup", str(backup))[0] == 0
        code, data = invoke(runner, "db", "restore", str(backup))  # onto the suite's own database: refused
        assert code == 1 and "holds data" in data["error"] and "--force" in data["error"]
        assert Organization.select().count() == 1
    else:
        dump = tmp_path / "portal.dump"
        assert invoke(runner, "db", "backup", str(dump))[0] == 0
        code, data = invoke(runner, "db", "restore", str(dump))
        assert code == 1 and "is not empty" in data["error"] and "Stop the portal" in data["error"]
        assert data["command"][:2] == ["pg_restore", "--no-owner"] and data["command"][-1] == str(dump)
        assert f":{urlparse(app.config['DATABASE_URL']).password}@" not in data["command_line"]  # no password
