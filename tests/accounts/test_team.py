"""Org admins manage their own team: invite, add existing accounts, change roles, deactivate."""
import re
from datetime import timedelta

from portal.accounts.models import Invitation, Membership, User
from portal.audit import AuditEvent
from tests.conftest import PASSWORD, page_text

INVITE_LINK = re.compile(r'id="invite-link"[^>]*value="([^"]+)"')


def admin_client(make_client, world, org_name="Microsoft"):
    org = world.org(org_name)
    admin = world.person(org, "admin", email=f"admin@{org.slug}.example")
    client = make_client()
    client.sign_in(admin.email)
    return client, org, admin


def actions_of(org):
    return [e.action for e in AuditEvent.for_org(org).order_by(AuditEvent.seq)]


def test_invitation_link_creates_the_account_and_membership(make_client, world):
    client, org, admin = admin_client(make_client, world)
    response = client.post_form("/team/invite", {"email": "Grace@Microsoft.example", "role": "analyst"})
    assert response.status_code == 201
    link = INVITE_LINK.search(page_text(response)).group(1)
    assert "shown only once" in page_text(response)
    invitation = Invitation.for_org(org).get()
    assert invitation.email == "grace@microsoft.example" and invitation.role == "analyst"
    assert link.split("/invite/")[1] not in invitation.token_hash  # only the hash is stored
    assert link.split("/invite/")[1] not in page_text(client.get("/team"))  # and the link is not shown again

    newcomer = make_client()
    path = "/invite/" + link.split("/invite/")[1]
    assert "Join Microsoft" in page_text(newcomer.get(path))
    weak = newcomer.post_form(path, {"name": "Grace", "password": "short", "confirm": "short"})
    assert weak.status_code == 422 and "at least 12 characters" in page_text(weak)
    mismatch = newcomer.post_form(path, {"name": "Grace", "password": PASSWORD, "confirm": PASSWORD + "x"})
    assert mismatch.status_code == 422 and "The two passwords differ." in page_text(mismatch)
    assert User.get_or_none(User.email == "grace@microsoft.example") is None

    accepted = newcomer.post_form(path, {"name": "Grace Hopper", "password": PASSWORD, "confirm": PASSWORD})
    assert accepted.status_code == 302
    grace = User.get(User.email == "grace@microsoft.example")
    assert grace.name == "Grace Hopper"
    assert Membership.for_org(org).where(Membership.user == grace).get().role == "analyst"
    assert newcomer.get(path).status_code == 404  # single use
    assert newcomer.sign_in("grace@microsoft.example").headers["Location"] == "/"
    assert actions_of(org)[-5:] == ["invitation.created", "user.created", "invitation.accepted",
                                    "membership.created", "session.signed_in"]


def invitation_path(response):
    return "/invite/" + INVITE_LINK.search(page_text(response)).group(1).split("/invite/")[1]


def test_existing_account_accepts_after_signing_in(make_client, world):
    client, org, admin = admin_client(make_client, world)
    other = world.org("Louis Vuitton")
    counsel = world.person(other, "analyst", email="counsel@lawfirm.example")
    response = client.post_form("/team/invite", {"email": "counsel@lawfirm.example", "role": "viewer"})
    new_email = client.post_form("/team/invite", {"email": "nobody@lawfirm.example", "role": "viewer"})
    # The admin sees the same outcome whether or not the address has an account: no oracle, no consent skipped.
    assert response.status_code == new_email.status_code == 201
    assert not Membership.for_org(org).where(Membership.user == counsel).exists()
    path = invitation_path(response)

    stranger = make_client()
    stranger.sign_in(admin.email)
    assert "Sign out, then sign in as counsel@lawfirm.example" in page_text(stranger.get(path))
    assert stranger.post_form(path).status_code == 200
    assert not Membership.for_org(org).where(Membership.user == counsel).exists()

    invitee = make_client()
    assert "Sign in to accept" in page_text(invitee.get(path))
    invitee.post_form("/login", {"email": counsel.email, "password": PASSWORD, "next": path})
    assert "Join Microsoft" in page_text(invitee.get(path))
    accepted = invitee.post_form(path)
    assert accepted.status_code == 302 and accepted.headers["Location"] == "/"
    assert Membership.for_org(org).where(Membership.user == counsel).get().role == "viewer"
    assert "<h1>Microsoft</h1>" in page_text(invitee.get("/"))  # switched to the org just joined
    assert invitee.get(path).status_code == 404
    again = client.post_form("/team/invite", {"email": "counsel@lawfirm.example", "role": "viewer"})
    assert again.status_code == 409 and "already a member" in page_text(again)
    event = AuditEvent.for_org(org).where(AuditEvent.action == "membership.created").order_by(
        AuditEvent.seq.desc()).first()
    assert event.actor_label == "counsel@lawfirm.example"


