"""The platform's queue as analysts work it: compact rows with what a decision needs (title, seller strikes and
flags, marks, the brand's standing, the deadline and what it counts), the filters and sorts, bulk moves with
templates over the ticked listings or every matching one, claiming, and the ground templates page."""
import re
from datetime import timedelta

import pytest

from portal.audit import AuditEvent, acting_as
from portal.notices import grounds
from portal.notices.models import Notice, NoticeItem, Transition
from tests.conftest import page_text


@pytest.fixture
def desk(world, make_client):
    """Alibaba (analyst Ana signed in) and Louis Vuitton, with a notice of 3 listings and one of 2."""
    alibaba = world.org("Alibaba", kind="platform", timezone="Asia/Shanghai")
    world.marketplace(alibaba, "Taobao", "CN")
    lv = world.org("Louis Vuitton", timezone="Europe/Paris")
    partnership = world.partnership(lv, alibaba, timezone="Asia/Shanghai", effective_from="2020-01-01")
    first = world.notice(lv, partnership, [("https://item.taobao.com/item.htm?id=1", "shop-1"),
                                           ("https://item.taobao.com/item.htm?id=2", "shop-2"),
                                           ("https://item.taobao.com/item.htm?id=3", "shop-1")]).notice
    second = world.notice(lv, partnership, ["https://item.taobao.com/item.htm?id=4",
                                            "https://item.taobao.com/item.htm?id=5"]).notice
    NoticeItem.update(title="LV Neverfull replica bag").where(NoticeItem.notice == first).execute()
    ana = world.person(alibaba, "analyst", email="ana@alibaba.example")
    client = make_client()
    client.sign_in(ana.email)
    return {"client": client, "platform": alibaba, "brand": lv, "partnership": partnership, "ana": ana,
            "notices": (first, second), "world": world}


def items_of(notice):
    return [i.id for i in NoticeItem.select().where(NoticeItem.notice == notice).order_by(NoticeItem.position)]


def template(platform, move, title="T", text="The logo and the stitching differ from the genuine product."):
    with acting_as("test"):
        return grounds.create_template(platform, {"move": move, "title": title, "text": text})


def test_a_row_shows_what_the_decision_needs(desk):
    world, alibaba = desk["world"], desk["platform"]
    world.flag(alibaba, "shop-1", "taobao", tlp="amber", distribution="own")  # Alibaba's own flag on shop-1
    world.flag(desk["brand"], "shop-2", "taobao", tlp="red", distribution="own")  # hidden from Alibaba
    html = desk["client"].get("/queue").get_data(as_text=True)
    text = page_text(desk["client"].get("/queue"))
    assert "LV Neverfull replica bag" in text and "seller shop-1" in text
    assert "1 flag" in html and html.count(">1 flag<") == 2  # the two shop-1 listings; shop-2's flag is hidden
    assert "no decisions yet" in text  # the brand's standing under the partnership
    assert re.search(r"Acknowledge\s+by \d{4}-\d{2}-\d{2} \d{2}:\d{2} CST", text), text
    assert "business hours (Asia/Shanghai)" in text
    mark_word = Notice.get_by_id(desk["notices"][0].id).mark_links.get().mark.word
    assert mark_word in text


def test_filters_sorts_and_page_sizes(desk):
    client, (first, second) = desk["client"], desk["notices"]
    listed = lambda query: re.findall(r'name="item" value="(\d+)"', client.get(f"/queue?{query}")  # noqa: E731
                                      .get_data(as_text=True))
    assert len(listed("")) == 5
    assert [int(i) for i in listed(f"notice={first.reference}")] == items_of(first)
    assert [int(i) for i in listed(f"notice={second.id}")] == items_of(second)
    assert [int(i) for i in listed("sort=filed")] == items_of(first) + items_of(second)
    assert listed("fast_lane=1") == [] and len(listed("fast_lane=0")) == 5
    assert len(listed("due_within=100000")) == 5
    for item in NoticeItem.select().where(NoticeItem.notice == second):
        NoticeItem.update(due_at=item.due_at + timedelta(days=30)).where(NoticeItem.id == item.id).execute()
    assert sorted(int(i) for i in listed("due_within=200")) == items_of(first)
    assert len(listed("per_page=300")) == 5 and len(listed("per_page=7")) == 5  # an odd size is the default
    assert listed("assigned=mine") == [] and len(listed("assigned=none")) == 5


