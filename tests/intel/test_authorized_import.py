"""Authorized sellers from a file, through the import engine: the dry run says what each row would do, the
import adds and updates exactly that, a blank note keeps the stored one and "-" empties it, bad rows are
refused one by one, screening leaves the imported sellers alone, and another org sees none of it."""
import csv
import io
import json

import pytest

from portal.audit import AuditEvent, acting_as
from portal.imports import report as import_report
from portal.imports.models import ImportJob
from portal.intel import screen
from portal.intel.models import AuthorizedSeller
from tests.conftest import page_text


@pytest.fixture
def lv(world, make_client):
    alibaba = world.org("Alibaba", kind="platform")
    world.marketplace(alibaba, "Taobao", "CN")
    world.marketplace(alibaba, "Tmall", "CN")
    brand = world.org("Louis Vuitton")
    with acting_as("test"):
        screen.add_authorized_seller(brand, "taobao", "lv-official", "Our flagship store")
    client = make_client()
    client.sign_in(world.person(brand, "analyst").email)
    return {"client": client, "brand": brand, "platform": alibaba, "world": world, "make_client": make_client}


def upload(client, content, dry_run=False, filename="sellers.csv"):
    data = {"file": (io.BytesIO(content.encode()), filename)}
    if dry_run:
        data["dry_run"] = "y"
    return client.post_form("/intel/authorized-sellers/import", data, content_type="multipart/form-data")


def latest_job(brand):
    return ImportJob.for_org(brand).where(ImportJob.kind == "authorized").order_by(ImportJob.id.desc()).first()


def sellers(brand):
    return {(s.marketplace.slug, s.external_id): s.note for s in screen.authorized_sellers(brand)}


FILE = ("Marketplace,Seller ID,Note\n"
        "taobao,lv-official,\n"              # on the list: a blank note keeps the stored one
        "tmall,lv-tmall-store,Licensee\n"    # new
        "taobao,lv-outlet,Outlet\n"          # new
        "ebay,shop-9,\n"                     # no such marketplace
        "taobao,,Missing id\n"               # no seller id
        "TMALL,lv-tmall-store,Again\n")      # the same seller as row 3 (slugs ignore case)


def test_a_dry_run_writes_nothing_and_its_apply_adds_exactly_what_it_showed(lv):
    client, brand = lv["client"], lv["brand"]
    response = upload(client, FILE, dry_run=True)
    job = latest_job(brand)
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/intel/authorized-sellers/import/{job.id}")
    assert (job.status, job.dry_run, job.created, job.updated, job.unchanged, job.error_rows) == ("done", True, 2, 0, 1, 3)
    assert sellers(brand) == {("taobao", "lv-official"): "Our flagship store"}  # nothing written
    text = page_text(client.get(f"/intel/authorized-sellers/import/{job.id}"))
    assert "No marketplace 'ebay' in the alliance." in text and "Give the seller's id on the marketplace." in text
    assert "Row 3 names the same seller; this row was skipped." in text
    outcomes = {row.row: (row.outcome, row.key) for row in import_report.rows_page(job, "all", 1, 100)}
    assert outcomes[2] == ("unchanged", ["taobao", "lv-official"]) and outcomes[3] == ("create", ["tmall", "lv-tmall-store"])
    assert outcomes[7][0] == "error"

    applied = client.post_form(f"/intel/authorized-sellers/import/{job.id}/apply")
    real = latest_job(brand)
    assert applied.status_code == 302 and real.id != job.id and real.applied_from_id == job.id
    assert (real.status, real.created, real.unchanged, real.error_rows) == ("done", 2, 1, 3)
    assert sellers(brand) == {("taobao", "lv-official"): "Our flagship store", ("tmall", "lv-tmall-store"): "Licensee",
                              ("taobao", "lv-outlet"): "Outlet"}
    events = [e.action for e in AuditEvent.select().where(AuditEvent.org == brand).order_by(AuditEvent.id)]
    assert events[-3:] == ["authorized_import.started", "intel.authorized_sellers.imported", "authorized_import.finished"]
    added = json.loads(AuditEvent.select().where(AuditEvent.action == "intel.authorized_sellers.imported").get().change)
    assert sorted(added["created"]) == [["taobao", "lv-outlet", "Outlet"], ["tmall", "lv-tmall-store", "Licensee"]]


