"""The audit trail a legal team reads: each event a sentence with its object linked, long values collapsed
with a count, filters by who, action, object and date (in the org's zone), and the CSV of the same events."""
import csv
import io
from datetime import datetime, timedelta

from portal import audit, trail
from portal.audit import AuditEvent, acting_as
from portal.db import db
from tests.conftest import page_text


def signed_in_admin(make_client, world, timezone="Asia/Shanghai"):
    org = world.org("Louis Vuitton", timezone=timezone)
    admin = world.person(org, "admin")
    client = make_client()
    client.sign_in(admin.email)
    return client, org, admin


def record(org, action, change, label="ana@lv.example", at=None, obj_type="", obj_id=""):
    with acting_as(label), db.atomic():
        audit.record(action, org, None, change, object_type=obj_type, object_id=obj_id)
    event = AuditEvent.for_org(org).order_by(AuditEvent.seq.desc()).get()
    if at is not None:  # the trail is append-only for the portal; the test moves an event in time
        AuditEvent.update(created_at=at).where(AuditEvent.id == event.id).execute()
    return event


def test_every_action_the_portal_records_has_a_human_name(app):
    """Each audit action written in portal/ is worded (a label other than its code), so the filter reads."""
    import re
    from pathlib import Path
    source = "\n".join(p.read_text() for p in Path("portal").rglob("*.py"))
    actions = set(re.findall(r'(?:audit\.record|emit|_record|_announce)\(\s*"([a-z_]+\.[a-z_.]+)"', source))
    assert len(actions) > 40
    unworded = sorted(a for a in actions if a not in trail.WORDINGS)
    assert unworded == []


def test_a_listing_move_reads_as_a_sentence_linking_its_notice(make_client, world, app):
    client, org, _ = signed_in_admin(make_client, world)
    record(org, "notice.item.transitioned", {"notice": "N-000110", "item": 4, "url": "https://x.example/1",
                                             "from": "acknowledged", "to": "removed",
                                             "reason": "Counterfeit goods", "redress": ""},
           obj_type="NoticeItem", obj_id="4")
    response = client.get("/audit?action=notice.item.transitioned")
    html = response.get_data(as_text=True)
    assert '<a href="/notices/110">removed listing 4 of notice N-000110: Counterfeit goods</a>' in html
    assert "<strong>ana@lv.example</strong>" in html and "Listing moved" in html


def test_a_large_change_is_collapsed_with_its_count(make_client, world):
    client, org, _ = signed_in_admin(make_client, world)
    created = [{"id": n, "word": f"MARK {n}"} for n in range(4212)]
    record(org, "marks.imported", {"job": 7, "dry_run": False, "rows": [2, 4213], "created": created, "updated": []})
    html = client.get("/audit?action=marks.imported").get_data(as_text=True)
    assert "wrote rows 2-4,213 of an upload: created 4,212 marks, updated 0 marks" in html
    assert "4,212 items; show" in html and "and 4,012 more" in html
    assert html.count("MARK 1") < 300  # not the 4,212 of them
    assert len(html) < 200_000


def test_filters_by_who_action_object_and_days_in_the_orgs_zone(make_client, world):
    client, org, admin = signed_in_admin(make_client, world, timezone="Asia/Shanghai")
    # 2026-03-01 23:30 in Shanghai is 15:30 UTC the same day; 00:30 on 03-02 there is 16:30 UTC on 03-01.
    late = record(org, "invitation.created", {"email": "a@lv.example", "role": "viewer"}, label="ben@lv.example",
                  at=datetime(2026, 3, 1, 15, 30), obj_type="Invitation", obj_id="1")
    next_day = record(org, "invitation.created", {"email": "b@lv.example", "role": "viewer"},
                      at=datetime(2026, 3, 1, 16, 30), obj_type="Invitation", obj_id="2")
    seqs = lambda query: [int(s) for s in __import__("re").findall(r"· #(\d+)</span>", client.get(  # noqa: E731
        f"/audit?{query}").get_data(as_text=True))]
    assert seqs("from=2026-03-01&to=2026-03-01") == [late.seq]
    assert seqs("from=2026-03-02&to=2026-03-02") == [next_day.seq]
    assert seqs("who=ben@lv.example") == [late.seq]
    assert seqs("object_type=Invitation&object_id=2") == [next_day.seq]
    assert seqs("action=invitation.created&from=2026-03-01") == [next_day.seq, late.seq]
    page = page_text(client.get("/audit"))
    assert "Invitation sent" in page  # the action's human name in the filter


def test_the_csv_holds_the_filtered_events_in_words_and_whole(make_client, world):
    client, org, admin = signed_in_admin(make_client, world, timezone="Europe/Paris")
    created = [{"id": n} for n in range(30)]
    record(org, "marks.imported", {"job": 3, "dry_run": False, "rows": [2, 31], "created": created, "updated": []},
           at=datetime(2026, 7, 1, 10, 0))
    record(org, "invitation.created", {"email": "c@lv.example", "role": "analyst"}, at=datetime(2026, 7, 2, 10, 0))
    response = client.get("/audit.csv?from=2026-07-01&to=2026-07-01")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    header, body = rows[0], rows[1:]
    assert len(body) == 1
    line = dict(zip(header, body[0]))
    assert line["time"] == "2026-07-01T12:00:00+0200" and line["time_utc"] == "2026-07-01T10:00:00Z"
    assert line["action_name"] == "Marks written by an upload"
    assert line["sentence"] == "ana@lv.example wrote rows 2-31 of an upload: created 30 marks, updated 0 marks"
    assert len(__import__("json").loads(line["change"])["created"]) == 30  # the event whole
    assert client.get("/audit.csv?from=soon").status_code == 422


def test_an_event_of_an_unknown_or_old_shape_still_reads(app, world):
    org = world.org("Swarovski")
    odd = record(org, "notice.item.transitioned", {"unexpected": True})  # an older shape
    unknown = record(org, "something.new_happened", {"x": 1}, obj_type="Thing", obj_id="9")
    with app.test_request_context():
        assert trail.describe(odd).sentence == "listing moved"
        assert trail.describe(unknown).sentence == "something new happened: Thing 9"
        assert trail.label_of("something.new_happened") == "Something new happened"


def test_the_trail_and_its_csv_are_for_admins_of_the_org_only(make_client, world):
    client, org, _ = signed_in_admin(make_client, world)
    record(org, "invitation.created", {"email": "secret-hire@lv.example", "role": "admin"})
    other = world.org("Swarovski")
    other_admin = world.person(other, "admin")
    outsider = make_client()
    outsider.sign_in(other_admin.email)
    assert "secret-hire" not in outsider.get("/audit.csv").get_data(as_text=True)
    assert "secret-hire" not in outsider.get("/audit").get_data(as_text=True)
    analyst = make_client()
    analyst.sign_in(world.person(org, "analyst").email)
    assert analyst.get("/audit.csv").status_code == 403
    assert (datetime.utcnow() - timedelta(minutes=5)) < AuditEvent.for_org(org).order_by(
        AuditEvent.seq.desc()).get().created_at
