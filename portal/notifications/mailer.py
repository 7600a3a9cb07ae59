"""Sending the outbox (portal.notifications.models.OutboundEmail) over SMTP, on the worker only.

`send` claims a due e-mail (its next attempt moves past the time an attempt may take, so no other worker
takes it), writes its text from the notifications still visible to the recipient at this moment
(services.still_visible: membership, and the sharing predicate for intelligence; what is no longer visible
is left out, and an e-mail left with nothing is dropped unsent), sends it with smtplib outside any
transaction, and records the outcome: sent; refused for good (a 5xx answer) after one attempt; otherwise
(a 4xx answer, no connection, a timeout) tried again after EMAIL_RETRY_BASE_SECONDS, then twice, four
times that ... until EMAIL_MAX_ATTEMPTS, then failed.

Each e-mail is short: what happened, in the words of the inbox, and a link to the page; a link to the
settings and a signed unsubscribe link (also in the List-Unsubscribe and List-Unsubscribe-Post headers,
RFC 2369 and RFC 8058) that turns e-mail off for the kinds the message carries.

Settings (Flask config): SMTP_HOST, SMTP_PORT, SMTP_USERNAME, SMTP_PASSWORD, SMTP_STARTTLS (refuse a
server that does not offer it), SMTP_SSL, SMTP_CA_FILE, SMTP_FROM, SMTP_TIMEOUT_SECONDS,
EMAIL_RETRY_BASE_SECONDS, PORTAL_BASE_URL (links).
"""
import logging
import re
import smtplib
import ssl
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import urlsplit

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from portal.accounts.models import Organization, User
from portal.db import db
from portal.notifications import services
from portal.notifications.kinds import KINDS
from portal.notifications.models import Notification, OutboundEmail
from portal.timeutil import utcnow

log = logging.getLogger(__name__)
CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
UNSUBSCRIBE_SALT = "alliance-portal notification unsubscribe"
DEFAULT_BASE_URL = "http://127.0.0.1:5000"


def config(name, default=None):
    value = current_app.config.get(name)
    return default if value is None else value


def base_url():
    return (config("PORTAL_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")


# --- the unsubscribe link ----------------------------------------------------------------------------------

def _serializer():
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=UNSUBSCRIBE_SALT)


def unsubscribe_token(org_id, user_id, kinds):
    return _serializer().dumps({"o": org_id, "u": user_id, "k": sorted(set(kinds))})


def read_unsubscribe_token(token):
    """(org id, user id, [kinds]) of a token this portal signed; ValueError for anything else."""
    try:
        data = _serializer().loads(token)
    except BadSignature:
        raise ValueError("This unsubscribe link is not valid: it was changed or is not from this portal.")
    if (not isinstance(data, dict) or not isinstance(data.get("o"), int) or not isinstance(data.get("u"), int)
            or not isinstance(data.get("k"), list) or not all(k in KINDS for k in data["k"])):
        raise ValueError("This unsubscribe link is not valid.")
    return data["o"], data["u"], data["k"]


def external_url(endpoint, args=None):
    """An absolute URL of the portal on PORTAL_BASE_URL (the worker has no request to take one from)."""
    parts = urlsplit(base_url())
    adapter = current_app.url_map.bind(parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme)
    return adapter.build(endpoint, args or {}, force_external=True)


def unsubscribe_url(org_id, user_id, kinds):
    return external_url("notifications.unsubscribe", {"token": unsubscribe_token(org_id, user_id, kinds)})


# --- the message ---------------------------------------------------------------------------------------

def _line(text):
    return CONTROL.sub(" ", str(text)).strip()


def compose(email, user, org, notifications):
    """The EmailMessage of `email` to `user` carrying `notifications` (already checked as visible)."""
    kinds = sorted({n.kind for n in notifications})
    unsubscribe = unsubscribe_url(org.id, user.id, kinds)
    settings_link = external_url("notifications.settings")
    if email.kind == "digest":
        subject = f"Daily digest for {org.name}: {len(notifications)} notification{'s' if len(notifications) != 1 else ''}"
        opening = f"What happened for {org.name} since the last digest ({email.digest_date.isoformat()}):"
    elif len(notifications) == 1:
        subject = notifications[0].title
        opening = f"For {org.name}:"
    else:
        subject = f"{len(notifications)} notifications for {org.name}"
        opening = f"For {org.name}:"
    lines = [opening, ""]
    for notification in notifications:
        lines += [f"- {_line(notification.title)}", f"  {services.link_of(notification, base_url())}"]
    lines += ["", "Sign in to see the details.", "",
              f"Choose what you are told, and how: {settings_link}",
              f"Stop these e-mails ({', '.join(KINDS[k].label.lower() for k in kinds)}): {unsubscribe}", ""]
    message = EmailMessage()
    message["Subject"] = _line(f"[Alliance Portal] {subject}")[:200]
    message["From"] = config("SMTP_FROM")
    message["To"] = user.email
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="alliance-portal")
    message["Auto-Submitted"] = "auto-generated"
    message["List-Unsubscribe"] = f"<{unsubscribe}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content("\n".join(lines))
    return message


