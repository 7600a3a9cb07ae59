"""Signed-in pages against signed-in `/healthz`: p95 latency and queries per page, at two data sizes.

    .venv/bin/python bench/pages.py [--seconds 4] [--rounds 2] [--clients 4] [--workers 2]
    DATABASE_URL=postgresql://portal:portal@127.0.0.1:5432/portal_test .venv/bin/python bench/pages.py

Sets up a throw-away instance (as bench/api_throughput.py does: SQLite, or a new PostgreSQL database beside
the named one, dropped afterwards), seeds the demo alliance (12 weeks of notice history, marks, intel) and
runs the reports' periodic task once, as the worker would have. Then:

1. **queries per page**, counted in this process through the test client (peewee's query log), each page
   viewed once first (a session's first page loads what later ones find ready): the dashboard, the marks
   list (brand view and platform view, with its Brand column), the notices list (brand and platform), the
   platform's queue and the weekly report page for the live and the last closed week, and `/healthz`
   signed in;
2. **grows the data** (`--marks` more marks per brand, `--notices` more notices per brand filed this week,
   1 to 3 listings each, through the services), so that every list shows a full page of 50 rows, and
   counts again: a count that grows with the rows is a query per row;
3. under gunicorn (2 workers x 8 threads), signed in with a session cookie (the brand's admin, the
   platform's analyst), drives every page and signed-in `/healthz` from keep-alive client threads,
   alternating in rounds so that drift hits all alike, on the grown data. Prints p50 and p95 per page and
   p95 / healthz p95.

Targets (issue 19): each page's p95 within 3x of signed-in /healthz's; queries per page the same at both
sizes. Exits 1 on a non-200 answer or a query count that grows; the latency verdicts are printed.
"""
import argparse
import logging
import os
import random
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]
from api_throughput import drive, free_port, start_gunicorn, summary, throwaway_database  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench pages password"
BRAND, PLATFORM = "admin@louis-vuitton.example", "analyst@alibaba.example"
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
TARGET_RATIO = 3


def pages(now):
    """(name, who, path) of every page measured; `who` is the login it is viewed as."""
    from portal.accounts.models import Organization
    from portal.reports.weeks import last_closed_week, week_of

    zone = Organization.get(Organization.slug == "louis-vuitton").timezone
    live, closed = week_of(now, zone), last_closed_week(zone, now)
    return [("healthz (signed in)", BRAND, "/healthz"),
            ("dashboard (brand)", BRAND, "/"),
            ("dashboard (platform)", PLATFORM, "/"),
            ("marks (brand)", BRAND, "/marks"),
            ("marks (platform)", PLATFORM, "/marks"),
            ("notices (brand)", BRAND, "/notices"),
            ("notices (platform)", PLATFORM, "/notices"),
            ("queue (platform)", PLATFORM, "/queue"),
            (f"report live week {live}", BRAND, f"/reports/weekly?week={live}"),
            (f"report closed week {closed}", BRAND, f"/reports/weekly?week={closed}")]


class QueryCounter(logging.Handler):
    """Counts the statements peewee runs (it logs each one at DEBUG; its pool's own lines are not queries)."""

    def __init__(self):
        super().__init__()
        self.seen = 0

    def emit(self, record):
        if record.name == "peewee":
            self.seen += 1

    def __enter__(self):
        logger = logging.getLogger("peewee")
        self._saved = logger.level, logger.propagate
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
        logger.addHandler(self)
        return self

    def __exit__(self, *exc):
        logger = logging.getLogger("peewee")
        logger.removeHandler(self)
        logger.setLevel(self._saved[0])
        logger.propagate = self._saved[1]


def test_client_signed_in(app, email):
    client = app.test_client()
    token = CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
    answer = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert answer.status_code == 302, f"sign-in of {email} failed: {answer.status_code}"
    return client


def count_queries(app, measured):
    """{page name: (queries, rows shown)} through the test client, each page viewed once before."""
    clients = {who: test_client_signed_in(app, who) for who in {who for _, who, _ in measured}}
    counts = {}
    for name, who, path in measured:
        clients[who].get(path)
        with QueryCounter() as counter:
            answer = clients[who].get(path)
        assert answer.status_code == 200, f"{path}: {answer.status_code}"
        counts[name] = (counter.seen, answer.get_data(as_text=True).count("<tr") - 1)
    return counts


def grow(marks_per_brand, notices_per_brand, rng):
    """More marks for every brand and more notices filed this week (through the services, as people would),
    so that every list has a full page. Returns what was added."""
    from portal.accounts.models import Organization
    from portal.marks.models import Mark
    from portal.marks.offices import covered_countries
    from portal.marks.services import create_mark
    from portal.notices.services import file_notice
    from portal.partnerships.models import Partnership
    from portal.partnerships.services import terms_in_force

    brands = list(Organization.select().where(Organization.kind == "brand").order_by(Organization.id))
    added = {"marks": 0, "notices": 0, "listings": 0}
    for b, brand in enumerate(brands):
        for n in range(marks_per_brand):
            create_mark(brand, dict(word=f"{brand.name.upper()} BENCH {n}", office="USPTO",
                                    registration_number=str(6000000 + b * 100000 + n), nice_classes="9;25"))
            added["marks"] += 1
        partnership = Partnership.select().where((Partnership.brand == brand) & (Partnership.status == "active")).get()
        markets = terms_in_force(partnership).marketplace_slugs
        mark = next(m for m in Mark.for_org(brand).where(Mark.status == "verified").order_by(Mark.id)
                    if "CN" in covered_countries(m.jurisdiction_list))
        for n in range(notices_per_brand):
            market = markets[n % len(markets)]
            entries = [(row, {"url": f"https://{market}.example/item/bench-{b}-{n}-{row}",
                              "seller_id": f"bench-seller-{rng.randrange(400)}"})
                       for row in range(1, rng.randint(1, 3) + 1)]
            values = {"partnership": partnership.id, "marketplace": market, "reason_code": "counterfeit",
                      "explanation": f"Counterfeit goods bearing the {mark.word} mark, sold as replicas.",
                      "marks": [mark.id], "good_faith": True}
            file_notice(brand, values, entries)
            added["notices"] += 1
            added["listings"] += len(entries)
    return added


