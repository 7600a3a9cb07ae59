"""Two-factor authentication (TOTP) with recovery codes, the org mandate, admin resets and the CLI.

Codes are computed with pyotp as an authenticator app would. The portal's two-factor clock
(`two_factor.now`) is frozen by the `clock` fixture, so step boundaries never make a test flaky.
"""
import base64
import json
import logging
import re

import pyotp
import pytest
from werkzeug.routing import AnyConverter, IntegerConverter

from portal.access import access_rule_of
from portal.accounts import services, two_factor
from portal.accounts.models import Membership, Organization, User, UserSession
from portal.audit import AuditEvent, acting_as
from tests.platform import test_migrations
from tests.conftest import PASSWORD, page_text as raw_page_text
from tests.oauth_helpers import CALLBACK, pkce_session, register

new_database = test_migrations.new_database  # a fixture: fresh databases of the kind the suite runs on
T0 = 1_800_000_000  # a time step boundary (divisible by 30)
SECRET_TEXT = re.compile(r'id="secret-key">([A-Z2-7 ]+)<')
RECOVERY_CODE = re.compile(r"<li><code>([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})</code></li>")
QR_IMAGE = re.compile(r'class="qr-code" src="([^"]+)"')


class Clock:
    def __init__(self, at):
        self.at = at

    def __call__(self):
        return self.at


@pytest.fixture
def clock(monkeypatch):
    frozen = Clock(T0)
    monkeypatch.setattr(two_factor, "now", frozen)
    return frozen


def page_text(response):
    """The page as a reader sees it, white space folded (a sentence may span template lines)."""
    return " ".join(raw_page_text(response).split())


def code_at(secret, at, steps=0):
    return pyotp.TOTP(secret).at(int(at) + 30 * steps)


def actions_of(org):
    return [e.action for e in AuditEvent.for_org(org).order_by(AuditEvent.seq)]


def turn_on(app, user, at=T0 - 600):
    """Two-factor authentication on for `user` through the service, as if set up ten minutes ago;
    returns (secret, recovery codes)."""
    secret = two_factor.new_secret()
    with app.app_context(), acting_as("test"), pytest.MonkeyPatch.context() as patch:
        patch.setattr(two_factor, "now", Clock(at))
        codes = two_factor.enable(User.get_by_id(user.id), secret, code_at(secret, at))
    return secret, codes


def enrol_in_page(client, at):
    """Set up on the set-up page as a person would: read the key from the page, type the app's code."""
    page = client.get("/account/two-factor")
    assert page.status_code == 200
    secret = SECRET_TEXT.search(page.get_data(as_text=True)).group(1).replace(" ", "")
    response = client.post_form("/account/two-factor", {"code": code_at(secret, at)})
    assert response.status_code == 200, page_text(response)
    return secret, RECOVERY_CODE.findall(response.get_data(as_text=True))


def second_step(client, code):
    return client.post_form("/login/two-factor", {"code": code})


@pytest.fixture
def ada(world):
    org = world.org("Microsoft")
    admin = world.person(org, "admin", email="boss@microsoft.example")
    user = world.person(org, "analyst", email="ada@microsoft.example")
    return org, user, admin


# --- setting it up ----------------------------------------------------------------------------------------

