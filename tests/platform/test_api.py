"""The API foundation: bearer-only access, problem+json errors, scopes, tenancy, pagination, rate limits
and the OpenAPI document, through the Flask test client with real tokens from the token endpoint."""
import json
import re

import pytest
from flask import Flask
from marshmallow import Schema, fields

from portal import errors
from portal.access import access_rule_of
from portal.accounts.models import Marketplace
from portal.imports.models import ImportJob
from portal.marks.models import Mark
from portal.notices.models import Notice
from portal.partnerships.models import Partnership
from portal.api import PortalApi
from portal.api.auth import ApiBlueprint
from portal.oauth.models import Token
from tests.conftest import PASSWORD
from tests.oauth_helpers import register

PROBLEM = "application/problem+json"


def client_token(client, org, scope, requested=None):
    """A client credentials token for a new client of `org`, from the real token endpoint."""
    api_client, secret = register(org, scope)
    data = {"grant_type": "client_credentials"}
    if requested:
        data["scope"] = requested
    response = client.post("/oauth/token", data=data, auth=(api_client.client_id, secret))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json["access_token"]


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def platforms(world):
    """Two platforms with marketplaces, and a token of each holding notices:read."""
    alibaba, other = world.org("Alibaba", kind="platform"), world.org("Shopmart", kind="platform")
    for name, country in (("Taobao", "CN"), ("Tmall", "CN"), ("AliExpress", "CN")):
        world.marketplace(alibaba, name, country)
    world.marketplace(other, "Shopmart US", "US")
    return alibaba, other


# --- authentication -----------------------------------------------------------------------------------

def test_missing_token_is_401_with_a_challenge(client):
    response = client.get("/api/v1/me")
    assert response.status_code == 401 and response.mimetype == PROBLEM
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="alliance-portal"'
    body = response.json
    assert body["status"] == 401 and body["title"] == "Unauthorized" and "Bearer" in body["detail"]
    assert body["type"] == "about:blank"


@pytest.mark.parametrize("header", ["Bearer not-a-real-token", "Bearer ", "bearer x y", "Basic dXNlcjpwYXNz",
                                    "Bearer " + "a" * 5000])
def test_invalid_credentials_are_401_never_500(client, header):
    response = client.get("/api/v1/me", headers={"Authorization": header})
    assert response.status_code == 401 and response.mimetype == PROBLEM
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="alliance-portal"')


def test_a_token_in_the_query_string_is_not_accepted(client, world):
    token = client_token(client, world.org("Microsoft"), "reports:read")
    assert client.get(f"/api/v1/me?access_token={token}").status_code == 401


def test_session_cookies_do_not_authenticate_the_api(client, world):
    org = world.org("Microsoft")
    admin = world.person(org, "admin")
    client.sign_in(admin.email, PASSWORD)
    assert client.get("/").status_code == 200  # signed in on the web
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    token = client_token(client, org, "reports:read")
    # The session is never even loaded: loading it would record the browser as seen just now.
    from datetime import timedelta
    from portal.accounts.models import UserSession
    from portal.timeutil import utcnow
    earlier = utcnow() - timedelta(minutes=5)
    UserSession.update(last_seen_at=earlier).execute()
    ok = client.get("/api/v1/me", headers=bearer(token))
    assert ok.status_code == 200 and "Set-Cookie" not in ok.headers
    assert ok.json["user"] is None  # the browser's user did not leak into the token's request
    assert UserSession.get().last_seen_at == earlier


def test_revoked_client_tokens_stop_working(client, world):
    org = world.org("Microsoft")
    api_client, secret = register(org, "reports:read")
    token = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                        auth=(api_client.client_id, secret)).json["access_token"]
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    from portal.oauth.services import revoke_client
    revoke_client(api_client)
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401
    again = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                        auth=(api_client.client_id, secret))
    assert again.status_code in (400, 401) and again.json["error"] == "invalid_client"


def test_insufficient_scope_is_403_naming_the_scope(client, platforms):
    alibaba, _ = platforms
    token = client_token(client, alibaba, "reports:read")
    response = client.get("/api/v1/marketplaces", headers=bearer(token))
    assert response.status_code == 403 and response.mimetype == PROBLEM
    assert response.json["error"] == "insufficient_scope" and response.json["scope"] == "notices:read"
    assert "notices:read" in response.json["detail"]
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    assert 'scope="notices:read"' in response.headers["WWW-Authenticate"]


