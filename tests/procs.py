"""Real processes for the fault and backup tests: gunicorn and huey consumers started the way `make run`
starts them (portal.runner), on scratch databases of the kind the suite runs on, so the session `app` and
its database are never disturbed.

`Processes` starts them in their own process groups with their output in log files, waits for them to
answer, and always kills them at teardown; a failing test prints their logs. `ScratchDatabases` makes
databases: a SQLite file in a folder of its own (the folder can be moved away to make it unavailable), or a
PostgreSQL database `<suite database>_<suffix>`, dropped afterwards. `seed()` runs in a subprocess
(`run_python`) to build data through the real services.
"""
import json
import os
import resource
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import requests

ROOT = Path(__file__).resolve().parent.parent
# Variables of the test process that must not leak into a portal process (it gets its own).
NOT_INHERITED = ("DATABASE_URL", "INSTANCE_PATH", "HUEY_IMMEDIATE", "REDIS_URL", "FLASK_DEBUG", "WEB_CONCURRENCY",
                 "PORT", "SECRET_KEY")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def portal_env(database_url, instance, **settings):
    """The environment of a portal process: its own database and instance folder, a real (not immediate)
    queue, the cheap password hashing of the tests, plus `settings` (MARKS_IMPORT_BATCH_ROWS=...)."""
    env = {name: value for name, value in os.environ.items()
           if name not in NOT_INHERITED and not name.startswith(("MARKS_", "PYTEST_"))}
    env.update(DATABASE_URL=database_url, INSTANCE_PATH=str(instance), HUEY_IMMEDIATE="0",
               PASSWORD_HASHING="test", LOG_LEVEL="INFO", PYTHONUNBUFFERED="1")
    env.update({name: str(value) for name, value in settings.items()})
    return env


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


