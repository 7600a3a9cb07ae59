"""Real servers for the tests that run the portal as production does: gunicorn masters, the huey
consumer and a redis-server, each a subprocess with its output in a log file, on free ports.

`Processes` owns every subprocess a test starts: the fixture that makes it stops them all in its
teardown (terminate, then kill), whatever the test did, and prints their logs when the test failed.
`scratch_database` gives a server a database of its own beside the suite's (a SQLite file, or a new
PostgreSQL database dropped afterwards), so the session's `app` fixture and its database are untouched.
`seed` builds orgs, people, partnerships, verified marks and OAuth clients in the server's database
through the real services, in a child process with the server's environment (this module run as
`python -m tests.servers seed SPEC`).
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PASSWORD = "correct horse battery staple"
CSRF_PATTERN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
# Lines that must never appear in a server's or worker's log: an unhandled error, SQLite giving up on
# its lock, a database error answered as 503, a worker killed for hanging or dying.
LOG_PROBLEMS = re.compile(r"Traceback|database is locked|database (is )?unavailable|WORKER TIMEOUT|Worker \S+ was sent"
                          r"|exited with code|deadlock detected|could not serialize", re.IGNORECASE)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def is_postgresql_url(url):
    return url.startswith(("postgres://", "postgresql://"))


def suite_database_url():
    """The database the suite runs on, as tests/conftest.py chooses it (SQLite unless DATABASE_URL says)."""
    return os.environ.get("DATABASE_URL", "")


@contextmanager
def scratch_database(folder, suffix):
    """A new empty database for servers the test starts: SQLite (WAL, as portal.db opens it) in `folder`
    when the suite runs on SQLite; on PostgreSQL `<suite database>_<suffix>`, made with the suite's
    credentials (the role has CREATEDB) and dropped at the end, connections and all."""
    url = suite_database_url()
    if not is_postgresql_url(url):
        yield f"sqlite:///{Path(folder) / f'portal-{suffix}.db'}"
        return
    import psycopg

    parts = urlsplit(url)
    name = f"{parts.path.lstrip('/')}_{suffix}"
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # a killed run's leftover
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def sql_connection(database_url):
    """A plain DB-API connection to a server's database, for checking what the servers wrote."""
    if is_postgresql_url(database_url):
        import psycopg
        connection = psycopg.connect(database_url, autocommit=True)
    else:
        import sqlite3
        connection = sqlite3.connect(urlsplit(database_url).path, timeout=30)
    try:
        yield connection
    finally:
        connection.close()


def query(connection, sql, params=()):
    """Rows of `sql` written with %s placeholders, on either database."""
    if not hasattr(connection, "cursor_factory"):  # sqlite3
        sql = sql.replace("%s", "?")
    return connection.execute(sql, params).fetchall()