def test_a_demoted_users_token_loses_write_scopes(app, world):
    from portal.accounts import services
    from portal.accounts.models import Membership
    from portal.api.auth import require_token
    org = world.org("Microsoft")
    world.person(org, "admin")
    analyst = world.person(org, "analyst")
    api_client, _ = register(org, "marks:read marks:write")
    with app.app_context():
        Token.create(org=org, client=api_client, user=analyst, grant_type="authorization_code", family="f",
                     access_token_hash=services.token_digest("user-token"), scope="marks:read marks:write",
                     expires_in=3600)
    services.change_role(Membership.get(Membership.user == analyst.id), "viewer")
    with app.test_request_context("/api/v1/me", headers=bearer("user-token")):
        token = require_token.acquire_token(None)
        assert token.granted_scopes == ["marks:read"]


# --- tenancy ------------------------------------------------------------------------------------------

def bearer_rules(app):
    return [rule for rule in app.url_map.iter_rules()
            if rule.endpoint != "static" and access_rule_of(app.view_functions[rule.endpoint]).level == "bearer"]


def api_objects_of(org):
    """One object of `org` for each kind of API URL parameter (new parameters must be added here).
    Notices, their items and partnerships are read through the services' predicates, so a platform
    names the notices sent to it and the partnerships it is a side of. A flag is the org's first own flag
    (its seller gives `marketplace` and `seller_id`); `sighted_flag_id` is not a parameter but the flag of
    another org, visible to this one, that the sightings route is tried on (no org sights its own)."""
    from portal.intel.models import Flag, Screening
    from portal.intel.sharing import visible_flags
    from portal.notices.models import NoticeItem
    from portal.notices.services import visible_notices
    from portal.partnerships.services import partnerships_of

    def first(model):
        row = model.for_org(org).order_by(model.id).first()
        return row.id if row else None
    notice = visible_notices(org).order_by(Notice.id).first()
    item = NoticeItem.select().where(NoticeItem.notice == notice).order_by(NoticeItem.id).first() if notice else None
    partnership = partnerships_of(org).order_by(Partnership.id).first()
    flag = Flag.for_org(org).order_by(Flag.id).first()
    sighted = visible_flags(org).where(Flag.org != org).order_by(Flag.id).first()
    from portal.notices.batch_models import NoticeBatch
    batch = NoticeBatch.for_org(org).order_by(NoticeBatch.job).first()
    return {"marketplace_id": first(Marketplace), "mark_id": first(Mark), "import_id": first(ImportJob),
            "notice_id": notice.id if notice else None, "item_id": item.id if item else None,
            "partnership_id": partnership.id if partnership else None,
            "flag_id": flag.id if flag else None, "sighted_flag_id": sighted.id if sighted else None,
            "marketplace": flag.seller.marketplace.slug if flag else None,
            "seller_id": flag.seller.external_id if flag else None, "screening_id": first(Screening),
            "batch_id": batch.job_id if batch else None}


def seed_flags(world, org, marketplace, sighted_by_all=False):
    """A flag nobody else may see (TLP:RED, own organization: the org's first), and with `sighted_by_all` a
    second one the whole alliance sees, for the others' sightings."""
    world.flag(org, f"{org.slug}.hidden-shop", marketplace, tlp="red", distribution="own",
               display_name=f"{org.name} lead", notes=f"{org.name} notes")
    if sighted_by_all:
        world.flag(org, "open-shop", marketplace, tlp="green", distribution="alliance")


def seed_screening(app, org):
    """A screening of one listing by the brand `org` (if the screening service is there)."""
    try:
        from portal.intel.screen import screen_listings
    except ImportError:
        return
    from portal.audit import acting_as
    with app.app_context(), acting_as("test"):
        screen_listings(org, [(1, {"title": f"{org.name.upper()} replica", "marketplace": "taobao",
                                   "url": "https://item.taobao.com/item.htm?id=1", "seller_id": "s-1"})])


def seed_batch(app, org):
    """A notice batch's dry run of one unusable row: applying it (the own-object request) files nothing."""
    import io
    from portal.audit import acting_as
    from portal.notices.batches import start_batch
    with app.app_context(), acting_as("test"):
        start_batch(org, io.BytesIO(b"url\nnot-a-url\n"), "listings.csv", {"good_faith": True}, dry_run=True)


def seed_marks(world, org):
    world.mark(org, word=org.name.upper())
    world.upload(org, "word,office,registration_number,nice_classes\nX,USPTO,7654321,9\n", dry_run=True)


