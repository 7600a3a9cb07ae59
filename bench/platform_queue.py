"""A platform's day at scale: the queue page with 5,000 open listings, and 300 moves in one API call.

    .venv/bin/python bench/platform_queue.py [--listings 5000] [--seconds 4] [--rounds 2] [--calls 6]
    DATABASE_URL=postgresql://portal:portal@127.0.0.1:5432/portal_test_b .venv/bin/python bench/platform_queue.py

Seeds the demo alliance in a throw-away instance (SQLite, or a new PostgreSQL database beside the named one),
then files `--listings` more listings to Alibaba through the filing service (notices of 300, from the demo's
brands), so one platform has over 5,000 open listings. Under gunicorn (2 workers x 8 threads), signed in as
Alibaba's analyst, 4 keep-alive clients drive the queue page (its default view: every open listing, nearest
deadline first, a page of 50) and signed-in `/healthz` (the trivial page) alternately, in rounds.

Then `--calls` times, `POST /api/v1/notice-items/transitions` with 300 moves (each call acknowledges the 300
listings of one notice; the last calls remove them, with a ground), timed end to end over HTTP with a client
credentials token. Beside it, in the same run, the database's floor for the same work: 300 separate
transactions (the moves are all-or-nothing one listing at a time), each one UPDATE of a listing and one
INSERT of its transition, by the driver alone (`sqlite3` / psycopg) on a copy of the same table's rows.

Targets (issue 20): the queue's p95 under 300 ms with 5,000 open listings; 300 moves in one call under 2 s.
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]
from api_throughput import drive, free_port, start_gunicorn, summary, throwaway_database  # noqa: E402
from pages import PASSWORD, PLATFORM, session_cookie  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
QUEUE_TARGET_MS = 300
BULK_TARGET_S = 2.0
MOVES = 300


def file_listings(total):
    """`total` listings to Alibaba in notices of 300, from each demo brand in turn. Returns the notices' ids."""
    from portal.accounts.models import Organization
    from portal.marks.models import Mark
    from portal.marks.offices import covered_countries
    from portal.notices.services import file_notice
    from portal.partnerships.models import Partnership
    from portal.partnerships.services import terms_in_force

    alibaba = Organization.get(Organization.slug == "alibaba")
    partnerships = list(Partnership.select().where((Partnership.platform == alibaba)
                                                   & (Partnership.status == "active")).order_by(Partnership.id))
    sources = []
    for partnership in partnerships:
        mark = next((m for m in Mark.for_org(partnership.brand_id).where(Mark.status == "verified")
                     if "CN" in covered_countries(m.jurisdiction_list)), None)
        if mark is not None:
            sources.append((partnership, mark, terms_in_force(partnership).marketplace_slugs))
    notices, filed, n = [], 0, 0
    while filed < total:
        partnership, mark, markets = sources[n % len(sources)]
        market = markets[n % len(markets)]
        size = min(MOVES, total - filed)
        entries = [(row, {"url": f"https://{market}.example/item/queue-bench-{n}-{row}",
                          "seller_id": f"queue-seller-{(n * 7 + row) % 900}",
                          "title": f"Replica {mark.word} item {row}"}) for row in range(1, size + 1)]
        values = {"partnership": partnership.id, "marketplace": market, "reason_code": "counterfeit",
                  "explanation": f"Counterfeit goods bearing the {mark.word} mark, sold as replicas.",
                  "marks": [mark.id], "good_faith": True}
        notices.append(file_notice(partnership.brand, values, entries).notice.id)
        filed += size
        n += 1
    return notices


def api_token(port):
    from portal.accounts.models import Organization
    from portal.audit import acting_as
    from portal.oauth.services import create_client

    with acting_as("bench"):
        client, secret = create_client(Organization.get(Organization.slug == "alibaba"), "queue bench",
                                       "notices:read notices:write")
    answer = requests.post(f"http://127.0.0.1:{port}/oauth/token", data={"grant_type": "client_credentials"},
                           auth=(client.client_id, secret))
    return answer.json()["access_token"]


