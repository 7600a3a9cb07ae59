"""The authorization server, driven by a real OAuth client library (Authlib's OAuth2Session) against the
app on a real WSGI server on loopback: every grant, rotation, reuse detection, revocation, introspection,
and the ways a client or attacker gets it wrong."""
import html
import re
from datetime import timedelta

import pytest
import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata

from portal.audit import AuditEvent, verify_chain
from portal.oauth.models import AuthorizationCode, OAuthClient, Token
from tests.oauth_helpers import (CALLBACK, authorize_url, browser_session, consent, pkce_session, redirect_params,
                                 register, user_token)


@pytest.fixture
def brand(world):
    org = world.org("Microsoft")
    admin = world.person(org, "admin")
    return org, admin


def machine_session(live_server, client, secret, scope=None):
    session = OAuth2Session(client.client_id, secret, scope=scope)
    token = session.fetch_token(f"{live_server}/oauth/token", grant_type="client_credentials")
    return session, token


# --- client credentials -------------------------------------------------------------------------------

def test_client_credentials_token_acts_for_the_clients_org(live_server, brand):
    org, _ = brand
    client, secret = register(org, "marks:read reports:read")
    session, token = machine_session(live_server, client, secret)
    assert token["token_type"].lower() == "bearer" and token["expires_in"] == 3600
    assert token["scope"] == "marks:read reports:read" and "refresh_token" not in token
    me = session.get(f"{live_server}/api/v1/me")
    assert me.status_code == 200
    body = me.json()
    assert body["org"]["slug"] == "microsoft" and body["user"] is None
    assert body["client"]["client_id"] == client.client_id
    assert body["scopes"] == ["marks:read", "reports:read"]
    stored = Token.get(Token.client == client.id)
    assert stored.access_token_hash != token["access_token"] and token["access_token"] not in stored.access_token_hash
    assert OAuthClient.get_by_id(client.id).last_used_at is not None


def test_client_credentials_may_ask_for_fewer_scopes_never_more(live_server, brand):
    org, _ = brand
    client, secret = register(org, "marks:read reports:read")
    _, token = machine_session(live_server, client, secret, scope="reports:read")
    assert token["scope"] == "reports:read"
    for scope in ("marks:write", "reports:read intel:read", "no-such-scope"):
        with pytest.raises(OAuthError) as refused:
            machine_session(live_server, client, secret, scope=scope)
        assert refused.value.error == "invalid_scope", scope


def test_secret_in_the_body_works_too(live_server, brand):
    org, _ = brand
    client, secret = register(org, "reports:read")
    response = requests.post(f"{live_server}/oauth/token", data={
        "grant_type": "client_credentials", "client_id": client.client_id, "client_secret": secret})
    assert response.status_code == 200 and response.json()["access_token"]
    assert response.headers["Cache-Control"] == "no-store"


def test_wrong_or_missing_secret_is_invalid_client(live_server, brand):
    org, _ = brand
    client, secret = register(org, "reports:read")
    for wrong in (secret + "x", "", secret.upper()):
        with pytest.raises(OAuthError) as refused:
            machine_session(live_server, client, wrong)
        assert refused.value.error == "invalid_client"
    response = requests.post(f"{live_server}/oauth/token", data={"grant_type": "client_credentials",
                                                                 "client_id": "nobody"})
    assert response.status_code in (400, 401) and response.json()["error"] == "invalid_client"
    assert Token.select().count() == 0


def test_public_client_cannot_use_client_credentials(live_server, brand):
    org, _ = brand
    client, _ = register(org, "reports:read", public=True, redirect_uris=[CALLBACK])
    response = requests.post(f"{live_server}/oauth/token", data={"grant_type": "client_credentials",
                                                                 "client_id": client.client_id})
    assert response.status_code in (400, 401)
    assert response.json()["error"] in ("invalid_client", "unauthorized_client")


