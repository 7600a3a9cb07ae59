"""The marks registry: number rules per office, the status rules, who sees which marks, verification by
partner platforms, expiry, audit, and the pages (list, filters, detail, form, queue, export)."""
import io
from datetime import date, timedelta

import pytest

from portal.audit import AuditEvent, verify_chain
from portal.errors import Conflict, NotFound, ValidationError
from portal.marks import rules, services
from portal.marks.models import Mark
from portal.marks.offices import normalise_number
from portal.timeutil import local_today
from tests.conftest import page_text

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


# --- registration numbers and fields ------------------------------------------------------------------

@pytest.mark.parametrize("office, raw, expected", [
    ("USPTO", "1,234,567", "1234567"), ("USPTO", "01234567", "1234567"), ("USPTO", " 1 234 567 ", "1234567"),
    ("EUIPO", "18123456", "018123456"), ("EUIPO", "018 123 456", "018123456"), ("EUIPO", "000018123456", "018123456"),
    ("UKIPO", "3123456", "UK00003123456"), ("UKIPO", "uk00003123456", "UK00003123456"),
    ("CNIPA", "12345678", "12345678"), ("JPO", "第5123456号".replace("第", "").replace("号", ""), "5123456"),
    ("KIPO", "40-1234567", "401234567"), ("KIPO", "40-1234567-0000", "401234567"),
    ("WIPO", "1,234,567", "1234567"), ("WIPO", "123456A", "123456A"), ("CIPO", "TMA123456", "TMA123456"),
    ("CIPO", "123456", "TMA123456"),
])
def test_registration_numbers_are_normalised_per_office(office, raw, expected):
    assert normalise_number(office, raw) == (expected, None)


@pytest.mark.parametrize("office, raw", [("USPTO", "ABC123"), ("USPTO", "123456789"), ("EUIPO", "1234567890"),
                                         ("EUIPO", "000000000"), ("UKIPO", "123456789012"), ("JPO", "12345678"),
                                         ("KIPO", "1234567"), ("KIPO", "4012345678"), ("KIPO", "40-2020-0012345"),
                                         ("WIPO", "12345678")])
def test_malformed_numbers_are_refused_with_the_expected_shape(office, raw):
    number, error = normalise_number(office, raw)
    assert error and office in error and "expected something like" in error


def test_unknown_office_is_accepted_with_a_warning_not_as_valid():
    checked = rules.clean_mark({"word": "ACME", "office": "ipindia", "registration_number": "12-34 56",
                                "nice_classes": "9", "jurisdictions": "IN"})
    assert checked.ok and checked.fields["office"] == "IPINDIA" and checked.fields["registration_number"] == "123456"
    assert [w.code for w in checked.warnings] == ["unknown_office"]


def test_office_aliases_and_list_separators():
    checked = rules.clean_mark({"word": "  LOUIS   VUITTON ", "office": "eutm", "registration_number": "15123456",
                                "nice_classes": "25; 18,18 9", "registered_on": "2016-02-03",
                                "expires_on": date(2026, 2, 3), "jurisdictions": ""})
    assert checked.ok, checked.problems
    assert checked.fields == {"word": "LOUIS VUITTON", "office": "EUIPO", "registration_number": "015123456",
                              "nice_classes": [9, 18, 25], "registered_on": date(2016, 2, 3),
                              "expires_on": date(2026, 2, 3), "jurisdictions": ["EU"]}