def bulk_calls(port, token, notices, calls):
    """Seconds per call of 300 moves: acknowledging a notice's listings, then (the last third) removing them."""
    from portal.notices.models import NoticeItem

    headers = {"Authorization": f"Bearer {token}"}
    timings, refused = [], 0
    acknowledge = notices[:calls - calls // 3]
    remove = acknowledge[:calls // 3]
    work = [(notice, "acknowledged", "") for notice in acknowledge] + [
        (notice, "removed", "Counterfeit: the logo and serial number differ from the genuine product.")
        for notice in remove]
    for notice, to, reason in work:
        ids = [pk for (pk,) in NoticeItem.select(NoticeItem.id).where(NoticeItem.notice == notice).tuples()]
        body = {"moves": [{"item": pk, "to": to, "reason": reason} for pk in ids[:MOVES]]}
        started = time.perf_counter()
        answer = requests.post(f"http://127.0.0.1:{port}/api/v1/notice-items/transitions", json=body,
                               headers=headers, timeout=120)
        timings.append((to, time.perf_counter() - started))
        assert answer.status_code == 200, answer.text[:500]
        refused += answer.json()["refused"]
    return timings, refused


def database_floor(database_url):
    """Seconds for 300 transactions of one UPDATE and one INSERT each, by the driver alone, on scratch tables."""
    rows = [(n, "submitted") for n in range(1, MOVES + 1)]
    if database_url.startswith("sqlite"):
        import sqlite3
        path = database_url.split("///", 1)[1]
        connection = sqlite3.connect(path, isolation_level=None)
        run = connection.execute
        placeholder = "?"
    else:
        import psycopg
        connection = psycopg.connect(database_url, autocommit=True)
        run = connection.execute
        placeholder = "%s"
    run("CREATE TABLE bench_item (id INTEGER PRIMARY KEY, state VARCHAR(20), changed_at TIMESTAMP)")
    run("CREATE TABLE bench_transition (id INTEGER PRIMARY KEY, item_id INTEGER, to_state VARCHAR(20), "
        "reason TEXT, at TIMESTAMP)")
    for pk, state in rows:
        run(f"INSERT INTO bench_item (id, state) VALUES ({placeholder}, {placeholder})", (pk, state))
    started = time.perf_counter()
    for pk, _ in rows:
        run("BEGIN IMMEDIATE" if placeholder == "?" else "BEGIN")
        run(f"UPDATE bench_item SET state = {placeholder}, changed_at = CURRENT_TIMESTAMP WHERE id = {placeholder}",
            ("acknowledged", pk))
        run(f"INSERT INTO bench_transition (id, item_id, to_state, reason, at) VALUES ({placeholder}, {placeholder}, "
            f"{placeholder}, '', CURRENT_TIMESTAMP)", (pk, pk, "acknowledged"))
        run("COMMIT")
    elapsed = time.perf_counter() - started
    run("DROP TABLE bench_item")
    run("DROP TABLE bench_transition")
    connection.close()
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=5000, help="open listings filed to Alibaba")
    parser.add_argument("--seconds", type=float, default=4, help="per page per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--calls", type=int, default=6, help="bulk calls of 300 moves")
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
    from portal.notices.models import OPEN_STATES, NoticeItem

    app = create_app()
    upgrade()
    started = time.perf_counter()
    with app.app_context(), acting_as("bench"), db.connection_context():
        seed_demo()
        notices = file_listings(args.listings)
        open_count = NoticeItem.select().where(NoticeItem.state.in_(OPEN_STATES)
                                               & (NoticeItem.platform_id == NoticeItem.select(NoticeItem.platform_id)
                                                  .where(NoticeItem.notice == notices[0]).limit(1))).count()
    print(f"database: {env['DATABASE_URL'].split(':')[0]}   gunicorn: {args.workers} workers x 8 threads   "
          f"clients: {args.clients}   {args.rounds} rounds x {args.seconds:g} s per page   cpus: {os.cpu_count()}")
    print(f"  demo seeded and {args.listings:,} listings filed to Alibaba in {time.perf_counter() - started:.0f} s: "
          f"{open_count:,} open listings in its queue")
    port = free_port()
    server = start_gunicorn(env, port, args.workers)
    try:
        cookie = {"Cookie": session_cookie(port, PLATFORM)}
        measured = [("healthz (signed in)", "/healthz"), (f"queue ({open_count:,} open)", "/queue")]
        for _, path in measured:
            drive(port, path, cookie, 1, args.clients)
        collected, failures = {name: [] for name, _ in measured}, 0
        for _ in range(args.rounds):
            for name, path in measured:
                latencies, failed = drive(port, path, cookie, args.seconds, args.clients)
                collected[name].extend(latencies)
                failures += failed
        with app.app_context(), db.connection_context():
            token = api_token(port)
            timings, refused = bulk_calls(port, token, notices, args.calls)
    finally:
        server.terminate()
        server.wait(10)
    floor = database_floor(env["DATABASE_URL"])
    results = {name: summary(latencies, args.seconds * args.rounds) for name, latencies in collected.items()}
    print(f"  {'page':<24} {'req/s':>6} {'p50 ms':>8} {'p95 ms':>8}")
    for name, _ in measured:
        r = results[name]
        print(f"  {name:<24} {r['rps']:>6.0f} {r['p50_ms']:>8.2f} {r['p95_ms']:>8.2f}")
    queue_p95 = results[measured[1][0]]["p95_ms"]
    print(f"  queue p95 {queue_p95:.0f} ms: {'under' if queue_p95 < QUEUE_TARGET_MS else 'OVER'} the "
          f"{QUEUE_TARGET_MS} ms target ({queue_p95 / results['healthz (signed in)']['p95_ms']:.1f}x healthz)")
    seconds = [s for _, s in timings]
    print(f"  300 moves in one call ({len(timings)} calls: " + ", ".join(f"{to} {s:.2f} s" for to, s in timings)
          + ")")
    print(f"  median {statistics.median(seconds):.2f} s, slowest {max(seconds):.2f} s: "
          f"{'under' if max(seconds) < BULK_TARGET_S else 'OVER'} the {BULK_TARGET_S:g} s target; refused {refused}")
    print(f"  database floor, 300 transactions of UPDATE + INSERT by the driver: {floor:.3f} s "
          f"(the call's median is {statistics.median(seconds) / floor:.1f}x it)")
    print(f"  non-200 answers: {failures}")
    return failures == 0 and refused == 0


if __name__ == "__main__":
    main()
