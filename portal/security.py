"""Response headers every page and API answer carries. No inline script anywhere, so the CSP can forbid it."""
from flask import abort, request

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "form-action 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
])


def add_security_headers(response):
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if response.mimetype == "text/html":
        # Pages show tenant data: never keep them in shared caches or the back-forward cache of a
        # signed-out browser.
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def refuse_nul_characters():
    """NUL has no place in text a person typed, and PostgreSQL refuses to store it: answer 400 up front."""
    for values in (request.args, request.form):
        for key, value in values.items(multi=True):
            if "\x00" in key or "\x00" in value:
                abort(400, "Text containing NUL characters is not accepted.")


def init_app(app):
    app.before_request(refuse_nul_characters)
    app.after_request(add_security_headers)
