"""Every clock says what it counts (business hours of a named zone, or calendar time on a 24/7 calendar) and
shows its full deadline with the zone; the API gives durations in hours beside seconds."""
import pytest

from tests.conftest import page_text


@pytest.fixture
def two_calendars(world):
    """Louis Vuitton files to Alibaba (London business hours) and to Shopmart (24/7)."""
    lv = world.org("Louis Vuitton", timezone="Europe/Paris")
    alibaba = world.org("Alibaba", kind="platform", timezone="Asia/Shanghai")
    world.marketplace(alibaba, "Taobao", "CN")
    shopmart = world.org("Shopmart", kind="platform")
    world.marketplace(shopmart, "Shopmart CN", "CN")
    business = world.partnership(lv, alibaba, timezone="Europe/London", effective_from="2020-01-01")
    always = world.partnership(lv, shopmart, always_open=True, timezone="UTC", effective_from="2020-01-01")
    filed = {"business": world.notice(lv, business, ["https://item.taobao.com/item.htm?id=1"]).notice,
             "calendar": world.notice(lv, always, ["https://shop.example/item/1"]).notice}
    return lv, filed


def test_the_notice_page_says_business_hours_or_calendar_time_with_the_full_deadline(make_client, world,
                                                                                      two_calendars):
    lv, filed = two_calendars
    client = make_client()
    client.sign_in(world.person(lv, "admin").email)
    business = page_text(client.get(f"/notices/{filed['business'].id}"))
    assert "of business hours (Europe/London) left" in business
    assert "calendar time" not in business
    calendar = page_text(client.get(f"/notices/{filed['calendar'].id}"))
    assert "of calendar time left" in calendar and "business hours" not in calendar
    # The deadline with its date, time and zone (the org's: Paris, CET or CEST).
    import re
    assert re.search(r"due \d{4}-\d{2}-\d{2} \d{2}:\d{2} CES?T", business), business


def test_the_api_gives_the_basis_and_hours_beside_seconds(client, world, two_calendars):
    from tests.platform.test_api import bearer, client_token
    lv, filed = two_calendars
    headers = bearer(client_token(client, lv, "notices:read"))
    for kind, basis, zone in (("business", "business_hours", "Europe/London"), ("calendar", "calendar_time", "UTC")):
        notice = client.get(f"/api/v1/notices/{filed[kind].id}", headers=headers).json
        clock = notice["items"][0]["clocks"]["acknowledge"]
        assert (clock["basis"], clock["timezone"]) == (basis, zone)
        assert clock["remaining_hours"] == round(clock["remaining_seconds"] / 3600, 2)
        assert clock["target_hours"] == round(clock["target_minutes"] / 60, 2)
