"""Tenant isolation and roles, checked over every route of the app (not a hand-picked few).

Each route of `app.url_map` must declare an access rule equal to its line in ACCESS_TABLE, and each URL
parameter must appear in `objects_of` below, so a new route or object type cannot ship without being covered
here: every route is then tried with another org's ids (404), by the roles and the kind of org its rule
refuses (403/404), without a CSRF token (400), and every page without an object is read for another org's data.
"""
import html
import io
import zipfile
from datetime import timedelta

import pytest
from werkzeug.datastructures import FileStorage

from portal.access import access_rule_of
from portal.accounts import services
from portal.accounts.models import Invitation, Membership, Organization, User
from portal.accounts.services import token_digest
from portal.audit import AuditEvent, acting_as
from portal.db import db
from portal.intel import screen
from portal.intel.models import AuthorizedSeller, Flag, Screening
from portal.imports.models import ImportJob
from portal.marks.models import Mark
from portal.notices import grounds
from portal.notices.models import Evidence, Notice, NoticeItem
from portal.notifications.models import Notification
from portal.partnerships.models import Partnership
from portal.oauth.models import OAuthClient, Token
from portal.oauth.services import create_client
from portal.tenancy import tenant_models
from portal.webhooks import services as webhooks
from portal.webhooks.models import Webhook, WebhookDelivery
from portal.timeutil import utcnow
from tests.conftest import page_text

# Routes a signed-in user may POST to whatever their role: they only touch the user's own session or
# password. Adding a route here is a decision: say why in the view.
# The consent page is the user's own decision about an app acting for them.
SELF_SERVICE_POSTS = {"accounts.logout", "accounts.choose_org", "accounts.account", "oauth.authorize",
                      "accounts.two_factor_setup", "accounts.regenerate_recovery_codes",
                      "accounts.disable_two_factor",
                      # a member's own notifications read and own notification choices (viewers too)
                      "notifications.mark_read", "notifications.mark_all_read", "notifications.save_settings"}
# OAuth endpoints that authenticate the calling client by its credentials: no session, no CSRF token.
CLIENT_CREDENTIAL_POSTS = {"oauth.token", "oauth.revoke", "oauth.introspect"}
# Routes reached by a secret in the URL rather than by a session (the invitation link).
# The unsubscribe link of a notification e-mail: its signed token is the credential (a bad one is 400), and
# mail clients post to it without a CSRF token (RFC 8058 one-click).
TOKEN_ROUTES = {"accounts.accept_invitation", "notifications.unsubscribe"}
# Everything that is not a member action: the sign-in form, self-service and token routes.
# The second step of signing in is reached with the half-signed-in state, not a login session.
NON_MEMBER_POSTS = (SELF_SERVICE_POSTS | TOKEN_ROUTES | CLIENT_CREDENTIAL_POSTS
                    | {"accounts.login", "accounts.login_two_factor"})


