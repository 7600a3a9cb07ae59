"""Response headers every page and API answer carries (no inline script anywhere, so the CSP can forbid it),
and the session cookie's Secure flag."""
import ipaddress
from urllib.parse import urlsplit

from flask import abort, g, jsonify, request
from flask.sessions import SecureCookieSessionInterface

from portal.errors import refusal
from portal.textcheck import shown_key, text_problem

def content_security_policy(form_targets=()):
    """The policy; `form_targets` are extra places a form may lead to (browsers apply form-action to the
    redirects after a submit too, so the consent page must allow the app's verified redirect URI)."""
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        " ".join(["form-action 'self'", *form_targets]),
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ])


CONTENT_SECURITY_POLICY = content_security_policy()


def allow_form_target(uri):
    """Let this response's forms lead to `uri` (a redirect URI already checked against the client)."""
    g.form_targets = [*g.get("form_targets", []), csp_source(uri)]


def csp_source(uri):
    # A CSP source cannot carry a query or fragment, and ; or , would end the directive.
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}{parts.path}".replace(";", "%3B").replace(",", "%2C")


def add_security_headers(response):
    targets = g.get("form_targets")
    response.headers.setdefault("Content-Security-Policy",
                                content_security_policy(targets) if targets else CONTENT_SECURITY_POLICY)
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


OAUTH_ENDPOINTS = ("/oauth/token", "/oauth/revoke", "/oauth/introspect")


def refuse_nul_characters():
    """Text that cannot be stored (NUL, which PostgreSQL refuses; a lone surrogate, which no UTF-8 encoder
    takes: portal.textcheck) has no place in a form or query string: a 422 naming the field, before any
    view runs, so nothing is written. A multipart part whose name Werkzeug cannot read (a bare line break)
    arrives named None, which later code (Flask-WTF's CSRF check) cannot handle either: a 400 here too."""
    for values in (request.args, request.form):
        for key, value in values.items(multi=True):
            if key is None or value is None:
                abort(400, "A form field without a usable name was sent.")
            problem = text_problem(key) or text_problem(value)
            if problem and request.path in OAUTH_ENDPOINTS:  # RFC 6749 5.2: a 400 with an OAuth error
                return jsonify(error="invalid_request", error_description=f"{shown_key(key)}: {problem}"), 400
            if problem:
                field = shown_key(key)
                return refusal(422, "Unprocessable Entity", f"{field}: {problem} Nothing was changed.",
                               {field: [problem]})
    return None


def is_loopback(host):
    """True for localhost and loopback addresses, with or without a port ("127.0.0.1:5000", "[::1]:80")."""
    name = urlsplit(f"//{host}").hostname or ""
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class SessionInterface(SecureCookieSessionInterface):
    """SESSION_COOKIE_SECURE=auto (the default): the cookie is Secure everywhere except over plain HTTP on
    a loopback address with no proxy configured, which is local development (`make run`, the tests). A
    portal reached by any other name, or behind a proxy (TRUSTED_PROXY_COUNT, which may forward the
    upstream Host "127.0.0.1:8000"), gets a Secure cookie even when the proxy hides the browser's HTTPS."""

    def get_cookie_secure(self, app):
        setting = app.config["SESSION_COOKIE_SECURE"]
        if setting != "auto":
            return bool(setting)
        if app.config.get("TRUSTED_PROXY_COUNT"):
            return True
        return request.is_secure or not is_loopback(request.host)


def init_app(app):
    app.session_interface = SessionInterface()
    app.before_request(refuse_nul_characters)
    app.after_request(add_security_headers)
