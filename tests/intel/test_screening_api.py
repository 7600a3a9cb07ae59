"""/api/v1/intel/screenings: a batch in, the hits and notice drafts out (201), row problems as 422 problem+json,
the intel:write scope, brands only, and another org's screening a 404. Real client credentials tokens."""
import pytest

from portal.intel.models import Screening
from portal.notices.models import NoticeItem
from tests.platform.test_api import PROBLEM, bearer, client_token

EXPLANATION = "Counterfeit handbags found by our listing screening, sold under our registered word mark."


@pytest.fixture
def alliance(client, world):
    alibaba = world.org("Alibaba", kind="platform")
    world.marketplace(alibaba, "Taobao", "CN")
    world.marketplace(alibaba, "Tmall", "CN")
    lv = world.org("Louis Vuitton")
    partnership = world.partnership(lv, alibaba)
    mark = world.verified_mark(lv, alibaba, word="LOUIS VUITTON", number="12345678")
    pending = world.mark(lv, word="LV", office="CNIPA", number="87654321")
    scope = "intel:read intel:write notices:write"
    return {"brand": lv, "platform": alibaba, "partnership": partnership, "mark": mark, "pending": pending,
            "token": client_token(client, lv, scope), "platform_token": client_token(client, alibaba, scope)}


LISTINGS = [
    {"title": "L o u i s  V u i t t o n Neverfull replica", "url": "https://item.taobao.com/item.htm?id=1",
     "seller_id": "shop-1", "price": "¥ 199"},
    {"title": "Leather gloves", "url": "https://item.taobao.com/item.htm?id=2", "seller_id": "shop-2"},
    {"title": "LV belt AAA", "url": "https://item.taobao.com/item.htm?id=3", "seller_id": "shop-3", "price": None},
    {"title": "Louis Vuitton wallet", "url": "https://detail.tmall.com/item.htm?id=4", "marketplace": "tmall"},
]


def screen(client, token, listings=LISTINGS, **more):
    return client.post("/api/v1/intel/screenings", headers=bearer(token),
                       json=dict({"marketplace": "taobao", "listings": listings}, **more))


def test_a_batch_is_screened_with_hits_and_a_notice_draft_to_complete(client, alliance):
    response = screen(client, alliance["token"])
    assert response.status_code == 201, response.json
    body = response.json
    screening = Screening.for_org(alliance["brand"]).get()
    assert response.headers["Location"].endswith(f"/api/v1/intel/screenings/{screening.id}")
    assert (body["id"], body["listings"], body["hit_count"], body["authorized_skipped"]) == (screening.id, 4, 3, 0)
    assert screening.source == "api"
    first = body["hits"][0]
    assert {k: first[k] for k in ("row", "marketplace", "url", "title", "price", "seller_id", "score", "words",
                                  "mark_ids", "indicators", "disguised", "flagged", "notice")} == {
        "row": 1, "marketplace": "taobao", "url": LISTINGS[0]["url"], "title": LISTINGS[0]["title"], "price": "¥ 199",
        "seller_id": "shop-1", "score": 0.85, "words": ["LOUIS VUITTON"], "mark_ids": [alliance["mark"].id],
        "indicators": ["replica"], "disguised": True, "flagged": False, "notice": None}
    assert "in disguise" in first["reason"] and "replica" in first["reason"]
    assert [(h["row"], h["score"]) for h in body["hits"]] == [(1, 0.85), (3, 0.7), (4, 0.6)]
    assert body["hits"][1]["price"] == "" and body["hits"][2]["marketplace"] == "tmall"

    # One draft per marketplace; LV (row 3) is pending, so it is in none.
    assert [(d["marketplace"], [l["url"] for l in d["listings"]]) for d in body["notice_drafts"]] == [
        ("taobao", [LISTINGS[0]["url"]]), ("tmall", [LISTINGS[3]["url"]])]
    draft = body["notice_draft"]
    assert draft == body["notice_drafts"][0]
    assert (draft["reason_code"], draft["marks"], draft["partnership"]) == (
        "counterfeit", [alliance["mark"].id], alliance["partnership"].id)
    # The draft, completed with the good-faith statement, is a notice the API files as it is.
    filed = client.post("/api/v1/notices", headers=bearer(alliance["token"]), json=dict(draft, good_faith=True))
    assert filed.status_code == 201, filed.json
    assert [i.url for i in NoticeItem.select()] == [LISTINGS[0]["url"]]

    again = client.get(f"/api/v1/intel/screenings/{screening.id}", headers=bearer(alliance["token"]))
    assert again.status_code == 200
    assert {k: v for k, v in again.json.items() if k not in ("notice_draft", "notice_drafts")} == {
        k: v for k, v in body.items() if k not in ("notice_draft", "notice_drafts")}


def test_bad_rows_are_a_422_naming_each_row_and_nothing_is_saved(client, alliance):
    listings = [LISTINGS[0], {"title": "LV", "url": "javascript:alert(1)"},
                {"title": "", "url": "https://item.taobao.com/item.htm?id=9", "marketplace": "mars"},
                {"title": "x" * 501, "url": "https://item.taobao.com/item.htm?id=10"}]
    response = screen(client, alliance["token"], listings)
    assert response.status_code == 422 and response.mimetype == PROBLEM
    assert response.json["code"] == "invalid_listings"
    assert {(p["row"], p["column"], p["code"]) for p in response.json["problems"]} == {
        (2, "url", "invalid_url"), (3, "title", "required"), (3, "marketplace", "unknown_marketplace"),
        (4, "title", "invalid_title")}
    assert Screening.select().count() == 0
    # The shape of the body is checked before anything: unknown fields, no listings, a wrong type.
    for body in ({"listings": [dict(LISTINGS[0], colour="red")]}, {"listings": []}, {"marketplace": "taobao"},
                 {"listings": [{"title": 5, "url": "https://item.taobao.com/item.htm?id=1"}]}):
        response = client.post("/api/v1/intel/screenings", headers=bearer(alliance["token"]), json=body)
        assert response.status_code == 422 and response.mimetype == PROBLEM, body
        assert response.json["errors"]
    assert Screening.select().count() == 0


def test_screening_needs_intel_write_and_a_brand(client, alliance):
    read_only = client_token(client, alliance["brand"], "intel:read")
    response = screen(client, read_only)
    assert response.status_code == 403 and response.json["error"] == "insufficient_scope"
    assert response.json["scope"] == "intel:write"
    response = screen(client, alliance["platform_token"])
    assert response.status_code == 403 and response.mimetype == PROBLEM and "Only brands" in response.json["detail"]
    assert client.post("/api/v1/intel/screenings", json={"listings": LISTINGS}).status_code == 401
    assert Screening.select().count() == 0


def test_another_orgs_screening_is_a_404(client, alliance, world):
    created = screen(client, alliance["token"]).json
    gucci = world.org("Gucci")
    for token in (client_token(client, gucci, "intel:read"), client_token(client, alliance["platform"], "intel:read")):
        response = client.get(f"/api/v1/intel/screenings/{created['id']}", headers=bearer(token))
        assert response.status_code == 404 and response.mimetype == PROBLEM
        assert "LOUIS" not in response.get_data(as_text=True)
    assert client.get("/api/v1/intel/screenings/999999999", headers=bearer(alliance["token"])).status_code == 404


def test_a_batch_without_hits_has_no_draft(client, alliance):
    response = screen(client, alliance["token"], [LISTINGS[1]])
    assert response.status_code == 201
    assert (response.json["hit_count"], response.json["hits"], response.json["notice_draft"],
            response.json["notice_drafts"]) == (0, [], None, [])