def test_password_and_implicit_grants_do_not_exist(live_server, brand):
    org, admin = brand
    client, secret = register(org, "reports:read", redirect_uris=[CALLBACK])
    response = requests.post(f"{live_server}/oauth/token", auth=(client.client_id, secret), data={
        "grant_type": "password", "username": admin.email, "password": "correct horse battery staple"})
    assert response.status_code == 400 and response.json()["error"] == "unsupported_grant_type"
    browser = browser_session(live_server, admin.email)
    implicit = browser.get(f"{live_server}/oauth/authorize", params={
        "response_type": "token", "client_id": client.client_id, "redirect_uri": CALLBACK}, allow_redirects=False)
    _, params = redirect_params(implicit)
    assert params["error"] == "unsupported_response_type" and "access_token" not in params


# --- authorization code + PKCE ------------------------------------------------------------------------

def test_authorization_code_with_pkce_through_the_consent_page(live_server, brand):
    org, admin = brand
    client, secret = register(org, "marks:read notices:read", redirect_uris=[CALLBACK], name="Vendor app")
    browser = browser_session(live_server, admin.email)
    session = pkce_session(client, secret)
    url, state, verifier = authorize_url(live_server, session)
    page, answer = consent(browser, url)
    assert "Vendor app" in page.text and "Microsoft" in page.text
    assert "marks:read" in page.text and "notices:read" in page.text
    location, params = redirect_params(answer)
    assert location.startswith(CALLBACK + "?") and params["state"] == state
    token = session.fetch_token(f"{live_server}/oauth/token", authorization_response=location,
                                code_verifier=verifier)
    assert token["refresh_token"] and token["scope"] == "marks:read notices:read"
    me = session.get(f"{live_server}/api/v1/me").json()
    assert me["user"]["email"] == admin.email and me["user"]["role"] == "admin"
    assert me["org"]["slug"] == "microsoft"
    assert AuditEvent.select().where(AuditEvent.action == "oauth.app.authorized").count() == 1


def test_public_client_flow_without_secret(live_server, brand):
    org, admin = brand
    client, secret = register(org, "marks:read", public=True, redirect_uris=[CALLBACK])
    assert secret is None
    browser = browser_session(live_server, admin.email)
    session, token = user_token(live_server, browser, client)
    assert session.get(f"{live_server}/api/v1/me").status_code == 200


def test_denying_consent_sends_access_denied_and_issues_nothing(live_server, brand):
    org, admin = brand
    client, secret = register(org, "marks:read", redirect_uris=[CALLBACK])
    browser = browser_session(live_server, admin.email)
    url, state, _ = authorize_url(live_server, pkce_session(client, secret))
    _, answer = consent(browser, url, decision="deny")
    _, params = redirect_params(answer)
    assert params["error"] == "access_denied" and params["state"] == state and "code" not in params
    assert AuthorizationCode.select().count() == 0


def test_consent_lets_a_multi_org_user_choose_and_limits_scopes_to_role_and_kind(live_server, world):
    brand_org, platform_org = world.org("Louis Vuitton"), world.org("Alibaba", kind="platform")
    counsel = world.person(brand_org, "viewer", email="counsel@lawfirm.example")
    from portal.accounts import services
    services.add_member(platform_org, counsel.email, "analyst")
    client, secret = register(brand_org, "marks:read marks:write", redirect_uris=[CALLBACK])
    browser = browser_session(live_server, counsel.email)
    # As a viewer at Louis Vuitton: read only.
    _, token = user_token(live_server, browser, client, secret, org=brand_org)
    assert token["scope"] == "marks:read"
    # At the platform: marks:write does not fit a platform org; marks:read does.
    session, token = user_token(live_server, browser, client, secret, org=platform_org)
    assert token["scope"] == "marks:read"
    assert session.get(f"{live_server}/api/v1/me").json()["org"]["slug"] == "alibaba"