# Which side's token walks a route, by its parameters: marketplaces are a platform's, marks, imports and
# screenings a brand's; notices, items and partnerships are read by both sides, and both flag sellers.
# Evidence is added only by the brand that filed the notice (the platform's own is a 404 too, tested in
# test_notices_api.py).
def sides_for(rule):
    if "marketplace_id" in rule.arguments:
        return ["platform"]
    if rule.arguments & {"notice_id", "item_id", "partnership_id"} and rule.endpoint != "Notices.add_evidence":
        return ["platform", "brand"]  # the platform first: it acknowledges before the brand withdraws
    if rule.arguments & {"flag_id", "seller_id"}:
        return ["platform", "brand"]
    return ["brand"]


# Routes tried on another of the side's objects than the one api_objects_of names for the parameter.
OWN_OBJECT = {"Intelligence.add_sighting": {"flag_id": "sighted_flag_id"}}


PDF = b"%PDF-1.4\n%%EOF\n"


def request_body(rule, side):
    """What each route is sent: a change a marks route accepts, a move the side may make, a file."""
    if rule.endpoint == "Notices.transition_item":
        return {"json": {"to": "acknowledged" if side == "platform" else "withdrawn"}}
    if rule.endpoint in ("Notices.add_evidence", "Intelligence.add_evidence"):
        import io
        return {"data": {"file": (io.BytesIO(PDF), "e.pdf")}, "content_type": "multipart/form-data"}
    if rule.endpoint == "Intelligence.update_flag":
        return {"json": {"notes": "HACKED" if side == "foreign" else "Renamed"}}
    if rule.endpoint == "Intelligence.add_sighting":
        return {"json": {"kind": "false_positive", "note": "HACKED" if side == "foreign" else "Seen"}}
    return {"json": {"word": "HACKED" if side == "foreign" else "RENAMED"}}


