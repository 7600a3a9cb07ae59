"""The marks import against the physical limit of the database, measured in the same run.

    .venv/bin/python bench/import_marks.py [--rows 100000] [--database-url URL] [--rss-rows 1000000]
                                           [--skip-rss] [--skip-api] [--profile]

Generates N realistic rows (USPTO, EUIPO, CNIPA, UKIPO, JPO, KIPO and WIPO numbers in the forms people
write them, 1-3 Nice classes, ISO dates, WIPO designations) into a CSV file, then in one database:

1. the limit: the same file parsed with `csv.reader` and its rows (already in their stored form) written
   with the driver's own bulk path into the same table and indexes, MARKS_IMPORT_BATCH_ROWS rows a
   transaction: `sqlite3`'s `executemany` of one INSERT, or psycopg's COPY on PostgreSQL;
2. the import service: `start_import(org, file, "marks.csv", "marks", run_inline=True)` into another org:
   upload copy and SHA-256, format and encoding detection, the counting pass, validation, the upsert,
   outcomes and audit events, all inside the timing;
3. the same file imported again into that org: every row unchanged;
4. (unless --skip-api) the same file uploaded through the HTTP API to a real gunicorn and huey worker on a
   database of their own, timed from the POST to the job's `done`;
5. (unless --skip-rss) a 1,000,000-row import in a child process started before this one has built
   anything: its peak RSS (`ru_maxrss`, and `VmHWM`) and its rows/s against the N-row run's.

The results are checked (jobs done, every row created, then every row unchanged, no errors, the service
stored exactly the rows the limit inserted) before any figure is printed.

Default database: a fresh SQLite file in a temporary folder, built by the migrations. With --database-url
naming PostgreSQL, the database's name must contain "bench" or "test": it is migrated and its tables are
emptied first (DATABASE_URL is not read: it often names the test database, which tests may be using); the
API run then uses a scratch database made beside it.
Targets (issue 19): new marks within 3x the limit; unchanged within 2x; 1,000,000 rows under 200 MB peak
RSS and within 20% of the N-row rate; the API within 1.5x of the service. Exits non-zero only for wrong
results.
"""
import argparse
import csv
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NEW_TARGET = 3.0  # service time / limit time, new marks
UNCHANGED_TARGET = 2.0  # the same file again / limit time
API_TARGET = 1.5  # API end to end / service
RSS_TARGET_MB = 200
FLAT_TARGET = 0.20  # the 1,000,000-row rate may be at most this much below the N-row rate
SEED = 20261122
HEADER = ("word", "office", "registration_number", "nice_classes", "registered_on", "expires_on",
          "jurisdictions")
# The stored form of a row, in this order (the import service's INSERT_FIELDS without org and timestamps).
STORED = ("word", "office", "registration_number", "nice_classes", "registered_on", "expires_on",
          "jurisdictions", "status")
OFFICE_CYCLE = ("USPTO", "EUIPO", "CNIPA", "UKIPO", "JPO", "KIPO", "WIPO")
IMPLIED = {"USPTO": "US", "EUIPO": "EU", "CNIPA": "CN", "UKIPO": "GB", "JPO": "JP", "KIPO": "KR"}
DESIGNATIONS = "AU BR CA CH CN DE FR GB IN JP KR MX NO RU SG TR US VN".split()
SYLLABLES = "ka lo mi na ro ze vi ta lu xo be ri sa no fe da qu el an or is tu".split()
SUFFIXES = ("", "", "", " PRO", " LINE", " & CO", " ONE", " ORIGINALS", " CAFÉ", " 東京")
MAX_ROWS = 10_000_000  # keeps every office's generated numbers within its format


# --- the data -----------------------------------------------------------------------------------------

def pack(values):
    return ";" + ";".join(str(v) for v in values) + ";" if values else ""


