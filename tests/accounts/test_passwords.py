"""The password policy (portal.accounts.passwords): what it refuses and why, what it lets through, and that
every place a password is set (invitation, account page, CLI, demo) applies it and loses nothing else."""
import json
import random
import re
import secrets
import string

import pytest

from portal.accounts import passwords, services
from portal.accounts.models import Invitation, Organization, User
from portal.accounts.passwords import (COMMON, COMMON_PADDED, CONTAINS_EMAIL, ONE_CHARACTER, ONLY_SPACES, REPEATED,
                                       SEQUENCE, TOO_LONG, TOO_SHORT, password_problems, verify_password)
from portal.audit import acting_as
from portal.errors import ValidationError
from tests.conftest import PASSWORD, page_text

INVITE_LINK = re.compile(r'id="invite-link"[^>]*value="[^"]*(/invite/[^"]+)"')


@pytest.mark.parametrize("password, message", [
    ("short", TOO_SHORT),
    ("x" * 129, TOO_LONG),
    (" " * 12, ONLY_SPACES),
    # common passwords, from the leaked-password list, whatever their case
    ("1qaz2wsx3edc", COMMON), ("Password1234", COMMON), ("qazwsxedcrfv", COMMON), ("sonyericsson", COMMON),
    # common passwords with digits, symbols or look-alikes stuck on to reach the length
    ("iloveyou!!!!", COMMON_PADDED), ("sunshine2024", COMMON_PADDED), ("!!!!iloveyou", COMMON_PADDED),
    ("1234password", COMMON_PADDED), ("P@ssw0rd2024!", COMMON_PADDED), ("dragon12345678", COMMON_PADDED),
    ("Monkey#######", COMMON_PADDED),
    # one character, or a shorter password, repeated
    ("aaaaaaaaaaaa", ONE_CHARACTER), ("############", ONE_CHARACTER), ("zzzzzzzzzzzzzzzzzzzz", ONE_CHARACTER),
    ("qwertyqwerty", REPEATED), ("monkey.monkey", REPEATED), ("abc1abc1abc1", REPEATED),
    ("Tiger Tiger Tiger", REPEATED),
    # keyboard, alphabet and number sequences
    ("123456789012", SEQUENCE), ("abcdefghijkl", SEQUENCE), ("zyxwvutsrqpo", SEQUENCE), ("qwertyuiopas", SEQUENCE),
    ("12345678abcd", SEQUENCE), ("asdfghjkl;'z", SEQUENCE), ("0987654321poiuy", SEQUENCE), ("aaaaaabbbbbb", SEQUENCE),
])
def test_refused_with_a_clear_message(password, message):
    assert password_problems(password) == [message]


def test_the_email_name_is_refused_when_long_enough():
    email = "Grace.Hopper@navy.example"
    for password in ("grace.hopper is the best", "GRACEHOPPER-1906-1992", "mygracepassword!", "hopper hopper 1906"):
        assert password_problems(password, email) == [CONTAINS_EMAIL], password
    assert password_problems("ada will do for now", "ada@x.example") == []  # "ada" is under four characters
    assert password_problems("grace under pressure", None) == []
    assert password_problems("grace under pressure", "not an address") == []


@pytest.mark.parametrize("password", [
    PASSWORD, "a new long passphrase", "Tr0ub4dor&3 plus more", "abc839201746", "1905 Einstein annus mirabilis",
    "marmalade-trombone-glacier", "Ünïcödé pässwörd 🙂",
    " ".join(["marmalade", "trombone", "glacier"] * 7)[:128],
])
def test_good_passwords_pass(password):
    assert password_problems(password, "someone@example.com") == []


def test_random_passwords_and_ordinary_passphrases_are_not_refused():
    """No false alarms on what people should choose: random strings (even digits only) and word phrases."""
    rng = random.Random(7)
    from zxcvbn.frequency_lists import FREQUENCY_LISTS
    words = [w for w in FREQUENCY_LISTS["english_wikipedia"][:20000] if w.isalpha() and len(w) >= 4]
    for _ in range(2000):
        phrase = rng.choice([" ", "-", "."]).join(rng.choice(words) for _ in range(3))
        assert password_problems(phrase) == [] or len(phrase) < 12, phrase
        random_text = "".join(secrets.choice(string.ascii_letters + string.digits + "!#%") for _ in range(14))
        assert password_problems(random_text) == [], random_text
        digits = "".join(secrets.choice(string.digits) for _ in range(12))
        assert password_problems(digits) == [], digits


