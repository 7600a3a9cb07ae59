"""`flask demo` seeds a working alliance on an empty database: the orgs and logins, verified marks, three
partnerships with Alibaba on different calendars (one brand with the fast lane earned), twelve weeks of
notices with realistic outcomes, open work in Alibaba's queue with running clocks, and SLA breaches.
Running it again changes nothing.

Seeding takes seconds, so this module seeds once (through the CLI, as `make run` does) and its tests read
that database; the conftest's per-test emptying is overridden here.
"""
import json
import re
from datetime import timedelta

import pytest
from peewee import fn

from portal import audit
from portal.accounts.models import Marketplace, Membership, Organization, User
from portal.audit import AuditEvent
from portal.extensions import limiter
from portal.marks.models import Mark
from portal.marks.services import verification_queue
from portal.notices import goodfaith
from portal.notices.models import Notice, NoticeItem, Transition
from portal.notices.services import queue
from portal.partnerships.models import Partnership
from portal.partnerships.services import terms_in_force
from portal.sla.models import SlaClock
from portal.timeutil import to_local, utcnow
from tests.conftest import empty_all_tables

BRANDS = ("microsoft", "louis-vuitton", "swarovski")
LISTING_URL = re.compile(r"^https://(item\.taobao\.com/item\.htm\?id=\d{12}|detail\.tmall\.com/item\.htm\?id=\d{12}"
                         r"|www\.aliexpress\.com/item/\d{16}\.html)$")


@pytest.fixture(scope="module")
def seeded(app):
    with app.app_context():
        empty_all_tables()
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    data["finished"] = utcnow()
    return data


@pytest.fixture(autouse=True)
def clean_state(seeded):
    """Replaces the conftest's: every test of this module reads the one seeded database."""
    limiter.reset()
    yield


def org(slug):
    return Organization.get(Organization.slug == slug)


def partnership(slug):
    return Partnership.get((Partnership.brand == org(slug)) & (Partnership.platform == org("alibaba")))


def test_demo_seeds_the_alliance_and_its_logins(seeded, make_client):
    assert seeded["seeded"] is True
    assert {o.slug for o in Organization.select()} == {"microsoft", "louis-vuitton", "swarovski", "alibaba"}
    assert {m.slug for m in Marketplace.select()} == {"taobao", "tmall", "aliexpress"}
    for each in Organization.select():
        assert {"admin", "analyst"} <= {m.role for m in Membership.for_org(each)}
    logins = {(login["email"], login["org"]) for login in seeded["logins"]}
    assert ("counsel@lawfirm.example", "louis-vuitton") in logins
    assert ("counsel@lawfirm.example", "swarovski") in logins

    client = make_client()
    assert client.sign_in("admin@alibaba.example", seeded["password"]).headers["Location"] == "/"
    assert "Taobao" in client.get("/").get_data(as_text=True)
    # One mark of each brand still waits in Alibaba's verification queue.
    page = client.get("/marks/verification").get_data(as_text=True)
    assert "LOUIS VUITTON" in page and "SWAROVSKI" in page and "XBOX" in page


def test_each_brand_has_marks_verified_by_alibaba_and_one_waiting(seeded):
    alibaba = org("alibaba")
    for slug in BRANDS:
        verified = Mark.for_org(org(slug)).where(Mark.status == "verified")
        assert verified.count() >= 1
        assert all(mark.reviewed_by_org_id == alibaba.id and mark.reviewed_by is not None for mark in verified)
        assert verification_queue(alibaba).where(Mark.org == org(slug)).count() == 1
    assert Mark.select().where(Mark.status == "expired").count() >= 1  # renewals the brands still owe