# Every browser route's access rule, written out: (level, least role, org kind). A new route fails
# test_every_route_is_in_the_access_table until it is added here, which makes its rule a reviewed decision,
# and the role and kind checks below then try it with the people it must refuse. API routes (bearer tokens)
# are checked per scope in test_api.py.
ANY = (None, None)
ACCESS_TABLE = {
    "accounts.login": ("public", *ANY), "accounts.accept_invitation": ("public", *ANY),
    "accounts.login_two_factor": ("public", *ANY),
    "api_docs.docs": ("public", *ANY), "api_docs.openapi_json": ("public", *ANY),
    "oauth.metadata": ("public", *ANY), "ops.healthz": ("public", *ANY),
    "oauth.token": ("oauth_client", *ANY), "oauth.revoke": ("oauth_client", *ANY),
    "oauth.introspect": ("oauth_client", *ANY),
    "accounts.account": ("signed_in", *ANY), "accounts.choose_org": ("signed_in", *ANY),
    "accounts.logout": ("signed_in", *ANY), "oauth.authorize": ("signed_in", *ANY),
    "accounts.two_factor_setup": ("signed_in", *ANY), "accounts.regenerate_recovery_codes": ("signed_in", *ANY),
    "accounts.disable_two_factor": ("signed_in", *ANY),
    # notifications: every member reads their own; marking read and their own choices are self-service
    "notifications.inbox": ("member", "viewer", None), "notifications.open_notification": ("member", "viewer", None),
    "notifications.settings": ("member", "viewer", None), "notifications.mark_read": ("signed_in", *ANY),
    "notifications.mark_all_read": ("signed_in", *ANY), "notifications.save_settings": ("signed_in", *ANY),
    "notifications.unsubscribe": ("public", *ANY),
    # the team, its audit trail, API clients and webhooks
    "accounts.team": ("member", "viewer", None), "accounts.audit_trail": ("member", "admin", None),
    "accounts.audit_trail_csv": ("member", "admin", None),
    "accounts.invite": ("member", "admin", None), "accounts.change_role": ("member", "admin", None),
    "accounts.set_active": ("member", "admin", None), "accounts.revoke_invitation": ("member", "admin", None),
    "accounts.require_two_factor": ("member", "admin", None), "accounts.reset_two_factor": ("member", "admin", None),
    "oauth.clients": ("member", "admin", None), "oauth.create_client": ("member", "admin", None),
    "oauth.revoke_client": ("member", "admin", None), "oauth.revoke_grant": ("member", "admin", None),
    "oauth.rotate_secret": ("member", "admin", None),
    "webhooks.index": ("member", "admin", None), "webhooks.endpoint": ("member", "admin", None),
    "webhooks.delivery": ("member", "admin", None), "webhooks.create": ("member", "admin", None),
    "webhooks.change_events": ("member", "admin", None), "webhooks.rotate_secret": ("member", "admin", None),
    "webhooks.disable": ("member", "admin", None), "webhooks.enable": ("member", "admin", None),
    "webhooks.delete": ("member", "admin", None), "webhooks.redeliver": ("member", "admin", None),
    "dashboard.index": ("member", "viewer", None),
    # marks: a brand's registry, verified by its platforms
    "marks.index": ("member", "viewer", None), "marks.detail": ("member", "viewer", None),
    "marks.export": ("member", "viewer", None), "marks.proof": ("member", "viewer", None),
    "marks.template": ("member", "viewer", None),
    "marks.create": ("member", "analyst", "brand"), "marks.edit": ("member", "analyst", "brand"),
    "marks.delete": ("member", "analyst", "brand"), "marks.apply_import": ("member", "analyst", "brand"),
    "marks.imports_page": ("member", "viewer", "brand"), "marks.import_job": ("member", "viewer", "brand"),
    "marks.import_errors": ("member", "viewer", "brand"), "marks.import_report": ("member", "viewer", "brand"),
    "marks.import_progress": ("member", "viewer", "brand"),
    "marks.verification": ("member", "viewer", "platform"), "marks.review": ("member", "analyst", "platform"),
    # notices: filed by brands, worked by platforms
    "notices.index": ("member", "viewer", None), "notices.detail": ("member", "viewer", None),
    "notices.evidence": ("member", "viewer", None), "notices.export_items": ("member", "viewer", None),
    "notices.listings_template": ("member", "viewer", None), "notices.transition": ("member", "analyst", None),
    "notices.new": ("member", "analyst", "brand"), "notices.add_evidence": ("member", "analyst", "brand"),
    "notices.queue": ("member", "viewer", "platform"), "notices.bulk": ("member", "analyst", "platform"),
    "notices.grounds": ("member", "viewer", "platform"), "notices.new_ground": ("member", "analyst", "platform"),
    "notices.edit_ground": ("member", "analyst", "platform"),
    "notices.delete_ground": ("member", "analyst", "platform"),
    # notice batches: uploaded and filed by those who may file a notice, read by every member of the brand
    "notices.batches": ("member", "analyst", "brand"), "notices.apply_batch": ("member", "analyst", "brand"),
    "notices.batch": ("member", "viewer", "brand"), "notices.batch_status": ("member", "viewer", "brand"),
    "notices.batch_errors": ("member", "viewer", "brand"), "notices.batch_report": ("member", "viewer", "brand"),
    "notices.batch_template": ("member", "viewer", "brand"),
    # partnerships: proposed by brands, decided by either side's admin
    "partnerships.index": ("member", "viewer", None), "partnerships.detail": ("member", "viewer", None),
    "partnerships.propose": ("member", "admin", "brand"), "partnerships.revise": ("member", "admin", None),
    "partnerships.decide": ("member", "admin", None),
    # intelligence, through the sharing predicate
    "intel.flags": ("member", "viewer", None), "intel.flag": ("member", "viewer", None),
    "intel.seller": ("member", "viewer", None), "intel.find_seller": ("member", "viewer", None),
    "intel.evidence": ("member", "viewer", None), "intel.export": ("member", "viewer", None),
    "intel.flag_imports": ("member", "viewer", None), "intel.flag_import": ("member", "viewer", None),
    "intel.flag_import_errors": ("member", "viewer", None), "intel.flag_import_report": ("member", "viewer", None),
    "intel.flag_import_status": ("member", "viewer", None),
    "intel.flag_import_template": ("member", "viewer", None),
    "intel.new_flag": ("member", "analyst", None), "intel.edit_flag": ("member", "analyst", None),
    "intel.withdraw_flag": ("member", "analyst", None), "intel.add_sighting": ("member", "analyst", None),
    "intel.add_evidence": ("member", "analyst", None), "intel.apply_flag_import": ("member", "analyst", None),
    # screening: a brand's own listings
    "screening.index": ("member", "viewer", "brand"), "screening.detail": ("member", "viewer", "brand"),
    "screening.template": ("member", "viewer", "brand"), "screening.authorized": ("member", "viewer", "brand"),
    "screening.new": ("member", "analyst", "brand"), "screening.file_notice": ("member", "analyst", "brand"),
    "screening.remove_authorized": ("member", "analyst", "brand"),
    "screening.authorized_imports": ("member", "viewer", "brand"),
    "screening.authorized_import": ("member", "viewer", "brand"),
    "screening.authorized_import_status": ("member", "viewer", "brand"),
    "screening.apply_authorized_import": ("member", "analyst", "brand"),
    "screening.authorized_import_errors": ("member", "viewer", "brand"),
    "screening.authorized_import_report": ("member", "viewer", "brand"),
    "screening.authorized_import_template": ("member", "viewer", "brand"),
    "reports.weekly": ("member", "viewer", None), "reports.weekly_csv": ("member", "viewer", None),
    "reports.weekly_json": ("member", "viewer", None),
}