@pytest.mark.parametrize("values, column, code", [
    ({"nice_classes": "0"}, "nice_classes", "class_out_of_range"),
    ({"nice_classes": "46"}, "nice_classes", "class_out_of_range"),
    ({"nice_classes": "nine"}, "nice_classes", "bad_class"),
    ({"nice_classes": "9;²"}, "nice_classes", "bad_class"),
    ({"nice_classes": ""}, "nice_classes", "required"),
    ({"word": ""}, "word", "required"),
    ({"word": "x" * 201}, "word", "too_long"),
    ({"office": "U$PTO"}, "office", "bad_office"),
    ({"registered_on": "31/12/2020"}, "registered_on", "bad_date"),
    ({"expires_on": "2020-02-30"}, "expires_on", "bad_date"),
    ({"registered_on": "2020-01-01", "expires_on": "2019-01-01"}, "expires_on", "date_order"),
    ({"jurisdictions": "CN"}, "jurisdictions", "jurisdiction_mismatch"),
    ({"jurisdictions": "XX"}, "jurisdictions", "bad_jurisdiction"),
    ({"office": "WIPO", "registration_number": "1234567"}, "jurisdictions", "designations_required"),
])
def test_each_rule_names_its_column_and_code(values, column, code):
    base = {"word": "XBOX", "office": "USPTO", "registration_number": "2345678", "nice_classes": "9"}
    checked = rules.clean_mark(dict(base, **values))
    assert [(p.column, p.code) for p in checked.problems] == [(column, code)]
    assert all(len(p.value) < 260 for p in checked.problems)


def test_a_eu_mark_covers_member_states_and_a_wipo_mark_its_designations():
    from portal.marks.offices import covered_countries
    assert {"FR", "DE", "AT"} <= covered_countries(["EU"]) and "GB" not in covered_countries(["EU"])
    checked = rules.clean_mark({"word": "X", "office": "EUIPO", "registration_number": "1", "nice_classes": "9",
                                "jurisdictions": "FR;DE"})
    assert checked.ok and checked.fields["jurisdictions"] == ["EU"]  # the office implies the whole Union
    wipo = rules.clean_mark({"word": "X", "office": "WIPO", "registration_number": "1", "nice_classes": "9",
                             "jurisdictions": "kr, cn;JP"})
    assert wipo.fields["jurisdictions"] == ["CN", "JP", "KR"]


# --- creating, editing, status ------------------------------------------------------------------------

@pytest.fixture
def alliance(world):
    """A brand (Louis Vuitton) partnered with Alibaba, a second brand not partnered, another platform."""
    lv, swarovski = world.org("Louis Vuitton", timezone="Europe/Paris"), world.org("Swarovski")
    alibaba, other = world.org("Alibaba", kind="platform"), world.org("Shopmart", kind="platform")
    world.partnership(lv, alibaba)
    people = {org.slug: {role: world.person(org, role) for role in ("admin", "analyst", "viewer")}
              for org in (lv, swarovski, alibaba, other)}
    return lv, swarovski, alibaba, other, people


def test_natural_key_is_unique_per_org_after_normalisation(world):
    org, other = world.org("Microsoft"), world.org("Swarovski")
    world.mark(org, number="2345678")
    with pytest.raises(Conflict):
        world.mark(org, number="2,345,678")
    assert world.mark(other, number="2345678").org_id == other.id  # another org may hold the same number
    with pytest.raises(ValidationError) as refused:
        world.mark(org, number="12", classes="0")
    assert set(refused.value.errors) == {"nice_classes"}
    assert Mark.for_org(org).count() == 1


def test_a_mark_past_its_expiry_is_created_expired(world):
    org = world.org("Microsoft")
    mark = world.mark(org, expires_on=date.today() - timedelta(days=2))
    assert mark.status == "expired"


def test_platforms_cannot_register_marks(world):
    with pytest.raises(ValidationError):
        world.mark(world.org("Alibaba", kind="platform"))


