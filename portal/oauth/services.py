"""Registering and managing OAuth clients: the rules the admin pages and the CLI share."""
import re
import secrets
from datetime import timedelta
from urllib.parse import urlsplit

from flask import current_app

from portal import audit
from portal.accounts.services import clean_name, token_digest
from portal.db import db
from portal.accounts.models import User
from portal.errors import NotFound, ValidationError
from portal.oauth.models import AuthorizationCode, OAuthClient, Token
from portal.oauth.scopes import scopes_for_kind, split_scope, unknown_scopes
from portal.tenancy import lock_org
from portal.timeutil import utcnow

MAX_REDIRECT_URIS = 10
MAX_NAME_LENGTH = 120  # the column's size
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
MACHINE_GRANTS = ["client_credentials"]
USER_GRANTS = ["authorization_code", "refresh_token"]


def clean_scope(org, scope):
    scopes = split_scope(scope)
    if not scopes:
        raise ValidationError({"scope": "Choose at least one scope."})
    unknown = unknown_scopes(scopes)
    if unknown:
        raise ValidationError({"scope": f"Unknown scope: {', '.join(unknown)}."})
    unfit = [s for s in scopes if s not in scopes_for_kind(org.kind)]
    if unfit:
        raise ValidationError({"scope": f"A {org.kind} organization cannot give the scope "
                                        f"{', '.join(unfit)}."})
    return scopes


def clean_redirect_uri(uri):
    """An absolute https URI, or http on the loopback interface for native and test apps (RFC 8252 7.3)."""
    uri = (uri or "").strip()
    # urlsplit drops tabs and newlines silently: "https://a/cb\nhttp://evil/" would pass as one https URI.
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in uri):
        raise ValidationError({"redirect_uris": f"{uri!r}: a redirect URI cannot contain spaces or control "
                                                "characters."})
    try:
        parts = urlsplit(uri)
        hostname, _ = parts.hostname, parts.port  # both raise ValueError on a malformed authority
    except ValueError:
        parts = hostname = None
    if len(uri) > 2000 or not hostname or not parts.scheme:
        raise ValidationError({"redirect_uris": f"{uri!r} is not an absolute URL."})
    if parts.fragment or "#" in uri:
        raise ValidationError({"redirect_uris": f"{uri!r}: a redirect URI may not have a #fragment."})
    if parts.scheme == "http" and hostname not in LOOPBACK_HOSTS:
        raise ValidationError({"redirect_uris": f"{uri!r}: use https (http only on 127.0.0.1 or localhost)."})
    if parts.scheme not in ("https", "http"):
        raise ValidationError({"redirect_uris": f"{uri!r}: use an https URL."})
    return uri


def clean_redirect_uris(uris):
    if isinstance(uris, str):  # the form's text area: one per line
        uris = [line for line in uris.splitlines() if line.strip()]
    cleaned = []
    for uri in uris or []:
        uri = clean_redirect_uri(uri)
        if uri not in cleaned:
            cleaned.append(uri)
    if len(cleaned) > MAX_REDIRECT_URIS:
        raise ValidationError({"redirect_uris": f"At most {MAX_REDIRECT_URIS} redirect URIs."})
    return cleaned


def create_client(org, name, scope, public=False, redirect_uris=(), created_by=None):
    """Register a client for `org`. Returns (client, secret); the secret (None for a public client) is
    shown once and only its digest is kept.

    A confidential client always gets client_credentials; with redirect URIs it can also act for users
    (authorization code + PKCE, refresh). A public client (a browser or mobile app) has no secret, so it
    gets only the user grants and must have a redirect URI.
    """
    name = clean_name(name)
    if len(name) > MAX_NAME_LENGTH:
        raise ValidationError({"name": f"Use at most {MAX_NAME_LENGTH} characters."})
    scopes = clean_scope(org, scope)
    uris = clean_redirect_uris(redirect_uris)
    if public and not uris:
        raise ValidationError({"redirect_uris": "A public app needs at least one redirect URI."})
    grant_types = (USER_GRANTS if public else MACHINE_GRANTS + (USER_GRANTS if uris else []))
    secret = None if public else new_secret()
    with db.atomic():
        client = OAuthClient.create(
            org=org, client_id=secrets.token_urlsafe(18), name=name, public=public,
            secret_hash=token_digest(secret) if secret else None, secret_hint=secret[-4:] if secret else "",
            grant_types=" ".join(grant_types), redirect_uris="\n".join(uris), scope=" ".join(scopes),
            created_by=created_by)
        audit.record("oauth.client.created", org, client, {
            "client_id": client.client_id, "name": name, "public": public, "grant_types": grant_types,
            "redirect_uris": uris, "scope": " ".join(scopes)})
    return client, secret


