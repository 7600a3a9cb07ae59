"""Regression tests from the security and reliability review of issue 8 (two-factor authentication, the org
mandate, db backup / restore). Each one held a defect when it was written; it is kept so the defect stays fixed.

Codes are computed with pyotp as an authenticator app would; the portal's two-factor clock (`two_factor.now`)
is frozen, as in test_two_factor.py.
"""
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

from portal import backups
from portal.accounts.models import Membership, User
from tests.accounts import test_two_factor
from tests.platform.test_backup import portal_sqlite
from tests.accounts.test_two_factor import SECRET_TEXT, T0, code_at, require, second_step, turn_on

# Fixtures of test_two_factor.py: the portal's two-factor clock frozen at T0, and Ada (an analyst) with her admin.
clock, ada = test_two_factor.clock, test_two_factor.ada


# --- two-factor authentication --------------------------------------------------------------------------------

# Six characters that Python's \d accepts as digits but that are not ASCII: Arabic-Indic and full-width digits
# (a phone keyboard set to another script, or an input method, types these).
NON_ASCII_DIGITS = ["\u0661\u0662\u0663\u0664\u0665\u0666", "\uff11\uff12\uff13\uff14\uff15\uff16"]


@pytest.mark.parametrize("code", NON_ASCII_DIGITS)
def test_a_code_typed_in_non_ascii_digits_is_a_wrong_code_not_a_server_error(make_client, ada, clock, app, code):
    """CODE_PATTERN (\\d) lets non-ASCII digits through to hmac.compare_digest, which raises TypeError for
    non-ASCII text: a 500 on the second sign-in step and on the set-up page (DESIGN rule 4)."""
    org, user, _ = ada
    # The set-up page: refused like any wrong code, nothing switched on.
    browser = make_client()
    browser.sign_in(user.email)
    assert browser.get("/account/two-factor").status_code == 200
    setup = browser.post_form("/account/two-factor", {"code": code})
    assert setup.status_code == 422
    assert not User.get_by_id(user.id).has_two_factor
    # The second step of signing in: a wrong code (401), still signed out.
    turn_on(app, user)
    browser = make_client()
    browser.sign_in(user.email)
    response = second_step(browser, code)
    assert response.status_code == 401
    assert browser.get("/").status_code == 302


def test_turning_it_on_ends_the_sessions_opened_with_the_password_alone(make_client, ada, clock, app):
    """The org requires two-factor authentication. Someone with a member's password (and no authenticator)
    signs in: that session is held at the set-up page. Once the member sets it up in their own browser, the
    other session, which never gave a second factor, must not reach the org: setting it up ends the user's
    other sessions (as a password change does), or the mandate asks the session, not only the account."""
    org, user, admin = ada
    turn_on(app, admin)
    require(org)
    intruder = make_client()
    assert intruder.sign_in(user.email).headers["Location"] == "/account/two-factor"
    held = intruder.get("/marks")
    assert held.status_code == 302 and held.headers["Location"].startswith("/account/two-factor")

    owner = make_client()
    owner.sign_in(user.email)
    page = owner.get("/account/two-factor")
    secret = SECRET_TEXT.search(page.get_data(as_text=True)).group(1).replace(" ", "")
    assert owner.post_form("/account/two-factor", {"code": code_at(secret, T0)}).status_code == 200
    assert owner.get("/marks").status_code == 200  # the member, with the second factor

    after = intruder.get("/marks")
    assert after.status_code == 302, "a session opened with the password alone reaches an org that requires 2FA"


@pytest.mark.parametrize("still_a_member_of_the_small_org", [True, False])
def test_an_admin_of_one_org_cannot_strip_the_second_factor_another_org_requires(
        make_client, world, clock, app, still_a_member_of_the_small_org):
    """Outside counsel works for a small brand and for Louis Vuitton, which requires two-factor
    authentication. The small brand's admin (another tenant) resets counsel's two-factor authentication from
    the small brand's team page: Louis Vuitton's mandate is then down to counsel's password, and Louis
    Vuitton's audit trail says nothing (the reset is recorded in the small brand only). The same works once
    counsel has left the small brand (a deactivated membership)."""
    small, vuitton = world.org("Small Brand"), world.org("Louis Vuitton")
    small_admin = world.person(small, "admin", email="boss@small.example")
    vuitton_admin = world.person(vuitton, "admin", email="boss@vuitton.example")
    counsel = world.person(small, "analyst", email="counsel@lawfirm.example")
    world.person(vuitton, "analyst", email="counsel@lawfirm.example")
    turn_on(app, vuitton_admin)
    require(vuitton)
    turn_on(app, counsel)
    membership = Membership.for_org(small).where(Membership.user == counsel).get()
    if not still_a_member_of_the_small_org:
        Membership.update(active=False).where(Membership.id == membership.id).execute()

    boss = make_client()
    boss.sign_in(small_admin.email)
    response = boss.post_form(f"/team/{membership.id}/two-factor/reset")
    assert response.status_code != 500
    assert User.get_by_id(counsel.id).has_two_factor, \
        "another org's admin turned off the second factor Louis Vuitton requires of its member"


