"""Bearer-token access to the API: `ApiBlueprint.requires(scope)` on every API view.

The token is checked by Authlib's resource protector with our validator (portal.oauth.server); the
org the token acts for becomes the request's current org, so API handlers scope their queries with the
same `Model.for_org(current_org)` helpers as the pages. Rate limits are per client, across the API.
"""
from functools import wraps

import flask_smorest
from authlib.integrations.flask_oauth2 import ResourceProtector
from authlib.oauth2 import OAuth2Error
from flask import abort, g, request
from marshmallow import RAISE
from marshmallow import ValidationError as SchemaValidationError
from webargs.flaskparser import FlaskParser
from webargs.multidictproxy import MultiDictProxy
from werkzeug.datastructures import CombinedMultiDict

from portal.access import declare_bearer
from portal.errors import problem_response
from portal.api.ratelimit import count_request
from portal.oauth.server import PortalBearerTokenValidator, touch_client
from portal.textcheck import first_bad_text, nested_errors

REALM = "alliance-portal"

UNAUTHORIZED = "Send a valid access token: Authorization: Bearer <token> (from POST /oauth/token)."


class ProblemResourceProtector(ResourceProtector):
    """Authlib's protector, answering with problem+json and the RFC 6750 WWW-Authenticate header."""

    def raise_error_response(self, error):
        if error.error == "insufficient_scope":
            scope = getattr(error, "needed_scope", "")
            response = problem_response(403, "Forbidden", error.description, error="insufficient_scope",
                                        scope=scope)
            response.headers["WWW-Authenticate"] = (f'Bearer realm="{REALM}", error="insufficient_scope", '
                                                    f'scope="{scope}"')
        else:
            token_sent = error.error not in ("missing_authorization", "unsupported_token_type")
            detail = error.description if error.error == "invalid_token" else UNAUTHORIZED
            response = problem_response(401, "Unauthorized", detail,
                                        **({"error": "invalid_token"} if token_sent else {}))
            challenge = f'Bearer realm="{REALM}"'
            if token_sent:
                challenge += ', error="invalid_token"'
            response.headers["WWW-Authenticate"] = challenge
        abort(response)


require_token = ProblemResourceProtector()
require_token.register_token_validator(PortalBearerTokenValidator(realm=REALM))


def authenticate(scope):
    """Check the bearer token (and scope); put the token and its org into `g` for the handler."""
    try:
        token = require_token.acquire_token([scope] if scope else None)
    except OAuth2Error as error:
        require_token.raise_error_response(error)
    g.api_token = token
    g.org = token.org
    touch_client(token.client)
    return token


def refuse_odd_query_parameters(takes_query):
    """Query parameters the view does not declare, or given twice, are a 422 naming them: the argument
    parser refuses unknown ones only on views that declare a query schema, and keeps the first of two."""
    unknown = [] if takes_query else list(request.args)
    repeated = [key for key in request.args if len(request.args.getlist(key)) > 1]
    if unknown or repeated:
        errors = {key: "Unknown field." for key in unknown}
        errors.update({key: "Give this parameter once." for key in repeated if key not in errors})
        abort(problem_response(422, "Unprocessable Entity", "The request has invalid fields; nothing was "
                                                            "changed.", errors))


class PortalParser(FlaskParser):
    """webargs' parser with one more location, `multipart`: the form fields and the files of a
    multipart/form-data body read together (a file upload with its options); and JSON bodies checked
    for text that cannot be stored, and for nesting too deep to parse, before any schema reads them."""

    __location_map__ = dict(FlaskParser.__location_map__, multipart="load_multipart")

    def load_multipart(self, req, schema):
        return MultiDictProxy(CombinedMultiDict([req.form, req.files]), schema)

    def load_json(self, req, schema):
        try:
            return super().load_json(req, schema)
        except RecursionError:  # json.loads gives up on very deep nesting this way; webargs lets it through
            abort(problem_response(400, "Bad Request", "The JSON body is nested too deeply to read; nothing "
                                                       "was changed."))

    def pre_load(self, location_data, *, schema, req, location):
        """A JSON body holding text that cannot be stored (a lone surrogate, NUL: portal.textcheck) is a 422
        naming the field, before the schema or the view reads any of it: nothing is written."""
        if location == "json":
            found = first_bad_text(location_data)
            if found:
                raise SchemaValidationError(nested_errors(*found))
        return location_data


class ApiBlueprint(flask_smorest.Blueprint):
    # Unknown fields are refused in every location (JSON body, query string, form): a misspelt
    # `limt=10` or `{"wrod": ...}` is a 422 naming the field, never silently ignored.
    ARGUMENTS_PARSER = PortalParser(unknown=RAISE)
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = dict(flask_smorest.Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
                                                 multipart="multipart/form-data")

    def requires(self, scope=None):
        """Protect a view with a bearer token holding `scope` (None: any valid token) and document it.

        Put it first on the view, right under `@blp.route`: the token is checked before arguments are
        parsed, and the route registers the guarded view (the route tests fail on an unguarded one).
        """
        def decorate(view):
            takes_query = any(parameter["in"] == "query" for parameter in
                              getattr(view, "_apidoc", {}).get("arguments", {}).get("parameters", []))

            @wraps(view)
            def guarded(*args, **kwargs):
                token = authenticate(scope)
                refuse_odd_query_parameters(takes_query)
                count_request(token.client.client_id)
                return view(*args, **kwargs)

            declare_bearer(guarded, scope)
            guarded = self.doc(security=[{"oauth2": [scope] if scope else []}])(guarded)
            guarded = self.alt_response(400, response="BAD_REQUEST",
                                        description="Malformed request (text with NUL characters)")(guarded)
            guarded = self.alt_response(401, response="UNAUTHORIZED",
                                        description="Token missing, invalid, expired or revoked")(guarded)
            if scope:
                guarded = self.alt_response(403, response="FORBIDDEN",
                                            description=f"The token lacks the scope {scope}")(guarded)
            return self.alt_response(429, response="TOO_MANY_REQUESTS",
                                     description="Rate limit of the client exceeded; see Retry-After")(guarded)
        return decorate


def current_token():
    return g.get("api_token")
