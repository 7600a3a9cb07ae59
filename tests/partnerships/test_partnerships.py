"""Partnerships: proposing, negotiating and accepting versioned terms, suspending and ending, the rules
on terms, and the pages of both sides."""
import pytest

from portal.audit import AuditEvent, acting_as
from portal.errors import Conflict, ValidationError
from portal.partnerships import services
from portal.partnerships.models import Partnership, Terms
from tests.conftest import page_text

TERMS = {"effective_from": "2026-01-01", "marketplaces": ["taobao"], "ack_minutes": 1440, "action_minutes": 4320,
         "fast_ack_minutes": 240, "fast_action_minutes": 1440, "timezone": "Asia/Shanghai", "working_days": "mon-fri",
         "opens": "09:00", "closes": "18:00", "holidays": ["2026-10-01", "2026-10-02"]}


@pytest.fixture
def sides(app, world):
    brand, platform = world.org("Louis Vuitton"), world.org("Alibaba", kind="platform", timezone="Asia/Shanghai")
    world.marketplace(platform, "Taobao", country="CN")
    world.marketplace(platform, "Tmall", country="CN")
    people = {(org.slug, role): world.person(org, role) for org in (brand, platform) for role in ("admin", "analyst")}
    return brand, platform, people


def act(app, function, *args, **kwargs):
    with app.app_context(), acting_as("test"):
        return function(*args, **kwargs)


def test_propose_accept_and_both_trails(app, sides):
    brand, platform, _ = sides
    partnership = act(app, services.propose, brand, platform, TERMS)
    assert partnership.status == "proposed" and services.terms_in_force(partnership) is None
    with pytest.raises(Conflict, match="proposed by Louis Vuitton"):
        act(app, services.accept_terms, partnership, brand)
    accepted = act(app, services.accept_terms, partnership, platform)
    assert accepted.status == "active" and accepted.terms_version == 1
    terms = services.terms_in_force(accepted)
    assert terms.state == "in_force" and terms.holiday_list == ["2026-10-01", "2026-10-02"]
    assert terms.calendar().timezone == "Asia/Shanghai" and terms.day_numbers == [0, 1, 2, 3, 4]
    for org in (brand, platform):
        actions = [e.action for e in AuditEvent.for_org(org).order_by(AuditEvent.seq)]
        assert actions[-2:] == ["partnership.proposed", "partnership.terms_accepted"]


def test_a_revision_waits_for_the_other_side_and_leaves_the_terms_in_force(app, sides):
    brand, platform, _ = sides
    partnership = act(app, services.propose, brand, platform, TERMS)
    act(app, services.revise_terms, partnership, platform, dict(TERMS, ack_minutes=2880))  # counter-proposal
    assert [t.state for t in services.terms_history(partnership)] == ["pending", "superseded"]
    with pytest.raises(Conflict):
        act(app, services.accept_terms, partnership, platform)
    active = act(app, services.accept_terms, partnership, brand)
    assert services.terms_in_force(active).ack_minutes == 2880 and active.terms_version == 2
    act(app, services.revise_terms, active, brand, dict(TERMS, ack_minutes=60, fast_ack_minutes=30))
    assert services.terms_in_force(Partnership.get_by_id(active.id)).ack_minutes == 2880  # still v2
    act(app, services.decline_terms, active, platform, "Too short for us.")
    assert services.terms_in_force(Partnership.get_by_id(active.id)).version == 2
    assert Partnership.get_by_id(active.id).status == "active"
    assert [t.state for t in services.terms_history(active)] == ["declined", "in_force", "superseded"]