def test_verification_flow_and_reset_on_substantive_change(alliance, world):
    lv, _, alibaba, _, people = alliance
    mark = world.mark(lv, word="LOUIS VUITTON", office="EUIPO", number="15123456", classes="18;25")
    analyst = people["alibaba"]["analyst"]
    with pytest.raises(ValidationError):
        services.review_mark(mark, alibaba, analyst, "reject", "  ")
    verified = services.review_mark(mark, alibaba, analyst, "verify")
    assert verified.status == "verified" and verified.reviewed_by_org_id == alibaba.id
    # A change of the office's data needs a new verification; the proof or nothing at all does not.
    services.update_mark(verified, {"nice_classes": "18;25"})
    assert Mark.get_by_id(mark.id).status == "verified"
    services.update_mark(verified, {"nice_classes": "18;25;35"})
    again = Mark.get_by_id(mark.id)
    assert again.status == "pending" and again.reviewed_by_org is None
    rejected = services.review_mark(again, alibaba, analyst, "reject", "Class 35 is not in the EUIPO register.")
    assert rejected.status == "rejected" and rejected.status_reason.startswith("Class 35")
    actions = [e.action for e in AuditEvent.for_org(lv).order_by(AuditEvent.seq) if e.action.startswith("mark.")]
    assert actions == ["mark.created", "mark.verified", "mark.updated", "mark.rejected"]
    assert [e.action for e in AuditEvent.for_org(alibaba).order_by(AuditEvent.seq)][-2:] == ["mark.verified",
                                                                                           "mark.rejected"]
    assert verify_chain().ok


def test_only_partner_platforms_see_and_verify(alliance, world):
    lv, swarovski, alibaba, other, people = alliance
    lv_mark, sw_mark = world.mark(lv), world.mark(swarovski)
    assert {m.id for m in services.visible_marks(alibaba)} == {lv_mark.id}
    assert list(services.visible_marks(other)) == []
    assert {m.id for m in services.visible_marks(swarovski)} == {sw_mark.id}
    with pytest.raises(NotFound):
        services.review_mark(lv_mark, other, people["shopmart"]["analyst"], "verify")
    with pytest.raises(NotFound):
        services.get_visible_mark(sw_mark.id, lv)
    assert Mark.get_by_id(lv_mark.id).status == "pending"


def test_expiry_task_uses_each_owners_time_zone(app, world):
    from portal.marks.tasks import expire_marks
    tokyo, hawaii = world.org("Tokyo Brand", timezone="Asia/Tokyo"), world.org("Aloha", timezone="Pacific/Honolulu")
    yesterday = date.today() - timedelta(days=1)
    t, h = world.mark(tokyo, expires_on=yesterday + timedelta(days=30)), world.mark(hawaii, expires_on=yesterday + timedelta(days=30))
    Mark.update(expires_on=yesterday).execute()
    fixed = {"Asia/Tokyo": date.today(), "Pacific/Honolulu": yesterday}  # Honolulu is still on yesterday
    assert services.expire_marks(today_for=lambda tz: fixed[tz]) == 1
    assert Mark.get_by_id(t.id).status == "expired" and Mark.get_by_id(h.id).status == "pending"
    # The periodic task, with the real clock: a mark whose expiry date is yesterday in Honolulu (whatever
    # the UTC date is now) expires.
    Mark.update(expires_on=local_today("Pacific/Honolulu") - timedelta(days=1)).where(Mark.id == h.id).execute()
    with app.app_context():
        assert expire_marks.call_local() == 1
    assert Mark.get_by_id(h.id).status == "expired"
    event = AuditEvent.for_org(tokyo).where(AuditEvent.action == "mark.expired").get()
    assert event.change_data["marks"] == [[t.id, "pending"]]


def test_renewing_an_expired_mark_makes_it_pending_again(world):
    org = world.org("Microsoft")
    mark = world.mark(org, expires_on=date.today() - timedelta(days=1))
    assert mark.status == "expired"
    services.update_mark(mark, {"expires_on": date.today() + timedelta(days=3650)})
    assert Mark.get_by_id(mark.id).status == "pending"


def test_search_filters(world):
    org = world.org("Microsoft")
    world.mark(org, word="XBOX", number="1000001", classes="9;28", expires_on=date.today() + timedelta(days=30))
    world.mark(org, word="Windows", number="1000002", classes="9", expires_on=date.today() + timedelta(days=400))
    world.mark(org, word="Office", office="EUIPO", number="5", classes="42")

    def words(**filters):
        return sorted(m.word for m in services.search(org, **filters))
    assert words(q="xb") == ["XBOX"] and words(q="1000002") == ["Windows"] and words(q="018") == []
    assert words(office="EUIPO") == ["Office"]
    assert words(nice_class=9) == ["Windows", "XBOX"] and words(nice_class=2) == []
    assert words(expiring=True) == ["XBOX"]
    assert words(status="pending") == ["Office", "Windows", "XBOX"] and words(status="verified") == []


