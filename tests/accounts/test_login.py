"""Sign-in and sign-out: clear messages, nothing revealed about which accounts exist, no 500s."""
import logging
import re
from concurrent.futures import ThreadPoolExecutor

import requests

import pytest

from portal.accounts import services
from portal.accounts.models import User, UserSession
from portal.accounts.services import NO_ACTIVE_MEMBERSHIP, WRONG_CREDENTIALS
from tests.conftest import PASSWORD, page_text


def test_sign_in_lands_on_the_dashboard_of_the_only_org(client, world):
    org = world.org("Microsoft")
    world.person(org, "admin", email="ada@microsoft.example")
    response = client.sign_in("ada@microsoft.example")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    dashboard = client.get("/")
    assert dashboard.status_code == 200
    assert "Microsoft" in page_text(dashboard)
    assert "admin" in page_text(dashboard)


def test_email_is_matched_whatever_its_case(client, world):
    org = world.org("Microsoft")
    world.person(org, "analyst", email="ada@microsoft.example")
    assert client.sign_in("  Ada@Microsoft.EXAMPLE ").headers["Location"] == "/"


def test_wrong_password_and_unknown_email_get_the_same_message(client, world):
    org = world.org("Microsoft")
    world.person(org, "admin", email="ada@microsoft.example")
    wrong_password = client.sign_in("ada@microsoft.example", "not the password at all")
    unknown_email = client.sign_in("nobody@microsoft.example", "not the password at all")
    for response in (wrong_password, unknown_email):
        assert response.status_code == 401
        assert WRONG_CREDENTIALS in page_text(response)

    def without_token_and_email(response):
        text = re.sub(r'name="csrf_token"[^>]*value="[^"]+"', "", page_text(response))
        return text.replace("ada@microsoft.example", "EMAIL").replace("nobody@microsoft.example", "EMAIL")

    # Same page apart from the CSRF token and the echoed email: nothing tells the two cases apart.
    assert without_token_and_email(wrong_password) == without_token_and_email(unknown_email)
    assert client.get("/").status_code == 302  # still signed out


def test_missing_fields_re_render_with_messages(client):
    response = client.post_form("/login", {"email": "", "password": ""})
    assert response.status_code == 422
    assert "Enter your email address." in page_text(response)
    assert "Enter your password." in page_text(response)


def test_malformed_email_is_a_failed_sign_in_not_an_error(client):
    response = client.sign_in("not-an-email", "whatever it is here")
    assert response.status_code == 401
    assert WRONG_CREDENTIALS in page_text(response)


def test_deactivated_account_is_told_only_with_the_right_password(client, world):
    org = world.org("Microsoft")
    user = world.person(org, "analyst", email="ada@microsoft.example")
    User.update(active=False).where(User.id == user.id).execute()
    wrong = client.sign_in("ada@microsoft.example", "not the password at all")
    assert WRONG_CREDENTIALS in page_text(wrong)
    right = client.sign_in("ada@microsoft.example", PASSWORD)
    assert right.status_code == 401
    assert "deactivated" in page_text(right)
    assert client.get("/").status_code == 302


def test_user_without_active_membership_cannot_sign_in(client, world):
    org = world.org("Microsoft")
    world.person(org, "admin", email="boss@microsoft.example")
    user = world.person(org, "analyst", email="ada@microsoft.example")
    services.set_membership_active(user.memberships.get(), False)
    response = client.sign_in("ada@microsoft.example")
    assert response.status_code == 401
    assert NO_ACTIVE_MEMBERSHIP in page_text(response)


def test_sign_in_without_csrf_token_is_refused_clearly(client, world):
    org = world.org("Microsoft")
    world.person(org, "admin", email="ada@microsoft.example")
    response = client.post_form("/login", {"email": "ada@microsoft.example", "password": PASSWORD}, csrf=False)
    assert response.status_code == 400
    assert "This form has expired" in page_text(response)
    assert client.get("/").status_code == 302


def test_forged_csrf_token_is_refused(client, world):
    org = world.org("Microsoft")
    world.person(org, "admin", email="ada@microsoft.example")
    response = client.post_form("/login", {"email": "ada@microsoft.example", "password": PASSWORD,
                                           "csrf_token": "forged"})
    assert response.status_code == 400


