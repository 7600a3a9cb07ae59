"""Notifications (issue 20): the inbox per member, settings per kind, and e-mail sent by the worker to a real
SMTP server on loopback (aiosmtpd, tests/notifications/conftest.py): immediate and digest, retries with
backoff, STARTTLS and AUTH, no intelligence the recipient may no longer see, a signed unsubscribe link."""
import re
from datetime import datetime, timedelta

import pytest

from portal.audit import AuditEvent, acting_as
from portal.intel import services as intel
from portal.notices import services as notices
from portal.notices.models import NoticeItem
from portal.notifications import mailer, services
from portal.notifications.models import Notification, NotificationPreference, OutboundEmail
from portal.timeutil import utcnow
from tests.conftest import page_text

BASE = "https://portal.alliance.example"


class Setup:
    pass


@pytest.fixture
def setup(app, world):
    s = Setup()
    s.app, s.world = app, world
    s.brand = world.org("Microsoft", timezone="Asia/Tokyo")
    s.platform = world.org("Alibaba", kind="platform")
    s.third = world.org("Swarovski")
    s.people = {}
    for org in (s.brand, s.platform, s.third):
        for role in ("admin", "analyst", "viewer"):
            s.people[(org.slug, role)] = world.person(org, role)
    s.partnership = world.partnership(s.brand, s.platform)
    s.notice = world.notice(s.brand, s.partnership, ["https://item.taobao.com/item.htm?id=1",
                                                     "https://item.taobao.com/item.htm?id=2"]).notice
    s.items = list(NoticeItem.select().where(NoticeItem.notice == s.notice).order_by(NoticeItem.id))
    return s


def move(setup, item, to, org=None, reason="Please send the test-buy receipt."):
    with setup.app.app_context(), acting_as("test"):
        return notices.transition(item, org or setup.platform, to, reason=reason)


def run_mailer(app, now=None):
    with app.app_context(), acting_as("worker"):
        return mailer.send_due(now=now)


def signed_in(make_client, user):
    client = make_client()
    client.sign_in(user.email)
    return client


def brand_admin(setup):
    return setup.people[(setup.brand.slug, "admin")]


# --- the inbox -------------------------------------------------------------------------------------------

def test_an_information_request_reaches_every_brand_member_and_not_the_platform(setup, make_client):
    move(setup, setup.items[0], "info_requested")
    told = Notification.select().where(Notification.kind == "notice.info_requested")
    assert {n.user_id for n in told} == {p.id for (slug, _), p in setup.people.items() if slug == setup.brand.slug}
    assert {n.org_id for n in told} == {setup.brand.id}
    # The platform moved it: its people are not told of their own move (acknowledged, then info requested).
    assert {n.kind for n in Notification.select().where(Notification.org == setup.platform.id)} == {"notice.filed"}
    title = told.first().title
    assert title == f"Alibaba asked for information on listing {setup.items[0].id} of notice {setup.notice.reference}"


def test_the_inbox_counts_and_clears(setup, make_client):
    move(setup, setup.items[0], "info_requested")
    move(setup, setup.items[1], "info_requested")
    viewer = setup.people[(setup.brand.slug, "viewer")]
    client = signed_in(make_client, viewer)
    dashboard = page_text(client.get("/"))
    assert re.search(r"Notifications <span class=\"badge badge-count\" data-unread=\"2\">2", dashboard)
    inbox = page_text(client.get("/notifications"))
    assert "2 unread" in inbox and "asked for information on listing" in inbox
    first = Notification.select().where(Notification.user == viewer.id).order_by(Notification.id).first()
    # Opening one goes to its notice and marks it read.
    response = client.get(f"/notifications/{first.id}")
    assert response.status_code == 302 and response.headers["Location"] == f"/notices/{setup.notice.id}"
    assert 'data-unread="1"' in page_text(client.get("/notifications"))
    # A viewer changes nothing of the org, but marks their own notifications read.
    assert client.post_form("/notifications/read-all").status_code == 302
    page = page_text(client.get("/notifications"))
    assert "data-unread" not in page and "0 unread" in page
    # Only the viewer's: the admin's are still unread.
    assert services.unread_count(setup.brand, brand_admin(setup)) == 2


