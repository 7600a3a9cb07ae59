"""/api/v1/notices and /api/v1/partnerships: filing, evidence, lists and filters, one notice with its items,
statements of reasons and SLA clocks, moving items from both sides, and partnerships, with real client
credentials tokens from the token endpoint."""
import hashlib
import io
from datetime import date, datetime, timedelta

import pytest

from portal.audit import AuditEvent, acting_as
from portal.marks.models import Mark
from portal.notices import api as notices_api
from portal.notices import services as notices_services
from portal.notices.models import Evidence, Notice, NoticeItem
from portal.partnerships import api as partnerships_api
from portal.timeutil import utcnow
from tests.platform.test_api import PROBLEM, bearer, client_token

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
EXPLANATION = "Counterfeit handbags sold under our registered word mark, confirmed by a test buy."


class Side:
    def __init__(self, org, token):
        self.org, self.token = org, token

    @property
    def headers(self):
        return bearer(self.token)


@pytest.fixture
def alliance(client, world):
    """Alibaba (Taobao, Tmall in China) and Louis Vuitton under a 24/7 partnership, with a verified CNIPA mark;
    tokens with notices:read and notices:write for both."""
    alibaba = world.org("Alibaba", kind="platform", timezone="Asia/Shanghai")
    world.marketplace(alibaba, "Taobao", "CN")
    world.marketplace(alibaba, "Tmall", "CN")
    lv = world.org("Louis Vuitton", timezone="Europe/Paris")
    partnership = world.partnership(lv, alibaba, always_open=True, timezone="UTC", effective_from="2020-01-01")
    mark = world.verified_mark(lv, alibaba, word="LOUIS VUITTON", number="12345678")
    scope = "notices:read notices:write"
    return {"brand": Side(lv, client_token(client, lv, scope)),
            "platform": Side(alibaba, client_token(client, alibaba, scope)),
            "partnership": partnership, "mark": mark}


def urls(n, start=1, shop="item.taobao.com"):
    return [f"https://{shop}/item.htm?id={1000 + i}" for i in range(start, start + n)]


def notice_json(alliance, listings, **more):
    body = {"partnership": alliance["partnership"].id, "marketplace": "taobao", "reason_code": "counterfeit",
            "explanation": EXPLANATION, "marks": [alliance["mark"].id], "good_faith": True,
            "listings": [{"url": url} if isinstance(url, str) else url for url in listings]}
    body.update(more)
    return body


def file(client, alliance, listings, side="brand", **more):
    return client.post("/api/v1/notices", headers=alliance[side].headers, json=notice_json(alliance, listings, **more))


def move(client, alliance, side, notice, item, to, reason="", **more):
    return client.post(f"/api/v1/notices/{notice['id']}/items/{item['id']}/transitions",
                       headers=alliance[side].headers, json=dict({"to": to, "reason": reason}, **more))


def get_notice(client, alliance, side, notice_id):
    response = client.get(f"/api/v1/notices/{notice_id}", headers=alliance[side].headers)
    assert response.status_code == 200, response.json
    return response.json


def at(monkeypatch, moment):
    """Make the API's clock read `moment` (naive UTC); a move is timed by the notices service itself, when it
    holds the listing's lock."""
    monkeypatch.setattr(notices_api, "utcnow", lambda: moment)
    monkeypatch.setattr(notices_services, "utcnow", lambda: moment)
    monkeypatch.setattr(partnerships_api, "utcnow", lambda: moment)


# --- filing ------------------------------------------------------------------------------------------