def test_three_active_partnerships_on_different_calendars(seeded):
    partnerships = list(Partnership.select().where(Partnership.platform == org("alibaba")))
    assert len(partnerships) == 3 and {p.status for p in partnerships} == {"active"}
    terms = {p.brand.slug: terms_in_force(p) for p in partnerships}
    oldest = Notice.select(fn.MIN(Notice.filed_at)).scalar()
    for each in terms.values():
        assert each.effective_from < oldest.date()
        assert set(each.marketplace_slugs) == {"taobao", "tmall", "aliexpress"}
    assert terms["microsoft"].always_open
    lv = terms["louis-vuitton"]
    assert not lv.always_open and lv.timezone == "Asia/Shanghai" and lv.day_numbers == [0, 1, 2, 3, 4]
    assert (lv.opens, lv.closes) == ("09:00", "18:00")
    holidays = set(lv.holiday_list)
    assert {"2026-01-01", "2026-02-16", "2026-02-22", "2026-05-01", "2026-10-01", "2026-10-07",
            "2027-01-01"} <= holidays
    assert sum(1 for each in terms.values() if each.always_open) == 1


def test_swarovski_has_earned_the_fast_lane(seeded):
    now = utcnow()
    score = goodfaith.score(partnership("swarovski"), now)
    assert score.fast_lane and score.decided >= goodfaith.MIN_DECIDED
    assert not goodfaith.score(partnership("microsoft"), now).fast_lane
    # Its recent notices were filed with the fast lane: their clocks run on the shorter targets.
    newest = Notice.for_org(org("swarovski")).order_by(Notice.filed_at.desc()).first()
    terms = terms_in_force(partnership("swarovski"))
    assert newest.fast_lane
    ack = SlaClock.get((SlaClock.metric == "acknowledge")
                       & SlaClock.item.in_(NoticeItem.select(NoticeItem.id).where(NoticeItem.notice == newest)))
    assert ack.target_minutes == terms.fast_ack_minutes
    # ... and it earned it along the way: its first notices were not.
    assert not Notice.for_org(org("swarovski")).order_by(Notice.filed_at).first().fast_lane


def test_twelve_weeks_of_notices_of_plausible_size(seeded):
    now = utcnow()
    items = NoticeItem.select().count()
    assert 500 <= items <= 1000
    for slug in BRANDS:
        brand = org(slug)
        notices = list(Notice.for_org(brand))
        assert len(notices) >= 20
        weeks = {to_local(n.filed_at, brand.timezone).isocalendar()[:2] for n in notices}
        assert len(weeks) >= 10
        assert min(n.filed_at for n in notices) < now - timedelta(weeks=11)
        assert max(n.filed_at for n in notices) <= seeded["finished"]
        assert all(1 <= n.item_count <= 30 for n in notices)
        assert {n.marketplace.slug for n in notices} >= {"taobao", "aliexpress"}
        filers = {n.filed_by_id for n in notices}
        members = {m.user_id for m in Membership.for_org(brand)}
        assert None not in filers and filers <= members
    for item in NoticeItem.select().limit(200):
        assert LISTING_URL.match(item.url), item.url
        assert item.seller_id and item.title
    # Sellers come back: some are named in several notices (the repeat infringers of later features).
    repeat = (NoticeItem.select(NoticeItem.seller_id).group_by(NoticeItem.marketplace, NoticeItem.seller_id)
              .having(fn.COUNT(fn.DISTINCT(NoticeItem.notice)) >= 3))
    assert repeat.count() >= 3


def test_outcomes_are_realistic(seeded):
    reached = dict(Transition.select(Transition.to_state, fn.COUNT(Transition.id)).group_by(Transition.to_state)
                   .tuples())
    for state in ("acknowledged", "removed", "rejected", "info_requested", "counter_noticed"):
        assert reached.get(state, 0) > 0, state
    assert reached.get("upheld", 0) + reached.get("reinstated", 0) > 0
    assert reached["removed"] > 3 * reached["rejected"]  # most listings come down
    # Decisions carry a statement of reasons; the brands answered requests for information.
    for state in ("removed", "rejected", "info_requested", "counter_noticed", "upheld", "reinstated"):
        assert not Transition.select().where((Transition.to_state == state) & (Transition.reason == "")).exists()
    answers = Transition.select().where((Transition.from_state == "info_requested")
                                        & (Transition.to_state == "acknowledged"))
    assert answers.count() > 0
    assert all(t.actor_org.kind == "brand" and t.actor is not None and t.reason for t in answers)
    platform_moves = Transition.select().where(Transition.actor_org == org("alibaba"))
    assert not platform_moves.where(Transition.actor.is_null()).exists()  # the demo's analysts acted
    # Moves happen after filing, in order, and never in the future.
    for item in NoticeItem.select().order_by(NoticeItem.id).limit(150):
        moments = [t.at for t in Transition.select().where(Transition.item == item).order_by(Transition.id)]
        assert moments == sorted(moments) and moments[0] == item.notice.filed_at
        assert moments[-1] <= seeded["finished"]
    # Some acknowledgements came late: completed acknowledge clocks that breached.
    assert SlaClock.select().where((SlaClock.metric == "acknowledge") & (SlaClock.stage == "completed")
                                   & SlaClock.breached).exists()