def test_pkce_is_required_and_plain_is_refused(live_server, brand):
    org, admin = brand
    client, secret = register(org, "marks:read", redirect_uris=[CALLBACK])
    browser = browser_session(live_server, admin.email)
    without = OAuth2Session(client.client_id, secret, redirect_uri=CALLBACK)
    url, _ = without.create_authorization_url(f"{live_server}/oauth/authorize")
    _, params = redirect_params(browser.get(url, allow_redirects=False))
    assert params["error"] == "invalid_request" and "PKCE" in params["error_description"]
    plain = OAuth2Session(client.client_id, secret, redirect_uri=CALLBACK, code_challenge_method="plain")
    url, _ = plain.create_authorization_url(f"{live_server}/oauth/authorize", code_verifier="a" * 50)
    _, params = redirect_params(browser.get(url, allow_redirects=False))
    assert params["error"] == "invalid_request" and "S256" in params["error_description"]
    assert AuthorizationCode.select().count() == 0


def test_code_exchange_needs_the_right_verifier(live_server, brand):
    org, admin = brand
    client, secret = register(org, "marks:read", redirect_uris=[CALLBACK])
    browser = browser_session(live_server, admin.email)
    session = pkce_session(client, secret)
    url, _, verifier = authorize_url(live_server, session)
    location, params = redirect_params(consent(browser, url)[1])
    for bad in ({}, {"code_verifier": "x" * 60}):
        response = requests.post(f"{live_server}/oauth/token", auth=(client.client_id, secret), data={
            "grant_type": "authorization_code", "code": params["code"], "redirect_uri": CALLBACK, **bad})
        assert response.status_code == 400
        assert response.json()["error"] in ("invalid_request", "invalid_grant")
    assert Token.select().count() == 0


def test_unregistered_redirect_uri_is_never_redirected_to(live_server, brand):
    org, admin = brand
    client, secret = register(org, "marks:read", redirect_uris=[CALLBACK])
    browser = browser_session(live_server, admin.email)
    for evil in ("https://evil.example/callback", CALLBACK + "/extra", CALLBACK + "?x=1",
                 "http://127.0.0.1:9/CALLBACK"):
        session = pkce_session(client, secret, redirect_uri=evil)
        url, _, _ = authorize_url(live_server, session)
        response = browser.get(url, allow_redirects=False)
        assert response.status_code == 400, evil
        assert "Location" not in response.headers
        assert "cannot be used" in response.text


def test_scope_not_given_to_the_client_is_refused_at_authorize(live_server, brand):
    org, admin = brand
    client, secret = register(org, "marks:read", redirect_uris=[CALLBACK])
    browser = browser_session(live_server, admin.email)
    url, _, _ = authorize_url(live_server, pkce_session(client, secret, scope="marks:read reports:read"))
    _, params = redirect_params(browser.get(url, allow_redirects=False))
    assert params["error"] == "invalid_scope"


def test_expired_code_is_refused(app, live_server, brand):
    org, admin = brand
    client, secret = register(org, "marks:read", redirect_uris=[CALLBACK])
    browser = browser_session(live_server, admin.email)
    session = pkce_session(client, secret)
    url, _, verifier = authorize_url(live_server, session)
    location, _ = redirect_params(consent(browser, url)[1])
    code = AuthorizationCode.get()
    assert code.expires_at - code.created_at <= timedelta(minutes=10)
    AuthorizationCode.update(expires_at=code.created_at - timedelta(seconds=1)).execute()
    with pytest.raises(OAuthError) as refused:
        session.fetch_token(f"{live_server}/oauth/token", authorization_response=location, code_verifier=verifier)
    assert refused.value.error == "invalid_grant"


def test_reused_code_is_refused_and_revokes_what_it_gave(live_server, brand):
    org, admin = brand
    client, secret = register(org, "marks:read", redirect_uris=[CALLBACK])
    browser = browser_session(live_server, admin.email)
    session = pkce_session(client, secret)
    url, _, verifier = authorize_url(live_server, session)
    location, _ = redirect_params(consent(browser, url)[1])
    session.fetch_token(f"{live_server}/oauth/token", authorization_response=location, code_verifier=verifier)
    assert session.get(f"{live_server}/api/v1/me").status_code == 200
    again = pkce_session(client, secret)
    with pytest.raises(OAuthError) as refused:
        again.fetch_token(f"{live_server}/oauth/token", authorization_response=location, code_verifier=verifier)
    assert refused.value.error == "invalid_grant"
    assert session.get(f"{live_server}/api/v1/me").status_code == 401
    assert AuditEvent.select().where(AuditEvent.action == "oauth.token.code_reused").count() == 1
    assert verify_chain().ok


