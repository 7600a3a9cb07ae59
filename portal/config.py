"""Configuration read from environment variables, with safe defaults.

Every variable is documented in README.md ("Configuration"). Nothing secret is a constant in code: when
SECRET_KEY is not set, a random key is generated once and kept in the instance folder.
"""
import os
import secrets
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE_PATH = PROJECT_ROOT / "instance"
MB = 1024 * 1024


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


BOOLEANS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def env_choice(name, choices):
    """The value of `name` among `choices` ({spelling: value}; "" is the default when unset); a typo is an
    error at start, never silently the default (SESSION_COOKIE_SECURE=ture must not mean off)."""
    value = os.environ.get(name, "").strip().lower()
    if value not in choices:
        raise SystemExit(f"configuration error: {name} must be one of {', '.join(k for k in choices if k)}, "
                         f"got {value!r}")
    return choices[value]


def env_int(name, default):
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise SystemExit(f"configuration error: {name} must be an integer, got {value!r}")


def instance_path():
    return Path(os.environ.get("INSTANCE_PATH") or DEFAULT_INSTANCE_PATH)


def load_or_create_secret_key(folder):
    """The key signs session cookies; it must survive restarts and be shared by every worker.

    The key is written to a private temporary file that is then hard-linked into place: the link
    either appears complete or not at all, so two processes starting at once agree on one key and
    neither can read a half-written file.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "secret_key"
    if not path.exists():
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=".secret_key.")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process won the race; use its key
        finally:
            os.unlink(temporary)
    key = path.read_text().strip()
    if not key:
        raise SystemExit(f"configuration error: {path} is empty; delete it or set SECRET_KEY")
    return key


def settings_from_env():
    """The Flask config mapping for this process."""
    folder = instance_path()
    redis_url = os.environ.get("REDIS_URL") or None
    return {
        "INSTANCE_PATH": str(folder),
        "DATABASE_URL": os.environ.get("DATABASE_URL") or f"sqlite:///{folder / 'portal.db'}",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or load_or_create_secret_key(folder),
        "PORT": env_int("PORT", 5000),
        "REDIS_URL": redis_url,
        # Login throttling counters live in Redis when there is one, so every worker shares them.
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        "LOGIN_ATTEMPTS_PER_ACCOUNT": os.environ.get("LOGIN_ATTEMPTS_PER_ACCOUNT", "5 per 5 minutes"),
        "LOGIN_ATTEMPTS_PER_ADDRESS": os.environ.get("LOGIN_ATTEMPTS_PER_ADDRESS", "30 per 5 minutes"),
        "SESSION_IDLE_MINUTES": env_int("SESSION_IDLE_MINUTES", 60),
        "SESSION_MAX_HOURS": env_int("SESSION_MAX_HOURS", 12),
        # "auto": Secure except over plain HTTP on a loopback address (local development); 1 or 0 to force.
        "SESSION_COOKIE_SECURE": env_choice("SESSION_COOKIE_SECURE", {"auto": "auto", "": "auto", **BOOLEANS}),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_NAME": "portal_session",
        "TRUSTED_PROXY_COUNT": env_int("TRUSTED_PROXY_COUNT", 0),
        "INVITATION_DAYS": env_int("INVITATION_DAYS", 7),
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session; the session has its own timeouts
        "HUEY_IMMEDIATE": env_bool("HUEY_IMMEDIATE", False),
        "OAUTH_ACCESS_TOKEN_SECONDS": env_int("OAUTH_ACCESS_TOKEN_SECONDS", 3600),
        "OAUTH_REFRESH_TOKEN_DAYS": env_int("OAUTH_REFRESH_TOKEN_DAYS", 30),
        "OAUTH_CODE_SECONDS": env_int("OAUTH_CODE_SECONDS", 300),
        # The portal's public base URL (https://portal.example.org); the OAuth metadata names it as the
        # issuer. Unset: taken from each request, which is right only behind a proxy that sets Host.
        "OAUTH_ISSUER": (os.environ.get("OAUTH_ISSUER") or "").rstrip("/") or None,
        # Per OAuth client, across all API endpoints (Flask-Limiter syntax; Redis-backed with REDIS_URL).
        "API_RATE_LIMIT": os.environ.get("API_RATE_LIMIT", "600 per minute"),
        "RATELIMIT_HEADERS_ENABLED": True,
        # Marks registry: proof files (registration certificates) and bulk imports.
        "MARK_PROOF_MAX_BYTES": env_int("MARK_PROOF_MAX_BYTES", 10 * MB),
        "NOTICE_EVIDENCE_MAX_BYTES": env_int("NOTICE_EVIDENCE_MAX_BYTES", 20 * MB),
        # Text fields of a form (not files): a pasted batch of 10,000 listings to screen is a few MB, over
        # Werkzeug's 500 kB default. The request as a whole stays under MAX_CONTENT_LENGTH.
        "MAX_FORM_MEMORY_SIZE": 40 * MB,
        "MARKS_IMPORT_MAX_BYTES": env_int("MARKS_IMPORT_MAX_BYTES", 50 * MB),
        "MARKS_IMPORT_MAX_ROWS": env_int("MARKS_IMPORT_MAX_ROWS", 500_000),
        "MARKS_IMPORT_BATCH_ROWS": env_int("MARKS_IMPORT_BATCH_ROWS", 1000),
        # Files up to this size are imported during the upload request; larger ones on the worker.
        "MARKS_IMPORT_INLINE_BYTES": env_int("MARKS_IMPORT_INLINE_BYTES", 256 * 1024),
        # An XLSX is a zip: refuse one that would unpack to more than this (a zip bomb) before opening it.
        "MARKS_IMPORT_MAX_UNPACKED_BYTES": env_int("MARKS_IMPORT_MAX_UNPACKED_BYTES", 1024 * MB),
        # An import whose worker has not committed a batch (its heartbeat) for this long is taken to be dead
        # and is resumed by another worker after its last committed batch.
        "MARKS_IMPORT_STALLED_SECONDS": env_int("MARKS_IMPORT_STALLED_SECONDS", 600),
        # Notification e-mail (portal.notifications.mailer), sent by the worker. No SMTP_HOST: no e-mail
        # (the inbox still works). SMTP_STARTTLS upgrades a plain connection and refuses a server without
        # it; SMTP_SSL connects with TLS from the start (port 465). SMTP_CA_FILE: a private CA to trust.
        "SMTP_HOST": (os.environ.get("SMTP_HOST") or "").strip() or None,
        "SMTP_PORT": env_int("SMTP_PORT", 587),
        "SMTP_USERNAME": os.environ.get("SMTP_USERNAME") or None,
        "SMTP_PASSWORD": os.environ.get("SMTP_PASSWORD") or None,
        "SMTP_STARTTLS": env_choice("SMTP_STARTTLS", {"": True, **BOOLEANS}),
        "SMTP_SSL": env_choice("SMTP_SSL", {"": False, **BOOLEANS}),
        "SMTP_CA_FILE": os.environ.get("SMTP_CA_FILE") or None,
        "SMTP_FROM": os.environ.get("SMTP_FROM") or "Alliance Portal <no-reply@localhost>",
        "SMTP_TIMEOUT_SECONDS": env_int("SMTP_TIMEOUT_SECONDS", 10),
        "EMAIL_MAX_ATTEMPTS": env_int("EMAIL_MAX_ATTEMPTS", 6),
        "EMAIL_RETRY_BASE_SECONDS": env_int("EMAIL_RETRY_BASE_SECONDS", 60),
        # The local hour (0-23, in each org's time zone) at which the daily digest is sent.
        "NOTIFICATION_DIGEST_HOUR": env_int("NOTIFICATION_DIGEST_HOUR", 8),
        # The portal's public base URL for links in e-mails; unset: OAUTH_ISSUER, else http://127.0.0.1:5000.
        "PORTAL_BASE_URL": (os.environ.get("PORTAL_BASE_URL") or os.environ.get("OAUTH_ISSUER") or "").rstrip("/")
        or None,
    }
