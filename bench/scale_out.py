"""Requests per second of the production shape: one app process against two, on PostgreSQL and Redis.

    DATABASE_URL=postgresql://portal:portal@127.0.0.1:5432/portal_test .venv/bin/python bench/scale_out.py \
        [--seconds 8] [--clients 8] [--workers 2] [--path /api/v1/me ...]

Creates a throw-away database beside the one DATABASE_URL names (same credentials, dropped afterwards)
and starts its own redis-server on a free port, then for each shape starts gunicorn (gunicorn.conf.py:
gthread, 8 threads per worker; access log off) with REDIS_URL set, as production runs it (rate-limit
counters, sign-in throttle and the huey queue in Redis):

- 1 process  x N workers (one master, one port);
- 1 process  x 2N workers (the same number of workers as the next shape, in one master);
- 2 processes x N workers (two masters on two ports; the clients alternate between them, as a
  round-robin load balancer would).

In each shape `--clients` keep-alive client threads drive, in turns, an authenticated `GET /api/v1/me`
(token check, rate limit counted in Redis) and `GET /api/v1/marks?limit=20` (a page of 20 marks of a
brand holding 2,000), or the paths given with --path, and the script prints requests/s, p50 and p95 per
shape. Any answer other than 200 is counted and makes the exit status 1.
"""
import argparse
import http.client
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import (Processes, csv_of_marks, is_postgresql_url, portal_env, scratch_databases,  # noqa: E402
                           seed, token)

DEFAULT_PATHS = ("/api/v1/me", "/api/v1/marks?limit=20")


def drive(bases, paths, headers, seconds, clients):
    """`clients` threads, client n on bases[n % len(bases)] with one keep-alive connection, alternating the
    paths. Returns (latencies, failures)."""
    latencies, failures, lock = [], [], threading.Lock()
    stop_at = time.monotonic() + seconds

    def client(n):
        host, port = bases[n % len(bases)].split("//")[1].split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        mine, failed, turn = [], 0, n
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            connection.request("GET", paths[turn % len(paths)], headers=headers)
            response = connection.getresponse()
            response.read()
            mine.append(time.perf_counter() - started)
            failed += response.status != 200
            turn += 1
        connection.close()
        with lock:
            latencies.extend(mine)
            failures.append(failed)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, sum(failures)


def run_shape(processes, env, name, masters, workers, args, client):
    servers = [processes.gunicorn(dict(env), f"{name}-{n + 1}", workers=workers, threads=8, wait=False)
               for n in range(masters)]
    for server in servers:
        server.wait_for_http()
    urls = [server.url for server in servers]
    try:
        headers = {"Authorization": f"Bearer {token(urls[0], client)}"}
        drive(urls, args.path, headers, 1.5, args.clients)  # warm up: connections, pools, imports
        latencies, failures = drive(urls, args.path, headers, args.seconds, args.clients)
    finally:
        for server in servers:
            server.stop()
    ordered = sorted(latencies)
    return {"requests": len(ordered), "rps": len(ordered) / args.seconds,
            "p50_ms": statistics.median(ordered) * 1000, "p95_ms": ordered[int(len(ordered) * 0.95) - 1] * 1000,
            "failures": failures}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8, help="measured time per shape")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per process (N)")
    parser.add_argument("--path", action="append", help="a path to GET (repeatable; default: "
                                                        + " and ".join(DEFAULT_PATHS) + ")")
    args = parser.parse_args()
    args.path = args.path or list(DEFAULT_PATHS)
    if not is_postgresql_url(os.environ.get("DATABASE_URL", "")):
        raise SystemExit("Set DATABASE_URL=postgresql://... (the shape measured is PostgreSQL + Redis).")
    if not shutil.which("redis-server"):
        raise SystemExit("redis-server is not installed (apt-get install redis-server).")

    folder = Path(tempfile.mkdtemp(prefix="portal-bench-scale-"))
    processes = Processes(folder / "logs")
    results = {}
    try:
        with scratch_databases(folder) as databases:
            database_url = databases.make(f"bench_scale_{os.getpid()}")
            redis_url = processes.redis()
            env = portal_env(database_url, folder / "instance", REDIS_URL=redis_url, LOG_LEVEL="WARNING",
                             API_RATE_LIMIT="100000000 per minute", MARKS_IMPORT_INLINE_BYTES=10_000_000)
            env.pop("PASSWORD_HASHING")
            made = seed(env, {"brands": ["bench"], "clients": [["bench", "bench", "marks:read marks:write"]]})
            client = made["clients"]["bench"]
            load_marks(processes, env, client)
            shapes = [("one", 1, args.workers), ("one-wide", 1, 2 * args.workers), ("two", 2, args.workers)]
            for name, masters, workers in shapes:
                results[(masters, workers)] = run_shape(processes, env, name, masters, workers, args, client)
    except BaseException:
        processes.print_logs()
        raise
    finally:
        processes.stop_all()
    shutil.rmtree(folder, ignore_errors=True)
    report(results, args)


def load_marks(processes, env, client):
    """2,000 marks for the list endpoint, imported through the API of a short-lived server."""
    import requests
    loader = processes.gunicorn(dict(env), "loader", workers=1, threads=2)
    base = loader.url
    try:
        headers = {"Authorization": f"Bearer {token(base, client)}"}
        answer = requests.post(f"{base}/api/v1/marks/imports", headers=headers, timeout=300,
                               files={"file": ("marks.csv", csv_of_marks(2_000, 1_000_000), "text/csv")})
        assert answer.status_code == 202 and answer.json()["status"] == "done", answer.text[:500]
    finally:
        loader.stop()


def report(results, args):
    failures = sum(r["failures"] for r in results.values())
    print(f"PostgreSQL + Redis, gunicorn gthread x 8 threads, {args.clients} keep-alive clients, "
          f"{args.seconds:g} s per shape, paths alternating {' and '.join(args.path)}, cpus: {os.cpu_count()}")
    for (masters, workers), r in results.items():
        label = f"{masters} process{'es' if masters > 1 else ''} x {workers} workers"
        print(f"  {label:<24} {r['rps']:7.0f} req/s   p50 {r['p50_ms']:6.2f} ms   p95 {r['p95_ms']:6.2f} ms"
              f"   ({r['requests']} requests, {r['failures']} not 200)")
    one, two = results[(1, args.workers)], results[(2, args.workers)]
    print(f"  two processes / one: {two['rps'] / one['rps']:.2f}x requests/s")
    sys.exit(0 if failures == 0 else 1)


if __name__ == "__main__":
    main()