# --- pages --------------------------------------------------------------------------------------------

def test_brand_pages_create_edit_detail_delete(admin):
    client, org = admin
    assert client.get("/marks").status_code == 200
    form = client.get("/marks/new")
    assert form.status_code == 200 and 'name="registration_number"' in form.get_data(as_text=True)
    bad = client.post_form("/marks/new", {"word": "XBOX", "office": "USPTO", "registration_number": "ABC",
                                          "nice_classes": "0"})
    assert bad.status_code == 422
    text = page_text(bad)
    assert "Not a USPTO registration number" in text and "Class 0 does not exist" in text
    created = client.post_form("/marks/new", {
        "word": "XBOX", "office": "uspto", "registration_number": "2,345,678", "nice_classes": "9;28",
        "expires_on": "2031-05-31", "proof": (io.BytesIO(PDF), "certificate.pdf")},
        content_type="multipart/form-data")
    assert created.status_code == 302
    mark = Mark.for_org(org).get()
    assert (mark.registration_number, mark.classes, mark.proof_name) == ("2345678", [9, 28], "certificate.pdf")
    import hashlib
    assert mark.proof_sha256 == hashlib.sha256(PDF).hexdigest()
    detail = page_text(client.get(f"/marks/{mark.id}"))
    assert "XBOX" in detail and mark.proof_sha256 in detail and "pending" in detail
    proof = client.get(f"/marks/{mark.id}/proof")
    assert proof.data == PDF and "attachment" in proof.headers["Content-Disposition"]
    edit = client.post_form(f"/marks/{mark.id}/edit", {"word": "XBOX ONE", "office": "USPTO",
                                                       "registration_number": "2345678", "nice_classes": "9"})
    assert edit.status_code == 302 and Mark.get_by_id(mark.id).word == "XBOX ONE"
    assert client.post_form(f"/marks/{mark.id}/delete").status_code == 302
    assert Mark.for_org(org).count() == 0


def test_a_proof_that_is_not_a_pdf_or_image_is_refused_and_nothing_is_saved(admin):
    client, org = admin
    response = client.post_form("/marks/new", {
        "word": "XBOX", "office": "USPTO", "registration_number": "2345678", "nice_classes": "9",
        "proof": (io.BytesIO(b"MZ\x90\x00 not really a pdf"), "certificate.pdf")}, content_type="multipart/form-data")
    assert response.status_code == 422 and "PDF, PNG or JPEG" in page_text(response)
    assert Mark.for_org(org).count() == 0


def test_list_filters_and_csv_export_on_the_page(admin, world):
    client, org = admin
    world.mark(org, word="=XBOX", number="1000001", classes="9;28")
    world.mark(org, word="Windows", number="1000002", classes="9")
    page = page_text(client.get("/marks?class=28"))
    assert "=XBOX" in page and "Windows" not in page and "1 mark" in page
    assert client.get("/marks?class=99&status=bogus&page=x").status_code == 200  # junk filters are ignored
    export = client.get("/marks/export.csv?q=xbox").get_data(as_text=True)
    lines = export.lstrip("\ufeff").splitlines()
    assert lines[0] == "word,office,registration_number,nice_classes,registered_on,expires_on,jurisdictions,status,owner"
    assert lines[1].startswith("'=XBOX,USPTO,1000001,9;28") and len(lines) == 2


def test_templates_download(admin):
    client, _ = admin
    csv_text = client.get("/marks/template.csv").get_data(as_text=True)
    assert csv_text.lstrip("\ufeff").strip() == ",".join(rules.COLUMNS)
    xlsx = client.get("/marks/template.xlsx")
    import openpyxl
    workbook = openpyxl.load_workbook(io.BytesIO(xlsx.data))
    assert [c.value for c in workbook.worksheets[0][1]] == list(rules.COLUMNS)
    assert workbook.worksheets[0].max_row >= 1 and workbook.sheetnames[1] == "How to fill in"


