"""The CLI prints JSON on stdout for success and for refused input; refused input exits 1 and changes nothing."""
import json

from portal.accounts.models import Marketplace, Membership, Organization, User
from portal.accounts.passwords import verify_password
from portal.audit import AuditEvent
from tests.conftest import PASSWORD


def run(runner, *args, env=None, input=None):
    result = runner.invoke(args=list(args), env=env, input=input)
    return result.exit_code, json.loads(result.stdout)


def test_org_create_prints_the_org(runner):
    code, data = run(runner, "org", "create", "--name", "Louis Vuitton", "--kind", "brand",
                     "--timezone", "Europe/Paris")
    assert code == 0
    assert data == {"id": data["id"], "slug": "louis-vuitton", "name": "Louis Vuitton", "kind": "brand",
                    "timezone": "Europe/Paris"}
    event = AuditEvent.for_org(data["id"]).get()
    assert event.action == "org.created" and event.actor_label.startswith("cli:")


def test_org_create_refuses_bad_input_with_json(runner):
    code, data = run(runner, "org", "create", "--name", "Acme", "--kind", "brand", "--timezone", "Mars/Olympus")
    assert code == 1 and "IANA time zone" in data["errors"]["timezone"][0]
    code, data = run(runner, "org", "create", "--name", "Acme", "--kind", "brand", "--slug", "Not A Slug!")
    assert code == 1 and "slug" in data["errors"]
    run(runner, "org", "create", "--name", "Acme", "--kind", "brand")
    code, data = run(runner, "org", "create", "--name", "Acme Again", "--kind", "platform", "--slug", "acme")
    assert code == 1 and "already exists" in data["error"]
    assert Organization.select().count() == 1


def test_marketplace_create(runner):
    run(runner, "org", "create", "--name", "Alibaba Group", "--kind", "platform", "--slug", "alibaba")
    code, data = run(runner, "marketplace", "create", "--org", "alibaba", "--name", "Taobao", "--country", "cn")
    assert code == 0
    assert data == {"id": data["id"], "org": "alibaba", "slug": "taobao", "name": "Taobao", "country": "CN"}
    code, data = run(runner, "marketplace", "create", "--org", "alibaba", "--name", "Tmall", "--country", "China")
    assert code == 1 and "two-letter" in data["errors"]["country"][0]
    code, data = run(runner, "marketplace", "create", "--org", "nowhere", "--name", "X")
    assert code == 1 and "No organization with slug 'nowhere'" in data["error"]


def test_marketplace_needs_a_platform_org(runner):
    run(runner, "org", "create", "--name", "Microsoft", "--kind", "brand")
    code, data = run(runner, "marketplace", "create", "--org", "microsoft", "--name", "Store")
    assert code == 1 and "platform" in data["errors"]["org"][0]
    assert Marketplace.select().count() == 0


def test_user_create_takes_the_password_from_the_environment(runner):
    run(runner, "org", "create", "--name", "Microsoft", "--kind", "brand")
    code, data = run(runner, "user", "create", "--email", "Ada@Microsoft.example", "--org", "microsoft",
                     "--role", "admin", env={"PORTAL_PASSWORD": PASSWORD})
    assert code == 0 and data["created"] is True
    assert data["user"]["email"] == "ada@microsoft.example"
    assert data["membership"] == {"id": data["membership"]["id"], "org": "microsoft",
                                  "user": "ada@microsoft.example", "role": "admin", "active": True}
    user = User.get(User.email == "ada@microsoft.example")
    assert user.password_hash.startswith("$argon2id$")
    assert verify_password(user.password_hash, PASSWORD)