def test_file_a_notice(client, alliance):
    response = file(client, alliance, [{"url": urls(1)[0], "seller_id": "shop-9", "title": "LV bag"}] + urls(2, 2),
                    test_buy_ref="TB-2026-001")
    assert response.status_code == 201, response.json
    body = response.json
    assert response.headers["Location"].endswith(f"/api/v1/notices/{body['id']}")
    assert body["reference"] == f"N-{body['id']:06d}"
    assert (body["brand"], body["platform"], body["marketplace"], body["partnership"]) == \
        ("louis-vuitton", "alibaba", "taobao", alliance["partnership"].id)
    assert (body["reason_code"], body["explanation"], body["test_buy_ref"]) == \
        ("counterfeit", EXPLANATION, "TB-2026-001")
    assert (body["terms_version"], body["fast_lane"], body["jurisdiction_confirmed"]) == (1, False, False)
    assert body["good_faith_statement"].startswith("I have a good-faith belief")
    assert body["item_count"] == 3 and body["states"] == {"submitted": 3} and body["breached"] is False
    assert body["skipped"] == [] and body["warnings"] == [] and body["evidence"] == []
    assert [(m["id"], m["word"], m["status"]) for m in body["marks"]] == [(alliance["mark"].id, "LOUIS VUITTON",
                                                                          "verified")]
    first = body["items"][0]
    assert (first["position"], first["url"], first["seller_id"], first["title"], first["state"]) == \
        (1, urls(1)[0], "shop-9", "LV bag", "submitted")
    assert [i["position"] for i in body["items"]] == [1, 2, 3]
    assert first["transitions"] == [{"from": None, "to": "submitted", "reason": "", "redress": "",
                                     "at": body["filed_at"], "by": "louis-vuitton"}]
    assert first["allowed_moves"] == ["withdrawn"]
    clocks = first["clocks"]
    assert set(clocks) == {"acknowledge", "action"}
    assert (clocks["acknowledge"]["stage"], clocks["acknowledge"]["target_minutes"]) == ("running", 24 * 60)
    assert (clocks["action"]["stage"], clocks["action"]["target_minutes"]) == ("running", 72 * 60)
    filed = datetime.fromisoformat(body["filed_at"])
    assert datetime.fromisoformat(clocks["acknowledge"]["deadline"]) == filed + timedelta(hours=24)
    assert clocks["acknowledge"]["breached"] is False and clocks["acknowledge"]["stopped_at"] is None
    assert 0 < clocks["action"]["remaining_seconds"] <= 72 * 3600
    # The same notice read back, by both sides.
    for side in ("brand", "platform"):
        read = get_notice(client, alliance, side, body["id"])
        assert {k: v for k, v in read.items() if k != "items"} == \
            {k: v for k, v in body.items() if k not in ("items", "skipped", "warnings")}
    assert get_notice(client, alliance, "platform", body["id"])["items"][0]["allowed_moves"] == \
        ["acknowledged", "info_requested", "removed", "rejected"]
    event = AuditEvent.for_org(alliance["platform"].org).where(AuditEvent.action == "notice.filed").get()
    assert event.actor_label.startswith("client:") and event.change_data["listings"] == [
        urls(1)[0]] + urls(2, 2)


def test_listings_already_under_notice_are_skipped(client, alliance):
    first = file(client, alliance, urls(2)).json
    second = file(client, alliance, urls(2, 2))  # rows 1 and 2: id 1002 (already filed) and 1003
    assert second.status_code == 201, second.json
    assert second.json["skipped"] == [{"row": 1, "url": urls(1, 2)[0], "notice": first["reference"],
                                       "state": "submitted"}]
    assert [i["url"] for i in second.json["items"]] == urls(1, 3)
    # The same URL written differently (host case, fragment) is the same listing.
    again = file(client, alliance, ["https://ITEM.taobao.com/item.htm?id=1001#photos"])
    assert again.status_code == 422 and again.mimetype == PROBLEM
    assert [e["field"] for e in again.json["errors"]] == ["listings"]
    assert first["reference"] in again.json["errors"][0]["message"]
    assert Notice.select().count() == 2


def test_invalid_listings_are_422_with_problems_and_nothing_filed(client, alliance):
    listings = [urls(1)[0], urls(1)[0] + "#again", "not-a-url", {"url": urls(1, 5)[0], "title": "x" * 10},
                {"url": "ftp://files.example.com/x"}]
    response = file(client, alliance, listings)
    assert response.status_code == 422 and response.mimetype == PROBLEM
    body = response.json
    assert body["code"] == "invalid_listings"
    assert [(p["row"], p["column"], p["code"]) for p in body["problems"]] == [
        (2, "url", "duplicate_url"), (3, "url", "invalid_url"), (5, "url", "invalid_url")]
    assert body["problems"][0]["value"] == urls(1)[0] + "#again" and "row 1" in body["problems"][0]["message"]
    assert [e["field"] for e in body["errors"]] == ["listings"]
    assert Notice.select().count() == 0 and NoticeItem.select().count() == 0


def test_a_notice_carries_at_most_300_listings(client, alliance):
    too_many = file(client, alliance, urls(301))
    assert too_many.status_code == 422 and too_many.mimetype == PROBLEM
    assert [e["field"] for e in too_many.json["errors"]] == ["listings"]
    assert "300" in too_many.json["errors"][0]["message"]
    none = file(client, alliance, [])
    assert none.status_code == 422 and [e["field"] for e in none.json["errors"]] == ["listings"]
    assert Notice.select().count() == 0
    full = file(client, alliance, urls(300))
    assert full.status_code == 201 and full.json["item_count"] == 300 and len(full.json["items"]) == 300