# --- next on the new pages --------------------------------------------------------------------------------------

@pytest.mark.parametrize("target", ["//[", "http://[evil.example"])
def test_a_malformed_next_on_the_set_up_page_is_ignored_not_a_server_error(client, ada, target):
    """safe_next calls urlsplit before refusing scheme-relative and absolute targets; urlsplit raises
    ValueError ("Invalid IPv6 URL") for these, so /account/two-factor?next=//[ is a 500 (DESIGN rule 4). The
    mandate sends members to this page with a next, so the link is one anybody can hand out."""
    org, user, _ = ada
    client.sign_in(user.email)
    page = client.get("/account/two-factor", query_string={"next": target})
    assert page.status_code == 200
    assert target not in page.get_data(as_text=True)


# --- db restore (SQLite) ----------------------------------------------------------------------------------------

def organizations_in(path):
    connection = sqlite3.connect(str(path))
    try:
        return connection.execute("SELECT COUNT(*) FROM organization").fetchone()[0]
    finally:
        connection.close()


def a_backup(tmp_path, name, organizations):
    source = portal_sqlite(tmp_path / "sources" / f"{name}.db", organizations=organizations)
    target = tmp_path / f"{name}.backup"
    backups.backup(f"sqlite:///{source}", target)
    return target


@pytest.mark.parametrize("damage", ["pages overwritten", "not a database"])
def test_restore_with_force_replaces_a_damaged_database(tmp_path, damage):
    """The day a restore is needed is the day the database is damaged. `db restore --force` reads the live
    database first (does it hold data? take it out of WAL mode) and gives up on the first read error: the
    damaged file cannot be replaced by the command at all. It should be kept beside (as
    <name>.replaced-<time>, as a database holding data is) and the backup put in place."""
    good = a_backup(tmp_path, "good", organizations=3)
    live = tmp_path / "instance" / "portal.db"
    portal_sqlite(live, organizations=1)
    data = live.read_bytes()
    if damage == "pages overwritten":  # the header survives, the pages after it do not
        live.write_bytes(data[:4096] + b"\xff" * (len(data) - 4096))
    else:
        live.write_bytes(b"\x00garbage" * 2048)
    damaged = live.read_bytes()

    restored = backups.restore(f"sqlite:///{live}", good, force=True)

    assert organizations_in(live) == 3
    assert restored["previous"] and Path(restored["previous"]).read_bytes() == damaged  # kept, not deleted


def test_two_restores_within_one_second_keep_the_database_they_first_replaced(tmp_path, monkeypatch):
    """A restore keeps the database it replaces as <name>.replaced-<second>. A second restore within the same
    second finds that name taken: os.link fails with FileExistsError, which the fallback for file systems
    without hard links catches, and shutil.copy2 then writes over the kept file. The database as it was
    before the first restore (the one real copy of the live data) is lost."""
    live = portal_sqlite(tmp_path / "instance" / "portal.db", organizations=1)  # the live data
    first, second = a_backup(tmp_path, "first", organizations=2), a_backup(tmp_path, "second", organizations=3)
    monkeypatch.setattr(backups, "utcnow", lambda: datetime(2026, 11, 23, 2, 0, 0))
    url = f"sqlite:///{live}"

    backups.restore(url, first, force=True)
    backups.restore(url, second, force=True)  # e.g. the wrong backup was restored first, put right at once

    assert organizations_in(live) == 3
    kept = sorted(organizations_in(path) for path in live.parent.iterdir() if ".replaced-" in path.name)
    assert 1 in kept, f"the live database before the restores is gone; kept copies hold {kept} organizations"
    assert kept == [1, 2]