def app_rules(app):
    return [rule for rule in app.url_map.iter_rules() if rule.endpoint != "static"]


def session_rules(app):
    """Routes reached with a browser session; API routes (bearer tokens) are checked in test_api.py."""
    return [rule for rule in app_rules(app) if access_rule_of(app.view_functions[rule.endpoint]).level != "bearer"]


def build_url(app, rule, values):
    with app.test_request_context():
        from flask import url_for
        return url_for(rule.endpoint, **values)


# Parameters that choose a verb rather than name an object: every value is tried.
VERB_PARAMETERS = {"action": ("deactivate", "reactivate"), "decision": ("verify", "reject"), "fmt": ("csv", "xlsx"),
                   "move": ("accept", "decline", "suspend", "resume", "end")}


def url_variants(app, rule, objects):
    """Every URL of `rule` with its object parameters taken from `objects`, a {parameter: value} map."""
    variants = [{}]
    for argument in rule.arguments:
        if argument in VERB_PARAMETERS:
            variants = [dict(v, **{argument: verb}) for v in variants for verb in VERB_PARAMETERS[argument]]
            continue
        assert argument in objects, f"route {rule.rule} has parameter <{argument}> not covered by the tests"
        variants = [dict(v, **{argument: objects[argument]}) for v in variants]
    return [build_url(app, rule, values) for values in variants]