def generate(rows, seed=SEED):
    """Yields (csv cells, stored values) for `rows` distinct marks, the same for the same seed.

    Numbers are unique per office (row i is the (i // 7)-th number of office i % 7) and written the ways
    people write them: "1,234,567" at the USPTO, EUIPO numbers without their leading zero, KIPO with a
    dash; the stored values are what the portal's rules make of them (checked against the service).
    """
    if rows > MAX_ROWS:
        raise SystemExit(f"at most {MAX_ROWS:,} rows")
    rng = random.Random(seed)
    today = datetime.now(timezone.utc).date()  # the bench orgs' time zone is UTC
    first_day = date(1995, 1, 1)
    for i in range(rows):
        office, k = OFFICE_CYCLE[i % 7], i // 7
        roll = rng.random()
        if office == "USPTO":
            n = 1_000_000 + k
            number, written = str(n), f"{n:,}" if roll < 0.3 else str(n)
        elif office == "EUIPO":
            number = f"{18_000_000 + k:09d}"
            written = number.lstrip("0") if roll < 0.2 else number
        elif office == "CNIPA":
            number = written = str(10_000_000 + k)
        elif office == "UKIPO":
            number = f"UK{3_000_000 + k:011d}"
            written = number[2:] if roll < 0.2 else number
        elif office == "JPO":
            number = written = str(5_000_000 + k)
        elif office == "KIPO":
            number = f"40{1_000_000 + k:07d}"
            written = f"40-{number[2:]}" if roll < 0.3 else number
        else:
            number = written = str(1_000_000 + k)

        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))).upper() + rng.choice(SUFFIXES)
        classes = rng.sample(range(1, 46), rng.randint(1, 3))
        written_classes = (";" if roll < 0.6 else ", ").join(str(c) for c in classes)
        if rng.random() < 0.9:
            registered = first_day + timedelta(days=rng.randrange(31 * 365))
            expires = registered + timedelta(days=3652)
        else:
            registered = expires = None
        if office == "WIPO":
            countries = rng.sample(DESIGNATIONS, rng.randint(1, 5))
            written_countries, stored_countries = ";".join(countries), pack(sorted(countries))
        else:
            written_countries = IMPLIED[office] if rng.random() < 0.3 else ""
            stored_countries = pack([IMPLIED[office]])
        status = "expired" if expires is not None and expires < today else "pending"
        cells = (word, office, written, written_classes, registered.isoformat() if registered else "",
                 expires.isoformat() if expires else "", written_countries)
        stored = (word, office, number, pack(sorted(classes)), registered, expires, stored_countries, status)
        yield cells, stored


def write_csv(path, rows, keep=False):
    """Stream `rows` generated rows to a UTF-8 CSV; returns their stored values when `keep`."""
    kept = [] if keep else None
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for cells, stored in generate(rows):
            writer.writerow(cells)
            if keep:
                kept.append(stored)
    return kept


# --- the database -------------------------------------------------------------------------------------