# --- db backup (PostgreSQL) -------------------------------------------------------------------------------------

def test_a_percent_encoded_password_in_database_url_reaches_pg_dump_decoded():
    """A password with @ : / # or % must be percent-encoded in DATABASE_URL. The portal decodes it
    (portal.db: unquote_password=True), but `db backup` hands pg_dump the still-encoded text in PGPASSWORD, so
    the backup fails authentication on exactly the deployments with strong passwords."""
    public, password = backups.url_without_password("postgresql://portal:p%40ss%3Aw%2Frd%25@db.example:5432/portal")
    assert password == "p@ss:w/rd%"
    assert "p%40ss" not in public and "@db.example:5432/portal" in public



# --- the password policy ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("password", ["!QAZ2wsx#EDC", "1qaz@WSX3edc", "!QAZ@WSX#EDC"])
def test_shifted_keyboard_column_walks_are_refused(password):
    """passwords.py refuses "the rows and columns of a QWERTY keyboard, shifted or not", but only the unshifted
    columns are in SEQUENCES ("1qaz", "2wsx", ...): a column typed with Shift on its first key ("!qaz", "@wsx",
    "#edc") breaks the run, so these classic keyboard walks (from leaked password lists; "!qaz2wsx" and
    "1qaz@wsx" are even in zxcvbn's list) are accepted."""
    from portal.accounts import passwords

    assert passwords.password_problems(password) == [passwords.SEQUENCE]



@pytest.mark.parametrize("suffix", ["", "-wal", "-shm"])
def test_a_backup_never_writes_over_the_live_database(tmp_path, suffix):
    """`db backup <the live database file> --force` used to replace the database the portal has open."""
    live = portal_sqlite(tmp_path / "instance" / "portal.db", organizations=2)
    before = live.read_bytes()
    with pytest.raises(backups.BackupRefused) as refused:
        backups.backup(f"sqlite:///{live}", Path(f"{live}{suffix}"), force=True)
    assert "live database" in refused.value.message
    assert live.read_bytes() == before and organizations_in(live) == 2


def test_an_apps_access_for_a_member_stops_when_the_org_requires_two_factor_until_they_set_it_up(
        live_server, world, app):
    """A grant made by a member without two-factor authentication, before the org required it, would
    otherwise outlive the mandate forever (each refresh issues a new 30-day refresh token)."""
    import requests
    from tests.oauth_helpers import CALLBACK, browser_session, register, user_token
    org = world.org("Microsoft")
    admin = world.person(org, "admin")
    analyst = world.person(org, "analyst")
    client, secret = register(org, "marks:read", redirect_uris=[CALLBACK])
    session, token = user_token(live_server, browser_session(live_server, analyst.email), client, secret)
    assert session.get(f"{live_server}/api/v1/me").status_code == 200
    turn_on(app, admin, at=T0)
    require(org)
    assert session.get(f"{live_server}/api/v1/me").status_code == 401
    refresh = requests.post(f"{live_server}/oauth/token", auth=(client.client_id, secret), data={
        "grant_type": "refresh_token", "refresh_token": token["refresh_token"]})
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant"
    turn_on(app, analyst, at=T0)
    assert session.get(f"{live_server}/api/v1/me").status_code == 200


def test_the_current_password_cannot_be_guessed_through_the_account_page(make_client, world):
    """A session left open (or stolen) must not be an oracle for the password: the change form checks the
    current password on the sign-in's counters (5 per 5 minutes), and a success clears them."""
    from tests.conftest import PASSWORD, page_text
    org = world.org("Microsoft")
    world.person(org, "analyst", email="ada@microsoft.example")
    browser = make_client()
    browser.sign_in("ada@microsoft.example")
    before = User.get(User.email == "ada@microsoft.example").password_hash
    new = {"password": "a new long passphrase", "confirm": "a new long passphrase"}
    answers = [browser.post_form("/account", {"current_password": f"guess number {n}", **new}).status_code
               for n in range(6)]
    assert answers == [422] * 5 + [429]
    refused = browser.post_form("/account", {"current_password": PASSWORD, **new})
    assert refused.status_code == 429 and "Too many attempts at your current password" in page_text(refused)
    assert User.get(User.email == "ada@microsoft.example").password_hash == before