def test_mark_one_read_and_another_members_or_orgs_notification_is_404(setup, make_client):
    move(setup, setup.items[0], "info_requested")
    admin, analyst = brand_admin(setup), setup.people[(setup.brand.slug, "analyst")]
    own = Notification.get(Notification.user == admin.id)
    colleagues = Notification.get(Notification.user == analyst.id)
    client = signed_in(make_client, admin)
    assert client.get(f"/notifications/{colleagues.id}").status_code == 404
    assert client.post_form(f"/notifications/{colleagues.id}/read").status_code == 404
    assert client.get("/notifications/not-a-number").status_code == 404
    assert Notification.get_by_id(colleagues.id).read_at is None
    assert client.post_form(f"/notifications/{own.id}/read").status_code == 302
    assert Notification.get_by_id(own.id).read_at is not None
    # Another org's notification, to a member of both orgs: 404 while acting for the other org.
    with setup.app.app_context(), acting_as("test"):
        from portal.accounts.services import add_member
        add_member(setup.third, admin.email, "admin")
    other = Notification.create(org=setup.third, user=admin, kind="sla.breached", event="sla.breached",
                                title="A Swarovski deadline passed")
    assert client.get(f"/notifications/{other.id}").status_code == 404
    assert client.post_form(f"/notifications/{other.id}/read").status_code == 404
    assert "Swarovski deadline" not in page_text(client.get("/notifications"))


def test_settings_page_refuses_bad_input_with_422_and_keeps_what_was_typed(setup, make_client):
    admin = brand_admin(setup)
    client = signed_in(make_client, admin)
    page = page_text(client.get("/notifications/settings"))
    assert "A platform asked for information on a listing" in page and "08:00 Asia/Tokyo" in page
    assert "A brand filed a notice with you" not in page  # a platform's kind
    form = {kind: "inbox" for kind in services.kinds_for("brand")}
    form["sla.breached"] = "immediate"
    form["notice.info_requested"] = "every hour"  # not a choice
    before = AuditEvent.select().count()
    response = client.post_form("/notifications/settings", form)
    assert response.status_code == 422
    text = page_text(response)
    assert "nothing was saved" in text and 'aria-invalid="true"' in text
    # What was typed is still there: the good choice selected, the bad one shown as it was sent.
    assert re.search(r'name="sla.breached"[^>]*>(?:(?!</select>).)*value="immediate" selected', text, re.S)
    assert "every hour (not a choice)" in text
    assert NotificationPreference.select().count() == 0 and AuditEvent.select().count() == before
    # A missing field is refused the same way.
    del form["notice.info_requested"]
    assert client.post_form("/notifications/settings", form).status_code == 422
    form["notice.info_requested"] = "off"
    assert client.post_form("/notifications/settings", form).status_code == 302
    assert services.choices_of(setup.brand, admin)["notice.info_requested"] == "off"
    event = AuditEvent.select().where(AuditEvent.action == "notification.settings_changed").get()
    assert event.org_id == setup.brand.id and event.actor_id == admin.id
    assert event.change_data["after"]["notice.info_requested"] == "off"
    # Off means off: the admin is not told, the others are.
    move(setup, setup.items[0], "info_requested")
    info = Notification.select().where(Notification.kind == "notice.info_requested")
    assert not info.where(Notification.user == admin.id).exists() and info.count() == 2
    # The admin chose "inbox" for the listing's other moves (off by default): the acknowledgement is there.
    assert [n.kind for n in Notification.select().where(Notification.user == admin.id)] == ["notice.item.transitioned"]


# --- e-mail ---------------------------------------------------------------------------------------------