def test_code_is_bound_to_its_client(live_server, brand):
    org, admin = brand
    client, secret = register(org, "marks:read", redirect_uris=[CALLBACK])
    other, other_secret = register(org, "marks:read", redirect_uris=[CALLBACK], name="Other")
    browser = browser_session(live_server, admin.email)
    session = pkce_session(client, secret)
    url, _, verifier = authorize_url(live_server, session)
    _, params = redirect_params(consent(browser, url)[1])
    response = requests.post(f"{live_server}/oauth/token", auth=(other.client_id, other_secret), data={
        "grant_type": "authorization_code", "code": params["code"], "redirect_uri": CALLBACK,
        "code_verifier": verifier})
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


# --- refresh tokens -----------------------------------------------------------------------------------

def test_refresh_rotates_and_reuse_revokes_the_family(live_server, brand):
    org, admin = brand
    client, secret = register(org, "marks:read", redirect_uris=[CALLBACK])
    browser = browser_session(live_server, admin.email)
    session, first = user_token(live_server, browser, client, secret)
    second = session.refresh_token(f"{live_server}/oauth/token", refresh_token=first["refresh_token"])
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert session.get(f"{live_server}/api/v1/me").status_code == 200
    third = session.refresh_token(f"{live_server}/oauth/token", refresh_token=second["refresh_token"])
    assert session.get(f"{live_server}/api/v1/me").status_code == 200

    # An attacker replays the first (already rotated) refresh token: refused, and the whole family dies.
    attacker = OAuth2Session(client.client_id, secret)
    with pytest.raises(OAuthError) as refused:
        attacker.refresh_token(f"{live_server}/oauth/token", refresh_token=first["refresh_token"])
    assert refused.value.error == "invalid_grant"
    assert session.get(f"{live_server}/api/v1/me").status_code == 401  # the newest access token too
    with pytest.raises(OAuthError):
        session.refresh_token(f"{live_server}/oauth/token", refresh_token=third["refresh_token"])
    assert AuditEvent.select().where(AuditEvent.action == "oauth.token.refresh_reused").count() == 1


def test_refresh_token_of_another_client_is_refused_without_burning_it(live_server, brand):
    org, admin = brand
    client, secret = register(org, "marks:read", redirect_uris=[CALLBACK])
    other, other_secret = register(org, "marks:read", redirect_uris=[CALLBACK], name="Other")
    browser = browser_session(live_server, admin.email)
    session, token = user_token(live_server, browser, client, secret)
    thief = OAuth2Session(other.client_id, other_secret)
    with pytest.raises(OAuthError):
        thief.refresh_token(f"{live_server}/oauth/token", refresh_token=token["refresh_token"])
    assert session.refresh_token(f"{live_server}/oauth/token", refresh_token=token["refresh_token"])


def test_refresh_may_narrow_the_scope_but_not_widen_it(live_server, brand):
    org, admin = brand
    client, secret = register(org, "marks:read notices:read", redirect_uris=[CALLBACK])
    browser = browser_session(live_server, admin.email)
    session, token = user_token(live_server, browser, client, secret, scope="marks:read")
    with pytest.raises(OAuthError) as refused:
        session.refresh_token(f"{live_server}/oauth/token", refresh_token=token["refresh_token"],
                              scope="marks:read notices:read")
    assert refused.value.error == "invalid_scope"


