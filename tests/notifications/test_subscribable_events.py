"""The events the inbox shows are subscribable as webhooks too (issue 20): notice.filed,
notice.evidence_added, intel.seller.repeat_infringer, intel.sighting.added (and intel.flag.withdrawn), with
the sharing predicate checked again when each delivery goes out."""
import io

import pytest
from werkzeug.datastructures import FileStorage

from portal.audit import acting_as
from portal.db import db
from portal.intel import services as intel
from portal.notices import services as notices
from portal.partnerships.models import Partnership
from portal.webhooks import services as webhooks
from portal.webhooks.models import EVENT_KINDS, WebhookDelivery

NEW_KINDS = ["notice.filed", "notice.evidence_added", "intel.seller.repeat_infringer", "intel.sighting.added",
             "intel.flag.withdrawn"]


@pytest.fixture
def orgs(world):
    brand, platform, third = world.org("Microsoft"), world.org("Alibaba", kind="platform"), world.org("Swarovski")
    partnership = world.partnership(brand, platform)
    return brand, platform, third, partnership


def hook(app, org, events):
    with app.app_context(), acting_as("test"):
        return webhooks.register(org, f"https://hooks.{org.slug}.example/in", events)[0]


def test_the_new_kinds_can_be_subscribed_and_are_queued(app, world, orgs):
    brand, platform, third, partnership = orgs
    assert set(NEW_KINDS) <= set(EVENT_KINDS)
    hook(app, platform, NEW_KINDS)
    notice = world.notice(brand, partnership, ["https://item.taobao.com/item.htm?id=5"]).notice
    with app.app_context(), acting_as("test"):
        notices.attach_evidence(notice, [FileStorage(io.BytesIO(b"%PDF-1.4 receipt"), filename="receipt.pdf")])
    assert [d.event_kind for d in WebhookDelivery.select().order_by(WebhookDelivery.id)] == [
        "notice.filed", "notice.evidence_added"]


def test_a_sighting_is_delivered_only_while_its_flag_is_visible(app, world, orgs):
    brand, platform, third, partnership = orgs
    hook(app, brand, ["intel.sighting.added"])
    hook(app, third, ["intel.sighting.added"])
    flag = world.flag(third, "shop-9", "alibaba-market", tlp="amber", distribution="group", share_with=[brand])
    with app.app_context(), acting_as("test"):
        intel.add_sighting(flag, brand, {"kind": "seen", "note": "Seen selling fakes of ours too."})
    by_org = {d.org_id: d for d in WebhookDelivery.select()}
    assert set(by_org) == {brand.id, third.id}
    with app.app_context():
        assert webhooks.still_visible(by_org[brand.id]) and webhooks.still_visible(by_org[third.id])
    with app.app_context(), acting_as("test"):  # the owner takes the flag back before the worker runs
        intel.update_flag(flag, third, {"distribution": "own", "share_with": [], "tlp": "red"})
    with app.app_context():
        assert not webhooks.still_visible(by_org[brand.id])
        assert webhooks.still_visible(by_org[third.id])  # the owner always sees its flag
        delivery = webhooks.deliver(by_org[brand.id].id)
    assert delivery.status == "failed" and "may no longer see" in delivery.last_error
    assert delivery.attempts == 0  # never sent


def test_a_repeat_infringer_is_delivered_only_while_its_marketplace_strikes_are_visible(app, orgs):
    brand, platform, third, partnership = orgs
    hook(app, brand, ["intel.seller.repeat_infringer"])
    with app.app_context(), db.atomic():
        [delivery] = webhooks.enqueue("intel.seller.repeat_infringer", brand, None, {
            "seller": "shop-4", "marketplace": "alibaba-market", "since": "2026-03-01T00:00:00", "strikes": 4})
    with app.app_context():
        assert webhooks.still_visible(delivery)
        Partnership.update(status="ended").where(Partnership.id == partnership.id).execute()
        assert not webhooks.still_visible(WebhookDelivery.get_by_id(delivery.id))
        with db.atomic():
            [unknown] = webhooks.enqueue("intel.seller.repeat_infringer", brand, None, {"marketplace": "gone"})
        assert not webhooks.still_visible(unknown)
