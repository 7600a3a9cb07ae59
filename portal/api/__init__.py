"""The REST API (`/api/v1`): flask-smorest blueprints, marshmallow schemas, an OpenAPI 3.1 document.

Each domain package keeps its own API views (`portal/<area>/api.py`) on an `ApiBlueprint`; this package
holds what they share: bearer-token access (`auth`), cursor pagination (`pagination`), problem+json
errors documented in the spec, and the documentation pages.
"""
import http

from flask_smorest import Api
from flask_smorest.utils import prepare_response

from portal.api.schemas import ProblemSchema
from portal.oauth.scopes import SCOPES

PROBLEM_JSON = "application/problem+json"


class PortalApi(Api):
    """flask-smorest's Api, with errors as RFC 9457 problems.

    The app's own error handlers (portal.errors) answer every error on /api/ with problem+json, so the
    handler flask-smorest would install for all HTTP errors is left out; the spec documents that shape.
    """

    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self):
        pass

    def _register_responses(self):
        for status in http.HTTPStatus:
            response = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_JSON)
            self.spec.components.response(status.name, response, lazy=True)
        default = {"description": "Error", "schema": self.ERROR_SCHEMA}
        prepare_response(default, self.spec, PROBLEM_JSON)
        self.spec.components.response("DEFAULT_ERROR", default, lazy=True)


api = PortalApi()


def spec_settings():
    return {
        "API_TITLE": "Alliance Portal API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.1.0",
        "OPENAPI_URL_PREFIX": None,  # the document and its docs page are served by portal.api.docs
        "API_SPEC_OPTIONS": {
            "info": {"description": "Trademarks, takedown notices, shared intelligence and weekly reports "
                                    "of the anti-counterfeiting alliance. Authenticate with an OAuth 2.0 "
                                    "bearer token; errors are application/problem+json (RFC 9457)."},
            "servers": [{"url": "/"}],
        },
    }


def security_scheme():
    return {
        "type": "oauth2",
        "description": "Tokens from /oauth/token. Client credentials act for the client's organization; "
                       "the authorization code flow (PKCE S256 required) acts for the organization the "
                       "user chose on the consent page.",
        "flows": {
            "clientCredentials": {"tokenUrl": "/oauth/token", "scopes": dict(SCOPES)},
            "authorizationCode": {"authorizationUrl": "/oauth/authorize", "tokenUrl": "/oauth/token",
                                  "refreshUrl": "/oauth/token", "scopes": dict(SCOPES)},
        },
    }


def init_app(app):
    from portal.accounts.api import blp as accounts_blp
    from portal.api.docs import bp as docs_bp
    from portal.intel.api import blp as intel_blp
    from portal.intel.screening_api import blp as screening_blp
    from portal.marks.api import blp as marks_blp
    from portal.notices.api import blp as notices_blp
    from portal.notices.batch_api import blp as notice_batches_blp
    from portal.notices.items_api import blp as notice_items_blp
    from portal.oauth.api import blp as oauth_blp
    from portal.partnerships.api import blp as partnerships_blp
    from portal.reports.api import blp as reports_blp

    for key, value in spec_settings().items():
        app.config.setdefault(key, value)
    api.init_app(app)
    api.spec.components.security_scheme("oauth2", security_scheme())
    from portal.extensions import csrf

    for blueprint in (oauth_blp, accounts_blp, marks_blp, partnerships_blp, notices_blp, notice_batches_blp,
                      notice_items_blp, intel_blp, screening_blp, reports_blp):
        api.register_blueprint(blueprint, url_prefix=f"/api/v1{blueprint.url_prefix or ''}")
        # The API authenticates by bearer token only and never reads cookies, so a forged cross-site
        # request carries no credentials: the CSRF token is for cookie-authenticated forms.
        csrf.exempt(blueprint)
    app.register_blueprint(docs_bp)