def test_deactivated_member_loses_the_apps_access(live_server, world):
    org = world.org("Microsoft")
    world.person(org, "admin")
    analyst = world.person(org, "analyst")
    client, secret = register(org, "marks:read", redirect_uris=[CALLBACK])
    browser = browser_session(live_server, analyst.email)
    session, token = user_token(live_server, browser, client, secret)
    from portal.accounts import services
    from portal.accounts.models import Membership
    services.set_membership_active(Membership.get(Membership.user == analyst.id), False)
    assert session.get(f"{live_server}/api/v1/me").status_code == 401
    with pytest.raises(OAuthError):
        session.refresh_token(f"{live_server}/oauth/token", refresh_token=token["refresh_token"])


# --- revocation and introspection ---------------------------------------------------------------------

def test_revocation_takes_effect_at_once(live_server, brand):
    org, _ = brand
    client, secret = register(org, "reports:read")
    session, token = machine_session(live_server, client, secret)
    assert session.get(f"{live_server}/api/v1/me").status_code == 200
    response = session.revoke_token(f"{live_server}/oauth/revoke", token=token["access_token"],
                                    token_type_hint="access_token")
    assert response.status_code == 200
    after = session.get(f"{live_server}/api/v1/me")
    assert after.status_code == 401 and 'error="invalid_token"' in after.headers["WWW-Authenticate"]
    # Revoking an unknown token is not an error (RFC 7009 2.2).
    assert session.revoke_token(f"{live_server}/oauth/revoke", token="never-issued").status_code == 200


def test_revoking_the_refresh_token_ends_the_grant(live_server, brand):
    org, admin = brand
    client, secret = register(org, "marks:read", redirect_uris=[CALLBACK])
    browser = browser_session(live_server, admin.email)
    session, token = user_token(live_server, browser, client, secret)
    session.revoke_token(f"{live_server}/oauth/revoke", token=token["refresh_token"],
                         token_type_hint="refresh_token")
    assert session.get(f"{live_server}/api/v1/me").status_code == 401
    with pytest.raises(OAuthError):
        session.refresh_token(f"{live_server}/oauth/token", refresh_token=token["refresh_token"])


def test_another_client_cannot_revoke_my_token(live_server, brand):
    org, _ = brand
    client, secret = register(org, "reports:read")
    other, other_secret = register(org, "reports:read", name="Other")
    session, token = machine_session(live_server, client, secret)
    requests.post(f"{live_server}/oauth/revoke", auth=(other.client_id, other_secret),
                  data={"token": token["access_token"]})
    assert session.get(f"{live_server}/api/v1/me").status_code == 200


def test_introspection_reports_active_and_inactive(live_server, world):
    org, other_org = world.org("Microsoft"), world.org("Swarovski")
    client, secret = register(org, "reports:read marks:read")
    resource_server, rs_secret = register(org, "reports:read", name="Resource server")
    outsider, outsider_secret = register(other_org, "reports:read", name="Outsider")
    session, token = machine_session(live_server, client, secret)
    inspector = OAuth2Session(resource_server.client_id, rs_secret)
    url = f"{live_server}/oauth/introspect"
    info = inspector.introspect_token(url, token=token["access_token"]).json()
    assert info["active"] is True and info["client_id"] == client.client_id
    assert info["scope"] == "marks:read reports:read" and info["org"] == "microsoft"
    assert info["exp"] - info["iat"] == 3600
    assert inspector.introspect_token(url, token="garbage").json() == {"active": False}
    # Another org's client learns nothing.
    stranger = OAuth2Session(outsider.client_id, outsider_secret)
    assert stranger.introspect_token(url, token=token["access_token"]).json() == {"active": False}
    # Unauthenticated introspection is refused.
    assert requests.post(url, data={"token": token["access_token"]}).status_code == 401
    session.revoke_token(f"{live_server}/oauth/revoke", token=token["access_token"])
    assert inspector.introspect_token(url, token=token["access_token"]).json() == {"active": False}


