"""Second independent review of issue 6 (flagged-seller intelligence): listing screening, the generalised
import service, the intel API and pages. Each test shows one defect and fails until it is fixed; the
docstrings say what is wrong and what the correct behaviour is."""
import io

import pytest

from portal.audit import acting_as
from portal.intel.screening import Screener
from tests.conftest import page_text
from tests.platform.test_api import PROBLEM, bearer, client_token


# --- fixtures -----------------------------------------------------------------------------------------

@pytest.fixture
def lv(world, make_client):
    """Louis Vuitton partnered with Alibaba (Taobao), LOUIS VUITTON verified, an analyst signed in."""
    alibaba = world.org("Alibaba", kind="platform")
    taobao = world.marketplace(alibaba, "Taobao", "CN")
    brand = world.org("Louis Vuitton")
    partnership = world.partnership(brand, alibaba)
    mark = world.verified_mark(brand, alibaba, word="LOUIS VUITTON", number="12345678")
    client = make_client()
    client.sign_in(world.person(brand, "analyst").email)
    return {"client": client, "brand": brand, "platform": alibaba, "taobao": taobao, "partnership": partnership,
            "mark": mark}


# --- 1. screening: hits and misses on realistic titles --------------------------------------------------

@pytest.fixture(scope="module")
def screener():
    return Screener([(1, "LV"), (2, "GG"), (3, "MK"), (4, "Apple")])


@pytest.mark.parametrize("title, word", [
    ("高仿LV包", "LV"),  # the module's own example of a Chinese title: "replica LV bag", no spaces
    ("LV女包 正品", "LV"),  # "LV women's bag": a short mark written against CJK characters
    ("【正品】LV 包包", "LV"),  # CJK lenticular brackets, everyday punctuation in Taobao titles
    ("GG0061S sunglasses", "GG"),  # a Gucci eyewear model number
    ("MK5491 women's watch", "MK"),  # a Michael Kors watch reference
    ("🔥LV🔥 neverfull", "LV"),  # emoji around the mark
])
def test_short_marks_are_found_next_to_cjk_digits_and_emoji(screener, title, word):
    """Short marks (under 5 letters) are matched only as whole words of the skeleton, and the skeleton's
    word split treats CJK characters, CJK brackets (U+3010...) and emoji as letters and turns digits into
    letters (0->o, 1->i, 5->s, 4->a), so "高仿LV包" (the module docstring's own example), "LV女包",
    "【正品】LV", model numbers such as "GG0061S"/"MK5491" and "🔥LV🔥" are all missed: realistic titles of
    exactly the listings screening exists to find. Correct: a short mark is found when it is delimited by
    anything that is not a Latin letter (CJK characters, CJK punctuation, emoji, digits of a model number)."""
    assert word in [hit.word for hit in screener.screen_title(title)]


@pytest.mark.parametrize("title", ["Pineapple slicer stainless steel", "Rocky IV DVD box set"])
def test_common_words_do_not_hit_a_mark(screener, title):
    """A mark that is a common word ("Apple") is found inside other words ("pineapple") because long marks
    are matched anywhere in the separator-free skeleton, and "IV" (a roman numeral) reads as the mark LV
    because l and i are one letter; both are reported as counterfeit hits with a score of 0.6/0.75 and can
    be filed as notices. Correct: a mark found inside a longer Latin word (not at a word start, or only
    through the l/i confusion on a plain roman numeral) is not a hit."""
    assert screener.screen_title(title) == []


# --- 1. screening: pages, API, drafts -----------------------------------------------------------------

def test_pasting_a_large_batch_into_the_box_is_screened_not_refused_as_too_large(lv):
    """The listings box accepts up to 10,000 listings (its own Length validator allows 30 MB), but Flask
    3.1's MAX_FORM_MEMORY_SIZE (500 kB by default) refuses any text field past 500 kB before the view
    runs: pasting 5,000 ordinary listings (~650 kB) answers 413 "Upload too large" (with the file-size
    limit of tens of MB in its message) and everything pasted is lost. Correct: a batch within the
    documented limit is screened (302 to the screening), or refused by the form with its text kept."""
    from portal.intel.models import Screening
    lines = "\n".join(f"https://item.taobao.com/item.htm?id={n}\tshop-{n % 97}\tLeather handbag brown medium size "
                      f"{n} with strap and dust bag\t¥ {100 + n}" for n in range(5000))
    assert 500_000 < len(lines.encode()) < 1_000_000
    # The page's form is multipart/form-data (it also takes a file), as the browser sends it.
    response = lv["client"].post_form("/intel/screenings/new", {"marketplace": "taobao", "listings": lines},
                                      content_type="multipart/form-data")
    assert response.status_code == 302, response.status_code
    assert Screening.for_org(lv["brand"]).get().listings == 5000