def checked_database_url(url):
    """The URL to use, refusing a database this script would wrongly empty."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme in ("postgres", "postgresql"):
        name = parts.path.lstrip("/")
    elif parts.scheme == "sqlite":
        name = Path(url.split(":///", 1)[-1]).name
    else:
        raise SystemExit(f"--database-url must be sqlite:///... or postgresql://..., got {url!r}")
    if "bench" not in name and "test" not in name:
        raise SystemExit(f"refusing to use database {name!r}: this benchmark empties it. Use a database whose "
                         "name contains 'bench' or 'test' (createdb portal_bench).")
    return url


def make_app(instance, url, max_rows):
    """The app against `url` (a fresh SQLite file in `instance` when None), migrated and emptied."""
    os.environ["INSTANCE_PATH"] = str(instance)  # where settings_from_env keeps the secret key
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    from portal import create_app
    from portal.db import upgrade
    app = create_app({"DATABASE_URL": url or f"sqlite:///{instance / 'portal-bench.db'}",
                      "INSTANCE_PATH": str(instance),
                      "MARKS_IMPORT_MAX_ROWS": max_rows + 1000,
                      "MARKS_IMPORT_MAX_BYTES": 4096 * 1024 * 1024})
    with app.app_context():
        upgrade()
        empty_tables()
    return app


def empty_tables():
    from peewee import sort_models

    from portal.audit import GENESIS_HASH, AuditHead
    from portal.db import db, is_postgresql
    from portal.models import ALL_MODELS
    tables = [model for model in reversed(sort_models(ALL_MODELS)) if model is not AuditHead]
    with db.atomic():
        if is_postgresql():
            db.execute_sql("TRUNCATE " + ", ".join(f'"{m._meta.table_name}"' for m in tables) + " CASCADE")
        else:
            for model in tables:
                model.delete().execute()
        AuditHead.update(seq=0, hash=GENESIS_HASH).where(AuditHead.id == 1).execute()


def new_brand(name):
    from portal.accounts.services import create_organization
    return create_organization(name, "brand", timezone="UTC")


def database_label(app):
    from portal.db import is_postgresql
    with app.app_context():
        if is_postgresql():
            from portal.db import db
            version = db.execute_sql("SHOW server_version").fetchone()[0].split()[0]
            return f"PostgreSQL {version} ({urlsplit(app.config['DATABASE_URL']).path.lstrip('/')})"
        import sqlite3
        return f"SQLite {sqlite3.sqlite_version} (WAL, synchronous=normal)"


# --- timing -------------------------------------------------------------------------------------------

CPU = {}  # what each timed step cost in this process's CPU time, by name (see `timed`)


def import_file(org, path, name=None):
    """The real service path, timed: returns (job, seconds)."""
    from portal.imports.service import start_import
    with open(path, "rb") as stream:
        started, cpu = time.perf_counter(), time.process_time()
        job = start_import(org, stream, "marks.csv", "marks", run_inline=True)
        if name:
            CPU[name] = time.process_time() - cpu
        return job, time.perf_counter() - started


def limit_rows(org, stored_rows):
    """The rows as the driver takes them, built before the timing: every column of the table but the id,
    in the stored form (SQLite: dates as ISO text, as peewee stores them), the model's defaults included."""
    from portal.db import is_postgresql
    from portal.marks.models import Mark
    from portal.timeutil import utcnow
    now = utcnow()
    given = ("org", *STORED, "created_at", "updated_at")
    defaulted = [field for field in Mark._meta.sorted_fields
                 if field.name not in given and field.default is not None and field is not Mark._meta.primary_key]
    defaults = tuple(field.db_value(field.default() if callable(field.default) else field.default)
                     for field in defaulted)
    columns = [Mark._meta.fields[name].column_name for name in given] + [field.column_name for field in defaulted]
    text = (lambda value: value) if is_postgresql() else (
        lambda value: value.isoformat(" ") if isinstance(value, datetime) else
        value.isoformat() if isinstance(value, date) else value)
    rows = [tuple(text(value) for value in (org.id, *stored, now, now)) + defaults for stored in stored_rows]
    return columns, rows


def limit_insert(org, path, stored_rows, batch_rows):
    """The physical limit, timed: csv.reader over the file, and for each batch of its rows one transaction
    of the driver's bulk write (sqlite3 executemany; psycopg COPY). Returns seconds."""
    from portal.db import db, is_postgresql
    from portal.marks.models import Mark
    columns, rows = limit_rows(org, stored_rows)
    table, names = f'"{Mark._meta.table_name}"', ", ".join(f'"{c}"' for c in columns)
    connection = db.connection()
    postgresql = is_postgresql()

    def write(batch):
        if postgresql:
            with connection.transaction(), connection.cursor() as cursor:
                with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                    for row in batch:
                        copy.write_row(row)
        else:
            cursor = connection.cursor()
            cursor.execute("BEGIN")
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})", batch)
            cursor.execute("COMMIT")

    started, cpu = time.perf_counter(), time.process_time()
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        batch = []
        for _cells, row in zip(reader, rows):
            batch.append(row)
            if len(batch) == batch_rows:
                write(batch)
                batch = []
        if batch:
            write(batch)
    CPU["limit"] = time.process_time() - cpu
    return time.perf_counter() - started


def check_job(job, rows, created, unchanged):
    """A benchmark that imported nothing is worthless: the job must have done exactly what was expected."""
    from portal.imports.models import ImportRowError
    got = {"status": job.status, "total_rows": job.total_rows, "processed_rows": job.processed_rows,
           "created": job.created, "updated": job.updated, "unchanged": job.unchanged,
           "errors": job.error_rows, "failure": job.failure, "row_errors": ImportRowError.select()
           .where(ImportRowError.job == job.id).count()}
    expected = {"status": "done", "total_rows": rows, "processed_rows": rows, "created": created, "updated": 0,
                "unchanged": unchanged, "errors": 0, "failure": "", "row_errors": 0}
    if got != expected:
        raise SystemExit(f"import job {job.id} is wrong:\n  expected {expected}\n  got      {got}")


