"""Notifications: who is told of a domain event, each member's choices, the inbox, and which e-mails the
worker is to send (portal.notifications.mailer sends them).

- `notify` is called by portal.events.emit for each org allowed to know an event, inside the transaction
  of the change, except the org that made the change (its people know: a listing move is told to the
  other side). Each active member of the org whose choice for the event's kind is not `off` gets an inbox
  row; `immediate` joins it to a pending e-mail (notifications arriving before that e-mail's first attempt
  join it too: one e-mail for a bulk move), `digest` leaves it for the day's digest.
- `make_digests` (every 15 minutes on the worker) gives every member with notifications waiting for the
  digest one e-mail per local day, at NOTIFICATION_DIGEST_HOUR in the org's time zone (later that day if
  the worker was stopped at that hour), never twice a day.
- `still_visible` is the sending-time check: the recipient is still an active member, and for
  intelligence still sees what the notification names (portal.intel.sharing.still_sees).
- An import that ends with errors, or fails, is told to the member who uploaded it (the engine calls
  `import_ended` through portal.imports.registry.on_job_end; it imports no domain).

Settings (Flask config): SMTP_HOST (no e-mail without it: choices that send e-mail then fill the inbox
only), EMAIL_MAX_ATTEMPTS, NOTIFICATION_DIGEST_HOUR.
"""
import json
from zoneinfo import ZoneInfo

from flask import current_app, g, has_app_context, has_request_context, url_for
from peewee import IntegrityError, fn

from portal import audit
from portal.accounts.models import Membership, Organization, User
from portal.db import PreparedSelect, db, get_by_id
from portal.errors import NotFound, ValidationError
from portal.imports.registry import importer_for
from portal.notifications import kinds as kinds_module
from portal.notifications.kinds import KINDS, Told, kinds_for
from portal.notifications.models import MODES, Notification, NotificationPreference, OutboundEmail
from portal.tenancy import object_id
from portal.timeutil import utcnow

INBOX_PAGE = 50


def setting(name):
    return current_app.config.get(name) if has_app_context() else None


def email_configured():
    return bool(setting("SMTP_HOST"))


# --- who is told -------------------------------------------------------------------------------------------

# Asked at every domain event (a bulk move of 300 listings asks 600 times): compiled once.
ACTIVE_MEMBERS = PreparedSelect(lambda org_id: (
    Membership.select(Membership.user).join(User)
    .where((Membership.org == org_id) & (Membership.active == True) & (User.active == True))))  # noqa: E712
OPTED_IN = PreparedSelect(lambda org_id, kind: NotificationPreference.select(NotificationPreference.id).where(
    (NotificationPreference.org == org_id) & (NotificationPreference.kind == kind)
    & (NotificationPreference.mode != "off")).limit(1), arity=2)


def notify(event, org, obj, payload, now=None):
    """Tell the active members of `org` of `event` (see the module's docstring). Inside the change's
    transaction. Returns the notifications made."""
    told = kinds_module.describe(event, obj, payload)
    if told is None:
        return []
    org_id = getattr(org, "id", org)
    if KINDS[told.kind].default == "off" and OPTED_IN.first(org_id, told.kind) is None:
        return []  # off unless chosen, and nobody of the org chose it: the common case of every move
    org = org if isinstance(org, Organization) else get_by_id(Organization, org)
    if org.kind not in KINDS[told.kind].sides:
        return []
    members = [user_id for (user_id,) in ACTIVE_MEMBERS.tuples(org.id)]
    return tell(org, members, told, obj, event, now)


def tell(org, user_ids, told, obj=None, event="", now=None):
    """One notification of `told` to each of `user_ids` (members of `org`) by their choice for its kind."""
    if not user_ids:
        return []
    now = now or utcnow()
    chosen = dict(NotificationPreference.select(NotificationPreference.user, NotificationPreference.mode)
                  .where((NotificationPreference.org == org.id) & (NotificationPreference.kind == told.kind)
                         & NotificationPreference.user.in_(user_ids)).tuples())
    mail = email_configured()
    made = []
    for user_id in user_ids:
        mode = chosen.get(user_id, KINDS[told.kind].default)
        if mode == "off":
            continue
        delivery = mode if mail else "inbox"
        email_id = immediate_email(org.id, user_id, now) if delivery == "immediate" else None
        made.append(Notification.create(
            org=org.id, user=user_id, kind=told.kind, event=event or told.kind, title=told.title[:300],
            object_type=type(obj).__name__ if obj is not None else "",
            object_id=str(obj._pk) if obj is not None else "", data=json.dumps(told.data, sort_keys=True),
            link_endpoint=told.link_endpoint, link_args=json.dumps(told.link_args, sort_keys=True),
            delivery=delivery, email=email_id, created_at=now))
    return made