def test_repeated_failures_for_one_account_are_throttled_and_logged(client, world, caplog):
    org = world.org("Microsoft")
    world.person(org, "admin", email="ada@microsoft.example")
    caplog.set_level(logging.INFO, logger="portal.security")
    for _ in range(5):
        assert client.sign_in("ada@microsoft.example", "wrong password guess").status_code == 401
    throttled = client.sign_in("ada@microsoft.example", PASSWORD)  # even the right password waits now
    assert throttled.status_code == 429
    assert "Too many sign-in attempts" in page_text(throttled)
    assert client.get("/").status_code == 302
    refusals = [r for r in caplog.records if "sign-in refused for 'ada@microsoft.example'" in r.getMessage()]
    assert len(refusals) == 5
    assert any("sign-in throttled" in r.getMessage() for r in caplog.records)
    assert all(PASSWORD not in r.getMessage() and "wrong password guess" not in r.getMessage()
               for r in caplog.records)


def test_a_successful_sign_in_resets_the_accounts_count(client, world):
    org = world.org("Microsoft")
    world.person(org, "admin", email="ada@microsoft.example")
    for _ in range(3):
        for _ in range(4):
            assert client.sign_in("ada@microsoft.example", "a typo in it again").status_code == 401
        assert client.sign_in("ada@microsoft.example").status_code == 302
        client.post_form("/logout")


def test_other_spellings_of_one_address_share_its_count(client, world):
    org = world.org("Microsoft")
    world.person(org, "admin", email="ada@microsoft.example")
    spellings = ["ada@microsoft.example", "ADA@MICROSOFT.EXAMPLE", " Ada@Microsoft.Example ",
                 "ada@\uff4dicrosoft.example", "ada@micro\uff53oft.example"]
    for spelling in spellings:  # full-width letters in the domain normalise to the same address
        assert client.sign_in(spelling, "wrong password guess").status_code == 401
    assert client.sign_in("ada@microsoft.example", PASSWORD).status_code == 429


def test_one_address_trying_many_accounts_is_throttled(client, world):
    for attempt in range(30):
        assert client.sign_in(f"guess{attempt}@example.com", "wrong password guess").status_code == 401
    assert client.sign_in("guess-final@example.com", "wrong password guess").status_code == 429


def test_parallel_guesses_cannot_overtake_the_count(live_server, world):
    """Attempts are counted before the password is checked, so a burst gets no more than the limit."""
    org = world.org("Microsoft")
    world.person(org, "admin", email="ada@microsoft.example")
    token_pattern = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')

    def guess(n):
        with requests.Session() as browser:
            token = token_pattern.search(browser.get(f"{live_server}/login").text).group(1)
            return browser.post(f"{live_server}/login", data={
                "csrf_token": token, "email": "ada@microsoft.example", "password": f"guess number {n}"},
                allow_redirects=False).status_code

    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(guess, range(12)))
    assert sorted(statuses) == [401] * 5 + [429] * 7


def test_session_identifier_rotates_at_sign_in(client, world):
    org = world.org("Microsoft")
    world.person(org, "admin", email="ada@microsoft.example")
    client.get("/login")
    anonymous_cookie = client.get_cookie("portal_session").value
    client.sign_in("ada@microsoft.example")
    signed_in_cookie = client.get_cookie("portal_session").value
    assert signed_in_cookie != anonymous_cookie
    client.post_form("/logout")
    client.sign_in("ada@microsoft.example")
    sessions = list(UserSession.select().order_by(UserSession.id))
    assert len(sessions) == 2
    assert sessions[0].token_hash != sessions[1].token_hash
    assert sessions[0].ended_at is not None and sessions[1].ended_at is None


def test_sign_out_ends_the_session_server_side(make_client, world):
    org = world.org("Microsoft")
    world.person(org, "admin", email="ada@microsoft.example")
    browser = make_client()
    browser.sign_in("ada@microsoft.example")
    stolen_cookie = browser.get_cookie("portal_session").value
    browser.post_form("/logout")
    attacker = make_client()
    attacker.set_cookie("portal_session", stolen_cookie)
    assert attacker.get("/").status_code == 302  # the copied cookie no longer opens anything


def open_sessions(email):
    return UserSession.select().join(User).where(User.email == email, UserSession.ended_at.is_null()).count()


def test_sign_out_ends_every_session_of_the_user(make_client, world):
    """Even one opened behind the sign-in's back (a second browser racing the first sign-in)."""
    from portal.accounts.services import token_digest
    org = world.org("Microsoft")
    world.person(org, "admin", email="ada@microsoft.example")
    browser = make_client()
    browser.sign_in("ada@microsoft.example")
    user = User.get(User.email == "ada@microsoft.example")
    UserSession.create(user=user, token_hash=token_digest("other-browser"), org=org)
    assert open_sessions(user.email) == 2
    browser.post_form("/logout")
    assert open_sessions(user.email) == 0