def test_accepted_terms_dated_later_leave_the_earlier_ones_governing_until_then(app, sides, world):
    from datetime import datetime
    from portal.accounts.models import Marketplace
    brand, platform, _ = sides
    partnership = act(app, services.create_partnership, brand, platform, TERMS)
    act(app, services.revise_terms, partnership, platform, dict(TERMS, effective_from="2027-01-01", ack_minutes=60,
                                                               fast_ack_minutes=30))
    act(app, services.accept_terms, partnership, brand)
    taobao = Marketplace.get(Marketplace.slug == "taobao")
    partnership = Partnership.get_by_id(partnership.id)
    assert services.filing_terms(partnership, taobao, now=datetime(2026, 12, 1)).version == 1
    assert services.filing_terms(partnership, taobao, now=datetime(2027, 1, 2)).version == 2
    assert [t.state for t in services.terms_history(partnership)] == ["in_force", "replaced"]


def test_declining_a_proposal_ends_it_and_a_new_proposal_is_then_possible(app, sides):
    brand, platform, _ = sides
    partnership = act(app, services.propose, brand, platform, TERMS)
    with pytest.raises(Conflict, match="already have"):
        act(app, services.propose, brand, platform, TERMS)
    with pytest.raises(ValidationError):
        act(app, services.decline_terms, partnership, platform, "  ")
    ended = act(app, services.decline_terms, partnership, platform, "We do not serve this brand's category.")
    assert ended.status == "ended" and "category" in ended.status_reason
    assert act(app, services.propose, brand, platform, TERMS).status == "proposed"


def test_suspend_resume_end(app, sides):
    brand, platform, _ = sides
    partnership = act(app, services.create_partnership, brand, platform, TERMS)
    with pytest.raises(ValidationError):
        act(app, services.change_status, partnership, brand, "suspend", "")
    assert act(app, services.change_status, partnership, brand, "suspend", "Audit").status == "suspended"
    with pytest.raises(Conflict):
        act(app, services.change_status, partnership, brand, "suspend", "Again")
    with pytest.raises(Conflict, match="only it can resume"):
        act(app, services.change_status, partnership, platform, "resume")  # the brand suspended it
    assert act(app, services.change_status, partnership, brand, "resume").status == "active"
    assert act(app, services.change_status, partnership, platform, "end", "MOU expired").status == "ended"
    with pytest.raises(Conflict):
        act(app, services.revise_terms, partnership, brand, TERMS)


@pytest.mark.parametrize("change, field", [
    ({"timezone": "Mars/Olympus"}, "timezone"), ({"fast_ack_minutes": 2000}, "fast_ack_minutes"),
    ({"opens": "18:00", "closes": "09:00"}, "closes"), ({"marketplaces": ["ebay"]}, "marketplaces"),
    ({"marketplaces": []}, "marketplaces"), ({"ack_minutes": 0}, "ack_minutes"), ({"ack_minutes": "soon"}, "ack_minutes"),
    ({"effective_to": "2025-12-31"}, "effective_to"), ({"effective_from": "01/02/2026"}, "effective_from"),
    ({"working_days": "monday-friday"}, "working_days"), ({"holidays": ["2026-13-01"]}, "holidays"),
    ({"opens": "9h"}, "opens"),
])
def test_bad_terms_are_refused_field_by_field_and_nothing_is_created(app, sides, change, field):
    brand, platform, _ = sides
    with pytest.raises(ValidationError) as refused:
        act(app, services.propose, brand, platform, dict(TERMS, **change))
    assert field in refused.value.errors
    assert Partnership.select().count() == 0 and Terms.select().count() == 0


def test_a_24_7_policy_ignores_working_hours(app, sides):
    brand, platform, _ = sides
    partnership = act(app, services.create_partnership, brand, platform, dict(TERMS, always_open=True,
                                                                              opens="18:00", closes="09:00"))
    terms = services.terms_in_force(partnership)
    assert terms.always_open and terms.describe_calendar() == "24/7 (Asia/Shanghai)"


