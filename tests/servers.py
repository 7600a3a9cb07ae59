"""Real servers for the tests that run the portal as production does: gunicorn and the huey consumer
started with the commands `make run` uses (portal.runner), and a redis-server, each a subprocess with its
output in a log file, on a free port, on a scratch database of the suite's kind.

The `processes` fixture (or `running_processes` for a wider scope) owns every subprocess a test starts:
its teardown stops them all (terminate, then kill their whole process group), whatever the test did, and
prints their logs when the test failed. The `scratch` fixture (or `scratch_databases`) makes databases
beside the suite's, so the session's `app` and its database are never disturbed: a SQLite file in a
folder of its own, or a PostgreSQL database `<suite database>_<suffix>`, dropped afterwards. A test
module binds both fixtures (`processes, scratch = servers.processes, servers.scratch`) for pytest to find.
`seed` builds data in such a database through the real services, in a child process with the server's
environment.
"""
import json
import os
import re
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
# The same as tests/conftest.py's. Not imported from there: importing conftest sets the in-process test
# environment (HUEY_IMMEDIATE=1 ...), which the seeding child, importing this module, must not get.
PASSWORD = "correct horse battery staple"
CSRF_PATTERN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
# Variables of the test process that must not leak into a portal process: it gets its own.
NOT_INHERITED = ("DATABASE_URL", "INSTANCE_PATH", "HUEY_IMMEDIATE", "REDIS_URL", "FLASK_DEBUG", "WEB_CONCURRENCY",
                 "PORT", "SECRET_KEY")
# Lines that must never appear in a server's or worker's log: an unhandled error, SQLite giving up on
# its lock, a database error answered as 503, a worker killed for hanging or dying.
LOG_PROBLEMS = re.compile(r"Traceback|database is locked|database (is )?unavailable|WORKER TIMEOUT|Worker \S+ was sent"
                          r"|exited with code|deadlock detected|could not serialize", re.IGNORECASE)
LOG_TAIL = 200  # lines of each log printed when a test fails (the whole file stays in the test's folder)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def is_postgresql_url(url):
    return url.startswith(("postgres://", "postgresql://"))


def suite_database_url():
    """The database the suite runs on, as tests/conftest.py chooses it (SQLite unless DATABASE_URL says)."""
    return os.environ.get("DATABASE_URL", "")


def portal_env(database_url, instance, **settings):
    """The environment of a portal process: the suite's, minus what conftest set for in-process tests and
    what would override this process's own settings, plus its database and instance folder, a real (not
    immediate) queue, the cheap password hashing of the tests, a fixed secret key (processes started
    together share sessions without racing to create the instance's key file), and `settings`
    (MARKS_IMPORT_BATCH_ROWS=...)."""
    env = {name: value for name, value in os.environ.items()
           if name not in NOT_INHERITED and not name.startswith(("MARKS_", "PYTEST_"))}
    env.update(DATABASE_URL=database_url, INSTANCE_PATH=str(instance), HUEY_IMMEDIATE="0", PYTHONPATH=str(ROOT),
               PASSWORD_HASHING="test", SECRET_KEY="server-test-key-" + "0" * 40, LOG_LEVEL="INFO",
               PYTHONUNBUFFERED="1")
    env.update({name: str(value) for name, value in settings.items()})
    return env


# --- processes ----------------------------------------------------------------------------------------

