"""The OAuth 2.0 authorization server (Authlib) and the bearer-token check of the API.

Grants: client_credentials (a machine acting for the client's org), authorization_code with PKCE S256
required (an app acting for a user in the org the user chose), refresh_token with rotation and reuse
detection. No implicit or password grant is registered, so both answer `unsupported_*_type`.

Single use of codes and refresh tokens is enforced with a conditional UPDATE inside the token endpoint's
transaction: of two concurrent requests with the same code, exactly one claims it.
"""
import re
import uuid
from calendar import timegm
from datetime import timedelta

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.authenticate_client import authenticate_client_secret_basic as basic_authentication
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError, InvalidScopeError
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc6750.errors import InsufficientScopeError, InvalidTokenError
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oauth2.rfc9207 import IssuerParameter
from flask import current_app, request

from portal import audit
from portal.accounts.models import Membership, Organization, User
from portal.accounts.services import token_digest
from portal.db import PreparedSelect
from portal.oauth.models import AuthorizationCode, OAuthClient, Token
from portal.oauth.scopes import SCOPES, scopes_for_kind, scopes_for_role, split_scope
from portal.timeutil import utcnow

SECRET_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
ANY_AUTH_METHOD = SECRET_AUTH_METHODS + ["none"]
# RFC 6749 recommends at most 10 minutes; a code is exchanged within seconds by a working client.
MAX_CODE_SECONDS = 600
CLIENT_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def query_client(client_id):
    # Client ids are URL-safe base64; anything else (NUL, 2 KB of junk) is simply unknown.
    if not isinstance(client_id, str) or not CLIENT_ID_PATTERN.match(client_id):
        return None
    return (OAuthClient.select(OAuthClient, Organization).join(Organization)
            .where(OAuthClient.client_id == client_id, OAuthClient.revoked_at.is_null()).first())


def save_token(token, request):
    """Store the token Authlib generated, hashed. `token` is also the HTTP response: never change it."""
    client = request.client
    grant_type = request.payload.grant_type
    if grant_type == "authorization_code":
        code = request.authorization_code
        org_id, user_id, family = code.org_id, code.user_id, code.family
    elif grant_type == "refresh_token":
        previous = request.refresh_token
        org_id, user_id, family = previous.org_id, previous.user_id, previous.family
    else:
        org_id, user_id, family = client.org_id, None, str(uuid.uuid4())
    refresh_token = token.get("refresh_token")
    now = utcnow()
    Token.create(
        org=org_id, client=client.id, user=user_id, grant_type=grant_type, family=family,
        access_token_hash=token_digest(token["access_token"]),
        refresh_token_hash=token_digest(refresh_token) if refresh_token else None,
        scope=token.get("scope", ""), issued_at=now, expires_in=token["expires_in"],
        refresh_expires_at=(now + timedelta(days=current_app.config["OAUTH_REFRESH_TOKEN_DAYS"])
                            if refresh_token else None))
    touch_client(client)


def touch_client(client, now=None):
    """Record the client's last use, at most once a minute (not one write per API request)."""
    now = now or utcnow()
    if client.last_used_at is None or now - client.last_used_at > timedelta(seconds=60):
        OAuthClient.update(last_used_at=now).where(OAuthClient.id == client.id).execute()
        client.last_used_at = now


def revoke_family(family, reason, org_id, client):
    """Revoke every token of one grant (all rotations of a refresh token, or all tokens from one code)."""
    revoked = (Token.update(revoked_at=utcnow())
               .where(Token.family == family, Token.revoked_at.is_null()).execute())
    audit.record(f"oauth.token.{reason}", org_id, object_type="TokenFamily", object_id=family,
                 change={"revoked_tokens": revoked, "client_id": client.client_id})
    return revoked