def stored_rows_of(org):
    from portal.marks.models import Mark
    columns = [getattr(Mark, name) for name in STORED]
    return set(Mark.for_org(org).select(*columns).tuples())


def rss_kb():
    """(current VmRSS, VmHWM) of this process in KB, from /proc (Linux)."""
    values = {}
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(("VmRSS:", "VmHWM:")):
                values[line.split(":")[0]] = int(line.split()[1])
    return values.get("VmRSS", 0), values.get("VmHWM", 0)


# --- the memory child ---------------------------------------------------------------------------------

def child_main(args):
    """Runs in a fresh process: app, baseline RSS, import of `args.child_file`, peak RSS. Prints JSON."""
    import gc
    instance = Path(tempfile.mkdtemp(prefix="portal-bench-rss-"))
    try:
        app = make_app(instance, args.database_url, args.rss_rows)
        with app.app_context():
            from portal.audit import acting_as
            from portal.marks.models import Mark
            with acting_as("bench"):
                org = new_brand("Bench RSS Brand")
                gc.collect()
                baseline_rss, baseline_hwm = rss_kb()
                baseline_maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                job, seconds = import_file(org, args.child_file)
            peak_maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            _, peak_hwm = rss_kb()
            check_job(job, args.rss_rows, created=args.rss_rows, unchanged=0)
            marks = Mark.for_org(org).count()
            if marks != args.rss_rows:
                raise SystemExit(f"{marks} marks stored, expected {args.rss_rows}")
    finally:
        shutil.rmtree(instance, ignore_errors=True)
    print(json.dumps({"rows": args.rss_rows, "seconds": seconds, "baseline_rss_kb": baseline_rss,
                      "baseline_maxrss_kb": baseline_maxrss, "baseline_hwm_kb": baseline_hwm,
                      "peak_maxrss_kb": peak_maxrss, "peak_hwm_kb": peak_hwm}))