def test_expired_access_token_is_inactive_and_refused(live_server, brand):
    org, _ = brand
    client, secret = register(org, "reports:read")
    session, token = machine_session(live_server, client, secret)
    Token.update(expires_in=0).execute()
    response = session.get(f"{live_server}/api/v1/me")
    assert response.status_code == 401 and "WWW-Authenticate" in response.headers
    inspector = OAuth2Session(client.client_id, secret)
    assert inspector.introspect_token(f"{live_server}/oauth/introspect",
                                      token=token["access_token"]).json() == {"active": False}


# --- metadata -----------------------------------------------------------------------------------------

def test_metadata_document_validates(live_server):
    response = requests.get(f"{live_server}/.well-known/oauth-authorization-server")
    assert response.status_code == 200
    data = response.json()
    metadata = AuthorizationServerMetadata(data)
    metadata.validate()  # raises on any RFC 8414 violation
    assert data["issuer"] == live_server
    assert data["code_challenge_methods_supported"] == ["S256"]
    assert set(data["grant_types_supported"]) == {"authorization_code", "client_credentials", "refresh_token"}
    assert data["response_types_supported"] == ["code"]
    assert "marks:write" in data["scopes_supported"] and len(data["scopes_supported"]) == 7
    for key in ("authorization_endpoint", "token_endpoint", "revocation_endpoint", "introspection_endpoint"):
        assert data[key].startswith(live_server + "/oauth/")


# --- single use under concurrency ---------------------------------------------------------------------

def race(count, call):
    """Run `call` from `count` threads released at the same moment; returns their results."""
    import threading
    barrier, results = threading.Barrier(count), []

    def worker():
        barrier.wait()
        results.append(call())

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_a_code_exchanged_at_once_by_four_requests_gives_one_token(live_server, brand):
    org, admin = brand
    client, secret = register(org, "marks:read", redirect_uris=[CALLBACK])
    browser = browser_session(live_server, admin.email)
    url, _, verifier = authorize_url(live_server, pkce_session(client, secret))
    _, params = redirect_params(consent(browser, url)[1])
    data = {"grant_type": "authorization_code", "code": params["code"], "redirect_uri": CALLBACK,
            "code_verifier": verifier}
    statuses = race(4, lambda: requests.post(f"{live_server}/oauth/token", auth=(client.client_id, secret),
                                             data=data).status_code)
    assert sorted(statuses) == [200, 400, 400, 400]
    # The losers count as reuse, so the one token issued is revoked as well (RFC 6749 4.1.2).
    assert Token.select().count() == 1 and Token.get().revoked_at is not None


def test_a_refresh_token_used_at_once_by_four_requests_rotates_once(live_server, brand):
    org, admin = brand
    client, secret = register(org, "marks:read", redirect_uris=[CALLBACK])
    browser = browser_session(live_server, admin.email)
    _, token = user_token(live_server, browser, client, secret)
    data = {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}
    statuses = race(4, lambda: requests.post(f"{live_server}/oauth/token", auth=(client.client_id, secret),
                                             data=data).status_code)
    assert sorted(statuses) == [200, 400, 400, 400]
    assert Token.select().count() == 2  # the original and exactly one rotation
    # The losers count as reuse: the whole family, the new rotation included, is revoked.
    assert Token.select().where(Token.revoked_at.is_null()).count() == 0


def test_signing_in_from_the_authorize_link_comes_back_to_the_consent_page(live_server, brand):
    org, admin = brand
    client, secret = register(org, "marks:read", redirect_uris=[CALLBACK])
    url, _, _ = authorize_url(live_server, pkce_session(client, secret))
    browser = requests.Session()
    first = browser.get(url, allow_redirects=False)
    assert first.status_code == 302 and "/login?next=" in first.headers["Location"]
    login = browser.get(live_server + first.headers["Location"])
    from tests.conftest import CSRF_PATTERN
    next_value = re.search(r'name="next" type="hidden" value="([^"]+)"', login.text).group(1)
    answer = browser.post(f"{live_server}/login", allow_redirects=False, data={
        "csrf_token": CSRF_PATTERN.search(login.text).group(1), "email": admin.email,
        "password": "correct horse battery staple", "next": html.unescape(next_value)})
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/oauth/authorize?")
    consent_page = browser.get(live_server + answer.headers["Location"])
    assert consent_page.status_code == 200 and "Authorize" in consent_page.text