def test_a_notice_draft_is_accepted_by_the_notices_api_when_a_word_has_many_registrations(app, client, lv):
    """A hit remembers every registration of the word found, and the draft relies on all of the verified
    ones; POST /api/v1/notices accepts at most 200 marks (MAX_NOTICE_MARKS). A brand with 201 verified
    registrations of LOUIS VUITTON (offices and classes: common for a global brand) gets a draft that the
    notices API refuses with 422, although the screening API documents the draft as the body to POST.
    Correct: drafts are valid notices, e.g. relying on at most 200 marks (one registration per word and
    office is enough to substantiate the notice)."""
    from portal.marks.models import Mark
    from portal.timeutil import utcnow
    now = utcnow()
    Mark.insert_many([{"org": lv["brand"].id, "word": "LOUIS VUITTON", "office": "CNIPA",
                       "registration_number": str(30000000 + n), "nice_classes": ";18;", "jurisdictions": "",
                       "status": "verified", "created_at": now, "updated_at": now} for n in range(200)]).execute()
    token = client_token(client, lv["brand"], "intel:write intel:read notices:write")
    response = client.post("/api/v1/intel/screenings", headers=bearer(token), json={
        "marketplace": "taobao", "listings": [{"title": "Louis Vuitton Neverfull replica", "seller_id": "shop-1",
                                               "url": "https://item.taobao.com/item.htm?id=1"}]})
    assert response.status_code == 201, response.json
    draft = response.json["notice_draft"]
    assert draft is not None
    filed = client.post("/api/v1/notices", headers=bearer(token), json=dict(draft, good_faith=True))
    assert filed.status_code == 201, filed.json


def test_a_listings_file_with_a_seller_id_and_a_seller_name_column_is_screened_by_the_id(lv):
    """SCREENING_COLUMNS maps "Seller name", "Shop" and "Store" (display names) to seller_id, which the
    portal matches exactly against authorized sellers and flags and files in notices. A marketplace
    export with both "Seller ID" and "Seller name" columns (the common case) is refused whole as having
    two seller_id columns, and a file with only a name column would screen display names as seller ids.
    Correct: name columns are not the seller's id (ignored with a warning, like any unknown column), and
    the file is screened with its "Seller ID" column."""
    from portal.intel.models import Screening, ScreeningHit
    content = ("Title,Price,Seller ID,Seller name,URL\n"
               "Louis Vuitton Neverfull replica,199,shop-77,Lucky Bags Store,https://item.taobao.com/item.htm?id=77\n")
    response = lv["client"].post_form("/intel/screenings/new", {
        "marketplace": "taobao", "listings_file": (io.BytesIO(content.encode()), "export.csv")},
        content_type="multipart/form-data")
    assert response.status_code == 302, page_text(response)[-600:]
    hit = ScreeningHit.get(ScreeningHit.screening == Screening.for_org(lv["brand"]).get())
    assert hit.seller_id == "shop-77"


# --- 2. the generalised import service: flag files ----------------------------------------------------

@pytest.fixture
def intel(world):
    alibaba = world.org("Alibaba", kind="platform")
    taobao = world.marketplace(alibaba, "Taobao")
    return dict(alibaba=alibaba, taobao=taobao, lv=world.org("Louis Vuitton"), swarovski=world.org("Swarovski"),
                microsoft=world.org("Microsoft"))


def flag_import(app, org, content, dry_run=False):
    from portal.intel.imports import start_flag_import
    with app.app_context(), acting_as("test"):
        return start_flag_import(org, io.BytesIO(content.encode()), "flags.csv", dry_run=dry_run)


def test_a_flag_file_without_share_with_updates_a_group_flag_and_keeps_its_group(app, world, intel):
    """An update changes only the columns the file has (the import's own rule; upsert even keeps the
    group when the file has no share_with column and the distribution stays group). But `clean` checks
    each row as if it created a flag: distribution `group` with no share_with column means "no orgs", so
    check_sharing refuses the row ("Name at least one other organization"), and a file that only updates
    the notes of group-shared flags fails on every one of them. Correct: for a seller the org already
    flags in a group, a file without a share_with column updates the notes and keeps the group."""
    from portal.intel.models import Flag, FlagShare
    from portal.imports.runner import row_errors
    flag = world.flag(intel["lv"], "shop-g", "taobao", tlp="amber", distribution="group",
                      share_with=[intel["swarovski"]], notes="old")
    job = flag_import(app, intel["lv"], "marketplace,seller_id,category,tlp,distribution,notes\n"
                                        "taobao,shop-g,suspected_counterfeit,amber,group,Test buy TB-7 confirmed\n")
    assert [(e.column, e.message) for e in row_errors(job)] == []
    assert job.updated == 1
    assert Flag.get_by_id(flag.id).notes == "Test buy TB-7 confirmed"
    assert [s.org_id for s in FlagShare.select().where(FlagShare.flag == flag)] == [intel["swarovski"].id]


