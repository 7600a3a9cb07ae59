"""Notice batches (issue 19): up to 50,000 listings in one upload or API call, grouped by marketplace,
reason and marks (and optionally seller), split into notices of at most 300, dry-run first, filed through
the filing service with progress, resumed without filing anything twice, stopped with a clear report when
the partnership stops allowing filing; the Idempotency-Key of the API; pages, API and tenancy.

Real database, real services: a crash is simulated by a KeyboardInterrupt raised where a worker would be
killed (between two notices), a suspension by the partnership service itself at that moment."""
import csv
import io
import re

import openpyxl
import pytest

from portal import uploads
from portal.audit import AuditEvent, acting_as
from portal.imports import runner
from portal.imports import tasks as import_tasks
from portal.imports.models import ImportJob, ImportRowError
from portal.marks.models import Mark
from portal.notices import batches, services
from portal.notices.batch_models import NoticeBatch, NoticeBatchRow, PlannedNotice
from portal.notices.models import Notice, NoticeItem
from portal.partnerships.models import Partnership
from portal.partnerships.services import change_status
from portal.sla.models import SlaClock
from portal.webhooks.models import WebhookDelivery
from tests.conftest import page_text
from tests.platform.test_api import PROBLEM, bearer, client_token

EXPLANATION = "Counterfeit goods sold under our registered word mark, confirmed by a test buy."
HEADER = ["url", "seller_id", "title", "marketplace", "reason_code", "marks", "explanation", "test_buy_ref"]


@pytest.fixture
def alliance(world):
    """Alibaba (Taobao and Tmall in China, Lazada in Singapore) and Microsoft under an active partnership,
    with a verified CNIPA mark (covers China), a verified USPTO one (does not) and a pending one."""
    alibaba = world.org("Alibaba", kind="platform")
    for name, country in (("Taobao", "CN"), ("Tmall", "CN"), ("Lazada", "SG")):
        world.marketplace(alibaba, name, country)
    brand = world.org("Microsoft")
    partnership = world.partnership(brand, alibaba, always_open=True, timezone="UTC", effective_from="2020-01-01")
    cn = world.verified_mark(brand, alibaba, word="XBOX", office="CNIPA", number="12345678")
    us = world.verified_mark(brand, alibaba, word="SURFACE", office="USPTO", number="2345678")
    pending = world.mark(brand, word="HOLOLENS", office="CNIPA", number="87654321")
    return {"brand": brand, "platform": alibaba, "partnership": partnership, "cn": cn, "us": us, "pending": pending}


def listing_rows(n, start=0, shop="item.taobao.com", **cells):
    return [dict({"url": f"https://{shop}/item.htm?id={100000 + i}", "seller_id": f"seller-{i % 3}",
                  "title": f"Listing {i}"}, **cells) for i in range(start, start + n)]


def csv_bytes(rows, header=HEADER):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(name, "") for name in header])
    return buffer.getvalue().encode()


def defaults(alliance, **more):
    values = {"marketplace": "taobao", "reason_code": "counterfeit", "marks": [alliance["cn"].id],
              "explanation": EXPLANATION, "good_faith": True}
    values.update(more)
    return values


def start(app, alliance, rows, dry_run=False, content=None, filename="listings.csv", **more):
    with app.app_context(), acting_as("test"):
        job, _ = batches.start_batch(alliance["brand"], io.BytesIO(content or csv_bytes(rows)), filename,
                                     defaults(alliance, **more), dry_run=dry_run)
    return job


def apply(app, job):
    with app.app_context(), acting_as("test"):
        return batches.apply_dry_run(job)


def plan_of(job):
    return [(p.marketplace.slug, p.reason_code, p.mark_ids, p.seller_id, p.listing_count, p.status)
            for p in PlannedNotice.select().where(PlannedNotice.batch == job.id).order_by(PlannedNotice.number)]


def filed_notices(brand):
    return list(Notice.for_org(brand).order_by(Notice.id))


def errors_of(job):
    return {(e.row, e.column, e.code) for e in ImportRowError.select().where(ImportRowError.job == job.id)
            if e.level == "error"}


def resume(app, job):
    """What the worker's periodic task does for a job whose worker stopped beating."""
    ImportJob.update(heartbeat_at=job.heartbeat_at - runner.STALLED_AFTER * 2).where(ImportJob.id == job.id).execute()
    with app.app_context():
        import_tasks.resume_stalled_imports.call_local()
    return ImportJob.get_by_id(job.id)


def interrupt_filing(monkeypatch, at_call, before=None):
    """Make the `at_call`th notice's filing raise KeyboardInterrupt (a killed worker), or first run `before`."""
    original, calls = batches.NoticeBatchImporter.file_one, {"n": 0}

    def file_one(self, planned):
        calls["n"] += 1
        if calls["n"] == at_call:
            if before is None:
                raise KeyboardInterrupt("worker killed")
            before()
        return original(self, planned)
    monkeypatch.setattr(batches.NoticeBatchImporter, "file_one", file_one)
    return calls


# --- grouping and splitting ----------------------------------------------------------------------------