class Process:
    """A child in a process group of its own (so stopping it stops what it spawned: gunicorn's workers),
    its output (stdout and stderr together) in a log file. `url` is a web server's base URL."""

    def __init__(self, name, command, env, log_path, preexec_fn=None):
        self.name, self.command, self.log_path, self.url = name, command, Path(log_path), None
        with open(self.log_path, "wb") as log:
            self.popen = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=preexec_fn)
        self.pid = self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def logs(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def signal_group(self, signum):
        try:
            os.killpg(self.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass

    def kill(self):
        """SIGKILL, as the kernel's OOM killer or a pulled plug would: no cleanup of any kind."""
        self.signal_group(signal.SIGKILL)
        self.popen.wait(10)

    def pause(self, timeout=120):
        """SIGSTOP the process group, and wait until every thread of the process is stopped: from then on it
        runs no code (and commits nothing) until `resume()`; SIGKILL still ends it."""
        self.signal_group(signal.SIGSTOP)
        self.wait_for(self.stopped, "stop on SIGSTOP", timeout)

    def resume(self):
        self.signal_group(signal.SIGCONT)

    def stopped(self):
        """Every thread of the process is stopped (state T or t in /proc), or the process is gone."""
        try:
            tasks = list(Path(f"/proc/{self.pid}/task").iterdir())
            states = [(task / "stat").read_text().rsplit(")", 1)[1].split()[0] for task in tasks]
        except OSError:  # gone (or a thread went) while we looked
            return not self.alive()
        return all(state in ("T", "t") for state in states)

    def stop(self, grace=10):
        """SIGTERM, then SIGKILL to the whole group: a worker that outlived its master goes too."""
        if self.alive():
            self.signal_group(signal.SIGTERM)
            self.signal_group(signal.SIGCONT)  # a paused process handles its SIGTERM only once running
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        self.signal_group(signal.SIGKILL)
        try:
            self.popen.wait(5)
        except subprocess.TimeoutExpired:
            pass

    def children(self):
        """Pids whose parent is this process (gunicorn's workers)."""
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == self.pid:
                    found.append(int(entry.name))
        return found

    def wait_for(self, ready, what, timeout):
        """Until `ready()`; fails at once, with the log's end, if the process exits first."""
        deadline = time.monotonic() + timeout
        while not ready():
            if not self.alive():
                raise AssertionError(f"{self.name} exited ({self.popen.returncode}) before {what}:\n"
                                     f"{self.logs()[-4000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} did not {what} within {timeout} s:\n{self.logs()[-4000:]}")
            time.sleep(0.1)

    def wait_for_log(self, text, timeout=30):
        self.wait_for(lambda: text in self.logs(), f"log {text!r}", timeout)

    def wait_for_http(self, path="/healthz", timeout=60):
        """Until `path` answers 200 (the health check: the app is built and reaches its database)."""
        def answers():
            try:
                return requests.get(self.url + path, timeout=5).status_code == 200
            except requests.RequestException:
                return False
        self.wait_for(answers, f"answer 200 on {path}", timeout)


class Processes:
    """The subprocesses of one test (or one module's tests), by name, their logs in `folder`."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.started = {}

    def __getitem__(self, name):
        return self.started[name]

    def start(self, name, command, env=None, preexec_fn=None):
        assert name not in self.started, f"a process named {name} was started already"
        self.started[name] = Process(name, command, env, self.folder / f"{name}.log", preexec_fn)
        return self.started[name]

    def gunicorn(self, env, name="web", workers=None, threads=None, preexec_fn=None, wait=True, timeout=60):
        """The portal on gunicorn as `make run` serves it (gunicorn.conf.py: gthread workers, the access
        log in its log) on a free port, with `workers` and `threads` when given. Returns the process, its
        base URL in `.url`, once it answers (within `timeout` seconds); with wait=False (to start several at
        once) call its `wait_for_http()` first."""
        from portal.runner import web_command

        port = free_port()
        command = web_command(port) + ["--graceful-timeout", "5"]  # teardown need not wait 30 s
        assert command[0].endswith("gunicorn"), command  # not Flask's debug server (FLASK_DEBUG)
        for option, value in (("--workers", workers), ("--threads", threads)):
            command += [option, str(value)] if value else []
        process = self.start(name, command, env, preexec_fn)
        process.url = f"http://127.0.0.1:{port}"
        if wait:
            process.wait_for_http(timeout=timeout)
        return process

    def consumer(self, env, name="worker", timeout=30):
        """The huey consumer as `make run` starts it (portal.consumer.huey, thread workers), once it runs (within
        `timeout` seconds)."""
        from portal.runner import worker_command

        process = self.start(name, worker_command(), env)
        process.wait_for_log("Huey consumer started", timeout)
        return process

    def redis(self, name="redis"):
        """A throw-away redis-server on a free port: no snapshots, no append-only file, nothing left on
        disk. Returns its URL."""
        port = free_port()
        command = [shutil.which("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                   "--appendonly", "no", "--dir", str(self.folder)]
        self.start(name, command).wait_for_log("Ready to accept connections", 15)
        return f"redis://127.0.0.1:{port}/0"

    def log(self, name):
        return self.started[name].logs()

    def problems(self):
        """{name: [log lines showing a problem]} for every process that has any."""
        found = {name: [line for line in process.logs().splitlines() if LOG_PROBLEMS.search(line)]
                 for name, process in self.started.items()}
        return {name: lines for name, lines in found.items() if lines}

    def dead(self):
        return {name: process.popen.returncode for name, process in self.started.items() if not process.alive()}

    def stop_all(self):
        """Last started, first stopped: the consumer before the redis-server it uses."""
        for process in reversed(list(self.started.values())):
            process.stop()

    def print_logs(self):
        for process in self.started.values():
            lines = process.logs().splitlines()
            print(f"\n----- {process.name} (pid {process.pid}, exit {process.popen.poll()}) {' '.join(process.command)}"
                  f"\n----- last {min(LOG_TAIL, len(lines))} of {len(lines)} lines of {process.log_path}")
            print("\n".join(lines[-LOG_TAIL:]))


@contextmanager
def running_processes(request, folder):
    """Processes for a test (or a module's tests): all stopped at the end, their logs printed when a test
    failed meanwhile (pytest shows them with the failure) or the fixture itself did."""
    processes, failed_before, finished = Processes(folder), request.session.testsfailed, False
    try:
        yield processes
        finished = True
    finally:
        processes.stop_all()
        if not finished or request.session.testsfailed > failed_before:
            processes.print_logs()


@pytest.fixture
def processes(request, tmp_path):
    with running_processes(request, tmp_path / "logs") as started:
        yield started


def limit_file_size(limit):
    """A preexec_fn: files this process writes stop at `limit` bytes with EFBIG, as a full disk stops them
    with ENOSPC (RLIMIT_FSIZE; Python already ignores SIGXFSZ, which would otherwise kill it). Only the
    soft limit is lowered, so `restore_file_size()` can lift it again without privileges."""
    def apply():
        _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    return apply


def restore_file_size(process):
    """Lift the file size limit of a running process and its children (gunicorn's workers): room is back."""
    for pid in [process.pid, *process.children()]:
        _, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (hard, hard))


# --- scratch databases --------------------------------------------------------------------------------

class ScratchDatabases:
    """Databases of the suite's kind for the servers a test starts. PostgreSQL ones are made with the
    suite's credentials (the role has CREATEDB) and named after its database (which contains "test")."""

    def __init__(self, folder):
        self.folder, self.suite_url = Path(folder), suite_database_url()
        self.postgresql = is_postgresql_url(self.suite_url)
        self.created = []

    def admin(self, *statements):
        """Run `statements` on the suite's database outside a transaction (CREATE DATABASE cannot be in one)."""
        import psycopg
        with psycopg.connect(self.suite_url, autocommit=True) as connection:
            for sql in statements:
                connection.execute(sql)

    def make(self, suffix):
        """A new empty database; returns its URL. SQLite: <folder>/<suffix>/portal.db, alone in its folder
        (which `take_away` moves)."""
        if not self.postgresql:
            folder = self.folder / suffix
            folder.mkdir(parents=True)
            return f"sqlite:///{folder / 'portal.db'}"
        parts = urlsplit(self.suite_url)
        name = f"{parts.path.lstrip('/')}_{suffix}"
        self.drop(name)  # first: a killed run's leftover
        self.admin(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return urlunsplit(parts._replace(path=f"/{name}"))

    def drop_all(self):
        for name in self.created:
            self.admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')  # a test may have taken it away
            self.drop(name)

    def drop(self, name, attempts=5):
        """Drop `name` with whatever is still connected. Not WITH (FORCE): that must terminate every backend,
        autovacuum's workers too, which this role may not (a restored database is often being vacuumed); a
        plain DROP stops those itself. Our own connections are ended first; a straggler reconnecting is
        waited out."""
        import psycopg
        for attempt in range(attempts):
            try:
                self.admin(self.terminate_ours(name), f'DROP DATABASE IF EXISTS "{name}"')
                return
            except psycopg.errors.ObjectInUse:
                if attempt == attempts - 1:
                    raise
                time.sleep(1)

    @staticmethod
    def terminate_ours(name):
        """SQL ending this role's connections to `name` (never autovacuum's, which would be refused)."""
        return (f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' "
                "AND usename = current_user AND pid <> pg_backend_pid()")

    def take_away(self, url):
        """SQLite: move the database's folder away (as a lost mount would: a new connection cannot open
        it). PostgreSQL: the database stops accepting connections and the open ones are terminated."""
        if not self.postgresql:
            folder = Path(urlsplit(url).path).parent
            folder.rename(folder.with_name(folder.name + "-away"))
            return
        name = urlsplit(url).path.lstrip("/")
        self.admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false', self.terminate_ours(name))

    def give_back(self, url):
        if not self.postgresql:
            folder = Path(urlsplit(url).path).parent
            folder.with_name(folder.name + "-away").rename(folder)
            return
        self.admin(f'ALTER DATABASE "{urlsplit(url).path.lstrip("/")}" ALLOW_CONNECTIONS true')


@contextmanager
def scratch_databases(folder):
    """ScratchDatabases whose PostgreSQL databases are dropped at the end, connections and all."""
    databases = ScratchDatabases(folder)
    try:
        yield databases
    finally:
        databases.drop_all()


@pytest.fixture
def scratch(tmp_path):
    with scratch_databases(tmp_path) as databases:
        yield databases


def other_sessions(url):
    """Connections to the PostgreSQL database at `url` other than this check's own (0 for SQLite, where a
    killed process leaves nothing behind: the kernel drops its locks and an uncommitted write is ignored)."""
    if not is_postgresql_url(url):
        return 0
    return query(url, "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND "
                      "backend_type = 'client backend' AND usename = current_user AND pid <> pg_backend_pid()")[0][0]


def wait_until_no_sessions(url, timeout=120):
    """Until nothing else is connected to the database at `url`. A client killed with SIGKILL leaves its
    PostgreSQL backend behind for a moment: one still running a statement, or a COMMIT it had sent, carries
    on (and may commit) before it finds the client gone. Whatever is read after this is final."""
    deadline = time.monotonic() + timeout
    while other_sessions(url):
        if time.monotonic() > deadline:
            raise AssertionError(f"connections to {url} still open after {timeout} s")
        time.sleep(0.05)


def query(url, sql, *params, busy_timeout=30):
    """Rows of `sql` (placeholders `?`) on the database at `url`, read from outside the portal. On SQLite a
    read waits up to `busy_timeout` seconds for a lock (WAL readers need one only for moments, unless the
    process holding it is stopped there) before sqlite3.OperationalError."""
    if not is_postgresql_url(url):
        connection = sqlite3.connect(urlsplit(url).path, timeout=busy_timeout)
        try:
            return connection.execute(sql, params).fetchall()
        finally:
            connection.close()
    import psycopg
    with psycopg.connect(url, autocommit=True) as connection:
        return connection.execute(sql.replace("?", "%s"), params).fetchall()


# --- commands in a child process with a server's environment --------------------------------------------

def run_flask(env, *args, timeout=120, preexec_fn=None):
    """`flask --app wsgi ARGS` in a subprocess: (exit status, the JSON it printed, stderr)."""
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout, preexec_fn=preexec_fn)
    try:
        data = json.loads(done.stdout)
    except ValueError:
        raise AssertionError(f"flask {' '.join(args)} printed no JSON (exit {done.returncode}):\n"
                             f"{done.stdout}\n{done.stderr}")
    return done.returncode, data, done.stderr


def audit_verified(env):
    """`flask audit verify` on env's database passes (the audit chain is whole); returns its report."""
    code, report, stderr = run_flask(env, "audit", "verify")
    assert code == 0 and report["ok"], (report, stderr)
    return report


def run_python(env, code, *args, timeout=120):
    """Python `code` in a subprocess with `env`; returns the JSON of its last line of output."""
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(f"subprocess failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def enqueue(env, task, *args):
    """Queue a huey task from another process, as the web does: `task` is its module and name
    ("portal.imports.tasks.run_import_job"), called with `args`."""
    return run_python(env, "import importlib, json, sys; module, name = sys.argv[1].rsplit('.', 1); "
                           "getattr(importlib.import_module(module), name)(*json.loads(sys.argv[2])); print('{}')",
                      task, json.dumps(list(args)))


# --- data, built in a child process through the real services -------------------------------------------

def seed(env, spec):
    """Migrate the database of `env` and build `spec` in it (see `seed_here`), in a child process with
    that environment, so the portal there is configured as the servers are; returns what was made."""
    return run_python(env, "import json, sys; from tests.servers import seed_here; seed_here(json.loads(sys.argv[1]))",
                      json.dumps(spec))


def seed_here(spec):
    """In the child: migrate, build `spec`, print what was made as JSON.

    spec: "brands" [slug]; "platforms" {slug: [[marketplace, country]]}; "users" [[email, org, role]]
    (password PASSWORD); "partnerships" [[brand, platform]]; "verified_marks" {brand: n} (verified by its
    first partner); "imported_marks" {brand: n} (a list imported inline); "notices" [[brand, platform,
    marketplace]] (one filed under the partnership with the brand's verified marks); "clients" [[name,
    org, scope]]; "upload" [org, path, queued] (an import job for the file, on the worker; queued false:
    never queued, as if the queue had lost it)."""
    from portal import create_app
    from portal.audit import acting_as
    from portal.db import db, upgrade

    made = {"orgs": {}, "marketplaces": {}, "partnerships": {}, "marks": {}, "notices": {}, "clients": {}}
    with create_app().app_context():
        upgrade()
        with db.connection_context(), acting_as("test-seed"):
            orgs = _seed_organizations(spec, made)
            _seed_marks(spec, orgs, made)
            _seed_notices(spec, orgs, made)
            _seed_clients_and_upload(spec, orgs, made)
    print(json.dumps(made))


def _seed_organizations(spec, made):
    """Brands, platforms and their marketplaces, members, partnerships; returns {slug: organization}."""
    from portal.accounts import services
    from portal.partnerships.services import create_partnership

    orgs = {slug: services.create_organization(slug.title(), "brand", slug=slug) for slug in spec.get("brands", [])}
    for slug, markets in spec.get("platforms", {}).items():
        orgs[slug] = services.create_organization(slug.title(), "platform", slug=slug)
        for market, country in markets:
            made["marketplaces"][market] = services.create_marketplace(orgs[slug], market, country=country).slug
    made["orgs"] = {slug: org.id for slug, org in orgs.items()}
    for email, slug, role in spec.get("users", []):
        services.add_member(orgs[slug], email, role, password=PASSWORD)
    for brand, platform in spec.get("partnerships", []):
        made["partnerships"][f"{brand}/{platform}"] = create_partnership(orgs[brand], orgs[platform]).id
    return orgs


def _seed_marks(spec, orgs, made):
    import io

    from portal.imports.service import start_import
    from portal.marks.services import create_mark, review_mark

    for brand, count in spec.get("verified_marks", {}).items():
        platform = orgs[next(p for b, p in spec["partnerships"] if b == brand)]
        made["marks"][brand] = []
        for n in range(count):
            mark = create_mark(orgs[brand], dict(word=f"SEEDED{n}", office="CNIPA",
                                                 registration_number=str(12_000_000 + n), nice_classes="25"))[0]
            made["marks"][brand].append(review_mark(mark, platform, None, "verify").id)
    for brand, count in spec.get("imported_marks", {}).items():
        content = "word,office,registration_number,nice_classes\n" + "".join(
            f"SEED {n},USPTO,{1000000 + n},9\n" for n in range(count))
        job = start_import(orgs[brand], io.BytesIO(content.encode()), "seed.csv", "marks", run_inline=True)
        assert job.status == "done", job.failure


def _seed_notices(spec, orgs, made):
    from portal.notices.services import file_notice

    for brand, platform, market in spec.get("notices", []):
        fields = dict(partnership=made["partnerships"][f"{brand}/{platform}"], marketplace=made["marketplaces"][market],
                      reason_code="counterfeit", explanation="Counterfeit goods sold under our registered mark.",
                      good_faith=True, marks=made["marks"][brand])
        filed = file_notice(orgs[brand], fields, [(1, {"url": "https://item.taobao.com/item.htm?id=1"})], [])
        made["notices"][f"{brand}/{platform}"] = filed.notice.id


def _seed_clients_and_upload(spec, orgs, made):
    from portal.imports import service
    from portal.oauth.services import create_client

    for name, slug, scope in spec.get("clients", []):
        client, secret = create_client(orgs[slug], name, scope)
        made["clients"][name] = {"client_id": client.client_id, "client_secret": secret}
    if spec.get("upload"):
        slug, path, queued = spec["upload"]
        if not queued:
            service.schedule = lambda job, inline: None
        with open(path, "rb") as handle:
            made["job"] = service.start_import(orgs[slug], handle, os.path.basename(path), "marks", run_inline=False).id


# --- talking to a server --------------------------------------------------------------------------------

def token(base_url, client, scope=None):
    """A client credentials access token from the server's token endpoint (the client's whole scope
    unless `scope` asks for less)."""
    data = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
    response = requests.post(f"{base_url}/oauth/token", data=data,
                             auth=(client["client_id"], client["client_secret"]), timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def csrf_token(session, url):
    """The CSRF token of the form on the page at `url`, as a browser would send it."""
    page = session.get(url)
    assert page.status_code == 200, page.text[:500]
    return CSRF_PATTERN.search(page.text).group(1)


def sign_in(session, base, email, password=PASSWORD):
    """The sign-in form posted with `session` (its cookie keeps the session); returns the answer."""
    return session.post(f"{base}/login", data={"csrf_token": csrf_token(session, f"{base}/login"), "email": email,
                                               "password": password}, allow_redirects=False)


def signed_in_session(base, email):
    """A new requests.Session signed in as `email`."""
    session = requests.Session()
    answer = sign_in(session, base, email)
    assert answer.status_code == 302, answer.text
    return session


def csv_of_marks(rows, start, word="BULK"):
    """A trademark list of `rows` USPTO marks numbered from `start` (with dates, so rows are realistic)."""
    lines = ["word,office,registration_number,nice_classes,registered_on,expires_on,jurisdictions"]
    for n in range(rows):
        day = 1 + n % 28
        lines.append(f"{word}{n},USPTO,{start + n},9;25,2015-03-{day:02d},2035-03-{day:02d},US")
    return ("\n".join(lines) + "\n").encode()
