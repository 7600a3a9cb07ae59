"""Issue 19: the hot page queries are PreparedSelects (SQL built once per process, run with new values).
A prepared query must give exactly what the same peewee query built with the values gives, for every org
of either kind (so it stays scoped to its org), and the merged dashboard counts the numbers the separate
counts gave."""
from datetime import timedelta

import pytest
from peewee import fn

from portal.accounts.models import Invitation, Membership, Organization
from portal.audit import acting_as
from portal.dashboard import views as dashboard
from portal.db import PreparedSelect
from portal.intel import sharing
from portal.intel.models import Flag, Seller, Sighting
from portal.intel.services import summary as intel_summary
from portal.marks.models import Mark
from portal.marks.services import search, summary as marks_summary, visible_marks
from portal.notices import goodfaith
from portal.notices.models import OPEN_STATES, Notice, NoticeItem
from portal.notices.services import summary as notices_summary, visible_items
from portal.partnerships.models import Partnership
from portal.partnerships.services import partnerships_of, with_sides
from portal.reports import figures
from portal.reports.weeks import week_of
from portal.timeutil import local_today, utcnow


def test_a_prepared_select_runs_its_sql_with_each_execution_values(world, app):
    with app.app_context():
        brand, other = world.org("Louis Vuitton"), world.org("Swarovski")
        platform = world.org("Alibaba", kind="platform")
        world.marketplace(platform, "Taobao")
        world.mark(brand, word="ONE", number="1000001")
        world.mark(brand, word="TWO", number="1000002")
        world.mark(other, word="THREE", number="1000003")
        built = []

        def build(org_id, word):
            built.append(org_id)
            return Mark.for_org(org_id).where(Mark.word != word).order_by(Mark.word)

        marks = PreparedSelect(build, arity=2)
        assert [m.word for m in marks.rows(brand.id, "ONE")] == ["TWO"]
        assert [m.word for m in marks.rows(brand.id, "")] == ["ONE", "TWO"]
        assert [m.word for m in marks.rows(other.id, "")] == ["THREE"]  # each org its own rows
        assert marks.rows(platform.id, "") == []
        assert len(built) == 1  # compiled once
        counted = PreparedSelect(lambda org_id: Mark.select(fn.COUNT(Mark.id)).where(Mark.org == org_id))
        assert counted.scalar(brand.id) == 2 and counted.scalar(other.id) == 1
        assert PreparedSelect(lambda org_id: Mark.for_org(org_id).tuples()).first(platform.id) is None
        # A shape chooses the text; a list of n ids takes n placeholders.
        listed = PreparedSelect(lambda n, *ids: Organization.select(Organization.slug).where(
            Organization.id.in_(list(ids))).order_by(Organization.slug).tuples(), arity=lambda n: n, shaped=True)
        assert listed.rows(brand.id, shape=1) == [(brand.slug,)]
        assert listed.rows(brand.id, other.id, shape=2) == sorted([(brand.slug,), (other.slug,)])
        with pytest.raises(AssertionError):
            listed.rows(brand.id, shape=2)


def test_a_placeholder_a_column_would_convert_is_refused(app):
    with app.app_context():
        refused = PreparedSelect(lambda value: Membership.select().where(Membership.active == value))
        with pytest.raises(AssertionError):
            refused.rows(True)


def same(prepared, params, shape=None):
    """The prepared query's rows and those of the same query built with the values, as tuples."""
    query = prepared.build(shape, *params) if prepared.shaped else prepared.build(*params)
    expected = [tuple(row) for row in query.tuples()]
    got = prepared.tuples(*params, shape=shape)
    assert sorted(got, key=repr) == sorted(expected, key=repr), prepared
    return got


@pytest.fixture
def demo(app, monkeypatch):
    from portal.demo import seed_demo
    from portal.reports.services import snapshot_closed_weeks

    monkeypatch.setenv("DEMO_PASSWORD", "prepared queries demo password")
    with app.app_context(), acting_as("demo"):
        seed_demo()
        snapshot_closed_weeks()
    return app


