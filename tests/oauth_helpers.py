"""Helpers for the OAuth and API tests: register clients through the service, sign in a `requests`
session against the live server, and walk the consent page as a browser would."""
import re
from urllib.parse import parse_qs, urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

from portal.audit import acting_as
from portal.oauth.services import create_client
from tests.conftest import CSRF_PATTERN, PASSWORD

CALLBACK = "http://127.0.0.1:9/callback"  # nothing listens there: the tests read the redirect themselves


def register(org, scope, public=False, redirect_uris=(), name="Integration"):
    with acting_as("test"):
        return create_client(org, name, scope, public=public, redirect_uris=redirect_uris)


def browser_session(live_server, email, password=PASSWORD):
    """A requests.Session signed in through the real login form."""
    browser = requests.Session()
    page = browser.get(f"{live_server}/login")
    token = CSRF_PATTERN.search(page.text).group(1)
    response = browser.post(f"{live_server}/login", data={"csrf_token": token, "email": email,
                                                           "password": password}, allow_redirects=False)
    assert response.status_code == 302, response.text
    return browser


def consent(browser, authorization_url, decision="approve", org=None):
    """Open the consent page and answer it; returns (consent page, redirect response)."""
    page = browser.get(authorization_url, allow_redirects=False)
    assert page.status_code == 200, page.text
    data = {"csrf_token": CSRF_PATTERN.search(page.text).group(1), "decision": decision}
    if org is not None:
        data["org_id"] = str(org.id)
    else:
        checked = re.search(r'name="org_id" value="(\d+)"[^>]*checked', page.text)
        data["org_id"] = checked.group(1)
    answer = browser.post(authorization_url, data=data, allow_redirects=False)
    return page, answer


def redirect_params(response):
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    return location, {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def pkce_session(client, secret=None, scope=None, redirect_uri=CALLBACK):
    """An Authlib OAuth2Session for the authorization code flow with PKCE S256."""
    kwargs = {"token_endpoint_auth_method": "none"} if secret is None else {}
    return OAuth2Session(client.client_id, secret, scope=scope, redirect_uri=redirect_uri,
                         code_challenge_method="S256", **kwargs)


def authorize_url(live_server, session, verifier=None):
    verifier = verifier or generate_token(48)
    url, state = session.create_authorization_url(f"{live_server}/oauth/authorize", code_verifier=verifier)
    return url, state, verifier


def user_token(live_server, browser, client, secret=None, scope=None, org=None):
    """Run the whole authorization code + PKCE flow; returns (OAuth2Session with its token, token)."""
    session = pkce_session(client, secret, scope)
    url, state, verifier = authorize_url(live_server, session)
    _, answer = consent(browser, url, org=org)
    location, params = redirect_params(answer)
    assert params.get("state") == state and "code" in params, location
    token = session.fetch_token(f"{live_server}/oauth/token", authorization_response=location,
                                code_verifier=verifier)
    return session, token
