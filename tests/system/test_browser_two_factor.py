"""Two-factor authentication in headless Chromium: set it up from the account page reading the key off the
page (as a person types it into an app), sign out, sign in with a code. No console errors (the QR code is a
data: image, allowed by the CSP; nothing inline)."""
import re

import pyotp
import pytest

from portal.accounts import two_factor
from portal.accounts.models import User
from tests.system.test_browser import assert_accessible_basics, axe_violations, sign_in

pytestmark = pytest.mark.browser

T0 = 1_800_000_000  # the portal's two-factor clock is frozen here: codes are computed for known steps


def test_set_up_two_factor_then_sign_in_with_a_code(open_page, world, monkeypatch):
    moment = {"now": T0}
    monkeypatch.setattr(two_factor, "now", lambda: moment["now"])
    org = world.org("Microsoft")
    world.person(org, "analyst", email="ada@microsoft.example")
    seen = {}

    page = open_page()
    sign_in(page, "ada@microsoft.example")
    page.wait_for_url(re.compile(r"/$"))
    page.get_by_role("link", name="Account").click()
    assert page.get_by_role("heading", name="Two-factor authentication").is_visible()
    page.get_by_role("link", name="Set up two-factor authentication").click()
    page.wait_for_url(re.compile(r"/account/two-factor$"))
    assert_accessible_basics(page)
    assert axe_violations(page) == []
    assert page.get_by_role("img", name=re.compile("QR code for your authenticator app")).is_visible()
    assert page.evaluate("document.querySelector('img.qr-code').naturalWidth") > 100  # the data: image drew
    secret = seen["secret"] = page.locator("#secret-key").inner_text().replace(" ", "")
    assert len(secret) == 32
    app_code = pyotp.TOTP(secret).at(T0)

    page.get_by_label("Code from your authenticator app").fill("000000" if app_code != "000000" else "111111")
    page.get_by_role("button", name="Turn on two-factor authentication").click()
    assert page.get_by_text("That code is not correct").is_visible()  # refused, and explained
    assert axe_violations(page) == []
    page.get_by_label("Code from your authenticator app").fill(app_code)
    page.get_by_role("button", name="Turn on two-factor authentication").click()
    page.wait_for_selector("text=These are your recovery codes")
    seen["recovery_codes"] = page.locator("ol.recovery-codes li").count()
    assert_accessible_basics(page)
    assert axe_violations(page) == []
    page.get_by_role("link", name="I have kept them: continue").click()
    page.wait_for_url(re.compile(r"/account$"))
    assert page.locator("[data-two-factor=on]").is_visible()

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/login$"))
    sign_in(page, "ada@microsoft.example")
    page.wait_for_url(re.compile(r"/login/two-factor$"))
    assert_accessible_basics(page)
    assert axe_violations(page) == []
    page.goto("/team")  # half signed in: nothing else opens
    page.wait_for_url(re.compile(r"/login\?next="))
    page.goto("/login/two-factor")
    moment["now"] = T0 + 30  # the app's next code
    page.get_by_label("Authentication code").fill(pyotp.TOTP(secret).at(T0 + 30))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(re.compile(r"/$"))
    assert page.locator("h1").inner_text() == "Microsoft"
    assert "analyst" in page.locator(".who").inner_text()

    assert seen["recovery_codes"] == 10
    user = User.get(User.email == "ada@microsoft.example")
    assert user.has_two_factor and seen["secret"] not in (user.two_factor_secret or "")