def test_set_up_from_the_account_page(client, ada, clock, app):
    org, user, _ = ada
    client.sign_in(user.email)
    account = page_text(client.get("/account"))
    assert "Two-factor authentication" in account and 'data-two-factor="off"' in account
    assert "Set up two-factor authentication" in account

    page = client.get("/account/two-factor")
    text = page.get_data(as_text=True)
    grouped = SECRET_TEXT.search(text).group(1)
    secret = grouped.replace(" ", "")
    assert len(secret) == 32 and grouped == " ".join(secret[i:i + 4] for i in range(0, 32, 4))
    with app.app_context():
        assert page_text(page).count(two_factor.qr_code(secret, user.email)) == 1  # the QR code, a data: image
        uri = two_factor.provisioning_uri(secret, user.email)
    assert QR_IMAGE.search(text).group(1).startswith("data:image/svg+xml")
    assert uri == f"otpauth://totp/Alliance%20Portal:ada%40microsoft.example?secret={secret}&issuer=Alliance%20Portal"
    assert "<script" not in text.split("</head>")[1]  # nothing inline, nothing from elsewhere
    assert SECRET_TEXT.search(client.get("/account/two-factor").get_data(as_text=True)).group(1) == grouped  # reload
    assert not User.get_by_id(user.id).has_two_factor  # nothing stored before a code confirms it

    wrong = client.post_form("/account/two-factor", {"code": "000000" if code_at(secret, T0) != "000000" else "111111"})
    assert wrong.status_code == 422 and two_factor.WRONG_CODE in page_text(wrong)
    assert not User.get_by_id(user.id).has_two_factor

    done = client.post_form("/account/two-factor", {"code": code_at(secret, T0)})
    assert done.status_code == 200
    codes = RECOVERY_CODE.findall(done.get_data(as_text=True))
    assert len(codes) == 10 == len(set(codes))
    assert "shown only now" in page_text(done) and "Two-factor authentication is on" in page_text(done)
    stored = User.get_by_id(user.id)
    assert stored.has_two_factor and stored.two_factor_last_step == T0 // 30
    assert 'data-two-factor="on"' in page_text(client.get("/account"))
    assert "10 unused recovery codes left" in page_text(client.get("/account"))
    assert client.get("/account/two-factor").status_code == 302  # already on
    assert actions_of(org)[-1] == "account.two_factor.enabled"


def test_a_set_up_key_left_too_long_is_replaced_with_a_message(client, ada, clock, app):
    org, user, admin = ada
    client.sign_in(user.email)
    page = client.get("/account/two-factor")
    secret = SECRET_TEXT.search(page.get_data(as_text=True)).group(1).replace(" ", "")
    with client.session_transaction() as session:  # what ENROLMENT_SECONDS later looks like
        del session["two_factor_enrolment"]
    response = client.post_form("/account/two-factor", {"code": code_at(secret, T0)})
    assert response.status_code == 422 and "its key has expired" in page_text(response)
    assert SECRET_TEXT.search(response.get_data(as_text=True)).group(1).replace(" ", "") != secret
    assert not User.get_by_id(user.id).has_two_factor
    with app.app_context():  # a sealed key is for its own user only
        sealed = two_factor.seal_enrolment(user, secret)
        assert two_factor.open_enrolment(user, sealed) == secret
        assert two_factor.open_enrolment(admin, sealed) is None
        assert two_factor.open_enrolment(user, sealed[:-4] + "AAAA") is None


def test_secrets_are_not_stored_in_plain_text(client, ada, clock, app):
    org, user, _ = ada
    client.sign_in(user.email)
    client.get("/account/two-factor")
    cookie = client.get_cookie("portal_session").value
    secret, codes = enrol_in_page(client, T0)
    # Neither in the session cookie during set-up (signed, not encrypted: the key is encrypted in it)...
    session = app.session_interface.get_signing_serializer(app).loads(cookie)
    assert "two_factor_enrolment" in session and secret not in json.dumps(session)
    # ...nor in the database: the user's row, the audit trail, anything.
    row = (User.select(User.two_factor_secret, User.recovery_code_hashes).where(User.id == user.id)
           .tuples().get())
    assert row[0] and secret not in row[0] and base64.b32decode(secret).hex() not in row[0]
    assert all(code not in row[1] and code.replace("-", "") not in row[1] for code in codes)
    assert len(row[1].split()) == 10
    everything = " ".join(e.change for e in AuditEvent.select())
    assert secret not in everything and not any(code in everything for code in codes)
    with app.app_context():  # the stored key is the secret, encrypted under SECRET_KEY
        assert two_factor._keys.decrypt(row[0]) == secret


# --- signing in ---------------------------------------------------------------------------------------------

