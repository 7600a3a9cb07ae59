"""Org admins manage API clients on the page and with the CLI: create (secret shown once), rotate,
revoke, last use; every change audited; bad input re-renders with messages and creates nothing."""
import json
import re

import pytest

from portal.audit import AuditEvent
from portal.oauth.models import OAuthClient, Token
from tests.conftest import page_text

SECRET_PATTERN = re.compile(r'id="new-client-secret" type="text" readonly value="([^"]+)"')
CLIENT_ID_PATTERN = re.compile(r'id="new-client-id" type="text" readonly value="([^"]+)"')


def create(client, **fields):
    data = {"name": "Weekly report pull", "client_type": "confidential", "scope": ["reports:read"],
            "redirect_uris": ""}
    data.update(fields)
    return client.post_form("/settings/api-clients", data)


def token_status(client, client_id, secret):
    return client.post("/oauth/token", data={"grant_type": "client_credentials"},
                       auth=(client_id, secret)).status_code


def test_admin_creates_a_client_and_sees_the_secret_once(admin):
    client, org = admin
    response = create(client, scope=["reports:read", "marks:read"])
    assert response.status_code == 201
    text = response.get_data(as_text=True)
    secret, client_id = SECRET_PATTERN.search(text).group(1), CLIENT_ID_PATTERN.search(text).group(1)
    stored = OAuthClient.get(OAuthClient.client_id == client_id)
    assert stored.org_id == org.id and stored.scope_list == ["marks:read", "reports:read"]
    assert secret not in (stored.secret_hash or "") and stored.secret_hint == secret[-4:]
    assert stored.grant_type_list == ["client_credentials"]
    # Never again: the list page shows the client, not its secret.
    listing = page_text(client.get("/settings/api-clients"))
    assert "Weekly report pull" in listing and secret not in listing and "Never" in listing
    # The secret works, and the page then shows the last use.
    assert token_status(client, client_id, secret) == 200
    assert "Never" not in page_text(client.get("/settings/api-clients"))
    event = AuditEvent.get(AuditEvent.action == "oauth.client.created")
    assert event.org_id == org.id and secret not in event.change


def test_a_vendor_app_with_redirect_uris_gets_the_user_grants(admin):
    client, org = admin
    response = create(client, name="Vendor app", client_type="public", scope=["marks:read"],
                      redirect_uris="https://vendor.example/cb\nhttp://127.0.0.1:8765/cb")
    assert response.status_code == 201 and not SECRET_PATTERN.search(response.get_data(as_text=True))
    stored = OAuthClient.get(OAuthClient.name == "Vendor app")
    assert stored.public and stored.secret_hash is None
    assert stored.grant_type_list == ["authorization_code", "refresh_token"]
    assert stored.redirect_uri_list == ["https://vendor.example/cb", "http://127.0.0.1:8765/cb"]


@pytest.mark.parametrize("fields, message", [
    ({"name": ""}, "Name the integration"),
    ({"scope": []}, "Choose at least one scope"),
    ({"scope": ["reports:read", "admin:all"]}, "Unknown scope: admin:all"),
    ({"redirect_uris": "http://vendor.example/cb"}, "use https"),
    ({"redirect_uris": "https://vendor.example/cb#frag"}, "fragment"),
    ({"redirect_uris": "not-a-url"}, "not an absolute URL"),
    ({"redirect_uris": "https://[abc/cb"}, "not an absolute URL"),
    ({"redirect_uris": "https://vendor.example:99999/cb"}, "not an absolute URL"),
    ({"redirect_uris": "https://a.example/cb\thttp://evil.example/steal"}, "spaces or control characters"),
    ({"client_type": "public"}, "needs at least one redirect URI"),
    ({"client_type": "superuser"}, "Not a valid choice"),
])
def test_bad_input_is_explained_and_creates_nothing(admin, fields, message):
    client, _ = admin
    response = create(client, **fields)
    assert response.status_code == 422
    assert message in page_text(response)
    assert OAuthClient.select().count() == 0


def test_a_platform_cannot_give_marks_write(make_client, world):
    org = world.org("Alibaba", kind="platform")
    admin = world.person(org, "admin")
    client = make_client()
    client.sign_in(admin.email)
    assert "marks:write" not in page_text(client.get("/settings/api-clients"))
    response = create(client, scope=["marks:write"])
    assert response.status_code == 422 and "cannot give the scope marks:write" in page_text(response)
    assert OAuthClient.select().count() == 0


def test_rotating_the_secret_replaces_it_at_once(admin):
    client, org = admin
    text = create(client).get_data(as_text=True)
    old, client_id = SECRET_PATTERN.search(text).group(1), CLIENT_ID_PATTERN.search(text).group(1)
    stored = OAuthClient.get(OAuthClient.client_id == client_id)
    response = client.post_form(f"/settings/api-clients/{stored.id}/rotate")
    assert response.status_code == 200
    new = SECRET_PATTERN.search(response.get_data(as_text=True)).group(1)
    assert new != old
    assert token_status(client, client_id, old) == 401
    assert token_status(client, client_id, new) == 200
    assert AuditEvent.select().where(AuditEvent.action == "oauth.client.secret_rotated").count() == 1


