"""Real-browser flows in headless Chromium (Debian's package, driven by Playwright; the `chromium` and
`open_page` fixtures are in conftest.py, so every browser test file shares one Chromium).

The portal runs on a live local server in a thread, on the same database as the other tests. Each test
fails on any console error; a screenshot of the page is saved in test-artifacts/ when a test fails.
Without Chromium the tests are skipped, unless PORTAL_REQUIRE_BROWSER=1 (set by CI) makes that a failure.
"""
import csv
import io
import re
from pathlib import Path

import pytest

from portal.accounts.models import Membership, User
from portal.audit import acting_as
from portal.notices import grounds
from tests.conftest import PASSWORD
from tests.reports.test_reports import story  # noqa: F401 (the weekly report's worked week, a fixture)

pytestmark = pytest.mark.browser

def sign_in(page, email, password=PASSWORD):
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def assert_accessible_basics(page):
    """Every visible form control has a label, the page has one h1, a language and a skip link."""
    unlabeled = page.evaluate("""() => Array.from(document.querySelectorAll('input, select, textarea'))
        .filter(el => el.type !== 'hidden')
        .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
        .map(el => el.outerHTML)""")
    assert unlabeled == []
    assert page.locator("h1").count() == 1
    assert page.evaluate("document.documentElement.lang") == "en"
    unnamed_buttons = page.evaluate("""() => Array.from(document.querySelectorAll('button'))
        .filter(b => !b.textContent.trim() && !b.getAttribute('aria-label')).length""")
    assert unnamed_buttons == 0


def test_sign_in_choose_and_switch_org(open_page, world):
    vuitton, swarovski = world.org("Louis Vuitton"), world.org("Swarovski")
    world.person(vuitton, "admin", email="counsel@lawfirm.example")
    world.person(swarovski, "viewer", email="counsel@lawfirm.example")
    world.person(swarovski, "admin", email="admin@swarovski.example")

    page = open_page()
    page.goto("/login")
    assert_accessible_basics(page)
    sign_in(page, "counsel@lawfirm.example")
    page.wait_for_url(re.compile(r"/choose-org"))
    assert_accessible_basics(page)
    page.get_by_label(re.compile("Swarovski")).check()
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(re.compile(r"/$"))
    assert page.locator("h1").inner_text() == "Swarovski"
    assert "viewer" in page.locator(".who").inner_text()
    assert_accessible_basics(page)

    # The switcher in the navigation bar submits on change (portal.js); its button is hidden then.
    assert page.get_by_role("button", name="Switch").is_hidden()
    page.get_by_label("Organization").select_option(label="Louis Vuitton · admin")
    page.wait_for_function("document.querySelector('h1').textContent === 'Louis Vuitton'")
    assert "admin" in page.locator(".who").inner_text()
    page.get_by_role("link", name="Team").click()
    assert page.get_by_role("cell", name="counsel@lawfirm.example", exact=True).is_visible()
    assert page.get_by_text("admin@swarovski.example").count() == 0
    assert_accessible_basics(page)


def test_wrong_password_is_explained_and_keyboard_sign_in_works(open_page, world):
    org = world.org("Microsoft")
    world.person(org, "analyst", email="ada@microsoft.example")
    page = open_page()
    sign_in(page, "ada@microsoft.example", "this is not it at all")
    assert page.get_by_role("alert").inner_text() == "The email or password is not correct."
    # Keyboard only: the skip link comes first, then the fields in order, Enter submits.
    page.goto("/login")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.get_by_label("Email").focus()
    page.keyboard.type("ada@microsoft.example")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/$"))
    assert page.locator("h1").inner_text() == "Microsoft"