def server_env(instance, database_url, **settings):
    """The environment of a portal process: the suite's, minus what conftest set for in-process tests
    (tasks inline, the suite's instance folder), plus this server's database and instance folder."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("HUEY_IMMEDIATE", "REDIS_URL", "FLASK_DEBUG", "WEB_CONCURRENCY")}
    env.update(INSTANCE_PATH=str(instance), DATABASE_URL=database_url, PYTHONPATH=str(ROOT),
               PASSWORD_HASHING="test", SECRET_KEY="scale-out-test-key-" + "0" * 40, LOG_LEVEL="INFO",
               PYTHONUNBUFFERED="1")
    env.update({key: str(value) for key, value in settings.items()})
    return env


class Processes:
    """The subprocesses of one test and their logs (one file each, stdout and stderr together)."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.running = {}  # name -> Popen
        self.urls = {}  # name -> base URL of a web server

    def start(self, name, command, env=None):
        log = open(self.folder / f"{name}.log", "wb")
        try:
            # A process group of its own, so stopping it also stops anything it spawned (gunicorn's workers).
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            log.close()
        self.running[name] = process
        return process

    def gunicorn(self, name, env, port, workers=2, threads=8, wait=True):
        """The portal as production runs it: gunicorn.conf.py (gthread workers), access log to the log.
        Returns its base URL; with wait=False call `ready(name)` before using it."""
        command = [str(BIN / "gunicorn"), "wsgi:app", "--config", str(ROOT / "gunicorn.conf.py"),
                   "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads),
                   "--graceful-timeout", "5"]
        self.start(name, command, env)
        self.urls[name] = f"http://127.0.0.1:{port}"
        if wait:
            self.ready(name)
        return self.urls[name]

    def ready(self, name):
        wait_for_http(f"{self.urls[name]}/healthz", self.running[name], self.log, name)

    def consumer(self, name, env, workers=2):
        command = [str(BIN / "huey_consumer"), "portal.tasks.huey", "--workers", str(workers),
                   "--worker-type", "thread"]
        process = self.start(name, command, env)
        wait_for_log(process, self.log, name, "consumer", 30)
        return process

    def redis(self, name, port):
        """A throw-away redis-server: no snapshots, no append-only file, nothing left on disk."""
        command = [shutil.which("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                   "--appendonly", "no", "--dir", str(self.folder)]
        process = self.start(name, command)
        wait_for_log(process, self.log, name, "Ready to accept connections", 15)
        return f"redis://127.0.0.1:{port}/0"

    def log(self, name):
        path = self.folder / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def problems(self):
        """{name: [log lines showing a problem]} for every process."""
        found = {}
        for name in self.running:
            lines = [line for line in self.log(name).splitlines() if LOG_PROBLEMS.search(line)]
            if lines:
                found[name] = lines
        return found

    def dead(self):
        return {name: process.returncode for name, process in self.running.items() if process.poll() is not None}

    def stop(self, name, timeout=10):
        process = self.running[name]
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
            except ProcessLookupError:
                pass
        # Anything of its group still alive (a worker that outlived its master) goes too.
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def stop_all(self):
        for name in reversed(list(self.running)):
            self.stop(name)

    def dump(self, tail=120):
        for name in self.running:
            lines = self.log(name).splitlines()
            print(f"\n----- {name} (exit {self.running[name].poll()}), last {min(tail, len(lines))} of "
                  f"{len(lines)} lines -----")
            print("\n".join(lines[-tail:]))


def wait_for_http(url, process, read_log, name, timeout=45):
    import requests
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{read_log(name)[-4000:]}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{name} did not answer {url} within {timeout} s:\n{read_log(name)[-4000:]}")


def wait_for_log(process, read_log, name, text, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{read_log(name)[-4000:]}")
        if text in read_log(name):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{name} did not log {text!r} within {timeout} s:\n{read_log(name)[-4000:]}")


@contextmanager
def running_processes(request, folder):
    """Processes for a test (or a module's tests); all stopped at the end, their logs printed if a test
    failed meanwhile (or the fixture itself did)."""
    processes, failed_before, finished = Processes(folder), request.session.testsfailed, False
    try:
        yield processes
        finished = True
    finally:
        processes.stop_all()
        if not finished or getattr(request.node, "test_failed", False) \
                or request.session.testsfailed > failed_before:
            processes.dump()


# --- seeding ------------------------------------------------------------------------------------------

def seed(env, spec):
    """Migrate the server's database and build `spec` in it (see `_seed`); returns what was made."""
    result = subprocess.run([sys.executable, "-m", "tests.servers", "seed", json.dumps(spec)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"seeding failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _seed(spec):
    """In the child: `spec` is {"brands": [slug], "platforms": {slug: [[marketplace, country]]},
    "users": [[email, org, role]], "partnerships": [[brand, platform]], "verified_marks": {brand: n},
    "clients": [[name, org, scope]]}."""
    from portal import create_app
    from portal.accounts import services
    from portal.audit import acting_as
    from portal.db import db, upgrade
    from portal.marks.services import create_mark, review_mark
    from portal.oauth.services import create_client
    from portal.partnerships.services import create_partnership

    app = create_app()
    made = {"orgs": {}, "marketplaces": {}, "partnerships": {}, "marks": {}, "clients": {}}
    with app.app_context():
        upgrade()
        with db.connection_context(), acting_as("test-seed"):
            orgs = {}
            for slug in spec.get("brands", []):
                orgs[slug] = services.create_organization(slug.title(), "brand", slug=slug)
            for slug, markets in spec.get("platforms", {}).items():
                orgs[slug] = services.create_organization(slug.title(), "platform", slug=slug)
                for market, country in markets:
                    made["marketplaces"][market] = services.create_marketplace(orgs[slug], market,
                                                                               country=country).slug
            made["orgs"] = {slug: org.id for slug, org in orgs.items()}
            for email, slug, role in spec.get("users", []):
                services.add_member(orgs[slug], email, role, password=PASSWORD)
            for brand, platform in spec.get("partnerships", []):
                made["partnerships"][f"{brand}/{platform}"] = create_partnership(orgs[brand], orgs[platform]).id
            for brand, count in spec.get("verified_marks", {}).items():
                platform = orgs[next(p for b, p in spec["partnerships"] if b == brand)]
                made["marks"][brand] = []
                for n in range(count):
                    mark = create_mark(orgs[brand], dict(word=f"SEEDED{n}", office="CNIPA",
                                                         registration_number=str(12_000_000 + n),
                                                         nice_classes="25"))[0]
                    made["marks"][brand].append(review_mark(mark, platform, None, "verify").id)
            for name, slug, scope in spec.get("clients", []):
                client, secret = create_client(orgs[slug], name, scope)
                made["clients"][name] = {"client_id": client.client_id, "client_secret": secret}
    print(json.dumps(made))


def token(base_url, client):
    """A client credentials access token from the server's token endpoint."""
    import requests
    response = requests.post(f"{base_url}/oauth/token", data={"grant_type": "client_credentials"},
                             auth=(client["client_id"], client["client_secret"]), timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def csv_of_marks(rows, start, word="BULK"):
    """A trademark list of `rows` USPTO marks numbered from `start` (with dates, so rows are realistic)."""
    lines = ["word,office,registration_number,nice_classes,registered_on,expires_on,jurisdictions"]
    for n in range(rows):
        day = 1 + n % 28
        lines.append(f"{word}{n},USPTO,{start + n},9;25,2015-03-{day:02d},2035-03-{day:02d},US")
    return ("\n".join(lines) + "\n").encode()


if __name__ == "__main__":
    if sys.argv[1:2] == ["seed"]:
        _seed(json.loads(sys.argv[2]))
    else:
        raise SystemExit("usage: python -m tests.servers seed SPEC_JSON")