def test_platform_queue_and_review_pages(alliance, world, make_client):
    lv, swarovski, alibaba, other, people = alliance
    mark, hidden = world.mark(lv, word="LOUIS VUITTON", office="EUIPO", number="15123456"), world.mark(swarovski)
    analyst = make_client()
    analyst.sign_in(people["alibaba"]["analyst"].email)
    queue = page_text(analyst.get("/marks/verification"))
    assert "LOUIS VUITTON" in queue and "Louis Vuitton" in queue and "XBOX" not in queue
    assert analyst.get(f"/marks/{hidden.id}").status_code == 404
    refused = analyst.post_form(f"/marks/{mark.id}/reject", {"reason": ""})
    assert refused.status_code == 422 and "Say why" in page_text(refused)
    done = analyst.post_form(f"/marks/{mark.id}/verify", {"back": "queue"})
    assert done.status_code == 302 and done.headers["Location"].endswith("/marks/verification")
    assert Mark.get_by_id(mark.id).status == "verified"
    assert "Nothing to verify" in page_text(analyst.get("/marks/verification"))
    # Platforms cannot add or import marks; brands have no verification queue.
    assert analyst.get("/marks/new").status_code == 404 and analyst.get("/marks/imports").status_code == 404
    brand = make_client()
    brand.sign_in(people["louis-vuitton"]["admin"].email)
    assert brand.get("/marks/verification").status_code == 404
    assert brand.post_form(f"/marks/{mark.id}/reject", {"reason": "x"}).status_code == 404


def test_platform_viewer_cannot_verify(alliance, world, make_client):
    lv, _, alibaba, _, people = alliance
    mark = world.mark(lv)
    viewer = make_client()
    viewer.sign_in(people["alibaba"]["viewer"].email)
    assert viewer.get(f"/marks/{mark.id}").status_code == 200
    for decision in ("verify", "reject"):
        assert viewer.post_form(f"/marks/{mark.id}/{decision}", {"reason": "x"}).status_code == 403
    assert Mark.get_by_id(mark.id).status == "pending"


def test_dashboards_count_marks(alliance, world, make_client):
    lv, _, alibaba, _, people = alliance
    world.mark(lv, number="1000001")
    world.mark(lv, number="1000002", expires_on=date.today() + timedelta(days=10))
    world.mark(lv, number="1000003", expires_on=date.today() - timedelta(days=10))
    brand = make_client()
    brand.sign_in(people["louis-vuitton"]["viewer"].email)
    text = page_text(brand.get("/"))
    assert 'href="/marks?status=pending">2</a>' in text and 'href="/marks?status=expired">1</a>' in text
    assert 'href="/marks?expiring=1">1</a>' in text
    platform = make_client()
    platform.sign_in(people["alibaba"]["analyst"].email)
    assert "Verify 2 pending marks" in page_text(platform.get("/"))


def test_changing_the_office_on_the_edit_form_takes_the_new_offices_countries(admin, world):
    client, org = admin
    mark = world.mark(org, office="USPTO", number="1000001")
    response = client.post_form(f"/marks/{mark.id}/edit", {
        "word": mark.word, "office": "EUIPO", "registration_number": "18123456", "nice_classes": "9",
        "jurisdictions": "US"})  # what the form showed: the old office's implied country
    assert response.status_code == 302, page_text(response)
    assert Mark.get_by_id(mark.id).jurisdiction_list == ["EU"]


def test_list_pages_keep_their_filters(admin, world):
    client, org = admin
    rows = "".join(f"MARK {n},USPTO,{5000000 + n},9,,,\n" for n in range(51))
    world.upload(org, "word,office,registration_number,nice_classes,registered_on,expires_on,jurisdictions\n" + rows)
    html = client.get("/marks?class=9").get_data(as_text=True)
    assert "Page 1 of 2" in html and 'href="/marks?page=2&amp;class=9">Next</a>' in html
    assert "Page 2 of 2" in client.get("/marks?class=9&page=2").get_data(as_text=True)