def immediate_email(org_id, user_id, now):
    """The pending immediate e-mail of this member that no worker took yet, or a new one. Touching the
    row first makes a worker claiming it at this moment wait for this transaction (PostgreSQL row lock),
    so a notification never joins an e-mail whose text was already written."""
    pending = (OutboundEmail.select(OutboundEmail.id)
               .where((OutboundEmail.org == org_id) & (OutboundEmail.user == user_id)
                      & (OutboundEmail.kind == "immediate") & (OutboundEmail.status == "pending")
                      & OutboundEmail.claimed_at.is_null()).order_by(OutboundEmail.id).first())
    if pending is not None:
        joined = (OutboundEmail.update(next_attempt_at=OutboundEmail.next_attempt_at)
                  .where((OutboundEmail.id == pending.id) & OutboundEmail.claimed_at.is_null()).execute())
        if joined:
            return pending.id
    email = OutboundEmail.create(org=org_id, user=user_id, kind="immediate", max_attempts=max_attempts(),
                                 next_attempt_at=now, created_at=now)
    queued_after_request(email.id)
    return email.id


def max_attempts():
    return setting("EMAIL_MAX_ATTEMPTS") or 6


def queued_after_request(email_id):
    """Remember e-mails made in this request; `tasks.kick_worker` queues them once the response is built."""
    if has_request_context():
        g.setdefault("outbound_email_ids", []).append(email_id)


def import_ended(job):
    """An import job ended (portal.imports.registry listener, in its transaction): tell its uploader when
    rows had errors or the job failed. Dry runs are watched by the person who asked for them: not told."""
    if job.dry_run or job.created_by_id is None or (job.status == "done" and not job.error_rows):
        return []
    active = (Membership.select().join(User).where((Membership.org == job.org_id) & (Membership.user == job.created_by_id)
                                                   & (Membership.active == True) & (User.active == True))  # noqa: E712
              .exists())
    if not active:
        return []
    if job.status == "failed":
        title = f"Your upload {job.filename} failed: nothing more was imported"
    else:
        title = (f"Your upload {job.filename} finished with {job.error_rows} row"
                 f"{'s' if job.error_rows != 1 else ''} with errors")
    pages = importer_for(job.kind).pages
    told = Told("import.finished_with_errors", title[:300], pages.job if pages else "", {"job_id": job.id},
                {"job_id": job.id})
    return tell(Organization.get_by_id(job.org_id), [job.created_by_id], told, job, "import.ended")


# --- a member's choices ----------------------------------------------------------------------------------

def choices_of(org, user):
    """{kind: mode} for every kind this org's members can receive (the defaults where nothing was chosen)."""
    chosen = dict(NotificationPreference.select(NotificationPreference.kind, NotificationPreference.mode)
                  .where((NotificationPreference.org == org.id) & (NotificationPreference.user == user.id)).tuples())
    return {name: chosen.get(name, kind.default) for name, kind in kinds_for(org.kind).items()}


def clean_choices(org, values):
    """The {kind: mode} of a settings form; ValidationError naming every bad field, nothing changed."""
    allowed = kinds_for(org.kind)
    errors, clean = {}, {}
    for name in allowed:
        value = values.get(name)
        if value not in MODES:
            errors[name] = "Choose off, inbox only, inbox and an e-mail at once, or inbox and the daily digest."
            continue
        clean[name] = value
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        errors["__all__"] = f"Unknown kind of notification: {', '.join(unknown)[:200]}."
    if errors:
        raise ValidationError(errors)
    return clean


def save_choices(org, user, values, now=None):
    """Replace the member's choices with `values` ({kind: mode} for every kind of the org), audited."""
    now = now or utcnow()
    clean = clean_choices(org, values)
    with db.atomic():
        before = choices_of(org, user)
        changed = {name: mode for name, mode in clean.items() if before[name] != mode}
        for name, mode in changed.items():
            _set_choice(org, user, name, mode, now)
        if changed:
            audit.record("notification.settings_changed", org, user, {
                "user": user.email, "before": {name: before[name] for name in changed}, "after": changed})
    return changed


def _set_choice(org, user, kind, mode, now):
    updated = (NotificationPreference.update(mode=mode, updated_at=now)
               .where((NotificationPreference.org == org.id) & (NotificationPreference.user == user.id)
                      & (NotificationPreference.kind == kind)).execute())
    if not updated:
        NotificationPreference.create(org=org.id, user=user.id, kind=kind, mode=mode, updated_at=now)


def unsubscribe(org_id, user_id, kinds, now=None):
    """Turn e-mail off for `kinds` of this member (the unsubscribe link of an e-mail): each kind that was
    sending e-mail keeps the inbox only. Audited in the org, as the member. Returns the kinds changed."""
    now = now or utcnow()
    org = Organization.get_or_none(Organization.id == org_id)
    user = User.get_or_none(User.id == user_id)
    if org is None or user is None:
        raise NotFound()
    with db.atomic():
        current = choices_of(org, user)
        changed = [kind for kind in kinds if current.get(kind) in ("immediate", "digest")]
        for kind in changed:
            _set_choice(org, user, kind, "inbox", now)
        if changed:
            audit.record("notification.unsubscribed", org, user, {
                "user": user.email, "kinds": changed, "before": {k: current[k] for k in changed}, "after": "inbox"},
                actor=user)
    return changed


