"""Signatures of webhook deliveries (groundwork of issue 7): HMAC-SHA256 over the timestamp and the body.

Every delivery carries `X-Portal-Signature: t=<unix seconds>,v1=<hex>` where the hex digest is
HMAC-SHA256(secret, "<t>." + body bytes). A receiver recomputes it with its endpoint's secret, compares in
constant time, and refuses a timestamp older than its tolerance (five minutes by default), so a captured
delivery cannot be replayed later. While a secret is being rotated the receiver may accept either secret;
`verify` takes several for that reason. This module is what receivers can copy: standard library only.
"""
import hashlib
import hmac
import time

HEADER = "X-Portal-Signature"
TOLERANCE_SECONDS = 300


class SignatureError(ValueError):
    """The signature header is missing, malformed, stale or does not match."""


def signature(secret, timestamp, body):
    """The hex HMAC-SHA256 of "<timestamp>." + body under `secret` (text or bytes)."""
    key = secret.encode() if isinstance(secret, str) else secret
    payload = f"{int(timestamp)}.".encode() + (body.encode() if isinstance(body, str) else body)
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def sign(secret, body, timestamp=None):
    """The header value for a delivery of `body` now (or at `timestamp`)."""
    timestamp = int(time.time() if timestamp is None else timestamp)
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def parse(header):
    """(timestamp, [v1 signatures]) from a header value; SignatureError when it is malformed."""
    timestamp, signatures = None, []
    for part in str(header or "").split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1" and len(value) == 64:
            signatures.append(value.lower())
    if timestamp is None or not signatures:
        raise SignatureError("The signature header must read t=<unix seconds>,v1=<64 hex digits>.")
    return timestamp, signatures


def verify(header, secrets, body, now=None, tolerance=TOLERANCE_SECONDS):
    """Check a received delivery: the header's timestamp is within `tolerance` seconds of `now` and one of
    its v1 signatures matches one of `secrets` (a secret, or several during a rotation). Returns the
    timestamp; raises SignatureError otherwise."""
    timestamp, signatures = parse(header)
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        raise SignatureError(f"The delivery is {int(abs(now - timestamp))} s away from now; at most {tolerance} s "
                             "are accepted (a replay, or a clock out of step).")
    for secret in [secrets] if isinstance(secrets, (str, bytes)) else secrets:
        expected = signature(secret, timestamp, body)
        if any(hmac.compare_digest(expected, given) for given in signatures):
            return timestamp
    raise SignatureError("No signature matches: the body was changed, or the secret is not this endpoint's.")
