"""The authorization server checked against the OAuth 2.0 Security Best Current Practice (RFC 9700) and
OWASP ASVS V10 (OAuth and OIDC), one requirement per test, against the app on a real WSGI server.

test_oauth.py covers the grants themselves; this file adds the attacks the BCP names: redirect URI
manipulation, PKCE downgrade, code and refresh token replay, mix-up, token leakage through caches,
storage or framing.
"""
import hashlib
from base64 import urlsafe_b64encode
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2 import rfc8414, rfc9207

from portal.db import db
from portal.oauth.models import AuthorizationCode, OAuthClient, Token
from tests.conftest import CSRF_PATTERN
from tests.oauth_helpers import (CALLBACK, authorize_url, browser_session, consent, pkce_session, redirect_params,
                                 register, user_token)


@pytest.fixture
def brand(world):
    org = world.org("Microsoft")
    return org, world.person(org, "admin")


def challenge_of(verifier):
    return urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def authorize_link(live_server, client, **overrides):
    """An authorization request written by hand, so that every parameter is exactly what the test says."""
    verifier = generate_token(48)
    params = {"response_type": "code", "client_id": client.client_id, "redirect_uri": CALLBACK,
              "scope": "marks:read", "state": "st-1", "code_challenge": challenge_of(verifier),
              "code_challenge_method": "S256"}
    params.update(overrides)
    return f"{live_server}/oauth/authorize?" + urlencode({k: v for k, v in params.items() if v is not None}), verifier


def exchange(live_server, client, secret, code, verifier, redirect_uri=CALLBACK):
    data = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier}
    if redirect_uri is not None:
        data["redirect_uri"] = redirect_uri
    if secret is None:
        data["client_id"] = client.client_id
        return requests.post(f"{live_server}/oauth/token", data=data)
    return requests.post(f"{live_server}/oauth/token", auth=(client.client_id, secret), data=data)


# --- redirect URIs: exact string matching (RFC 9700 §2.1, §4.1.3; ASVS 10.4.1) ----------------------------

@pytest.mark.parametrize("variant", [
    CALLBACK + "/",                          # trailing slash
    CALLBACK + "?",                          # empty query
    CALLBACK + "?next=https://evil.example",  # added query
    CALLBACK + "#x",                         # fragment
    CALLBACK + "/../callback",               # dot segments
    "http://127.0.0.1:9/%63allback",         # percent-encoded letter
    "http://127.0.0.1:9/Callback",           # case of the path
    "HTTP://127.0.0.1:9/callback",           # case of the scheme
    "https://127.0.0.1:9/callback",          # another scheme
    "http://127.0.0.1:10/callback",          # another port
    "http://127.0.0.1/callback",             # no port
    "http://localhost:9/callback",           # another name for the same host
    "http://evil@127.0.0.1:9/callback",      # user info
    "http://127.0.0.1:9@evil.example/callback",
    "http://127.0.0.1.evil.example:9/callback",
    CALLBACK + "%00",
    " " + CALLBACK,
])
def test_a_redirect_uri_must_match_a_registered_one_exactly(live_server, brand, variant):
    org, admin = brand
    client, _ = register(org, "marks:read", redirect_uris=[CALLBACK])
    browser = browser_session(live_server, admin.email)
    link, _ = authorize_link(live_server, client, redirect_uri=variant)
    response = browser.get(link, allow_redirects=False)
    assert response.status_code == 400, variant
    assert "Location" not in response.headers  # never sent anywhere, not even with an error
    assert "cannot be used" in response.text
    # Posting the consent form to the same link cannot force it either.
    token = CSRF_PATTERN.search(browser.get(f"{live_server}/").text).group(1)
    forced = browser.post(link, data={"csrf_token": token, "decision": "approve", "org_id": str(org.id)},
                          allow_redirects=False)
    assert forced.status_code == 400 and "Location" not in forced.headers
    assert AuthorizationCode.select().count() == 0


def test_an_unknown_client_is_shown_an_error_not_redirected(live_server, brand):
    org, admin = brand
    browser = browser_session(live_server, admin.email)
    link = f"{live_server}/oauth/authorize?" + urlencode({
        "response_type": "code", "client_id": "no-such-client", "redirect_uri": "https://evil.example/cb",
        "code_challenge": challenge_of("x" * 50), "code_challenge_method": "S256"})
    response = browser.get(link, allow_redirects=False)
    assert response.status_code in (400, 401) and "Location" not in response.headers


def test_the_token_request_must_repeat_the_redirect_uri_of_the_authorization(live_server, brand):
    """RFC 6749 §4.1.3: a code issued for one redirect URI is redeemed only with that URI, so a code
    injected through another registered URI is useless."""
    org, admin = brand
    other_uri = "http://127.0.0.1:9/other"
    client, secret = register(org, "marks:read", redirect_uris=[CALLBACK, other_uri])
    browser = browser_session(live_server, admin.email)
    link, verifier = authorize_link(live_server, client)
    _, params = redirect_params(consent(browser, link)[1])
    for wrong in (other_uri, CALLBACK + "/", None):
        response = exchange(live_server, client, secret, params["code"], verifier, redirect_uri=wrong)
        assert response.status_code == 400, wrong
        assert response.json()["error"] in ("invalid_grant", "invalid_request")
    assert Token.select().count() == 0


