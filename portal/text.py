"""Text rules every domain shares: control characters, listing and shop URLs, sizes as people read them.

Marks, notices, intel and the upload plumbing all check and show text the same way; the rules live here so
that no domain borrows them from another (issue 19: plumbing and shared helpers import no domain).

Plumbing: imports nothing of the portal.
"""
import hashlib
import re
from urllib.parse import urlsplit, urlunsplit

# C0 controls and DEL, except tab (\x09) and line feed (\x0a), which pasted text legitimately holds.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
MAX_URL = 2048


def clean_url(value):
    """(url, None) or (None, (code, message)): an absolute http(s) address with a dotted host name, no
    whitespace or control characters, at most MAX_URL characters."""
    url = "" if value is None else str(value).strip()
    if not url:
        return None, ("required", "Give the listing's URL.")
    if len(url) > MAX_URL:
        return None, ("too_long", f"A URL has at most {MAX_URL} characters.")
    if CONTROL_CHARACTERS.search(url) or re.search(r"\s", url):
        return None, ("invalid_url", "A URL cannot hold spaces or control characters.")
    try:
        parts = urlsplit(url)
        parts.port  # a malformed port raises here
    except ValueError:
        return None, ("invalid_url", "This is not a URL.")
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or "." not in parts.hostname:
        return None, ("invalid_url", "Give the full address of the listing, starting with https://.")
    return url, None


def url_key(url):
    """A listing URL in the form used to tell duplicates: scheme and host in lower case, no default port,
    no fragment, no trailing slash on the path. Long URLs are keyed by their SHA-256."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.port and not ((parts.scheme == "https" and parts.port == 443) or (parts.scheme == "http" and parts.port == 80)):
        host = f"{host}:{parts.port}"
    key = urlunsplit((parts.scheme.lower(), host, parts.path.rstrip("/") or "/", parts.query, ""))
    return key if len(key) <= 255 else "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def human_size(size):
    """A byte count as people read it: "512 bytes", "1.5 KB", "20 MB"."""
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}".replace(".0 ", " ")
        size /= 1024