def test_alibaba_queue_has_work_with_running_clocks(seeded):
    now = utcnow()
    work = list(queue(org("alibaba")))
    assert len(work) >= 5
    assert {item.state for item in work} >= {"submitted", "acknowledged", "info_requested"}
    ids = [item.id for item in work]
    running = SlaClock.select().where(SlaClock.item.in_(ids) & (SlaClock.stage == "running"))
    assert running.where(SlaClock.deadline > now).exists()  # on time, still running
    assert running.where(SlaClock.deadline <= now).exists()  # overdue
    assert running.where(SlaClock.warned_at.is_null(False) & (SlaClock.deadline > now)).exists()  # near deadline
    assert SlaClock.select().where(SlaClock.item.in_(ids) & (SlaClock.stage == "paused")).exists()  # waiting on brand
    assert any(item.breached for item in work)
    assert {item.brand.slug for item in work} == set(BRANDS)


def test_sla_events_exist_and_the_audit_chain_holds(seeded):
    assert AuditEvent.select().where(AuditEvent.action == "sla.breached").count() >= 1
    assert AuditEvent.select().where(AuditEvent.action == "sla.warning").count() >= 1
    assert seeded["history"]["sla_check"]["breaches"] >= 1
    assert audit.verify_chain().ok


def test_the_summary_printed_matches_the_database(seeded):
    brands = seeded["history"]["brands"]
    assert set(brands) == set(BRANDS)
    for slug, figures in brands.items():
        assert figures["notices"] == Notice.for_org(org(slug)).count()
        assert figures["items"] == sum(figures["by_state"].values())
    assert brands["swarovski"]["fast_lane"] is True
    assert brands["microsoft"]["calendar"].startswith("24/7")


def test_running_the_demo_again_changes_nothing(seeded, runner):
    def counts():
        return [model.select().count() for model in (Organization, User, Mark, Partnership, Notice, NoticeItem,
                                                     Transition, SlaClock, AuditEvent)]

    before = counts()
    result = runner.invoke(args=["demo"])
    again = json.loads(result.stdout)
    assert result.exit_code == 0 and again["seeded"] is False and again["password"] == seeded["password"]
    assert counts() == before


