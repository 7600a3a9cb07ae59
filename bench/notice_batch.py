"""A 50,000-listing notice batch through the batch service, against a marks import of as many rows in the
same run and database.

    .venv/bin/python bench/notice_batch.py [--rows 50000] [--database-url URL] [--profile]

Generates N listings (default 50,000, the batch limit) of a realistic CSV: Taobao and Tmall URLs, 2,000
sellers, titles, a fifth of the rows naming their own marketplace (tmall), a tenth their own reason and a
twentieth their own marks by registration number; the rest take the batch's defaults. Then, in one
database (a fresh SQLite file by default, built by the migrations, as bench/import_marks.py makes it):

1. the batch's dry run: `start_batch(..., dry_run=True, run_inline=True)`: upload copy and SHA-256, the
   counting pass, every row checked (URL, marketplace and terms, marks verified and covering, already under
   notice, duplicates), staged, grouped and split into notices of 300, timed from the call to its return;
2. its apply: `apply_dry_run(job, run_inline=True)`: the same checks again, then every planned notice
   filed through the filing service (items, transitions, two SLA clocks per listing, audit events);
3. a marks import of N rows (bench/import_marks.py's generator and timing), the baseline: rows/s per row.

Checked before any figure is printed: both batch jobs done with every row accepted, the apply's plan equal to
the dry run's, as many notices filed as planned, N items and 2N clocks, and the marks import's job.
"""
import argparse
import csv
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import import_marks  # noqa: E402  (its app, database and marks-import helpers)

EXPLANATION = "Counterfeit goods sold under our registered word mark, confirmed by test buys."
HEADER = ("url", "seller_id", "title", "marketplace", "reason_code", "marks")


def write_listings(path, rows):
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for i in range(rows):
            tmall = i % 5 == 0
            host = "detail.tmall.com" if tmall else "item.taobao.com"
            writer.writerow((f"https://{host}/item.htm?id={10_000_000 + i}", f"seller-{i % 2000}",
                             f"XBOX controller replica lot {i}", "tmall" if tmall else "",
                             "trademark_misuse" if i % 10 == 3 else "", "CNIPA 12345679" if i % 20 == 7 else ""))


def setup():
    """A platform with Taobao and Tmall (China), a brand with two verified CNIPA marks, an active partnership."""
    from portal.accounts.services import create_marketplace, create_organization
    from portal.marks.services import create_mark, review_mark
    from portal.partnerships.services import create_partnership
    platform = create_organization("Bench Platform", "platform", timezone="UTC")
    for name in ("Taobao", "Tmall"):
        create_marketplace(platform, name, country="CN")
    brand = import_marks.new_brand("Bench Batch Brand")
    partnership = create_partnership(brand, platform, {"always_open": True, "timezone": "UTC"})
    marks = []
    for number in ("12345678", "12345679"):
        mark, _ = create_mark(brand, {"word": "XBOX", "office": "CNIPA", "registration_number": number,
                                      "nice_classes": "9"})
        marks.append(review_mark(mark, platform, None, "verify"))
    return brand, partnership, marks


def check_batch(job, rows):
    from portal.notices.batch_models import NoticeBatch
    batch = NoticeBatch.get_by_id(job.id)
    got = (job.status, job.total_rows, job.created, job.error_rows, job.failure)
    if got != ("done", rows, rows, 0, ""):
        raise SystemExit(f"batch job {job.id} is wrong: {got}")
    return batch