def test_prepared_page_queries_give_what_the_built_queries_give_for_every_org(demo):
    now = utcnow()
    with demo.app_context():
        orgs = list(Organization.select().order_by(Organization.id))
        assert {org.kind for org in orgs} == {"brand", "platform"}
        for org in orgs:
            week = week_of(now, org.timezone)
            start, end = week.bounds(org.timezone)
            for prepared, params in ((figures.FILED, (start, end)), (figures.MOVED, (start, end)),
                                     (figures.PENDING_UNCHANGED, (now,)), (figures.PENDING_CHANGED, (now,)),
                                     (figures.CLOCKS_COMPLETED, (start, end)), (figures.CLOCKS_BREACHED, (start, now)),
                                     (figures.TOP, (start - timedelta(days=84), end))):
                same(prepared, (org.id, *params), org.kind)
            for name in figures.INTEL_FIGURES:
                same(figures.INTEL, (org.id, start - timedelta(days=84), end), (org.kind, name))
            ids = [p.id for p in partnerships_of(org)] or [0]
            same(figures.PARTNERSHIPS, (org.id, end, *ids), (org.kind, len(ids)))
            same(dashboard.TEAM, (org.id, now))
            same(dashboard.RECENT, (org.id,))
            same(dashboard.MARKETPLACES, (org.id,))
            same(dashboard.ACTIVE_PARTNERSHIPS, (org.id,))
            # Scoped: what the dashboard lists is the org's own.
            assert all(event.org_id == org.id for event in dashboard.RECENT.rows(org.id))
            assert all(org.id in (p.brand_id, p.platform_id) for p in dashboard.ACTIVE_PARTNERSHIPS.rows(org.id))
            assert [p.id for p in dashboard.ACTIVE_PARTNERSHIPS.rows(org.id)] == [
                p.id for p in with_sides(partnerships_of(org)).where(Partnership.status == "active")
                .order_by(Partnership.id)]


def test_merged_dashboard_counts_equal_the_separate_counts(demo):
    now = utcnow()
    with demo.app_context():
        checked = 0
        for org in Organization.select().order_by(Organization.id):
            team, invitations = dashboard.TEAM.first(org.id, now)
            assert team == Membership.for_org(org).where(Membership.active == True).count()  # noqa: E712
            assert invitations == Invitation.pending_for_org(org).count()

            marks = marks_summary(org)
            counts = dict.fromkeys(("pending", "verified", "rejected", "expired"), 0)
            for status, n in visible_marks(org).select(Mark.status, fn.COUNT(Mark.id)).group_by(Mark.status).tuples():
                counts[status] = n
            assert marks == {"by_status": counts, "total": sum(counts.values()),
                             "expiring": search(org, expiring=True, today=local_today(org.timezone)).count()}

            notices = notices_summary(org, now)
            items = visible_items(org)
            by_state = dict(items.select(NoticeItem.state, fn.COUNT(NoticeItem.id)).group_by(NoticeItem.state).tuples())
            open_items = visible_items(org).where(NoticeItem.state.in_(OPEN_STATES))
            assert notices == {
                "by_state": by_state, "open": sum(by_state.get(s, 0) for s in OPEN_STATES),
                "breached_open": open_items.where(NoticeItem.breached == True).count(),  # noqa: E712
                "due_soon": open_items.where((NoticeItem.due_at <= now + timedelta(hours=24))
                                             & (NoticeItem.breached == False)).count()}  # noqa: E712

            visible = sharing.visible_flags(org).where(Flag.status == "active")
            assert intel_summary(org, now) == {
                "mine": visible.where(Flag.org == org).count(),
                "received": visible.where(Flag.org != org).count(),
                "sightings_week": sharing.visible_sightings(org).where(
                    (Flag.org == org) & (Sighting.created_at >= now - timedelta(days=7))).count(),
                "repeat_infringers": Seller.select().where(
                    Seller.repeat_infringer_at.is_null(False)
                    & Seller.marketplace.in_(sharing.strike_marketplaces(org))).count()}
            checked += bool(notices["by_state"]) + bool(marks["total"])
        assert checked  # the demo has notices and marks to count


def test_goodfaith_scores_in_one_query_count_as_the_two_did(demo):
    now = utcnow()
    with demo.app_context():
        partnerships = list(Partnership.select().order_by(Partnership.id))
        assert partnerships
        for until_exclusive in (False, True):
            got = {p.id: s for p, s in goodfaith.scores(partnerships, now, until_exclusive)}
            since = now - timedelta(days=goodfaith.WINDOW_DAYS)
            for p in partnerships:
                items = NoticeItem.select().join(Notice, on=(NoticeItem.notice == Notice.id)).where(
                    (Notice.partnership == p.id) & (NoticeItem.brand == p.brand_id))

                def counted(column, moment, value):
                    upper = (moment < now) if until_exclusive else (moment <= now)
                    return items.where((column == value) & (moment >= since) & upper).count()
                assert got[p.id].removed == counted(NoticeItem.decision, NoticeItem.decided_at, "removed")
                assert got[p.id].rejected == counted(NoticeItem.decision, NoticeItem.decided_at, "rejected")
                assert got[p.id].counter_reinstated == counted(NoticeItem.counter_outcome, NoticeItem.counter_decided_at,
                                                               "reinstated")
                assert got[p.id].counter_upheld == counted(NoticeItem.counter_outcome, NoticeItem.counter_decided_at,
                                                           "upheld")
        assert any(s.decided for _, s in goodfaith.scores(partnerships, now))  # the demo has decisions