def new_secret():
    return secrets.token_urlsafe(32)


def _require_active(client):
    if not client.is_active:
        raise ValidationError({"__all__": "This client is revoked; register a new one."})


def rotate_secret(client):
    """A new secret replaces the old one at once. Tokens already issued stay valid until they expire;
    revoke the client to end them too."""
    _require_active(client)
    if client.public:
        raise ValidationError({"__all__": "A public client has no secret to rotate."})
    secret = new_secret()
    with db.atomic():
        lock_org(client.org_id)
        OAuthClient.update(secret_hash=token_digest(secret), secret_hint=secret[-4:],
                           secret_rotated_at=utcnow()).where(OAuthClient.id == client.id).execute()
        audit.record("oauth.client.secret_rotated", client.org_id, client, {"client_id": client.client_id})
    return secret


def revoke_client(client):
    """Revoke the client and everything it holds: its tokens stop working at the next request."""
    _require_active(client)
    now = utcnow()
    with db.atomic():
        lock_org(client.org_id)
        OAuthClient.update(revoked_at=now).where(OAuthClient.id == client.id).execute()
        tokens = Token.update(revoked_at=now).where(Token.client == client.id,
                                                    Token.revoked_at.is_null()).execute()
        AuthorizationCode.update(used_at=now).where(AuthorizationCode.client == client.id,
                                                    AuthorizationCode.used_at.is_null()).execute()
        audit.record("oauth.client.revoked", client.org_id, client,
                     {"client_id": client.client_id, "revoked_tokens": tokens})


def purge_expired_credentials(now=None):
    """Delete codes and tokens nobody can use any more. A day's grace keeps a just-expired row for
    reuse detection; a used refresh token stays until its own expiry for the same reason."""
    now = now or utcnow()
    grace = timedelta(days=1)
    longest_access = timedelta(seconds=current_app.config["OAUTH_ACCESS_TOKEN_SECONDS"])
    with db.atomic():
        codes = AuthorizationCode.delete().where(AuthorizationCode.expires_at < now - grace).execute()
        tokens = (Token.delete()
                  .where(((Token.refresh_token_hash.is_null() | (Token.refresh_expires_at < now - grace))
                          & (Token.issued_at < now - longest_access - grace)))
                  .execute())
    return {"codes": codes, "tokens": tokens}


def active_grants(org):
    """Apps acting for members of `org` (authorization code grants, whichever org registered the app):
    the live token of each grant, with its client and user. An org's admins see and revoke them here."""
    now = utcnow()
    longest_access = timedelta(seconds=current_app.config["OAUTH_ACCESS_TOKEN_SECONDS"])
    return list(Token.for_org(org).select(Token, OAuthClient, User).join(OAuthClient).switch(Token).join(User)
                .where(Token.revoked_at.is_null(), Token.user.is_null(False),
                       (Token.refresh_expires_at > now) | (Token.issued_at > now - longest_access))
                .order_by(Token.issued_at.desc()))


FAMILY = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def revoke_grant(org, family):
    """End one app's access for one member of `org`: every token of the grant, at once. A family is a UUID:
    anything else (NUL, which PostgreSQL would refuse) is a grant that does not exist, without a query."""
    if not FAMILY.fullmatch(family or ""):
        raise NotFound()
    with db.atomic():
        tokens = Token.for_org(org).where(Token.family == family, Token.user.is_null(False))
        first = tokens.select(Token, OAuthClient).join(OAuthClient).first()
        if first is None:
            raise NotFound()
        revoked = (Token.update(revoked_at=utcnow())
                   .where(Token.org == org, Token.family == family, Token.revoked_at.is_null()).execute())
        audit.record("oauth.grant.revoked", org, object_type="TokenFamily", object_id=family,
                     change={"client_id": first.client.client_id, "app": first.client.name,
                             "user_id": first.user_id, "revoked_tokens": revoked})
    return revoked


def clients_of(org):
    return OAuthClient.for_org(org).order_by(OAuthClient.revoked_at.is_null().desc(), OAuthClient.name)
