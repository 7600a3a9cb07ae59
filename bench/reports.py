"""Weekly reports at scale: 1,000,000 notice items over 200 orgs and 52 weeks.

    DATABASE_URL=postgresql://portal:portal@127.0.0.1:5432/portal_test .venv/bin/python bench/reports.py
    .venv/bin/python bench/reports.py --items 100000          # SQLite, smaller

Sets up a throw-away instance (as bench/api_throughput.py does: a new PostgreSQL database beside the
named one, dropped afterwards, or SQLite), then:

1. seeds 180 brands and 20 platforms (2 marketplaces each), two partnerships per brand, and N items
   (default 1,000,000) in notices of 10 spread evenly over the last 52 weeks up to now, with their
   transitions (filing, acknowledgement, removal or rejection, some counter-notices and reinstatements)
   and both SLA clocks, written with insert_many (the filing service would take hours for a million);
2. snapshots the 12 closed weeks before the last, for every org (as 12 weeks of the periodic task would;
   without trends of their own, to save time: only their totals are read later);
3. times **the weekly snapshot job for all orgs**: `snapshot_closed_weeks()`, the periodic task, taking the
   last closed week's snapshot of all 200 orgs;
4. under gunicorn, drives `GET /api/v1/reports/weekly` for a closed week and for the live week, and the
   trivial authenticated endpoint `GET /api/v1/me`, alternating, from keep-alive client threads, for a
   brand and for a platform. Prints p50/p95 per endpoint and the ratio closed p95 / trivial p95.

Targets (issue 7): closed week p95 within 2x of the trivial endpoint; live week p95 under 500 ms.
"""
import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]
from api_throughput import drive, free_port, start_gunicorn, summary, throwaway_database  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BRANDS, PLATFORMS, WEEKS, PER_NOTICE = 180, 20, 52, 10
ZONES = ("UTC", "Europe/Paris", "Asia/Shanghai", "America/New_York")
BATCH = 5000