def test_user_create_prompts_when_no_password_is_set(runner):
    run(runner, "org", "create", "--name", "Microsoft", "--kind", "brand")
    result = runner.invoke(args=["user", "create", "--email", "bo@microsoft.example", "--org", "microsoft",
                                 "--role", "viewer"], env={"PORTAL_PASSWORD": ""},
                           input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["created"] is True  # the prompt went to stderr, stdout is pure JSON


def test_user_create_adds_a_membership_to_an_existing_account(runner):
    run(runner, "org", "create", "--name", "Louis Vuitton", "--kind", "brand")
    run(runner, "org", "create", "--name", "Swarovski", "--kind", "brand")
    env = {"PORTAL_PASSWORD": PASSWORD}
    run(runner, "user", "create", "--email", "counsel@lawfirm.example", "--org", "louis-vuitton",
        "--role", "analyst", env=env)
    code, data = run(runner, "user", "create", "--email", "counsel@lawfirm.example", "--org", "swarovski",
                     "--role", "viewer", env={"PORTAL_PASSWORD": ""})
    assert code == 0 and data["created"] is False
    assert Membership.select().count() == 2 and User.select().count() == 1
    code, data = run(runner, "user", "create", "--email", "counsel@lawfirm.example", "--org", "swarovski",
                     "--role", "viewer")
    assert code == 1 and "already a member" in data["error"]


def test_user_create_refuses_a_weak_password(runner):
    run(runner, "org", "create", "--name", "Microsoft", "--kind", "brand")
    code, data = run(runner, "user", "create", "--email", "x@microsoft.example", "--org", "microsoft",
                     "--role", "admin", env={"PORTAL_PASSWORD": "short"})
    assert code == 1 and "at least 12 characters" in data["errors"]["password"][0]
    assert User.select().count() == 0


# The demo command has its own module, tests/test_demo.py (it seeds once for several tests).


def test_partnership_and_marks_import_commands(runner, tmp_path):
    run(runner, "org", "create", "--name", "Swarovski", "--kind", "brand")
    run(runner, "org", "create", "--name", "Alibaba", "--kind", "platform")
    code, refused = run(runner, "partnership", "create", "--brand", "swarovski", "--platform", "alibaba")
    assert code == 1 and "marketplace" in refused["errors"]["marketplaces"][0]  # terms cover a marketplace
    run(runner, "marketplace", "create", "--org", "alibaba", "--name", "Taobao", "--country", "CN")
    code, data = run(runner, "partnership", "create", "--brand", "swarovski", "--platform", "alibaba")
    assert code == 0 and data["status"] == "active"
    # Default terms: business hours in the platform's zone, every marketplace, 24 h / 72 h.
    assert data["terms"]["marketplaces"] == ["taobao"] and data["terms"]["always_open"] is False
    assert (data["terms"]["ack_minutes"], data["terms"]["action_minutes"]) == (24 * 60, 72 * 60)
    code, refused = run(runner, "partnership", "create", "--brand", "alibaba", "--platform", "swarovski")
    assert code == 1 and "brand organization and a platform" in refused["error"]
    path = tmp_path / "marks.csv"
    path.write_text("word,office,registration_number,nice_classes\nSWAROVSKI,EUIPO,18123456,14\nX,USPTO,ABC,9\n")
    code, job = run(runner, "marks", "import", "--org", "swarovski", str(path))
    assert code == 0 and (job["status"], job["created"], job["errors"]) == ("done", 1, 1)
    assert job["error_rows"][0]["code"] == "bad_number" and job["error_rows"][0]["row"] == 3
    # A dry run of an update says what it changes and what that leads to.
    path.write_text("word,office,registration_number,nice_classes,expires_on\nSWAROVSKI,EUIPO,18123456,,2001-01-01\n")
    code, dry = run(runner, "marks", "import", "--org", "swarovski", "--dry-run", str(path))
    assert code == 0 and dry["consequences"] == {"becomes_expired": 1}
    assert dry["summary"][0].startswith("1 mark will become expired")
    assert dry["updated_rows"][0]["changes"][0] == {"field": "expires_on", "before": "", "after": "2001-01-01"}
    assert dry["consequence_rows"][0]["consequences"] == [{"code": "becomes_expired", "label": "becomes expired"}]
    path.write_text("")
    code, empty = run(runner, "marks", "import", "--org", "swarovski", str(path))
    assert code == 1 and "empty" in empty["error"]
    code, expired = run(runner, "marks", "expire")
    assert code == 0 and expired == {"expired": 0}


def platform_with_marketplaces(runner):
    run(runner, "org", "create", "--name", "Louis Vuitton", "--kind", "brand", "--timezone", "Europe/Paris")
    run(runner, "org", "create", "--name", "Microsoft", "--kind", "brand")
    run(runner, "org", "create", "--name", "Alibaba", "--kind", "platform", "--timezone", "Asia/Shanghai")
    for name in ("Taobao", "Tmall", "AliExpress"):
        run(runner, "marketplace", "create", "--org", "alibaba", "--name", name, "--country", "CN")


def test_partnership_create_takes_terms(runner):
    from portal.partnerships.models import Partnership

    platform_with_marketplaces(runner)
    code, data = run(runner, "partnership", "create", "--brand", "microsoft", "--platform", "alibaba",
                     "--always-open", "--timezone", "UTC", "--ack-minutes", "120", "--action-minutes", "480",
                     "--fast-ack-minutes", "60", "--fast-action-minutes", "240",
                     "--marketplace", "taobao", "--marketplace", "aliexpress", "--effective-from", "2026-01-01")
    assert code == 0 and data["status"] == "active"
    terms = data["terms"]
    assert terms["always_open"] is True and terms["timezone"] == "UTC"
    assert (terms["ack_minutes"], terms["action_minutes"]) == (120, 480)
    assert (terms["fast_ack_minutes"], terms["fast_action_minutes"]) == (60, 240)
    assert terms["marketplaces"] == ["aliexpress", "taobao"] and terms["effective_from"] == "2026-01-01"
    assert data["calendar"] == "24/7 (UTC)"
    assert data["good_faith"]["fast_lane"] is False and data["good_faith"]["decided"] == 0

    code, data = run(runner, "partnership", "create", "--brand", "louis-vuitton", "--platform", "alibaba",
                     "--working-days", "mon-fri", "--opens", "09:00", "--closes", "18:00",
                     "--holiday", "2026-10-01", "--holiday", "2026-10-02", "--fast-ack-minutes", "60")
    assert code == 0
    terms = data["terms"]
    assert terms["always_open"] is False and terms["timezone"] == "Asia/Shanghai"  # the platform's zone
    assert (terms["opens"], terms["closes"], terms["working_days"]) == ("09:00", "18:00", [0, 1, 2, 3, 4])
    assert terms["holidays"] == ["2026-10-01", "2026-10-02"] and terms["fast_ack_minutes"] == 60
    assert terms["marketplaces"] == ["aliexpress", "taobao", "tmall"]
    assert data["calendar"] == "Mon, Tue, Wed, Thu, Fri 09:00-18:00 Asia/Shanghai, 2 holidays"
    assert Partnership.select().count() == 2


def test_partnership_create_refuses_bad_terms_with_json(runner):
    from portal.partnerships.models import Partnership

    platform_with_marketplaces(runner)
    base = ["partnership", "create", "--brand", "microsoft", "--platform", "alibaba"]
    code, data = run(runner, *base, "--ack-minutes", "soon", "--action-minutes", "0", "--timezone", "Mars/Olympus",
                     "--marketplace", "ebay", "--holiday", "next friday", "--opens", "18:00", "--closes", "09:00")
    assert code == 1
    assert set(data["errors"]) >= {"ack_minutes", "action_minutes", "timezone", "marketplaces", "holidays", "closes"}
    assert "whole minutes" in data["errors"]["ack_minutes"][0] and "ebay" in data["errors"]["marketplaces"][0]
    code, data = run(runner, *base, "--ack-minutes", "600", "--fast-ack-minutes", "900")
    assert code == 1 and "fast-lane" in data["errors"]["fast_ack_minutes"][0]
    assert Partnership.select().count() == 0
    run(runner, *base)
    code, data = run(runner, *base)
    assert code == 1 and "already have a partnership" in data["error"]


def test_partnership_list(runner):
    platform_with_marketplaces(runner)
    run(runner, "partnership", "create", "--brand", "microsoft", "--platform", "alibaba", "--always-open")
    run(runner, "partnership", "create", "--brand", "louis-vuitton", "--platform", "alibaba")
    code, data = run(runner, "partnership", "list")
    assert code == 0
    assert [(p["brand"], p["platform"], p["status"]) for p in data["partnerships"]] == [
        ("microsoft", "alibaba", "active"), ("louis-vuitton", "alibaba", "active")]
    first = data["partnerships"][0]
    assert first["terms"]["always_open"] is True and first["calendar"].startswith("24/7")
    assert first["good_faith"]["fast_lane"] is False and first["good_faith"]["window_days"] == 90
    code, data = run(runner, "partnership", "list", "--org", "louis-vuitton")
    assert code == 0 and [p["brand"] for p in data["partnerships"]] == ["louis-vuitton"]
    code, data = run(runner, "partnership", "list", "--org", "alibaba", "--status", "ended")
    assert code == 0 and data == {"partnerships": []}
    code, data = run(runner, "partnership", "list", "--org", "nowhere")
    assert code == 1 and "No organization with slug 'nowhere'" in data["error"]


def test_notices_check_sla_reports_warnings_and_breaches_once(runner, world):
    from datetime import timedelta

    from portal.sla.models import SlaClock
    from portal.timeutil import utcnow

    brand, platform = world.org("Swarovski"), world.org("Alibaba", kind="platform", timezone="Asia/Shanghai")
    partnership = world.partnership(brand, platform, always_open=True, ack_minutes=60, action_minutes=600,
                                    fast_ack_minutes=60, fast_action_minutes=600,
                                    effective_from=(utcnow() - timedelta(days=2)).date())
    # Filed two hours ago on a 24/7 calendar: the acknowledge clock (1 h) is past its deadline; the action
    # clock (10 h) is not yet at 75%.
    world.notice(brand, partnership, ["https://item.taobao.com/item.htm?id=600000000001"],
                 now=utcnow() - timedelta(hours=2))
    code, data = run(runner, "notices", "check-sla")
    assert code == 0 and data == {"warnings": 1, "breaches": 1}
    assert AuditEvent.select().where(AuditEvent.action == "sla.breached").count() == 2  # brand's and platform's
    assert AuditEvent.select().where(AuditEvent.actor_label.startswith("cli:")
                                     & (AuditEvent.action == "sla.breached")).count() == 2
    code, data = run(runner, "notices", "check-sla")
    assert code == 0 and data == {"warnings": 0, "breaches": 0}
    assert SlaClock.select().where(SlaClock.breached).count() == 1


def test_intel_import_and_rebuild_strikes(runner, world, tmp_path):
    from portal.intel.models import Flag, Strike
    from portal.notices.models import NoticeItem
    alibaba = world.org("Alibaba", kind="platform")
    world.marketplace(alibaba, "Taobao")
    lv = world.org("Louis Vuitton")
    path = tmp_path / "flags.csv"
    path.write_text("marketplace,seller_id,category,tlp,distribution\n"
                    "taobao,shop-1,suspected_counterfeit,green,alliance\n"
                    "taobao,shop-2,suspected_counterfeit,red,alliance\n")
    code, data = run(runner, "intel", "import", "--org", "louis-vuitton", str(path))
    assert code == 0 and data["created"] == 1 and data["errors"] == 1
    assert data["error_rows"][0]["row"] == 3 and data["error_rows"][0]["column"] == "tlp"
    assert Flag.select().count() == 1

    # Strikes that went missing (a database from before strikes existed) are replayed, idempotently.
    partnership = world.partnership(lv, alibaba)
    filed = world.notice(lv, partnership, [("https://item.taobao.com/item.htm?id=5", "shop-1")])
    item = NoticeItem.get(NoticeItem.notice == filed.notice)
    NoticeItem.update(state="removed", decision="removed", decided_at=filed.notice.filed_at).where(
        NoticeItem.id == item.id).execute()
    assert not Strike.select().exists()
    for _ in range(2):
        code, data = run(runner, "intel", "rebuild-strikes")
        assert code == 0 and data["strikes"] == 1 and data["repeat_infringers"] == 0
    assert Strike.get().item_id == item.id


def test_a_weak_demo_password_is_refused_as_json_and_seeds_nothing(runner, monkeypatch):
    monkeypatch.setenv("DEMO_PASSWORD", "password1234")
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 1
    answer = json.loads(result.stdout)
    assert "common" in " ".join(answer["errors"]["password"]).lower(), answer
    assert Organization.select().count() == 0 and User.select().count() == 0