def test_marks_must_be_verified_and_unexpired(client, world, alliance):
    lv, alibaba = alliance["brand"].org, alliance["platform"].org
    pending = world.mark(lv, word="LV", office="CNIPA", number="22345678")
    response = file(client, alliance, urls(1), marks=[pending.id])
    assert response.status_code == 422 and response.mimetype == PROBLEM
    assert response.json["errors"][0]["field"] == "marks" and "not verified" in response.json["errors"][0]["message"]
    expired = world.verified_mark(lv, alibaba, word="LV", number="32345678")
    Mark.update(expires_on=date.today() - timedelta(days=2)).where(Mark.id == expired.id).execute()
    response = file(client, alliance, urls(1), marks=[alliance["mark"].id, expired.id])
    assert response.status_code == 422 and "has expired" in response.json["errors"][0]["message"]
    # Another brand's verified mark is not yours to rely on.
    other = world.org("Swarovski")
    world.partnership(other, alibaba)
    theirs = world.verified_mark(other, alibaba, word="SWAROVSKI", number="42345678")
    response = file(client, alliance, urls(1), marks=[theirs.id])
    assert response.status_code == 422 and f"no mark of yours has the id {theirs.id}" in \
        response.json["errors"][0]["message"]
    assert Notice.select().count() == 0


def test_a_mark_not_covering_the_marketplace_country_needs_confirmation(client, world, alliance):
    eu_mark = world.verified_mark(alliance["brand"].org, alliance["platform"].org, word="LOUIS VUITTON",
                                  office="EUIPO", number="018123456")
    refused = file(client, alliance, urls(1), marks=[eu_mark.id])
    assert refused.status_code == 422 and refused.mimetype == PROBLEM
    assert [e["field"] for e in refused.json["errors"]] == ["confirm_jurisdiction"]
    assert "CN" in refused.json["errors"][0]["message"] and "Confirm" in refused.json["errors"][0]["message"]
    confirmed = file(client, alliance, urls(1), marks=[eu_mark.id], confirm_jurisdiction=True)
    assert confirmed.status_code == 201
    assert confirmed.json["jurisdiction_confirmed"] is True and len(confirmed.json["warnings"]) == 1
    assert "Taobao serves CN" in confirmed.json["warnings"][0]


@pytest.mark.parametrize("changes, field", [
    ({"good_faith": False}, "good_faith"), ({"good_faith": None}, "good_faith"),
    ({"reason_code": "annoying"}, "reason_code"), ({"explanation": "fake"}, "explanation"),
    ({"marketplace": "amazon"}, "marketplace"), ({"marks": []}, "marks"), ({"typo": 1}, "typo")])
def test_bad_fields_are_422_naming_them(client, alliance, changes, field):
    response = file(client, alliance, urls(1), **changes)
    assert response.status_code == 422 and response.mimetype == PROBLEM
    assert field in [e["field"] for e in response.json["errors"]], response.json
    assert Notice.select().count() == 0


def test_missing_good_faith_and_another_orgs_partnership(client, world, alliance):
    body = notice_json(alliance, urls(1))
    del body["good_faith"]
    response = client.post("/api/v1/notices", headers=alliance["brand"].headers, json=body)
    assert response.status_code == 422 and "good_faith" in [e["field"] for e in response.json["errors"]]
    other = world.org("Swarovski")
    theirs = world.partnership(other, alliance["platform"].org)
    response = file(client, alliance, urls(1), partnership=theirs.id)
    assert response.status_code == 422 and response.json["errors"][0] == {
        "field": "partnership", "message": "Choose one of your partnerships."}


def test_only_brands_file_and_only_with_notices_write(client, world, alliance):
    response = file(client, alliance, urls(1), side="platform")
    assert response.status_code == 403 and response.mimetype == PROBLEM and "brands" in response.json["detail"]
    reader = client_token(client, alliance["brand"].org, "notices:read")
    response = client.post("/api/v1/notices", headers=bearer(reader), json=notice_json(alliance, urls(1)))
    assert response.status_code == 403 and response.json["scope"] == "notices:write"
    marks_only = client_token(client, alliance["brand"].org, "marks:read")
    assert client.get("/api/v1/notices", headers=bearer(marks_only)).json["scope"] == "notices:read"
    assert client.get("/api/v1/partnerships", headers=bearer(marks_only)).status_code == 403
    assert Notice.select().count() == 0


