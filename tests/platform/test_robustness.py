"""Bad input gets a clear 4xx and loses nothing; simultaneous requests cannot break a business rule."""
import threading

import pytest

from portal import audit
from portal.accounts import services
from portal.accounts.models import Invitation, Membership, User
from portal.db import db
from portal.errors import NotFound, ServiceError
from tests.conftest import PASSWORD, page_text


@pytest.mark.parametrize("path", [
    "/team/99999999999999999999999/role", "/team/9223372036854775808/deactivate",
    "/team/invitations/99999999999999999999999/revoke", "/team/0/role",
])
def test_ids_no_row_can_have_are_404(admin, path):
    client, org = admin
    assert client.post_form(path, {"role": "viewer"}).status_code == 404


@pytest.mark.parametrize("query, status", [("page=99999999999999999999999", 200), ("page=-5", 200),
                                           ("page=abc", 200), ("action=no.such.action", 200),
                                           ("action=" + "x" * 5000, 422), ("from=yesterday", 422),
                                           ("from=2026-12-08&to=2026-12-01", 422), ("to=9999-12-31", 200),
                                           ("from=0001-01-01", 200)])
def test_odd_audit_queries_still_show_the_page(admin, query, status):
    client, org = admin
    response = client.get(f"/audit?{query}")
    assert response.status_code == status
    text = page_text(response)
    assert "Audit trail of Microsoft" in text
    if status == 422:
        assert "could not be used" in text


def test_nul_characters_are_refused_up_front_naming_the_field(admin, make_client):
    client, org = admin
    query = client.get("/audit?action=%00x")
    assert query.status_code == 422 and "action: Text containing NUL" in page_text(query)
    invited = client.post_form("/team/invite", {"email": "nul\x00@microsoft.example", "role": "analyst"})
    assert invited.status_code == 422
    assert "email: Text containing NUL characters is not accepted." in page_text(invited)
    assert Invitation.for_org(org).count() == 0


@pytest.mark.parametrize("path", ["/api/v1/notices/1/evidence", "/marks/imports", "/login"])
def test_a_multipart_part_without_a_usable_name_is_no_500(client, path):
    # Found by schemathesis: a part named "\n" reached the NUL check as None.
    body = b'--b\r\nContent-Disposition: form-data; name="\n"\r\n\r\nnull\r\n--b--\r\n'
    response = client.post(path, data=body, headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert 400 <= response.status_code < 500


def test_very_long_values_are_refused_with_messages(admin):
    client, org = admin
    response = client.post_form("/team/invite", {"email": "a" * 300 + "@microsoft.example", "role": "analyst"})
    assert response.status_code == 422
    assert Invitation.for_org(org).count() == 0
    login = client.post_form("/login", {"email": "x@example.com", "password": "p" * 10_000})
    assert login.status_code in (302, 422)  # already signed in users are sent on; never a 500


def test_concurrent_demotions_keep_one_admin(world):
    """Two admins demote each other at the same moment: one wins, the org keeps an admin."""
    org = world.org("Microsoft")
    first, second = world.person(org, "admin", email="one@microsoft.example"), world.person(
        org, "admin", email="two@microsoft.example")
    memberships = [Membership.for_org(org).where(Membership.user == u).get() for u in (first, second)]
    outcomes, barrier = [], threading.Barrier(2)

    def demote(membership):
        barrier.wait()
        try:
            with audit.acting_as("race"):
                services.change_role(membership, "analyst")
            outcomes.append("demoted")
        except ServiceError as error:
            outcomes.append(error.message)
        finally:
            db.close()

    threads = [threading.Thread(target=demote, args=(m,)) for m in memberships]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["An organization must keep at least one active admin.", "demoted"]
    assert services.active_admin_count(org) == 1


def test_an_invitation_is_accepted_once_under_double_clicks(world):
    org = world.org("Microsoft")
    invitation, token = services.invite_member(org, "grace@microsoft.example", "analyst")
    outcomes, barrier = [], threading.Barrier(4)

    def accept():
        barrier.wait()
        try:
            services.accept_invitation(token, "Grace", PASSWORD)
            outcomes.append("accepted")
        except (ServiceError, NotFound):
            outcomes.append("refused")
        finally:
            db.close()

    threads = [threading.Thread(target=accept) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["accepted", "refused", "refused", "refused"]
    assert User.select().where(User.email == "grace@microsoft.example").count() == 1
    assert Membership.for_org(org).count() == 1


def test_verify_never_raises_a_false_alarm_while_the_portal_writes(runner, world):
    org = world.org("Microsoft")
    stop = threading.Event()

    def keep_writing():
        n = 0
        while not stop.is_set():
            with audit.acting_as("writer"):
                services.invite_member(org, f"person{n}@microsoft.example", "viewer")
            n += 1
        db.close()

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        results = [runner.invoke(args=["audit", "verify"]) for _ in range(25)]
    finally:
        stop.set()
        writer.join()
    assert [r.exit_code for r in results] == [0] * 25, [r.output for r in results if r.exit_code]


def test_rows_beyond_the_chain_head_are_reported(runner, world):
    world.org("Microsoft")
    last = audit.AuditEvent.select().order_by(audit.AuditEvent.seq.desc()).first()
    forged = audit.AuditEvent(seq=last.seq + 1, org=last.org_id, actor_label="forger", action="org.created",
                              prev_hash=last.hash, change="{}", created_at=last.created_at)
    forged.hash = forged.compute_hash()
    forged.save(force_insert=True)
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f'"first_bad_seq": {last.seq + 1}' in result.output