def test_an_information_request_is_mailed_at_once_with_a_link_and_unsubscribe_headers(setup, smtp_server):
    move(setup, setup.items[0], "info_requested")
    move(setup, setup.items[1], "info_requested")
    # Nothing is sent during the change: the worker sends the outbox. One e-mail per member for both.
    assert smtp_server.mailbox.messages == []
    assert OutboundEmail.select().count() == 3
    assert run_mailer(setup.app) == 3
    messages = {m["To"]: m for m in smtp_server.mailbox.messages}
    assert set(messages) == {p.email for (slug, _), p in setup.people.items() if slug == setup.brand.slug}
    message = messages[brand_admin(setup).email]
    assert message["Subject"] == "[Alliance Portal] 2 notifications for Microsoft"
    assert message["From"] == "Alliance Portal <portal@alliance.example>"
    body = message.get_body(("plain",)).get_content()
    assert f"asked for information on listing {setup.items[0].id} of notice {setup.notice.reference}" in body
    assert f"{BASE}/notices/{setup.notice.id}" in body
    assert "Please send the test-buy receipt" not in body  # minimal text: the question is on the page
    unsubscribe = re.fullmatch(r"<(.+)>", message["List-Unsubscribe"]).group(1)
    assert unsubscribe.startswith(f"{BASE}/notifications/unsubscribe/") and unsubscribe in body
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert {e.status for e in OutboundEmail.select()} == {"sent"}
    assert run_mailer(setup.app) == 0  # sent once


def test_one_notification_makes_a_subject_of_its_own(setup, smtp_server):
    move(setup, setup.items[0], "removed", reason="Counterfeit per test buy.")
    move(setup, setup.items[0], "counter_noticed", reason="The seller says the goods are genuine.")
    run_mailer(setup.app)
    subjects = {m["Subject"] for m in smtp_server.mailbox.messages}
    assert subjects == {f"[Alliance Portal] A counter-notice was received on listing {setup.items[0].id} "
                        f"of notice {setup.notice.reference}"}


def test_a_refusing_server_is_retried_with_backoff_and_given_up_after_the_maximum(setup, smtp_server):
    admin = brand_admin(setup)
    with setup.app.app_context():
        for role in ("analyst", "viewer"):
            services.save_choices(setup.brand, setup.people[(setup.brand.slug, role)],
                                  dict(services.choices_of(setup.brand, admin), **{"notice.info_requested": "inbox"}))
    move(setup, setup.items[0], "info_requested")
    email = OutboundEmail.get()
    now = utcnow()
    smtp_server.mailbox.refuse = ["451 4.3.0 Try again later"] * 5
    assert run_mailer(setup.app, now) == 1
    email = OutboundEmail.get_by_id(email.id)
    assert (email.status, email.attempts) == ("pending", 1) and "451" in email.last_error
    assert email.next_attempt_at == now + timedelta(seconds=60)
    assert run_mailer(setup.app, now + timedelta(seconds=59)) == 0  # not due yet
    assert run_mailer(setup.app, now + timedelta(seconds=60)) == 1
    email = OutboundEmail.get_by_id(email.id)
    assert email.attempts == 2 and email.next_attempt_at == now + timedelta(seconds=60 + 120)
    assert run_mailer(setup.app, now + timedelta(seconds=180)) == 1
    email = OutboundEmail.get_by_id(email.id)
    assert (email.status, email.attempts, email.next_attempt_at) == ("failed", 3, None)  # EMAIL_MAX_ATTEMPTS
    assert smtp_server.mailbox.messages == []


def test_a_temporary_refusal_then_success_delivers_once(setup, smtp_server):
    move(setup, setup.items[0], "info_requested")
    smtp_server.mailbox.refuse = ["451 4.3.0 Greylisted"]
    now = utcnow()
    run_mailer(setup.app, now)
    assert len(smtp_server.mailbox.messages) == 2  # the first of three was refused
    run_mailer(setup.app, now + timedelta(minutes=1))
    assert len(smtp_server.mailbox.messages) == 3
    assert {(e.status) for e in OutboundEmail.select()} == {"sent"}