@pytest.fixture
def two_orgs(world):
    """Org A (Microsoft) and org B (Swarovski), each with people and an invitation."""
    a, b = world.org("Microsoft"), world.org("Swarovski")
    platform = world.org("Alibaba", kind="platform")
    people = {}
    for org in (a, b):
        partnership = world.partnership(org, platform)
        world.notice(org, partnership, [f"https://item.taobao.com/item.htm?id={org.id}"],
                     evidence=[FileStorage(io.BytesIO(b"%PDF-1.4 test buy"), filename="receipt.pdf")])
        for role in ("admin", "analyst", "viewer"):
            people[(org.slug, role)] = world.person(org, role)
        world.person(org, "analyst", email=f"second@{org.slug}.example")
        services.invite_member(org, f"newcomer@{org.slug}.example", "analyst")
        world.mark(org, word=org.name.upper())
        world.upload(org, "word,office,registration_number,nice_classes\nX,USPTO,1,0\n", dry_run=True)
        # Intelligence only its org sees: a flag kept to itself, a screening, an authorized seller.
        world.flag(org, f"seller-{org.slug}", "alibaba-market", tlp="red", distribution="own")
        with world.app.app_context(), acting_as("test"):
            screen.add_authorized_seller(org, "alibaba-market", f"reseller-{org.slug}")
            screen.screen_listings(org, [(1, {"url": f"https://item.taobao.com/item.htm?id=9{org.id}",
                                              "title": f"{org.name.upper()} replica"})],
                                   default_marketplace="alibaba-market")
        client, _ = create_client(org, f"{org.name} reporting", "reports:read", redirect_uris=["https://a.example/cb"])
        Token.create(org=org, client=client, user=people[(org.slug, "analyst")], grant_type="authorization_code",
                     family=f"grant-of-{org.slug}", access_token_hash=token_digest(f"t-{org.slug}"),
                     refresh_token_hash=token_digest(f"r-{org.slug}"), scope="reports:read", expires_in=3600,
                     refresh_expires_at=utcnow() + timedelta(days=30))
        with world.app.app_context(), acting_as("test"):  # an endpoint with one (never sent) delivery
            webhooks.register(org, f"https://hooks.{org.slug}.example/in", ["sla.breached"])
            with db.atomic():
                webhooks.enqueue("sla.breached", org, None, {"test": org.slug})
        # A notification of the org's admin (the inbox is per member)
        Notification.create(org=org, user=people[(org.slug, "admin")], kind="sla.breached", event="sla.breached",
                            title=f"A deadline of {org.slug} passed", link_endpoint="notices.index")
    with acting_as("test"):  # the platform's ground template (a brand's people never reach its pages)
        grounds.create_template(platform, {"move": "removed", "title": "Logo", "text": "The logo differs."})
    return a, b, people


def objects_of(org):
    """One object of `org` for each kind of URL parameter."""
    member = Membership.for_org(org).join(User).where(User.email.startswith("second@")).get()
    notice = Notice.for_org(org).get()
    return {"membership_id": member.id, "invitation_id": Invitation.for_org(org).get().id,
            "client_pk": OAuthClient.for_org(org).get().id, "family": f"grant-of-{org.slug}",
            "mark_id": Mark.for_org(org).get().id, "job_id": ImportJob.for_org(org).get().id,
            "notice_id": notice.id, "item_id": NoticeItem.get(NoticeItem.notice == notice).id,
            "evidence_id": Evidence.get(Evidence.notice == notice).id,
            "partnership_id": Partnership.get(Partnership.brand == org).id,
            "flag_id": Flag.for_org(org).get().id, "marketplace": "alibaba-market", "seller_id": f"seller-{org.slug}",
            "screening_id": Screening.for_org(org).get().id, "authorized_id": AuthorizedSeller.for_org(org).get().id,
            "webhook_id": Webhook.for_org(org).get().id, "delivery_id": WebhookDelivery.for_org(org).get().id,
            # a platform's: the brands' people are refused its pages whoever owns it (test_queue.py checks
            # another platform's template is a 404 to a platform)
            "template_id": grounds.GroundTemplate.select().get().id,
            "notification_id": Notification.for_org(org).get().id}


def test_every_route_declares_an_access_rule(app):
    missing = [rule.rule for rule in app_rules(app) if access_rule_of(app.view_functions[rule.endpoint]) is None]
    assert missing == []


def test_every_route_is_in_the_access_table(app):
    declared = {}
    for rule in session_rules(app):
        access = access_rule_of(app.view_functions[rule.endpoint])
        declared[rule.endpoint] = (access.level, access.role, access.org_kind)
    assert declared == ACCESS_TABLE