def test_admin_invites_a_colleague_who_joins(open_page, world):
    org = world.org("Microsoft")
    world.person(org, "admin", email="admin@microsoft.example")
    admin = open_page()
    sign_in(admin, "admin@microsoft.example")
    admin.get_by_role("link", name="Team").click()
    admin.get_by_label("Email", exact=True).fill("grace@microsoft.example")
    admin.get_by_label("Role", exact=True).select_option("analyst")
    admin.get_by_role("button", name="Add member").click()
    link = admin.get_by_role("textbox", name="Invitation link").input_value()
    assert "/invite/" in link
    admin.get_by_role("button", name="Copy").click()
    # The clipboard answers asynchronously: wait for the label to change, then check it.
    admin.get_by_role("button", name="Copied").wait_for()
    assert admin.get_by_role("button", name="Copied").is_visible()

    newcomer = open_page()
    newcomer.goto(link)
    assert_accessible_basics(newcomer)
    newcomer.get_by_label("Your name").fill("Grace Hopper")
    newcomer.get_by_label("Choose a password").fill(PASSWORD)
    newcomer.get_by_label("Repeat the password").fill(PASSWORD)
    newcomer.get_by_role("button", name="Create my account").click()
    newcomer.wait_for_url(re.compile(r"/login"))
    sign_in(newcomer, "grace@microsoft.example")
    newcomer.wait_for_url(re.compile(r"/$"))
    assert "analyst" in newcomer.locator(".who").inner_text()

    grace = User.get(User.email == "grace@microsoft.example")
    membership = Membership.for_org(org).where(Membership.user == grace).get()
    # The admin deactivates her after confirming the dialog; her next page load signs her out.
    admin.goto("/team")
    admin.once("dialog", lambda dialog: dialog.accept())
    admin.get_by_role("button", name="Deactivate grace@microsoft.example").click()
    admin.wait_for_selector("text=grace@microsoft.example was deactivated.")
    assert Membership.get_by_id(membership.id).active is False
    newcomer.reload()
    newcomer.wait_for_url(re.compile(r"/login"))


def test_an_analyst_removes_a_300_listing_notice_with_a_template_in_four_clicks(open_page, world):
    """The queue filtered to one notice, 300 listings on one page: select all, Remove, a template, Apply."""
    from portal.audit import acting_as
    from portal.notices import grounds
    from portal.notices.models import NoticeItem, Transition
    alibaba = world.org("Alibaba", kind="platform")
    world.marketplace(alibaba, "Taobao", "CN")
    lv = world.org("Louis Vuitton")
    partnership = world.partnership(lv, alibaba, always_open=True, effective_from="2020-01-01")
    notice = world.notice(lv, partnership, [f"https://item.taobao.com/item.htm?id={n}" for n in range(300)]).notice
    with acting_as("test"):
        ground = grounds.create_template(alibaba, {"move": "removed", "title": "Replica logo",
                                                   "text": "Counterfeit: the logo and the stitching differ."})
    world.person(alibaba, "analyst", email="ana@alibaba.example")
    page = open_page()
    sign_in(page, "ana@alibaba.example")
    page.goto(f"/notices/{notice.id}")
    page.get_by_role("link", name="Work its listings in the queue").click()
    assert page.locator("input[name=item]").count() == 300
    page.get_by_label("Select every listing on this page").check()  # 1
    assert page.get_by_text("300 selected").is_visible()
    page.get_by_label("Do", exact=True).select_option("removed")  # 2
    page.get_by_label("Template").select_option(label="Removal ground: Replica logo")  # 3
    assert page.locator(".bulk-bar").is_visible()  # kept in view at the bottom of the window
    page.get_by_role("button", name="Apply").click()  # 4
    assert page.get_by_text("300 listing(s) removed.").is_visible()
    assert NoticeItem.select().where((NoticeItem.notice == notice) & (NoticeItem.state == "removed")).count() == 300
    assert {t.reason for t in Transition.select().where(Transition.to_state == "removed")} == {ground.text}
    assert axe_violations(page) == []