def test_other_orgs_objects_are_404_on_every_api_route(app, client, platforms, world):
    alibaba, other = platforms
    microsoft, swarovski = world.org("Microsoft"), world.org("Swarovski")
    for brand in (microsoft, swarovski):
        seed_marks(world, brand)
    # Microsoft files with Alibaba, Swarovski with Shopmart: each side has a notice of its own, and the
    # other pair's is foreign to it.
    for brand, platform in ((microsoft, alibaba), (swarovski, other)):
        world.notice(brand, world.partnership(brand, platform), ["https://shop.example.com/item/1"],
                     confirm_jurisdiction=True)
    # Each org's first flag is hidden from every other org; Swarovski also flags a seller to the whole
    # alliance, which Microsoft and Alibaba add sightings to.
    for org, marketplace in ((alibaba, "taobao"), (other, "shopmart-us"), (microsoft, "taobao"),
                             (swarovski, "taobao")):
        seed_flags(world, org, marketplace, sighted_by_all=org is swarovski)
    for brand in (microsoft, swarovski):
        seed_screening(app, brand)
        seed_batch(app, brand)
    every_scope = "marks:read marks:write notices:read notices:write intel:read intel:write reports:read"
    # Each parameter is tried by an org of the kind that owns (or reads) such objects, against the same kind
    # of object of another org.
    sides = {"platform": (client_token(client, alibaba, every_scope.replace("marks:write ", "")),
                          api_objects_of(alibaba), api_objects_of(other)),
             "brand": (client_token(client, microsoft, every_scope), api_objects_of(microsoft),
                       api_objects_of(swarovski))}
    checked = set()
    # Routes that delete (withdraw) last: the others still find the side's own objects as they were.
    for rule in sorted(bearer_rules(app), key=lambda rule: "DELETE" in rule.methods):
        if not rule.arguments:
            continue
        assert set(rule.arguments) <= set(sides["brand"][1]), f"{rule.rule}: parameter not covered by api_objects_of"
        for side in sides_for(rule):
            token, ours, theirs = sides[side]
            own_keys = OWN_OBJECT.get(rule.endpoint, {})
            with app.test_request_context():
                from flask import url_for
                foreign = url_for(rule.endpoint, **{name: theirs[name] for name in rule.arguments})
                own = url_for(rule.endpoint, **{name: ours[own_keys.get(name, name)] for name in rule.arguments})
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}, key=lambda m: m == "DELETE"):
                response = client.open(foreign, method=method, headers=bearer(token), **request_body(rule, "foreign"))
                assert response.status_code == 404, f"{side} {method} {foreign}: {response.status_code}"
                text = response.get_data(as_text=True)
                assert response.mimetype == PROBLEM and "Shopmart" not in text and "SWAROVSKI" not in text
                assert "Swarovski" not in text and "shopmart" not in text
                mine = client.open(own, method=method, headers=bearer(token), **request_body(rule, side))
                assert mine.status_code in (200, 201, 202, 204), f"{side} {method} {own}: {mine.status_code}"
                checked.add((side, method, rule.rule))
    assert len(checked) >= 14
    assert {("platform", "POST", "/api/v1/notices/<int:notice_id>/items/<int:item_id>/transitions"),
            ("brand", "GET", "/api/v1/partnerships/<int:partnership_id>"),
            ("brand", "POST", "/api/v1/notices/<int:notice_id>/evidence")} <= checked
    flag_routes = {("GET", "/api/v1/intel/flags/<int:flag_id>"), ("PATCH", "/api/v1/intel/flags/<int:flag_id>"),
                   ("DELETE", "/api/v1/intel/flags/<int:flag_id>"),
                   ("POST", "/api/v1/intel/flags/<int:flag_id>/sightings"),
                   ("POST", "/api/v1/intel/flags/<int:flag_id>/evidence"),
                   ("GET", "/api/v1/intel/sellers/<marketplace>/<seller_id:seller_id>")}
    assert {(side, method, path) for side in ("platform", "brand") for method, path in flag_routes} <= checked
    if "Screening.get_screening" in app.view_functions:
        assert ("brand", "GET", "/api/v1/intel/screenings/<int:screening_id>") in checked
    # Nothing of Swarovski's changed.
    from portal.imports.models import ImportJob as Job
    assert Mark.for_org(swarovski).get().word == "SWAROVSKI"
    assert [(job.kind, job.dry_run) for job in Job.for_org(swarovski).order_by(Job.id)] == [
        ("marks", True), ("notice_batch", True)]
    from portal.notices.models import Evidence, NoticeItem
    assert [i.state for i in NoticeItem.select().where(NoticeItem.brand == swarovski)] == ["submitted"]
    assert Evidence.select().join(Notice).where(Notice.org == swarovski).count() == 0
    # Ours moved: acknowledged by Alibaba, then withdrawn by Microsoft.
    assert [i.state for i in NoticeItem.select().where(NoticeItem.brand == microsoft)] == ["withdrawn"]
    # Nobody touched the hidden flags of Swarovski and Shopmart; Microsoft and Alibaba changed, added
    # evidence to and withdrew their own, and sighted Swarovski's open one.
    from portal.intel.models import Flag, FlagEvidence, Sighting
    for org in (swarovski, other):
        hidden = Flag.for_org(org).order_by(Flag.id).first()
        assert (hidden.status, hidden.notes) == ("active", f"{org.name} notes")
        assert not Sighting.select().where(Sighting.flag == hidden).exists()
        assert not FlagEvidence.select().where(FlagEvidence.flag == hidden).exists()
    for org in (microsoft, alibaba):
        own = Flag.for_org(org).order_by(Flag.id).first()
        assert (own.status, own.notes) == ("withdrawn", "Renamed")
        assert FlagEvidence.select().where(FlagEvidence.flag == own).count() == 1
    assert {s.org_id for s in Sighting.select()} == {microsoft.id, alibaba.id}


def test_every_scoped_api_route_refuses_a_token_without_its_scope(app, client, world):
    """Each route is tried with a token holding every scope but the one it declares: 403 naming it, before
    anything else is looked at (ids that do not exist, bodies that are not sent)."""
    from portal.oauth.scopes import SCOPES
    org = world.org("Microsoft")
    tokens, checked = {}, 0
    for rule in bearer_rules(app):
        scope = access_rule_of(app.view_functions[rule.endpoint]).scope
        if not scope:
            continue
        if scope not in tokens:
            tokens[scope] = client_token(client, org, " ".join(s for s in SCOPES if s != scope))
        with app.test_request_context():
            from flask import url_for
            url = url_for(rule.endpoint, **{name: 1 for name in rule.arguments})
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            response = client.open(url, method=method, headers=bearer(tokens[scope]))
            assert response.status_code == 403, f"{method} {url}: {response.status_code}"
            assert response.json["scope"] == scope
            checked += 1
    assert checked >= 15