# --- lists -------------------------------------------------------------------------------------------

def test_list_filters(app, client, world, alliance):
    from portal.sla.clocks import check_clocks
    lv, partnership = alliance["brand"].org, alliance["partnership"]
    marks = [alliance["mark"]]
    # 2024-03-10 23:30 UTC is already 2024-03-11 in Paris (the brand's zone).
    old = world.notice(lv, partnership, urls(2, 1), marks=marks, now=datetime(2024, 3, 10, 23, 30)).notice
    tmall = world.notice(lv, partnership, urls(1, 10, "detail.tmall.com"), marks=marks, marketplace="tmall",
                         now=datetime(2024, 3, 12, 8, 0)).notice
    fresh = file(client, alliance, urls(1, 20)).json
    with app.app_context(), acting_as("test"):
        check_clocks(now=utcnow())  # the old notices' clocks have long passed their deadlines
    from portal.notices.services import transition
    with app.app_context(), acting_as("test"):
        transition(NoticeItem.get((NoticeItem.notice == old) & (NoticeItem.position == 1)), alliance["platform"].org,
                   "removed", "Counterfeit confirmed.", now=utcnow())

    def ids(side="brand", **params):
        response = client.get("/api/v1/notices", headers=alliance[side].headers, query_string=params)
        assert response.status_code == 200, response.json
        return [n["id"] for n in response.json["items"]]

    assert ids() == ids("platform") == [old.id, tmall.id, fresh["id"]]
    listed = client.get("/api/v1/notices", headers=alliance["brand"].headers).json["items"]
    assert listed[0]["states"] == {"removed": 1, "submitted": 1} and listed[0]["breached"] is True
    assert (listed[1]["marketplace"], listed[2]["breached"]) == ("tmall", False)
    assert ids(state="removed") == [old.id]
    assert ids(state="submitted") == [old.id, tmall.id, fresh["id"]]
    assert ids(state="withdrawn") == []
    assert ids(marketplace="tmall") == ids("platform", marketplace="TMALL") == [tmall.id]
    assert ids(marketplace="nowhere") == []
    assert ids(breached="true") == [old.id, tmall.id] and ids(breached="false") == [fresh["id"]]
    # Dates are days in the org's zone: Paris for the brand, Shanghai for the platform.
    assert ids(filed_from="2024-03-11", filed_to="2024-03-11") == [old.id]
    assert ids(filed_to="2024-03-10") == []
    assert ids("platform", filed_from="2024-03-11", filed_to="2024-03-11") == [old.id]
    assert ids(filed_from="2024-03-12") == [tmall.id, fresh["id"]]
    # Date-times carry their offset; the end is exclusive.
    assert ids(filed_from="2024-03-10T23:30:00Z", filed_to="2024-03-12T08:00:00Z") == [old.id]
    assert ids(filed_from="2024-03-12T09:00:00+01:00", filed_to="2024-03-12T09:00:00.000001+01:00") == [tmall.id]
    assert ids(filed_from="0001-01-01", filed_to="9999-12-31") == [old.id, tmall.id, fresh["id"]]
    assert ids(filed_from="0001-01-01T00:00:00+05:00", filed_to="9999-12-31T23:59:59-05:00") == [
        old.id, tmall.id, fresh["id"]]
    # Pages follow the cursor.
    page = client.get("/api/v1/notices?limit=2", headers=alliance["brand"].headers).json
    assert [n["id"] for n in page["items"]] == [old.id, tmall.id]
    rest = client.get(f"/api/v1/notices?limit=2&cursor={page['next_cursor']}", headers=alliance["brand"].headers).json
    assert [n["id"] for n in rest["items"]] == [fresh["id"]] and rest["next_cursor"] is None


@pytest.mark.parametrize("query, field", [("state=lost", "state"), ("breached=perhaps", "breached"),
                                          ("filed_from=2024-13-01", "filed_from"),
                                          ("filed_from=20240301", "filed_from"),
                                          ("filed_to=2024-03-01T10:00:00", "filed_to"), ("q=x", "q")])
def test_bad_list_parameters_are_422(client, alliance, query, field):
    response = client.get(f"/api/v1/notices?{query}", headers=alliance["brand"].headers)
    assert response.status_code == 422 and response.mimetype == PROBLEM
    assert [e["field"] for e in response.json["errors"]] == [field]