def test_a_brand_sees_what_waits_for_it_and_answers_with_a_file(open_page, world, tmp_path):
    from portal.audit import acting_as
    from portal.notices import services
    from portal.notices.models import Evidence, NoticeItem
    alibaba = world.org("Alibaba", kind="platform")
    world.marketplace(alibaba, "Taobao", "CN")
    lv = world.org("Louis Vuitton")
    partnership = world.partnership(lv, alibaba, always_open=True, effective_from="2020-01-01")
    notice = world.notice(lv, partnership, ["https://item.taobao.com/item.htm?id=77"]).notice
    item = NoticeItem.get(NoticeItem.notice == notice)
    with acting_as("test"):
        services.transition(item, alibaba, "info_requested", "Send the registration certificate, please.")
    world.person(lv, "analyst", email="legal@lv.example")
    certificate = tmp_path / "certificate.pdf"
    certificate.write_bytes(b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n")
    page = open_page()
    sign_in(page, "legal@lv.example")
    assert page.get_by_role("heading", name="Waiting for you: 1").is_visible()
    page.get_by_role("link", name="Every notice waiting for you").click()
    page.get_by_role("link", name=notice.reference).click()
    assert page.get_by_text("Alibaba asks:").is_visible()
    page.get_by_label("Move listing 1 to").select_option("acknowledged")
    page.get_by_label("Your answer (the information asked for)").fill("The certificate is attached.")
    page.get_by_label("Evidence files with the answer").set_input_files(str(certificate))
    page.get_by_role("button", name="Apply to listing 1").click()
    page.wait_for_selector("text=Listing 1 is now acknowledged.")
    assert NoticeItem.get_by_id(item.id).state == "acknowledged"
    assert Evidence.select().where(Evidence.notice == notice).count() == 1
    assert axe_violations(page) == []
    page.goto("/")
    assert page.get_by_role("heading", name="Waiting for you").is_visible()


def test_audit_trail_page_for_admins(open_page, world):
    org = world.org("Microsoft", timezone="Europe/London")
    world.person(org, "admin", email="admin@microsoft.example")
    page = open_page()
    sign_in(page, "admin@microsoft.example")
    page.get_by_role("link", name="Audit trail", exact=True).click()
    assert page.locator(".trail-event").filter(has_text="signed in").count() >= 1
    page.get_by_label("Action").select_option(label="Organization created")
    page.get_by_role("button", name="Filter").click()
    assert page.locator(".trail-event").count() == 1
    assert "created the organization Microsoft (brand, time zone Europe/London)" in page.locator(".trail-event").inner_text()
    assert_accessible_basics(page)
    # By user and date: the admin's own events of today (in London), then the CSV of just those.
    page.get_by_label("Action").select_option("")
    page.get_by_label("Who").select_option("admin@microsoft.example")
    today = page.evaluate("() => new Date().toLocaleDateString('en-CA', {timeZone: 'Europe/London'})")
    page.get_by_label("From").fill(today)
    page.get_by_label("to", exact=True).fill(today)
    page.get_by_role("button", name="Filter").click()
    events = page.locator(".trail-event")
    assert events.count() >= 1 and "signed in" in events.first.inner_text()
    assert events.filter(has_text="created the organization").count() == 0  # that was "test", not the admin
    with page.expect_download() as download:
        page.get_by_role("link", name="Download these events (CSV)").click()
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8-sig"))))
    assert rows[0][:4] == ["seq", "time", "time_utc", "who"]
    assert len(rows) - 1 == events.count() and {row[4] for row in rows[1:]} == {"admin@microsoft.example"}
    assert_accessible_basics(page)


def test_admin_registers_a_client_and_a_vendor_app_is_authorized(open_page, world, live_server):
    """The issue's "done when": a client made in the UI gets a token by script; a vendor app completes
    the authorization code + PKCE flow through the consent page in the browser."""
    import requests
    from authlib.integrations.requests_client import OAuth2Session

    from tests.oauth_helpers import CALLBACK, authorize_url, pkce_session, register

    org = world.org("Microsoft")
    world.person(org, "admin", email="admin@microsoft.example")
    page = open_page()
    sign_in(page, "admin@microsoft.example")
    page.get_by_role("link", name="API clients").click()
    assert_accessible_basics(page)
    page.get_by_label("Name").fill("Weekly report pull")
    page.get_by_label(re.compile("^reports:read")).check()
    page.get_by_role("button", name="Register client").click()
    client_id = page.get_by_role("textbox", name="Client id").input_value()
    secret = page.get_by_role("textbox", name="Client secret").input_value()
    assert_accessible_basics(page)

    script = OAuth2Session(client_id, secret)
    script.fetch_token(f"{live_server}/oauth/token", grant_type="client_credentials")
    me = script.get(f"{live_server}/api/v1/me").json()
    assert me["org"]["slug"] == "microsoft" and me["scopes"] == ["reports:read"]
    page.goto("/settings/api-clients")
    assert page.get_by_role("cell", name="Never").count() == 0  # the last use shows

    vendor, vendor_secret = register(org, "marks:read notices:read", redirect_uris=[CALLBACK], name="Vendor app")
    session = pkce_session(vendor, vendor_secret)
    url, state, verifier = authorize_url(live_server, session)
    page.route(f"{CALLBACK}**", lambda route: route.fulfill(status=200, body="callback reached"))
    page.goto(url)
    assert page.get_by_role("heading", name="Authorize “Vendor app”?").is_visible()
    assert page.get_by_text("notices:read").is_visible()
    assert_accessible_basics(page)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(re.compile(r"^http://127\.0\.0\.1:9/callback\?"))
    token = session.fetch_token(f"{live_server}/oauth/token", authorization_response=page.url,
                                code_verifier=verifier)
    assert token["scope"] == "marks:read notices:read" and f"state={state}" in page.url
    assert session.get(f"{live_server}/api/v1/me").json()["user"]["email"] == "admin@microsoft.example"
    assert requests.get(f"{live_server}/api/v1/me").status_code == 401


MARKS_CSV = "word,office,registration_number,nice_classes,registered_on,expires_on,jurisdictions\n"


def test_brand_uploads_marks_watches_progress_and_downloads_the_report(open_page, world, app, monkeypatch, tmp_path):
    """The marks issue's "done when" in a browser: template download, an upload that runs on a worker while
    the progress bar moves without reloading, the error report, a fixed file uploaded again."""
    import threading
    import time

    from portal.imports import tasks
    from portal.imports import runner
    from portal.marks.models import Mark

    org = world.org("Swarovski")
    world.person(org, "admin", email="admin@swarovski.example")
    # Big enough for the worker path: the upload request only queues the job. The "worker" is a thread
    # that starts after a pause (huey runs tasks inline in tests), so the page sees the job before it ends.
    monkeypatch.setitem(app.config, "MARKS_IMPORT_INLINE_BYTES", 100)
    monkeypatch.setitem(app.config, "MARKS_IMPORT_BATCH_ROWS", 200)

    def worker(job_id):
        def run():
            time.sleep(1.5)
            with app.app_context():
                runner.run_import(job_id)
        threading.Thread(target=run, daemon=True).start()
    monkeypatch.setattr(tasks, "run_import_job", worker)

    lines = [f"CRYSTAL {n},USPTO,{4000000 + n},14;25,2015-01-01,2035-01-01," for n in range(3000)]
    lines[10] = "CRYSTAL BAD,USPTO,ABC,0,,,"
    path = tmp_path / "swarovski-marks.csv"
    path.write_text(MARKS_CSV + "\n".join(lines) + "\n")

    page = open_page()
    sign_in(page, "admin@swarovski.example")
    page.get_by_role("link", name="Marks", exact=True).click()
    assert_accessible_basics(page)
    page.get_by_role("link", name="Upload a list").click()
    assert_accessible_basics(page)
    with page.expect_download() as template:
        page.get_by_role("link", name="XLSX").click()
    assert template.value.suggested_filename == "marks-template.xlsx"
    page.get_by_label("Trademark list (.csv or .xlsx)").set_input_files(str(path))
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url(re.compile(r"/marks/imports/\d+$"))
    assert page.locator("[data-poll-done]").get_attribute("data-poll-done") == "false"
    assert_accessible_basics(page)
    # portal.js polls the job and moves the bar; when the job is done it reloads with the results.
    page.wait_for_selector("text=Download the error report (CSV)", timeout=30000)
    assert page.locator("progress").get_attribute("value") == "3000"
    assert page.locator("[data-field=created]").inner_text() == "2,999"
    assert page.get_by_role("cell", name="12", exact=True).first.is_visible()
    with page.expect_download() as report:
        page.get_by_role("link", name="Download the error report (CSV)").click()
    report_text = Path(report.value.path()).read_text(encoding="utf-8-sig")
    assert report_text.splitlines()[1].startswith("12,registration_number,bad_number")

    # Fixed and uploaded again (small now: it finishes inline): one created, the rest unchanged.
    monkeypatch.setitem(app.config, "MARKS_IMPORT_INLINE_BYTES", 10_000_000)
    lines[10] = "CRYSTAL FIXED,USPTO,4999999,14,,,"
    path.write_text(MARKS_CSV + "\n".join(lines) + "\n")
    page.goto("/marks/imports")
    page.get_by_label("Trademark list (.csv or .xlsx)").set_input_files(str(path))
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url(re.compile(r"/marks/imports/\d+$"))
    assert page.locator("[data-field=created]").inner_text() == "1"
    assert page.locator("[data-field=unchanged]").inner_text() == "2,999"
    assert Mark.for_org(org).count() == 3000


def test_a_dry_run_shows_what_a_correction_does_before_it_is_applied(open_page, world, tmp_path):
    """Safe bulk updates in a browser: a file emptying the registration date of a verified mark says so
    (field by field, and "1 verified mark will return to pending") before the brand applies it; a blank
    cell changes nothing."""
    from portal.marks.models import Mark
    org, platform = world.org("Microsoft"), world.org("Alibaba", kind="platform")
    world.partnership(org, platform)
    world.person(org, "admin", email="admin@microsoft.example")
    mark = world.verified_mark(org, platform, word="MICROSOFT", office="USPTO", number="1200236",
                               registered_on="1982-06-01")
    other = world.verified_mark(org, platform, word="XBOX", office="USPTO", number="2345678",
                                registered_on="2002-01-01")
    path = tmp_path / "corrections.csv"
    path.write_text(MARKS_CSV + "MICROSOFT,USPTO,1200236,9,-,,\nXBOX,USPTO,2345678,9,,,\n")

    page = open_page()
    sign_in(page, "admin@microsoft.example")
    page.goto("/marks/imports")
    page.get_by_label("Trademark list (.csv or .xlsx)").set_input_files(str(path))
    page.get_by_label("Dry run").check()
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url(re.compile(r"/marks/imports/\d+$"))
    summary = page.locator("#consequences")
    assert "1 verified mark will return to pending" in summary.inner_text()
    assert "1 row will empty a stored value" in summary.inner_text()
    assert axe_violations(page) == []
    summary.get_by_role("link", name="See the rows").click()
    table = page.locator("table.outcomes")
    assert table.locator("tbody tr").count() == 1
    row = table.locator("tbody tr").first.inner_text()
    assert "MICROSOFT" in row and "1982-06-01" in row and "(blank)" in row and "verified → pending" in row
    assert Mark.get_by_id(mark.id).registered_on is not None  # nothing written yet
    page.get_by_role("button", name="Import this file now").click()
    page.wait_for_url(re.compile(r"/marks/imports/\d+$"))
    assert "1 verified mark returned to pending" in page.locator("#consequences").inner_text()
    assert (Mark.get_by_id(mark.id).registered_on, Mark.get_by_id(mark.id).status) == (None, "pending")
    assert (str(Mark.get_by_id(other.id).registered_on), Mark.get_by_id(other.id).status) == ("2002-01-01", "verified")


def test_platform_analyst_verifies_from_the_queue(open_page, world):
    from portal.marks.models import Mark

    brand, platform = world.org("Louis Vuitton"), world.org("Alibaba", kind="platform")
    world.partnership(brand, platform)
    world.person(platform, "analyst", email="analyst@alibaba.example")
    good = world.mark(brand, word="LOUIS VUITTON", office="EUIPO", number="15123456", classes="18;25")
    bad = world.mark(brand, word="LV TRAINER", office="USPTO", number="7654321", classes="25")
    page = open_page()
    sign_in(page, "analyst@alibaba.example")
    page.get_by_role("link", name="Verification").click()
    assert_accessible_basics(page)
    page.get_by_role("button", name="Verify LOUIS VUITTON 015123456").click()
    page.wait_for_selector("text=LOUIS VUITTON (EUIPO 015123456) is now verified.")
    page.get_by_label("Reason for LV TRAINER 7654321").fill("Not in the USPTO register under this number.")
    page.get_by_role("button", name="Reject LV TRAINER 7654321").click()
    page.wait_for_selector("text=Nothing to verify")
    assert Mark.get_by_id(good.id).status == "verified"
    assert Mark.get_by_id(bad.id).status_reason == "Not in the USPTO register under this number."


def test_brand_files_a_notice_and_the_platform_works_it(open_page, world):
    from portal.notices.models import Notice, NoticeItem

    brand, platform = world.org("Microsoft"), world.org("Alibaba", kind="platform")
    world.marketplace(platform, "Taobao", country="CN")
    world.partnership(brand, platform, always_open=True)
    world.verified_mark(brand, platform, word="XBOX")
    world.person(brand, "analyst", email="analyst@microsoft.example")
    world.person(platform, "analyst", email="analyst@alibaba.example")

    page = open_page()
    sign_in(page, "analyst@microsoft.example")
    page.get_by_role("link", name="Notices").click()
    page.get_by_role("link", name="File a notice").click()
    assert_accessible_basics(page)
    page.get_by_label("Reason").select_option("counterfeit")
    page.get_by_label("Explanation").fill("Replica Xbox controllers sold as genuine at a tenth of the price.")
    page.get_by_label(re.compile("^XBOX")).check()
    page.get_by_label("Listings", exact=True).fill("\n".join(
        f"https://item.taobao.com/item.htm?id={n}, shop{n}, Xbox pad 1:1" for n in range(1, 4)))
    page.get_by_label("I make the good-faith statement above").check()
    page.get_by_role("button", name="File the notice").click()
    page.wait_for_selector("text=filed with 3 listing(s) to Alibaba")
    assert_accessible_basics(page)
    notice = Notice.get()
    assert page.locator("text=Submitted").count() >= 3

    platform_page = open_page()
    sign_in(platform_page, "analyst@alibaba.example")
    platform_page.get_by_role("link", name="Queue").click()
    assert_accessible_basics(platform_page)
    items = list(NoticeItem.select().order_by(NoticeItem.position))
    for item in items[:2]:
        platform_page.get_by_label(f"Select listing {item.url}").check()
    platform_page.get_by_label("Do", exact=True).select_option("removed")
    platform_page.get_by_label(re.compile("^Ground or question")).fill("Counterfeit: test buy TB-7 confirmed it.")
    platform_page.get_by_role("button", name="Apply").click()
    platform_page.wait_for_selector("text=2 listing(s) removed.")
    platform_page.goto(f"/notices/{notice.id}")
    platform_page.get_by_label("Move listing 3 to").select_option("rejected")
    platform_page.locator(f"#reason-{items[2].id}").fill("The seller is an authorised reseller.")
    platform_page.get_by_role("button", name="Apply to listing 3").click()
    platform_page.wait_for_selector("text=Listing 3 is now rejected.")
    assert [i.state for i in NoticeItem.select().order_by(NoticeItem.position)] == ["removed", "removed", "rejected"]

    page.reload()
    page.wait_for_selector("text=The seller is an authorised reseller.", state="attached")
    assert page.locator("text=Removed").count() >= 2


def test_brands_share_a_flag_and_screen_listings_into_a_notice(open_page, world):
    """Louis Vuitton flags a seller to the alliance, Swarovski adds a sighting; Louis Vuitton screens
    disguised titles and files a notice from the hits in one step."""
    from portal.intel.models import Flag, Sighting
    from portal.notices.models import Notice, NoticeItem

    lv, swarovski = world.org("Louis Vuitton"), world.org("Swarovski")
    platform = world.org("Alibaba", kind="platform")
    world.marketplace(platform, "Taobao", country="CN")
    world.partnership(lv, platform, always_open=True)
    world.verified_mark(lv, platform, word="LOUIS VUITTON")
    world.person(lv, "analyst", email="analyst@louis-vuitton.example")
    world.person(swarovski, "analyst", email="analyst@swarovski.example")

    page = open_page()
    sign_in(page, "analyst@louis-vuitton.example")
    page.get_by_role("link", name="Intelligence").click()
    page.get_by_role("link", name="Flag a seller").click()
    assert_accessible_basics(page)
    page.get_by_label("Marketplace", exact=True).select_option("taobao")
    page.get_by_label("Seller id on the marketplace").fill("luxe-88")
    page.get_by_label("Display name (as the shop shows it)").fill("Luxury Outlet 88")
    page.get_by_label("Category", exact=True).select_option("counterfeit_confirmed")
    page.get_by_label("TLP label").select_option("red")
    page.get_by_label("Distribution", exact=True).select_option("alliance")
    page.get_by_label("Contact e-mail").fill("Service@Luxe88.example")
    page.get_by_role("button", name="Flag the seller").click()
    page.wait_for_selector("text=TLP:RED is for named recipients only")  # refused, nothing lost
    assert page.get_by_label("Seller id on the marketplace").input_value() == "luxe-88"
    page.get_by_label("TLP label").select_option("green")
    page.get_by_role("button", name="Flag the seller").click()
    page.wait_for_selector("text=raised: TLP:GREEN")
    assert_accessible_basics(page)
    flag = Flag.get()
    assert (flag.tlp, flag.distribution, flag.display_name) == ("green", "alliance", "Luxury Outlet 88")

    other = open_page()
    sign_in(other, "analyst@swarovski.example")
    other.get_by_role("link", name="Intelligence").click()
    other.get_by_role("link", name=flag.reference).click()
    other.get_by_label("What you found").select_option("seen")
    other.get_by_label("Note", exact=True).fill("Also sells fake Swan necklaces.")
    other.get_by_role("button", name="Add the sighting").click()
    other.wait_for_selector("text=Your sighting was added")
    assert Sighting.get().org_id == swarovski.id

    page.get_by_role("link", name="Screening").click()
    page.goto("/intel/screenings/new")
    assert_accessible_basics(page)
    page.get_by_label("Listings", exact=True).fill("\n".join([
        "https://item.taobao.com/item.htm?id=101\tluxe-88\tL o u i s  V u i t t o n Neverfull 1:1 mirror quality\t388",
        "https://item.taobao.com/item.htm?id=102\tshop-2\tLоuis Vu1tt0n Alma BB AAA\t199",
        "https://item.taobao.com/item.htm?id=103\tshop-3\tPlain leather tote bag\t45"]))
    page.get_by_label("Default marketplace").select_option("taobao")
    page.get_by_role("button", name="Screen").click()
    page.wait_for_selector("text=in disguise")
    assert_accessible_basics(page)
    for label in ("Select row 1", "Select row 2"):
        page.get_by_label(re.compile(f"^{label}:")).check()
    page.get_by_label("I make the good-faith statement above").check()
    page.get_by_role("button", name="File a notice from the selected hits").click()
    page.wait_for_selector("text=filed with 2 listing(s) to Alibaba")
    notice = Notice.get()
    assert sorted(i.url for i in NoticeItem.select().where(NoticeItem.notice == notice)) == [
        "https://item.taobao.com/item.htm?id=101", "https://item.taobao.com/item.htm?id=102"]


def test_brand_admin_reads_the_weekly_report_with_its_charts(open_page, story):
    """The report page in Chromium: charts drawn (every point the JSON's value), the week picker, print."""
    import json

    from tests.reports.test_reports import report

    data = report(story).data  # the closed week's snapshot
    page = open_page()
    sign_in(page, story.admin.email)
    page.get_by_role("link", name="Reports").click()
    page.wait_for_url(re.compile(r"/reports/weekly"))
    assert page.get_by_role("heading", level=1).inner_text() == f"Weekly enforcement report {data['week']}"
    assert page.locator("[data-status=closed]").is_visible()
    history = {row["week"]: row for row in data["trends"]} | {data["week"]: data["totals"]}
    drawn = ("items_filed", "removed", "pending_at_week_end", "acknowledge_compliance_percent",
             "action_compliance_percent")  # a week without data (compliance of nothing) has no point
    expected = sum(row[figure] is not None for row in history.values() for figure in drawn)
    assert page.locator("figure.chart svg circle[data-figure]").count() == expected > 13 * 3
    for figure, week, value in page.evaluate("""() => Array.from(document.querySelectorAll(
            'figure.chart svg circle[data-figure]')).map(c => [c.dataset.figure, c.dataset.key, c.dataset.value])"""):
        assert json.loads(value) == history[week][figure]
    box = page.locator("figure.chart svg").first.bounding_box()
    assert box["width"] > 200 and box["height"] > 60  # drawn, not collapsed
    assert_accessible_basics(page)
    page.emulate_media(media="print")
    assert not page.locator("nav.report-nav").is_visible() and page.locator("figure.chart").first.is_visible()
    page.emulate_media(media="screen")
    live = page.locator("#week-pick option").first.get_attribute("value")
    page.select_option("#week-pick", live)  # submits on change
    page.wait_for_url(re.compile(rf"week={live}"))
    assert page.locator("[data-status=live]").is_visible()


# --- accessibility over every page --------------------------------------------------------------------

# WCAG 2.1 A and AA rules of axe-core: labels, names, contrast, landmarks, headings, ARIA, keyboard traps.
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
               "resultTypes": ["violations"]}