ROLES = ("viewer", "analyst", "admin")


def refused_people(rule_of_view, method, people, slugs):
    """Who must be refused `method` on a route with `rule_of_view`: members below its role (viewers refused
    every change), and members of the other kind of org (404, as if the page did not exist)."""
    level, least_role, kind = rule_of_view
    least = ROLES.index("analyst" if method == "POST" and least_role == "viewer" else least_role)
    refused = []
    for slug in slugs:
        org_kind = "platform" if slug == "alibaba" else "brand"
        for role in ROLES:
            if kind is not None and org_kind != kind:
                refused.append((people[(slug, role)], 404))
            elif ROLES.index(role) < least:
                refused.append((people[(slug, role)], 403))
    return refused


def test_every_member_route_refuses_lower_roles_and_the_other_kind_of_org(app, make_client, world, two_orgs):
    """Each route of the access table tried by the people its rule refuses (GET and POST), with the org's
    own objects in the URL: 403 below the route's role, 404 in the other kind of org, and nothing changed."""
    a, b, people = two_orgs
    platform = Organization.get(Organization.slug == "alibaba")
    for role in ROLES:
        people[("alibaba", role)] = world.person(platform, role)
    own = {"microsoft": objects_of(a), "alibaba": objects_of(a)}  # a platform tries the brand's ids
    clients = {}
    audit_count = AuditEvent.select().count()
    checked = 0
    for rule in session_rules(app):
        expected = ACCESS_TABLE[rule.endpoint]
        if expected[0] != "member":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for person, status in refused_people(expected, method, people, ("microsoft", "alibaba")):
                slug = "alibaba" if person.email.endswith("alibaba.example") else "microsoft"
                if person.email not in clients:
                    clients[person.email] = make_client()
                    clients[person.email].sign_in(person.email)
                client = clients[person.email]
                for url in url_variants(app, rule, own[slug]):
                    if method == "POST":
                        response = client.post_form(url, {"role": "admin", "email": "someone@example.com"})
                    else:
                        response = client.get(url)
                    assert response.status_code == status, (
                        f"{person.email} {method} {url} answered {response.status_code}, not {status}")
                    checked += 1
    assert checked >= 150
    # Refused requests change nothing: the only audit events since are the sign-ins.
    assert AuditEvent.select().count() - audit_count == len(clients)


# What only Swarovski (org B) may see: its people, its API client and webhook,
# its private flag's seller and its authorized reseller.
B_PRIVATE_MARKERS = ("@swarovski.example", "Swarovski reporting", "hooks.swarovski",
                     "seller-swarovski", "reseller-swarovski")


def readable_text(response):
    """A page's or download's text; an XLSX download's is the text of every part of the workbook."""
    if response.data.startswith(b"PK"):
        with zipfile.ZipFile(io.BytesIO(response.data)) as workbook:
            return "".join(html.unescape(workbook.read(name).decode()) for name in workbook.namelist())
    return page_text(response)


def object_free_pages(app, client):
    """{url: text} of every member page that names no object (platform-only pages left out: A is a brand)."""
    pages = {}
    for rule in session_rules(app):
        if (ACCESS_TABLE[rule.endpoint][0] != "member" or "GET" not in rule.methods
                or set(rule.arguments) - set(VERB_PARAMETERS) or ACCESS_TABLE[rule.endpoint][2] == "platform"):
            continue
        for url in url_variants(app, rule, {}):
            response = client.get(url)
            assert response.status_code == 200, f"{url} answered {response.status_code}"
            pages[url] = readable_text(response)
    return pages