def test_a_permanent_refusal_is_not_retried(setup, smtp_server):
    move(setup, setup.items[0], "info_requested")
    smtp_server.mailbox.refuse = ["550 5.1.1 No such mailbox"] * 3
    run_mailer(setup.app)
    assert {(e.status, e.attempts) for e in OutboundEmail.select()} == {("failed", 1)}
    assert all("550" in e.last_error for e in OutboundEmail.select())


def test_starttls_and_auth(setup, tls_smtp_server, app, monkeypatch):
    move(setup, setup.items[0], "info_requested")
    run_mailer(setup.app)
    assert len(tls_smtp_server.mailbox.messages) == 3
    assert set(tls_smtp_server.mailbox.logins) == {(b"portal", b"s3cret-pass")}


def test_without_starttls_the_server_is_refused_credentials(setup, tls_smtp_server, app, monkeypatch):
    """STARTTLS off against a server that requires it: nothing sent, the error kept, retried later."""
    monkeypatch.setitem(app.config, "SMTP_STARTTLS", False)
    move(setup, setup.items[0], "info_requested")
    run_mailer(setup.app)
    assert tls_smtp_server.mailbox.messages == [] and tls_smtp_server.mailbox.logins == []
    assert {e.status for e in OutboundEmail.select()} == {"pending"}


def test_a_wrong_password_sends_nothing(setup, tls_smtp_server, app, monkeypatch):
    monkeypatch.setitem(app.config, "SMTP_PASSWORD", "wrong")
    monkeypatch.setitem(app.config, "SMTP_TIMEOUT_SECONDS", 1)  # aiosmtpd leaves smtplib's AUTH LOGIN waiting
    admin = brand_admin(setup)
    for role in ("analyst", "viewer"):
        with setup.app.app_context():
            services.save_choices(setup.brand, setup.people[(setup.brand.slug, role)],
                                  dict(services.choices_of(setup.brand, admin), **{"notice.info_requested": "inbox"}))
    move(setup, setup.items[0], "info_requested")
    run_mailer(setup.app)
    assert tls_smtp_server.mailbox.messages == []
    assert (b"portal", b"wrong") in tls_smtp_server.mailbox.logins
    email = OutboundEmail.get()
    assert email.status != "sent" and email.last_error


def test_no_smtp_host_means_inbox_only(setup, app, monkeypatch):
    monkeypatch.setitem(app.config, "SMTP_HOST", None)
    move(setup, setup.items[0], "info_requested")
    assert OutboundEmail.select().count() == 0
    assert {n.delivery for n in Notification.select()} == {"inbox"}


# --- the digest -----------------------------------------------------------------------------------------

def tokyo(day, hour, minute=0):
    """A moment in Asia/Tokyo (UTC+9, no DST) as stored naive UTC."""
    return datetime(2026, 3, day, hour, minute) - timedelta(hours=9)


def share_a_flag(setup, seller_id, now=None, **values):
    """Swarovski flags a seller for the whole alliance: the brand is told (digest by default)."""
    with setup.app.app_context(), acting_as("test"):
        return intel.create_flag(setup.third, dict(
            marketplace="alibaba-market",
            seller_id=seller_id, category="suspected_counterfeit", confidence="medium", tlp="green",
            distribution="alliance", notes="Secret note about the seller's warehouse.", **values), now=now)