def test_invite_form_errors_are_shown_and_nothing_is_created(make_client, world):
    client, org, admin = admin_client(make_client, world)
    bad_email = client.post_form("/team/invite", {"email": "not an email", "role": "analyst"})
    assert bad_email.status_code == 422 and "Not a valid email address" in page_text(bad_email)
    bad_role = client.post_form("/team/invite", {"email": "x@microsoft.example", "role": "owner"})
    assert bad_role.status_code == 422
    assert Invitation.for_org(org).count() == 0
    client.post_form("/team/invite", {"email": "x@microsoft.example", "role": "analyst"})
    duplicate = client.post_form("/team/invite", {"email": "x@microsoft.example", "role": "analyst"})
    assert duplicate.status_code == 409 and "pending invitation" in page_text(duplicate)


def test_expired_and_revoked_invitations_do_not_work(make_client, world):
    client, org, admin = admin_client(make_client, world)
    late_path = invitation_path(client.post_form("/team/invite", {"email": "late@microsoft.example",
                                                                  "role": "analyst"}))
    invitation = Invitation.for_org(org).get()
    Invitation.update(expires_at=invitation.created_at - timedelta(seconds=1)).execute()
    assert make_client().get(late_path).status_code == 404

    revoked_path = invitation_path(client.post_form("/team/invite", {"email": "revoked@microsoft.example",
                                                                     "role": "analyst"}))
    pending = Invitation.for_org(org).where(Invitation.email == "revoked@microsoft.example").get()
    assert client.post_form(f"/team/invitations/{pending.id}/revoke").status_code == 302
    assert make_client().get(revoked_path).status_code == 404
    assert "invitation.revoked" in actions_of(org)


def test_change_role_and_deactivate_are_audited(make_client, world):
    client, org, admin = admin_client(make_client, world)
    analyst = world.person(org, "analyst", email="ana@microsoft.example")
    membership = Membership.for_org(org).where(Membership.user == analyst).get()
    assert client.post_form(f"/team/{membership.id}/role", {"role": "admin"}).status_code == 302
    assert Membership.get_by_id(membership.id).role == "admin"
    assert client.post_form(f"/team/{membership.id}/deactivate").status_code == 302
    assert Membership.get_by_id(membership.id).active is False
    assert make_client().sign_in("ana@microsoft.example").status_code == 401
    assert client.post_form(f"/team/{membership.id}/reactivate").status_code == 302
    assert Membership.get_by_id(membership.id).active is True
    events = list(AuditEvent.for_org(org).where(AuditEvent.object_type == "Membership",
                                                 AuditEvent.object_id == str(membership.id))
                  .order_by(AuditEvent.seq))
    assert [e.action for e in events] == ["membership.created", "membership.role_changed",
                                          "membership.deactivated", "membership.reactivated"]
    assert events[1].change_data == {"user": "ana@microsoft.example", "role": {"from": "analyst", "to": "admin"}}
    assert events[1].actor_id == admin.id and events[1].actor_label == admin.email


def test_the_last_admin_cannot_leave_the_org_without_an_admin(make_client, world):
    client, org, admin = admin_client(make_client, world)
    own = Membership.for_org(org).where(Membership.user == admin).get()
    demote = client.post_form(f"/team/{own.id}/role", {"role": "analyst"})
    assert demote.status_code == 422
    assert "at least one active admin" in page_text(demote)
    deactivate = client.post_form(f"/team/{own.id}/deactivate")
    assert deactivate.status_code == 422
    assert Membership.get_by_id(own.id).role == "admin" and Membership.get_by_id(own.id).active


def test_team_page_for_viewers_has_no_management_controls(make_client, world):
    org = world.org("Microsoft")
    world.person(org, "admin")
    viewer = world.person(org, "viewer")
    client = make_client()
    client.sign_in(viewer.email)
    text = page_text(client.get("/team"))
    assert viewer.email in text
    assert "Add a member" not in text and "Deactivate" not in text


def test_change_password_keeps_this_session_and_ends_the_others(make_client, world):
    org = world.org("Microsoft")
    user = world.person(org, "viewer", email="vic@microsoft.example")
    laptop, phone = make_client(), make_client()
    laptop.sign_in(user.email)
    phone.sign_in(user.email)
    wrong = laptop.post_form("/account", {"current_password": "nope nope nope", "password": "a new long passphrase",
                                          "confirm": "a new long passphrase"})
    assert wrong.status_code == 422 and "current password is not correct" in page_text(wrong)
    ok = laptop.post_form("/account", {"current_password": PASSWORD, "password": "a new long passphrase",
                                       "confirm": "a new long passphrase"})
    assert ok.status_code == 302
    assert laptop.get("/").status_code == 200
    assert phone.get("/").status_code == 302
    assert make_client().sign_in(user.email, "a new long passphrase").status_code == 302
    assert "user.password_changed" in actions_of(org)


def test_an_unknown_role_is_refused_with_a_message(make_client, world):
    client, org, admin = admin_client(make_client, world)
    analyst = world.person(org, "analyst")
    membership = Membership.for_org(org).where(Membership.user == analyst).get()
    response = client.post_form(f"/team/{membership.id}/role", {"role": "owner"})
    assert response.status_code == 422
    assert "nothing was changed" in page_text(response)
    assert Membership.get_by_id(membership.id).role == "analyst"