def seed(items, rng):
    """The orgs, partnerships and `items` notice items with their transitions and clocks; returns the orgs."""
    from portal.accounts.models import Marketplace, Organization
    from portal.db import db, is_postgresql
    from portal.notices.models import Notice, NoticeItem, Transition
    from portal.partnerships.models import Partnership, Terms
    from portal.sla.models import SlaClock
    from portal.timeutil import utcnow

    now = utcnow()
    origin = now - timedelta(weeks=WEEKS)
    calendar = json.dumps({"always_open": True, "timezone": "UTC", "working_days": [0, 1, 2, 3, 4, 5, 6],
                           "opens": "00:00", "closes": "23:59", "holidays": []}, sort_keys=True)
    with db.atomic():
        platforms = [Organization.create(slug=f"platform-{n}", name=f"Platform {n}", kind="platform",
                                         timezone=ZONES[n % len(ZONES)], created_at=origin) for n in range(PLATFORMS)]
        brands = [Organization.create(slug=f"brand-{n}", name=f"Brand {n}", kind="brand",
                                      timezone=ZONES[n % len(ZONES)], created_at=origin) for n in range(BRANDS)]
        markets = {p.id: [Marketplace.create(org=p, slug=f"{p.slug}-{c}", name=f"{p.name} {c.upper()}", country="CN")
                          for c in ("a", "b")] for p in platforms}
        pairs = {}
        for n, brand in enumerate(brands):
            for platform in {platforms[n % PLATFORMS], platforms[(n * 7 + 3) % PLATFORMS]}:
                partnership = Partnership.create(brand=brand, platform=platform, status="active", created_at=origin)
                terms = Terms.create(partnership=partnership, version=1, state="in_force", proposed_by_org=brand,
                                     effective_from=origin.date(), marketplaces=";" + ";".join(
                                         m.slug for m in markets[platform.id]) + ";",
                                     ack_minutes=240, action_minutes=1440, fast_ack_minutes=120,
                                     fast_action_minutes=720, always_open=True)
                pairs.setdefault(brand.id, []).append((partnership, terms, platform))

    notice_rows, item_rows, transition_rows, clock_rows = [], [], [], []
    item_id = transition_id = clock_id = 0
    span = (now - origin).total_seconds()
    for notice_id in range(1, items // PER_NOTICE + 1):
        brand = brands[rng.randrange(BRANDS)]
        partnership, terms, platform = rng.choice(pairs[brand.id])
        market = rng.choice(markets[platform.id])
        filed = origin + timedelta(seconds=span * (notice_id - 0.5) / (items // PER_NOTICE))
        notice_rows.append((notice_id, brand.id, platform.id, partnership.id, terms.id, market.id, "counterfeit",
                            "Counterfeit goods sold under our registered mark.", "I state in good faith.", filed,
                            PER_NOTICE))
        for position in range(1, PER_NOTICE + 1):
            item_id += 1
            moves = [("", "submitted", filed)]
            acked = filed + timedelta(minutes=rng.uniform(10, 360))
            decided = acked + timedelta(minutes=rng.uniform(60, 2160))
            if acked < now:
                moves.append(("submitted", "acknowledged", acked))
            if decided < now:
                outcome = "removed" if rng.random() < 0.85 else "rejected"
                moves.append(("acknowledged", outcome, decided))
                if outcome == "removed" and rng.random() < 0.05:
                    countered = decided + timedelta(days=2)
                    if countered < now:
                        moves.append(("removed", "counter_noticed", countered))
                        ruled = countered + timedelta(days=1)
                        if ruled < now:
                            moves.append(("counter_noticed", rng.choice(("reinstated", "upheld")), ruled))
            state, changed = moves[-1][1], moves[-1][2]
            decision = next((to for _, to, _ in moves if to in ("removed", "rejected")), "")
            counter = next((to for _, to, _ in moves if to in ("reinstated", "upheld")), "")
            item_rows.append((item_id, notice_id, brand.id, platform.id, market.id, position,
                              f"https://{market.slug}.example/item/{item_id}", f"{market.slug}.example/item/{item_id}",
                              f"seller-{rng.randrange(5000)}", state, changed,
                              decision, decided if decision else None, counter,
                              moves[-1][2] if counter else None))
            for frm, to, at in moves:
                transition_id += 1
                transition_rows.append((transition_id, item_id, brand.id, platform.id, frm, to,
                                        platform.id if frm else brand.id, at))
            for metric, minutes, done in (("acknowledge", 240, acked), ("action", 1440, decided)):
                clock_id += 1
                deadline = filed + timedelta(minutes=minutes)
                finished = done < now
                left = int((deadline - done).total_seconds()) if finished else None
                clock_rows.append((clock_id, item_id, brand.id, platform.id, metric, minutes, calendar, filed, deadline,
                                   filed + timedelta(minutes=minutes * 0.75), "completed" if finished else "running",
                                   left, done if finished else None, bool(finished and done > deadline)))
    tables = (
        (Notice, (Notice.id, Notice.org, Notice.platform, Notice.partnership, Notice.terms, Notice.marketplace,
                  Notice.reason_code, Notice.explanation, Notice.good_faith_statement, Notice.filed_at,
                  Notice.item_count), notice_rows),
        (NoticeItem, (NoticeItem.id, NoticeItem.notice, NoticeItem.brand, NoticeItem.platform, NoticeItem.marketplace,
                      NoticeItem.position, NoticeItem.url, NoticeItem.url_key, NoticeItem.seller_id, NoticeItem.state,
                      NoticeItem.state_changed_at, NoticeItem.decision, NoticeItem.decided_at,
                      NoticeItem.counter_outcome, NoticeItem.counter_decided_at), item_rows),
        (Transition, (Transition.id, Transition.item, Transition.brand, Transition.platform, Transition.from_state,
                      Transition.to_state, Transition.actor_org, Transition.at), transition_rows),
        (SlaClock, (SlaClock.id, SlaClock.item, SlaClock.brand, SlaClock.platform, SlaClock.metric,
                    SlaClock.target_minutes, SlaClock.calendar, SlaClock.started_at, SlaClock.deadline,
                    SlaClock.warn_at, SlaClock.stage, SlaClock.remaining_seconds, SlaClock.stopped_at,
                    SlaClock.breached), clock_rows),
    )
    postgresql = is_postgresql()
    for model, fields, rows in tables:
        if postgresql:
            copy_rows(db, model, fields, rows)
            table = model._meta.table_name  # explicit ids: move the sequence past them
            db.execute_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
            continue
        for start in range(0, len(rows), BATCH):
            with db.atomic():
                model.insert_many(rows[start:start + BATCH], fields=fields).execute()
    if postgresql:
        db.execute_sql("ANALYZE")
    counts = {"notices": len(notice_rows), "items": len(item_rows), "transitions": len(transition_rows),
              "clocks": len(clock_rows)}
    return brands, platforms, counts


def copy_rows(db, model, fields, rows):
    """PostgreSQL's COPY (insert_many of millions of rows runs at a few thousand a second); the columns left
    out get their model defaults, which peewee applies in Python, not the database."""
    given = {field.name for field in fields}
    extra = [f for f in model._meta.sorted_fields if f.name not in given and f.default is not None
             and not callable(f.default)]
    columns = ", ".join(f.column_name for f in list(fields) + extra)
    defaults = tuple(f.default for f in extra)
    with db.atomic():
        with db.connection().cursor() as cursor:
            with cursor.copy(f"COPY {model._meta.table_name} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row + defaults)


def week_elapsed(org):
    from portal.reports.weeks import week_of
    from portal.timeutil import utcnow

    now = utcnow()
    return now - week_of(now, org.timezone).bounds(org.timezone)[0]


def backfill(orgs):
    """Snapshots of the 12 closed weeks before the last, per org: what 12 weeks of the periodic task leave
    behind, so the measured job and the live week read their trends from snapshots, as they do in steady
    state. To save time these 2,400 are taken without trends of their own (the oldest would compute up to
    12 unsnapshotted weeks each); only their totals are read later, and those are the real figures."""
    from unittest import mock

    from portal.reports import services
    from portal.reports.weeks import last_closed_week
    from portal.timeutil import utcnow

    now = utcnow()
    with mock.patch.object(services, "_trends", lambda org, week, now: []):
        for org in orgs:
            for week in last_closed_week(org.timezone, now).previous(services.TREND_WEEKS):
                services.snapshot(org, week, now)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=6, help="per endpoint per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    instance = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    env = dict(os.environ, INSTANCE_PATH=str(instance), API_RATE_LIMIT="100000000 per minute", LOG_LEVEL="WARNING",
               PYTHONPATH=str(ROOT), HUEY_IMMEDIATE="1", SECRET_KEY=os.environ.get("SECRET_KEY", "bench-secret"))
    with throwaway_database(instance) as database:
        env["DATABASE_URL"] = database
        os.environ.update(env)
        try:
            run(args, env)
        finally:
            shutil.rmtree(instance, ignore_errors=True)


def run(args, env):
    from portal import create_app
    from portal.audit import acting_as
    from portal.db import db, upgrade
    from portal.oauth.services import create_client
    from portal.reports.services import snapshot_closed_weeks

    app = create_app()
    upgrade()
    print(f"database: {env['DATABASE_URL'].split(':')[0]}   cpus: {os.cpu_count()}   "
          f"orgs: {BRANDS} brands + {PLATFORMS} platforms   weeks: {WEEKS}")
    with app.app_context(), acting_as("bench"), db.connection_context():
        started = time.perf_counter()
        brands, platforms, counts = seed(args.items, random.Random(7))
        print(f"  seeded {counts} in {time.perf_counter() - started:.0f} s")
        started = time.perf_counter()
        backfill(brands + platforms)
        print(f"  backfill: 12 closed weeks x {BRANDS + PLATFORMS} orgs in "
              f"{time.perf_counter() - started:.0f} s")
        started = time.perf_counter()
        taken = snapshot_closed_weeks()
        job = time.perf_counter() - started
        print(f"  weekly snapshot job (periodic task, last closed week of every org): {taken} snapshots in "
              f"{job:.1f} s ({job / max(taken, 1) * 1000:.0f} ms per org)")
        tokens = {}
        # The live week measured is the fullest one: orgs whose zone is furthest into its week right now.
        for org in (max(brands, key=week_elapsed), max(platforms, key=week_elapsed)):
            client, secret = create_client(org, "bench", "reports:read")
            tokens[org.slug] = (client.client_id, secret, org)
    measure(args, env, tokens)


def measure(args, env, tokens):
    import requests

    from portal.reports.weeks import last_closed_week, week_of
    from portal.timeutil import utcnow

    port = free_port()
    server = start_gunicorn(env, port, args.workers)
    failures, verdicts = 0, []
    try:
        for slug, (client_id, secret, org) in tokens.items():
            token = requests.post(f"http://127.0.0.1:{port}/oauth/token", data={"grant_type": "client_credentials"},
                                  auth=(client_id, secret)).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            now = utcnow()
            closed, live = last_closed_week(org.timezone, now), week_of(now, org.timezone)
            endpoints = {"trivial: api/v1/me": "/api/v1/me",
                         f"closed week {closed}": f"/api/v1/reports/weekly?week={closed}",
                         f"live week {live}": f"/api/v1/reports/weekly?week={live}"}
            live_path = endpoints[f"live week {live}"]
            size = len(requests.get(f"http://127.0.0.1:{port}{live_path}", headers=headers).content)
            for path in endpoints.values():  # warm up
                drive(port, path, headers, 1, args.clients)
            collected = {name: [] for name in endpoints}
            for _ in range(args.rounds):
                for name, path in endpoints.items():
                    latencies, failed = drive(port, path, headers, args.seconds, args.clients)
                    collected[name].extend(latencies)
                    failures += failed
            print(f"  {slug} ({org.kind}, {org.timezone}, live week {week_elapsed(org).total_seconds() / 86400:.1f} "
                  f"days in, report {size / 1024:.0f} KiB), {args.clients} clients, gunicorn {args.workers} workers:")
            results = {}
            for name, latencies in collected.items():
                results[name] = r = summary(latencies, args.seconds * args.rounds)
                print(f"    {name:<26} {r['rps']:7.0f} req/s   p50 {r['p50_ms']:7.2f} ms   p95 {r['p95_ms']:7.2f} ms")
            trivial = results["trivial: api/v1/me"]["p95_ms"]
            closed_p95 = results[f"closed week {closed}"]["p95_ms"]
            live_p95 = results[f"live week {live}"]["p95_ms"]
            print(f"    closed p95 / trivial p95: {closed_p95 / trivial:.2f} (target <= 2)   "
                  f"live p95: {live_p95:.0f} ms (target < 500)")
            verdicts += [closed_p95 / trivial <= 2, live_p95 < 500]
    finally:
        server.terminate()
        server.wait(10)
    print(f"  non-200 answers: {failures}")
    sys.exit(0 if failures == 0 and all(verdicts) else 1)


if __name__ == "__main__":
    main()