def test_650_listings_of_one_group_are_three_notices_of_300_300_and_50_each_with_its_clocks(app, alliance):
    job = start(app, alliance, listing_rows(650))
    assert (job.status, job.created, job.error_rows) == ("done", 650, 0)
    assert [row[4] for row in plan_of(job)] == [300, 300, 50]
    assert {row[5] for row in plan_of(job)} == {"filed"}
    notices = filed_notices(alliance["brand"])
    assert [n.item_count for n in notices] == [300, 300, 50]
    assert {(n.marketplace.slug, n.reason_code, n.explanation, n.partnership_id) for n in notices} == {
        ("taobao", "counterfeit", EXPLANATION, alliance["partnership"].id)}
    # Listings in file order: the first notice has rows 2-301, the last rows 602-651.
    first = NoticeItem.select().where(NoticeItem.notice == notices[0]).order_by(NoticeItem.position)
    assert [i.url for i in first][:2] == ["https://item.taobao.com/item.htm?id=100000",
                                          "https://item.taobao.com/item.htm?id=100001"]
    # Every listing has its two running clocks, started with the partnership's terms.
    assert SlaClock.select().count() == 650 * 2
    assert {c.stage for c in SlaClock.select()} == {"running"}
    assert NoticeItem.select().where(NoticeItem.brand == alliance["brand"]).count() == 650
    batch = NoticeBatch.get_by_id(job.id)
    assert (batch.outcome, batch.notices_planned, batch.notices_filed, batch.notices_not_filed) == ("filed", 3, 3, 0)
    # Each notice was filed as by hand: its notice.filed event in both organizations' trails.
    assert AuditEvent.select().where(AuditEvent.action == "notice.filed").count() == 6


def test_rows_are_grouped_by_marketplace_reason_and_marks_and_their_own_fields(app, alliance):
    us = f"USPTO {alliance['us'].registration_number}"
    rows = (listing_rows(2) + listing_rows(1, start=2, marketplace="tmall", shop="detail.tmall.com")
            + listing_rows(1, start=3, reason_code="brand_images")
            + listing_rows(1, start=4, marks=f"#{alliance['cn'].id};{us}")
            + listing_rows(1, start=5, explanation="Our campaign photographs, copied without permission.")
            + listing_rows(1, start=6, marks="12345678"))  # the CNIPA mark by its number: the default group
    job = start(app, alliance, rows, dry_run=True, confirm_jurisdiction=True)
    cn, us_id = alliance["cn"].id, alliance["us"].id
    assert plan_of(job) == [("taobao", "counterfeit", [cn], None, 3, "planned"),
                            ("tmall", "counterfeit", [cn], None, 1, "planned"),
                            ("taobao", "brand_images", [cn], None, 1, "planned"),
                            ("taobao", "counterfeit", sorted([cn, us_id]), None, 1, "planned"),
                            ("taobao", "counterfeit", [cn], None, 1, "planned")]
    assert PlannedNotice.get((PlannedNotice.batch == job.id) & (PlannedNotice.number == 5)).explanation.startswith(
        "Our campaign")
    # The USPTO mark does not cover China: filed anyway (the batch confirms), each such row warned.
    warnings = [e for e in ImportRowError.select().where(ImportRowError.job == job.id) if e.level == "warning"]
    assert [(w.row, w.code) for w in warnings] == [(6, "jurisdiction_confirmed")]


def test_group_by_seller_gives_each_seller_its_notices(app, alliance):
    rows = listing_rows(7)  # sellers 0, 1, 2 in turn
    rows.append({"url": "https://item.taobao.com/item.htm?id=9", "seller_id": ""})
    job = start(app, alliance, rows, dry_run=True, group_by_seller=True)
    assert [(p[3], p[4]) for p in plan_of(job)] == [("seller-0", 3), ("seller-1", 2), ("seller-2", 2), ("", 1)]
    mixed = start(app, alliance, rows, dry_run=True)
    assert [(p[3], p[4]) for p in plan_of(mixed)] == [(None, 8)]
    applied = apply(app, job)
    assert [n.item_count for n in filed_notices(alliance["brand"])] == [3, 2, 2, 1]
    assert {i.seller_id for i in NoticeItem.select().where(NoticeItem.notice == filed_notices(alliance["brand"])[0])} \
        == {"seller-0"}
    assert NoticeBatch.get_by_id(applied.id).group_by_seller


def test_a_group_of_seller_ids_and_of_300_splits_on_both(app, alliance):
    rows = [dict(r, seller_id="big") for r in listing_rows(301)] + [dict(r, seller_id="small")
                                                                      for r in listing_rows(2, start=301)]
    job = start(app, alliance, rows, dry_run=True, group_by_seller=True)
    assert [(p[3], p[4]) for p in plan_of(job)] == [("big", 300), ("big", 1), ("small", 2)]
    assert [(p.part, p.parts) for p in PlannedNotice.select().where(PlannedNotice.batch == job.id)
            .order_by(PlannedNotice.number)] == [(1, 2), (2, 2), (1, 1)]


# --- dry run and apply ---------------------------------------------------------------------------------

