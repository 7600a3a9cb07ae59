"""Requests per second of an authenticated `GET /api/v1/me` against an unauthenticated trivial endpoint
(`GET /healthz`, one `SELECT 1`) of the same app, under gunicorn, in the same run.

    .venv/bin/python bench/api_throughput.py [--seconds 8] [--clients 8] [--workers 2]

Sets up a throw-away instance (SQLite by default; with DATABASE_URL=postgresql://... a new database is
created beside the named one with the same credentials, and dropped afterwards), registers a
client with the real CLI, gets a token from the real token endpoint, then drives both endpoints from
client threads with keep-alive connections, alternating them in rounds so that drift hits both alike.
Prints requests/s, p50 and p95 latency per endpoint and the ratio me/healthz (target >= 0.6).
"""
import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@contextmanager
def throwaway_database(instance):
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        yield f"sqlite:///{instance / 'portal.db'}"
        return
    import psycopg

    name = f"portal_bench_{os.getpid()}"
    parts = urlsplit(url)
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def flask(env, *args):
    result = subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def prepare(env):
    flask(env, "db", "upgrade")
    flask(env, "org", "create", "--name", "Bench Brand", "--kind", "brand", "--slug", "bench-brand")
    return flask(env, "client", "create", "--org", "bench-brand", "--name", "bench", "--scope", "reports:read")


def start_gunicorn(env, port, workers):
    command = [str(BIN / "gunicorn"), "wsgi:app", "--config", str(ROOT / "gunicorn.conf.py"),
               "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--access-logfile", "/dev/null"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except requests.RequestException:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("gunicorn did not start: " + process.stderr.read().decode()[-2000:])


def drive(port, path, headers, seconds, clients):
    """`clients` threads, each on one keep-alive connection, for `seconds`. Returns latencies and errors."""
    latencies, errors, lock = [], [], threading.Lock()
    stop_at = time.monotonic() + seconds

    def client():
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine, failed = [], 0
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read()
            mine.append(time.perf_counter() - started)
            if response.status != 200:
                failed += 1
        connection.close()
        with lock:
            latencies.extend(mine)
            errors.append(failed)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, sum(errors)


def summary(latencies, seconds):
    ordered = sorted(latencies)
    return {"requests": len(ordered), "rps": len(ordered) / seconds,
            "p50_ms": statistics.median(ordered) * 1000,
            "p95_ms": ordered[int(len(ordered) * 0.95) - 1] * 1000}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8, help="per endpoint per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (8 threads each)")
    args = parser.parse_args()

    instance = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    env = dict(os.environ, INSTANCE_PATH=str(instance), API_RATE_LIMIT="100000000 per minute",
               LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT))
    port = free_port()
    with throwaway_database(instance) as database:
        env["DATABASE_URL"] = database
        collected, failures = run_benchmark(env, port, args)
    shutil.rmtree(instance, ignore_errors=True)
    report(database, args, collected, failures)


def run_benchmark(env, port, args):
    client = prepare(env)
    server = start_gunicorn(env, port, args.workers)
    try:
        token = requests.post(f"http://127.0.0.1:{port}/oauth/token", data={"grant_type": "client_credentials"},
                              auth=(client["client_id"], client["client_secret"])).json()["access_token"]
        endpoints = {"healthz (no token)": ("/healthz", {}),
                     "api/v1/me (bearer)": ("/api/v1/me", {"Authorization": f"Bearer {token}"})}
        for path, headers in endpoints.values():  # warm up connections, pools and imports
            drive(port, path, headers, 1, args.clients)
        collected, failures = {name: [] for name in endpoints}, 0
        for _ in range(args.rounds):
            for name, (path, headers) in endpoints.items():
                latencies, failed = drive(port, path, headers, args.seconds, args.clients)
                collected[name].extend(latencies)
                failures += failed
    finally:
        server.terminate()
        server.wait(10)
    return collected, failures


def report(database, args, collected, failures):
    total_seconds = args.seconds * args.rounds
    print(f"database: {database.split(':')[0]}   gunicorn: {args.workers} workers x 8 threads   "
          f"clients: {args.clients}   {args.rounds} rounds x {args.seconds:g} s per endpoint   cpus: {os.cpu_count()}")
    results = {}
    for name, latencies in collected.items():
        results[name] = summary(latencies, total_seconds)
        r = results[name]
        print(f"  {name:<20} {r['rps']:8.0f} req/s   p50 {r['p50_ms']:6.2f} ms   p95 {r['p95_ms']:6.2f} ms"
              f"   ({r['requests']} requests)")
    base, api = results["healthz (no token)"], results["api/v1/me (bearer)"]
    ratio = api["rps"] / base["rps"]
    print(f"  ratio me/healthz: {ratio:.2f}  (target >= 0.6)   non-200 answers: {failures}")
    sys.exit(0 if failures == 0 else 1)


if __name__ == "__main__":
    main()
