"""Backups of the portal's database, and restoring one: `flask --app wsgi db backup PATH` and `db restore PATH`.

SQLite: an online copy through SQLite's backup API, in one step, so it is the database as it was at one
moment (a read transaction; in WAL mode the portal keeps writing meanwhile). The copy is a single file in
rollback-journal mode, checked with `PRAGMA integrity_check` before it is put in place.

PostgreSQL: `pg_dump --format=custom`. The counts printed come from the very snapshot the dump is taken
in (a REPEATABLE READ transaction exports it and pg_dump uses it with --snapshot), so they describe the
file exactly. Restoring is `pg_restore` into an empty database; `db restore` prints the command.

Both write to a temporary file beside PATH and move it into place only when it is complete, so a backup
that fails (no room, pg_dump stopped) never leaves a half file at PATH; an existing PATH is replaced only
with --force. A restore (SQLite) replaces the database file in one rename, after keeping the database it
replaces beside it, and refuses a file that is not a portal database at a migration this code knows. The
portal's kept connections (one per thread, portal.db) open the new file at their next use.
"""
import hashlib
import os
import shlex
import shutil
import signal
import sqlite3
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from playhouse import db_url
from playhouse.migrations import Migration

from portal.db import MIGRATIONS_DIR, reopen_kept_connections
from portal.errors import ServiceError
from portal.timeutil import utcnow

# The tables whose row counts a backup reports (those that exist at the database's migration).
COUNTED_TABLES = ("organization", "user", "membership", "marketplace", "partnership", "mark", "import_job",
                  "notice", "notice_item", "flag", "oauth_client", "webhook", "weekly_report", "audit_event")
# A database is a portal's when it has these.
PORTAL_TABLES = ("schema_migration", "organization", "user", "audit_head", "audit_event")
SQLITE_MAGIC = b"SQLite format 3\x00"
STOP_FIRST = "Stop the portal (web server and worker) before restoring, and start it again afterwards."


class BackupRefused(ServiceError):
    """A backup or restore that cannot be done; `extra` goes into the JSON the CLI prints."""

    status = 400

    def __init__(self, message, **extra):
        super().__init__(message)
        self.extra = extra


def database_kind(url):
    scheme = url.split(":", 1)[0]
    return "postgresql" if scheme in ("postgres", "postgresql") else "sqlite"


def sqlite_path(url):
    path = db_url.parse(url)["database"]
    if not path or path == ":memory:":
        raise BackupRefused("An in-memory SQLite database cannot be backed up or restored.")
    return Path(path)