def test_a_dry_run_writes_nothing_and_its_apply_files_exactly_the_plan(app, alliance):
    rows = listing_rows(320) + listing_rows(10, start=320, marketplace="tmall", shop="detail.tmall.com")
    events_before = AuditEvent.select().where(AuditEvent.action.startswith("notice.")).count()
    dry = start(app, alliance, rows, dry_run=True)
    assert (dry.status, dry.created, dry.error_rows) == ("done", 330, 0)
    assert [p[4] for p in plan_of(dry)] == [300, 20, 10]
    # Nothing of a notice: no notice, item, clock, event or webhook delivery; the staged rows are gone too.
    assert Notice.select().count() == 0 and NoticeItem.select().count() == 0 and SlaClock.select().count() == 0
    assert AuditEvent.select().where(AuditEvent.action.startswith("notice.")).count() == events_before
    assert WebhookDelivery.select().count() == 0
    assert NoticeBatchRow.select().count() == 0
    assert NoticeBatch.get_by_id(dry.id).outcome == "planned"

    job = apply(app, dry)
    assert job.status == "done" and job.applied_from_id == dry.id
    assert [p[:5] for p in plan_of(job)] == [p[:5] for p in plan_of(dry)]
    notices = filed_notices(alliance["brand"])
    assert [(n.marketplace.slug, n.item_count) for n in notices] == [("taobao", 300), ("taobao", 20), ("tmall", 10)]
    assert sorted(i.url for i in NoticeItem.select()) == sorted(r["url"] for r in rows)
    assert [p.notice_id for p in PlannedNotice.select().where(PlannedNotice.batch == job.id)
            .order_by(PlannedNotice.number)] == [n.id for n in notices]
    assert {r.outcome for r in NoticeBatchRow.select().where(NoticeBatchRow.batch == job.id)} == {"filed"}
    # Filed as by hand: notice.filed in both organizations' audit trails, once per notice.
    assert AuditEvent.select().where(AuditEvent.action == "notice.filed").count() == 6
    # Applied once only.
    with pytest.raises(batches.FileRefused):
        apply(app, dry)


def test_row_errors_are_reported_and_the_other_rows_filed(app, world, alliance):
    world.notice(alliance["brand"], alliance["partnership"], ["https://item.taobao.com/item.htm?id=555"],
                 marks=[alliance["cn"]], marketplace="taobao")
    rows = [
        {"url": "https://item.taobao.com/item.htm?id=1"},  # row 2: fine
        {"url": "not a url"},  # 3
        {"url": "https://item.taobao.com/item.htm?id=3", "marketplace": "ebay"},  # 4: unknown marketplace
        {"url": "https://item.taobao.com/item.htm?id=4", "marks": "87654321"},  # 5: pending mark
        {"url": "https://item.taobao.com/item.htm?id=5", "marks": alliance["us"].registration_number},  # 6: US only
        {"url": "https://item.taobao.com/item.htm?id=555"},  # 7: already under a notice
        {"url": "https://ITEM.taobao.com/item.htm?id=1#photos"},  # 8: row 2 again (same URL key)
        {"url": "https://item.taobao.com/item.htm?id=8", "reason_code": "fake"},  # 9
        {"url": "https://item.taobao.com/item.htm?id=9", "marks": "99999999"},  # 10: no such mark
        {"url": "https://item.taobao.com/item.htm?id=10", "explanation": "Too short."},  # 11
        {"url": "https://item.taobao.com/item.htm?id=11"},  # 12: fine
    ]
    job = start(app, alliance, rows)
    assert (job.status, job.created, job.error_rows) == ("done", 2, 9)
    assert errors_of(job) == {(3, "url", "invalid_url"), (4, "marketplace", "not_fileable"),
                              (5, "marks", "mark_not_usable"), (6, "marks", "mark_not_usable"),
                              (7, "url", "already_filed"), (8, "url", "duplicate_row"), (9, "reason_code", "invalid"),
                              (10, "marks", "unknown_mark"), (11, "explanation", "too_short")}
    messages = {e.row: e.message for e in ImportRowError.select().where(ImportRowError.job == job.id)}
    assert "pending, not verified" in messages[5] and "do not cover" in messages[6]
    assert "already under your notice N-" in messages[7] and messages[8].startswith("Row 2 has the same listing URL")
    assert "No marketplace 'ebay'" in messages[4]
    assert [n.item_count for n in filed_notices(alliance["brand"])] == [1, 2]


def test_rows_without_a_default_must_say_it_all(app, alliance):
    rows = [{"url": "https://item.taobao.com/item.htm?id=1"},
            {"url": "https://item.taobao.com/item.htm?id=2", "marketplace": "taobao", "reason_code": "counterfeit",
             "marks": "CNIPA 12345678", "explanation": EXPLANATION}]
    job = start(app, alliance, rows, dry_run=True, marketplace="", reason_code="", marks=[], explanation="")
    assert errors_of(job) == {(2, "marketplace", "required"), (2, "reason_code", "required"),
                              (2, "marks", "required"), (2, "explanation", "required")}
    assert [p[4] for p in plan_of(job)] == [1]


# --- resuming and stopping -----------------------------------------------------------------------------

def test_a_worker_killed_mid_filing_resumes_without_filing_anything_twice(app, alliance, monkeypatch):
    rows = listing_rows(1250)  # five notices: 300, 300, 300, 300, 50
    calls = interrupt_filing(monkeypatch, at_call=3)
    try:
        start(app, alliance, rows)
    except KeyboardInterrupt:
        pass
    job = ImportJob.for_org(alliance["brand"]).order_by(ImportJob.id.desc()).get()
    assert job.status == "running" and calls["n"] == 3
    assert len(filed_notices(alliance["brand"])) == 2
    assert [p[5] for p in plan_of(job)] == ["filed", "filed", "planned", "planned", "planned"]
    monkeypatch.undo()
    job = resume(app, job)
    assert job.status == "done"
    notices = filed_notices(alliance["brand"])
    assert [n.item_count for n in notices] == [300, 300, 300, 300, 50]
    # Every listing under exactly one notice, every planned notice filed once, with its own notice.
    urls = [i.url for i in NoticeItem.select()]
    assert len(urls) == len(set(urls)) == 1250
    assert [p.notice_id for p in PlannedNotice.select().where(PlannedNotice.batch == job.id)
            .order_by(PlannedNotice.number)] == [n.id for n in notices]
    assert (NoticeBatch.get_by_id(job.id).notices_filed, NoticeBatch.get_by_id(job.id).outcome) == (5, "filed")
    assert AuditEvent.select().where(AuditEvent.action == "notice_batch.planned").count() == 1