def test_the_pages_take_both_sides_through_the_flow(app, sides, make_client):
    brand, platform, people = sides
    brand_admin = make_client()
    brand_admin.sign_in(people[("louis-vuitton", "admin")].email)
    form = brand_admin.get("/partnerships/new")
    assert form.status_code == 200 and "Tmall" in page_text(form)
    response = brand_admin.post_form("/partnerships/new", {
        "platform": str(platform.id), "effective_from": "2026-01-01", "marketplaces": ["taobao", "tmall"],
        "ack_hours": "24", "action_hours": "72", "fast_ack_hours": "4", "fast_action_hours": "80",
        "timezone": "Asia/Shanghai", "working_days": "mon-fri", "opens": "09:00", "closes": "18:00",
        "holidays": "2026-10-01\n2026-10-02"})
    assert response.status_code == 422 and "must not be longer than the normal one" in page_text(response)
    response = brand_admin.post_form("/partnerships/new", {
        "platform": str(platform.id), "effective_from": "2026-01-01", "marketplaces": ["taobao", "tmall"],
        "ack_hours": "24", "action_hours": "72", "fast_ack_hours": "4", "fast_action_hours": "24",
        "timezone": "Asia/Shanghai", "working_days": "mon-fri", "opens": "09:00", "closes": "18:00",
        "holidays": "2026-10-01\n2026-10-02", "note": "As agreed in the MOU of 2026."})
    assert response.status_code == 302
    partnership = Partnership.get()
    terms = services.pending_terms(partnership)
    assert terms.marketplace_slugs == ["taobao", "tmall"] and terms.fast_action_minutes == 1440
    platform_admin = make_client()
    platform_admin.sign_in(people[("alibaba", "admin")].email)
    page = page_text(platform_admin.get(f"/partnerships/{partnership.id}"))
    assert "Accept terms v1" in page and "As agreed in the MOU" in page
    assert platform_admin.post_form(f"/partnerships/{partnership.id}/accept").status_code == 302
    assert Partnership.get_by_id(partnership.id).status == "active"
    listing = page_text(brand_admin.get("/partnerships"))
    assert "Alibaba" in listing and "active" in listing
    revision = platform_admin.get(f"/partnerships/{partnership.id}/terms")
    assert 'value="24"' in revision.get_data(as_text=True)
    analyst = make_client()
    analyst.sign_in(people[("louis-vuitton", "analyst")].email)
    assert analyst.get("/partnerships/new").status_code == 403
    assert analyst.post_form(f"/partnerships/{partnership.id}/suspend", {"reason": "x"}).status_code == 403
    assert platform_admin.get("/partnerships/new").status_code == 404  # brands propose


def test_existing_partnerships_keep_working_for_marks(app, sides, world):
    brand, platform, _ = sides
    world.partnership(brand, platform)
    from portal.partnerships.services import active_partner_brands
    assert [b.slug for b in active_partner_brands(platform)] == ["louis-vuitton"]
    assert services.terms_in_force(Partnership.get()).marketplace_slugs == ["taobao", "tmall"]


def test_brands_see_over_the_api_the_marketplaces_they_may_file_on(app, sides, world, client):
    from tests.platform.test_api import bearer, client_token
    brand, platform, _ = sides
    stranger = world.org("Shopmart", kind="platform")
    foreign = world.marketplace(stranger, "Shopmart US", "US")
    token = client_token(client, brand, "notices:read")
    assert client.get("/api/v1/marketplaces", headers=bearer(token)).json["items"] == []  # no partnership yet
    partnership = act(app, services.create_partnership, brand, platform, TERMS)
    body = client.get("/api/v1/marketplaces", headers=bearer(token)).json
    assert [m["slug"] for m in body["items"]] == ["taobao", "tmall"]
    assert client.get(f"/api/v1/marketplaces/{body['items'][0]['id']}", headers=bearer(token)).status_code == 200
    assert client.get(f"/api/v1/marketplaces/{foreign.id}", headers=bearer(token)).status_code == 404
    act(app, services.change_status, partnership, platform, "suspend", "Audit")
    assert client.get("/api/v1/marketplaces", headers=bearer(token)).json["items"] == []