# --- PKCE: required, S256 only, no downgrade (RFC 9700 §2.1.1, §4.8; ASVS 10.4.6) --------------------------

@pytest.mark.parametrize("overrides, says", [
    ({"code_challenge": None, "code_challenge_method": None}, "PKCE"),
    ({"code_challenge_method": None}, "S256"),       # RFC 7636: a missing method means plain
    ({"code_challenge_method": "plain"}, "S256"),
    ({"code_challenge_method": "s256"}, "S256"),
])
def test_an_authorization_request_without_s256_pkce_is_refused(live_server, brand, overrides, says):
    org, admin = brand
    client, _ = register(org, "marks:read", redirect_uris=[CALLBACK])
    browser = browser_session(live_server, admin.email)
    link, _ = authorize_link(live_server, client, **overrides)
    _, params = redirect_params(browser.get(link, allow_redirects=False))
    assert params["error"] == "invalid_request" and says in params["error_description"]
    assert params["state"] == "st-1"
    assert AuthorizationCode.select().count() == 0


@pytest.mark.parametrize("public", [False, True])
def test_a_code_is_never_redeemed_without_its_verifier(live_server, brand, public):
    """The downgrade attack: an attacker holding a stolen code leaves code_verifier out (or sends a verifier
    of its own). Public clients have nothing else protecting their codes."""
    org, admin = brand
    client, secret = register(org, "marks:read", public=public, redirect_uris=[CALLBACK])
    browser = browser_session(live_server, admin.email)
    link, verifier = authorize_link(live_server, client)
    _, params = redirect_params(consent(browser, link)[1])
    for bad in ("", generate_token(48), verifier[:-1], verifier + "A"):
        response = exchange(live_server, client, secret, params["code"], bad)
        assert response.status_code == 400, bad
        assert response.json()["error"] in ("invalid_request", "invalid_grant")
    assert Token.select().count() == 0


@pytest.mark.parametrize("verifier", ["a" * 42, "a" * 129, "a" * 42 + "!", "a" * 42 + " "])
def test_a_malformed_verifier_is_refused_even_when_its_challenge_matches(live_server, brand, verifier):
    """RFC 7636 §4.1: 43 to 128 characters of [A-Za-z0-9-._~]."""
    org, admin = brand
    client, secret = register(org, "marks:read", redirect_uris=[CALLBACK])
    browser = browser_session(live_server, admin.email)
    link, _ = authorize_link(live_server, client, code_challenge=challenge_of(verifier))
    answer = consent(browser, link)[1]
    if answer.status_code == 302 and "code=" in answer.headers["Location"]:
        _, params = redirect_params(answer)
        response = exchange(live_server, client, secret, params["code"], verifier)
        assert response.status_code == 400
    assert Token.select().count() == 0


# --- replay: codes once, refresh tokens rotated (RFC 9700 §4.14; ASVS 10.4.2, 10.4.8) --------------------

def test_a_replayed_code_revokes_the_refresh_token_it_gave_too(live_server, brand):
    org, admin = brand
    client, secret = register(org, "marks:read", redirect_uris=[CALLBACK])
    browser = browser_session(live_server, admin.email)
    link, verifier = authorize_link(live_server, client)
    _, params = redirect_params(consent(browser, link)[1])
    first = exchange(live_server, client, secret, params["code"], verifier)
    assert first.status_code == 200
    replay = exchange(live_server, client, secret, params["code"], verifier)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    refresh = requests.post(f"{live_server}/oauth/token", auth=(client.client_id, secret), data={
        "grant_type": "refresh_token", "refresh_token": first.json()["refresh_token"]})
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant"
    assert Token.select().where(Token.revoked_at.is_null()).count() == 0


def test_a_public_clients_refresh_tokens_rotate_and_a_replay_ends_the_grant(live_server, brand):
    """RFC 9700 §4.14.2: a public client's refresh tokens must be sender-constrained or rotated."""
    org, admin = brand
    client, _ = register(org, "marks:read", public=True, redirect_uris=[CALLBACK])
    browser = browser_session(live_server, admin.email)
    session, first = user_token(live_server, browser, client)
    second = session.refresh_token(f"{live_server}/oauth/token", refresh_token=first["refresh_token"],
                                   client_id=client.client_id)
    assert second["refresh_token"] != first["refresh_token"]
    thief = OAuth2Session(client.client_id, token_endpoint_auth_method="none")
    with pytest.raises(OAuthError) as refused:
        thief.refresh_token(f"{live_server}/oauth/token", refresh_token=first["refresh_token"],
                            client_id=client.client_id)
    assert refused.value.error == "invalid_grant"
    assert requests.get(f"{live_server}/api/v1/me",
                        headers={"Authorization": f"Bearer {second['access_token']}"}).status_code == 401
    with pytest.raises(OAuthError):
        session.refresh_token(f"{live_server}/oauth/token", refresh_token=second["refresh_token"],
                              client_id=client.client_id)