def test_every_page_without_an_object_shows_only_the_current_orgs_data(app, make_client, two_orgs):
    """The pages that name no object (lists, dashboards, reports, exports) read by org A's admin: nothing of
    org B's own shows, whatever the page. (B's name may: the alliance's member directory is shared.)"""
    a, b, people = two_orgs
    clients = {}
    for slug in ("microsoft", "swarovski"):
        clients[slug] = make_client()
        clients[slug].sign_in(people[(slug, "admin")].email)
    pages_of_a = object_free_pages(app, clients["microsoft"])
    assert len(pages_of_a) >= 30, pages_of_a.keys()
    for url, text in pages_of_a.items():
        leaked = [marker for marker in B_PRIVATE_MARKERS if marker in text]
        assert leaked == [], f"{url} shows {leaked}"
    # The markers are real: B's admin finds every one of them on the same pages.
    seen_by_b = "\n".join(object_free_pages(app, clients["swarovski"]).values())
    assert [marker for marker in B_PRIVATE_MARKERS if marker not in seen_by_b] == []


def test_every_tenant_model_is_known_to_these_tests():
    # A new tenant-owned model needs its routes added to objects_of(); this list makes that visible.
    assert {m.__name__ for m in tenant_models()} == {"Marketplace", "Membership", "Invitation", "AuditEvent",
                                                     "OAuthClient", "AuthorizationCode", "Token", "Mark",
                                                     "ImportJob", "ImportRowError", "ImportOutcomes", "ImportRowChange",
                                                     "Notice",
                                                     # a batch's routes name its job (job_id); its rows and
                                                     # plan are read only through it (test_notice_batches.py)
                                                     "NoticeBatch", "PlannedNotice", "NoticeBatchRow",
                                                     "Flag", "Sighting", "AuthorizedSeller", "Screening",
                                                     "Webhook", "WebhookDelivery",
                                                     # no route names a snapshot: they are read by week, for
                                                     # the current org only (test_reports.py)
                                                     "WeeklyReport",
                                                     # read only as counts through the sharing predicate
                                                     "FlagReceipt",
                                                     # no route names one: found by the org's own key
                                                     # (test_notice_items_api.py)
                                                     "IdempotentRequest",
                                                     "GroundTemplate",
                                                     # a member's own, named by notification_id;
                                                     # choices and e-mails are reached through the member
                                                     # (tests/notifications)
                                                     "Notification", "NotificationPreference", "OutboundEmail"}


def test_other_orgs_objects_are_404_on_every_route(app, make_client, two_orgs):
    a, b, people = two_orgs
    b_objects = objects_of(b)
    client = make_client()
    client.sign_in(people[("microsoft", "admin")].email)
    checked = 0
    for rule in session_rules(app):
        if not set(rule.arguments) - set(VERB_PARAMETERS) or rule.endpoint in TOKEN_ROUTES:
            continue
        for url in url_variants(app, rule, b_objects):
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                response = client.open(url, method=method, data={"csrf_token": client.csrf_token(),
                                                                 "role": "viewer"})
                assert response.status_code == 404, f"{method} {url} answered {response.status_code}"
                assert "swarovski" not in page_text(response).lower()
                checked += 1
    assert checked >= 15
    # Nothing of B changed.
    assert Membership.for_org(b).where(Membership.role == "viewer").count() == 1
    assert Membership.for_org(b).where(Membership.active == False).count() == 0  # noqa: E712
    assert sum(1 for i in Invitation.for_org(b) if i.is_pending) == 1
    assert OAuthClient.for_org(b).where(OAuthClient.revoked_at.is_null()).count() == 1
    assert Token.for_org(b).where(Token.revoked_at.is_null()).count() == 1
    assert Mark.for_org(b).count() == 2 and ImportJob.for_org(b).count() == 1  # the fixture's mark and the notice's
    assert {i.state for i in NoticeItem.select().where(NoticeItem.brand == b)} == {"submitted"}
    assert Partnership.get(Partnership.brand == b).status == "active"
    assert [(f.status, f.tlp) for f in Flag.for_org(b)] == [("active", "red")]
    assert AuthorizedSeller.for_org(b).count() == 1 and Screening.for_org(b).count() == 1
    assert [(w.active, w.event_list, w.secret_rotated_at)
            for w in Webhook.for_org(b)] == [(True, ["sla.breached"], None)]
    assert [(d.status, d.attempts) for d in WebhookDelivery.for_org(b)] == [("pending", 0)]


