"""A seller the viewer may see nothing of looks exactly like one nobody knows (issue 18, part 5).

`seller_profile` used to look the seller up, read the viewer's listings, flags, sightings and strikes of
it, and only then answer 404: a seller known only through another org's TLP:RED flag took about 2 ms
longer than an unknown one, which told the viewer that someone had flagged it. Now one statement decides
visibility before any other work, so every hidden seller runs the very statements an unknown one runs
(same SQL text, same count) and gets the same 404 body, from the API and from the page.
"""
import logging
import re

import pytest

from portal.errors import NotFound
from portal.intel.services import seller_profile
from portal.notices.models import NoticeItem
from tests.conftest import count_queries
from tests.platform.test_api import client_token
from tests.intel.test_intel_api import INTEL, bearer, remove

PROFILE = "/api/v1/intel/sellers/{}/{}"
CSRF_VALUE = re.compile(rb'(name="csrf_token"[^>]*value=")[^"]+')


def statements(call):
    """The SQL text (parameters apart) of every statement peewee ran during call(), and its result or
    the exception it raised."""
    seen = []

    class Recorder(logging.Handler):
        def emit(self, record):
            seen.append(record.msg[0] if isinstance(record.msg, tuple) else str(record.msg))

    logger, recorder = logging.getLogger("peewee"), Recorder()
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(recorder)
    try:
        try:
            outcome = call()
        except NotFound as error:
            outcome = error
        return seen, outcome
    finally:
        logger.removeHandler(recorder)
        logger.setLevel(level)


@pytest.fixture
def sellers(app, client, world):
    """Alibaba runs Taobao; Louis Vuitton and Swarovski partner with it, Microsoft does not. Louis Vuitton
    keeps TLP:RED flags (one to itself, one to a group with Alibaba) and a notice whose removal gave a
    strike; Swarovski, the viewer, may see none of them. Alongside: sellers Swarovski may see, each by
    one way in (an alliance flag, its own notice's listing, a strike on a marketplace it partners on)."""
    alibaba = world.org("Alibaba", kind="platform")
    world.marketplace(alibaba, "Taobao")
    lv, swarovski, microsoft = world.org("Louis Vuitton"), world.org("Swarovski"), world.org("Microsoft")
    lv_partnership = world.partnership(lv, alibaba)
    swarovski_partnership = world.partnership(swarovski, alibaba)
    world.flag(lv, "red-own", "taobao", tlp="red", distribution="own", display_name="Secret One")
    world.flag(lv, "red-group", "taobao", tlp="red", distribution="group", share_with=[alibaba],
               display_name="Secret Two")
    world.flag(lv, "struck", "taobao", tlp="red", distribution="own")
    filed = world.notice(lv, lv_partnership, [("https://item.taobao.com/item.htm?id=1", "struck"),
                                              ("https://item.taobao.com/item.htm?id=2", "listed-by-lv")])
    remove(app, NoticeItem.get((NoticeItem.notice == filed.notice) & (NoticeItem.seller_id == "struck")),
           alibaba)
    world.flag(lv, "open", "taobao", tlp="green", distribution="alliance", display_name="Open Shop")
    world.notice(swarovski, swarovski_partnership, [("https://item.taobao.com/item.htm?id=3", "listed-by-us")])
    return {"swarovski": swarovski, "microsoft": microsoft,
            "token": client_token(client, swarovski, INTEL), "microsoft_token": client_token(client, microsoft, INTEL)}


UNKNOWN = [("taobao", "never-heard-of"), ("nowhere", "red-own")]
HIDDEN = [
    ("taobao", "red-own"),        # known only through another org's TLP:RED flag kept to itself
    ("taobao", "red-group"),      # ... and through one shared with a group the viewer is not in
    ("taobao", "listed-by-lv"),   # in another brand's notice only (no flag at all)
]
VISIBLE = [("taobao", "open"), ("taobao", "listed-by-us"), ("taobao", "struck")]


def test_hidden_sellers_run_the_statements_of_an_unknown_one(app, sellers):
    viewer = sellers["swarovski"]
    with app.app_context():
        baseline, outcome = statements(lambda: seller_profile(viewer, "taobao", "never-heard-of"))
        assert isinstance(outcome, NotFound)
        assert len(baseline) == 1, baseline  # visibility is decided by one statement, before anything else
        for marketplace, seller in UNKNOWN + HIDDEN:
            seen, outcome = statements(lambda: seller_profile(viewer, marketplace, seller))
            assert isinstance(outcome, NotFound), (marketplace, seller)
            assert seen == baseline, (marketplace, seller)
        for marketplace, seller in VISIBLE:
            seen, outcome = statements(lambda: seller_profile(viewer, marketplace, seller))
            assert not isinstance(outcome, NotFound), seller
            assert seen[0] == baseline[0]  # the same first statement decides that it is visible


def test_a_seller_with_strikes_the_viewer_may_not_see_looks_unknown(app, sellers):
    """Microsoft has no partnership on Taobao: the strike of `struck` is not its to see, nor is the RED flag."""
    viewer = sellers["microsoft"]
    with app.app_context():
        baseline, _ = statements(lambda: seller_profile(viewer, "taobao", "never-heard-of"))
        seen, outcome = statements(lambda: seller_profile(viewer, "taobao", "struck"))
        assert isinstance(outcome, NotFound) and seen == baseline


def test_the_api_answers_hidden_and_unknown_sellers_alike(client, sellers):
    headers = bearer(sellers["token"])
    client.get("/api/v1/me", headers=headers)  # the client's last use is recorded once a minute: done now

    def answer(marketplace, seller):
        return count_queries(lambda: client.get(PROFILE.format(marketplace, seller), headers=headers))

    unknown, unknown_count = answer("taobao", "never-heard-of")
    assert unknown.status_code == 404
    for marketplace, seller in UNKNOWN + HIDDEN:
        response, count = answer(marketplace, seller)
        assert (response.status_code, response.get_data(), count) == (404, unknown.get_data(), unknown_count), \
            seller
        assert response.headers.get("Content-Type") == unknown.headers.get("Content-Type")
    for marketplace, seller in VISIBLE:
        assert answer(marketplace, seller)[0].status_code == 200, seller


def test_the_page_answers_hidden_and_unknown_sellers_alike(make_client, world, sellers):
    browser = make_client()
    browser.sign_in(world.person(sellers["swarovski"], "viewer").email)
    path = "/intel/sellers/{}/{}"
    browser.get(path.format("taobao", "never-heard-of"))  # the session's first use is behind us

    def answer(marketplace, seller):
        response, count = count_queries(lambda: browser.get(path.format(marketplace, seller)))
        # The form tokens are signed with the time: equal pages may differ there from one second to the next.
        return response.status_code, CSRF_VALUE.sub(rb"\1(token)", response.get_data()), count

    unknown = answer("taobao", "never-heard-of")
    assert unknown[0] == 404
    for marketplace, seller in HIDDEN:
        assert answer(marketplace, seller) == unknown, seller
    assert answer("taobao", "open")[0] == 200