def test_notes_are_updated_emptied_with_a_dash_and_kept_when_blank(lv):
    client, brand = lv["client"], lv["brand"]
    upload(client, "marketplace,seller_id,note\ntaobao,lv-outlet,Outlet\ntmall,lv-tmall,Licensee\n")
    upload(client, "marketplace,seller_id,note\ntaobao,lv-official,-\ntaobao,lv-outlet,Outlet (closed 2027)\n"
                   "tmall,lv-tmall,\n", dry_run=True)
    dry = latest_job(brand)
    assert (dry.updated, dry.unchanged, dry.consequence_counts) == (2, 1, {"clears_value": 1})
    assert import_report.consequence_summary(dry) == ["1 row will empty a stored note."]
    rows = {row.row: row for row in import_report.rows_page(dry, "updates", 1, 10)}
    assert rows[2].changes == [["note", "Our flagship store", ""]] and rows[2].consequences == ["clears_value"]
    assert rows[3].changes == [["note", "Outlet", "Outlet (closed 2027)"]]
    client.post_form(f"/intel/authorized-sellers/import/{dry.id}/apply")
    assert sellers(brand) == {("taobao", "lv-official"): "", ("taobao", "lv-outlet"): "Outlet (closed 2027)",
                              ("tmall", "lv-tmall"): "Licensee"}
    report = client.get(f"/intel/authorized-sellers/import/{latest_job(brand).id}/report.csv").get_data(as_text=True)
    assert "note: Our flagship store → (blank)" in report


def test_the_key_cannot_be_emptied_and_a_file_never_removes_a_seller(lv):
    client, brand = lv["client"], lv["brand"]
    upload(client, "marketplace,seller_id,note\ntaobao,-,x\n-,lv-official,y\n")
    job = latest_job(brand)
    assert (job.error_rows, job.created, job.updated) == (2, 0, 0)
    codes = sorted(e.code for e in job.row_errors)
    assert codes == ["cannot_clear", "cannot_clear"]
    upload(client, "marketplace,seller_id\ntmall,someone-else\n")  # lv-official is not in this file
    assert ("taobao", "lv-official") in sellers(brand) and AuthorizedSeller.for_org(brand).count() == 2


def test_bad_files_are_refused_with_nothing_kept_and_platforms_have_no_list(lv):
    client, brand = lv["client"], lv["brand"]
    refused = upload(client, "colour,size\nred,9\n")
    assert refused.status_code == 422 and "The header row is not usable" in page_text(refused)
    assert latest_job(brand) is None
    platform_client = lv["make_client"]()
    platform_client.sign_in(lv["world"].person(lv["platform"], "analyst").email)
    assert platform_client.get("/intel/authorized-sellers/import").status_code == 404
    with acting_as("test"), pytest.raises(Exception) as refused_platform:
        from portal.imports.service import start_import
        start_import(lv["platform"], io.BytesIO(b"marketplace,seller_id\ntaobao,x\n"), "x.csv", "authorized")
    assert getattr(refused_platform.value, "code", "") == "not_a_brand"


def test_screening_leaves_the_imported_sellers_alone(lv, world):
    client, brand = lv["client"], lv["brand"]
    world.partnership(brand, lv["platform"])
    world.verified_mark(brand, lv["platform"], word="LOUIS VUITTON", number="12345678")
    upload(client, "marketplace,seller_id\ntaobao,lv-reseller\n")
    listings = ("title,seller_id,url,marketplace\n"
                "LOUIS VUITTON bag,lv-reseller,https://item.taobao.com/item.htm?id=1,taobao\n"
                "LOUIS VUITTON bag,shop-x,https://item.taobao.com/item.htm?id=2,taobao\n")
    client.post_form("/intel/screenings/new", {"marketplace": "taobao",
                                               "listings_file": (io.BytesIO(listings.encode()), "l.csv")},
                     content_type="multipart/form-data")
    from portal.intel.models import Screening
    screening = Screening.for_org(brand).get()
    assert (screening.listings, screening.hit_count, screening.authorized_skipped) == (2, 1, 1)


def test_another_org_sees_none_of_it_and_the_template_imports_cleanly(lv, world, make_client):
    client, brand = lv["client"], lv["brand"]
    upload(client, "marketplace,seller_id\ntaobao,lv-reseller\n", dry_run=True)
    job = latest_job(brand)
    other = make_client()
    other.sign_in(world.person(world.org("Swarovski"), "admin").email)
    for suffix in ("", "/status", "/errors.csv", "/report.csv"):
        assert other.get(f"/intel/authorized-sellers/import/{job.id}{suffix}").status_code == 404
    assert other.post_form(f"/intel/authorized-sellers/import/{job.id}/apply").status_code == 404
    assert "lv-reseller" not in page_text(other.get("/intel/authorized-sellers/import"))
    template = client.get("/intel/authorized-sellers/import-template.csv")
    rows = list(csv.reader(io.StringIO(template.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["marketplace", "seller_id", "note"] and len(rows) == 2
    upload(client, template.get_data(as_text=True).lstrip("\ufeff"))
    assert (latest_job(brand).created, latest_job(brand).error_rows) == (1, 0)
