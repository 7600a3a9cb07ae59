"""What waits for a brand: the dashboard card and the notices filter "waiting for you" (information requested,
counter-notices, rejections of the last 14 days), the platform's question in the listing's row, and the answer
with evidence files, kept together with the move or not at all."""
import io
import re
from datetime import timedelta

import pytest

from portal.notices.models import Evidence, NoticeItem
from portal.notices import services
from portal.audit import acting_as
from tests.conftest import page_text


def words(response):
    """The page as a reader reads it: tags out, spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page_text(response)))

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@pytest.fixture
def waiting(world, make_client):
    alibaba = world.org("Alibaba", kind="platform")
    world.marketplace(alibaba, "Taobao", "CN")
    lv = world.org("Louis Vuitton")
    partnership = world.partnership(lv, alibaba, always_open=True, effective_from="2020-01-01")
    asked = world.notice(lv, partnership, ["https://item.taobao.com/item.htm?id=1"]).notice
    countered = world.notice(lv, partnership, ["https://item.taobao.com/item.htm?id=2"]).notice
    rejected = world.notice(lv, partnership, ["https://item.taobao.com/item.htm?id=3"]).notice
    quiet = world.notice(lv, partnership, ["https://item.taobao.com/item.htm?id=4"]).notice
    item = lambda notice: NoticeItem.get(NoticeItem.notice == notice)  # noqa: E731
    with acting_as("test"):
        services.transition(item(asked), alibaba, "info_requested", "Send the registration certificate, please.")
        services.transition(item(countered), alibaba, "removed", "Counterfeit, per the test buy.")
        services.transition(item(countered), alibaba, "counter_noticed", "The seller says the goods are genuine.")
        services.transition(item(rejected), alibaba, "rejected", "The listing does not use the mark.")
    brand = make_client()
    brand.sign_in(world.person(lv, "analyst").email)
    return {"brand": brand, "lv": lv, "notices": {"asked": asked, "countered": countered, "rejected": rejected,
                                                   "quiet": quiet}, "item": item}


def test_the_dashboard_and_the_list_say_what_waits_for_the_brand(waiting):
    brand, notices = waiting["brand"], waiting["notices"]
    text = words(brand.get("/"))
    assert "Waiting for you: 3" in text
    assert "Information requested 1" in text and "Counter-notices 1" in text and "Rejections to review (14 days) 1" in text
    listed = page_text(brand.get("/notices?waiting=1"))
    for name in ("asked", "countered", "rejected"):
        assert notices[name].reference in listed
    assert notices["quiet"].reference not in listed and "3 notices" in listed
    # A rejection older than two weeks no longer waits.
    item = waiting["item"](notices["rejected"])
    NoticeItem.update(decided_at=item.decided_at - timedelta(days=15)).where(NoticeItem.id == item.id).execute()
    assert notices["rejected"].reference not in page_text(brand.get("/notices?waiting=1"))
    assert "Waiting for you: 2" in words(brand.get("/"))


def test_the_question_stands_in_the_listing_row_and_the_answer_takes_files(waiting):
    brand, notice = waiting["brand"], waiting["notices"]["asked"]
    item = waiting["item"](notice)
    page = words(brand.get(f"/notices/{notice.id}"))
    assert "Alibaba asks: Send the registration certificate, please." in page
    answered = brand.post(f"/notices/{notice.id}/items/{item.id}/transition", data={
        "csrf_token": brand.csrf_token(), "to": "acknowledged", "reason": "Certificate attached.",
        "files": [(io.BytesIO(PDF), "certificate.pdf")]}, content_type="multipart/form-data")
    assert answered.status_code == 302
    assert NoticeItem.get_by_id(item.id).state == "acknowledged"
    assert [e.name for e in Evidence.select().where(Evidence.notice == notice)] == ["certificate.pdf"]


def test_a_refused_answer_keeps_nothing_and_shows_the_input_beside_the_listing(waiting):
    brand, notice = waiting["brand"], waiting["notices"]["asked"]
    item = waiting["item"](notice)
    refused = brand.post(f"/notices/{notice.id}/items/{item.id}/transition", data={
        "csrf_token": brand.csrf_token(), "to": "acknowledged", "reason": "Here is a file.",
        "files": [(io.BytesIO(b"MZ not a pdf"), "certificate.exe")]}, content_type="multipart/form-data")
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "Not changed:" in html and ">Here is a file.</textarea>" in html
    assert NoticeItem.get_by_id(item.id).state == "info_requested"
    assert not Evidence.select().where(Evidence.notice == notice).exists()
    # No answer text: refused too, the file not kept.
    refused = brand.post(f"/notices/{notice.id}/items/{item.id}/transition", data={
        "csrf_token": brand.csrf_token(), "to": "acknowledged", "reason": "",
        "files": [(io.BytesIO(PDF), "certificate.pdf")]}, content_type="multipart/form-data")
    assert refused.status_code == 422 and not Evidence.select().where(Evidence.notice == notice).exists()
    # Nothing chosen: no move is ever pre-selected, so nothing happens.
    html = brand.get(f"/notices/{notice.id}").get_data(as_text=True)
    assert f'<select id="to-{item.id}" name="to"><option value="">Choose…</option>' in html
    none = brand.post_form(f"/notices/{notice.id}/items/{item.id}/transition", {"to": "", "reason": "x"})
    assert none.status_code == 422 and NoticeItem.get_by_id(item.id).state == "info_requested"
