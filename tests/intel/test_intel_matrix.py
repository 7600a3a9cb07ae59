"""The sharing matrix, generated: every distribution and TLP label x every kind of viewer x every path that
can show a flag. Not one leak, and nothing missing.

Viewers: the flag's owner (Louis Vuitton), a member of its sharing group (Swarovski), an alliance member
outside the group (Microsoft), the platform (Alibaba, outside the group too) and a brand with no relation
to anyone (no partnership, no group). Each flag carries a unique marker in its seller id, display name and
e-mail identifier, so a leak shows up as the marker on a page, in a CSV, in an API body or in an event.

Paths: the flag's page, the list page, the list's search, the figures (counts per status and the
dashboard's), the CSV export, the API list, the API search, the API detail, the seller profile (page and
API), linked sellers (page and API, through a probe seller everyone sees that shares the flag's e-mail),
and the `intel.flag.shared` events in the viewer's audit trail (what webhooks will deliver).
"""
import itertools
import json

import pytest

from portal.audit import AuditEvent
from portal.intel import services, sharing
from portal.intel.models import Flag
from portal.intel.models import DISTRIBUTIONS, TLP_LABELS
from portal.intel.sharing import CONTRADICTIONS
from portal.extensions import limiter
from tests.conftest import World, empty_all_tables
from tests.oauth_helpers import register

VIEWERS = ("owner", "group_member", "alliance_member", "platform", "unrelated")
COMBINATIONS = [(tlp, distribution) for tlp, distribution in itertools.product(TLP_LABELS, DISTRIBUTIONS)
                if (tlp, distribution) not in CONTRADICTIONS]


def expected_visible(distribution, viewer):
    return viewer == "owner" or distribution == "alliance" or (distribution == "group" and viewer == "group_member")


@pytest.fixture(scope="module")
def matrix_world(app):
    """Orgs, people, API tokens, one flag per valid (label, distribution) pair and a probe seller per flag."""
    with app.app_context():
        empty_all_tables()
    world = World(app)
    orgs = {"owner": world.org("Louis Vuitton"), "group_member": world.org("Swarovski"),
            "alliance_member": world.org("Microsoft"), "platform": world.org("Alibaba", kind="platform"),
            "unrelated": world.org("Lonely Brand")}
    world.marketplace(orgs["platform"], "Taobao")
    for kind in ("owner", "group_member", "alliance_member"):
        world.partnership(orgs[kind], orgs["platform"])
    people = {kind: world.person(org, "analyst") for kind, org in orgs.items()}
    tokens = {}
    for kind, org in orgs.items():
        client, secret = register(org, "intel:read intel:write")
        response = app.test_client().post("/oauth/token", data={"grant_type": "client_credentials"},
                                          auth=(client.client_id, secret))
        tokens[kind] = response.json["access_token"]
    flags, probes = {}, {}
    for number, (tlp, distribution) in enumerate(COMBINATIONS):
        for show_group in ((False, True) if distribution == "group" else (False,)):
            key = (tlp, distribution, show_group)
            tag = f"mx{number:02d}{'s' if show_group else 'h'}q"  # no tag is a part of another
            email = f"link{len(flags)}@fakes.example"  # not the tag: the probe shows its e-mail to everyone
            flags[key] = world.flag(
                orgs["owner"], f"seller-{tag}", "taobao", tlp=tlp, distribution=distribution,
                share_with=[orgs["group_member"]] if distribution == "group" else (), show_group=show_group,
                display_name=f"Shop {tag}", identifiers={"email": email})
            # The probe: a seller everyone sees (the platform flags it to the alliance) sharing the e-mail.
            probes[tag] = f"probe-{len(flags)}"
            world.flag(orgs["platform"], probes[tag], "taobao", tlp="green", distribution="alliance",
                       identifiers={"email": email})
    return {"orgs": orgs, "people": people, "tokens": tokens, "flags": flags, "probes": probes}


@pytest.fixture(autouse=True)
def clean_state(matrix_world):
    """Replaces the conftest's: every test of this module reads the one matrix (each restores what it changes)."""
    limiter.reset()
    yield


def tag_of(flag):
    return flag.display_name.split(" ", 1)[1]


@pytest.fixture(scope="module")
def sessions(app, matrix_world):
    clients = {}
    for kind, person in matrix_world["people"].items():
        client = app.test_client()
        client.sign_in(person.email)
        clients[kind] = client
    return clients


def api(app, matrix_world, viewer, path):
    return app.test_client().get(path, headers={"Authorization": f"Bearer {matrix_world['tokens'][viewer]}"})