def test_lists_show_only_your_notices(client, world, alliance):
    mine = file(client, alliance, urls(1)).json
    shopmart = world.org("Shopmart", kind="platform")
    swarovski = world.org("Swarovski")
    theirs = world.notice(swarovski, world.partnership(swarovski, shopmart), urls(1)).notice
    # The same platform, another brand: the platform sees both, each brand its own.
    other_brand = world.org("Microsoft")
    microsoft = world.notice(other_brand, world.partnership(other_brand, alliance["platform"].org), urls(1, 50)).notice
    brand_ids = [n["id"] for n in client.get("/api/v1/notices", headers=alliance["brand"].headers).json["items"]]
    platform_ids = [n["id"] for n in client.get("/api/v1/notices", headers=alliance["platform"].headers).json["items"]]
    assert brand_ids == [mine["id"]] and platform_ids == [mine["id"], microsoft.id]
    for side in ("brand", "platform"):
        response = client.get(f"/api/v1/notices/{theirs.id}", headers=alliance[side].headers)
        assert response.status_code == 404 and response.mimetype == PROBLEM
        assert "Swarovski" not in response.get_data(as_text=True)
    assert client.get(f"/api/v1/notices/{microsoft.id}", headers=alliance["brand"].headers).status_code == 404
    their_item = NoticeItem.get(NoticeItem.notice == theirs)
    for side, to in (("platform", "acknowledged"), ("brand", "withdrawn")):
        # Another org's notice, and another notice's item under your own notice's id: both 404.
        for notice_id in (theirs.id, mine["id"]):
            response = client.post(f"/api/v1/notices/{notice_id}/items/{their_item.id}/transitions",
                                   headers=alliance[side].headers, json={"to": to})
            assert response.status_code == 404
    assert NoticeItem.get_by_id(their_item.id).state == "submitted"
    assert client.get("/api/v1/notices/99999999999", headers=alliance["brand"].headers).status_code == 404


# --- transitions -------------------------------------------------------------------------------------

