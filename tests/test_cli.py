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


def test_demo_seeds_the_alliance_once(runner, make_client):
    code, data = run(runner, "demo")
    assert code == 0 and data["seeded"] is True
    assert {o.slug for o in Organization.select()} == {"microsoft", "louis-vuitton", "swarovski", "alibaba"}
    assert {m.slug for m in Marketplace.select()} == {"taobao", "tmall", "aliexpress"}
    for org in Organization.select():
        roles = {m.role for m in Membership.for_org(org)}
        assert {"admin", "analyst"} <= roles
    logins = {(login["email"], login["org"]) for login in data["logins"]}
    assert ("counsel@lawfirm.example", "louis-vuitton") in logins
    assert ("counsel@lawfirm.example", "swarovski") in logins

    client = make_client()
    assert client.sign_in("admin@alibaba.example", data["password"]).headers["Location"] == "/"
    assert "Taobao" in client.get("/").get_data(as_text=True)
    # Alibaba partners with the three brands: their marks wait in its verification queue (one expired).
    queue = client.get("/marks/verification").get_data(as_text=True)
    assert "LOUIS VUITTON" in queue and "SWAROVSKI" in queue and "XBOX" in queue
    from portal.marks.models import Mark
    assert Mark.select().count() == 8 and Mark.select().where(Mark.status == "expired").count() >= 1

    code, again = run(runner, "demo")
    assert code == 0 and again["seeded"] is False and again["password"] == data["password"]
    assert Organization.select().count() == 4


def test_partnership_and_marks_import_commands(runner, tmp_path):
    run(runner, "org", "create", "--name", "Swarovski", "--kind", "brand")
    run(runner, "org", "create", "--name", "Alibaba", "--kind", "platform")
    code, data = run(runner, "partnership", "create", "--brand", "swarovski", "--platform", "alibaba")
    assert code == 0 and data["status"] == "active"
    code, refused = run(runner, "partnership", "create", "--brand", "alibaba", "--platform", "swarovski")
    assert code == 1 and "brand organization and a platform" in refused["error"]
    path = tmp_path / "marks.csv"
    path.write_text("word,office,registration_number,nice_classes\nSWAROVSKI,EUIPO,18123456,14\nX,USPTO,ABC,9\n")
    code, job = run(runner, "marks", "import", "--org", "swarovski", str(path))
    assert code == 0 and (job["status"], job["created"], job["errors"]) == ("done", 1, 1)
    assert job["error_rows"][0]["code"] == "bad_number" and job["error_rows"][0]["row"] == 3
    path.write_text("")
    code, empty = run(runner, "marks", "import", "--org", "swarovski", str(path))
    assert code == 1 and "empty" in empty["error"]
    code, expired = run(runner, "marks", "expire")
    assert code == 0 and expired == {"expired": 0}
