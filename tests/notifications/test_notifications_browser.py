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


def test_a_member_asks_for_flags_by_email_and_the_mail_that_arrives_hides_the_intelligence(
        open_page, world, app, smtp_server, live_server, monkeypatch):
    """In the browser a brand member chooses e-mail at once for flags shared with the org; another brand
    shares an amber flag; the worker's mail reaches the test's SMTP server carrying a link and nothing of the
    flag (no seller, no notes), and the link opens the flag for the signed-in member."""
    from portal.intel import services as intel
    from portal.notifications import mailer

    monkeypatch.setitem(app.config, "PORTAL_BASE_URL", live_server)
    brand, other = world.org("Microsoft"), world.org("Swarovski")
    world.marketplace(world.org("Alibaba", kind="platform"), "Alibaba Market")  # where the seller trades
    user = world.person(brand, "analyst", email="ana@microsoft.example")
    page = open_page()
    sign_in(page, user.email)
    page.goto("/notifications/settings")
    page.get_by_label("Flagged sellers were shared with your organization").select_option("immediate")
    page.get_by_role("button", name="Save settings").click()
    assert page.get_by_text("Notification settings saved.").is_visible()

    with app.app_context(), acting_as("test"):
        flag = intel.create_flag(other, dict(
            marketplace="alibaba-market", seller_id="shop-secret-912", category="suspected_counterfeit",
            confidence="high", tlp="amber", distribution="group", share_with=[brand.slug],
            notes="Ships from a warehouse in Yiwu; contact via WeChat."))
    assert smtp_server.mailbox.messages == []  # the worker sends, not the change
    with app.app_context(), acting_as("worker"):
        assert mailer.send_due() == 1
    [message] = smtp_server.mailbox.messages
    assert message["To"] == user.email
    body = message.get_body(("plain",)).get_content()
    assert "flagged seller was shared" in body
    for hidden in ("shop-secret-912", "Yiwu", "WeChat", "Swarovski"):
        assert hidden not in body and hidden not in message["Subject"], hidden
    link = re.search(rf"{re.escape(live_server)}/intel/flags/{flag.id}\b", body).group(0)
    page.goto(link)
    assert page.get_by_text("shop-secret-912").first.is_visible()  # on the page, for the member signed in