def test_moves_by_each_side_and_the_refused_ones(client, world, alliance):
    notice = file(client, alliance, urls(4)).json
    first, second, third, fourth = notice["items"]

    ack = move(client, alliance, "platform", notice, first, "acknowledged")
    assert ack.status_code == 200, ack.json
    assert ack.json["state"] == "acknowledged" and ack.json["id"] == first["id"]
    assert ack.json["clocks"]["acknowledge"]["stage"] == "completed"
    assert ack.json["clocks"]["acknowledge"]["stopped_at"] is not None
    assert ack.json["clocks"]["action"]["stage"] == "running"
    assert ack.json["transitions"][-1]["by"] == "alibaba"

    # A statement of reasons is required to remove; the redress has a standard text.
    no_reason = move(client, alliance, "platform", notice, first, "removed")
    assert no_reason.status_code == 422 and no_reason.mimetype == PROBLEM
    assert [e["field"] for e in no_reason.json["errors"]] == ["reason"]
    removed = move(client, alliance, "platform", notice, first, "removed", "Counterfeit: logo and serial differ.")
    assert removed.status_code == 200 and removed.json["decision"] == "removed"
    last = removed.json["transitions"][-1]
    assert (last["from"], last["to"], last["reason"]) == \
        ("acknowledged", "removed", "Counterfeit: logo and serial differ.")
    assert "counter-notice" in last["redress"]
    assert removed.json["clocks"]["action"]["stage"] == "completed"

    # Illegal moves are 409 with a message that says why.
    again = move(client, alliance, "platform", notice, first, "acknowledged")
    assert again.status_code == 409 and again.mimetype == PROBLEM
    assert "A listing that is removed cannot be acknowledged." in again.json["detail"]
    withdraw_removed = move(client, alliance, "brand", notice, first, "withdrawn")
    assert withdraw_removed.status_code == 409 and "removed cannot be withdrawn" in withdraw_removed.json["detail"]
    # The wrong side: the brand does not remove, the platform does not withdraw.
    brand_removes = move(client, alliance, "brand", notice, second, "removed", "Please remove.")
    assert brand_removes.status_code == 409 and "Only the platform" in brand_removes.json["detail"]
    platform_withdraws = move(client, alliance, "platform", notice, second, "withdrawn")
    assert platform_withdraws.status_code == 409 and "Only the brand" in platform_withdraws.json["detail"]
    unknown = move(client, alliance, "platform", notice, second, "deleted")
    assert unknown.status_code == 422 and [e["field"] for e in unknown.json["errors"]] == ["to"]
    too_long = move(client, alliance, "platform", notice, second, "rejected", "x" * 4001)
    assert too_long.status_code == 422 and [e["field"] for e in too_long.json["errors"]] == ["reason"]

    # A submitted item decided at once is acknowledged first: two transitions.
    rejected = move(client, alliance, "platform", notice, second, "rejected", "The listing shows a genuine item.",
                    redress="Ask for a review through the partnership contacts.")
    assert rejected.status_code == 200
    assert [(t["from"], t["to"]) for t in rejected.json["transitions"]] == [
        (None, "submitted"), ("submitted", "acknowledged"), ("acknowledged", "rejected")]
    assert rejected.json["transitions"][-1]["redress"] == "Ask for a review through the partnership contacts."
    assert rejected.json["transitions"][1]["reason"] == ""

    # The brand withdraws a listing: its clocks are cancelled.
    withdrawn = move(client, alliance, "brand", notice, third, "withdrawn")
    assert withdrawn.status_code == 200 and withdrawn.json["state"] == "withdrawn"
    assert {c["stage"] for c in withdrawn.json["clocks"].values()} == {"cancelled"}
    assert withdrawn.json["transitions"][-1]["by"] == "louis-vuitton"
    # The brand answers only an info request.
    answer = move(client, alliance, "brand", notice, fourth, "acknowledged", "Here is the invoice.")
    assert answer.status_code == 409

    # Another platform cannot touch it (404, as if it did not exist).
    shopmart = world.org("Shopmart", kind="platform")
    other = client_token(client, shopmart, "notices:read notices:write")
    response = client.post(f"/api/v1/notices/{notice['id']}/items/{fourth['id']}/transitions", headers=bearer(other),
                           json={"to": "acknowledged"})
    assert response.status_code == 404
    read_only = client_token(client, alliance["platform"].org, "notices:read")
    response = client.post(f"/api/v1/notices/{notice['id']}/items/{fourth['id']}/transitions",
                           headers=bearer(read_only), json={"to": "acknowledged"})
    assert response.status_code == 403 and response.json["scope"] == "notices:write"
    states = [i["state"] for i in get_notice(client, alliance, "brand", notice["id"])["items"]]
    assert states == ["removed", "rejected", "withdrawn", "submitted"]
    actions = [e.action for e in AuditEvent.for_org(alliance["brand"].org).where(
        AuditEvent.action == "notice.item.transitioned")]
    assert len(actions) == 5  # acknowledged, removed, acknowledged + rejected, withdrawn


