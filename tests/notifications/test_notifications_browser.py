"""The inbox in headless Chromium (the fixtures of tests/conftest.py): a brand user sees the unread count
after a platform asks for information, opens the inbox and the notification, and the count clears."""
import re

import pytest

from portal.audit import acting_as
from portal.notices import services as notices
from portal.notices.models import NoticeItem
from tests.system.test_browser import assert_accessible_basics, axe_violations, sign_in

pytestmark = pytest.mark.browser


def test_a_brand_user_sees_the_unread_count_opens_the_inbox_and_it_clears(open_page, world, app):
    brand, platform = world.org("Microsoft"), world.org("Alibaba", kind="platform")
    partnership = world.partnership(brand, platform)
    notice = world.notice(brand, partnership, ["https://item.taobao.com/item.htm?id=41"]).notice
    item = NoticeItem.get(NoticeItem.notice == notice)
    user = world.person(brand, "analyst", email="ana@microsoft.example")

    page = open_page()
    sign_in(page, user.email)
    page.wait_for_url(re.compile(r"/$"))
    assert page.locator("#nav-notifications .badge-count").count() == 0

    with app.app_context(), acting_as("test"):
        notices.transition(item, platform, "info_requested", reason="Send the test-buy receipt, please.")
    page.reload()
    badge = page.locator("#nav-notifications .badge-count")
    assert badge.text_content().strip() == "1 unread" and badge.get_attribute("data-unread") == "1"
    page.locator("#nav-notifications").click()
    page.wait_for_url(re.compile(r"/notifications$"))
    assert page.locator("h1").inner_text() == "Notifications"
    assert_accessible_basics(page)
    assert axe_violations(page) == []
    page.get_by_role("link", name=re.compile("asked for information on listing")).click()
    page.wait_for_url(re.compile(rf"/notices/{notice.id}$"))
    assert page.locator("#nav-notifications .badge-count").count() == 0
    page.locator("#nav-notifications").click()
    assert "0 unread" in page.locator(".lead").inner_text()

    page.get_by_role("link", name="Choose what you are told, and how").click()
    page.wait_for_url(re.compile(r"/notifications/settings$"))
    assert_accessible_basics(page)
    assert axe_violations(page) == []
    page.get_by_label("A platform rejected a listing").select_option("off")
    page.get_by_role("button", name="Save settings").click()
    assert page.get_by_text("Notification settings saved.").is_visible()
    assert page.get_by_label("A platform rejected a listing").input_value() == "off"