def effective_scopes(token, org_kind):
    """What a token may do now: its scopes, cut to what the org's kind allows and, for a user's token,
    to what the user's current role allows. None when the user's access has gone. The API check and
    introspection both answer from this."""
    scopes = [s for s in token.scope_list if s in scopes_for_kind(org_kind)]
    if token.user_id is None:
        return scopes, None
    membership = acting_member(token.user_id, token.org_id)
    if membership is None:
        return None, None
    return scopes_for_role(scopes, membership.role), membership


def acting_member(user_id, org_id):
    """The active membership through which a user's token acts, or None when access has gone: the member
    left, or the org requires two-factor authentication the user has not set up (a grant made before the
    mandate works again once they have, as the user's own pages do)."""
    return (Membership.select(Membership, User).join(User).switch(Membership).join(Organization)
            .where(Membership.user == user_id, Membership.org == org_id,
                   Membership.active == True, User.active == True,  # noqa: E712
                   (Organization.two_factor_required == False)  # noqa: E712
                   | User.two_factor_enabled_at.is_null(False))
            .first())


class S256CodeChallenge(CodeChallenge):
    """PKCE is required of every client, with S256 only: `plain` would let a stolen code be redeemed."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send code_challenge and code_challenge_method=S256.",
                                      redirect_uri=redirect_uri)
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256; plain is not accepted.",
                                      redirect_uri=redirect_uri)
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant, result):
        if not grant.request.form.get("code_verifier"):
            raise InvalidRequestError("Missing 'code_verifier': PKCE is required.")
        super().validate_code_verifier(grant, result)


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = SECRET_AUTH_METHODS


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ANY_AUTH_METHOD

    def save_authorization_code(self, code, request):
        # The consent view put the org the user chose and the scope granted for it on the request.
        seconds = min(current_app.config["OAUTH_CODE_SECONDS"], MAX_CODE_SECONDS)
        now = utcnow()
        AuthorizationCode.create(
            org=request.acting_org.id, client=request.client.id, user=request.user.id,
            code_hash=token_digest(code), redirect_uri=request.payload.redirect_uri or "",
            scope=request.granted_scope, code_challenge=request.payload.data["code_challenge"],
            code_challenge_method=request.payload.data["code_challenge_method"],
            family=str(uuid.uuid4()), created_at=now, expires_at=now + timedelta(seconds=seconds))

    def query_authorization_code(self, code, client):
        row = (AuthorizationCode.select()
               .where(AuthorizationCode.code_hash == token_digest(code),
                      AuthorizationCode.client == client.id).first())
        if row is None or row.is_expired():
            return None
        return row  # a used code is returned too: validate_token_request treats it as reuse

    def validate_token_request(self):
        super().validate_token_request()  # includes the PKCE verifier check
        code = self.request.authorization_code
        claimed = (AuthorizationCode.update(used_at=utcnow())
                   .where(AuthorizationCode.id == code.id, AuthorizationCode.used_at.is_null()).execute())
        if not claimed:
            # RFC 6749 4.1.2: a code used twice was probably stolen; revoke what it gave.
            revoke_family(code.family, "code_reused", code.org_id, self.request.client)
            raise InvalidGrantError("This code was already used; the tokens issued with it are revoked.")
        if acting_member(code.user_id, code.org_id) is None:
            raise InvalidGrantError("The user no longer has access to this organization.")

    def delete_authorization_code(self, authorization_code):
        pass  # claimed (used_at) in validate_token_request and kept, so that reuse can be detected

    def authenticate_user(self, authorization_code):
        return User.get_by_id(authorization_code.user_id)


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ANY_AUTH_METHOD
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotation: every refresh answers with a new refresh token

    def authenticate_refresh_token(self, refresh_token):
        row = Token.select().where(Token.refresh_token_hash == token_digest(refresh_token)).first()
        if row is None:
            return None
        if row.refresh_used_at is not None:
            return row  # reuse of a rotated token: validate_token_request revokes the family
        return row if row.is_refresh_usable() else None

    def validate_token_request(self):
        super().validate_token_request()  # client authentication and client binding first
        requested = self.request.payload.scope
        if requested is not None and not split_scope(requested):
            # Authlib would accept " " as a subset of anything and issue a token with no scope, which
            # the next refresh would widen to the client's defaults: refuse it before claiming.
            raise InvalidScopeError("The scope may be omitted (to keep it) but not blank.")
        old = self.request.refresh_token
        claimed = 0
        if old.refresh_used_at is None:
            claimed = (Token.update(refresh_used_at=utcnow())
                       .where(Token.id == old.id, Token.refresh_used_at.is_null(), Token.revoked_at.is_null())
                       .execute())
        if not claimed:
            revoke_family(old.family, "refresh_reused", old.org_id, self.request.client)
            raise InvalidGrantError("This refresh token was already used; every token of this grant "
                                    "is now revoked. Ask the user to authorize the app again.")
        if old.user_id is not None and acting_member(old.user_id, old.org_id) is None:
            raise InvalidGrantError("The user no longer has access to this organization.")

    def authenticate_user(self, refresh_token):
        return User.get_by_id(refresh_token.user_id)

    def revoke_old_credential(self, refresh_token):
        Token.update(revoked_at=utcnow()).where(Token.id == refresh_token.id).execute()


def query_token_by_hint(token_string, token_type_hint):
    """The token row for an access or refresh token string; `matched` says which of the two it is.
    The hint only orders nothing here: both are looked up, as RFC 7009 2.1 asks when a hint misses."""
    digest = token_digest(token_string or "")
    row = (Token.select(Token, OAuthClient, Organization).join(OAuthClient).switch(Token)
           .join(Organization, on=(Token.org == Organization.id))
           .where((Token.access_token_hash == digest) | (Token.refresh_token_hash == digest)).first())
    if row is not None:
        row.matched = "access_token" if row.access_token_hash == digest else "refresh_token"
    return row


class TokenLookup:
    """What revocation and introspection share: finding the token, whatever its type. An unknown
    token_type_hint is ignored (RFC 7662 2.1; RFC 7009 2.1 says to search all types), instead of
    Authlib's unsupported_token_type answered as a 401."""

    def check_params(self, request, client):
        if not request.form.get("token"):
            raise InvalidRequestError("Missing 'token'.")

    def query_token(self, token_string, token_type_hint):
        return query_token_by_hint(token_string, token_type_hint)