def test_marketplaces_list_only_the_tokens_org(client, platforms):
    alibaba, other = platforms
    token = client_token(client, alibaba, "notices:read")
    body = client.get("/api/v1/marketplaces", headers=bearer(token)).json
    assert [m["name"] for m in body["items"]] == ["Taobao", "Tmall", "AliExpress"]
    assert {m["platform"] for m in body["items"]} == {"alibaba"} and body["next_cursor"] is None


def test_every_api_route_is_declared_with_its_scope_in_the_openapi_document(app, client):
    spec = client.get("/api/openapi.json").json
    assert spec["openapi"] == "3.1.0"
    for rule in bearer_rules(app):
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            operation = spec["paths"][path][method.lower()]
            scope = access_rule_of(app.view_functions[rule.endpoint]).scope
            assert operation["security"] == [{"oauth2": [scope] if scope else []}], path
            assert "401" in operation["responses"] and "429" in operation["responses"]
            assert ("403" in operation["responses"]) == bool(scope)
    responses = spec["components"]["responses"]
    assert list(responses["UNAUTHORIZED"]["content"]) == [PROBLEM]
    assert spec["components"]["securitySchemes"]["oauth2"]["flows"]["clientCredentials"]["tokenUrl"] == "/oauth/token"


def test_docs_page_is_served_without_any_cdn(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "GET /api/v1/me" in text and "GET /api/v1/marketplaces/{marketplace_id}" in text
    assert "notices:read" in text
    assert "cdn" not in text.lower() and "https://" not in text


# --- pagination ---------------------------------------------------------------------------------------

def test_cursor_pagination_walks_every_item_once(client, world):
    org = world.org("Alibaba", kind="platform")
    for n in range(7):
        world.marketplace(org, f"Market {n}")
    token = client_token(client, org, "notices:read")
    seen, cursor, pages = [], None, 0
    while True:
        url = "/api/v1/marketplaces?limit=3" + (f"&cursor={cursor}" if cursor else "")
        body = client.get(url, headers=bearer(token)).json
        seen += [m["name"] for m in body["items"]]
        pages += 1
        if pages == 1:
            world.marketplace(org, "Added while paging")  # lands after the cursor: seen once, at the end
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == [f"Market {n}" for n in range(7)] + ["Added while paging"]


@pytest.mark.parametrize("query, field", [("limit=0", "limit"), ("limit=501", "limit"), ("limit=abc", "limit"),
                                          ("cursor=not-a-cursor", "cursor"), ("limt=10", "limt"),
                                          ("cursor=-1", "cursor"), ("cursor=1e99", "cursor"),
                                          ("cursor=" + "9" * 20, "cursor")])
def test_bad_list_parameters_are_422_with_field_errors(client, world, query, field):
    org = world.org("Alibaba", kind="platform")
    token = client_token(client, org, "notices:read")
    response = client.get(f"/api/v1/marketplaces?{query}", headers=bearer(token))
    assert response.status_code == 422 and response.mimetype == PROBLEM
    assert [e["field"] for e in response.json["errors"]] == [field]
    assert all(e["message"] for e in response.json["errors"])


def test_limit_500_is_allowed(client, world):
    org = world.org("Alibaba", kind="platform")
    token = client_token(client, org, "notices:read")
    assert client.get("/api/v1/marketplaces?limit=500", headers=bearer(token)).status_code == 200


# --- errors -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/api/v1/nothing-here", "/api/v1/marketplaces/99999999999999999999999",
                                  "/api/v1/marketplaces/0"])
def test_unknown_paths_and_ids_are_problem_404(client, world, path):
    token = client_token(client, world.org("Alibaba", kind="platform"), "notices:read")
    response = client.get(path, headers=bearer(token))
    assert response.status_code == 404 and response.mimetype == PROBLEM
    assert response.json["status"] == 404


@pytest.mark.parametrize("query, field", [("x=1", "x"), ("limit=10", "limit"), ("access_token=abc", "access_token")])
def test_me_refuses_query_parameters_it_does_not_take(client, world, query, field):
    token = client_token(client, world.org("Microsoft"), "reports:read")
    response = client.get(f"/api/v1/me?{query}", headers=bearer(token))
    assert response.status_code == 422 and response.json["errors"] == [{"field": field, "message": "Unknown field."}]


def test_a_parameter_given_twice_is_refused(client, world):
    token = client_token(client, world.org("Alibaba", kind="platform"), "notices:read")
    response = client.get("/api/v1/marketplaces?limit=1&limit=2", headers=bearer(token))
    assert response.status_code == 422
    assert response.json["errors"] == [{"field": "limit", "message": "Give this parameter once."}]