def axe_violations(page):
    """axe-core's WCAG A/AA violations on the page as it is, as readable lines (rule: element)."""
    from axe_playwright_python.sync_playwright import Axe
    results = Axe().run(page, options=AXE_OPTIONS)
    return [f"{v['id']} ({v['impact']}): {node['target']} {node.get('failureSummary', '')[:160]}"
            for v in results.response["violations"] for node in v["nodes"]]


def walk_pages(page, paths):
    """Open each path; every one must load (200), pass axe and the basics, without console errors."""
    found = {}
    for path in paths:
        response = page.goto(path)
        assert response.status == 200, f"{path} answered {response.status}"
        assert_accessible_basics(page)
        found[path] = axe_violations(page)
    return {path: v for path, v in found.items() if v}


def html_pages_without_objects(app, kind, role):
    """Member pages of the access table that name no object and render HTML for a `role` in an org of `kind`."""
    from tests.platform.test_tenancy import ACCESS_TABLE, ROLES, session_rules
    paths = []
    for rule in session_rules(app):
        level, least_role, org_kind = ACCESS_TABLE[rule.endpoint]
        if (level == "member" and "GET" in rule.methods and not rule.arguments and org_kind in (None, kind)
                and ROLES.index(least_role) <= ROLES.index(role)
                and not rule.rule.endswith((".csv", ".json", ".xlsx"))):
            paths.append(rule.rule)
    return sorted(paths)


