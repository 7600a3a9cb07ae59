"""OAuth endpoints (authorize with its consent page, token, revoke, introspect, metadata) and the org
admin's page for managing API clients."""
from urllib.parse import parse_qs, urlsplit

from authlib.oauth2 import OAuth2Error
from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from portal.access import member, oauth_client, public, signed_in
from portal.forms import ConfirmForm, apply_service_errors
from portal.accounts.services import active_memberships
from portal.db import db
from portal.errors import ServiceError
from portal.extensions import csrf
from portal import audit
from portal.audit import acting_as
from portal.oauth import services
from portal.oauth.forms import ClientForm, ConsentForm
from portal.oauth.models import OAuthClient
from portal.oauth.scopes import SCOPES, scopes_for_kind, scopes_for_role, split_scope
from portal.oauth.server import PortalIssuer, authorization_server, issuer
from portal.security import allow_form_target
from portal.tenancy import current_org

bp = Blueprint("oauth", __name__)


# --- authorization server endpoints ---------------------------------------------------------------------

@bp.route("/.well-known/oauth-authorization-server")
@public
def metadata():
    """RFC 8414 metadata: where everything is and what this server supports."""
    base = issuer()
    response = jsonify({
        "issuer": base,
        "authorization_endpoint": base + url_for("oauth.authorize"),
        "token_endpoint": base + url_for("oauth.token"),
        "revocation_endpoint": base + url_for("oauth.revoke"),
        "introspection_endpoint": base + url_for("oauth.introspect"),
        "scopes_supported": list(SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": True,
        "service_documentation": base + url_for("api_docs.docs"),
    })
    if not current_app.config["OAUTH_ISSUER"]:
        # Read from the request's Host: a shared cache must not keep one client's view for the others.
        response.headers["Cache-Control"] = "no-store"
    return response


# The endpoints below are called by OAuth clients, which authenticate with their own credentials: no
# CSRF token, no cookies. Token and revoke run in one transaction, so that claiming a code or a refresh
# token and issuing the new token commit together (or not at all).

@bp.route("/oauth/token", methods=["POST"])
@csrf.exempt
@oauth_client
def token():
    return client_endpoint_response(authorization_server.create_token_response)


@bp.route("/oauth/revoke", methods=["POST"])
@csrf.exempt
@oauth_client
def revoke():
    return client_endpoint_response(lambda: authorization_server.create_endpoint_response("revocation"))


@bp.route("/oauth/introspect", methods=["POST"])
@csrf.exempt
@oauth_client
def introspect():
    return client_endpoint_response(lambda: authorization_server.create_endpoint_response("introspection"),
                                    writes=False)


def client_endpoint_response(create, writes=True):
    try:
        with acting_as("oauth"):  # audit events of these endpoints name the client in their change
            if not writes:
                return create()
            with db.atomic():
                return create()
    except OAuth2Error as error:  # raised before Authlib's own handling, e.g. plain HTTP off loopback
        return authorization_server.handle_error_response(None, error)


@bp.route("/oauth/authorize", methods=["GET", "POST"])
@signed_in
def authorize():
    """The consent page: which app, acting for which of the user's orgs, with which scopes."""
    try:
        grant = authorization_server.get_consent_grant(end_user=current_user)
    except OAuth2Error as error:
        return authorization_error(error)
    client = grant.client
    allow_form_target(grant.redirect_uri)  # the approve/deny submit ends in a redirect to the app
    options = consent_options(grant.request.scope)
    form = ConsentForm()
    chosen = choose_option(options, form.org_id.data if request.method == "POST" else None)
    if form.validate_on_submit():
        if request.form.get("decision") != "approve":
            return authorization_server.create_authorization_response(grant=grant, grant_user=None)
        if chosen is None or not chosen["granted"]:
            form.form_errors.append("Choose an organization this app can act for.")
        else:
            return approve(grant, chosen)
    status = 422 if form.form_errors else 200
    return render_template("oauth/consent.html", client=client, options=options, chosen=chosen, form=form,
                           scope_text=SCOPES), status


def consent_options(requested_scope):
    """For each of the user's orgs: what the app would be granted there (the client's scopes, cut to
    what fits the org's kind and the user's role there)."""
    requested = split_scope(requested_scope)
    options = []
    for membership in active_memberships(current_user):
        fitting = [s for s in requested if s in scopes_for_kind(membership.org.kind)]
        granted = scopes_for_role(fitting, membership.role)
        options.append({"membership": membership, "org": membership.org, "granted": granted,
                        "withheld": [s for s in requested if s not in granted]})
    return options


def choose_option(options, org_id):
    """The org the user picked on the form; on first view, the current org, else the first one."""
    if org_id is not None:
        return next((o for o in options if str(o["org"].id) == org_id), None)
    usable = [o for o in options if o["granted"]]
    current = next((o for o in usable if current_org and o["org"].id == current_org.id), None)
    return current or (usable[0] if usable else None)


def approve(grant, chosen):
    org = chosen["org"]
    grant.request.acting_org = org
    grant.request.granted_scope = " ".join(chosen["granted"])
    with db.atomic():
        response = authorization_server.create_authorization_response(grant=grant, grant_user=current_user)
        answer = parse_qs(urlsplit(response.headers.get("Location", "")).query)
        if "code" in answer and "error" not in answer:
            audit.record("oauth.app.authorized", org, object_type="OAuthClient", object_id=grant.client.id,
                         change={"client_id": grant.client.client_id, "app": grant.client.name,
                                 "scope": grant.request.granted_scope})
    return response


def authorization_error(error):
    """Errors go back to the app only when its redirect URI was verified; otherwise the user sees why."""
    if getattr(error, "redirect_uri", None):
        response = authorization_server.handle_error_response(None, error)
        PortalIssuer().add_issuer_parameter(authorization_server, response)
        return response
    message = error.description or error.error
    return render_template("oauth/authorize_error.html", error=error, message=message), error.status_code


# --- the admin's API clients page -----------------------------------------------------------------------

@bp.route("/settings/api-clients")
@member("admin")
def clients():
    return render_clients()


def render_clients(form=None, new_secret=None, status=200):
    if form is None:
        form = ClientForm(formdata=None)
    form.set_scope_choices(scopes_for_kind(current_org.kind))
    return render_template("oauth/clients.html", clients=list(services.clients_of(current_org)), form=form,
                           grants=services.active_grants(current_org), new_secret=new_secret,
                           token_url=url_for("oauth.token", _external=True)), status


@bp.route("/settings/api-clients", methods=["POST"])
@member("admin")
def create_client():
    form = ClientForm()
    form.set_scope_choices(scopes_for_kind(current_org.kind))
    if not form.validate_on_submit():
        return render_clients(form, status=422)
    try:
        client, secret = services.create_client(
            current_org, form.name.data, form.scope.data, public=form.client_type.data == "public",
            redirect_uris=form.redirect_uris.data, created_by=current_user._get_current_object())
    except ServiceError as error:
        apply_service_errors(form, error)
        return render_clients(form, status=error.status)
    flash(f"Client “{client.name}” registered.", "success")
    return render_clients(new_secret={"client": client, "secret": secret}, status=201)


@bp.route("/settings/api-clients/<int:client_pk>/rotate", methods=["POST"])
@member("admin")
def rotate_secret(client_pk):
    def shown_once(client, secret):
        flash(f"New secret for “{client.name}”. The old one no longer works.", "success")
        return render_clients(new_secret={"client": client, "secret": secret})
    return client_change(client_pk, services.rotate_secret, shown_once)


@bp.route("/settings/api-clients/<int:client_pk>/revoke", methods=["POST"])
@member("admin")
def revoke_client(client_pk):
    def back_to_list(client, _):
        flash(f"“{client.name}” is revoked; its tokens stopped working.", "success")
        return redirect(url_for("oauth.clients"))
    return client_change(client_pk, services.revoke_client, back_to_list)


def client_change(client_pk, change, answer):
    """One admin action on one of the org's clients; a refusal re-renders the page with the reason."""
    client = OAuthClient.get_for_org(client_pk, current_org)
    if not ConfirmForm().validate_on_submit():
        return render_clients(status=400)
    try:
        result = change(client)
    except ServiceError as error:
        flash(error.message, "error")
        return render_clients(status=error.status)
    return answer(client, result)


@bp.route("/settings/api-clients/grants/<family>/revoke", methods=["POST"])
@member("admin")
def revoke_grant(family):
    """End one app's access for one member, whichever org registered the app."""
    if not ConfirmForm().validate_on_submit():
        return render_clients(status=400)
    services.revoke_grant(current_org, family[:36])
    flash("The app's access was revoked; its tokens stopped working.", "success")
    return redirect(url_for("oauth.clients"))