def known_migrations():
    return [migration.name for migration in Migration.load_directory(str(MIGRATIONS_DIR))]


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def fsync_path(path):
    """Flush a file (or a folder, so a rename in it is durable) to disk."""
    flags = os.O_RDONLY | (os.O_DIRECTORY if Path(path).is_dir() else 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot fsync a folder; the rename is still atomic
    finally:
        os.close(fd)


# --- what a database holds ----------------------------------------------------------------------------

def describe(execute, tables):
    """Migrations, row counts and the audit head of a database, through `execute(sql) -> rows`; `tables`
    are the names of the tables it has."""
    applied = [row[0] for row in execute('SELECT name FROM schema_migration ORDER BY name')] \
        if "schema_migration" in tables else []
    counts = {table: execute(f'SELECT COUNT(*) FROM "{table}"')[0][0] for table in COUNTED_TABLES if table in tables}
    head = execute("SELECT seq, hash FROM audit_head WHERE id = 1") if "audit_head" in tables else []
    seq, head_hash = head[0] if head else (0, None)
    return {"migration": applied[-1] if applied else None, "migrations": applied, "tables": counts,
            "audit": {"events": seq, "head_hash": head_hash}}


def sqlite_tables(connection):
    return {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def sqlite_facts(connection):
    return describe(lambda sql: connection.execute(sql).fetchall(), sqlite_tables(connection))


def check_portal_database(facts, tables, what):
    """Refuse a database that is not the portal's, or was made by a newer version of it."""
    missing = [table for table in PORTAL_TABLES if table not in tables]
    if missing:
        raise BackupRefused(f"{what} is not an Alliance Portal database (it has no {', '.join(missing)} "
                            "table). Nothing was changed.")
    known = set(known_migrations())
    unknown = [name for name in facts["migrations"] if name not in known]
    if unknown:
        raise BackupRefused(f"{what} was made by a newer version of the portal (migration {unknown[0]} is unknown "
                            "here): restore it with that version. Nothing was changed.")
    if not facts["migrations"]:
        raise BackupRefused(f"{what} has no migrations applied: it is not a portal database. Nothing was changed.")


# --- backup -------------------------------------------------------------------------------------------

def prepare_target(path, force):
    """The absolute target path, refused at once when it cannot be written as asked."""
    path = Path(path).expanduser().absolute()
    if not path.parent.is_dir():
        raise BackupRefused(f"The folder {path.parent} does not exist; create it first. Nothing was written.")
    if path.is_dir():
        raise BackupRefused(f"{path} is a folder; give the path of the backup file to write.")
    if path.exists() and not force:
        raise BackupRefused(f"{path} already exists; choose another name, or pass --force to replace it. "
                            "Nothing was written.")
    return path


def place(temporary, path, force):
    """Move the finished temporary file to `path` in one step: without --force only if `path` does not
    exist (a hard link cannot replace a file), with --force replacing it."""
    fsync_path(temporary)
    if force:
        os.replace(temporary, path)
    else:
        try:
            os.link(temporary, path)
        except FileExistsError:
            raise BackupRefused(f"{path} appeared while the backup ran; nothing was written there. Choose "
                                "another name, or pass --force to replace it.")
        except OSError:  # a file system without hard links: check, then rename
            if path.exists():
                raise BackupRefused(f"{path} already exists; nothing was written there.")
            os.replace(temporary, path)
        else:
            os.unlink(temporary)
    fsync_path(path.parent)


def backup(url, path, force=False):
    """Write a backup of the database at `url` to `path`; returns what the CLI prints."""
    target = prepare_target(path, force)
    kind = database_kind(url)
    if kind == "sqlite":
        live = Path(sqlite_path(url)).resolve()
        if target.resolve() in {live, Path(f"{live}-wal"), Path(f"{live}-shm"), Path(f"{live}-journal")}:
            raise BackupRefused(f"{target} is the live database (or its journal): a backup goes elsewhere. "
                                "Nothing was written.")
    temporary = None
    try:
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
        os.close(fd)
        if kind == "sqlite":
            facts = backup_sqlite(sqlite_path(url), temporary)
        else:
            facts = backup_postgresql(url, temporary)
        size, digest = os.path.getsize(temporary), sha256_of(temporary)
        place(temporary, target, force)
    except (OSError, sqlite3.Error) as error:  # no room, a file size limit, an I/O error
        raise BackupRefused(f"Writing the backup failed ({getattr(error, 'strerror', None) or error}); nothing was "
                            f"written at {target}.") from error
    except postgresql_errors() as error:
        raise BackupRefused(f"The database cannot be read ({str(error).strip()}); nothing was written at "
                            f"{target}.") from error
    finally:
        # The copy's own rollback journal stays behind when a failed write could not be rolled back
        # (a full disk fails the rollback too): it is part of the partial file and goes with it.
        for leftover in (temporary, f"{temporary}-journal") if temporary else ():
            if os.path.exists(leftover):
                os.unlink(leftover)
    facts.pop("migrations")
    return {"path": str(target), "bytes": size, "sha256": digest, "database": kind, **facts,
            "taken_at": utcnow().isoformat(timespec="seconds") + "Z"}


def backup_sqlite(source_path, temporary):
    if not source_path.is_file():
        raise BackupRefused(f"There is no database at {source_path}.")
    source = sqlite3.connect(str(source_path), timeout=30)
    try:
        copy = sqlite3.connect(temporary)
        try:
            # pages=-1: every page in one step, inside one read transaction, so the copy is the database
            # at one moment. In WAL mode writers carry on meanwhile (a copy made in several steps would
            # start over after each write, and might never finish on a busy portal).
            source.backup(copy, pages=-1)
            mode = copy.execute("PRAGMA journal_mode=DELETE").fetchone()[0]  # one self-contained file
            integrity = [row[0] for row in copy.execute("PRAGMA integrity_check").fetchall()]
            if integrity != ["ok"] or mode != "delete":
                raise BackupRefused(f"The copy failed its integrity check ({'; '.join(integrity[:5])}); "
                                    "nothing was written.")
            facts = sqlite_facts(copy)
        finally:
            copy.close()
    finally:
        source.close()
    return {"source": str(source_path), "format": "sqlite", "integrity": "ok", **facts}


def url_without_password(url):
    """The URL with its password taken out (it goes to pg_dump in PGPASSWORD, never on a command line)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = (f"{parts.username}@" if parts.username else "") + host + (f":{parts.port}" if parts.port else "")
    # The URL carries the password percent-encoded (as the portal reads it, decoded); pg_dump gets it plain.
    password = unquote(parts.password) if parts.password is not None else None
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")), password


def postgresql_errors():
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a requirement
        return ()
    return (psycopg.Error,)


def postgres_tool(name):
    found = shutil.which(name)
    if found is None:
        raise BackupRefused(f"{name} was not found on PATH. Install the PostgreSQL client tools (Debian and "
                            f"Ubuntu: apt-get install postgresql-client) in the server's major version or newer, "
                            "then run this again. Nothing was written.")
    return found


def backup_postgresql(url, temporary):
    import psycopg

    pg_dump, pg_restore = postgres_tool("pg_dump"), postgres_tool("pg_restore")
    public_url, password = url_without_password(url)
    env = dict(os.environ, PGPASSWORD=password) if password else dict(os.environ)
    with psycopg.connect(url) as connection:
        connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        connection.read_only = True
        with connection.transaction():
            snapshot = connection.execute("SELECT pg_export_snapshot()").fetchone()[0]
            tables = {row[0] for row in connection.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")}
            facts = describe(lambda sql: connection.execute(sql).fetchall(), tables)
            # pg_dump reads the snapshot this transaction exported, so it dumps exactly what was counted;
            # the transaction stays open until the dump is done.
            dumped = subprocess.run([pg_dump, "--format=custom", f"--snapshot={snapshot}", f"--file={temporary}",
                                     f"--dbname={public_url}"], env=env, capture_output=True, text=True)
    if dumped.returncode != 0:
        how = (f"was stopped by {signal.Signals(-dumped.returncode).name}" if dumped.returncode < 0
               else f"failed (exit status {dumped.returncode})")
        detail = dumped.stderr.strip()[-2000:]
        raise BackupRefused(f"pg_dump {how}{': ' + detail if detail else ''}. Nothing was written.")
    listed = subprocess.run([pg_restore, "--list", temporary], capture_output=True, text=True)
    if listed.returncode != 0:
        raise BackupRefused(f"pg_restore cannot read the dump pg_dump wrote: {listed.stderr.strip()[-2000:]} "
                            "Nothing was written.")
    return {"source": public_url, "format": "pg_dump custom", "integrity": "ok", **facts}


# --- restore ------------------------------------------------------------------------------------------

def restore_command(url, path):
    """The pg_restore command that restores `path` into the (empty) database at `url`, as argv."""
    public_url, _ = url_without_password(url)
    return ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
            f"--dbname={public_url}", str(Path(path).absolute())]


def restore(url, path, force=False):
    """Replace the SQLite database at `url` with the backup at `path`; returns what the CLI prints.

    PostgreSQL is restored with pg_restore: this raises BackupRefused carrying the exact command."""
    backup_path = Path(path).expanduser().absolute()
    if not backup_path.is_file():
        raise BackupRefused(f"There is no backup file at {backup_path}. Nothing was changed.")
    if database_kind(url) == "postgresql":
        command = restore_command(url, backup_path)
        try:
            empty = postgresql_is_empty(url)
        except postgresql_errors() as error:
            raise BackupRefused(f"DATABASE_URL's database cannot be reached ({str(error).strip()}). Restore with "
                                f"pg_restore into an empty database. {STOP_FIRST}",
                                command=command, command_line=shlex.join(command))
        if empty:
            advice = ("DATABASE_URL's database is empty: run the command below with its password in PGPASSWORD, "
                      "then `flask --app wsgi db upgrade`.")
        else:
            advice = ("DATABASE_URL's database is not empty: create an empty one (createdb -O <role> <name>), "
                      "set DATABASE_URL to it and run this again for the command, or run the command below with "
                      "--dbname changed to it.")
        raise BackupRefused(f"PostgreSQL is restored with pg_restore, into an empty database. {advice} {STOP_FIRST}",
                            command=command, command_line=shlex.join(command))
    return restore_sqlite(sqlite_path(url), backup_path, force)


def postgresql_is_empty(url):
    import psycopg

    with psycopg.connect(url) as connection:
        return not connection.execute("SELECT 1 FROM information_schema.tables "
                                      "WHERE table_schema = current_schema() LIMIT 1").fetchone()


def holds_data(path):
    """Whether the SQLite database at `path` has any organization, user or audit event: True, False, or
    DAMAGED when SQLite cannot read it (not a database, a malformed page). In use ("locked") is refused."""
    if not path.is_file() or path.stat().st_size == 0:
        return False
    connection = sqlite3.connect(str(path), timeout=10)
    try:
        tables = sqlite_tables(connection)
        return any(connection.execute(f'SELECT 1 FROM "{table}" LIMIT 1').fetchone()
                   for table in ("organization", "user", "audit_event") if table in tables)
    except sqlite3.OperationalError as error:  # locked or busy: another process has it open
        raise BackupRefused(f"The database {path} is in use ({error}). {STOP_FIRST} Nothing was changed.")
    except sqlite3.DatabaseError:  # not a database, or a damaged one: the day a restore is needed
        return DAMAGED
    finally:
        connection.close()


DAMAGED = "damaged"


def keep_beside(path, database):
    """Keep `path` (the replaced database, or its -wal) under a name no earlier restore has taken:
    <database>.replaced-<time>[-n][suffix]. Returns the kept path."""
    stamp = f"{database.name}.replaced-{utcnow():%Y%m%dT%H%M%SZ}"
    suffix = path.name[len(database.name):]  # "" or "-wal"
    for n in range(1, 1000):
        kept = database.with_name(stamp + (f"-{n}" if n > 1 else "") + suffix)
        try:
            os.link(path, kept)  # the replaced file stays, whole, under another name
            return kept
        except FileExistsError:
            continue  # a restore in the same second: the next free name, never over a kept file
        except OSError:  # a file system without hard links
            if kept.exists():
                continue
            shutil.copy2(path, kept)
            return kept
    raise BackupRefused(f"Too many replaced copies of {database} beside it. Nothing was changed.")


def take_out_of_wal(path):
    """Checkpoint the live database and switch it to a rollback journal, so no -wal file is left that
    SQLite would replay onto the restored file. Refused while another process has it open."""
    connection = sqlite3.connect(str(path), timeout=5)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        mode = connection.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
    except sqlite3.OperationalError as error:
        raise BackupRefused(f"The database {path} is in use ({error}). {STOP_FIRST} Nothing was changed.")
    finally:
        connection.close()
    if mode != "delete" or Path(f"{path}-wal").exists():
        raise BackupRefused(f"The database {path} is in use (it stays in WAL mode). {STOP_FIRST} "
                            "Nothing was changed.")
    Path(f"{path}-shm").unlink(missing_ok=True)


def restore_sqlite(database, backup_path, force):
    with open(backup_path, "rb") as handle:
        if handle.read(len(SQLITE_MAGIC)) != SQLITE_MAGIC:
            raise BackupRefused(f"{backup_path} is not a SQLite database, so not a backup of the portal. "
                                "Nothing was changed.")
    database.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=database.parent, prefix=f".{database.name}.", suffix=".restoring")
    os.close(fd)
    try:
        facts = check_backup_copy(backup_path, temporary)
        # This process's own idle connection would read as "in use" (and would go on reading the replaced
        # file): closed now, and every other kept connection of the process opens the new file at its next
        # use (those of other processes notice the new file themselves: portal.db.KeptSqliteDatabase).
        reopen_kept_connections()
        previous = put_in_place(temporary, database, force)
        reopen_kept_connections()
    except (OSError, sqlite3.Error) as error:  # no room for the copy, an I/O error
        raise BackupRefused(f"The restore failed ({getattr(error, 'strerror', None) or error}); the database at "
                            f"{database} was not changed.") from error
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    applied = facts.pop("migrations")
    pending = [name for name in known_migrations() if name not in applied]
    return {"restored": str(backup_path), "database": str(database), "previous": str(previous) if previous else None,
            **facts, "pending": pending,
            "next": ("Run `flask --app wsgi db upgrade`, then start" if pending else "Start")
            + " the portal (web server and worker) again."}


def check_backup_copy(backup_path, temporary):
    """Copy the backup to `temporary` and check the copy (the very bytes that will become the database,
    never the backup itself): integrity, a portal database, a known migration. Returns its facts."""
    shutil.copyfile(backup_path, temporary)
    copy = sqlite3.connect(temporary)
    try:
        try:
            integrity = [row[0] for row in copy.execute("PRAGMA integrity_check").fetchall()]
        except sqlite3.DatabaseError as error:
            raise BackupRefused(f"{backup_path} cannot be read as a database ({error}). Nothing was changed.")
        if integrity != ["ok"]:
            raise BackupRefused(f"{backup_path} failed its integrity check ({'; '.join(integrity[:5])}). "
                                "Nothing was changed.")
        copy.execute("PRAGMA journal_mode=DELETE")
        facts = sqlite_facts(copy)
        check_portal_database(facts, sqlite_tables(copy), str(backup_path))
    finally:
        copy.close()
    return dict(facts, bytes=os.path.getsize(temporary), sha256=sha256_of(temporary))


def put_in_place(temporary, database, force):
    """Replace `database` with the checked copy in one rename; a database that holds data only with `force`,
    keeping it beside as <name>.replaced-<time> (returned)."""
    previous = None
    if database.exists():
        state = holds_data(database)
        if state and not force:
            what = "is damaged (SQLite cannot read it)" if state == DAMAGED else "holds data"
            raise BackupRefused(
                f"The database {database} {what}. To replace it with the backup, pass --force (it is "
                f"kept beside as {database.name}.replaced-<time>). {STOP_FIRST} Nothing was changed.")
        if state == DAMAGED:
            # No checkpoint is possible: its -wal is kept beside it too, and taken away, so SQLite never
            # replays it onto the restored file.
            previous = keep_beside(database, database)
            wal = Path(f"{database}-wal")
            if wal.exists():
                keep_beside(wal, database)
                wal.unlink()
            Path(f"{database}-shm").unlink(missing_ok=True)
        else:
            take_out_of_wal(database)
            if state:
                previous = keep_beside(database, database)
        owner = database.stat()
        os.chmod(temporary, owner.st_mode & 0o777)  # the restored file keeps the database's mode and owner
        try:
            os.chown(temporary, owner.st_uid, owner.st_gid)
        except PermissionError:
            pass  # only root may give a file away; then it is this user's already
    fsync_path(temporary)
    os.replace(temporary, database)  # one rename: the database is the old one or the restored one
    fsync_path(database.parent)
    return previous