def test_done_when_a_50_listing_notice_is_worked_over_the_api(client, alliance, monkeypatch):
    """The brand files 50 listings; the platform acknowledges, removes some, rejects one with reasons and
    asks for information on one; the brand answers; the action clock pauses, and its deadline moves on by
    the time it was paused."""
    start = utcnow().replace(microsecond=0)
    at(monkeypatch, start)
    filed = file(client, alliance, urls(50))
    assert filed.status_code == 201 and filed.json["item_count"] == 50
    notice, items = filed.json, filed.json["items"]
    action_deadline = datetime.fromisoformat(items[11]["clocks"]["action"]["deadline"]).replace(tzinfo=None)
    assert action_deadline == start + timedelta(hours=72)  # 24/7 terms: 72 hours

    at(monkeypatch, start + timedelta(hours=1))
    for item in items:
        assert move(client, alliance, "platform", notice, item, "acknowledged").status_code == 200
    at(monkeypatch, start + timedelta(hours=2))
    for item in items[:10]:
        response = move(client, alliance, "platform", notice, item, "removed", "Counterfeit: confirmed by test buy.")
        assert response.status_code == 200
    rejected = move(client, alliance, "platform", notice, items[10], "rejected",
                    "The photos show a genuine product from an authorised reseller.")
    assert rejected.status_code == 200 and rejected.json["transitions"][-1]["redress"]
    asked = move(client, alliance, "platform", notice, items[11], "info_requested",
                 "Send the test-buy invoice for this seller.")
    assert asked.status_code == 200
    action = asked.json["clocks"]["action"]
    assert (action["stage"], action["remaining_seconds"]) == ("paused", 70 * 3600)
    assert asked.json["clocks"]["acknowledge"]["stage"] == "completed"

    # Three hours later, still paused: the deadline reads as "if resumed now".
    at(monkeypatch, start + timedelta(hours=5))
    waiting = get_notice(client, alliance, "brand", notice["id"])["items"][11]
    assert waiting["state"] == "info_requested" and waiting["allowed_moves"] == ["acknowledged", "withdrawn"]
    assert waiting["clocks"]["action"]["stage"] == "paused" and waiting["due_at"] is None
    assert waiting["clocks"]["action"]["remaining_seconds"] == 70 * 3600
    no_answer = move(client, alliance, "brand", notice, items[11], "acknowledged")
    assert no_answer.status_code == 422 and [e["field"] for e in no_answer.json["errors"]] == ["reason"]
    answered = move(client, alliance, "brand", notice, items[11], "acknowledged", "Invoice TB-2026-001 attached.")
    assert answered.status_code == 200, answered.json
    action = answered.json["clocks"]["action"]
    assert action["stage"] == "running"
    moved = datetime.fromisoformat(action["deadline"]).replace(tzinfo=None)
    assert moved == action_deadline + timedelta(hours=3)  # extended by the pause
    assert [(t["from"], t["to"], t["by"]) for t in answered.json["transitions"]] == [
        (None, "submitted", "louis-vuitton"), ("submitted", "acknowledged", "alibaba"),
        ("acknowledged", "info_requested", "alibaba"), ("info_requested", "acknowledged", "louis-vuitton")]
    assert answered.json["transitions"][2]["reason"] == "Send the test-buy invoice for this seller."

    at(monkeypatch, start + timedelta(hours=6))
    final = get_notice(client, alliance, "platform", notice["id"])
    assert final["states"] == {"removed": 10, "rejected": 1, "acknowledged": 39} and final["breached"] is False
    assert all(i["clocks"]["acknowledge"]["stage"] == "completed" and not i["clocks"]["acknowledge"]["breached"]
               for i in final["items"])
    assert final["items"][11]["clocks"]["action"]["deadline"] == action["deadline"]
    listed = client.get("/api/v1/notices?state=info_requested", headers=alliance["brand"].headers).json
    assert listed["items"] == []
    partnership = client.get(f"/api/v1/partnerships/{alliance['partnership'].id}",
                             headers=alliance["brand"].headers).json
    assert (partnership["good_faith"]["removed"], partnership["good_faith"]["rejected"]) == (10, 1)


# --- evidence ----------------------------------------------------------------------------------------

def upload(client, headers, notice_id, content, name="evidence.pdf"):
    return client.post(f"/api/v1/notices/{notice_id}/evidence", headers=headers, content_type="multipart/form-data",
                       data={"file": (io.BytesIO(content), name)})


def test_evidence_upload(app, client, alliance, monkeypatch):
    notice = file(client, alliance, urls(1)).json
    response = upload(client, alliance["brand"].headers, notice["id"], PDF, "test buy receipt.pdf")
    assert response.status_code == 201, response.json
    body = response.json
    assert (body["name"], body["size"], body["content_type"]) == ("test buy receipt.pdf", len(PDF), "application/pdf")
    assert body["sha256"] == hashlib.sha256(PDF).hexdigest()
    photo = upload(client, alliance["brand"].headers, notice["id"], PNG, "photo.jpg")  # the content decides
    assert photo.status_code == 201 and photo.json["content_type"] == "image/png"
    shown = get_notice(client, alliance, "platform", notice["id"])["evidence"]
    assert [(e["id"], e["sha256"]) for e in shown] == [(body["id"], body["sha256"]),
                                                       (photo.json["id"], hashlib.sha256(PNG).hexdigest())]
    for org in (alliance["brand"].org, alliance["platform"].org):
        events = AuditEvent.for_org(org).where(AuditEvent.action == "notice.evidence_added")
        assert [e.change_data["evidence"][0]["sha256"] for e in events.order_by(AuditEvent.seq)] == [
            body["sha256"], photo.json["sha256"]]
    stored = Evidence.get_by_id(body["id"])
    from portal.notices.services import evidence_file
    with app.app_context():
        assert evidence_file(stored).read_bytes() == PDF


@pytest.mark.parametrize("content, name", [(b"just text, not a PDF", "fake.pdf"), (b"", "empty.pdf"),
                                           (b"GIF89a" + b"\x00" * 20, "anim.gif")])