def test_a_platform_token_never_holds_marks_write(app, client, world):
    """Scopes are cut to the org's kind when used, whatever a token row says."""
    from portal.accounts.services import token_digest
    org = world.org("Alibaba", kind="platform")
    brand_client, _ = register(world.org("Microsoft"), "marks:read marks:write")
    with app.app_context():
        Token.create(org=org, client=brand_client, grant_type="client_credentials", family="f",
                     access_token_hash=token_digest("odd-token"), scope="marks:read marks:write",
                     expires_in=3600)
    assert client.get("/api/v1/me", headers=bearer("odd-token")).json["scopes"] == ["marks:read"]


def test_wrong_method_is_problem_405(client):
    response = client.delete("/api/v1/me")
    assert response.status_code == 405 and response.mimetype == PROBLEM


def test_unknown_json_fields_are_rejected_with_field_errors():
    """The parser every ApiBlueprint uses refuses unknown JSON fields. Shown on a one-route app so the
    rule is tested before the first write endpoint exists (marks, in the next issue)."""
    app = Flask("unknown-fields")
    app.config.update(API_TITLE="t", API_VERSION="v1", OPENAPI_VERSION="3.1.0")
    errors.init_app(app)
    api = PortalApi(app)
    blp = ApiBlueprint("things", "things", url_prefix="/api/v1/things")

    class ThingSchema(Schema):
        word = fields.String(required=True)

    @blp.route("", methods=["POST"])
    @blp.arguments(ThingSchema)
    @blp.response(201, ThingSchema)
    def create(thing):
        return thing

    api.register_blueprint(blp)
    test_client = app.test_client()
    assert test_client.post("/api/v1/things", json={"word": "Swarovski"}).status_code == 201
    response = test_client.post("/api/v1/things", json={"word": "x", "wrod": "typo"})
    assert response.status_code == 422 and response.mimetype == PROBLEM
    assert response.json["errors"] == [{"field": "wrod", "message": "Unknown field."}]
    missing = test_client.post("/api/v1/things", data="not json", content_type="application/json")
    assert missing.status_code in (400, 422) and missing.mimetype == PROBLEM


# --- rate limits --------------------------------------------------------------------------------------

def test_rate_limit_is_per_client_with_retry_after(app, client, world, monkeypatch):
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "3 per minute")
    org = world.org("Microsoft")
    first, second = client_token(client, org, "reports:read"), client_token(client, org, "reports:read")
    statuses = [client.get("/api/v1/me", headers=bearer(first)).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = client.get("/api/v1/me", headers=bearer(first))
    assert limited.status_code == 429 and limited.mimetype == PROBLEM
    assert int(limited.headers["Retry-After"]) > 0
    assert client.get("/api/v1/me", headers=bearer(second)).status_code == 200  # another client's budget


def test_every_api_answer_says_what_is_left_of_the_clients_budget(app, client, world, monkeypatch):
    import time
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "5 per minute; 100 per hour")
    token = client_token(client, world.org("Microsoft"), "reports:read")
    answers = [client.get("/api/v1/me", headers=bearer(token)) for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    # The limit nearest to running out is the one reported: 5 a minute, not 100 an hour.
    assert [a.headers["X-RateLimit-Limit"] for a in answers] == ["5"] * 6
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["4", "3", "2", "1", "0", "0"]
    assert all(time.time() < int(a.headers["X-RateLimit-Reset"]) <= time.time() + 61 for a in answers)
    assert "Retry-After" not in answers[0].headers and 0 < int(answers[-1].headers["Retry-After"]) <= 60
    assert "5 per 1 minute" in answers[-1].json["detail"]
    # Pages have no per-client budget: no rate-limit headers on them.
    assert "X-RateLimit-Limit" not in client.get("/healthz").headers


def test_me_describes_the_token(client, world):
    org = world.org("Swarovski", timezone="Europe/Vienna")
    token = client_token(client, org, "marks:read reports:read", requested="reports:read")
    body = client.get("/api/v1/me", headers=bearer(token)).json
    assert body["org"] == {"id": org.id, "slug": "swarovski", "name": "Swarovski", "kind": "brand",
                           "timezone": "Europe/Vienna"}
    assert body["scopes"] == ["reports:read"] and body["user"] is None
    assert body["expires_at"].endswith("+00:00")
    assert json.loads(json.dumps(body)) == body