def fail_after_filing(monkeypatch, at_call, error):
    """The `at_call`th notice is written by the filing service, then `error` is raised before the batch's
    transaction commits (a worker killed, or a fault, at the worst moment)."""
    original, calls = services.file_notice, {"n": 0}

    def file_notice(*args, **kwargs):
        filed = original(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == at_call:
            raise error
        return filed
    monkeypatch.setattr(services, "file_notice", file_notice)
    return calls


def test_a_worker_killed_after_a_notice_is_written_rolls_it_back_and_resumes_it(app, alliance, monkeypatch):
    fail_after_filing(monkeypatch, 2, KeyboardInterrupt("worker killed"))
    try:
        start(app, alliance, listing_rows(700))
    except KeyboardInterrupt:
        pass
    job = ImportJob.for_org(alliance["brand"]).order_by(ImportJob.id.desc()).get()
    # The second notice was rolled back with its transaction: one notice, one planned notice filed.
    assert [n.item_count for n in filed_notices(alliance["brand"])] == [300]
    assert [p[5] for p in plan_of(job)] == ["filed", "planned", "planned"]
    monkeypatch.undo()
    job = resume(app, job)
    assert job.status == "done" and [n.item_count for n in filed_notices(alliance["brand"])] == [300, 300, 100]
    assert NoticeItem.select().count() == SlaClock.select().count() / 2 == 700


def test_a_fault_while_filing_stops_the_batch_and_says_what_was_filed(app, alliance, monkeypatch):
    fail_after_filing(monkeypatch, 2, RuntimeError("a bug"))
    job = start(app, alliance, listing_rows(700))
    assert job.status == "failed"
    assert job.failure.startswith("Filing stopped: An error on our side interrupted filing. 1 of 3 planned")
    assert [p[5] for p in plan_of(job)] == ["filed", "not_filed", "not_filed"]
    assert [n.item_count for n in filed_notices(alliance["brand"])] == [300]


def test_a_worker_killed_while_checking_rows_resumes_at_its_last_batch(app, alliance, monkeypatch):
    monkeypatch.setitem(app.config, "MARKS_IMPORT_BATCH_ROWS", 100)
    original, calls = runner.Importer.apply_batch, {"n": 0}

    def stop_at_third(self, batch):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("worker killed")
        return original(self, batch)
    monkeypatch.setattr(runner.Importer, "apply_batch", stop_at_third)
    rows = listing_rows(350) + [listing_rows(1)[0]]  # the last row repeats the first
    try:
        start(app, alliance, rows)
    except KeyboardInterrupt:
        pass
    job = ImportJob.for_org(alliance["brand"]).order_by(ImportJob.id.desc()).get()
    assert (job.status, job.last_row) == ("running", 201)
    assert NoticeBatchRow.select().where(NoticeBatchRow.batch == job.id).count() == 200
    monkeypatch.undo()
    job = resume(app, job)
    assert (job.status, job.created, job.error_rows) == ("done", 350, 1)
    assert errors_of(job) == {(352, "url", "duplicate_row")}
    assert [n.item_count for n in filed_notices(alliance["brand"])] == [300, 50]


def test_a_partnership_suspended_mid_batch_stops_the_rest_and_says_so(app, world, alliance, monkeypatch):
    platform_admin = world.person(alliance["platform"], "admin")

    def suspend():
        with app.app_context(), acting_as("test"):
            change_status(Partnership.get_by_id(alliance["partnership"].id), alliance["platform"], "suspend",
                          "Too many unfounded notices this month.", user=platform_admin)
    interrupt_filing(monkeypatch, at_call=3, before=suspend)
    rows = listing_rows(1000)  # four notices: 300, 300, 300, 100
    job = start(app, alliance, rows)
    assert job.status == "failed"
    filed = filed_notices(alliance["brand"])
    assert [n.item_count for n in filed] == [300, 300]
    assert [p[5] for p in plan_of(job)] == ["filed", "filed", "not_filed", "not_filed"]
    batch = NoticeBatch.get_by_id(job.id)
    assert (batch.outcome, batch.notices_filed, batch.notices_not_filed) == ("stopped", 2, 2)
    assert "suspended" in batch.stop_reason
    assert job.failure.startswith("Filing stopped: The partnership with Alibaba is suspended")
    assert f"2 of 4 planned notices were filed ({filed[0].reference}, {filed[1].reference})" in job.failure
    assert "2 were not (400 listings)" in job.failure and "Nothing was filed twice" in job.failure
    reasons = [p.reason for p in PlannedNotice.select().where(PlannedNotice.status == "not_filed")]
    assert all("filing stopped at notice 3" in r and "suspended" in r for r in reasons)
    assert AuditEvent.select().where(AuditEvent.action == "notice_batch.stopped").count() == 1
    # A resume (a worker that finds the job) changes nothing: the job is over.
    monkeypatch.undo()
    assert resume(app, job).status == "failed" and len(filed_notices(alliance["brand"])) == 2
    # Once the partnership is active again, the same file files only the rest.
    with app.app_context(), acting_as("test"):
        change_status(Partnership.get_by_id(alliance["partnership"].id), alliance["platform"], "resume", user=platform_admin)
    again = start(app, alliance, rows)
    assert (again.status, again.created, again.error_rows) == ("done", 400, 600)
    assert {code for _, _, code in errors_of(again)} == {"already_filed"}
    assert [n.item_count for n in filed_notices(alliance["brand"])] == [300, 300, 300, 100]
    urls = [i.url for i in NoticeItem.select()]
    assert len(urls) == len(set(urls)) == 1000


def test_a_notice_that_cannot_be_filed_on_its_own_account_is_reported_and_the_rest_filed(app, world, alliance,
                                                                                          monkeypatch):
    """Listings filed by hand while the batch runs: that notice is not filed (every listing is under
    notice by then), the others are."""
    rows = listing_rows(301) + listing_rows(1, start=301, marketplace="tmall", shop="detail.tmall.com")

    def file_by_hand():
        world.notice(alliance["brand"], alliance["partnership"], [rows[300]["url"]], marks=[alliance["cn"]], marketplace="taobao")
    interrupt_filing(monkeypatch, at_call=2, before=file_by_hand)
    job = start(app, alliance, rows)
    assert job.status == "done"
    assert [p[5] for p in plan_of(job)] == ["filed", "not_filed", "filed"]
    not_filed = PlannedNotice.get((PlannedNotice.batch == job.id) & (PlannedNotice.number == 2))
    assert "already under one of your notices" in not_filed.reason
    batch = NoticeBatch.get_by_id(job.id)
    assert (batch.outcome, batch.notices_filed, batch.notices_not_filed) == ("partly_filed", 2, 1)


# --- bad input -----------------------------------------------------------------------------------------

def kept_uploads(app):
    with app.app_context():
        return sorted(p.name for p in uploads.folder(runner.IMPORT_AREA).iterdir())


def test_a_file_without_a_url_column_is_refused_with_nothing_kept(app, alliance):
    before = kept_uploads(app)
    with pytest.raises(batches.FileRefused) as refused:
        start(app, alliance, [], content=b"link_text,seller\nx,y\n")
    assert refused.value.code == "missing_column" and "no url column" in refused.value.problems[0][3]
    assert ImportJob.select().count() == 0 and NoticeBatch.select().count() == 0
    assert kept_uploads(app) == before


def test_more_than_50000_rows_are_refused_with_nothing_kept(app, alliance):
    before = kept_uploads(app)
    content = "url\n" + "".join(f"https://item.taobao.com/item.htm?id={i}\n" for i in range(50_001))
    with pytest.raises(batches.FileRefused) as refused:
        start(app, alliance, [], content=content.encode())
    assert refused.value.code == "too_many_rows" and "50,001 listings" in refused.value.text
    assert ImportJob.select().count() == 0 and kept_uploads(app) == before


def test_bad_defaults_are_refused_before_anything_is_kept(app, alliance):
    before = kept_uploads(app)
    with pytest.raises(batches.ValidationError) as refused:
        start(app, alliance, listing_rows(1), good_faith=False, reason_code="bogus", marketplace="ebay",
              marks=["99999999"], explanation="short")
    assert set(refused.value.errors) == {"good_faith", "reason_code", "marketplace", "marks", "explanation"}
    with pytest.raises(batches.ValidationError) as refused:
        start(app, alliance, listing_rows(1), marks=[alliance["pending"].id])
    assert "HOLOLENS (CNIPA 87654321) is pending, not verified" in refused.value.errors["marks"][0]
    assert ImportJob.select().count() == 0 and kept_uploads(app) == before


def test_an_xlsx_file_with_numbers_in_cells_works(app, alliance):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["URL", "Seller ID", "Title", "Marks"])
    sheet.append(["https://item.taobao.com/item.htm?id=1", 12345, "Fake console", 12345678])
    buffer = io.BytesIO()
    workbook.save(buffer)
    job = start(app, alliance, [], content=buffer.getvalue(), filename="listings.xlsx")
    assert (job.status, job.created, job.file_format) == ("done", 1, "xlsx")
    assert NoticeItem.get().seller_id == "12345"


