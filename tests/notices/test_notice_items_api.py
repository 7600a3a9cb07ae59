"""The listing-level API: GET /api/v1/notice-items (filters, deadline order, cursor pages),
POST /api/v1/notice-items/transitions (up to 300 moves, one result each, Idempotency-Key) and
POST /api/v1/notice-items/assignments, with real tokens from the token endpoint or stored user tokens."""
from datetime import timedelta

import pytest

from portal.accounts.services import token_digest
from portal.api.idempotency import IdempotentRequest, forget_expired
from portal.audit import AuditEvent
from portal.notices.models import NoticeItem, Transition
from portal.oauth.models import Token
from portal.timeutil import utcnow
from tests.notices.test_notices_api import Side, alliance, file, urls  # noqa: F401 (fixture)
from tests.oauth_helpers import register
from tests.platform.test_api import PROBLEM, bearer, client_token

SCOPE = "notices:read notices:write"


def user_token(org, user, name):
    """A stored authorization-code token of `user` in `org` (the API then knows who acts)."""
    api_client, _ = register(org, SCOPE)
    Token.create(org=org, client=api_client, user=user, grant_type="authorization_code", family=name,
                 access_token_hash=token_digest(name), scope=SCOPE, expires_in=3600)
    return bearer(name)


def listings(client, headers, **query):
    response = client.get("/api/v1/notice-items", headers=headers, query_string=query)
    assert response.status_code == 200, response.json
    return response.json


def moves(client, headers, body, key=None):
    if key is not None:
        headers = dict(headers, **{"Idempotency-Key": key})
    return client.post("/api/v1/notice-items/transitions", headers=headers, json=body)


@pytest.fixture
def filed(client, alliance):  # noqa: F811
    """Two notices of Louis Vuitton to Alibaba: three listings on Taobao, two on Tmall."""
    first = file(client, alliance, urls(3))
    second = file(client, alliance, urls(2, start=10, shop="detail.tmall.com"), marketplace="tmall")
    assert first.status_code == 201 and second.status_code == 201
    return [item["id"] for item in first.json["items"]] + [item["id"] for item in second.json["items"]]


def test_the_platform_walks_its_listings_nearest_deadline_first_in_cursor_pages(client, alliance, filed):  # noqa: F811
    platform = alliance["platform"].headers
    # The first listing is acknowledged: its acknowledge clock stops, its action clock (later) stays.
    assert moves(client, platform, {"moves": [{"item": filed[0], "to": "acknowledged"}]}).json["moved"] == 1
    seen, cursor = [], None
    while True:
        page = listings(client, platform, limit=2, **({"cursor": cursor} if cursor else {}))
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(item["id"] for item in seen) == sorted(filed)  # every listing once
    stored = {item.id: item.due_at for item in NoticeItem.select()}
    order = sorted(filed, key=lambda pk: (stored[pk] is None, stored[pk], pk))
    assert [item["id"] for item in seen] == order
    assert seen[-1]["id"] == filed[0]  # its next deadline is the furthest
    first = seen[0]
    assert first["brand"] == alliance["brand"].org.slug and first["platform"] == alliance["platform"].org.slug
    assert first["reference"].startswith("N-") and first["assignee"] is None
    assert {item["marketplace"] for item in seen} == {"taobao", "tmall"}