def test_every_page_passes_axe_for_a_brand_admin_and_a_platform_analyst(open_page, world, app):
    """Each page a brand admin and a platform analyst can open without naming an object, and the pages of
    one notice, mark and flag, with data on them: WCAG 2.1 AA rules of axe-core (contrast included)."""
    brand, platform = world.org("Microsoft"), world.org("Alibaba", kind="platform")
    partnership = world.partnership(brand, platform)
    mark = world.mark(brand, word="MICROSOFT")
    notice = world.notice(brand, partnership, ["https://item.taobao.com/item.htm?id=1"]).notice
    flag = world.flag(brand, "shop-1", "alibaba-market")
    admin = world.person(brand, "admin", email="admin@microsoft.example")
    analyst = world.person(platform, "analyst", email="analyst@alibaba.example")

    page = open_page()
    sign_in(page, admin.email)
    brand_paths = html_pages_without_objects(app, "brand", "admin") + [
        "/login?next=/", f"/notices/{notice.id}", f"/marks/{mark.id}", f"/intel/flags/{flag.id}",
        f"/partnerships/{partnership.id}", "/account", "/reports/weekly"]
    assert len(brand_paths) >= 25
    assert walk_pages(page, [p for p in brand_paths if not p.startswith("/login")]) == {}

    page = open_page()
    sign_in(page, analyst.email)
    with app.app_context(), acting_as("test"):
        template = grounds.create_template(platform, {"move": "removed", "title": "Logo differs",
                                                      "text": "The logo differs from the registered mark."})
    platform_paths = html_pages_without_objects(app, "platform", "analyst") + [
        f"/notices/{notice.id}", "/account", f"/queue/grounds/{template.id}", f"/queue?notice={notice.id}"]
    assert walk_pages(page, platform_paths) == {}

    page = open_page()
    for path in ("/login", f"/login?next=/notices/{notice.id}"):
        page.goto(path)
        assert axe_violations(page) == []
    page.get_by_role("button", name="Sign in").click()  # an empty form: the error state passes too
    assert axe_violations(page) == []
    # The checker is live: an unlabeled field and grey-on-white text are caught.
    page.evaluate("""() => { const main = document.querySelector('main');
        main.appendChild(document.createElement('input'));
        const faint = main.appendChild(document.createElement('p'));
        faint.textContent = 'faint'; faint.style.color = '#bbb'; faint.style.background = '#fff'; }""")
    assert {line.split(" ")[0] for line in axe_violations(page)} >= {"label", "color-contrast"}