# --- mix-up: the issuer named in every authorization response (RFC 9700 §4.4; RFC 9207) ------------------

def test_every_authorization_response_names_the_issuer(live_server, brand):
    org, admin = brand
    client, secret = register(org, "marks:read", redirect_uris=[CALLBACK])
    browser = browser_session(live_server, admin.email)
    metadata = requests.get(f"{live_server}/.well-known/oauth-authorization-server").json()
    rfc8414.AuthorizationServerMetadata(metadata).validate(metadata_classes=[rfc9207.AuthorizationServerMetadata])
    assert metadata["authorization_response_iss_parameter_supported"] is True

    link, _ = authorize_link(live_server, client)
    _, approved = redirect_params(consent(browser, link)[1])
    _, denied = redirect_params(consent(browser, link, decision="deny")[1])
    link, _ = authorize_link(live_server, client, code_challenge_method="plain")
    _, refused = redirect_params(browser.get(link, allow_redirects=False))
    assert "code" in approved and denied["error"] == "access_denied" and refused["error"] == "invalid_request"
    for params in (approved, denied, refused):
        assert params["iss"] == metadata["issuer"] == live_server, params


# --- leakage: caches, storage, framing, forged consent (RFC 9700 §4.2, §4.16; ASVS 10.4.x) ----------------

def test_token_responses_are_never_cached(live_server, brand):
    org, admin = brand
    client, secret = register(org, "marks:read")
    response = requests.post(f"{live_server}/oauth/token", auth=(client.client_id, secret),
                             data={"grant_type": "client_credentials"})
    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]
    assert response.headers.get("Pragma") == "no-cache"


def test_codes_tokens_and_secrets_are_stored_only_as_digests(live_server, brand):
    org, admin = brand
    client, secret = register(org, "marks:read", redirect_uris=[CALLBACK])
    browser = browser_session(live_server, admin.email)
    session = pkce_session(client, secret)
    url, _, verifier = authorize_url(live_server, session)
    location, params = redirect_params(consent(browser, url)[1])
    token = session.fetch_token(f"{live_server}/oauth/token", authorization_response=location,
                                code_verifier=verifier)
    plain = [secret, params["code"], token["access_token"], token["refresh_token"]]
    stored = []
    for model in (OAuthClient, AuthorizationCode, Token):
        table = model._meta.table_name
        stored += [str(value) for row in db.execute_sql(f"SELECT * FROM {table}").fetchall() for value in row]
    assert [p for p in plain if any(p in value for value in stored)] == []
    assert any(hashlib.sha256(token["access_token"].encode()).hexdigest() in v for v in stored)


def test_the_consent_page_cannot_be_framed_and_consent_cannot_be_forged(live_server, brand):
    """Clickjacking (RFC 9700 §4.16) and CSRF against the consent decision (§4.7)."""
    org, admin = brand
    client, _ = register(org, "marks:read", redirect_uris=[CALLBACK])
    browser = browser_session(live_server, admin.email)
    link, _ = authorize_link(live_server, client)
    page = browser.get(link, allow_redirects=False)
    assert page.status_code == 200
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
    forged = browser.post(link, data={"decision": "approve", "org_id": str(org.id)}, allow_redirects=False)
    assert forged.status_code == 400 and "Location" not in forged.headers
    other_site = browser.post(link, headers={"Origin": "https://evil.example"},
                              data={"decision": "approve", "org_id": str(org.id), "csrf_token": "forged"},
                              allow_redirects=False)
    assert other_site.status_code == 400
    assert AuthorizationCode.select().count() == 0


def test_a_code_is_sent_only_in_the_query_of_the_registered_uri(live_server, brand):
    """response_mode stays `query` (the only one the metadata lists): no fragment or form_post tricks."""
    org, admin = brand
    client, _ = register(org, "marks:read", redirect_uris=[CALLBACK])
    browser = browser_session(live_server, admin.email)
    link, _ = authorize_link(live_server, client, response_mode="fragment")
    answer = consent(browser, link)[1]
    location = answer.headers["Location"]
    assert location.startswith(CALLBACK + "?") and "#" not in location
    assert "code" in parse_qs(urlsplit(location).query)


def test_metadata_read_from_the_host_header_is_never_cached(app, client, monkeypatch):
    """Without OAUTH_ISSUER the endpoints are built from the request's Host (behind a proxy, X-Forwarded-Host):
    a shared cache must not hand one client's copy to the others. A configured issuer may be cached."""
    answer = client.get("/.well-known/oauth-authorization-server", base_url="https://other.example")
    assert answer.get_json()["issuer"] == "https://other.example"
    assert answer.headers["Cache-Control"] == "no-store"
    monkeypatch.setitem(app.config, "OAUTH_ISSUER", "https://portal.example")
    answer = client.get("/.well-known/oauth-authorization-server", base_url="https://other.example")
    assert answer.get_json()["issuer"] == "https://portal.example"
    assert "no-store" not in answer.headers.get("Cache-Control", "")