def test_the_intelligence_story_on_the_demo(seeded, make_client):
    """Issue 6's story, through the pages and the API on the demo: Louis Vuitton flags a seller to the
    alliance, Swarovski sees it and adds a sighting; Microsoft's AMBER flag to Alibaba only is invisible to
    Louis Vuitton on every path; a seller reaches four strikes and is marked; disguised titles are screened
    and the hits become a notice."""
    from portal.intel.models import Flag, Screening, ScreeningHit, Seller, Sighting
    from tests.oauth_helpers import register
    lv, swarovski, microsoft, alibaba = org("louis-vuitton"), org("swarovski"), org("microsoft"), org("alibaba")
    clients = {}
    for slug in ("louis-vuitton", "swarovski", "alibaba"):
        clients[slug] = make_client()
        clients[slug].sign_in(f"analyst@{slug}.example", password=seeded["password"])

    response = clients["louis-vuitton"].post_form("/intel/flags/new", {
        "marketplace": "tmall", "seller_id": "story-shop-1", "display_name": "Story Outlet", "category":
        "counterfeit_confirmed", "confidence": "high", "tlp": "green", "distribution": "alliance",
        "email": "story@outlet.example"})
    assert response.status_code == 302
    flag = Flag.for_org(lv).where(Flag.display_name == "Story Outlet").get()
    assert "Story Outlet" in clients["swarovski"].get("/intel/flags").get_data(as_text=True)
    response = clients["swarovski"].post_form(f"/intel/flags/{flag.id}/sightings",
                                              {"kind": "seen", "note": "Also sells fake Swan necklaces."})
    assert response.status_code == 302
    assert Sighting.get((Sighting.flag == flag) & (Sighting.org == swarovski)).kind == "seen"
    assert "Also sells fake Swan necklaces." in clients["louis-vuitton"].get(f"/intel/flags/{flag.id}").get_data(
        as_text=True)

    amber = Flag.for_org(microsoft).where(Flag.distribution == "group").get()
    seller = Seller.get_by_id(amber.seller_id)
    lv_api = register(lv, "intel:read")
    token = make_client().post("/oauth/token", data={"grant_type": "client_credentials"},
                               auth=(lv_api[0].client_id, lv_api[1])).json["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    api = make_client()
    assert clients["louis-vuitton"].get(f"/intel/flags/{amber.id}").status_code == 404
    assert amber.display_name not in clients["louis-vuitton"].get("/intel/flags?status=all").get_data(as_text=True)
    assert amber.display_name not in clients["louis-vuitton"].get("/intel/flags.csv?status=all").get_data(as_text=True)
    assert api.get(f"/api/v1/intel/flags/{amber.id}", headers=bearer).status_code == 404
    assert amber.id not in {f["id"] for f in api.get("/api/v1/intel/flags?status=all&limit=200", headers=bearer).json["items"]}
    profile = clients["louis-vuitton"].get(f"/intel/sellers/aliexpress/{seller.external_id}")
    assert amber.display_name not in profile.get_data(as_text=True)  # its notices may show; the flag never
    assert clients["alibaba"].get(f"/intel/flags/{amber.id}").status_code == 200

    # Four counterfeit notices naming one new seller, each removed: four strikes, a repeat infringer.
    mark = Mark.for_org(lv).where((Mark.office == "CNIPA") & (Mark.status == "verified")).get()
    for n in range(4):
        response = clients["louis-vuitton"].post_form("/notices/new", {
            "where": f"{partnership('louis-vuitton').id}:taobao", "reason_code": "counterfeit",
            "explanation": "Counterfeit Neverfull bags: test buy confirmed fake date codes.",
            "marks": [str(mark.id)], "good_faith": "y",
            "listings": f"https://item.taobao.com/item.htm?id={880000000000 + n}, story-repeat-9, LV Neverfull 1:1"})
        assert response.status_code == 302
        notice = Notice.for_org(lv).order_by(Notice.id.desc()).get()
        item = NoticeItem.get(NoticeItem.notice == notice)
        assert clients["alibaba"].post_form(f"/notices/{notice.id}/items/{item.id}/transition", {
            "to": "removed", "reason": "Counterfeit confirmed."}).status_code == 302
    repeat = Seller.get(Seller.external_id == "story-repeat-9")
    assert repeat.repeat_infringer_at is not None
    for slug in ("louis-vuitton", "alibaba"):  # the brand partnered on Taobao, and the platform
        text = clients[slug].get("/intel/sellers/taobao/story-repeat-9").get_data(as_text=True)
        assert "Repeat infringer since" in text and "4 strikes in the last 365 days" in text

    # Disguised titles screened; the hits become a notice in one step.
    response = clients["louis-vuitton"].post_form("/intel/screenings/new", {"marketplace": "taobao", "listings": "\n".join([
        "https://item.taobao.com/item.htm?id=870000000001\tscreen-1\tL o u i s  V u i t t o n Alma 1:1\t199",
        "https://item.taobao.com/item.htm?id=870000000002\tscreen-2\tLоuis Vuіttоn Speedy mirror quality\t260",
        "https://item.taobao.com/item.htm?id=870000000003\tscreen-3\tCanvas tote bag\t40"])})
    assert response.status_code == 302
    screening = Screening.for_org(lv).order_by(Screening.id.desc()).get()
    hits = list(ScreeningHit.select().where(ScreeningHit.screening == screening).order_by(ScreeningHit.row))
    assert [h.row for h in hits] == [1, 2] and all(h.disguised for h in hits)
    response = clients["louis-vuitton"].post_form(f"/intel/screenings/{screening.id}/notice", {
        "hit": [str(h.id) for h in hits], "partnership": str(partnership("louis-vuitton").id), "good_faith": "y"})
    assert response.status_code == 302
    filed = Notice.for_org(lv).order_by(Notice.id.desc()).get()
    assert filed.item_count == 2 and filed.reason_code == "counterfeit"
    assert all(h.notice_id == filed.id for h in ScreeningHit.select().where(ScreeningHit.screening == screening))


def test_the_issue_story_on_the_demo(seeded, make_client):
    """Last in this module (it adds to the demo): Microsoft files a 50-listing notice to Alibaba on Taobao;
    Alibaba's analyst acknowledges, removes some, rejects one with reasons, asks for information on one;
    Microsoft answers; the action clock paused and resumed; the periodic check flags a breach."""
    from portal.sla import clocks
    microsoft, alibaba = org("microsoft"), org("alibaba")
    mark = Mark.for_org(microsoft).where((Mark.office == "CNIPA") & (Mark.word == "XBOX")).get()
    brand = make_client()
    brand.sign_in("analyst@microsoft.example", password=seeded["password"])
    urls = [f"https://item.taobao.com/item.htm?id={900000000000 + n}" for n in range(50)]
    response = brand.post_form("/notices/new", {
        "where": f"{partnership('microsoft').id}:taobao", "reason_code": "counterfeit",
        "explanation": "Fake Xbox controllers: wrong logo font, no hologram, sold at a tenth of the price.",
        "marks": [str(mark.id)], "listings": "\n".join(urls), "good_faith": "y"})
    assert response.status_code == 302
    notice = Notice.for_org(microsoft).order_by(Notice.id.desc()).get()
    items = list(NoticeItem.select().where(NoticeItem.notice == notice).order_by(NoticeItem.position))
    assert notice.item_count == 50 and notice.marketplace.slug == "taobao" and notice.platform_id == alibaba.id

    platform = make_client()
    platform.sign_in("analyst@alibaba.example", password=seeded["password"])
    ids = [str(i.id) for i in items]
    assert platform.post_form("/queue/bulk", {"to": "acknowledged", "item": ids[:45]}).status_code == 302
    assert platform.post_form("/queue/bulk", {"to": "removed", "reason": "Counterfeit: test buy TB-2026-11.",
                                              "item": ids[:40]}).status_code == 302
    base = f"/notices/{notice.id}/items"
    platform.post_form(f"{base}/{items[40].id}/transition", {"to": "rejected", "reason": "An authorised reseller.",
                                                           "redress": "Send the distribution agreement."})
    platform.post_form(f"{base}/{items[41].id}/transition", {"to": "info_requested",
                                                           "reason": "Which product line is infringed?"})
    assert clocks.clock(items[41], "action").stage == "paused"
    brand.post_form(f"{base}/{items[41].id}/transition", {"to": "acknowledged", "reason": "Xbox Elite Series 2."})
    resumed = clocks.clock(items[41], "action")
    assert resumed.stage == "running"
    states = [NoticeItem.get_by_id(i.id).state for i in items]
    assert states.count("removed") == 40 and states[40] == "rejected" and states[41] == "acknowledged"
    assert states[45:] == ["submitted"] * 5
    # Two days on, the five never acknowledged have breached: the periodic check flags them, once.
    with audit.acting_as("worker"):
        warnings, breaches = clocks.check_clocks(now=utcnow() + timedelta(days=2))
    flagged = NoticeItem.select().where((NoticeItem.notice == notice) & NoticeItem.breached)
    assert {i.position for i in flagged} >= {46, 47, 48, 49, 50} and breaches >= 5
    assert "An authorised reseller." in brand.get(f"/notices/{notice.id}").get_data(as_text=True)