def test_own_objects_work_on_the_same_routes(app, make_client, two_orgs):
    """The counterpart of the 404 test: the same URLs with A's own ids do reach the objects."""
    a, b, people = two_orgs
    client = make_client()
    client.sign_in(people[("microsoft", "admin")].email)
    a_objects = objects_of(a)
    response = client.post_form(f"/team/{a_objects['membership_id']}/role", {"role": "viewer"})
    assert response.status_code == 302
    assert Membership.get_by_id(a_objects["membership_id"]).role == "viewer"


def test_pages_show_only_the_current_orgs_data(make_client, two_orgs):
    a, b, people = two_orgs
    client = make_client()
    client.sign_in(people[("microsoft", "admin")].email)
    for path in ("/", "/team", "/audit"):
        text = page_text(client.get(path))
        assert "microsoft.example" in text or path == "/"
        assert "swarovski" not in text.lower(), path
    assert all(e.org_id == a.id for e in AuditEvent.for_org(a))


def test_viewer_is_refused_every_change(app, make_client, two_orgs):
    a, b, people = two_orgs
    own = objects_of(a)
    client = make_client()
    client.sign_in(people[("microsoft", "viewer")].email)
    before = [(m.id, m.role, m.active) for m in Membership.for_org(a).order_by(Membership.id)]
    checked = []
    for rule in session_rules(app):
        if "POST" not in rule.methods or rule.endpoint in NON_MEMBER_POSTS:
            continue
        rule_of_view = access_rule_of(app.view_functions[rule.endpoint])
        assert rule_of_view.level == "member", rule.endpoint
        if rule_of_view.org_kind not in (None, "brand"):
            continue  # platform-only routes: a platform viewer is refused them in test_marks.py
        for url in url_variants(app, rule, own):
            response = client.post_form(url, {"role": "admin", "email": "someone@example.com"})
            assert response.status_code == 403, f"viewer POST {url} answered {response.status_code}"
            checked.append(rule.endpoint)
    assert {"accounts.invite", "accounts.change_role", "accounts.set_active", "accounts.require_two_factor",
            "accounts.reset_two_factor",
            "accounts.revoke_invitation", "oauth.create_client", "oauth.rotate_secret",
            "oauth.revoke_client", "oauth.revoke_grant", "marks.create", "marks.edit", "marks.delete",
            "marks.imports_page", "marks.apply_import", "notices.new", "notices.transition",
            "partnerships.propose", "partnerships.revise", "partnerships.decide", "intel.new_flag",
            "intel.edit_flag", "intel.withdraw_flag", "intel.add_sighting", "intel.add_evidence",
            "intel.flag_imports", "intel.apply_flag_import", "screening.new", "screening.file_notice",
            "screening.authorized", "screening.remove_authorized", "screening.authorized_imports",
            "screening.apply_authorized_import", "webhooks.create", "webhooks.change_events",
            "webhooks.rotate_secret", "webhooks.disable", "webhooks.enable", "webhooks.delete",
            "webhooks.redeliver"} <= set(checked)
    after = [(m.id, m.role, m.active) for m in Membership.for_org(a).order_by(Membership.id)]
    assert after == before
    assert sum(1 for i in Invitation.for_org(a) if i.is_pending) == 1
    assert OAuthClient.for_org(a).count() == 1 and OAuthClient.for_org(a).get().revoked_at is None
    assert Mark.for_org(a).count() == 2 and ImportJob.for_org(a).count() == 1
    assert {i.state for i in NoticeItem.select().where(NoticeItem.brand == a)} == {"submitted"}
    assert Partnership.get(Partnership.brand == a).status == "active"
    assert [(f.status, f.tlp) for f in Flag.for_org(a)] == [("active", "red")]
    assert AuthorizedSeller.for_org(a).count() == 1 and Screening.for_org(a).count() == 1
    assert [(w.active, w.secret_rotated_at) for w in Webhook.for_org(a)] == [(True, None)]
    assert [(d.status, d.attempts, d.max_attempts) for d in WebhookDelivery.for_org(a)] == [("pending", 0, 8)]


def test_self_service_posts_are_the_known_few(app):
    posts = {rule.endpoint for rule in session_rules(app) if "POST" in rule.methods}
    non_member = {e for e in posts if access_rule_of(app.view_functions[e]).level != "member"}
    assert non_member == NON_MEMBER_POSTS


