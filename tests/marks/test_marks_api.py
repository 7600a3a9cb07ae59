"""/api/v1/marks: an integrator's whole round trip with real tokens from the token endpoint."""
import io

import pytest

from portal.audit import AuditEvent
from portal.imports.models import ImportJob
from portal.marks.models import Mark
from tests.platform.test_api import PROBLEM, bearer, client_token

HEADER = "word,office,registration_number,nice_classes,registered_on,expires_on,jurisdictions\n"


@pytest.fixture
def brand(client, world):
    org = world.org("Louis Vuitton", timezone="Europe/Paris")
    return org, client_token(client, org, "marks:read marks:write")


def test_create_read_update_delete(client, brand):
    org, token = brand
    created = client.post("/api/v1/marks", headers=bearer(token), json={
        "word": "LOUIS VUITTON", "office": "euipo", "registration_number": "15 123 456", "nice_classes": [25, 18],
        "expires_on": "2031-02-03"})
    assert created.status_code == 201, created.json
    body = created.json
    assert (body["office"], body["registration_number"], body["nice_classes"], body["jurisdictions"]) == \
        ("EUIPO", "015123456", [18, 25], ["EU"])
    assert body["status"] == "pending" and body["warnings"] == [] and body["owner"] == "louis-vuitton"
    assert body["created_at"].endswith("+00:00")
    mark_id = body["id"]
    assert client.get(f"/api/v1/marks/{mark_id}", headers=bearer(token)).json["word"] == "LOUIS VUITTON"

    duplicate = client.post("/api/v1/marks", headers=bearer(token), json={
        "word": "LV", "office": "EUIPO", "registration_number": "015123456", "nice_classes": [18]})
    assert duplicate.status_code == 409 and duplicate.mimetype == PROBLEM
    assert duplicate.json["errors"][0]["field"] == "registration_number"

    patched = client.patch(f"/api/v1/marks/{mark_id}", headers=bearer(token), json={"nice_classes": [18]})
    assert patched.status_code == 200 and patched.json["nice_classes"] == [18]
    assert client.patch(f"/api/v1/marks/{mark_id}", headers=bearer(token), json={}).status_code == 422

    assert client.delete(f"/api/v1/marks/{mark_id}", headers=bearer(token)).status_code == 204
    assert client.get(f"/api/v1/marks/{mark_id}", headers=bearer(token)).status_code == 404
    actions = [e.action for e in AuditEvent.for_org(org).order_by(AuditEvent.seq)]
    assert actions[-3:] == ["mark.created", "mark.updated", "mark.deleted"]
    assert AuditEvent.for_org(org).order_by(AuditEvent.seq.desc()).first().actor_label.startswith("client:")


def test_bad_input_is_422_with_field_errors_and_nothing_saved(client, brand):
    org, token = brand
    response = client.post("/api/v1/marks", headers=bearer(token), json={
        "word": "X", "office": "USPTO", "registration_number": "ABC", "nice_classes": [9], "jurisdictions": ["ZZ"]})
    assert response.status_code == 422 and response.mimetype == PROBLEM
    fields = {e["field"] for e in response.json["errors"]}
    assert fields == {"registration_number", "jurisdictions"}
    typo = client.post("/api/v1/marks", headers=bearer(token), json={
        "wrod": "X", "word": "X", "office": "USPTO", "registration_number": "1", "nice_classes": [9]})
    assert typo.status_code == 422 and {"field": "wrod", "message": "Unknown field."} in typo.json["errors"]
    out_of_range = client.post("/api/v1/marks", headers=bearer(token), json={
        "word": "X", "office": "USPTO", "registration_number": "1", "nice_classes": [46]})
    assert out_of_range.status_code == 422
    assert Mark.for_org(org).count() == 0


def test_unknown_office_is_saved_with_a_warning(client, brand):
    _, token = brand
    response = client.post("/api/v1/marks", headers=bearer(token), json={
        "word": "LV", "office": "IPINDIA", "registration_number": "1234 567", "nice_classes": [18],
        "jurisdictions": ["IN"]})
    assert response.status_code == 201
    assert response.json["known_office"] is False
    assert [w["code"] for w in response.json["warnings"]] == ["unknown_office"]


def test_read_scope_cannot_write(client, world):
    org = world.org("Swarovski")
    token = client_token(client, org, "marks:read")
    response = client.post("/api/v1/marks", headers=bearer(token), json={
        "word": "S", "office": "USPTO", "registration_number": "1", "nice_classes": [14]})
    assert response.status_code == 403 and response.json["scope"] == "marks:write"
    assert Mark.for_org(org).count() == 0


def test_filters_and_visibility(client, world):
    lv, swarovski = world.org("Louis Vuitton"), world.org("Swarovski")
    alibaba, other = world.org("Alibaba", kind="platform"), world.org("Shopmart", kind="platform")
    world.partnership(lv, alibaba)
    world.partnership(swarovski, alibaba)
    world.mark(lv, word="LOUIS VUITTON", office="EUIPO", number="15123456", classes="18;25")
    world.mark(lv, word="LV", number="1000001", classes="18")
    world.mark(swarovski, word="SWAROVSKI", number="1000002", classes="14")
    lv_token = client_token(client, lv, "marks:read")
    words = lambda query, token=lv_token: [m["word"] for m in client.get(  # noqa: E731
        f"/api/v1/marks{query}", headers=bearer(token)).json["items"]]
    assert words("") == ["LOUIS VUITTON", "LV"]
    assert words("?office=euipo") == ["LOUIS VUITTON"] and words("?nice_class=25") == ["LOUIS VUITTON"]
    assert words("?q=lv") == ["LV"] and words("?status=verified") == [] and words("?owner=swarovski") == []
    platform_token = client_token(client, alibaba, "marks:read")
    assert words("", platform_token) == ["LOUIS VUITTON", "LV", "SWAROVSKI"]
    assert words("?owner=swarovski", platform_token) == ["SWAROVSKI"]
    assert words("", client_token(client, other, "marks:read")) == []
    bad = client.get("/api/v1/marks?nice_class=46&status=gone", headers=bearer(lv_token))
    assert bad.status_code == 422 and {e["field"] for e in bad.json["errors"]} == {"nice_class", "status"}