def test_the_digest_goes_once_a_day_at_the_local_hour(setup, smtp_server):
    share_a_flag(setup, "shop-digest-1", now=tokyo(2, 1))
    waiting = Notification.select().where((Notification.org == setup.brand.id) & (Notification.delivery == "digest"))
    assert waiting.count() == 3 and OutboundEmail.select().count() == 0
    with setup.app.app_context():
        # The platform (UTC) gets its own digests at its own hour; the brand's come at 08:00 in Tokyo.
        assert brand_digests(setup, services.make_digests(now=tokyo(2, 7, 59))) == []
        made = brand_digests(setup, services.make_digests(now=tokyo(2, 8, 0)))
        assert {e.digest_date.isoformat() for e in made} == {"2026-03-02"} and len(made) == 3
    run_mailer(setup.app, tokyo(2, 8, 1))
    digest = {m["To"]: m for m in smtp_server.mailbox.messages}[brand_admin(setup).email]
    assert digest["Subject"] == "[Alliance Portal] Daily digest for Microsoft: 1 notification"
    body = digest.get_body(("plain",)).get_content()
    assert "1 flagged seller was shared with your organization" in body
    # Never the seller or the notes in an e-mail: the link leads to the flag, behind the sharing predicate.
    assert "shop-digest-1" not in body and "warehouse" not in body
    # Something new later that day waits for the next day's digest.
    share_a_flag(setup, "shop-digest-2", now=tokyo(2, 12))
    with setup.app.app_context():
        assert brand_digests(setup, services.make_digests(now=tokyo(2, 12, 15))) == []
        assert brand_digests(setup, services.make_digests(now=tokyo(3, 7, 45))) == []
        assert len(brand_digests(setup, services.make_digests(now=tokyo(3, 8, 15)))) == 3
        assert services.make_digests(now=tokyo(3, 9, 0)) == []  # once a day, for everyone
    sent_before = len(smtp_server.mailbox.messages)
    run_mailer(setup.app, tokyo(3, 8, 16))
    assert len(smtp_server.mailbox.messages) - sent_before == 3 + 3  # the brand's and the platform's


def brand_digests(setup, emails):
    return [e for e in emails if e.org_id == setup.brand.id]


def test_a_flag_unshared_before_sending_is_not_mailed(setup, smtp_server):
    """The brand is told of a flag shared with it; the owner narrows the flag before the e-mail goes: the
    notification is left out and the e-mail (carrying nothing else) is dropped unsent."""
    admin = brand_admin(setup)
    with setup.app.app_context():
        services.save_choices(setup.brand, admin, dict(services.choices_of(setup.brand, admin),
                                                       **{"intel.flag.shared": "immediate"}))
    with setup.app.app_context(), acting_as("test"):
        flag = intel.create_flag(setup.third, dict(
            marketplace="alibaba-market", seller_id="shop-hidden-77", category="suspected_counterfeit",
            confidence="high", tlp="amber", distribution="group", share_with=[setup.brand.slug],
            notes="Warehouse in Yiwu, contact via WeChat."))
    email = OutboundEmail.get(OutboundEmail.user == admin.id)
    with setup.app.app_context(), acting_as("test"):
        intel.update_flag(flag, setup.third, {"distribution": "own", "share_with": [], "tlp": "red"})
    run_mailer(setup.app)
    assert OutboundEmail.get_by_id(email.id).status == "dropped"
    assert smtp_server.mailbox.messages == []
    # Shared again: a new notification, still visible when sent, mailed without seller or notes.
    with setup.app.app_context(), acting_as("test"):
        intel.update_flag(flag, setup.third, {"distribution": "group", "share_with": [setup.brand.slug],
                                              "tlp": "amber"})
    run_mailer(setup.app)
    assert len(smtp_server.mailbox.messages) == 1
    body = smtp_server.mailbox.bodies()[0]
    assert "flagged seller was shared" in body and f"{BASE}/intel/flags/{flag.id}" in body
    assert "shop-hidden-77" not in body and "Yiwu" not in body and "WeChat" not in body


def test_a_member_who_left_is_not_mailed(setup, smtp_server):
    from portal.accounts.models import Membership
    move(setup, setup.items[0], "info_requested")
    analyst = setup.people[(setup.brand.slug, "analyst")]
    Membership.update(active=False).where((Membership.user == analyst.id)).execute()
    run_mailer(setup.app)
    assert analyst.email not in {m["To"] for m in smtp_server.mailbox.messages}
    assert len(smtp_server.mailbox.messages) == 2


# --- unsubscribe ----------------------------------------------------------------------------------------

def unsubscribe_link(message):
    return re.fullmatch(r"<(.+)>", message["List-Unsubscribe"]).group(1).replace(BASE, "")