def test_evidence_of_another_type_is_refused(app, client, alliance, content, name):
    from portal import uploads
    notice = file(client, alliance, urls(1)).json
    with app.app_context():
        before = set(uploads.folder("evidence").iterdir())
    response = upload(client, alliance["brand"].headers, notice["id"], content, name)
    assert response.status_code == 422 and response.mimetype == PROBLEM
    assert [e["field"] for e in response.json["errors"]] == ["file"]
    assert "PDF, PNG or JPEG" in response.json["errors"][0]["message"]
    assert Evidence.select().count() == 0
    with app.app_context():
        assert set(uploads.folder("evidence").iterdir()) == before  # nothing kept


def test_evidence_size_and_count_are_capped(app, client, alliance, monkeypatch):
    notice = file(client, alliance, urls(1)).json
    monkeypatch.setitem(app.config, "NOTICE_EVIDENCE_MAX_BYTES", 100)
    too_big = upload(client, alliance["brand"].headers, notice["id"], PDF + b"0" * 200)
    assert too_big.status_code == 422 and [e["field"] for e in too_big.json["errors"]] == ["file"]
    assert "larger than the limit" in too_big.json["errors"][0]["message"]
    for _ in range(10):
        assert upload(client, alliance["brand"].headers, notice["id"], PDF).status_code == 201
    eleventh = upload(client, alliance["brand"].headers, notice["id"], PDF)
    assert eleventh.status_code == 422 and "at most 10" in eleventh.json["errors"][0]["message"]
    assert Evidence.select().count() == 10


def test_evidence_is_added_only_by_the_brand_that_filed(client, world, alliance):
    notice = file(client, alliance, urls(1)).json
    assert upload(client, alliance["platform"].headers, notice["id"], PDF).status_code == 404
    other = world.org("Swarovski")
    assert upload(client, bearer(client_token(client, other, "notices:write")), notice["id"], PDF).status_code == 404
    reader = client_token(client, alliance["brand"].org, "notices:read")
    assert upload(client, bearer(reader), notice["id"], PDF).status_code == 403
    missing = client.post(f"/api/v1/notices/{notice['id']}/evidence", headers=alliance["brand"].headers,
                          content_type="multipart/form-data", data={"file": "not a file"})
    assert missing.status_code == 422 and [e["field"] for e in missing.json["errors"]] == ["file"]
    assert Evidence.select().count() == 0


# --- partnerships ------------------------------------------------------------------------------------

def test_partnerships_for_both_sides(client, world, alliance):
    from portal.partnerships.services import revise_terms, terms_form_values, terms_in_force
    partnership = alliance["partnership"]
    with acting_as("test"):
        values = dict(terms_form_values(terms_in_force(partnership)), ack_minutes=12 * 60, note="Faster please")
        revise_terms(partnership, alliance["brand"].org, values)
    swarovski = world.org("Swarovski")
    hidden = world.partnership(swarovski, world.org("Shopmart", kind="platform"))
    for side in ("brand", "platform"):
        page = client.get("/api/v1/partnerships", headers=alliance[side].headers).json
        assert [p["id"] for p in page["items"]] == [partnership.id] and page["next_cursor"] is None
        body = page["items"][0]
        assert body == client.get(f"/api/v1/partnerships/{partnership.id}", headers=alliance[side].headers).json
        assert (body["status"], body["reference"], body["terms_version"]) == ("active", partnership.reference, 1)
        assert (body["brand"]["slug"], body["platform"]["slug"]) == ("louis-vuitton", "alibaba")
        terms = body["terms"]
        assert (terms["version"], terms["state"], terms["always_open"], terms["marketplaces"]) == \
            (1, "in_force", True, ["taobao", "tmall"])
        assert (terms["ack_minutes"], terms["action_minutes"], terms["effective_from"]) == (1440, 4320, "2020-01-01")
        pending = body["pending_terms"]
        assert (pending["version"], pending["state"], pending["ack_minutes"], pending["note"],
                pending["proposed_by"]) == (2, "pending", 720, "Faster please", "louis-vuitton")
        assert body["good_faith"]["decided"] == 0 and body["good_faith"]["fast_lane"] is False
        assert body["good_faith"]["removed_share"] is None and body["good_faith"]["window_days"] == 90
        response = client.get(f"/api/v1/partnerships/{hidden.id}", headers=alliance[side].headers)
        assert response.status_code == 404 and "Shopmart" not in response.get_data(as_text=True)
    assert client.get("/api/v1/partnerships?status=ended", headers=alliance["brand"].headers).json["items"] == []
    assert client.get("/api/v1/partnerships?status=gone", headers=alliance["brand"].headers).status_code == 422