def test_revoking_ends_the_client_and_its_tokens(admin):
    client, org = admin
    text = create(client).get_data(as_text=True)
    secret, client_id = SECRET_PATTERN.search(text).group(1), CLIENT_ID_PATTERN.search(text).group(1)
    token = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                        auth=(client_id, secret)).json["access_token"]
    stored = OAuthClient.get(OAuthClient.client_id == client_id)
    response = client.post_form(f"/settings/api-clients/{stored.id}/revoke")
    assert response.status_code == 302
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert token_status(client, client_id, secret) in (400, 401)
    assert Token.get().revoked_at is not None
    assert "Revoked" in page_text(client.get("/settings/api-clients"))
    # Revoked stays revoked: rotating or revoking again is refused with a reason.
    again = client.post_form(f"/settings/api-clients/{stored.id}/rotate")
    assert again.status_code == 422 and "revoked" in page_text(again)
    assert AuditEvent.select().where(AuditEvent.action == "oauth.client.revoked").count() == 1


def test_analysts_and_viewers_cannot_see_the_clients_page(make_client, world):
    org = world.org("Microsoft")
    world.person(org, "admin")
    for role in ("analyst", "viewer"):
        person = world.person(org, role)
        client = make_client()
        client.sign_in(person.email)
        assert client.get("/settings/api-clients").status_code == 403


# --- CLI ----------------------------------------------------------------------------------------------

def run(runner, *args):
    result = runner.invoke(args=list(args))
    return result.exit_code, json.loads(result.stdout)


def test_cli_client_create_prints_the_credentials(runner, world):
    world.org("Microsoft")
    code, data = run(runner, "client", "create", "--org", "microsoft", "--name", "Reporting",
                     "--scope", "reports:read marks:read")
    assert code == 0
    assert data["client_id"] and data["client_secret"] and data["scope"] == "marks:read reports:read"
    assert data["public"] is False and data["grant_types"] == ["client_credentials"]
    stored = OAuthClient.get(OAuthClient.client_id == data["client_id"])
    assert stored.check_client_secret(data["client_secret"])
    event = AuditEvent.get(AuditEvent.action == "oauth.client.created")
    assert event.actor_label.startswith("cli:")


def test_cli_public_client(runner, world):
    world.org("Microsoft")
    code, data = run(runner, "client", "create", "--org", "microsoft", "--name", "Vendor", "--scope",
                     "marks:read", "--public", "--redirect-uri", "https://vendor.example/cb")
    assert code == 0 and data["client_secret"] is None
    assert data["redirect_uris"] == ["https://vendor.example/cb"]


def test_cli_refuses_a_second_uri_smuggled_in_with_a_newline(runner, world):
    world.org("Microsoft")
    code, data = run(runner, "client", "create", "--org", "microsoft", "--name", "X", "--scope", "marks:read",
                     "--redirect-uri", "https://a.example/cb\nhttp://evil.example/steal")
    assert code == 1 and "control characters" in data["errors"]["redirect_uris"][0]
    assert OAuthClient.select().count() == 0


def test_cli_refuses_bad_input_with_json(runner, world):
    world.org("Alibaba", kind="platform")
    code, data = run(runner, "client", "create", "--org", "alibaba", "--name", "X", "--scope", "marks:write")
    assert code == 1 and "cannot give the scope marks:write" in data["errors"]["scope"][0]
    code, data = run(runner, "client", "create", "--org", "nowhere", "--name", "X", "--scope", "marks:read")
    assert code == 1 and "nowhere" in data["error"]
    code, data = run(runner, "client", "create", "--org", "alibaba", "--name", "N" * 121, "--scope", "marks:read")
    assert code == 1 and "at most 120" in data["errors"]["name"][0]
    code, data = run(runner, "client", "create", "--org", "alibaba", "--name", "X", "--scope", "marks:read",
                     "--public")
    assert code == 1 and "redirect URI" in data["errors"]["redirect_uris"][0]
    assert OAuthClient.select().count() == 0


def test_an_orgs_admin_sees_and_revokes_apps_acting_for_its_members(live_server, make_client, world):
    """An app registered by another org, authorized by one of our members for our org, is listed on our
    page and can be revoked by our admin; the registering org does not see it as ours."""
    from tests.oauth_helpers import CALLBACK, browser_session, register, user_token
    vendor_org, brand = world.org("Vendor Co"), world.org("Swarovski")
    world.person(brand, "admin", email="admin@swarovski.example")
    analyst = world.person(brand, "analyst", email="analyst@swarovski.example")
    app_client, secret = register(vendor_org, "marks:read", redirect_uris=[CALLBACK], name="Vendor app")
    session, _ = user_token(live_server, browser_session(live_server, analyst.email), app_client, secret)
    assert session.get(f"{live_server}/api/v1/me").status_code == 200

    admin = make_client()
    admin.sign_in("admin@swarovski.example")
    page = page_text(admin.get("/settings/api-clients"))
    assert "Vendor app" in page and "analyst@swarovski.example" in page and "registered elsewhere" in page
    family = Token.get().family
    assert admin.post_form(f"/settings/api-clients/grants/{family}/revoke").status_code == 302
    assert session.get(f"{live_server}/api/v1/me").status_code == 401
    assert "analyst@swarovski.example" not in page_text(admin.get("/settings/api-clients"))
    event = AuditEvent.get(AuditEvent.action == "oauth.grant.revoked")
    assert event.org_id == brand.id and "Vendor app" in event.change
    assert admin.post_form("/settings/api-clients/grants/no-such-grant/revoke").status_code == 404
    # Text no family can be (NUL, which PostgreSQL would refuse) is the same 404, not a database error.
    assert admin.post_form("/settings/api-clients/grants/ab%00cd/revoke").status_code == 404