# --- the pages -----------------------------------------------------------------------------------------

@pytest.fixture
def analyst(make_client, world, alliance):
    client = make_client()
    client.sign_in(world.person(alliance["brand"], "analyst").email)
    return client


def upload_form(alliance, rows, **more):
    data = {"file": (io.BytesIO(csv_bytes(rows)), "listings.csv"), "where": f"{alliance['partnership'].id}:taobao",
            "reason_code": "counterfeit", "marks": str(alliance["cn"].id), "explanation": EXPLANATION,
            "good_faith": "y", "dry_run": "y"}
    data.update(more)
    return {k: v for k, v in data.items() if v is not None}


def test_the_batch_page_plans_shows_and_files(app, analyst, alliance):
    notices_page = page_text(analyst.get("/notices"))
    assert "Batch of notices" in notices_page and "/notices/batches" in notices_page
    page = page_text(analyst.get("/notices/batches"))
    assert "File a batch of notices" in page and "50,000" in page and "good-faith" in page
    rows = listing_rows(305) + [{"url": "bad"}]
    response = analyst.post_form("/notices/batches", upload_form(alliance, rows), content_type="multipart/form-data")
    assert response.status_code == 302
    job = ImportJob.get(ImportJob.kind == "notice_batch")
    assert response.headers["Location"].endswith(f"/notices/batches/{job.id}")
    page = page_text(analyst.get(f"/notices/batches/{job.id}"))
    assert "Dry run of listings.csv" in page and "Nothing was filed. This dry run plans 2 notices for 305 listings" in page
    assert "300, 5" in page and "The plan by group" in page and "Taobao" in page and "XBOX" in page
    assert "Give the full address of the listing" in page  # the bad row
    status = analyst.get(f"/notices/batches/{job.id}/status").json
    assert (status["status"], status["notices_planned"], status["outcome"]) == ("done", 2, "planned")
    errors = analyst.get(f"/notices/batches/{job.id}/errors.csv").get_data(as_text=True)
    assert "307,url,invalid_url" in errors
    report = analyst.get(f"/notices/batches/{job.id}/report.csv").get_data(as_text=True)
    assert report.splitlines()[0].lstrip("\ufeff") == "row,url,marketplace,seller_id,outcome,changes,consequences,problems"
    # Filing it from the page.
    response = analyst.post_form(f"/notices/batches/{job.id}/apply")
    applied = ImportJob.select().where(ImportJob.applied_from == job.id).get()
    assert response.headers["Location"].endswith(f"/notices/batches/{applied.id}")
    page = page_text(analyst.get(f"/notices/batches/{applied.id}"))
    notices = filed_notices(alliance["brand"])
    assert [n.item_count for n in notices] == [300, 5]
    assert all(n.reference in page for n in notices) and "Filed" in page
    assert analyst.get("/notices/batches/template.csv").get_data(as_text=True).lstrip("\ufeff").startswith(
        "url,seller_id,title,marketplace,reason_code,marks,explanation,test_buy_ref")