# --- found in review: each of these once answered wrongly ---------------------------------------------

def test_a_blank_scope_on_refresh_is_refused_and_cannot_widen_the_grant(live_server, world):
    """A refresh with scope=" " once issued an empty-scope token that the next refresh widened to every
    scope of the client, even ones the org's kind forbids."""
    brand_org, platform = world.org("Microsoft"), world.org("Alibaba", kind="platform")
    admin = world.person(platform, "admin")
    client, secret = register(brand_org, "marks:read marks:write reports:read", redirect_uris=[CALLBACK])
    browser = browser_session(live_server, admin.email)
    session, token = user_token(live_server, browser, client, secret, scope="marks:read")
    response = requests.post(f"{live_server}/oauth/token", auth=(client.client_id, secret), data={
        "grant_type": "refresh_token", "refresh_token": token["refresh_token"], "scope": " "})
    assert response.status_code == 400 and response.json()["error"] == "invalid_scope"
    # Refused before the refresh token was claimed: it still works, and keeps its scope.
    renewed = session.refresh_token(f"{live_server}/oauth/token", refresh_token=token["refresh_token"])
    assert renewed["scope"] == "marks:read"
    assert session.get(f"{live_server}/api/v1/me").json()["scopes"] == ["marks:read"]


def test_blank_scope_with_client_credentials_is_invalid_scope(live_server, brand):
    org, _ = brand
    client, secret = register(org, "reports:read")
    response = requests.post(f"{live_server}/oauth/token", auth=(client.client_id, secret),
                             data={"grant_type": "client_credentials", "scope": "   "})
    assert response.status_code == 400 and response.json()["error"] == "invalid_scope"


@pytest.mark.parametrize("header", ["Basic //46/w==", "Basic é", "Basic !!!", "Basic " + "QQ" * 3000,
                                    "Basic dXNlcm5vY29sb24="])
@pytest.mark.parametrize("endpoint", ["token", "revoke", "introspect"])
def test_malformed_basic_authentication_is_invalid_client_not_500(live_server, header, endpoint):
    response = requests.post(f"{live_server}/oauth/{endpoint}", headers={"Authorization": header},
                             data={"grant_type": "client_credentials", "token": "x"})
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"


def test_nul_in_a_client_id_is_an_oauth_error(live_server):
    response = requests.post(f"{live_server}/oauth/token", data={"grant_type": "client_credentials",
                                                                 "client_id": "abc\x00def", "client_secret": "x"})
    assert response.status_code in (400, 401)
    assert response.headers["Content-Type"].startswith(("application/json", "application/problem+json"))


def test_plain_http_off_loopback_is_refused_cleanly(app, brand):
    org, _ = brand
    client, secret = register(org, "reports:read")
    test_client = app.test_client()
    for endpoint in ("token", "revoke", "introspect"):
        response = test_client.post(f"/oauth/{endpoint}", base_url="http://portal.example",
                                    data={"grant_type": "client_credentials", "token": "x"},
                                    auth=(client.client_id, secret))
        assert response.status_code == 400 and response.json["error"] == "insecure_transport"
    assert Token.select().count() == 0


def test_unknown_token_type_hint_is_ignored(live_server, brand):
    org, _ = brand
    client, secret = register(org, "reports:read")
    session, token = machine_session(live_server, client, secret)
    inspector = OAuth2Session(client.client_id, secret)
    info = inspector.introspect_token(f"{live_server}/oauth/introspect", token=token["access_token"],
                                      token_type_hint="id_token").json()
    assert info["active"] is True
    response = session.revoke_token(f"{live_server}/oauth/revoke", token=token["access_token"],
                                    token_type_hint="bogus")
    assert response.status_code == 200
    assert session.get(f"{live_server}/api/v1/me").status_code == 401