# --- the inbox -------------------------------------------------------------------------------------------

def inbox_of(org, user):
    return Notification.for_org(org).where(Notification.user == user.id).order_by(Notification.id.desc())


def inbox_page(org, user, before=None):
    """A page of the member's notifications, newest first, and the id to ask for the next page (or None)."""
    query = inbox_of(org, user)
    if before is not None:
        query = query.where(Notification.id < object_id(before))
    rows = list(query.limit(INBOX_PAGE + 1))
    return rows[:INBOX_PAGE], (rows[INBOX_PAGE - 1].id if len(rows) > INBOX_PAGE else None)


# In the navigation of every signed-in page: compiled once.
UNREAD = PreparedSelect(lambda org_id, user_id: Notification.for_org(org_id).select(fn.COUNT(Notification.id)).where(
    (Notification.user == user_id) & Notification.read_at.is_null()), arity=2)


def unread_count(org, user):
    return UNREAD.scalar(getattr(org, "id", org), user.id)


def get_own(pk, org, user):
    """The member's notification `pk` in `org`: anyone else's, or another org's, is NotFound (404)."""
    row = Notification.for_org(org).where((Notification.id == object_id(pk)) & (Notification.user == user.id)).first()
    if row is None:
        raise NotFound()
    return row


def mark_read(notification, now=None):
    Notification.update(read_at=now or utcnow()).where(
        (Notification.id == notification.id) & Notification.read_at.is_null()).execute()


def mark_all_read(org, user, now=None):
    return (Notification.update(read_at=now or utcnow())
            .where((Notification.org == org.id) & (Notification.user == user.id)
                   & Notification.read_at.is_null()).execute())


def link_of(notification, external_base=None):
    """The page a notification leads to, as a path (or an absolute URL on `external_base`)."""
    endpoint = notification.link_endpoint or "notifications.inbox"
    args = json.loads(notification.link_args or "{}")
    if external_base is None:
        try:
            return url_for(endpoint, **args)
        except Exception:  # a page that no longer exists: the inbox
            return url_for("notifications.inbox")
    from urllib.parse import urlsplit
    parts = urlsplit(external_base)
    adapter = current_app.url_map.bind(parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme)
    try:
        return adapter.build(endpoint, args, force_external=True)
    except Exception:
        return adapter.build("notifications.inbox", {}, force_external=True)


# --- the sending-time check ------------------------------------------------------------------------------

def still_visible(notification):
    """Whether the recipient may still be told: an active member of the org, and for intelligence still
    allowed by the sharing predicate to see every flag (or marketplace's strikes) it names."""
    member = (Membership.select().join(User)
              .where((Membership.org == notification.org_id) & (Membership.user == notification.user_id)
                     & (Membership.active == True) & (User.active == True)).exists())  # noqa: E712
    if not member:
        return False
    if notification.kind not in kinds_module.INTELLIGENCE:
        return True
    from portal.intel import sharing
    data = json.loads(notification.data or "{}")
    return sharing.still_sees(notification.org_id, data.get("flags", ()),
                              [data["marketplace_id"]] if data.get("marketplace_id") else ())


# --- the daily digest ------------------------------------------------------------------------------------

def digest_hour():
    hour = setting("NOTIFICATION_DIGEST_HOUR")
    return 8 if hour is None else min(max(int(hour), 0), 23)


def digest_due_date(org, now):
    """The org's local date whose digest is due at `now`, or None before the digest hour there."""
    local = now.replace(tzinfo=ZoneInfo("UTC")).astimezone(ZoneInfo(org.timezone))
    return local.date() if local.hour >= digest_hour() else None


def make_digests(now=None):
    """One digest e-mail per member with notifications waiting for it, per org whose local digest hour has
    come today, once a day. Returns the e-mails made."""
    now = now or utcnow()
    made = []
    waiting = (Notification.select(Notification.org, Notification.user)
               .where((Notification.delivery == "digest") & Notification.email.is_null())
               .group_by(Notification.org, Notification.user).tuples())
    orgs = {}
    for org_id, user_id in list(waiting):
        org = orgs.get(org_id) or orgs.setdefault(org_id, Organization.get_by_id(org_id))
        day = digest_due_date(org, now)
        if day is None:
            continue
        email = _digest_for(org, user_id, day, now)
        if email is not None:
            made.append(email)
    return made


def _digest_for(org, user_id, day, now):
    try:
        with db.atomic():
            email = OutboundEmail.create(org=org.id, user=user_id, kind="digest", digest_date=day,
                                         max_attempts=max_attempts(), next_attempt_at=now, created_at=now)
            # Everything waiting now; what comes later today waits for tomorrow's digest.
            (Notification.update(email=email.id)
             .where((Notification.org == org.id) & (Notification.user == user_id)
                    & (Notification.delivery == "digest") & Notification.email.is_null()).execute())
        return email
    except IntegrityError:  # today's digest was made already (this run, another worker): tomorrow
        return None