def run_python(env, code, *args, timeout=120):
    """Python `code` in a subprocess with `env`; returns the JSON of its last line of output."""
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(f"subprocess failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def seed_in(env, **spec):
    """Run `seed(spec)` in a subprocess on env's database; returns what it printed."""
    return run_python(env, "import json, sys; from tests.procs import seed; seed(json.loads(sys.argv[1]))",
                      json.dumps(spec))


class Process:
    """A child in its own process group, its output (stdout and stderr) in a log file."""

    def __init__(self, name, command, env, log_path, preexec_fn=None):
        self.name, self.command, self.log_path = name, command, Path(log_path)
        self.log = open(self.log_path, "ab")

        def prepare():
            os.setsid()  # its own group: killing the group reaches gunicorn's workers too
            if preexec_fn:
                preexec_fn()
        self.popen = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                      preexec_fn=prepare)
        self.pid = self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def logs(self):
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")

    def signal_group(self, signum):
        try:
            os.killpg(self.pid, signum)
        except ProcessLookupError:
            pass

    def kill(self):
        """SIGKILL, as the kernel's OOM killer or a pulled plug would: no cleanup of any kind."""
        self.signal_group(signal.SIGKILL)
        self.popen.wait(10)

    def stop(self, grace=10):
        if self.alive():
            self.signal_group(signal.SIGTERM)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        self.signal_group(signal.SIGKILL)  # and anything it left in its group
        try:
            self.popen.wait(5)
        except subprocess.TimeoutExpired:
            pass
        self.log.close()

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

    def wait_for_log(self, text, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.logs():
                return
            if not self.alive():
                raise AssertionError(f"{self.name} exited ({self.popen.returncode}) before logging {text!r}")
            time.sleep(0.1)
        raise AssertionError(f"{self.name} did not log {text!r} within {timeout} s")


class Processes:
    """Starts gunicorn and huey consumers for one test; `close()` kills them all and, when the test
    failed, prints their logs (pytest shows them with the failure)."""

    def __init__(self, tmp_path):
        self.tmp_path = Path(tmp_path)
        self.started = []

    def start(self, name, command, env, preexec_fn=None):
        process = Process(name, command, env, self.tmp_path / f"{name}-{len(self.started)}.log", preexec_fn)
        self.started.append(process)
        return process

    def gunicorn(self, env, preexec_fn=None, timeout=60):
        """The portal on gunicorn as `make run` starts it; returns (process, base URL) once it answers."""
        from portal.runner import web_command

        port = free_port()
        env = dict(env, PORT=str(port))
        env.pop("FLASK_DEBUG", None)
        process = self.start("gunicorn", web_command(port), env, preexec_fn)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        while True:
            try:
                requests.get(f"{base}/healthz", timeout=5)  # any answer will do (the database may be down)
                return process, base
            except requests.ConnectionError:
                if not process.alive():
                    raise AssertionError(f"gunicorn exited ({process.popen.returncode}):\n{process.logs()}")
                if time.monotonic() > deadline:
                    raise AssertionError(f"gunicorn did not answer within {timeout} s:\n{process.logs()}")
                time.sleep(0.1)

    def consumer(self, env):
        """The huey consumer as `make run` starts it (portal.tasks.huey, thread workers)."""
        from portal.runner import worker_command

        return self.start("huey", worker_command(), env)

    def close(self, failed=False):
        for process in self.started:
            process.stop()
        if failed:
            for process in self.started:
                print(f"\n----- {process.name} (pid {process.pid}) {' '.join(process.command)}\n{process.logs()}")


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
    """Databases of the suite's kind for subprocesses; PostgreSQL ones are named after the suite's database
    (which contains "test") and dropped at the end."""

    def __init__(self, suite_url, tmp_path):
        self.suite_url, self.tmp_path = suite_url, Path(tmp_path)
        self.postgresql = suite_url.startswith(("postgres://", "postgresql://"))
        self.created = []

    def url_of(self, name):
        return urlunparse(urlparse(self.suite_url)._replace(path=f"/{name}"))

    def name_for(self, suffix):
        return f"{urlparse(self.suite_url).path.lstrip('/')}_{suffix}"

    def admin(self, sql):
        """Run `sql` on the suite's database as the portal role, outside a transaction (CREATE DATABASE)."""
        import psycopg
        with psycopg.connect(self.suite_url, autocommit=True) as connection:
            return connection.execute(sql).fetchall() if sql.lstrip().upper().startswith("SELECT") \
                else connection.execute(sql)

    def make(self, suffix):
        """A new empty database; returns its URL. SQLite: <tmp>/<suffix>/portal.db, alone in its folder."""
        if not self.postgresql:
            folder = self.tmp_path / suffix
            folder.mkdir(parents=True)
            return f"sqlite:///{folder / 'portal.db'}"
        name = self.name_for(suffix)
        self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.admin(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return self.url_of(name)

    def drop_all(self):
        for name in self.created:
            self.admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    # Taking a database away while the portal runs, and giving it back.

    def take_away(self, url):
        """SQLite: move the database's folder away (as a lost mount would: a new connection cannot open
        it). PostgreSQL: the database stops accepting connections and the open ones are terminated."""
        if not self.postgresql:
            folder = Path(urlparse(url).path).parent
            folder.rename(folder.with_name(folder.name + "-away"))
            return
        name = urlparse(url).path.lstrip("/")
        self.admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        self.admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")

    def give_back(self, url):
        if not self.postgresql:
            folder = Path(urlparse(url).path).parent
            folder.with_name(folder.name + "-away").rename(folder)
            return
        self.admin(f'ALTER DATABASE "{urlparse(url).path.lstrip("/")}" ALLOW_CONNECTIONS true')


def query(url, sql, *params):
    """Rows of `sql` (placeholders `?`) on the database at `url`, read from outside the portal."""
    if url.startswith("sqlite"):
        connection = sqlite3.connect(urlparse(url).path, timeout=30)
        try:
            return connection.execute(sql, params).fetchall()
        finally:
            connection.close()
    import psycopg
    with psycopg.connect(url) as connection:
        return connection.execute(sql.replace("?", "%s"), params).fetchall()


# --- data, built in a subprocess through the real services ----------------------------------------------

def seed(spec):
    """Migrate the database of this process's environment and build what `spec` asks for; print JSON.

    spec: password (of admin@microsoft.example, the brand's admin), client (an OAuth client of the brand
    with marks:read marks:write), notice (a platform, partnership, verified mark and a filed notice), marks
    (rows imported inline), queue_import (path of a file to import on the worker), lost_import (path of a
    file whose job is created but never queued, as if the queue had lost it)."""
    import io

    from portal import create_app
    from portal import db as database
    from portal.accounts import services
    from portal.audit import acting_as

    app = create_app()
    out = {}
    with app.app_context():
        database.upgrade()
    with app.app_context(), acting_as("test"), database.db.connection_context():
        brand = services.create_organization("Microsoft", "brand")
        out["brand"] = brand.id
        if spec.get("password"):
            services.add_member(brand, "admin@microsoft.example", "admin", password=spec["password"])
        if spec.get("client"):
            from portal.oauth.services import create_client
            client, secret = create_client(brand, "Integration", "marks:read marks:write")
            out.update(client_id=client.client_id, client_secret=secret)
        if spec.get("marks"):
            from portal.marks.imports import start_import
            content = "word,office,registration_number,nice_classes\n" + "".join(
                f"SEED {n},USPTO,{1000000 + n},9\n" for n in range(spec["marks"]))
            job = start_import(brand, io.BytesIO(content.encode()), "seed.csv", run_inline=True)
            assert job.status == "done", job.failure
        if spec.get("notice"):
            from portal.marks.services import create_mark, review_mark
            from portal.notices.services import file_notice
            from portal.partnerships.services import create_partnership
            platform = services.create_organization("Alibaba", "platform")
            market = services.create_marketplace(platform, "Taobao", country="CN")
            partnership = create_partnership(brand, platform, {})
            mark = create_mark(brand, dict(word="XBOX", office="CNIPA", registration_number="12345678",
                                           nice_classes="9"))[0]
            mark = review_mark(mark, platform, None, "verify")
            fields = dict(partnership=partnership.id, marketplace=market.slug, reason_code="counterfeit",
                          explanation="Counterfeit goods sold under our registered mark.", good_faith=True,
                          marks=[mark.id])
            filed = file_notice(brand, fields, [(1, {"url": "https://item.taobao.com/item.htm?id=1"})], [])
            out["notice"] = filed.notice.id
        for key, queued in (("queue_import", True), ("lost_import", False)):
            if spec.get(key):
                from portal.marks import imports
                if not queued:
                    imports.schedule = lambda job, inline: None
                with open(spec[key], "rb") as handle:
                    job = imports.start_import(brand, handle, os.path.basename(spec[key]), run_inline=False)
                out["job"] = job.id
    print(json.dumps(out))


def enqueue_in(env, task, *args):
    """Queue a huey task from another process, as the web does (portal.tasks.<task>(*args))."""
    return run_python(env, "import json, sys; from portal import tasks; "
                           "getattr(tasks, sys.argv[1])(*json.loads(sys.argv[2])); print('{}')",
                      task, json.dumps(list(args)))