def test_sign_in_asks_for_a_code_and_only_then_signs_in(client, ada, clock, app):
    org, user, _ = ada
    secret, _ = turn_on(app, user)
    password_step = client.sign_in(user.email)
    assert password_step.status_code == 302 and password_step.headers["Location"] == "/login/two-factor"
    assert UserSession.select().count() == 0  # not signed in yet
    page = client.get("/login/two-factor")
    assert page.status_code == 200 and "Authentication code" in page_text(page)
    for path in ("/", "/team", "/account", "/account/two-factor", "/choose-org", "/marks",
                 "/oauth/authorize?response_type=code&client_id=x"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login"), path
    assert client.post_form("/logout").status_code == 302  # a POST to a signed-in route: refused as well
    assert client.get("/login/two-factor").status_code == 200  # the state survived all that

    signed_in = second_step(client, code_at(secret, T0))
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/"
    assert client.get("/").status_code == 200
    assert UserSession.select().count() == 1
    assert actions_of(org)[-1] == "session.signed_in"
    assert client.get("/login/two-factor").status_code == 302  # the half-signed-in state is gone


def test_the_next_page_and_the_org_chooser_are_respected(make_client, world, clock, app):
    vuitton, swarovski = world.org("Louis Vuitton"), world.org("Swarovski")
    counsel = world.person(vuitton, "analyst", email="counsel@lawfirm.example")
    world.person(swarovski, "analyst", email="counsel@lawfirm.example")
    secret, _ = turn_on(app, counsel)
    browser = make_client()
    browser.post_form("/login", {"email": counsel.email, "password": PASSWORD, "next": "/team"})
    chooser = second_step(browser, code_at(secret, T0))
    assert chooser.headers["Location"] == "/choose-org?next=/team"
    chosen = browser.post_form("/choose-org", {"org_id": str(swarovski.id), "next": "/team"})
    assert chosen.headers["Location"] == "/team"
    # One org: straight to the page asked for, never to a page off the site.
    org = world.org("Microsoft")
    ada = world.person(org, "analyst", email="ada@microsoft.example")
    secret, _ = turn_on(app, ada)
    for target, expected in (("/notices", "/notices"), ("https://evil.example/", "/")):
        browser = make_client()
        browser.post_form("/login", {"email": ada.email, "password": PASSWORD, "next": target})
        assert second_step(browser, code_at(secret, clock.at)).headers["Location"] == expected
        clock.at += 30  # the next sign-in needs the next step's code


def test_a_wrong_code_is_refused_and_logged(client, ada, clock, app, caplog):
    org, user, _ = ada
    secret, _ = turn_on(app, user)
    caplog.set_level(logging.INFO, logger="portal.security")
    client.sign_in(user.email)
    for wrong in ("123456" if code_at(secret, T0) != "123456" else "654321", "12345", "not a code", "1234567"):
        response = second_step(client, wrong)
        assert response.status_code == 401, wrong
        assert "That code is not correct" in page_text(response)
        assert client.get("/").status_code == 302
    empty = second_step(client, "")
    assert empty.status_code == 422 and "Enter the code from your authenticator app" in page_text(empty)
    refusals = [r.getMessage() for r in caplog.records if "two-factor code refused" in r.getMessage()]
    assert len(refusals) == 4 and all("ada@microsoft.example" in m for m in refusals)
    assert all("123456" not in r.getMessage() for r in caplog.records)


def test_a_code_is_accepted_once(make_client, ada, clock, app):
    org, user, _ = ada
    secret, _ = turn_on(app, user, at=T0)  # the set-up itself used this step's code
    first = make_client()
    first.sign_in(user.email)
    assert second_step(first, code_at(secret, T0)).status_code == 401  # replay of the set-up code
    assert second_step(first, code_at(secret, T0, steps=1)).status_code == 302
    second = make_client()
    second.sign_in(user.email)
    replay = second_step(second, code_at(secret, T0, steps=1))
    assert replay.status_code == 401 and "already used" in page_text(replay)
    assert second.get("/").status_code == 302


def test_the_step_before_and_after_are_accepted_not_further(make_client, ada, clock, app):
    org, user, _ = ada
    secret, _ = turn_on(app, user, at=T0 - 3600)
    browser = make_client()
    browser.sign_in(user.email)
    assert second_step(browser, code_at(secret, T0, steps=-2)).status_code == 401
    assert second_step(browser, code_at(secret, T0, steps=2)).status_code == 401
    assert second_step(browser, code_at(secret, T0, steps=-1)).status_code == 302
    for steps in (0, 1):
        browser = make_client()
        browser.sign_in(user.email)
        assert second_step(browser, code_at(secret, T0, steps=steps)).status_code == 302, steps
    browser = make_client()
    browser.sign_in(user.email)  # every code of the window is used now: the next one comes with the next step
    assert second_step(browser, code_at(secret, T0, steps=1)).status_code == 401
    clock.at += 60
    assert second_step(browser, code_at(secret, T0, steps=2)).status_code == 302


def test_a_recovery_code_works_once_and_says_how_many_remain(make_client, ada, clock, app):
    org, user, _ = ada
    _, codes = turn_on(app, user)
    browser = make_client()
    browser.sign_in(user.email)
    typed = "  " + codes[3].upper().replace("-", " ") + " "  # as read from paper: any case, spaces
    response = second_step(browser, typed)
    assert response.status_code == 302
    assert "9 unused recovery codes left" in page_text(browser.get("/"))
    used = AuditEvent.for_org(org).where(AuditEvent.action == "account.two_factor.recovery_code_used").get()
    assert (used.actor_id, used.actor_label) == (user.id, user.email)  # not "system": nobody was signed in yet
    assert used.change_data == {"email": user.email, "recovery_codes_left": 9}
    assert two_factor.recovery_codes_left(User.get_by_id(user.id)) == 9
    again = make_client()
    again.sign_in(user.email)
    assert second_step(again, codes[3]).status_code == 401
    assert second_step(again, codes[4]).status_code == 302


def test_wrong_codes_are_throttled_and_a_right_password_does_not_reset_the_count(make_client, ada, clock, app,
                                                                                  caplog):
    org, user, _ = ada
    secret, _ = turn_on(app, user)
    caplog.set_level(logging.INFO, logger="portal.security")
    browser = make_client()
    wrong = "000000" if code_at(secret, T0) != "000000" else "111111"
    for attempt in range(5):
        browser.sign_in(user.email)  # the password again each time: its own count is cleared, not this one
        assert second_step(browser, wrong).status_code == 401, attempt
    browser.sign_in(user.email)
    throttled = second_step(browser, code_at(secret, T0))  # even the right code waits now
    assert throttled.status_code == 429 and "Too many attempts" in page_text(throttled)
    assert browser.get("/").status_code == 302
    assert any("two-factor code throttled" in r.getMessage() for r in caplog.records)


def test_the_half_signed_in_state_expires(client, ada, clock, app):
    org, user, _ = ada
    secret, _ = turn_on(app, user)
    client.sign_in(user.email)
    clock.at += two_factor.SIGN_IN_SECONDS + 1
    response = second_step(client, code_at(secret, clock.at))
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert "took too long" in page_text(client.get("/login"))
    assert client.get("/").status_code == 302
    assert client.get("/login/two-factor").headers["Location"] == "/login"  # and it is forgotten


def test_the_half_signed_in_state_dies_when_the_account_changes(make_client, ada, clock, app):
    """A copy of the state cannot be used once a code was accepted for it, or after a reset."""
    org, user, admin = ada
    secret, _ = turn_on(app, user)
    laptop, copy = make_client(), make_client()
    laptop.sign_in(user.email)
    copy.set_cookie("portal_session", laptop.get_cookie("portal_session").value)
    assert second_step(laptop, code_at(secret, T0)).status_code == 302
    assert second_step(copy, code_at(secret, T0, steps=1)).headers["Location"] == "/login"
    assert copy.get("/").status_code == 302


def test_the_consent_page_needs_the_second_step(client, ada, clock, app):
    org, user, _ = ada
    secret, _ = turn_on(app, user)
    oauth_client, oauth_secret = register(org, "marks:read", redirect_uris=[CALLBACK])
    url, _ = pkce_session(oauth_client, oauth_secret).create_authorization_url(
        "http://localhost/oauth/authorize", code_verifier="v" * 48)
    path = url.removeprefix("http://localhost")
    client.sign_in(user.email)
    refused = client.get(path)
    assert refused.status_code == 302 and refused.headers["Location"].startswith("/login?next=")
    second_step(client, code_at(secret, T0))
    assert client.get(path).status_code == 200


def test_an_unreadable_key_is_explained_and_a_recovery_code_still_works(make_client, ada, clock, app, monkeypatch):
    org, user, _ = ada
    secret, codes = turn_on(app, user)
    monkeypatch.setitem(app.config, "SECRET_KEY", "another key altogether")
    browser = make_client()
    browser.sign_in(user.email)
    response = second_step(browser, code_at(secret, T0))
    assert response.status_code == 401 and "cannot be read" in page_text(response)
    assert second_step(browser, codes[0]).status_code == 302


def test_simultaneous_uses_of_one_code_let_only_one_through(ada, clock, app):
    org, user, _ = ada
    secret, _ = turn_on(app, user)
    first, second = User.get_by_id(user.id), User.get_by_id(user.id)  # both read before either writes
    with app.app_context():
        assert two_factor.check_second_factor(first, code_at(secret, T0)) is None
        with pytest.raises(services.ValidationError):
            two_factor.check_second_factor(second, code_at(secret, T0))


def test_simultaneous_recovery_codes(ada, clock, app):
    """Two different codes at once both work; one code twice works once."""
    org, user, _ = ada
    _, codes = turn_on(app, user)
    first, second, third = (User.get_by_id(user.id) for _ in range(3))
    with app.app_context():
        assert two_factor.check_second_factor(first, codes[0]) == 9
        assert two_factor.check_second_factor(second, codes[1]) == 8  # read before the first wrote
        with pytest.raises(services.ValidationError):
            two_factor.check_second_factor(third, codes[0])
    assert two_factor.recovery_codes_left(User.get_by_id(user.id)) == 8


def test_a_password_rehashed_at_sign_in_does_not_void_the_second_step(client, ada, clock, app, monkeypatch):
    """A password hash upgraded during the password step must not look like a password change."""
    from portal.accounts import passwords
    org, user, _ = ada
    secret, _ = turn_on(app, user)
    before = User.get_by_id(user.id).password_hash
    monkeypatch.setattr(passwords, "needs_rehash", lambda password_hash: True)
    client.sign_in(user.email)
    assert User.get_by_id(user.id).password_hash != before  # rehashed (a new salt)
    assert second_step(client, code_at(secret, T0)).headers["Location"] == "/"


# --- the account page: new recovery codes, turning it off -----------------------------------------------

def test_new_recovery_codes_need_a_current_code_and_replace_the_old(client, ada, clock, app):
    org, user, _ = ada
    secret, old_codes = turn_on(app, user)
    client.sign_in(user.email)
    second_step(client, code_at(secret, T0))
    clock.at += 30
    refused = client.post_form("/account/two-factor/recovery-codes", {"regenerate-code": old_codes[0]})
    assert refused.status_code == 422 and two_factor.WRONG_CODE in page_text(refused)
    empty = client.post_form("/account/two-factor/recovery-codes", {"regenerate-code": ""})
    assert empty.status_code == 422 and "Enter the 6-digit code" in page_text(empty)
    response = client.post_form("/account/two-factor/recovery-codes", {"regenerate-code": code_at(secret, clock.at)})
    assert response.status_code == 200
    new_codes = RECOVERY_CODE.findall(response.get_data(as_text=True))
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    assert "earlier recovery codes no longer work" in page_text(response)
    assert actions_of(org)[-1] == "account.two_factor.recovery_codes_regenerated"
    with app.app_context():
        fresh = User.get_by_id(user.id)
        with pytest.raises(services.ValidationError):
            two_factor.check_second_factor(fresh, old_codes[1])
        assert two_factor.check_second_factor(fresh, new_codes[1]) == 9


def test_turning_off_needs_the_password_and_a_code(client, ada, clock, app):
    org, user, _ = ada
    secret, codes = turn_on(app, user)
    client.sign_in(user.email)
    second_step(client, code_at(secret, T0))
    clock.at += 30
    wrong_password = client.post_form("/account/two-factor/disable", {"disable-password": "not my password at all",
                                                                      "disable-code": code_at(secret, clock.at)})
    assert wrong_password.status_code == 422 and "The password is not correct." in page_text(wrong_password)
    wrong_code = client.post_form("/account/two-factor/disable", {"disable-password": PASSWORD,
                                                                  "disable-code": "99999999"})
    assert wrong_code.status_code == 422 and "That code is not correct" in page_text(wrong_code)
    assert User.get_by_id(user.id).has_two_factor
    done = client.post_form("/account/two-factor/disable", {"disable-password": PASSWORD, "disable-code": codes[0]})
    assert done.status_code == 302
    assert "Two-factor authentication is off" in page_text(client.get("/account"))
    stored = User.get_by_id(user.id)
    assert (stored.two_factor_secret, stored.two_factor_enabled_at, stored.recovery_code_hashes) == (None, None, "")
    assert actions_of(org)[-2:] == ["account.two_factor.recovery_code_used", "account.two_factor.disabled"]
    client.post_form("/logout")
    assert client.sign_in(user.email).headers["Location"] == "/"  # the password alone again


def test_events_are_recorded_in_each_org_of_the_user(make_client, world, clock, app):
    vuitton, swarovski = world.org("Louis Vuitton"), world.org("Swarovski")
    counsel = world.person(vuitton, "analyst", email="counsel@lawfirm.example")
    world.person(swarovski, "analyst", email="counsel@lawfirm.example")
    turn_on(app, counsel)
    for org in (vuitton, swarovski):
        event = AuditEvent.for_org(org).where(AuditEvent.action == "account.two_factor.enabled").get()
        assert event.change_data == {"email": "counsel@lawfirm.example", "recovery_codes": 10}


# --- the org mandate ------------------------------------------------------------------------------------

def mandate(client, on=True):
    return client.post_form("/team/two-factor", {"required": "y"} if on else {})


def test_an_admin_requires_it_after_turning_it_on_for_themselves(make_client, ada, clock, app):
    org, user, admin = ada
    browser = make_client()
    browser.sign_in(admin.email)
    refused = mandate(browser)
    assert refused.status_code == 422 and "Turn on two-factor authentication for your own account first" in page_text(
        refused)
    assert not Organization.get_by_id(org.id).two_factor_required
    secret, _ = enrol_in_page(browser, T0)
    on = mandate(browser)
    assert on.status_code == 302
    assert "now required in Microsoft. 1 member(s) without it" in page_text(browser.get("/team"))
    assert Organization.get_by_id(org.id).two_factor_required
    event = AuditEvent.for_org(org).where(AuditEvent.action == "org.two_factor.mandate_changed").get()
    assert event.change_data == {"two_factor_required": {"from": False, "to": True}, "members_without": 1}
    assert event.actor_id == admin.id
    off = mandate(browser, on=False)
    assert off.status_code == 302 and not Organization.get_by_id(org.id).two_factor_required
    assert actions_of(org).count("org.two_factor.mandate_changed") == 2
    # Only admins: an analyst is refused (and a viewer would be, like every change).
    analyst = make_client()
    analyst.sign_in(user.email)
    assert mandate(analyst).status_code == 403


def require(org):
    Organization.update(two_factor_required=True).where(Organization.id == org.id).execute()


def member_get_urls(app):
    """Every member page of the app as a GET URL (any object id: the mandate answers before the page)."""
    urls = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        access = access_rule_of(view)
        if access is None or access.level != "member" or "GET" not in rule.methods:
            continue
        values = {}
        for argument in rule.arguments:
            converter = rule._converters[argument]
            if isinstance(converter, AnyConverter):
                values[argument] = sorted(converter.items)[0]
            elif isinstance(converter, IntegerConverter):
                values[argument] = 1
            else:
                values[argument] = "x"
        with app.test_request_context():
            from flask import url_for
            urls.append(url_for(rule.endpoint, **values))
    return urls


def test_members_without_it_reach_nothing_of_the_org_until_they_set_it_up(make_client, ada, clock, app):
    org, user, admin = ada
    turn_on(app, admin)
    require(org)
    browser = make_client()
    signed_in = browser.sign_in(user.email)
    assert signed_in.headers["Location"] == "/account/two-factor"  # right after sign-in
    urls = member_get_urls(app)
    assert len(urls) > 40 and "/team" in urls and "/" in urls
    for url in urls:
        response = browser.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/account/two-factor?next="), url
    # A change is not made either (and is not a page to come back to).
    invite = browser.post_form("/team/invite", {"email": "x@microsoft.example", "role": "viewer"})
    assert invite.headers["Location"] == "/account/two-factor"
    # Their own account, the set-up page, the org chooser and signing out remain.
    setup = browser.get("/account/two-factor?next=/notices")
    assert setup.status_code == 200 and "Microsoft requires two-factor authentication" in page_text(setup)
    for path in ("/account", "/choose-org"):
        assert browser.get(path).status_code == 200, path
    secret = SECRET_TEXT.search(setup.get_data(as_text=True)).group(1).replace(" ", "")
    done = browser.post_form("/account/two-factor", {"code": code_at(secret, T0), "next": "/notices"})
    assert done.status_code == 200 and 'href="/notices"' in done.get_data(as_text=True)
    for url in ("/", "/team", "/notices"):
        assert browser.get(url).status_code == 200, url


def test_an_app_cannot_be_authorized_without_it(make_client, ada, clock, app):
    """The consent page can grant an app any of the user's orgs: it waits for the set-up too."""
    org, user, admin = ada
    turn_on(app, admin)
    require(org)
    oauth_client, oauth_secret = register(org, "marks:read", redirect_uris=[CALLBACK])
    url, _ = pkce_session(oauth_client, oauth_secret).create_authorization_url(
        "http://localhost/oauth/authorize", code_verifier="v" * 48)
    path = url.removeprefix("http://localhost")
    browser = make_client()
    browser.sign_in(user.email)
    held = browser.get(path)
    assert held.status_code == 302 and held.headers["Location"].startswith("/account/two-factor?next=/oauth/authorize?")
    page = browser.get(path)
    data = {"decision": "approve", "org_id": str(org.id)}
    assert browser.post_form(path, data).headers["Location"] == "/account/two-factor"
    from portal.oauth.models import AuthorizationCode
    assert AuthorizationCode.select().count() == 0
    enrol_in_page(browser, T0)
    page = browser.get(path)
    assert page.status_code == 200 and "Authorize" in page_text(page)


def test_switching_into_an_org_that_requires_it(make_client, world, clock, app):
    vuitton, swarovski = world.org("Louis Vuitton"), world.org("Swarovski")
    world.person(vuitton, "analyst", email="counsel@lawfirm.example")
    world.person(swarovski, "analyst", email="counsel@lawfirm.example")
    require(vuitton)
    browser = make_client()
    browser.sign_in("counsel@lawfirm.example", org=swarovski)
    assert browser.get("/").status_code == 200  # Swarovski does not require it
    browser.post_form("/choose-org", {"org_id": str(vuitton.id)})
    assert browser.get("/").headers["Location"].startswith("/account/two-factor")
    browser.post_form("/choose-org", {"org_id": str(swarovski.id)})
    assert browser.get("/").status_code == 200


def test_it_cannot_be_turned_off_where_an_org_requires_it(client, ada, clock, app):
    org, user, admin = ada
    secret, codes = turn_on(app, user)
    require(org)
    client.sign_in(user.email)
    second_step(client, code_at(secret, T0))
    account = page_text(client.get("/account"))
    assert "Microsoft requires two-factor authentication of its members: it stays on" in account
    refused = client.post_form("/account/two-factor/disable", {"disable-password": PASSWORD,
                                                               "disable-code": codes[0]})
    assert refused.status_code == 422
    assert "Microsoft requires two-factor authentication for its members" in page_text(refused)
    assert User.get_by_id(user.id).has_two_factor
    assert two_factor.recovery_codes_left(User.get_by_id(user.id)) == 10  # the code was not spent


def test_the_team_page_shows_each_members_status(make_client, ada, clock, app):
    org, user, admin = ada
    turn_on(app, admin)
    browser = make_client()
    browser.sign_in(user.email)
    team = browser.get("/team").get_data(as_text=True)
    assert team.count('data-two-factor="on"') == 1 and team.count('data-two-factor="off"') == 1
    assert "Reset two-factor" not in team  # an analyst has no team controls
    require(org)
    browser = make_client()
    secret, _ = turn_on(app, user)
    browser.sign_in(user.email)
    second_step(browser, code_at(secret, T0))
    assert "Required of every member of Microsoft." in page_text(browser.get("/team"))


# --- an admin's reset, and the CLI's ----------------------------------------------------------------------

def test_an_admin_resets_a_members_two_factor(make_client, ada, clock, app):
    org, user, admin = ada
    admin_secret, _ = turn_on(app, admin, at=T0 - 900)
    turn_on(app, user)
    require(org)
    boss = make_client()
    boss.sign_in(admin.email)
    second_step(boss, code_at(admin_secret, T0))
    team = page_text(boss.get("/team"))
    membership = Membership.for_org(org).where(Membership.user == user).get()
    own = Membership.for_org(org).where(Membership.user == admin).get()
    assert f"/team/{membership.id}/two-factor/reset" in team
    assert f"/team/{own.id}/two-factor/reset" not in team  # one's own is turned off on the account page
    done = boss.post_form(f"/team/{membership.id}/two-factor/reset")
    assert done.status_code == 302
    assert "They must set it up again when they next sign in." in page_text(boss.get("/team"))
    assert not User.get_by_id(user.id).has_two_factor
    event = AuditEvent.for_org(org).where(AuditEvent.action == "account.two_factor.reset").get()
    assert (event.actor_id, event.change_data) == (admin.id, {"email": "ada@microsoft.example"})
    again = boss.post_form(f"/team/{membership.id}/two-factor/reset")
    assert again.status_code == 422 and "has no two-factor authentication to reset" in page_text(again)
    refused = boss.post_form(f"/team/{own.id}/two-factor/reset")
    assert refused.status_code == 422 and "on your account page" in page_text(refused)
    # The member signs in with the password alone and is sent to set it up again (the org requires it).
    member = make_client()
    assert member.sign_in(user.email).headers["Location"] == "/account/two-factor"


def test_an_analyst_cannot_reset_anyone_and_another_org_is_404(make_client, ada, world, clock, app):
    org, user, admin = ada
    turn_on(app, admin)
    admin_membership = Membership.for_org(org).where(Membership.user == admin).get()
    analyst = make_client()
    analyst.sign_in(user.email)
    assert analyst.post_form(f"/team/{admin_membership.id}/two-factor/reset").status_code == 403
    other = world.org("Swarovski")
    stranger = world.person(other, "admin", email="admin@swarovski.example")
    _, codes = turn_on(app, stranger)
    outsider = make_client()
    outsider.sign_in(stranger.email)
    second_step(outsider, codes[0])
    assert outsider.post_form(f"/team/{admin_membership.id}/two-factor/reset").status_code == 404
    assert User.get_by_id(admin.id).has_two_factor


def test_cli_resets_two_factor(runner, ada, clock, app):
    org, user, admin = ada
    turn_on(app, user)
    require(org)
    result = runner.invoke(args=["user", "reset-two-factor", "Ada@Microsoft.example"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["user"]["email"] == "ada@microsoft.example" and data["two_factor"] is False
    assert data["must_set_up_again_for"] == ["microsoft"]
    assert not User.get_by_id(user.id).has_two_factor
    event = AuditEvent.for_org(org).where(AuditEvent.action == "account.two_factor.reset").get()
    assert event.actor_label.startswith("cli:")
    again = runner.invoke(args=["user", "reset-two-factor", "ada@microsoft.example"])
    assert again.exit_code == 1 and "no two-factor authentication" in json.loads(again.stdout)["errors"]["email"][0]
    unknown = runner.invoke(args=["user", "reset-two-factor", "nobody@microsoft.example"])
    assert unknown.exit_code == 1 and "No user with email" in json.loads(unknown.stdout)["error"]


# --- the migration --------------------------------------------------------------------------------------

def test_the_migration_upgrades_a_database_with_users(new_database, tmp_path):
    from playhouse.migrations import Runner
    from playhouse.schema_diff import diff_models

    from portal.db import MIGRATIONS_DIR, open_database
    from portal.models import ALL_MODELS

    url = new_database()
    database = open_database(url)
    with database.connection_context():
        Runner(database, directory=str(MIGRATIONS_DIR)).up(target="0007_reports")
        database.execute_sql("INSERT INTO organization (slug, name, kind, timezone, created_at) "
                             "VALUES ('acme', 'Acme', 'brand', 'UTC', '2026-01-01 00:00:00')")
        database.execute_sql('INSERT INTO "user" (email, name, password_hash, active, created_at) '
                             "VALUES ('old@acme.example', 'Old', 'x', %s, '2026-01-01 00:00:00')"
                             % ("true" if url.startswith("postgres") else "1"))
        assert Runner(database, directory=str(MIGRATIONS_DIR)).up()[0] == "0008_two_factor"
        with database.bind_ctx(ALL_MODELS):
            old = User.get(User.email == "old@acme.example")
            assert (old.has_two_factor, old.two_factor_secret, old.recovery_code_hashes) == (False, None, "")
            assert Organization.get(Organization.slug == "acme").two_factor_required is False
            assert not diff_models(database, ALL_MODELS)
    if hasattr(database, "close_all"):
        database.close_all()