def test_the_batch_page_refuses_a_bad_file_or_form_with_nothing_kept(app, analyst, alliance):
    response = analyst.post_form("/notices/batches", upload_form(alliance, [], good_faith=None),
                                 content_type="multipart/form-data")
    assert response.status_code == 422 and "Confirm the good-faith statement" in page_text(response)
    data = upload_form(alliance, [])
    data["file"] = (io.BytesIO(b"title\nx\n"), "listings.csv")
    response = analyst.post_form("/notices/batches", data, content_type="multipart/form-data")
    assert response.status_code == 422 and "The header has no url column" in page_text(response)
    assert ImportJob.select().count() == 0


def test_who_may_use_the_batch_pages(app, make_client, world, alliance):
    job = start(app, alliance, listing_rows(2), dry_run=True)
    viewer, platform_analyst = make_client(), make_client()
    viewer.sign_in(world.person(alliance["brand"], "viewer").email)
    platform_analyst.sign_in(world.person(alliance["platform"], "analyst").email)
    assert viewer.get("/notices/batches").status_code == 403  # uploading is for those who may file
    assert viewer.get(f"/notices/batches/{job.id}").status_code == 200  # reading is for every member
    assert viewer.post_form(f"/notices/batches/{job.id}/apply").status_code == 403
    for url in ("/notices/batches", f"/notices/batches/{job.id}", f"/notices/batches/{job.id}/status"):
        assert platform_analyst.get(url).status_code == 404
    assert Notice.select().count() == 0


# --- the API -------------------------------------------------------------------------------------------

@pytest.fixture
def token(client, alliance):
    return client_token(client, alliance["brand"], "notices:read notices:write")


def api_body(alliance, listings, **more):
    body = {"partnership": alliance["partnership"].id, "marketplace": "taobao", "reason_code": "counterfeit",
            "marks": [alliance["cn"].id], "explanation": EXPLANATION, "good_faith": True, "listings": listings}
    body.update(more)
    return body


def test_the_api_plans_reports_and_files_a_json_batch(client, alliance, token):
    listings = [{"url": r["url"], "seller_id": r["seller_id"]} for r in listing_rows(302)]
    listings.append({"url": "nope", "title": "=HYPERLINK(\"x\")"})
    listings.append({"url": "https://detail.tmall.com/item.htm?id=7", "marketplace": "tmall",
                     "marks": ["CNIPA 12345678"], "title": "'=1+1"})
    response = client.post("/api/v1/notices/batches", json=api_body(alliance, listings, dry_run=True),
                           headers=bearer(token))
    assert response.status_code == 202, response.json
    body = response.json
    assert response.headers["Location"].endswith(f"/api/v1/notices/batches/{body['id']}")
    assert (body["status"], body["outcome"], body["dry_run"], body["source"]) == ("done", "planned", True, "json")
    assert body["progress"] == {"total_rows": 304, "processed_rows": 304, "percent": 100, "listings_accepted": 303,
                                "rows_with_errors": 1, "notices_planned": 3, "notices_filed": 0,
                                "notices_not_filed": 0}
    assert [(p["marketplace"], p["listings"], p["status"], p["notice"]) for p in body["planned_notices"]] == [
        ("taobao", 300, "planned", None), ("taobao", 2, "planned", None), ("tmall", 1, "planned", None)]
    assert body["planned_notices_complete"] and body["notices"] == []
    errors = client.get(body["errors_url"], headers=bearer(token)).json
    assert [(e["row"], e["listing"], e["column"], e["code"]) for e in errors["items"]] == [(304, 303, "url", "invalid_url")]
    rows = client.get(body["rows_url"] + "?show=errors", headers=bearer(token)).json
    assert [(r["listing"], r["outcome"]) for r in rows["items"]] == [(303, "error")]
    page = client.get(body["planned_url"] + "?limit=2", headers=bearer(token)).json
    assert [p["number"] for p in page["items"]] == [1, 2] and page["next_cursor"] == "2"
    assert [p["number"] for p in client.get(body["planned_url"] + "?cursor=2", headers=bearer(token)).json["items"]] == [3]

    applied = client.post(f"/api/v1/notices/batches/{body['id']}/apply", headers=bearer(token))
    assert applied.status_code == 202
    filed = client.get(applied.headers["Location"], headers=bearer(token)).json
    assert (filed["status"], filed["outcome"], filed["applied_from"]) == ("done", "filed", body["id"])
    notices = filed_notices(alliance["brand"])
    assert filed["notices"] == [n.id for n in notices] and [n.item_count for n in notices] == [300, 2, 1]
    assert [p["reference"] for p in filed["planned_notices"]] == [n.reference for n in notices]
    # Text came through the file exactly as sent (formula-like cells included).
    assert NoticeItem.get(NoticeItem.url == "https://detail.tmall.com/item.htm?id=7").title == "'=1+1"
    listed = client.get("/api/v1/notices/batches", headers=bearer(token)).json
    assert [b["id"] for b in listed["items"]] == [body["id"], filed["id"]]


