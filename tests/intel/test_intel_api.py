"""/api/v1/intel: flags (create, list and filters, read, change, withdraw), sightings, evidence and seller
profiles, with real client credentials tokens from the token endpoint. Visibility is the point: a flag an
org may not see is a 404 everywhere and absent from its lists, and members of a hidden group never learn
of one another."""
import hashlib
import io
from datetime import datetime

import pytest

from portal.audit import AuditEvent, acting_as
from portal.intel.models import Flag, FlagEvidence, Sighting
from portal.notices.models import NoticeItem
from tests.conftest import count_queries
from tests.platform.test_api import PROBLEM, bearer, client_token

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
FLAGS = "/api/v1/intel/flags"
INTEL = "intel:read intel:write"


class Side:
    def __init__(self, org, token):
        self.org, self.token = org, token

    @property
    def headers(self):
        return bearer(self.token)


@pytest.fixture
def alliance(client, world):
    """Alibaba (a platform running Taobao and Tmall) and three brands, Louis Vuitton, Swarovski and
    Microsoft; each with a token holding intel:read and intel:write."""
    alibaba = world.org("Alibaba", kind="platform")
    world.marketplace(alibaba, "Taobao")
    world.marketplace(alibaba, "Tmall")
    orgs = {"alibaba": alibaba, "lv": world.org("Louis Vuitton"), "swarovski": world.org("Swarovski"),
            "microsoft": world.org("Microsoft")}
    return {key: Side(org, client_token(client, org, INTEL)) for key, org in orgs.items()}


def flag_json(seller_id="shop-1", **more):
    body = {"marketplace": "taobao", "seller_id": seller_id, "category": "suspected_counterfeit",
            "tlp": "green", "distribution": "alliance"}
    body.update(more)
    return body


def raise_flag(client, side, seller_id="shop-1", **more):
    response = client.post(FLAGS, headers=side.headers, json=flag_json(seller_id, **more))
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.json