def test_the_portal_is_usable_with_a_keyboard_and_shows_where_focus_is(open_page, world):
    """Tab reaches every link and control of the navigation in order, each with a visible focus ring; the skip
    link moves focus past the navigation; a form is filled and sent without a mouse."""
    org = world.org("Microsoft")
    admin = world.person(org, "admin", email="admin@microsoft.example")
    page = open_page()
    sign_in(page, admin.email)
    page.goto("/marks")
    focusable = page.evaluate("""() => Array.from(document.querySelectorAll(
        'a[href], button, input:not([type=hidden]), select, textarea, [tabindex]'))
        .filter(el => el.offsetParent !== null && el.tabIndex >= 0).length""")
    seen, rings = [], []
    for _ in range(focusable):
        page.keyboard.press("Tab")
        seen.append(page.evaluate("document.activeElement.outerHTML.slice(0, 80)"))
        rings.append(page.evaluate("""() => { const s = getComputedStyle(document.activeElement);
            return (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== 'none'; }"""))
    assert 'class="skip-link"' in seen[0]
    assert len(set(seen)) == focusable, "Tab did not reach every control once (a trap or a skipped one)"
    assert all(rings), [s for s, ring in zip(seen, rings) if not ring]

    page.goto("/marks")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # the skip link
    page.keyboard.press("Tab")
    inside_main = page.evaluate("!!document.activeElement.closest('main')")
    assert inside_main, "after the skip link, focus should be in the main content"

    # Adding a mark with the keyboard only: Tab moves from field to field in reading order, Enter sends.
    page.goto("/marks/new")
    page.get_by_label("Word", exact=True).focus()
    for name, value in (("word", "CONTOSO"), ("office", "USPTO"), ("registration_number", "7654321"),
                        ("nice_classes", "9")):
        assert page.evaluate("document.activeElement.name") == name
        page.keyboard.type(value)
        if name != "nice_classes":
            page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/marks/\d+$"))
    assert "CONTOSO" in page.locator("h1").inner_text()