# --- SMTP ----------------------------------------------------------------------------------------------

class Outcome:
    def __init__(self, ok, permanent=False, error=""):
        self.ok, self.permanent, self.error = ok, permanent, error


def smtp_send(message):
    """Hand `message` to the configured SMTP server. Never raises: an Outcome says what happened."""
    host, port = config("SMTP_HOST"), int(config("SMTP_PORT", 587))
    timeout = config("SMTP_TIMEOUT_SECONDS", 10)
    if not host:
        return Outcome(False, error="SMTP_HOST is not set.")
    context = ssl.create_default_context(cafile=config("SMTP_CA_FILE"))
    try:
        if config("SMTP_SSL", False):
            smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            smtp = smtplib.SMTP(host, port, timeout=timeout)
        with smtp:
            if not config("SMTP_SSL", False) and config("SMTP_STARTTLS", True):
                smtp.starttls(context=context)  # SMTPNotSupportedError when not offered: never in clear
            if config("SMTP_USERNAME"):
                smtp.login(config("SMTP_USERNAME"), config("SMTP_PASSWORD") or "")
            smtp.send_message(message)
        return Outcome(True)
    except smtplib.SMTPRecipientsRefused as refused:
        code, text = next(iter(refused.recipients.values()))
        return Outcome(False, permanent=500 <= code < 600, error=f"SMTP {code}: {_text(text)}")
    except smtplib.SMTPResponseException as answer:
        code = answer.smtp_code
        return Outcome(False, permanent=500 <= code < 600, error=f"SMTP {code}: {_text(answer.smtp_error)}")
    except smtplib.SMTPNotSupportedError as error:
        return Outcome(False, error=f"The server does not offer STARTTLS (SMTP_STARTTLS is on): {_text(error)}")
    except (OSError, smtplib.SMTPException) as error:
        return Outcome(False, error=f"{type(error).__name__}: {_text(error)}")


def _text(value):
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return _line(value)[:300]


# --- the outbox ----------------------------------------------------------------------------------------

def due_emails(now=None, limit=200):
    now = now or utcnow()
    return [e.id for e in OutboundEmail.select(OutboundEmail.id)
            .where((OutboundEmail.status == "pending") & (OutboundEmail.next_attempt_at <= now))
            .order_by(OutboundEmail.next_attempt_at, OutboundEmail.id).limit(limit)]


def send_due(now=None):
    """Attempt every due e-mail; returns how many were attempted (or dropped)."""
    attempted = 0
    for email_id in due_emails(now):
        try:
            attempted += send(email_id, now=now) is not None
        except Exception:
            log.exception("e-mail %s failed on our side; it is tried again when its lease ends", email_id)
    return attempted


def backoff(attempt):
    return config("EMAIL_RETRY_BASE_SECONDS", 60) * 2 ** (attempt - 1)


def _claim(email_id, now):
    with db.atomic():
        email = OutboundEmail.get_or_none(OutboundEmail.id == email_id)
        if email is None or email.status != "pending" or email.next_attempt_at is None or email.next_attempt_at > now:
            return None
        lease = now + timedelta(seconds=config("SMTP_TIMEOUT_SECONDS", 10) * 4 + 60)
        claimed = (OutboundEmail.update(next_attempt_at=lease, claimed_at=email.claimed_at or now)
                   .where((OutboundEmail.id == email_id) & (OutboundEmail.status == "pending")
                          & (OutboundEmail.next_attempt_at == email.next_attempt_at)).execute())
    return OutboundEmail.get_by_id(email_id) if claimed else None


def send(email_id, now=None):
    """One attempt of a due e-mail; the e-mail after it, or None when it was not due (or taken)."""
    now = now or utcnow()
    email = _claim(email_id, now)
    if email is None:
        return None
    notifications = list(Notification.select().where(Notification.email == email.id).order_by(Notification.id))
    visible = [n for n in notifications if services.still_visible(n)]
    if not visible:
        OutboundEmail.update(status="dropped", next_attempt_at=None,
                             last_error="Not sent: nothing it carried may be shown to the recipient any more."
                             ).where(OutboundEmail.id == email.id).execute()
        return OutboundEmail.get_by_id(email.id)
    user, org = User.get_by_id(email.user_id), Organization.get_by_id(email.org_id)
    message = compose(email, user, org, visible)
    outcome = smtp_send(message)  # outside any transaction
    attempt = email.attempts + 1
    changes = {"attempts": attempt, "last_error": outcome.error, "subject": str(message["Subject"])[:200]}
    if outcome.ok:
        changes.update(status="sent", sent_at=now, next_attempt_at=None)
    elif outcome.permanent or attempt >= email.max_attempts:
        changes.update(status="failed", next_attempt_at=None)
    else:
        changes.update(next_attempt_at=now + timedelta(seconds=backoff(attempt)))
    OutboundEmail.update(**changes).where(OutboundEmail.id == email.id).execute()
    if not outcome.ok:
        log.warning("e-mail %s attempt %s: %s", email.id, attempt, outcome.error)
    return OutboundEmail.get_by_id(email.id)