def test_introspection_reports_what_the_token_may_do_now(live_server, world):
    from portal.accounts import services
    from portal.accounts.models import Membership
    org = world.org("Microsoft")
    world.person(org, "admin")
    analyst = world.person(org, "analyst")
    client, secret = register(org, "marks:read marks:write", redirect_uris=[CALLBACK])
    browser = browser_session(live_server, analyst.email)
    _, token = user_token(live_server, browser, client, secret)
    inspector = OAuth2Session(client.client_id, secret)
    url = f"{live_server}/oauth/introspect"
    assert inspector.introspect_token(url, token=token["access_token"]).json()["scope"] == "marks:read marks:write"
    services.change_role(Membership.get(Membership.user == analyst.id), "viewer")
    info = inspector.introspect_token(url, token=token["access_token"]).json()
    assert info["active"] is True and info["scope"] == "marks:read" and info["username"] == analyst.email
    # A refresh token is active by its own lifetime, not its access token's.
    Token.update(expires_in=0).execute()
    assert inspector.introspect_token(url, token=token["access_token"]).json() == {"active": False}
    refresh_info = inspector.introspect_token(url, token=token["refresh_token"]).json()
    assert refresh_info["active"] is True and refresh_info["token_type"] == "refresh_token"


def test_a_session_cookie_sent_to_the_token_endpoint_is_ignored(live_server, world):
    """The code-reuse audit event once named whoever's browser cookie came along as its actor."""
    org = world.org("Microsoft")
    admin = world.person(org, "admin")
    other = world.person(org, "analyst")
    client, secret = register(org, "marks:read", redirect_uris=[CALLBACK])
    browser = browser_session(live_server, admin.email)
    url, _, verifier = authorize_url(live_server, pkce_session(client, secret))
    _, params = redirect_params(consent(browser, url)[1])
    cookie_jar = browser_session(live_server, other.email).cookies
    data = {"grant_type": "authorization_code", "code": params["code"], "redirect_uri": CALLBACK,
            "code_verifier": verifier}
    for _ in range(2):
        requests.post(f"{live_server}/oauth/token", auth=(client.client_id, secret), data=data, cookies=cookie_jar)
    event = AuditEvent.get(AuditEvent.action == "oauth.token.code_reused")
    assert event.actor_id is None and event.actor_label == "oauth"
    assert client.client_id in event.change


def test_metadata_names_the_configured_issuer(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "OAUTH_ISSUER", "https://portal.example.org")
    data = client.get("/.well-known/oauth-authorization-server", headers={"Host": "evil.example"}).json
    AuthorizationServerMetadata(data).validate()
    assert data["issuer"] == "https://portal.example.org"
    assert data["token_endpoint"] == "https://portal.example.org/oauth/token"


def test_dead_codes_and_tokens_are_purged_and_live_ones_kept(app, live_server, brand):
    from portal.oauth.services import purge_expired_credentials
    from portal.oauth.tasks import purge_expired_oauth_credentials
    from portal.timeutil import utcnow
    org, admin = brand
    client, secret = register(org, "marks:read", redirect_uris=[CALLBACK])
    machine, machine_secret = register(org, "marks:read", name="Machine")
    browser = browser_session(live_server, admin.email)
    user_token(live_server, browser, client, secret)            # a code (used) and a token with refresh
    machine_session(live_server, machine, machine_secret)       # a token without refresh
    with app.app_context():
        assert purge_expired_credentials() == {"codes": 0, "tokens": 0}
        later = utcnow() + timedelta(days=3)
        assert purge_expired_credentials(later) == {"codes": 1, "tokens": 1}  # the refresh token lives on
        assert Token.select().count() == 1 and Token.get().refresh_token_hash is not None
        assert purge_expired_oauth_credentials.call_local() == {"codes": 0, "tokens": 0}  # the task itself
        assert purge_expired_credentials(later + timedelta(days=40)) == {"codes": 0, "tokens": 1}