def run(workdir, rows, url, profile):
    app = import_marks.make_app(workdir / "instance", url, rows)
    listings = workdir / "listings.csv"
    write_listings(listings, rows)
    marks_file = workdir / "marks.csv"
    import_marks.write_csv(marks_file, rows)
    figures = {"rows": rows, "database": import_marks.database_label(app),
               "file_mb": listings.stat().st_size / 1e6}
    with app.app_context():
        from portal.audit import acting_as
        from portal.notices import batches
        from portal.notices.batch_models import PlannedNotice
        from portal.notices.models import Notice, NoticeItem
        from portal.sla.models import SlaClock
        with acting_as("bench"):
            brand, partnership, marks = setup()
            defaults = {"partnership": partnership.id, "marketplace": "taobao", "reason_code": "counterfeit",
                        "marks": [marks[0].id], "explanation": EXPLANATION, "good_faith": True}
            warm = workdir / "warm.csv"
            write_listings(warm, 50)
            with open(warm, "rb") as stream:  # imports modules, opens the connection, fills caches
                batches.start_batch(brand, stream, "warm.csv", dict(defaults), dry_run=True, run_inline=True)

            with open(listings, "rb") as stream:
                started = time.perf_counter()
                dry, _ = batches.start_batch(brand, stream, "listings.csv", dict(defaults), dry_run=True,
                                             run_inline=True)
                figures["dry_seconds"] = time.perf_counter() - started
            dry_batch = check_batch(dry, rows)
            if profile:
                import cProfile
                import pstats
                profiler = cProfile.Profile()
                profiler.enable()
            started = time.perf_counter()
            job = batches.apply_dry_run(dry, run_inline=True)
            figures["apply_seconds"] = time.perf_counter() - started
            if profile:
                profiler.disable()
            batch = check_batch(job, rows)
            plan = lambda b: [(p.marketplace_id, p.reason_code, p.marks, p.listing_count)  # noqa: E731
                              for p in PlannedNotice.select().where(PlannedNotice.batch == b.job_id)
                              .order_by(PlannedNotice.number)]
            filed = Notice.for_org(brand).count()
            items = NoticeItem.select().where(NoticeItem.brand == brand).count()
            clocks = SlaClock.select().where(SlaClock.brand == brand).count()
            if (plan(batch) != plan(dry_batch) or batch.outcome != "filed" or filed != batch.notices_planned
                    or items != rows or clocks != 2 * rows):
                raise SystemExit(f"the apply is wrong: outcome {batch.outcome}, {filed} notices for "
                                 f"{batch.notices_planned} planned, {items} items, {clocks} clocks")
            figures["notices"] = filed
            figures["groups"] = len({p[:3] for p in plan(batch)})

            marks_org = import_marks.new_brand("Bench Marks Brand")
            marks_job, figures["marks_seconds"] = import_marks.import_file(marks_org, marks_file)
            import_marks.check_job(marks_job, rows, created=rows, unchanged=0)
    if profile:
        print("\nprofile of the apply (its time below is inflated by the profiler):")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
    return figures


def report(figures):
    rows, dry, applied, marks = (figures["rows"], figures["dry_seconds"], figures["apply_seconds"],
                                 figures["marks_seconds"])
    print(f"\ndatabase: {figures['database']}   listings: {rows:,} ({figures['file_mb']:.1f} MB CSV)   "
          f"planned: {figures['notices']} notices in {figures['groups']} groups")
    table = [
        ("marks import, same row count (baseline)", f"{marks:7.2f} s", f"{rows / marks:9,.0f} rows/s"),
        ("batch dry run (check, stage, plan)", f"{dry:7.2f} s", f"{rows / dry:9,.0f} rows/s"),
        ("  time per row against the marks import", f"{dry / marks:7.2f} x", ""),
        ("batch apply (check again, file, clocks)", f"{applied:7.2f} s", f"{rows / applied:9,.0f} rows/s"),
        ("  time per row against the marks import", f"{applied / marks:7.2f} x", ""),
    ]
    print("\n".join(f"  {name:<44} {value:>10}   {note}" for name, value, note in table))
    print("  checked: both batch jobs done with every row accepted, the apply's plan equal to the dry run's, "
          "every planned notice filed, one item and two clocks per listing, the marks import done")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000, help="listings (default 50,000, the batch limit)")
    parser.add_argument("--database-url", default=None, help="postgresql://.../portal_bench (name must contain "
                                                             "bench or test); default: a fresh SQLite file")
    parser.add_argument("--profile", action="store_true", help="cProfile the apply and print it")
    args = parser.parse_args()
    url = import_marks.checked_database_url(args.database_url)
    if not 1000 <= args.rows <= 50_000:
        raise SystemExit("--rows must be between 1,000 and 50,000")
    workdir = Path(tempfile.mkdtemp(prefix="portal-bench-batch-"))
    try:
        figures = run(workdir, args.rows, url, args.profile)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report(figures)


if __name__ == "__main__":
    main()
