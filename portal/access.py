"""Access rules. Every view declares one; tests enumerate `app.url_map` and fail on a view without one.

- `public`: anyone (login page, invitation links, health check).
- `signed_in`: a signed-in user acting on their own session or account (choose or switch org, sign out,
  change own password); no org needed.
- `member(role, org_kind)`: a signed-in user with an active membership in the current org, at least
  `role`, and (when given) only in orgs of that kind. A viewer can never change anything: every
  non-read request from a viewer is refused here, whatever role the view asked for.
- `oauth_client`: the OAuth token, revocation and introspection endpoints, which authenticate the
  calling client by its credentials (RFC 6749 2.3), not by a session; no CSRF token, no cookies.
- `bearer(scope)` (in portal.api.auth): an API call with a valid access token holding `scope`
  (None: any valid token); the org comes from the token.
"""
from dataclasses import dataclass
from functools import wraps

from flask import abort, current_app, g, redirect, request, url_for
from flask_login import current_user

from portal.extensions import login_manager

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ROLE_RANK = {"viewer": 1, "analyst": 2, "admin": 3}  # the roles of portal.accounts.models.ROLES


@dataclass(frozen=True)
class AccessRule:
    level: str  # "public" | "signed_in" | "member" | "oauth_client" | "bearer"
    role: str = None
    org_kind: str = None
    scope: str = None


def role_allows(role, needed):
    """True when a member with `role` may do what needs `needed`; an unknown role allows nothing."""
    return ROLE_RANK.get(role, 0) >= ROLE_RANK[needed]


def _declare(view, rule):
    view.access_rule = rule
    return view


def public(view):
    return _declare(view, AccessRule("public"))


def oauth_client(view):
    return _declare(view, AccessRule("oauth_client"))


def declare_bearer(view, scope):
    return _declare(view, AccessRule("bearer", scope=scope))


def signed_in(view):
    @wraps(view)
    def guarded(*args, **kwargs):
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        return view(*args, **kwargs)
    return _declare(guarded, AccessRule("signed_in"))


def member(role="viewer", org_kind=None):
    def decorate(view):
        @wraps(view)
        def guarded(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            membership = g.get("membership")
            if membership is None:
                return redirect(url_for("accounts.choose_org", next=request.full_path.rstrip("?")))
            if org_kind is not None and membership.org.kind != org_kind:
                abort(404)
            if request.method not in READ_METHODS and not role_allows(membership.role, "analyst"):
                abort(403)
            if not role_allows(membership.role, role):
                abort(403)
            return view(*args, **kwargs)
        return _declare(guarded, AccessRule("member", role, org_kind))
    return decorate


def access_rule_of(view):
    return getattr(view, "access_rule", None)


def is_token_request():
    """True for API calls and the OAuth client endpoints: they authenticate by token or client
    credentials only, so a session cookie sent along is never read, and their errors are problem+json."""
    view = current_app.view_functions.get(request.endpoint)
    rule = access_rule_of(view) if view is not None else None
    return rule is not None and rule.level in ("bearer", "oauth_client")