def test_analyst_cannot_manage_the_team(make_client, two_orgs):
    a, b, people = two_orgs
    own = objects_of(a)
    client = make_client()
    client.sign_in(people[("microsoft", "analyst")].email)
    assert client.get("/team").status_code == 200  # reading the team is fine
    assert client.get("/audit").status_code == 403
    for url, data in [("/team/invite", {"email": "x@microsoft.example", "role": "admin"}),
                      (f"/team/{own['membership_id']}/role", {"role": "admin"}),
                      (f"/team/{own['membership_id']}/deactivate", {}),
                      (f"/team/invitations/{own['invitation_id']}/revoke", {})]:
        assert client.post_form(url, data).status_code == 403, url
    assert Membership.get_by_id(own["membership_id"]).role == "analyst"


def test_switching_membership_changes_what_is_visible(make_client, two_orgs):
    a, b, people = two_orgs
    counsel_email = "counsel@lawfirm.example"
    services.add_member(a, counsel_email, "admin", password="correct horse battery staple")
    services.add_member(b, counsel_email, "admin")
    client = make_client()
    client.sign_in(counsel_email, org=a)
    b_member = objects_of(b)["membership_id"]
    assert "second@microsoft.example" in page_text(client.get("/team"))
    assert "second@swarovski.example" not in page_text(client.get("/team"))
    assert client.post_form(f"/team/{b_member}/role", {"role": "viewer"}).status_code == 404

    client.post_form("/choose-org", {"org_id": str(b.id)})
    team = page_text(client.get("/team"))
    assert "second@swarovski.example" in team and "second@microsoft.example" not in team
    assert client.post_form(f"/team/{b_member}/role", {"role": "viewer"}).status_code == 302
    assert Membership.get_by_id(b_member).role == "viewer"


def test_choosing_an_org_without_membership_is_404(make_client, two_orgs):
    a, b, people = two_orgs
    client = make_client()
    client.sign_in(people[("microsoft", "admin")].email)
    assert client.post_form("/choose-org", {"org_id": str(b.id)}).status_code == 404
    assert client.post_form("/choose-org", {"org_id": "not-a-number"}).status_code == 404
    assert "<h1>Microsoft</h1>" in page_text(client.get("/"))


def test_deactivated_membership_loses_access_at_the_next_request(make_client, two_orgs):
    a, b, people = two_orgs
    analyst = people[("microsoft", "analyst")]
    client = make_client()
    client.sign_in(analyst.email)
    assert client.get("/team").status_code == 200
    services.set_membership_active(Membership.for_org(a).where(Membership.user == analyst).get(), False)
    response = client.get("/team")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_get_for_org_never_returns_another_orgs_row(two_orgs):
    a, b, people = two_orgs
    b_membership = objects_of(b)["membership_id"]
    from portal.errors import NotFound
    with pytest.raises(NotFound):
        Membership.get_for_org(b_membership, a)
    with pytest.raises(NotFound):
        Membership.get_for_org("1 OR 1=1", a)
    assert Membership.get_for_org(b_membership, b).id == b_membership


def test_every_form_route_refuses_a_missing_csrf_token(app, make_client, two_orgs):
    a, b, people = two_orgs
    own = objects_of(a)
    own["token"] = "any-token"
    client = make_client()
    client.sign_in(people[("microsoft", "admin")].email)
    before = [(m.id, m.role, m.active) for m in Membership.for_org(a).order_by(Membership.id)]
    checked = 0
    for rule in session_rules(app):
        if "POST" not in rule.methods or rule.endpoint in CLIENT_CREDENTIAL_POSTS:
            continue
        for url in url_variants(app, rule, own):
            response = client.post(url, data={"role": "viewer", "email": "x@microsoft.example"})
            assert response.status_code == 400, f"POST {url} without CSRF answered {response.status_code}"
            checked += 1
    assert checked >= 9
    assert [(m.id, m.role, m.active) for m in Membership.for_org(a).order_by(Membership.id)] == before
    assert client.get("/").status_code == 200  # still signed in: the logout form was refused too