def measure_rss(workdir, rows, url):
    """Generate the file (streamed) and import it in a child process; returns the child's figures.

    Called before this process imports the portal: a child's ru_maxrss starts at the parent's peak
    (Linux keeps it across exec), so the parent must be small when it starts the child.
    """
    path = workdir / f"marks-{rows}.csv"
    started = time.perf_counter()
    write_csv(path, rows)
    print(f"generated {rows:,} rows ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - started:.0f} s;"
          f" importing them in a child process (parent RSS now {rss_kb()[0] / 1024:.0f} MB)", flush=True)
    command = [sys.executable, str(Path(__file__).resolve()), "--child-file", str(path), "--rss-rows", str(rows)]
    if url:
        command += ["--database-url", url]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    path.unlink(missing_ok=True)
    if result.returncode != 0:
        raise SystemExit(f"the memory child failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- the HTTP API, end to end -------------------------------------------------------------------------

def api_end_to_end(workdir, path, rows, url):
    """The file through the API of a real gunicorn and huey worker (as `make run` starts them) on a
    database of their own: POST /api/v1/marks/imports, then polling the job until it is done. Returns
    seconds from the POST to `done`."""
    import requests

    from tests.servers import Processes, portal_env, scratch_databases, seed, token
    folder = workdir / "api"
    processes = Processes(folder / "logs")
    if url:
        os.environ["DATABASE_URL"] = url  # where scratch_databases makes its database (beside this one)
    try:
        with scratch_databases(folder) as databases:
            database_url = databases.make(f"bench_api_{os.getpid()}")
            env = portal_env(database_url, folder / "instance", LOG_LEVEL="WARNING",
                             API_RATE_LIMIT="100000000 per minute", MARKS_IMPORT_MAX_ROWS=rows + 1000,
                             MARKS_IMPORT_MAX_BYTES=4096 * 1024 * 1024)
            env.pop("PASSWORD_HASHING")
            made = seed(env, {"brands": ["bench"], "clients": [["bench", "bench", "marks:read marks:write"]]})
            web = processes.gunicorn(env, workers=1, threads=4)
            processes.consumer(env)
            headers = {"Authorization": f"Bearer {token(web.url, made['clients']['bench'])}"}
            with open(path, "rb") as handle:
                started = time.perf_counter()
                answer = requests.post(f"{web.url}/api/v1/marks/imports", headers=headers, timeout=600,
                                       files={"file": ("marks.csv", handle, "text/csv")})
            if answer.status_code != 202:
                raise SystemExit(f"the API refused the upload: {answer.status_code} {answer.text[:500]}")
            job = answer.json()
            while job["status"] not in ("done", "failed"):
                time.sleep(0.05)
                job = requests.get(f"{web.url}/api/v1/marks/imports/{job['id']}", headers=headers, timeout=60).json()
            seconds = time.perf_counter() - started
            if (job["status"], job["created"], job["errors"]) != ("done", rows, 0):
                raise SystemExit(f"the API import is wrong: {job}")
            return seconds
    except BaseException:
        processes.print_logs()
        raise
    finally:
        processes.stop_all()


# --- the main run -------------------------------------------------------------------------------------

def run_benchmark(workdir, rows, url, profile):
    app = make_app(workdir / "instance", url, rows)
    batch_rows = app.config["MARKS_IMPORT_BATCH_ROWS"]
    path = workdir / f"marks-{rows}.csv"
    stored = write_csv(path, rows, keep=True)
    warm_path = workdir / "warm.csv"
    write_csv(warm_path, 50)
    figures = {"rows": rows, "batch_rows": batch_rows, "file_mb": path.stat().st_size / 1e6,
               "database": database_label(app), "path": path}
    with app.app_context():
        from portal.audit import acting_as
        from portal.marks.models import Mark
        with acting_as("bench"):
            service_org, limit_org, warm_org = (new_brand("Bench Service Brand"), new_brand("Bench Limit Brand"),
                                                new_brand("Bench Warm-up Brand"))
            job, _ = import_file(warm_org, warm_path)  # imports modules, opens the connection, fills caches
            check_job(job, 50, created=50, unchanged=0)

            figures["limit_seconds"] = limit_insert(limit_org, path, stored, batch_rows)
            if profile:
                import cProfile
                import pstats
                profiler = cProfile.Profile()
                profiler.enable()
            job, figures["service_seconds"] = import_file(service_org, path, "service")
            if profile:
                profiler.disable()
            check_job(job, rows, created=rows, unchanged=0)
            job, figures["again_seconds"] = import_file(service_org, path, "again")
            check_job(job, rows, created=0, unchanged=rows)

        limit_marks, service_marks = stored_rows_of(limit_org), stored_rows_of(service_org)
        if len(limit_marks) != rows or service_marks != limit_marks or Mark.for_org(service_org).count() != rows:
            raise SystemExit(f"the service stored other rows than the limit run: {len(service_marks)} vs "
                             f"{len(limit_marks)} distinct, {len(service_marks - limit_marks)} differ")
    if profile:
        print("\nprofile of the first service import (its time in the figures below is inflated by the profiler):")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
    figures["profiled"] = profile
    figures["cpu"] = dict(CPU)
    return figures


def report(figures, memory, api_seconds):
    rows = figures["rows"]
    limit, service, again = figures["limit_seconds"], figures["service_seconds"], figures["again_seconds"]
    verdict = lambda ok: "PASS" if ok else "FAIL"  # noqa: E731
    judged = (lambda ok: "not judged (profiled)") if figures["profiled"] else verdict  # noqa: E731
    driver = "COPY" if figures["database"].startswith("PostgreSQL") else "sqlite3 executemany"
    print(f"\ndatabase: {figures['database']}   rows: {rows:,} ({figures['file_mb']:.1f} MB CSV)   "
          f"batch: {figures['batch_rows']} rows   cpus: {os.cpu_count()}")
    checks = [service / limit <= NEW_TARGET, again / limit <= UNCHANGED_TARGET]
    table = [
        (f"limit: csv.reader + {driver}", f"{limit:7.2f} s", f"{rows / limit:9,.0f} rows/s"),
        ("import service, new marks", f"{service:7.2f} s", f"{rows / service:9,.0f} rows/s"),
        ("  ratio to the limit", f"{service / limit:7.2f} x", f"target <= {NEW_TARGET:g} x: {judged(checks[0])}"),
        ("same file again, all unchanged", f"{again:7.2f} s", f"{rows / again:9,.0f} rows/s"),
        ("  ratio to the limit", f"{again / limit:7.2f} x",
         f"target <= {UNCHANGED_TARGET:g} x: {judged(checks[1])}"),
    ]
    if api_seconds:
        checks.append(api_seconds / service <= API_TARGET)
        table += [("HTTP API, POST to done (gunicorn + worker)", f"{api_seconds:7.2f} s",
                   f"{rows / api_seconds:9,.0f} rows/s"),
                  ("  ratio to the service", f"{api_seconds / service:7.2f} x",
                   f"target <= {API_TARGET:g} x: {judged(checks[-1])}")]
    if memory:
        peak_mb = memory["peak_maxrss_kb"] / 1024
        big_rate = memory["rows"] / memory["seconds"]
        flat = big_rate >= (1 - FLAT_TARGET) * rows / service
        checks += [peak_mb < RSS_TARGET_MB, flat]
        table += [
            (f"import of {memory['rows']:,} rows (child)", f"{memory['seconds']:7.1f} s", f"{big_rate:9,.0f} rows/s"),
            ("  rate against the run above", f"{big_rate / (rows / service):7.2f} x",
             f"target >= {1 - FLAT_TARGET:g} x: {verdict(flat)}"),
            ("  RSS after create_app", f"{memory['baseline_rss_kb'] / 1024:7.0f} MB",
             f"(ru_maxrss so far {memory['baseline_maxrss_kb'] / 1024:.0f} MB)"),
            ("  peak RSS (ru_maxrss)", f"{peak_mb:7.0f} MB", f"target < {RSS_TARGET_MB} MB: {verdict(peak_mb < RSS_TARGET_MB)}"),
            ("  peak RSS (VmHWM)", f"{memory['peak_hwm_kb'] / 1024:7.0f} MB", ""),
        ]
    cpu = figures["cpu"]
    if driver != "COPY":  # on PostgreSQL the database's own work is in its server processes, not counted here
        table.append(("CPU time of this process (robust to load)", "", f"limit {cpu['limit']:.2f} s, service "
                      f"{cpu['service']:.2f} s ({cpu['service'] / cpu['limit']:.2f} x), unchanged {cpu['again']:.2f} s "
                      f"({cpu['again'] / cpu['limit']:.2f} x)"))
    print("\n".join(f"  {name:<42} {value:>10}   {note}" for name, value, note in table))
    print("  checked: every import done, all rows created (then all unchanged), 0 errors, same rows as the limit run")
    if figures["profiled"]:
        print("  targets: not judged, the first import ran under cProfile (its time is inflated)")
    else:
        skipped = [part for part, ran in (("API", api_seconds), ("memory", memory)) if not ran]
        print(f"  targets: {'all met' if all(checks) else 'NOT met'}"
              + (f" ({' and '.join(skipped)} part skipped)" if skipped else ""))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the timed file (default 100,000)")
    parser.add_argument("--database-url", default=None,
                        help="postgresql://.../portal_bench (name must contain bench or test); "
                             "default: a fresh SQLite file")
    parser.add_argument("--rss-rows", type=int, default=1_000_000, help="rows of the memory run (default 1,000,000)")
    parser.add_argument("--skip-rss", action="store_true", help="skip the memory run")
    parser.add_argument("--skip-api", action="store_true", help="skip the run through the HTTP API")
    parser.add_argument("--profile", action="store_true", help="cProfile the first service import and print it")
    parser.add_argument("--child-file", help=argparse.SUPPRESS)  # internal: run as the memory child
    args = parser.parse_args()
    args.database_url = checked_database_url(args.database_url)
    if args.child_file:
        child_main(args)
        return
    if args.rows < 1000:
        raise SystemExit("--rows must be at least 1000")

    workdir = Path(tempfile.mkdtemp(prefix="portal-bench-import-"))
    try:
        memory = None if args.skip_rss else measure_rss(workdir, args.rss_rows, args.database_url)
        figures = run_benchmark(workdir, args.rows, args.database_url, args.profile)
        api_seconds = None if args.skip_api else api_end_to_end(workdir, figures["path"], args.rows,
                                                                args.database_url)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report(figures, memory, api_seconds)


if __name__ == "__main__":
    main()