def test_import_round_trip_over_the_api(client, brand):
    """An integrator uploads with errors, reads the report, fixes the file and uploads again."""
    org, token = brand
    content = HEADER + "LOUIS VUITTON,EUIPO,15123456,18;25,,,\nMONOGRAM,USPTO,ABC,18,,,\nDAMIER,USPTO,1234567,46,,,\n"
    dry = client.post("/api/v1/marks/imports", headers=bearer(token), content_type="multipart/form-data",
                      data={"file": (io.BytesIO(content.encode()), "marks.csv"), "dry_run": "true"})
    assert dry.status_code == 202, dry.json
    assert dry.headers["Location"].endswith(f"/api/v1/marks/imports/{dry.json['id']}")
    job = client.get(dry.headers["Location"], headers=bearer(token)).json
    assert (job["status"], job["dry_run"], job["total_rows"], job["processed_rows"]) == ("done", True, 3, 3)
    assert (job["created"], job["updated"], job["unchanged"], job["errors"]) == (1, 0, 0, 2)
    assert Mark.for_org(org).count() == 0
    report = client.get(job["errors_url"], headers=bearer(token)).json
    assert [(e["row"], e["column"], e["code"]) for e in report["items"]] == [
        (3, "registration_number", "bad_number"), (4, "nice_classes", "class_out_of_range")]

    fixed = content.replace("USPTO,ABC", "USPTO,2345678").replace(",46,", ",18,")
    real = client.post("/api/v1/marks/imports", headers=bearer(token), content_type="multipart/form-data",
                       data={"file": (io.BytesIO(fixed.encode()), "marks-fixed.csv")})
    assert real.status_code == 202 and (real.json["created"], real.json["errors"]) == (3, 0)
    again = client.post("/api/v1/marks/imports", headers=bearer(token), content_type="multipart/form-data",
                        data={"file": (io.BytesIO(fixed.encode()), "marks-fixed.csv")})
    assert again.json["changed_nothing"] is True and again.json["unchanged"] == 3
    listed = client.get("/api/v1/marks/imports", headers=bearer(token)).json["items"]
    assert [j["id"] for j in listed] == [dry.json["id"], real.json["id"], again.json["id"]]


def test_dry_run_applied_over_the_api(client, brand):
    org, token = brand
    dry = client.post("/api/v1/marks/imports", headers=bearer(token), content_type="multipart/form-data",
                      data={"file": (io.BytesIO((HEADER + "LV,USPTO,1234567,18,,,\n").encode()), "m.csv"),
                            "dry_run": "true"}).json
    applied = client.post(f"/api/v1/marks/imports/{dry['id']}/apply", headers=bearer(token))
    assert applied.status_code == 202 and applied.json["applied_from"] == dry["id"]
    assert Mark.for_org(org).count() == 1
    twice = client.post(f"/api/v1/marks/imports/{dry['id']}/apply", headers=bearer(token))
    assert twice.status_code == 422 and twice.json["code"] == "not_applicable"


@pytest.mark.parametrize("data, code", [
    ({"file": (io.BytesIO(b""), "empty.csv")}, "empty_file"),
    ({"file": (io.BytesIO(b"word,office\nX,USPTO\n"), "m.csv")}, "missing_column"),
])
def test_refused_files_are_422_with_a_code_and_no_job(client, brand, data, code):
    org, token = brand
    response = client.post("/api/v1/marks/imports", headers=bearer(token), content_type="multipart/form-data",
                           data=data)
    assert response.status_code == 422 and response.mimetype == PROBLEM and response.json["code"] == code
    assert ImportJob.for_org(org).count() == 0


def test_upload_without_a_file_part(client, brand):
    _, token = brand
    missing = client.post("/api/v1/marks/imports", headers=bearer(token), content_type="multipart/form-data",
                          data={"dry_run": "true"})
    assert missing.status_code == 422 and missing.json["errors"][0]["field"] == "file"
    as_text = client.post("/api/v1/marks/imports", headers=bearer(token), content_type="multipart/form-data",
                          data={"file": "word,office"})
    assert as_text.status_code == 422 and as_text.json["errors"][0]["field"] == "file"


def test_a_page_of_marks_costs_the_same_queries_whatever_its_length(client, world):
    """The owner's slug comes with each mark in the one query (no query per mark)."""
    from tests.conftest import count_queries
    platform = world.org("Alibaba", kind="platform")
    token = client_token(client, platform, "marks:read")
    for name in ("Louis Vuitton", "Swarovski"):
        brand = world.org(name)
        world.partnership(brand, platform)
        for n in range(10):
            world.mark(brand, word=f"{name.upper()} {n}", number=str(3000000 + n))

    def page(limit):
        return lambda: client.get(f"/api/v1/marks?limit={limit}", headers=bearer(token))
    small, few = count_queries(page(2))
    large, many = count_queries(page(20))
    assert len(small.json["items"]) == 2 and len(large.json["items"]) == 20
    assert {m["owner"] for m in large.json["items"]} == {"louis-vuitton", "swarovski"}
    assert many == few