class TokenRevocation(TokenLookup, RevocationEndpoint):
    CLIENT_AUTH_METHODS = ANY_AUTH_METHOD

    def revoke_token(self, token, request):
        # Revoking either token of a grant ends the whole grant (RFC 7009 section 2.1 allows it, and a
        # client revoking its refresh token means "sign this app out").
        Token.update(revoked_at=utcnow()).where(Token.family == token.family,
                                                Token.revoked_at.is_null()).execute()


class TokenIntrospection(TokenLookup, IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = SECRET_AUTH_METHODS  # resource servers are confidential clients

    def check_permission(self, token, client, request):
        # A client may introspect tokens of its own org only; others learn nothing ("active": false).
        return token.org_id == client.org_id

    def create_introspection_payload(self, token):
        if token is None or token.is_revoked() or not token.client.is_active:
            return {"active": False}
        if token.matched == "refresh_token":
            if not token.is_refresh_usable():
                return {"active": False}
            expires_at = token.refresh_expires_at
        else:
            if token.is_expired():
                return {"active": False}
            expires_at = token.expires_at
        scopes, membership = effective_scopes(token, token.org.kind)
        if scopes is None:
            return {"active": False}
        payload = {"active": True, "client_id": token.client.client_id, "scope": " ".join(scopes),
                   "token_type": "Bearer" if token.matched == "access_token" else "refresh_token",
                   "exp": _epoch(expires_at), "iat": _epoch(token.issued_at), "org": token.org.slug}
        if membership is not None:
            payload["username"] = membership.user.email
        return payload


def _epoch(moment):
    return timegm(moment.utctimetuple())  # stored times are naive UTC


# --- the API side: checking bearer tokens -------------------------------------------------------------

class PortalBearerTokenValidator(BearerTokenValidator):
    # Every API request runs this lookup: one prepared query, only the columns the checks and /me need.
    LOOKUP = PreparedSelect(lambda digest: (
        Token.select(Token.id, Token.org, Token.client, Token.user, Token.scope, Token.issued_at,
                     Token.expires_in, Token.revoked_at, OAuthClient.client_id, OAuthClient.name,
                     OAuthClient.revoked_at, OAuthClient.last_used_at, Organization.slug, Organization.name,
                     Organization.kind, Organization.timezone)
        .join(OAuthClient).switch(Token).join(Organization, on=(Token.org == Organization.id))
        .where(Token.access_token_hash == digest)))

    def authenticate_token(self, token_string):
        row = self.LOOKUP.first(token_digest(token_string))
        if row is None:
            return None
        (token_id, org_id, client_pk, user_id, scope, issued_at, expires_in, revoked_at, client_id,
         client_name, client_revoked_at, client_last_used_at, slug, name, kind, timezone) = row
        token = Token(id=token_id, user=user_id, scope=scope, issued_at=issued_at, expires_in=expires_in,
                      revoked_at=revoked_at)
        token.org = Organization(id=org_id, slug=slug, name=name, kind=kind, timezone=timezone)
        token.client = OAuthClient(id=client_pk, org=org_id, client_id=client_id, name=client_name,
                                   revoked_at=client_revoked_at, last_used_at=client_last_used_at)
        return token

    def validate_token(self, token, scopes, request):
        if token is None or token.is_expired() or token.is_revoked() or not token.client.is_active:
            raise InvalidTokenError(realm=self.realm)
        granted, membership = effective_scopes(token, token.org.kind)
        if granted is None:
            raise InvalidTokenError(realm=self.realm)
        token.granted_scopes = granted
        token.acting_user = membership.user if membership else None
        token.acting_role = membership.role if membership else None
        missing = [scope for scope in (scopes or []) if scope not in granted]
        if missing:
            error = InsufficientScopeError(description=f"This request needs the scope {missing[0]}.")
            error.needed_scope = missing[0]
            raise error


def authenticate_client_secret_basic(query_client, request):
    """Authlib's client_secret_basic, except that a header which is not base64 of UTF-8 counts as no
    credentials (answered invalid_client) instead of escaping as a 500 from every client endpoint."""
    try:
        return basic_authentication(query_client, request)
    except ValueError:  # UnicodeDecodeError included
        return None


def issuer():
    """This server's identifier: OAUTH_ISSUER, else the request's own base URL."""
    return current_app.config["OAUTH_ISSUER"] or request.url_root.rstrip("/")


class PortalIssuer(IssuerParameter):
    """RFC 9207: every authorization response (errors included) names its issuer in `iss`, so a client
    talking to several servers can tell which one answered (the mix-up defence RFC 9700 recommends)."""

    def get_issuer(self):
        return issuer()


def create_authorization_server():
    server = AuthorizationServer(query_client=query_client, save_token=save_token)
    server.register_client_auth_method("client_secret_basic", authenticate_client_secret_basic)
    server.register_grant(ClientCredentialsGrant)
    server.register_grant(AuthorizationCodeGrant, [S256CodeChallenge(required=True)])
    server.register_grant(RefreshTokenGrant)
    server.register_endpoint(TokenRevocation)
    server.register_endpoint(TokenIntrospection)
    server.register_extension(PortalIssuer())
    return server


authorization_server = create_authorization_server()


def init_app(app):
    app.config.setdefault("OAUTH2_SCOPES_SUPPORTED", list(SCOPES))
    app.config.setdefault("OAUTH2_REFRESH_TOKEN_GENERATOR", True)
    seconds = app.config["OAUTH_ACCESS_TOKEN_SECONDS"]
    app.config.setdefault("OAUTH2_TOKEN_EXPIRES_IN", {grant: seconds for grant in (
        "client_credentials", "authorization_code", "refresh_token")})
    authorization_server.init_app(app)