def test_the_error_report_shows_the_bad_value_of_an_identifier_column(app, intel):
    """A row with a malformed e-mail (or domain, phone) is reported in the `email` column, but its value
    is empty: FlagImporter.clean pops the identifier cells out of the row before reading `values.get(column)`
    for the report, so the person cannot see which value was refused. Every other column reports the
    value. Correct: the report's `value` is the cell as given ("not-an-email")."""
    from portal.imports.runner import row_errors
    job = flag_import(app, intel["lv"], "marketplace,seller_id,category,tlp,distribution,email\n"
                                        "taobao,shop-e,suspected_counterfeit,green,alliance,not-an-email\n")
    [error] = list(row_errors(job))
    assert error.column == "email"
    assert error.value == "not-an-email"



def test_fresh_notice_drafts_leave_out_listings_already_under_an_active_notice(client, lv):
    """GET /intel/screenings/{id} promises "fresh notice drafts" to POST to /api/v1/notices. After the
    integrator does exactly that with the first draft, the hits stay unfiled (only filing through the
    page links them) and the fresh draft offers the same listing again; POSTing it is refused with 422
    ("Every listing is already under one of your notices"). Correct: a draft leaves out listings already
    under an active notice of the brand (as file_notice would skip them), so the re-read has no draft."""
    token = client_token(client, lv["brand"], "intel:write intel:read notices:write")
    created = client.post("/api/v1/intel/screenings", headers=bearer(token), json={
        "marketplace": "taobao", "listings": [{"title": "Louis Vuitton Neverfull replica", "seller_id": "shop-1",
                                               "url": "https://item.taobao.com/item.htm?id=1"}]}).json
    filed = client.post("/api/v1/notices", headers=bearer(token), json=dict(created["notice_draft"], good_faith=True))
    assert filed.status_code == 201, filed.json
    again = client.get(f"/api/v1/intel/screenings/{created['id']}", headers=bearer(token)).json
    if again["notice_draft"] is not None:
        refiled = client.post("/api/v1/notices", headers=bearer(token), json=dict(again["notice_draft"], good_faith=True))
        assert refiled.status_code == 201, refiled.json
    assert again["notice_drafts"] == []


def test_the_seller_link_of_a_hit_leads_to_a_page(lv):
    """Every hit with a seller id links to /intel/sellers/<marketplace>/<seller id>, but that page answers
    404 ("No such page or object in your organization") for a seller nobody flagged and the brand never
    filed against: the usual case for a screening's hits, so the links are dead. Correct: a hit links to
    the seller's page only when there is one to read (or the page offers to flag the unknown seller)."""
    from portal.intel.models import Screening
    response = lv["client"].post_form("/intel/screenings/new", {
        "marketplace": "taobao",
        "listings": "https://item.taobao.com/item.htm?id=9\tfresh-shop\tLouis Vuitton bag replica\t¥ 1"})
    assert response.status_code == 302
    screening = Screening.for_org(lv["brand"]).get()
    page = page_text(lv["client"].get(f"/intel/screenings/{screening.id}"))
    if "/intel/sellers/taobao/fresh-shop" in page:
        assert lv["client"].get("/intel/sellers/taobao/fresh-shop").status_code == 200


# --- 3. the intel API ---------------------------------------------------------------------------------

def test_an_invalid_identifier_is_reported_under_the_field_the_client_sent(client, world, intel):
    """POST/PATCH take identifiers as `identifiers: [{kind, value}]`, but a malformed value is reported
    in problem+json as `errors: [{field: "email", ...}]` (the bulk file's column name): there is no
    `email` field in the request or in the OpenAPI document, so a client cannot attach the error to what
    it sent. Correct: the field error names `identifiers` (or `identifiers.<index>.value`)."""
    token = client_token(client, intel["lv"], "intel:read intel:write")
    response = client.post("/api/v1/intel/flags", headers=bearer(token), json={
        "marketplace": "taobao", "seller_id": "shop-i", "category": "other", "tlp": "green",
        "distribution": "alliance", "identifiers": [{"kind": "email", "value": "not-an-email"}]})
    assert response.status_code == 422 and response.mimetype == PROBLEM
    assert [e["field"].split(".")[0] for e in response.json["errors"]] == ["identifiers"]