def test_filters_by_state_marketplace_brand_deadline_and_update(client, alliance, filed):  # noqa: F811
    platform, brand = alliance["platform"].headers, alliance["brand"].headers
    moves(client, platform, {"moves": [{"item": filed[1], "to": "removed", "reason": "Counterfeit, test buy."}]})
    ids = lambda page: sorted(item["id"] for item in page["items"])  # noqa: E731
    assert ids(listings(client, platform, state="removed")) == [filed[1]]
    assert ids(listings(client, platform, open="false")) == [filed[1]]
    assert ids(listings(client, platform, open="true")) == sorted(filed[:1] + filed[2:])
    assert ids(listings(client, platform, state="removed", open="true")) == []
    assert ids(listings(client, platform, marketplace="tmall")) == filed[3:]
    assert ids(listings(client, platform, marketplace="TMALL")) == filed[3:]
    assert ids(listings(client, platform, marketplace="unknown-market")) == []
    assert ids(listings(client, platform, brand=alliance["brand"].org.slug)) == sorted(filed)
    assert ids(listings(client, platform, brand="someone-else")) == []
    assert ids(listings(client, brand, platform=alliance["platform"].org.slug)) == sorted(filed)
    soon = (utcnow() + timedelta(days=3650)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ids(listings(client, platform, due_before=soon)) == sorted(filed[:1] + filed[2:])  # removed: no clock
    assert ids(listings(client, platform, due_before="2000-01-01")) == []
    since = NoticeItem.get_by_id(filed[1]).state_changed_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert ids(listings(client, platform, updated_since=since)) == [filed[1]]
    # The brand reads the same listings, without who works them at the platform.
    assert ids(listings(client, brand)) == sorted(filed)


def test_another_orgs_listings_are_never_listed_or_moved(client, world, alliance, filed):  # noqa: F811
    other = world.org("Shopmart", kind="platform")
    headers = bearer(client_token(client, other, SCOPE))
    assert listings(client, headers)["items"] == []
    result = moves(client, headers, {"moves": [{"item": filed[0], "to": "acknowledged"}]}).json
    assert result["results"][0]["status"] == 404 and result["moved"] == 0
    assert NoticeItem.get_by_id(filed[0]).state == "submitted"
    outsider = world.org("Swarovski")
    assert listings(client, bearer(client_token(client, outsider, SCOPE)))["items"] == []


@pytest.mark.parametrize("query, field", [({"cursor": "abc"}, "cursor"), ({"cursor": "1-"}, "cursor"),
                                          ({"state": "lost"}, "state"), ({"limit": 0}, "limit"),
                                          ({"assigned": "someone"}, "assigned"), ({"due_before": "tomorrow"},
                                                                                   "due_before")])
def test_bad_filters_are_422_naming_the_field(client, alliance, query, field):  # noqa: F811
    response = client.get("/api/v1/notice-items", headers=alliance["platform"].headers, query_string=query)
    assert response.status_code == 422 and response.mimetype == PROBLEM
    assert field in {error["field"].split(".")[-1] for error in response.json["errors"]}


def test_every_well_formed_cursor_is_a_position(client, alliance, filed):  # noqa: F811
    platform = alliance["platform"].headers
    for cursor in ("x-0", "0-0", "999999999999999999-9999999999999999999", "x-9999999999999999999"):
        assert client.get("/api/v1/notice-items", headers=platform,
                          query_string={"cursor": cursor}).status_code == 200
    assert [i["id"] for i in listings(client, platform, cursor="0-0")["items"]] != []


def test_up_to_300_moves_each_applied_on_its_own_in_the_order_sent(client, alliance, filed):  # noqa: F811
    platform = alliance["platform"].headers
    before = Transition.select().count()
    body = {"moves": [
        {"item": filed[0], "to": "acknowledged"},
        {"item": filed[0], "to": "removed", "reason": "Counterfeit: the logo and the stitching (test buy)."},
        {"item": filed[1], "to": "rejected"},  # no ground: refused, nothing of it applied
        {"item": filed[2], "to": "withdrawn"},  # the brand's move
        {"item": 987654321, "to": "acknowledged"},
        {"item": filed[3], "to": "info_requested", "reason": "Send the registration certificate."}]}
    response = moves(client, platform, body)
    assert response.status_code == 200, response.json
    results = response.json["results"]
    assert [(r["item"], r["status"]) for r in results] == [
        (filed[0], 200), (filed[0], 200), (filed[1], 422), (filed[2], 409), (987654321, 404), (filed[3], 200)]
    assert (response.json["moved"], response.json["refused"]) == (3, 3)
    assert results[1]["listing"]["state"] == "removed" and results[1]["listing"]["decision"] == "removed"
    assert results[2]["errors"][0]["field"] == "reason" and results[2]["listing"] is None
    assert "brand" in results[3]["message"]
    states = {item.id: item.state for item in NoticeItem.select()}
    assert [states[pk] for pk in filed] == ["removed", "submitted", "submitted", "info_requested", "submitted"]
    # acknowledged, removed, and info_requested after its implied acknowledgement
    assert Transition.select().count() == before + 4


def test_a_bulk_call_over_300_moves_is_refused_whole(client, alliance, filed):  # noqa: F811
    body = {"moves": [{"item": filed[0], "to": "acknowledged"}] * 301}
    response = moves(client, alliance["platform"].headers, body)
    assert response.status_code == 422 and "300" in response.get_data(as_text=True)
    assert NoticeItem.get_by_id(filed[0]).state == "submitted"
    assert moves(client, alliance["platform"].headers, {"moves": []}).status_code == 422


def test_300_listings_of_a_notice_acknowledged_in_one_call(client, alliance):  # noqa: F811
    notice = file(client, alliance, urls(300, start=500))
    assert notice.status_code == 201
    ids = [item["id"] for item in notice.json["items"]]
    response = moves(client, alliance["platform"].headers,
                     {"moves": [{"item": pk, "to": "acknowledged"} for pk in ids]})
    assert response.status_code == 200 and response.json["moved"] == 300
    assert NoticeItem.select().where(NoticeItem.id.in_(ids) & (NoticeItem.state == "acknowledged")).count() == 300


def test_an_idempotency_key_replays_the_first_answer_and_moves_nothing_twice(client, alliance, filed):  # noqa: F811
    platform = alliance["platform"].headers
    body = {"moves": [{"item": filed[0], "to": "removed", "reason": "Counterfeit (test buy)."}]}
    first = moves(client, platform, body, key="run-2026-12-07-a")
    transitions = Transition.select().count()
    again = moves(client, platform, body, key="run-2026-12-07-a")
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert again.json == first.json and again.json["moved"] == 1
    assert Transition.select().count() == transitions  # nothing moved the second time
    # The same key with another request: refused, nothing done.
    other = moves(client, platform, {"moves": [{"item": filed[1], "to": "acknowledged"}]}, key="run-2026-12-07-a")
    assert other.status_code == 422 and other.json["code"] == "idempotency_key_reused"
    assert NoticeItem.get_by_id(filed[1]).state == "submitted"
    # Keys are per organization: the brand's same key is its own.
    brand = moves(client, alliance["brand"].headers, {"moves": [{"item": filed[2], "to": "withdrawn"}]},
                  key="run-2026-12-07-a")
    assert brand.status_code == 200 and brand.json["moved"] == 1 and "Idempotent-Replayed" not in brand.headers


def test_a_key_is_kept_24_hours_and_a_refused_request_keeps_none(client, alliance, filed):  # noqa: F811
    platform = alliance["platform"].headers
    assert moves(client, platform, {"moves": []}, key="k-1").status_code == 422
    assert not IdempotentRequest.select().exists()  # refused whole: the key stays free
    body = {"moves": [{"item": filed[0], "to": "acknowledged"}]}
    assert moves(client, platform, body, key="k-1").json["moved"] == 1
    IdempotentRequest.update(created_at=utcnow() - timedelta(hours=24, minutes=1)).execute()
    later = moves(client, platform, {"moves": [{"item": filed[1], "to": "acknowledged"}]}, key="k-1")
    assert later.status_code == 200 and later.json["moved"] == 1 and "Idempotent-Replayed" not in later.headers
    IdempotentRequest.update(created_at=utcnow() - timedelta(hours=25)).execute()
    assert forget_expired() == 1 and not IdempotentRequest.select().exists()


@pytest.mark.parametrize("key", ["", "a" * 256, "with space", "caf\u00e9"])
def test_a_malformed_idempotency_key_is_422_and_nothing_moves(client, alliance, filed, key):  # noqa: F811
    headers = dict(alliance["platform"].headers, **{"Idempotency-Key": key.encode("utf-8").decode("latin-1")})
    response = client.post("/api/v1/notice-items/transitions", headers=headers,
                           json={"moves": [{"item": filed[0], "to": "acknowledged"}]})
    assert response.status_code == 422 and "Idempotency-Key" in response.get_data(as_text=True)
    assert NoticeItem.get_by_id(filed[0]).state == "submitted"


def test_a_key_whose_first_call_is_still_running_is_409(client, alliance, filed):  # noqa: F811
    platform = alliance["platform"].headers
    body = {"moves": [{"item": filed[0], "to": "acknowledged"}]}
    assert moves(client, platform, body, key="k-2").status_code == 200
    IdempotentRequest.update(status=0, body="").execute()  # as while the first call runs
    response = moves(client, platform, body, key="k-2")
    assert response.status_code == 409 and response.json["code"] == "idempotency_key_in_progress"
    IdempotentRequest.update(created_at=utcnow() - timedelta(minutes=11)).execute()  # that call died
    retaken = moves(client, platform, body, key="k-2")
    assert retaken.status_code == 200 and retaken.json["results"][0]["status"] == 409  # already acknowledged


def test_analysts_claim_and_release_listings_and_filter_on_them(client, world, alliance, filed):  # noqa: F811
    alibaba = alliance["platform"].org
    ana, ben = world.person(alibaba, "analyst"), world.person(alibaba, "analyst", email="ben@alibaba.example")
    as_ana = user_token(alibaba, ana, "ana-token")
    claimed = client.post("/api/v1/notice-items/assignments", headers=as_ana,
                          json={"items": filed[:2], "assignee": "me"})
    assert claimed.status_code == 200 and claimed.json["assigned"] == 2 and claimed.json["assignee"]["id"] == ana.id
    handed = client.post("/api/v1/notice-items/assignments", headers=as_ana,
                         json={"items": [filed[2]], "assignee": ben.id})
    assert handed.status_code == 200
    ids = lambda page: sorted(item["id"] for item in page["items"])  # noqa: E731
    assert ids(listings(client, as_ana, assigned="me")) == filed[:2]
    assert ids(listings(client, as_ana, assigned=str(ben.id))) == [filed[2]]
    assert ids(listings(client, as_ana, assigned="none")) == filed[3:]
    assert ids(listings(client, as_ana, assigned="any")) == filed[:3]
    page = {item["id"]: item for item in listings(client, as_ana)["items"]}
    assert page[filed[0]]["assignee"]["id"] == ana.id and page[filed[0]]["assigned_at"]
    # The brand never sees who works its listings.
    assert all(item["assignee"] is None and item["assigned_at"] is None
               for item in listings(client, alliance["brand"].headers)["items"])
    released = client.post("/api/v1/notice-items/assignments", headers=as_ana,
                           json={"items": [filed[0]], "assignee": None})
    assert released.status_code == 200 and released.json["assignee"] is None
    assert NoticeItem.get_by_id(filed[0]).assignee_id is None
    actions = [e.action for e in AuditEvent.select().where(AuditEvent.org == alibaba).order_by(AuditEvent.seq)]
    assert actions[-3:] == ["notice_item.assigned", "notice_item.assigned", "notice_item.released"]


def test_assignment_refusals_assign_nothing(client, world, alliance, filed):  # noqa: F811
    alibaba, lv = alliance["platform"].org, alliance["brand"].org
    ana = world.person(alibaba, "analyst")
    viewer = world.person(alibaba, "viewer")
    outsider = world.person(world.org("Shopmart", kind="platform"), "analyst")
    brand_user = world.person(lv, "analyst")
    platform = alliance["platform"].headers

    def assign(headers, items, assignee):
        return client.post("/api/v1/notice-items/assignments", headers=headers,
                           json={"items": items, "assignee": assignee})

    for assignee in (viewer.id, outsider.id, brand_user.id, 987654321, "someone", True):
        response = assign(platform, filed[:1], assignee)
        assert response.status_code == 422 and response.mimetype == PROBLEM, assignee
    assert assign(platform, filed[:1], "me").status_code == 422  # a client-credentials token is nobody
    assert assign(platform, filed[:1] + [987654321], ana.id).status_code == 404  # all or none
    assert assign(alliance["brand"].headers, filed[:1], None).status_code == 403
    assert not NoticeItem.select().where(NoticeItem.assignee.is_null(False)).exists()
    assert client.get("/api/v1/notice-items", headers=alliance["brand"].headers,
                      query_string={"assigned": "none"}).status_code == 422


def test_a_move_takes_its_ground_from_a_template_of_the_platform(client, world, alliance, filed):  # noqa: F811
    from portal.audit import acting_as
    from portal.notices import grounds
    alibaba = alliance["platform"].org
    with acting_as("test"):
        removal = grounds.create_template(alibaba, {"move": "removed", "title": "Logo",
                                                    "text": "Counterfeit: the logo differs from the genuine one.",
                                                    "redress": "Appeal at https://ipp.example/appeal"})
        question = grounds.create_template(alibaba, {"move": "info_requested", "title": "Certificate",
                                                     "text": "Send the registration certificate."})
        other = world.org("Shopmart", kind="platform")
        world.marketplace(other, "Shopmart CN")
        foreign = grounds.create_template(other, {"move": "removed", "title": "Theirs", "text": "Not yours."})
    platform = alliance["platform"].headers
    listed = client.get("/api/v1/notice-items/grounds", headers=platform, query_string={"move": "removed"}).json
    assert [t["id"] for t in listed["items"]] == [removal.id]
    result = moves(client, platform, {"moves": [
        {"item": filed[0], "to": "removed", "ground": removal.id},
        {"item": filed[1], "to": "removed", "ground": question.id},  # a question is no removal ground
        {"item": filed[2], "to": "removed", "ground": foreign.id},  # another platform's
        {"item": filed[3], "to": "removed", "ground": removal.id, "reason": "typed too"}]}).json
    assert [r["status"] for r in result["results"]] == [200, 422, 422, 422]
    assert {e["field"] for r in result["results"][1:] for e in r["errors"]} == {"ground"}
    last = Transition.select().where(Transition.item == filed[0]).order_by(Transition.id.desc()).get()
    assert (last.reason, last.redress) == (removal.text, removal.redress)
    # Changing the template later never changes the decision made with it.
    with acting_as("test"):
        grounds.update_template(removal, {"move": "removed", "title": "Logo", "text": "Another text."})
        grounds.delete_template(grounds.get_template(alibaba, removal.id))
    assert Transition.get_by_id(last.id).reason == "Counterfeit: the logo differs from the genuine one."
    assert client.get("/api/v1/notice-items/grounds", headers=alliance["brand"].headers).json == {"items": []}