def test_deactivation_ends_all_of_the_users_sessions_at_once(make_client, world):
    """Deactivated in one org, counsel's sessions end everywhere (in the database, not only at the next
    request); signing in again reaches the org still theirs and not the other."""
    from portal.accounts.models import Membership
    vuitton, swarovski = world.org("Louis Vuitton"), world.org("Swarovski")
    world.person(vuitton, "admin", email="counsel@lawfirm.example")
    world.person(swarovski, "analyst", email="counsel@lawfirm.example")
    world.person(swarovski, "admin", email="admin@swarovski.example")
    first, second = make_client(), make_client()
    first.sign_in("counsel@lawfirm.example", org=vuitton)
    second.sign_in("counsel@lawfirm.example", org=swarovski)
    user = User.get(User.email == "counsel@lawfirm.example")
    admin = make_client()
    admin.sign_in("admin@swarovski.example")
    membership = Membership.get(Membership.user == user, Membership.org == swarovski)
    assert admin.post_form(f"/team/{membership.id}/deactivate").status_code == 302
    assert open_sessions(user.email) == 0
    for browser in (first, second):
        response = browser.get("/")
        assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    first.sign_in("counsel@lawfirm.example")
    assert "<h1>Louis Vuitton</h1>" in page_text(first.get("/"))


@pytest.mark.parametrize("target", [
    "https://evil.example/phish", "//evil.example/phish", "/\t/evil.example/phish", "/\n/evil.example",
    "/\r/evil.example", "/\\/evil.example", "\\\\evil.example", "javascript:alert(1)",
    "/%09/evil.example".replace("%09", "\t"), "http:/evil.example", "evil.example",
])
def test_next_parameter_never_leaves_the_site(client, world, target):
    org = world.org("Microsoft")
    world.person(org, "admin", email="ada@microsoft.example")
    response = client.post_form("/login", {"email": "ada@microsoft.example", "password": PASSWORD,
                                           "next": target})
    assert response.headers["Location"] == "/"


def test_next_parameter_brings_you_back_to_the_page(client, world):
    org = world.org("Microsoft")
    world.person(org, "admin", email="ada@microsoft.example")
    response = client.post_form("/login", {"email": "ada@microsoft.example", "password": PASSWORD,
                                           "next": "/team"})
    assert response.headers["Location"] == "/team"


def test_signed_out_visitor_is_sent_to_sign_in(client):
    response = client.get("/team")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_counsel_with_two_orgs_chooses_one_at_sign_in(client, world):
    vuitton, swarovski = world.org("Louis Vuitton"), world.org("Swarovski")
    world.person(vuitton, "analyst", email="counsel@lawfirm.example")
    world.person(swarovski, "viewer", email="counsel@lawfirm.example")
    response = client.sign_in("counsel@lawfirm.example")
    assert response.headers["Location"].startswith("/choose-org")
    assert client.get("/").headers["Location"].startswith("/choose-org")
    chooser = page_text(client.get("/choose-org"))
    assert "Louis Vuitton" in chooser and "Swarovski" in chooser
    chosen = client.post_form("/choose-org", {"org_id": str(swarovski.id)})
    assert chosen.headers["Location"] == "/"
    dashboard = page_text(client.get("/"))
    assert "<h1>Swarovski</h1>" in dashboard
    assert "viewer" in dashboard


def test_signing_in_again_ends_the_earlier_session(make_client, world):
    org = world.org("Microsoft")
    world.person(org, "admin", email="ada@microsoft.example")
    world.person(org, "viewer", email="vic@microsoft.example")
    browser = make_client()
    browser.sign_in("ada@microsoft.example")
    earlier_cookie = browser.get_cookie("portal_session").value
    browser.sign_in("vic@microsoft.example")
    assert "viewer" in page_text(browser.get("/"))
    replay = make_client()
    replay.set_cookie("portal_session", earlier_cookie)
    assert replay.get("/").status_code == 302
    assert UserSession.select().where(UserSession.ended_at.is_null()).count() == 1


def test_a_forged_newline_cannot_fake_a_log_line(client, caplog):
    caplog.set_level(logging.INFO, logger="portal.security")
    client.sign_in("x@example.com\nINFO sign-in for admin@microsoft.example", "whatever it is here")
    messages = [r.getMessage() for r in caplog.records if r.name == "portal.security"]
    assert messages and all("\n" not in m for m in messages)


def test_sign_in_events_name_the_user_who_signed_in(client, world):
    org = world.org("Microsoft")
    user = world.person(org, "admin", email="ada@microsoft.example")
    client.sign_in("ada@microsoft.example")
    from portal.audit import AuditEvent
    event = AuditEvent.for_org(org).where(AuditEvent.action == "session.signed_in").get()
    assert (event.actor_id, event.actor_label) == (user.id, "ada@microsoft.example")