def test_bulk_moves_with_a_template_over_ticked_or_every_matching_listing(desk):
    client, alibaba, (first, second) = desk["client"], desk["platform"], desk["notices"]
    question = template(alibaba, "info_requested", "Certificate", "Send the registration certificate.")
    response = client.post_form(f"/queue/bulk?notice={second.reference}", {
        "to": "info_requested", "ground": str(question.id), "scope": "matching"})
    assert response.status_code == 302
    assert {i.state for i in NoticeItem.select().where(NoticeItem.notice == second)} == {"info_requested"}
    assert {t.reason for t in Transition.select().where(Transition.to_state == "info_requested")} == {question.text}
    assert {i.state for i in NoticeItem.select().where(NoticeItem.notice == first)} == {"submitted"}
    rejection = template(alibaba, "rejected", "No mark", "The listing does not use the mark.")
    picked = items_of(first)[:2]
    client.post_form("/queue/bulk", {"to": "rejected", "ground": str(rejection.id), "item": [str(pk) for pk in picked]})
    assert [NoticeItem.get_by_id(pk).state for pk in items_of(first)] == ["rejected", "rejected", "submitted"]


def test_a_refused_bulk_move_keeps_the_input_and_changes_nothing(desk):
    client, alibaba, (first, _) = desk["client"], desk["platform"], desk["notices"]
    picked = [str(pk) for pk in items_of(first)]
    # Rejecting needs a ground: refused up front, with the ticked listings and the typed text kept.
    response = client.post_form("/queue/bulk", {"to": "rejected", "item": picked, "redress": "Write to us"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Nothing was changed" in html and ">Write to us</textarea>" in html
    assert all(f'value="{pk}" id="pick-{pk}" aria-label' in html and html.count(f'value="{pk}"') >= 1 for pk in picked)
    assert re.search(rf'value="{picked[0]}" id="pick-{picked[0]}"[^>]*checked', html)
    # A template for another kind of move, or another platform's, is refused the same way.
    question = template(alibaba, "info_requested")
    assert client.post_form("/queue/bulk", {"to": "rejected", "ground": str(question.id),
                                            "item": picked}).status_code == 422
    other = desk["world"].org("Shopmart", kind="platform")
    theirs = template(other, "rejected")
    assert client.post_form("/queue/bulk", {"to": "rejected", "ground": str(theirs.id), "item": picked}).status_code == 404
    assert client.post_form("/queue/bulk", {"to": "rejected", "ground": str(question.id), "reason": "typed",
                                            "item": picked}).status_code == 422
    assert {i.state for i in NoticeItem.select()} == {"submitted"}
    assert client.post_form("/queue/bulk", {"to": "", "item": picked}).status_code == 422


def test_claiming_and_releasing_from_the_queue(desk):
    client, (first, second) = desk["client"], desk["notices"]
    client.post_form("/queue/bulk", {"to": "claim", "item": [str(pk) for pk in items_of(first)]})
    assert {i.assignee_id for i in NoticeItem.select().where(NoticeItem.notice == first)} == {desk["ana"].id}
    mine = client.get("/queue?assigned=mine").get_data(as_text=True)
    assert sorted(int(i) for i in re.findall(r'name="item" value="(\d+)"', mine)) == items_of(first)
    assert ">mine</span>" in mine
    client.post_form("/queue/bulk?assigned=mine", {"to": "release", "scope": "matching"})
    assert not NoticeItem.select().where(NoticeItem.assignee.is_null(False)).exists()
    actions = [e.action for e in AuditEvent.for_org(desk["platform"]).order_by(AuditEvent.seq)]
    assert actions[-2:] == ["notice_item.assigned", "notice_item.released"]


def test_the_ground_templates_page(desk, make_client):
    client, alibaba = desk["client"], desk["platform"]
    bad = client.post_form("/queue/grounds/new", {"move": "removed", "title": "", "text": "A ground."})
    assert bad.status_code == 422 and "A ground." in bad.get_data(as_text=True)
    assert not grounds.GroundTemplate.select().exists()
    made = client.post_form("/queue/grounds/new", {"move": "removed", "title": "Logo", "text": "The logo differs.",
                                                   "partnership": str(desk["partnership"].id)})
    assert made.status_code == 302
    found = grounds.GroundTemplate.get()
    assert (found.move, found.partnership_id) == ("removed", desk["partnership"].id)
    assert "Removal ground" in page_text(client.get("/queue/grounds"))
    assert client.post_form(f"/queue/grounds/{found.id}", {"move": "rejected", "title": "Logo",
                                                          "text": "Changed."}).status_code == 302
    assert grounds.GroundTemplate.get_by_id(found.id).text == "Changed."
    assert client.post_form(f"/queue/grounds/{found.id}/delete").status_code == 302
    assert not grounds.GroundTemplate.select().exists()
    actions = [e.action for e in AuditEvent.for_org(alibaba).where(AuditEvent.action.startswith("ground_template"))]
    assert actions == ["ground_template.created", "ground_template.updated", "ground_template.deleted"]
    # Another platform's template is a 404 on every route.
    theirs = template(desk["world"].org("Shopmart", kind="platform"), "removed")
    assert client.get(f"/queue/grounds/{theirs.id}").status_code == 404
    assert client.post_form(f"/queue/grounds/{theirs.id}/delete").status_code == 404
    assert grounds.GroundTemplate.select().count() == 1