def test_the_unsubscribe_link_works_without_signing_in_and_is_audited(setup, smtp_server, make_client):
    move(setup, setup.items[0], "info_requested")
    run_mailer(setup.app)
    admin = brand_admin(setup)
    message = {m["To"]: m for m in smtp_server.mailbox.messages}[admin.email]
    path = unsubscribe_link(message)
    client = make_client()  # not signed in
    page = client.get(path)
    assert page.status_code == 200 and "a platform asked for information on a listing" in page_text(page)
    assert services.choices_of(setup.brand, admin)["notice.info_requested"] == "immediate"  # a GET changes nothing
    # The one-click POST of RFC 8058, as a mail client sends it: no session, no CSRF token.
    response = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200 and "no more e-mail" in page_text(response)
    assert services.choices_of(setup.brand, admin)["notice.info_requested"] == "inbox"
    event = AuditEvent.select().where(AuditEvent.action == "notification.unsubscribed").get()
    assert (event.org_id, event.actor_id, event.change_data["kinds"]) == (setup.brand.id, admin.id,
                                                                          ["notice.info_requested"])
    # Still in the inbox, no more e-mail.
    move(setup, setup.items[1], "info_requested")
    assert Notification.select().where(Notification.user == admin.id).count() == 2
    assert not OutboundEmail.select().where((OutboundEmail.user == admin.id)
                                            & (OutboundEmail.status == "pending")).exists()
    assert client.post(path).status_code == 200  # again: nothing more to change, nothing audited
    assert AuditEvent.select().where(AuditEvent.action == "notification.unsubscribed").count() == 1


def test_a_tampered_unsubscribe_link_is_refused(setup, smtp_server, make_client):
    move(setup, setup.items[0], "info_requested")
    run_mailer(setup.app)
    path = unsubscribe_link(smtp_server.mailbox.messages[0])
    with setup.app.app_context():
        forged = mailer.URLSafeSerializer("not the portal's key", salt=mailer.UNSUBSCRIBE_SALT).dumps(
            {"o": setup.brand.id, "u": brand_admin(setup).id, "k": ["notice.info_requested"]})
        other_salt = mailer.URLSafeSerializer(setup.app.config["SECRET_KEY"], salt="another use").dumps(
            {"o": setup.brand.id, "u": brand_admin(setup).id, "k": ["notice.info_requested"]})
    client = make_client()
    token = path.rsplit("/", 1)[1]
    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), forged, other_salt, "x"):
        for method in ("get", "post"):
            response = getattr(client, method)(f"/notifications/unsubscribe/{bad}")
            assert response.status_code == 400 and "not valid" in page_text(response)
    assert NotificationPreference.select().count() == 0
    assert not AuditEvent.select().where(AuditEvent.action == "notification.unsubscribed").exists()


# --- imports --------------------------------------------------------------------------------------------

def test_an_import_finished_with_errors_tells_the_uploader(setup, smtp_server, world):
    from portal.imports.service import start_import
    import io
    analyst = setup.people[(setup.brand.slug, "analyst")]
    content = b"word,office,registration_number,nice_classes\nHALO,USPTO,7654321,9\nBAD,USPTO,,99\n"
    with setup.app.app_context(), acting_as("test"):
        job = start_import(setup.brand, io.BytesIO(content), "marks.csv", "marks", user=analyst)
    assert job.status == "done" and job.error_rows == 1
    told = Notification.get(Notification.kind == "import.finished_with_errors")
    assert told.user_id == analyst.id and told.title == "Your upload marks.csv finished with 1 row with errors"
    with setup.app.test_request_context():
        assert services.link_of(told) == f"/marks/imports/{job.id}"
    run_mailer(setup.app)
    assert [m["To"] for m in smtp_server.mailbox.messages] == [analyst.email]
    # A clean import and a dry run tell nobody.
    with setup.app.app_context(), acting_as("test"):
        start_import(setup.brand, io.BytesIO(b"word,office,registration_number,nice_classes\nOK,USPTO,7654329,9\n"),
                     "clean.csv", "marks", user=analyst)
        start_import(setup.brand, io.BytesIO(content), "dry.csv", "marks", user=analyst, dry_run=True)
    assert Notification.select().where(Notification.kind == "import.finished_with_errors").count() == 1