def session_cookie(port, email):
    import requests

    session = requests.Session()
    base = f"http://127.0.0.1:{port}"
    token = CSRF.search(session.get(f"{base}/login").text).group(1)
    answer = session.post(f"{base}/login", data={"email": email, "password": PASSWORD, "csrf_token": token},
                          allow_redirects=False)
    assert answer.status_code == 302, f"sign-in of {email} failed: {answer.status_code}"
    return "; ".join(f"{name}={value}" for name, value in session.cookies.items())


def measure(env, args, measured):
    port = free_port()
    server = start_gunicorn(env, port, args.workers)
    failures = 0
    try:
        cookies = {who: session_cookie(port, who) for who in {who for _, who, _ in measured}}
        for _, who, path in measured:  # warm up
            drive(port, path, {"Cookie": cookies[who]}, 1, args.clients)
        collected = {name: [] for name, _, _ in measured}
        for _ in range(args.rounds):
            for name, who, path in measured:
                latencies, failed = drive(port, path, {"Cookie": cookies[who]}, args.seconds, args.clients)
                collected[name].extend(latencies)
                failures += failed
    finally:
        server.terminate()
        server.wait(10)
    return {name: summary(latencies, args.seconds * args.rounds) for name, latencies in collected.items()}, failures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4, help="per page per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (8 threads each)")
    parser.add_argument("--marks", type=int, default=150, help="marks added per brand for the larger size")
    parser.add_argument("--notices", type=int, default=60, help="notices filed this week per brand, larger size")
    args = parser.parse_args()
    instance = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    env = dict(os.environ, INSTANCE_PATH=str(instance), API_RATE_LIMIT="100000000 per minute", LOG_LEVEL="WARNING",
               PYTHONPATH=str(ROOT), HUEY_IMMEDIATE="1", DEMO_PASSWORD=PASSWORD,
               SECRET_KEY=os.environ.get("SECRET_KEY", "bench-secret"))
    with throwaway_database(instance) as database:
        env["DATABASE_URL"] = database
        os.environ.update(env)
        try:
            ok = run(args, env)
        finally:
            shutil.rmtree(instance, ignore_errors=True)
    sys.exit(0 if ok else 1)


def run(args, env):
    from portal import create_app
    from portal.audit import acting_as
    from portal.db import db, upgrade
    from portal.demo import seed_demo
    from portal.reports.services import snapshot_closed_weeks
    from portal.timeutil import utcnow

    app = create_app()
    upgrade()
    started = time.perf_counter()
    with app.app_context(), acting_as("bench"), db.connection_context():
        seed_demo()
        snapshots = snapshot_closed_weeks()  # what the worker's periodic task has done by now
        measured = pages(utcnow())
    print(f"database: {env['DATABASE_URL'].split(':')[0]}   gunicorn: {args.workers} workers x 8 threads   "
          f"clients: {args.clients}   {args.rounds} rounds x {args.seconds:g} s per page   cpus: {os.cpu_count()}")
    print(f"  demo seeded and {snapshots} weekly snapshots taken in {time.perf_counter() - started:.0f} s")
    small = count_queries(app, measured)
    started = time.perf_counter()
    with app.app_context(), acting_as("bench"), db.connection_context():
        added = grow(args.marks, args.notices, random.Random(19))
    print(f"  grown by {added['marks']} marks, {added['notices']} notices ({added['listings']} listings) this week "
          f"in {time.perf_counter() - started:.0f} s")
    large = count_queries(app, measured)
    results, failures = measure(env, args, measured)
    return report(measured, small, large, results, failures)


def report(measured, small, large, results, failures):
    reference = results[measured[0][0]]["p95_ms"]
    print(f"  {'page':<30} {'queries':>15} {'rows':>11}   {'req/s':>6} {'p50 ms':>8} {'p95 ms':>8} {'p95/healthz':>12}")
    grew, slow = [], []
    for name, _, _ in measured:
        (few, few_rows), (many, many_rows) = small[name], large[name]
        r = results[name]
        ratio = r["p95_ms"] / reference
        if many != few:
            grew.append(name)
        if ratio > TARGET_RATIO:
            slow.append(name)
        print(f"  {name:<30} {few:>6} -> {many:<6} {max(few_rows, 0):>4} -> {max(many_rows, 0):<4}  "
              f"{r['rps']:>6.0f} {r['p50_ms']:>8.2f} {r['p95_ms']:>8.2f} {ratio:>11.2f}x")
    print(f"  queries per page the same at both sizes: {'yes' if not grew else 'NO: ' + ', '.join(grew)}")
    print(f"  p95 within {TARGET_RATIO}x of healthz: {len(measured) - 1 - len(slow)} of {len(measured) - 1} pages"
          + (f" (not: {', '.join(slow)})" if slow else ""))
    print(f"  non-200 answers: {failures}")
    return failures == 0 and not grew


if __name__ == "__main__":
    main()