def test_the_api_takes_a_multipart_upload(client, alliance, token):
    data = {"file": (io.BytesIO(csv_bytes(listing_rows(3))), "listings.csv"), "marketplace": "taobao",
            "reason_code": "counterfeit", "marks": ["CNIPA 12345678"], "explanation": EXPLANATION,
            "good_faith": "true"}
    response = client.post("/api/v1/notices/batches", data=data, headers=bearer(token),
                           content_type="multipart/form-data")
    assert response.status_code == 202, response.json
    assert (response.json["source"], response.json["outcome"], response.json["defaults"]["marks"]) == (
        "file", "filed", [alliance["cn"].id])
    assert [n.item_count for n in filed_notices(alliance["brand"])] == [3]


def test_an_idempotency_key_replays_the_same_request_and_refuses_another(client, world, alliance, token):
    body = api_body(alliance, [{"url": r["url"]} for r in listing_rows(3)])
    headers = dict(bearer(token), **{"Idempotency-Key": "batch-2026-11-23-a"})
    first = client.post("/api/v1/notices/batches", json=body, headers=headers)
    assert first.status_code == 202 and "Idempotent-Replayed" not in first.headers
    again = client.post("/api/v1/notices/batches", json=dict(reversed(list(body.items()))), headers=headers)
    assert again.status_code == 202 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json["id"] == first.json["id"] and again.json["idempotency_key"] == "batch-2026-11-23-a"
    assert NoticeBatch.select().count() == 1 and len(filed_notices(alliance["brand"])) == 1
    other = client.post("/api/v1/notices/batches", json=dict(body, reason_code="brand_images"), headers=headers)
    assert other.status_code == 422 and other.mimetype == PROBLEM
    assert other.json["code"] == "idempotency_key_reused" and "another request" in other.json["detail"]
    assert NoticeBatch.select().count() == 1
    # A multipart request under the same key is another request too.
    upload = client.post("/api/v1/notices/batches", headers=headers, content_type="multipart/form-data",
                         data={"file": (io.BytesIO(csv_bytes(listing_rows(3))), "l.csv"), "good_faith": "true"})
    assert upload.status_code == 422 and upload.json["code"] == "idempotency_key_reused"
    # Keys are per organization: another brand's same key is its own.
    other_brand = world.org("Swarovski")
    world.partnership(other_brand, alliance["platform"], always_open=True, timezone="UTC",
                      effective_from="2020-01-01")
    mark = world.verified_mark(other_brand, alliance["platform"], word="SWAROVSKI", number="55555555")
    other_token = client_token(client, other_brand, "notices:read notices:write")
    theirs = client.post("/api/v1/notices/batches", json={**{k: v for k, v in body.items() if k != "partnership"}, "marks": [mark.id]},
                         headers=dict(bearer(other_token), **{"Idempotency-Key": "batch-2026-11-23-a"}))
    assert theirs.status_code == 202 and theirs.json["id"] != first.json["id"]
    bad = client.post("/api/v1/notices/batches", json=body, headers=dict(bearer(token), **{"Idempotency-Key": "a b"}))
    assert bad.status_code == 422 and bad.json["errors"][0]["field"] == "Idempotency-Key"


def test_the_api_refuses_bad_batches_with_problems(client, alliance, token):
    too_many = client.post("/api/v1/notices/batches", headers=bearer(token), json=api_body(
        alliance, [{"url": f"https://item.taobao.com/item.htm?id={i}"} for i in range(50_001)]))
    assert too_many.status_code == 422 and too_many.mimetype == PROBLEM
    assert too_many.json["errors"][0]["field"] == "listings"
    no_url = client.post("/api/v1/notices/batches", headers=bearer(token), content_type="multipart/form-data",
                         data={"file": (io.BytesIO(b"title\nx\n"), "l.csv"), "good_faith": "true"})
    assert no_url.status_code == 422 and no_url.json["code"] == "missing_column"
    no_faith = client.post("/api/v1/notices/batches", headers=bearer(token),
                           json=api_body(alliance, [{"url": "https://item.taobao.com/item.htm?id=1"}], good_faith=False))
    assert no_faith.status_code == 422
    unknown_mark = client.post("/api/v1/notices/batches", headers=bearer(token), json=api_body(
        alliance, [{"url": "https://item.taobao.com/item.htm?id=1"}], marks=["#999999999"]))
    assert unknown_mark.status_code == 422 and unknown_mark.json["errors"][0]["field"] == "marks"
    text = client.post("/api/v1/notices/batches", headers=dict(bearer(token), **{"Content-Type": "text/plain"}),
                       data="url\nhttps://item.taobao.com/item.htm?id=1\n")
    assert text.status_code == 415
    assert ImportJob.select().count() == 0 and Notice.select().count() == 0