def listed(client, side, query=""):
    response = client.get(f"{FLAGS}?{query}", headers=side.headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return [flag["id"] for flag in response.json["items"]]


def problem(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    return response.json


def fields_of(body):
    return {error["field"] for error in body.get("errors", [])}


def evidence_upload(content=PDF, name="test-buy.pdf"):
    return {"data": {"file": (io.BytesIO(content), name)}, "content_type": "multipart/form-data"}


# --- creating and reading ----------------------------------------------------------------------------

def test_flag_a_seller_and_read_it_back(client, world, alliance):
    lv, alibaba = alliance["lv"], alliance["alibaba"]
    notice = world.notice(lv.org, world.partnership(lv.org, alibaba.org),
                          [("https://item.taobao.com/item.htm?id=1", "shop.fake-7")]).notice
    response = client.post(FLAGS, headers=lv.headers, json=flag_json(
        "shop.fake-7", category="counterfeit_confirmed", confidence="high", tlp="amber", distribution="group",
        share_with=["swarovski", "alibaba"], show_group=False, display_name="LV Outlet Store",
        shop_url="https://shop.taobao.com/fake-7", notes="Test buy TB-1 confirmed fakes.",
        identifiers=[{"kind": "email", "value": " Sales@Fake-Shop.Example "},
                     {"kind": "domain", "value": "https://www.Fake-Shop.example/about"}],
        notices=[notice.id]))
    assert response.status_code == 201, response.json
    body = response.json
    assert response.headers["Location"].endswith(f"{FLAGS}/{body['id']}")
    assert body["reference"] == f"F-{body['id']:06d}"
    assert body["owner"] == {"slug": "louis-vuitton", "name": "Louis Vuitton"} and body["mine"] is True
    assert body["seller"] == {"marketplace": "taobao", "seller_id": "shop.fake-7",
                              "profile": "/api/v1/intel/sellers/taobao/shop.fake-7"}
    assert (body["category"], body["confidence"], body["tlp"], body["tlp_label"], body["distribution"]) == \
        ("counterfeit_confirmed", "high", "amber", "TLP:AMBER", "group")
    assert body["shared_with"] == ["alibaba", "swarovski"] and body["show_group"] is False
    assert (body["display_name"], body["shop_url"], body["notes"]) == \
        ("LV Outlet Store", "https://shop.taobao.com/fake-7", "Test buy TB-1 confirmed fakes.")
    assert body["identifiers"] == [{"kind": "domain", "value": "fake-shop.example"},
                                   {"kind": "email", "value": "sales@fake-shop.example"}]
    assert (body["status"], body["withdrawn_reason"], body["withdrawn_at"]) == ("active", "", None)
    assert body["created_at"].endswith("+00:00") and body["updated_at"] == body["created_at"]
    assert body["evidence"] == [] and body["sightings"] == []
    assert body["notices"] == [{"id": notice.id, "reference": notice.reference}]
    # Read back: the owner sees what it was answered; the notice is shown to those who may read it.
    assert client.get(f"{FLAGS}/{body['id']}", headers=lv.headers).json == body
    platform_view = client.get(f"{FLAGS}/{body['id']}", headers=alibaba.headers).json
    assert platform_view["mine"] is False and platform_view["notices"] == body["notices"]  # sent to Alibaba
    brand_view = client.get(f"{FLAGS}/{body['id']}", headers=alliance["swarovski"].headers).json
    assert brand_view["notices"] == [] and brand_view["mine"] is False
    assert brand_view["shared_with"] == ["swarovski"]  # a hidden group: only itself
    assert AuditEvent.for_org(lv.org).where(AuditEvent.action == "intel.flag.created").count() == 1


def test_platforms_flag_too_and_confidence_defaults_to_medium(client, alliance):
    body = raise_flag(client, alliance["alibaba"], "repeat-shop", category="repeat_infringer")
    assert body["owner"]["slug"] == "alibaba" and body["confidence"] == "medium" and body["shared_with"] is None
    assert body["id"] in listed(client, alliance["lv"])


@pytest.mark.parametrize("tlp, distribution", [("red", "alliance"), ("amber+strict", "alliance"), ("clear", "own")])
def test_contradicting_label_and_distribution_are_422(client, alliance, tlp, distribution):
    response = client.post(FLAGS, headers=alliance["lv"].headers, json=flag_json(tlp=tlp, distribution=distribution))
    body = problem(response, 422)
    assert fields_of(body) == {"tlp"} and "TLP:" in body["errors"][0]["message"]
    assert not Flag.select().exists()


@pytest.mark.parametrize("changes, field", [
    ({"distribution": "group", "tlp": "amber"}, "share_with"),                      # a group names someone
    ({"share_with": ["swarovski"]}, "share_with"),                                  # only a group names orgs
    ({"distribution": "group", "tlp": "amber", "share_with": ["nobody-here"]}, "share_with"),
    ({"marketplace": "nowhere"}, "marketplace"),
    ({"category": "fake"}, "category"),
    ({"tlp": "TLP:RED"}, "tlp"),
    ({"distribution": "everyone"}, "distribution"),
    ({"identifiers": [{"kind": "email", "value": "not-an-address"}]}, "identifiers"),  # the field the client sent
    ({"identifiers": [{"kind": "fax", "value": "123"}]}, "identifiers.0.kind"),
    ({"identifiers": {"email": "a@b.example"}}, "identifiers"),
    ({"shop_url": "javascript:alert(1)"}, "shop_url"),
    ({"seller_id": "x" * 201}, "seller_id"),
    ({"seller_id": "   "}, "seller_id"),
    ({"notices": [1]}, "notices"),
    ({"notices": ["x"]}, "notices.0"),
    ({"show_group": "maybe"}, "show_group"),
    ({"confidence": 5}, "confidence"),
    ({"sellerid": "typo"}, "sellerid"),
])
def test_bad_flag_fields_are_422_naming_them(client, alliance, changes, field):
    response = client.post(FLAGS, headers=alliance["lv"].headers, json=flag_json(**changes))
    body = problem(response, 422)
    assert field in fields_of(body), body
    assert not Flag.select().exists()


def test_notices_of_another_org_cannot_back_a_flag(client, world, alliance):
    swarovski, alibaba = alliance["swarovski"], alliance["alibaba"]
    theirs = world.notice(swarovski.org, world.partnership(swarovski.org, alibaba.org),
                          ["https://item.taobao.com/item.htm?id=5"]).notice
    body = problem(client.post(FLAGS, headers=alliance["lv"].headers, json=flag_json(notices=[theirs.id])), 422)
    assert fields_of(body) == {"notices"}


def test_one_active_flag_per_seller_is_409_until_withdrawn(client, alliance):
    lv = alliance["lv"]
    first = raise_flag(client, lv, "shop-1")
    again = problem(client.post(FLAGS, headers=lv.headers, json=flag_json(" shop-1 ")), 409)
    assert first["reference"] in again["detail"]
    raise_flag(client, alliance["swarovski"], "shop-1")  # another org may flag the same seller
    assert client.delete(f"{FLAGS}/{first['id']}", headers=lv.headers).status_code == 200
    assert raise_flag(client, lv, "shop-1")["id"] != first["id"]


# --- the list ----------------------------------------------------------------------------------------

def test_list_filters(client, world, alliance):
    lv, swarovski, alibaba = alliance["lv"], alliance["swarovski"], alliance["alibaba"]
    a = raise_flag(client, lv, "shop-a", display_name="Crystal Palace", category="counterfeit_confirmed")
    b = raise_flag(client, lv, "shop-b", tlp="amber+strict", distribution="group", share_with=["swarovski"],
                   identifiers=[{"kind": "payment", "value": "PayPal.Me/FakeBags"}])
    c = raise_flag(client, swarovski, "shop-a", marketplace="tmall")
    d = raise_flag(client, alibaba, "shop-d", tlp="red", distribution="group", share_with=["louis-vuitton"])
    withdrawn = raise_flag(client, lv, "shop-w")
    client.delete(f"{FLAGS}/{withdrawn['id']}?reason=Authorized+reseller", headers=lv.headers)

    assert listed(client, lv) == [a["id"], b["id"], c["id"], d["id"]]  # active by default, in id order
    assert listed(client, lv, "status=withdrawn") == [withdrawn["id"]]
    assert listed(client, lv, "status=all") == [a["id"], b["id"], c["id"], d["id"], withdrawn["id"]]
    assert listed(client, lv, "owner=mine") == [a["id"], b["id"]]
    assert listed(client, lv, "owner=others") == [c["id"], d["id"]]
    assert listed(client, lv, "category=counterfeit_confirmed") == [a["id"]]
    assert listed(client, lv, "tlp=amber%2Bstrict") == [b["id"]]
    assert listed(client, lv, "tlp=red") == [d["id"]]
    assert listed(client, lv, "marketplace=tmall") == [c["id"]]
    assert listed(client, lv, "marketplace=TAOBAO&seller_id=shop-a") == [a["id"]]
    assert listed(client, lv, "seller_id=shop-a") == [a["id"], c["id"]]
    assert listed(client, lv, "seller_id=never-flagged") == []
    assert listed(client, lv, "q=crystal") == [a["id"]]
    assert listed(client, lv, "q=fakebags") == [b["id"]]  # an identifier
    # Alibaba sees neither LV's group flag nor anything about it.
    assert listed(client, alibaba, "status=all") == [a["id"], c["id"], d["id"], withdrawn["id"]]
    assert listed(client, alibaba, "q=fakebags") == [] and listed(client, alibaba, "seller_id=shop-b") == []
    # The lighter list body: no sightings, evidence, notices or group.
    item = client.get(f"{FLAGS}?seller_id=shop-b", headers=lv.headers).json["items"][0]
    assert item["identifiers"] == [{"kind": "payment", "value": "paypal.me/fakebags"}]
    assert not {"sightings", "evidence", "notices", "shared_with"} & set(item)
    assert item["seller"]["profile"] == "/api/v1/intel/sellers/taobao/shop-b"
    # Pages continue after the last id seen.
    first = client.get(f"{FLAGS}?limit=3&status=all", headers=lv.headers).json
    second = client.get(f"{FLAGS}?limit=3&status=all&cursor={first['next_cursor']}", headers=lv.headers).json
    assert [f["id"] for f in first["items"] + second["items"]] == listed(client, lv, "status=all")
    assert second["next_cursor"] is None


@pytest.mark.parametrize("query, field", [("status=expired", "status"), ("owner=everyone", "owner"),
                                          ("category=fake", "category"), ("tlp=purple", "tlp"),
                                          ("tlp=amber+strict", "tlp"),  # an unencoded + is a space
                                          ("marketplace=nowhere", "marketplace"), ("limit=0", "limit"),
                                          ("cursor=abc", "cursor"), ("sort=id", "sort"),
                                          ("q=%00", "q"), ("seller_id=" + "x" * 201, "seller_id")])
def test_bad_list_parameters_are_refused(client, alliance, query, field):
    raise_flag(client, alliance["lv"])
    response = client.get(f"{FLAGS}?{query}", headers=alliance["lv"].headers)
    body = problem(response, 422)  # NUL characters too, before any view runs
    assert fields_of(body) == {field}
    if field in ("status", "owner", "category"):
        assert "Must be one of" in body["errors"][0]["message"]
    if field == "marketplace":
        assert "nowhere" in body["errors"][0]["message"]




def test_the_list_does_not_query_per_flag(client, world, alliance):
    lv = alliance["lv"]

    def flags(count, start):
        for n in range(start, start + count):
            world.flag(alliance["swarovski"].org if n % 2 else alliance["alibaba"].org, f"shop-{n}",
                       "tmall" if n % 3 else "taobao", identifiers={"email": f"boss{n}@fakes.example"})
    flags(3, 0)
    small, few = count_queries(lambda: client.get(f"{FLAGS}?q=fakes", headers=lv.headers))
    flags(27, 3)
    large, many = count_queries(lambda: client.get(f"{FLAGS}?q=fakes", headers=lv.headers))
    assert len(small.json["items"]) == 3 and len(large.json["items"]) == 30
    assert many == few, (few, many)


# --- visibility --------------------------------------------------------------------------------------

def test_a_red_own_flag_is_404_for_everyone_else_on_every_endpoint(client, alliance):
    lv, swarovski = alliance["lv"], alliance["swarovski"]
    secret = raise_flag(client, lv, "secret-shop", tlp="red", distribution="own", display_name="Hidden Name",
                        notes="Our investigator's lead.")
    url = f"{FLAGS}/{secret['id']}"
    for side in (swarovski, alliance["alibaba"]):
        for response in (client.get(url, headers=side.headers),
                         client.patch(url, headers=side.headers, json={"notes": "Hacked"}),
                         client.delete(url, headers=side.headers),
                         client.delete(f"{url}?reason=gone", headers=side.headers),
                         client.post(f"{url}/sightings", headers=side.headers, json={"kind": "false_positive"}),
                         client.post(f"{url}/evidence", headers=side.headers, **evidence_upload()),
                         client.get("/api/v1/intel/sellers/taobao/secret-shop", headers=side.headers)):
            body = problem(response, 404)
            text = response.get_data(as_text=True)
            assert "Hidden Name" not in text and "investigator" not in text and "louis" not in text.lower()
            assert body == {"type": "about:blank", "title": "Not Found", "status": 404,
                            "detail": "No such page or object in your organization."}
        assert listed(client, side, "status=all") == []
        assert listed(client, side, "q=hidden") == [] and listed(client, side, "seller_id=secret-shop") == []
    # Exactly as a flag that does not exist.
    assert problem(client.get(f"{FLAGS}/{secret['id'] + 1000}", headers=swarovski.headers), 404) == \
        problem(client.get(url, headers=swarovski.headers), 404)
    # Nothing changed; the owner reads it.
    flag = Flag.get_by_id(secret["id"])
    assert (flag.status, flag.notes) == ("active", "Our investigator's lead.")
    assert not Sighting.select().exists() and not FlagEvidence.select().exists()
    assert client.get(url, headers=lv.headers).json["notes"] == "Our investigator's lead."


def test_members_of_a_hidden_group_never_learn_of_one_another(client, alliance):
    lv, swarovski, microsoft = alliance["lv"], alliance["swarovski"], alliance["microsoft"]
    hidden = raise_flag(client, lv, "shop-h", tlp="amber", distribution="group",
                        share_with=["swarovski", "microsoft"])
    shown = raise_flag(client, lv, "shop-s", tlp="amber", distribution="group",
                       share_with=["swarovski", "microsoft"], show_group=True)
    for flag in (hidden, shown):
        response = client.post(f"{FLAGS}/{flag['id']}/sightings", headers=microsoft.headers,
                               json={"kind": "seen", "note": "Our fakes too."})
        assert response.status_code == 201
    body = client.get(f"{FLAGS}/{hidden['id']}", headers=swarovski.headers)
    assert body.json["shared_with"] == ["swarovski"] and body.json["sightings"] == []
    assert "microsoft" not in body.get_data(as_text=True).lower()
    profile = client.get("/api/v1/intel/sellers/taobao/shop-h", headers=swarovski.headers)
    assert profile.status_code == 200 and profile.json["sightings"] == []
    assert "microsoft" not in profile.get_data(as_text=True).lower()
    # Shown: they see each other and each other's sightings; the owner always sees everything.
    body = client.get(f"{FLAGS}/{shown['id']}", headers=swarovski.headers).json
    assert body["shared_with"] == ["microsoft", "swarovski"] and body["show_group"] is True
    assert [(s["org"], s["kind"], s["note"]) for s in body["sightings"]] == [("microsoft", "seen", "Our fakes too.")]
    owner = client.get(f"{FLAGS}/{hidden['id']}", headers=lv.headers).json
    assert owner["shared_with"] == ["microsoft", "swarovski"]
    assert [s["org"] for s in owner["sightings"]] == ["microsoft"]
    # Microsoft sees its own sighting on the hidden group's flag.
    assert [s["org"] for s in client.get(f"{FLAGS}/{hidden['id']}", headers=microsoft.headers).json["sightings"]] \
        == ["microsoft"]


# --- changing and withdrawing ------------------------------------------------------------------------

def test_patch_changes_only_the_fields_given(client, alliance):
    lv = alliance["lv"]
    flag = raise_flag(client, lv, notes="First notes.", display_name="Shop One",
                      identifiers=[{"kind": "phone", "value": "+86 138 0013 8000"}])
    response = client.patch(f"{FLAGS}/{flag['id']}", headers=lv.headers,
                            json={"confidence": "high", "identifiers": [{"kind": "email", "value": "A@B.example"}]})
    assert response.status_code == 200, response.json
    body = response.json
    assert (body["confidence"], body["notes"], body["display_name"]) == ("high", "First notes.", "Shop One")
    assert body["identifiers"] == [{"kind": "email", "value": "a@b.example"}]  # the list is replaced
    assert body["updated_at"] > body["created_at"] and body == client.get(f"{FLAGS}/{flag['id']}",
                                                                         headers=lv.headers).json
    empty = problem(client.patch(f"{FLAGS}/{flag['id']}", headers=lv.headers, json={}), 422)
    assert empty["errors"] == [{"field": "_schema", "message": "Give at least one field to change."}]
    for change, field in (({"seller_id": "other"}, "seller_id"), ({"tlp": "red"}, "tlp"),
                          ({"notes": None}, "notes"), ({"share_with": "swarovski"}, "share_with")):
        assert field in fields_of(problem(client.patch(f"{FLAGS}/{flag['id']}", headers=lv.headers, json=change),
                                          422))
    assert Flag.get_by_id(flag["id"]).tlp == "green"  # the refused changes changed nothing


def test_narrowing_the_distribution_hides_the_flag_from_those_left_out(client, alliance):
    lv, swarovski, microsoft = alliance["lv"], alliance["swarovski"], alliance["microsoft"]
    flag = raise_flag(client, lv, "shop-n", display_name="Narrowed")
    url = f"{FLAGS}/{flag['id']}"
    assert client.get(url, headers=swarovski.headers).status_code == 200
    response = client.patch(url, headers=lv.headers, json={"tlp": "amber", "distribution": "group",
                                                           "share_with": ["microsoft"]})
    assert response.status_code == 200 and response.json["shared_with"] == ["microsoft"]
    problem(client.get(url, headers=swarovski.headers), 404)
    assert listed(client, swarovski, "status=all") == []
    problem(client.get("/api/v1/intel/sellers/taobao/shop-n", headers=swarovski.headers), 404)
    assert client.get(url, headers=microsoft.headers).json["shared_with"] == ["microsoft"]
    # A contradiction on the way is refused and changes nothing.
    refused = problem(client.patch(url, headers=lv.headers, json={"tlp": "red", "distribution": "alliance"}), 422)
    assert fields_of(refused) == {"tlp"}
    assert client.get(url, headers=lv.headers).json["distribution"] == "group"


def test_only_the_owner_changes_withdraws_or_adds_evidence(client, alliance):
    lv, swarovski = alliance["lv"], alliance["swarovski"]
    flag = raise_flag(client, lv)
    url = f"{FLAGS}/{flag['id']}"
    for response in (client.patch(url, headers=swarovski.headers, json={"notes": "Mine now"}),
                     client.delete(url, headers=swarovski.headers),
                     client.post(f"{url}/evidence", headers=swarovski.headers, **evidence_upload())):
        body = problem(response, 403)
        assert "Louis Vuitton" in body["detail"] and "sighting" in body["detail"] and "scope" not in body
    stored = Flag.get_by_id(flag["id"])
    assert (stored.status, stored.notes) == ("active", "") and not FlagEvidence.select().exists()


def test_withdrawing_keeps_the_flag_visible_marked_withdrawn(client, alliance):
    lv, swarovski = alliance["lv"], alliance["swarovski"]
    flag = raise_flag(client, lv)
    url = f"{FLAGS}/{flag['id']}"
    response = client.delete(f"{url}?reason=An%20authorized%20reseller%20after%20all.", headers=lv.headers)
    assert response.status_code == 200, response.json
    body = response.json
    assert (body["status"], body["withdrawn_reason"]) == ("withdrawn", "An authorized reseller after all.")
    assert body["withdrawn_at"].endswith("+00:00")
    seen = client.get(url, headers=swarovski.headers).json
    assert (seen["status"], seen["withdrawn_reason"]) == ("withdrawn", "An authorized reseller after all.")
    assert listed(client, swarovski) == [] and listed(client, swarovski, "status=withdrawn") == [flag["id"]]
    assert "withdrawn" in problem(client.delete(url, headers=lv.headers), 409)["detail"]
    problem(client.patch(url, headers=lv.headers, json={"notes": "Late"}), 409)
    problem(client.post(f"{url}/evidence", headers=lv.headers, **evidence_upload()), 409)
    problem(client.post(f"{url}/sightings", headers=swarovski.headers, json={"kind": "seen"}), 409)
    assert fields_of(problem(client.delete(f"{url}?reason=" + "x" * 5001, headers=lv.headers), 422)) == {"reason"}
    assert fields_of(problem(client.delete(f"{url}?why=x", headers=lv.headers), 422)) == {"why"}


# --- sightings and evidence --------------------------------------------------------------------------

def test_sightings(client, alliance):
    lv, swarovski = alliance["lv"], alliance["swarovski"]
    flag = raise_flag(client, lv)
    url = f"{FLAGS}/{flag['id']}/sightings"
    response = client.post(url, headers=swarovski.headers, json={
        "kind": "seen", "note": "Selling fake crystals too.", "listing_url": "https://item.taobao.com/item.htm?id=9"})
    assert response.status_code == 201, response.json
    sighting = response.json
    assert (sighting["flag"], sighting["org"], sighting["kind"], sighting["note"], sighting["listing_url"]) == \
        (flag["id"], "swarovski", "seen", "Selling fake crystals too.", "https://item.taobao.com/item.htm?id=9")
    assert sighting["created_at"].endswith("+00:00")
    assert client.get(f"{FLAGS}/{flag['id']}", headers=lv.headers).json["sightings"] == [sighting]
    assert "your organization's flag" in problem(client.post(url, headers=lv.headers, json={"kind": "seen"}),
                                                 409)["detail"]
    for body, field in (({"kind": "maybe"}, "kind"), ({"kind": "seen", "listing_url": "not a url"}, "listing_url"),
                        ({}, "kind"), ({"kind": "seen", "note": "x" * 5001}, "note"),
                        ({"kind": "seen", "by": "someone"}, "by")):
        assert fields_of(problem(client.post(url, headers=swarovski.headers, json=body), 422)) == {field}
    assert Sighting.select().count() == 1


def test_evidence(app, client, alliance, monkeypatch):
    lv, swarovski = alliance["lv"], alliance["swarovski"]
    flag = raise_flag(client, lv)
    url = f"{FLAGS}/{flag['id']}/evidence"
    response = client.post(url, headers=lv.headers, **evidence_upload())
    assert response.status_code == 201, response.json
    evidence = response.json
    assert (evidence["name"], evidence["size"], evidence["content_type"]) == ("test-buy.pdf", len(PDF),
                                                                               "application/pdf")
    assert evidence["sha256"] == hashlib.sha256(PDF).hexdigest()
    # Every reader sees what evidence there is.
    assert client.get(f"{FLAGS}/{flag['id']}", headers=swarovski.headers).json["evidence"] == [evidence]
    refused = problem(client.post(url, headers=lv.headers, **evidence_upload(b"just text", "notes.txt")), 422)
    assert fields_of(refused) == {"file"}
    not_a_file = problem(client.post(url, headers=lv.headers, data={"file": "text"},
                                     content_type="multipart/form-data"), 422)
    assert fields_of(not_a_file) == {"file"}
    monkeypatch.setitem(app.config, "NOTICE_EVIDENCE_MAX_BYTES", 10)
    too_large = problem(client.post(url, headers=lv.headers, **evidence_upload()), 422)
    assert fields_of(too_large) == {"file"} and "limit" in too_large["errors"][0]["message"]
    assert FlagEvidence.select().count() == 1


# --- scopes ------------------------------------------------------------------------------------------

def test_a_read_token_cannot_write_and_a_write_token_cannot_read(client, alliance):
    lv = alliance["lv"]
    flag = raise_flag(client, lv)
    url = f"{FLAGS}/{flag['id']}"
    reader = bearer(client_token(client, lv.org, "intel:read"))
    for response in (client.post(FLAGS, headers=reader, json=flag_json("shop-2")),
                     client.patch(url, headers=reader, json={"notes": "x"}),
                     client.delete(url, headers=reader),
                     client.post(f"{url}/sightings", headers=reader, json={"kind": "seen"}),
                     client.post(f"{url}/evidence", headers=reader, **evidence_upload())):
        body = problem(response, 403)
        assert (body["error"], body["scope"]) == ("insufficient_scope", "intel:write")
    assert client.get(url, headers=reader).status_code == 200
    writer = bearer(client_token(client, lv.org, "intel:write notices:read"))
    for path in (FLAGS, url, "/api/v1/intel/sellers/taobao/shop-1"):
        assert problem(client.get(path, headers=writer), 403)["scope"] == "intel:read"
    problem(client.get(FLAGS), 401)
    assert Flag.select().count() == 1 and Flag.get().notes == ""


# --- seller profiles ---------------------------------------------------------------------------------

def remove(app, item, platform):
    from portal.notices.services import transition
    with app.app_context(), acting_as("test"):
        return transition(item, platform, "removed", reason="Counterfeit confirmed.")


def test_seller_profile(app, client, world, alliance):
    lv, swarovski, microsoft, alibaba = (alliance[k] for k in ("lv", "swarovski", "microsoft", "alibaba"))
    partnership = world.partnership(lv.org, alibaba.org)
    world.partnership(swarovski.org, alibaba.org)  # Swarovski partners on Taobao too; Microsoft does not
    seller = "shop.fake/7-a"
    filed = world.notice(lv.org, partnership, [("https://item.taobao.com/item.htm?id=71", seller),
                                               ("https://item.taobao.com/item.htm?id=72", "someone-else")])
    item = NoticeItem.get((NoticeItem.notice == filed.notice) & (NoticeItem.seller_id == seller))
    remove(app, item, alibaba.org)
    flag = raise_flag(client, lv, seller, display_name="Fake Seven",
                      identifiers=[{"kind": "email", "value": "boss@fakes.example"}])
    raise_flag(client, lv, "shop-8", identifiers=[{"kind": "email", "value": "boss@fakes.example"}])
    raise_flag(client, microsoft, "shop-9", tlp="red", distribution="own",
               identifiers=[{"kind": "email", "value": "boss@fakes.example"}])
    client.post(f"{FLAGS}/{flag['id']}/sightings", headers=swarovski.headers, json={"kind": "seen"})
    path = "/api/v1/intel/sellers/taobao/shop.fake/7-a"
    assert flag["seller"]["profile"] == path

    body = client.get(path, headers=lv.headers).json
    assert (body["marketplace"], body["seller_id"], body["names"]) == ("taobao", seller, ["Fake Seven"])
    assert [f["id"] for f in body["flags"]] == [flag["id"]] and body["flags"][0]["mine"] is True
    assert [(s["org"], s["kind"], s["flag"]) for s in body["sightings"]] == [("swarovski", "seen", flag["id"])]
    assert body["notice_items"] == [{"notice": filed.notice.reference, "notice_id": filed.notice.id,
                                     "item_id": item.id, "url": item.url, "state": "removed"}]
    strikes = body["strikes"]
    assert strikes["count_365_days"] == 1 and strikes["repeat_infringer_since"] is None
    assert [(s["listings"], s["voided_at"], s["notice"]) for s in strikes["strikes"]] == \
        [(1, None, filed.notice.reference)]
    assert body["linked"] == [{"marketplace": "taobao", "seller_id": "shop-8",
                               "profile": "/api/v1/intel/sellers/taobao/shop-8",
                               "shared": [{"kind": "email", "value": "boss@fakes.example"}]}]
    # Swarovski: partnered there, so it sees the strike, but not LV's notice or its items.
    theirs = client.get(path, headers=swarovski.headers).json
    assert theirs["notice_items"] == [] and [s["notice"] for s in theirs["strikes"]["strikes"]] == [None]
    assert filed.notice.reference not in client.get(path, headers=swarovski.headers).get_data(as_text=True)
    # The platform reads the notice sent to it; Microsoft, without a partnership, sees no strikes, and its
    # own hidden flag links shop-9 for itself only.
    assert client.get(path, headers=alibaba.headers).json["strikes"]["strikes"][0]["notice"] == filed.notice.reference
    mine = client.get(path, headers=microsoft.headers).json
    assert mine["strikes"] is None and mine["notice_items"] == []
    assert {link["seller_id"] for link in mine["linked"]} == {"shop-8", "shop-9"}
    assert "shop-9" not in client.get(path, headers=lv.headers).get_data(as_text=True)


@pytest.mark.parametrize("path", ["/api/v1/intel/sellers/taobao/never-heard-of",
                                  "/api/v1/intel/sellers/nowhere/shop-1",
                                  "/api/v1/intel/sellers/taobao/" + "x" * 5000,
                                  "/api/v1/intel/sellers/" + "t" * 500 + "/shop-1",
                                  "/api/v1/intel/sellers/taobao/shop%011",
                                  "/api/v1/intel/sellers/taobao/",
                                  "/api/v1/intel/flags/99999999999999999999999",
                                  "/api/v1/intel/flags/0"])
def test_unknown_sellers_and_flags_are_404(client, alliance, path):
    raise_flag(client, alliance["lv"])
    problem(client.get(path, headers=alliance["lv"].headers), 404)


def test_seller_ids_are_found_as_given(client, alliance):
    lv = alliance["lv"]
    for seller in ("shop.v2", "-dash-", "a/b/c", "/lead", "a//b", "end/", "100%genuine", "shop 7", "店铺-9"):
        flag = raise_flag(client, lv, seller)
        response = client.get(flag["seller"]["profile"], headers=lv.headers)
        assert response.status_code == 200, (seller, flag["seller"]["profile"])
        assert response.json["seller_id"] == seller and [f["id"] for f in response.json["flags"]] == [flag["id"]]


# --- robustness --------------------------------------------------------------------------------------

@pytest.mark.parametrize("method, path, kwargs, status", [
    ("post", FLAGS, {"data": "not json", "content_type": "application/json"}, (400, 422)),
    ("post", FLAGS, {"json": ["a", "list"]}, (422,)),
    ("post", FLAGS, {"json": flag_json(seller_id="shop\u0000x")}, (422,)),
    ("post", FLAGS, {"json": flag_json(notices=[2**64])}, (422,)),
    ("post", FLAGS, {"json": flag_json(share_with=[{"slug": "x"}])}, (422,)),
    ("post", FLAGS, {"json": flag_json(identifiers=[["email", "a@b.example"]])}, (422,)),
    ("post", FLAGS, {"json": flag_json(display_name=12)}, (422,)),
    ("patch", f"{FLAGS}/1", {"json": {"notes": 1}}, (422,)),
    ("get", f"{FLAGS}?limit=99999999999999999999999", {}, (422,)),
    ("get", f"{FLAGS}?cursor=99999999999999999999", {}, (422,)),
    ("delete", f"{FLAGS}/99999999999999999999?reason=x", {}, (404,)),
])
def test_odd_input_is_a_problem_never_a_500(client, alliance, method, path, kwargs, status):
    response = getattr(client, method)(path, headers=alliance["lv"].headers, **kwargs)
    assert response.status_code in status and response.mimetype == PROBLEM, response.get_data(as_text=True)


# --- the story -------------------------------------------------------------------------------

def test_the_story_over_the_api(client, alliance):
    """Louis Vuitton flags a seller to the alliance; Swarovski sees it and adds a sighting; Microsoft's
    AMBER flag shared with Alibaba only stays invisible to Louis Vuitton everywhere."""
    lv, swarovski, microsoft, alibaba = (alliance[k] for k in ("lv", "swarovski", "microsoft", "alibaba"))
    lv_flag = raise_flag(client, lv, "luxury-outlet-88", category="counterfeit_confirmed", confidence="high",
                         display_name="Luxury Outlet 88", notes="Test buy confirmed counterfeit Neverfull bags.")
    found = client.get(f"{FLAGS}?owner=others&q=luxury", headers=swarovski.headers).json["items"]
    assert [(f["id"], f["owner"]["slug"], f["tlp_label"]) for f in found] == \
        [(lv_flag["id"], "louis-vuitton", "TLP:GREEN")]
    sighting = client.post(f"{FLAGS}/{lv_flag['id']}/sightings", headers=swarovski.headers,
                           json={"kind": "seen", "note": "Also sells fake Swarovski crystals."})
    assert sighting.status_code == 201
    assert [s["org"] for s in client.get(f"{FLAGS}/{lv_flag['id']}", headers=lv.headers).json["sightings"]] \
        == ["swarovski"]

    ms_flag = raise_flag(client, microsoft, "console-king", tlp="amber", distribution="group",
                         share_with=["alibaba"], display_name="Console King", category="counterfeit_confirmed")
    assert ms_flag["tlp_label"] == "TLP:AMBER" and ms_flag["shared_with"] == ["alibaba"]
    assert ms_flag["id"] in listed(client, alibaba)
    assert client.get(f"{FLAGS}/{ms_flag['id']}", headers=alibaba.headers).json["display_name"] == "Console King"
    assert client.get("/api/v1/intel/sellers/taobao/console-king", headers=alibaba.headers).status_code == 200
    for query in ("", "status=all", "q=console", "seller_id=console-king", "owner=others"):
        assert ms_flag["id"] not in listed(client, lv, query)
    problem(client.get(f"{FLAGS}/{ms_flag['id']}", headers=lv.headers), 404)
    problem(client.get("/api/v1/intel/sellers/taobao/console-king", headers=lv.headers), 404)
    problem(client.post(f"{FLAGS}/{ms_flag['id']}/sightings", headers=lv.headers, json={"kind": "seen"}), 404)
    assert datetime.fromisoformat(ms_flag["created_at"]) >= datetime.fromisoformat(lv_flag["created_at"])