def paths_showing(app, matrix_world, sessions, viewer, flag):
    """{path name: whether `flag` shows there for `viewer`}."""
    tag, org = tag_of(flag), matrix_world["orgs"][viewer]
    page = sessions[viewer]
    found = {}

    detail = page.get(f"/intel/flags/{flag.id}")
    assert detail.status_code in (200, 404)
    found["page detail"] = detail.status_code == 200
    found["page list"] = tag in page.get("/intel/flags?status=all").get_data(as_text=True)
    # The search box echoes what was searched: look for the flag's name, not the bare tag.
    found["page search"] = f"Shop {tag}" in page.get(f"/intel/flags?status=all&q={tag}").get_data(as_text=True)
    export = page.get("/intel/flags.csv?status=all")
    assert export.status_code == 200
    found["csv export"] = tag in export.get_data(as_text=True)

    profile = page.get(f"/intel/sellers/taobao/seller-{tag}")
    assert profile.status_code in (200, 404)
    found["page seller profile"] = profile.status_code == 200 and tag in profile.get_data(as_text=True)
    probe_id = matrix_world["probes"][tag]
    probe = page.get(f"/intel/sellers/taobao/{probe_id}")
    assert probe.status_code == 200
    found["page linked sellers"] = f"seller-{tag}" in probe.get_data(as_text=True)

    listed = api(app, matrix_world, viewer, "/api/v1/intel/flags?status=all&limit=200")
    assert listed.status_code == 200 and listed.json["next_cursor"] is None
    found["api list"] = flag.id in {item["id"] for item in listed.json["items"]}
    searched = api(app, matrix_world, viewer, f"/api/v1/intel/flags?status=all&q={tag}")
    found["api search"] = flag.id in {item["id"] for item in searched.json["items"]}
    one = api(app, matrix_world, viewer, f"/api/v1/intel/flags/{flag.id}")
    assert one.status_code in (200, 404)
    found["api detail"] = one.status_code == 200
    seller = api(app, matrix_world, viewer, f"/api/v1/intel/sellers/taobao/seller-{tag}")
    assert seller.status_code in (200, 404)
    found["api seller profile"] = seller.status_code == 200
    probe_body = api(app, matrix_world, viewer, f"/api/v1/intel/sellers/taobao/{probe_id}")
    assert probe_body.status_code == 200
    found["api linked sellers"] = f"seller-{tag}" in json.dumps(probe_body.json)

    everything = services.search_flags(org, status="")
    found["counts"] = (sum(services.counts_by(everything, Flag.status).values())
                       == everything.count() and everything.where(Flag.id == flag.id).exists())
    events = AuditEvent.for_org(org).where(AuditEvent.action == "intel.flag.shared")
    found["shared events"] = any(tag in json.dumps(event.change_data) for event in events)
    return found


@pytest.mark.parametrize("viewer", VIEWERS)
def test_every_path_shows_exactly_what_the_rule_allows(app, matrix_world, sessions, viewer):
    leaks, missing = [], []
    for (tlp, distribution, show_group), flag in matrix_world["flags"].items():
        should = expected_visible(distribution, viewer)
        for path, shown in paths_showing(app, matrix_world, sessions, viewer, flag).items():
            if path == "shared events" and viewer == "owner":
                should_here = False  # the owner is not told of its own flag
            else:
                should_here = should
            if shown and not should_here:
                leaks.append(f"{tlp}/{distribution}{'+shown group' if show_group else ''} via {path}")
            if should_here and not shown:
                missing.append(f"{tlp}/{distribution}{'+shown group' if show_group else ''} via {path}")
    assert leaks == [], f"{viewer} sees what it may not"
    assert missing == [], f"{viewer} misses what it may see"


def test_counts_equal_the_rule(app, matrix_world):
    """The figures a viewer gets (list counts, the dashboard) count exactly the flags the rule allows."""
    flags = matrix_world["flags"]
    probes = Flag.select().where(Flag.org == matrix_world["orgs"]["platform"]).count()
    for viewer, org in matrix_world["orgs"].items():
        allowed = sum(1 for (tlp, distribution, _), _flag in flags.items() if expected_visible(distribution, viewer))
        by_status = services.counts_by(services.search_flags(org, status=""), Flag.status)
        assert sum(by_status.values()) == allowed + probes
        figures = services.summary(org)
        assert figures["mine"] + figures["received"] == allowed + probes


def test_group_members_never_learn_hidden_members(app, matrix_world, sessions):
    """A hidden group's other members' names appear nowhere a member can read the flag."""
    orgs = matrix_world["orgs"]
    hidden = [f for (tlp, distribution, shown), f in matrix_world["flags"].items() if distribution == "group" and not shown]
    for flag in hidden:
        # Add a second member the group member must not learn about.
        from portal.audit import acting_as
        with app.app_context(), acting_as("test"):
            services.update_flag(flag, orgs["owner"], {"share_with": [orgs["group_member"].slug, orgs["unrelated"].slug]})
        page = sessions["group_member"].get(f"/intel/flags/{flag.id}").get_data(as_text=True)
        body = api(app, matrix_world, "group_member", f"/api/v1/intel/flags/{flag.id}").json
        assert orgs["unrelated"].name not in page and orgs["unrelated"].slug not in page
        assert body["shared_with"] == [orgs["group_member"].slug]
        assert orgs["unrelated"].slug not in json.dumps(body)
        # The unrelated org, now named, sees the flag but not Swarovski's name either.
        other = api(app, matrix_world, "unrelated", f"/api/v1/intel/flags/{flag.id}").json
        assert other["shared_with"] == [orgs["unrelated"].slug]
        assert sharing.get_visible_flag(flag.id, orgs["unrelated"]).id == flag.id
        with app.app_context(), acting_as("test"):
            services.update_flag(flag, orgs["owner"], {"share_with": [orgs["group_member"].slug]})


def test_narrowing_a_flag_closes_every_path(app, matrix_world, sessions):
    """A flag shared with the alliance, then kept to its owner: gone from every path for everyone else."""
    from portal.audit import acting_as
    flag = matrix_world["flags"][("amber", "alliance", False)]
    with app.app_context(), acting_as("test"):
        services.update_flag(flag, matrix_world["orgs"]["owner"], {"distribution": "own"})
    try:
        for viewer in ("group_member", "alliance_member", "platform", "unrelated"):
            shown = paths_showing(app, matrix_world, sessions, viewer, flag)
            shown.pop("shared events")  # the trail keeps what was shared while it was
            assert not any(shown.values()), f"{viewer}: {[p for p, s in shown.items() if s]}"
    finally:
        with app.app_context(), acting_as("test"):
            services.update_flag(flag, matrix_world["orgs"]["owner"], {"distribution": "alliance"})