def test_a_platform_cannot_file_or_read_a_brands_batch(client, alliance, token):
    created = client.post("/api/v1/notices/batches", headers=bearer(token), json=api_body(
        alliance, [{"url": "https://item.taobao.com/item.htm?id=1"}], dry_run=True)).json
    platform = client_token(client, alliance["platform"], "notices:read notices:write")
    refused = client.post("/api/v1/notices/batches", headers=bearer(platform), json=api_body(
        alliance, [{"url": "https://item.taobao.com/item.htm?id=1"}]))
    assert refused.status_code == 403
    for suffix in ("", "/planned", "/errors", "/rows"):
        assert client.get(f"/api/v1/notices/batches/{created['id']}{suffix}", headers=bearer(platform)).status_code == 404
    assert client.post(f"/api/v1/notices/batches/{created['id']}/apply", headers=bearer(platform)).status_code == 404
    assert client.get("/api/v1/notices/batches", headers=bearer(platform)).json["items"] == []


# --- tenancy -------------------------------------------------------------------------------------------

def test_another_org_cannot_see_or_apply_a_batch(app, client, make_client, world, alliance):
    job = start(app, alliance, listing_rows(3) + [{"url": "https://item.taobao.com/item.htm?id=secret-row"}],
                dry_run=True)
    other = world.org("Swarovski")
    other_admin = make_client()
    other_admin.sign_in(world.person(other, "admin").email)
    for url in (f"/notices/batches/{job.id}", f"/notices/batches/{job.id}/status",
                f"/notices/batches/{job.id}/errors.csv", f"/notices/batches/{job.id}/report.csv"):
        response = other_admin.get(url)
        assert response.status_code == 404 and "secret-row" not in page_text(response), url
    assert other_admin.post_form(f"/notices/batches/{job.id}/apply").status_code == 404
    assert "listings.csv" not in page_text(other_admin.get("/notices/batches"))
    other_token = client_token(client, other, "notices:read notices:write")
    for suffix in ("", "/planned", "/errors", "/rows"):
        response = client.get(f"/api/v1/notices/batches/{job.id}{suffix}", headers=bearer(other_token))
        assert response.status_code == 404 and response.mimetype == PROBLEM
    assert client.post(f"/api/v1/notices/batches/{job.id}/apply", headers=bearer(other_token)).status_code == 404
    assert client.get("/api/v1/notices/batches", headers=bearer(other_token)).json["items"] == []
    assert ImportJob.select().count() == 1 and Notice.select().count() == 0
    # The batch's rows and plan are the brand's own.
    for model in (NoticeBatch, PlannedNotice, NoticeBatchRow):
        assert model.for_org(other).count() == 0
    assert PlannedNotice.for_org(alliance["brand"]).count() == 1


def test_a_marks_import_job_is_no_batch(app, world, alliance, analyst):
    marks_job = world.upload(alliance["brand"], "word,office,registration_number,nice_classes\nX,USPTO,1234567,9\n",
                             dry_run=True)
    assert analyst.get(f"/notices/batches/{marks_job.id}").status_code == 404
    assert re.search(r"XBOX", page_text(analyst.get("/notices/batches"))) is not None  # the mark to choose


# --- in a browser --------------------------------------------------------------------------------------

@pytest.mark.browser
def test_a_brand_analyst_plans_and_files_a_batch_in_the_browser(open_page, world, alliance, tmp_path):
    from tests.system.test_browser import assert_accessible_basics, axe_violations, sign_in
    analyst = world.person(alliance["brand"], "analyst")
    path = tmp_path / "sweep.csv"
    path.write_bytes(csv_bytes(listing_rows(302) + [{"url": "https://item.taobao.com/item.htm?id=100000"}]))
    page = open_page()
    sign_in(page, analyst.email)
    page.get_by_role("link", name="Notices", exact=True).click()
    page.get_by_role("link", name="Batch of notices").click()
    assert_accessible_basics(page)
    assert axe_violations(page) == []
    page.get_by_label("Listings file (.csv or .xlsx)").set_input_files(str(path))
    page.get_by_label("Partnership and marketplace").select_option(f"{alliance['partnership'].id}:taobao")
    page.get_by_label("Reason (for rows that leave it blank)").select_option("counterfeit")
    page.get_by_label(re.compile("^XBOX")).check()
    page.get_by_label("Explanation (for rows that leave it blank)").fill(EXPLANATION)
    page.get_by_label("I make the good-faith statement above for every notice of this batch").check()
    assert page.get_by_label(re.compile("^Dry run")).is_checked()
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url(re.compile(r"/notices/batches/\d+$"))
    assert page.locator("[data-field=notices_planned]").inner_text() == "2"
    assert page.get_by_role("cell", name="300, 2").is_visible()
    assert page.get_by_text("Row 2 has the same listing URL").first.is_visible()
    assert_accessible_basics(page)
    assert axe_violations(page) == []
    assert Notice.select().count() == 0
    page.get_by_role("button", name="Import this file now").click()
    page.wait_for_url(re.compile(r"/notices/batches/\d+$"))
    assert page.locator("[data-field=notices_filed]").inner_text() == "2"
    notices = filed_notices(alliance["brand"])
    assert [n.item_count for n in notices] == [300, 2]
    page.get_by_role("link", name=notices[1].reference).click()
    page.wait_for_url(re.compile(rf"/notices/{notices[1].id}$"))
    assert axe_violations(page) == []
