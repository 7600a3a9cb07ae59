"""The hash-chained audit log: written with every change, verified by `flask audit verify`."""
import json
import threading

import pytest

from portal import audit
from portal.accounts import services
from portal.accounts.models import Organization
from portal.audit import AuditEvent, AuditHead
from portal.db import db
from portal.errors import Conflict


def seed_events(world, count=6):
    for n in range(count):
        world.org(f"Brand {n}")
    return list(AuditEvent.select().order_by(AuditEvent.seq))


def verify(runner):
    result = runner.invoke(args=["audit", "verify"])
    return result.exit_code, json.loads(result.output)


def test_intact_chain_verifies_and_prints_the_count(runner, world):
    events = seed_events(world)
    assert [e.seq for e in events] == [1, 2, 3, 4, 5, 6]
    assert events[0].prev_hash == audit.GENESIS_HASH
    assert all(later.prev_hash == earlier.hash for earlier, later in zip(events, events[1:]))
    code, report = verify(runner)
    assert code == 0
    assert report == {"ok": True, "events": 6, "head_hash": events[-1].hash}


def test_empty_log_verifies(runner):
    assert verify(runner) == (0, {"ok": True, "events": 0, "head_hash": audit.GENESIS_HASH})


@pytest.mark.parametrize("column,value", [
    ("change", '{"name":"Evil Corp"}'),
    ("action", "org.deleted"),
    ("actor_label", "someone-else"),
    ("created_at", "2020-01-01 00:00:00"),
])
def test_an_altered_row_is_named(runner, world, column, value):
    seed_events(world)
    db.execute_sql(f'UPDATE audit_event SET "{column}" = {db.param} WHERE seq = 3', (value,))
    code, report = verify(runner)
    assert code == 1
    assert report["first_bad_seq"] == 3
    assert "altered" in report["problem"]


def test_a_rehashed_row_still_breaks_the_link_to_the_next(runner, world):
    """Someone who alters row 3 and recomputes its hash is caught at row 4."""
    seed_events(world)
    event = AuditEvent.get(AuditEvent.seq == 3)
    event.change = '{"name":"Evil Corp"}'
    event.hash = event.compute_hash()
    AuditEvent.update(change=event.change, hash=event.hash).where(AuditEvent.seq == 3).execute()
    code, report = verify(runner)
    assert code == 1 and report["first_bad_seq"] == 4
    assert "does not link" in report["problem"]


def test_a_deleted_row_is_named(runner, world):
    seed_events(world)
    AuditEvent.delete().where(AuditEvent.seq == 4).execute()
    code, report = verify(runner)
    assert code == 1 and report["first_bad_seq"] == 4
    assert "missing" in report["problem"]


def test_deleting_the_newest_rows_is_detected(runner, world):
    seed_events(world)
    AuditEvent.delete().where(AuditEvent.seq >= 5).execute()
    code, report = verify(runner)
    assert code == 1 and report["first_bad_seq"] == 5
    assert "missing from the end" in report["problem"]


def test_reordered_rows_are_named(runner, world):
    seed_events(world)
    # Swap the sequence numbers of events 2 and 3 (through a temporary number, the column is unique).
    AuditEvent.update(seq=-1).where(AuditEvent.seq == 2).execute()
    AuditEvent.update(seq=2).where(AuditEvent.seq == 3).execute()
    AuditEvent.update(seq=3).where(AuditEvent.seq == -1).execute()
    code, report = verify(runner)
    assert code == 1 and report["first_bad_seq"] == 2


def test_swapped_timestamps_are_detected(runner, world):
    events = seed_events(world)
    first, second = events[1], events[2]
    AuditEvent.update(created_at=second.created_at).where(AuditEvent.seq == first.seq).execute()
    AuditEvent.update(created_at=first.created_at).where(AuditEvent.seq == second.seq).execute()
    code, report = verify(runner)
    assert code == 1 and report["first_bad_seq"] == 2


def test_record_refuses_to_run_outside_a_transaction(world):
    org = world.org("Microsoft")
    with pytest.raises(RuntimeError):
        audit.record("org.touched", org)


def test_a_refused_change_leaves_no_event(world):
    world.org("Microsoft")
    count = AuditEvent.select().count()
    with pytest.raises(Conflict):
        services.create_organization("Microsoft", "brand")
    assert AuditEvent.select().count() == count
    assert AuditHead.get_by_id(1).seq == count


def test_a_rolled_back_transaction_takes_its_event_with_it(world, runner):
    world.org("Microsoft")
    with pytest.raises(ZeroDivisionError):
        with db.atomic():
            org = Organization.create(name="Ghost", slug="ghost", kind="brand")
            audit.record("org.created", org, org)
            1 / 0
    assert not Organization.select().where(Organization.slug == "ghost").exists()
    assert verify(runner)[0] == 0


def test_events_name_org_actor_object_and_change(world):
    with audit.acting_as("cli:ops"):
        org = services.create_organization("Louis Vuitton", "brand", timezone="Europe/Paris")
    event = AuditEvent.for_org(org).get()
    assert (event.action, event.object_type, event.object_id, event.actor_label) == \
        ("org.created", "Organization", str(org.id), "cli:ops")
    assert event.change_data["slug"] == "louis-vuitton"
    assert len(event.hash) == 64 and event.hash == event.compute_hash()


def test_concurrent_writers_keep_one_linear_chain(app, runner):
    """Eight threads, each with its own connection, audit at once; the chain must stay unbroken."""
    errors = []

    def writer(n):
        try:
            with audit.acting_as(f"thread-{n}"):
                for i in range(10):
                    services.create_organization(f"Org {n}-{i}", "brand")
        except Exception as error:  # reported below; a thread cannot fail the test itself
            errors.append(error)
        finally:
            db.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Organization.select().count() == 80
    code, report = verify(runner)
    assert code == 0 and report["events"] == 80


def test_org_admin_sees_their_trail_filtered_and_paged(make_client, world):
    org = world.org("Microsoft")
    admin = world.person(org, "admin")
    for n in range(60):
        world.person(org, "viewer", email=f"v{n}@microsoft.example")
    client = make_client()
    client.sign_in(admin.email)
    first = client.get("/audit").get_data(as_text=True)
    assert "Page 1 of 3" in first
    assert f"<strong>{admin.name}</strong>\n        signed in" in first
    filtered = client.get("/audit?action=user.created").get_data(as_text=True)
    assert "Member added ·" not in filtered.split('id="trail-title"')[1]
    assert "61 events" in filtered  # the admin and 60 viewers
    assert "created the login v59@microsoft.example" in filtered
    last_page = client.get("/audit?page=3").get_data(as_text=True)
    assert "org.created" in last_page
    assert client.get("/audit?page=not-a-number").status_code == 200