def test_the_common_list_is_zxcvbns_leaked_password_list():
    common = passwords.common_passwords()
    assert len(common) == 30000
    assert {"password", "123456", "qwerty", "iloveyou", "trustno1"} <= common


# --- every place a password is set --------------------------------------------------------------------

def test_invitation_refuses_a_common_password_and_keeps_the_name(make_client, world):
    org = world.org("Microsoft")
    admin = world.person(org, "admin", email="admin@microsoft.example")
    client = make_client()
    client.sign_in(admin.email)
    path = INVITE_LINK.search(page_text(client.post_form("/team/invite", {"email": "grace.hopper@microsoft.example",
                                                                          "role": "analyst"}))).group(1)
    newcomer = make_client()
    for password, message in (("password1234", COMMON), ("Hopper's own password", CONTAINS_EMAIL)):
        refused = newcomer.post_form(path, {"name": "Grace Hopper", "password": password, "confirm": password})
        assert refused.status_code == 422
        assert message in page_text(refused)
        assert 'value="Grace Hopper"' in page_text(refused)  # the name typed is still there
    assert User.get_or_none(User.email == "grace.hopper@microsoft.example") is None
    assert Invitation.for_org(org).get().is_pending  # the link still works
    assert newcomer.post_form(path, {"name": "Grace Hopper", "password": PASSWORD,
                                     "confirm": PASSWORD}).status_code == 302


def test_account_page_refuses_a_common_password(client, world):
    org = world.org("Microsoft")
    user = world.person(org, "analyst", email="ada@microsoft.example")
    client.sign_in(user.email)
    refused = client.post_form("/account", {"current_password": PASSWORD, "password": "qwertyqwerty",
                                            "confirm": "qwertyqwerty"})
    assert refused.status_code == 422 and REPEATED in page_text(refused)
    assert verify_password(User.get_by_id(user.id).password_hash, PASSWORD)
    # "ada" is under four characters: a password containing it is accepted.
    accepted = client.post_form("/account", {"current_password": PASSWORD, "password": "ada wrote the first program",
                                             "confirm": "ada wrote the first program"})
    assert accepted.status_code == 302


def test_account_page_refusal_changes_nothing(client, world):
    org = world.org("Microsoft")
    user = world.person(org, "analyst", email="ada.lovelace@microsoft.example")
    client.sign_in(user.email)
    for password, message in (("iloveyou!!!!", COMMON_PADDED), ("lovelace and babbage", CONTAINS_EMAIL),
                              ("123456789012", SEQUENCE)):
        refused = client.post_form("/account", {"current_password": PASSWORD, "password": password,
                                                "confirm": password})
        assert refused.status_code == 422 and message in page_text(refused), password
    assert verify_password(User.get_by_id(user.id).password_hash, PASSWORD)
    assert client.get("/").status_code == 200  # still signed in


def test_cli_user_create_refuses_a_common_password(runner):
    runner.invoke(args=["org", "create", "--name", "Microsoft", "--kind", "brand"])
    result = runner.invoke(args=["user", "create", "--email", "x@microsoft.example", "--org", "microsoft",
                                 "--role", "admin"], env={"PORTAL_PASSWORD": "iloveyou!!!!"})
    assert result.exit_code == 1
    assert json.loads(result.stdout)["errors"]["password"] == [COMMON_PADDED]
    assert User.select().count() == 0
    named = runner.invoke(args=["user", "create", "--email", "hopper@microsoft.example", "--org", "microsoft",
                                "--role", "admin"], env={"PORTAL_PASSWORD": "admiral hopper of the navy"})
    assert named.exit_code == 1 and json.loads(named.stdout)["errors"]["password"] == [CONTAINS_EMAIL]


def test_the_service_checks_the_email_of_a_new_account(world):
    org = world.org("Microsoft")
    with acting_as("test"), pytest.raises(ValidationError) as refused:
        services.add_member(org, "Lovelace@microsoft.example", "admin", password="ada LOVELACE forever")
    assert refused.value.errors == {"password": [CONTAINS_EMAIL]}
    assert User.select().count() == 0


def test_demo_refuses_a_common_demo_password(app, monkeypatch):
    from portal.demo import seed_demo

    monkeypatch.setenv("DEMO_PASSWORD", "password1234")
    with app.app_context(), acting_as("demo"), pytest.raises(ValidationError) as refused:
        seed_demo()
    assert refused.value.errors == {"password": [COMMON]}
    assert Organization.select().count() == 0 and User.select().count() == 0  # nothing half-seeded
