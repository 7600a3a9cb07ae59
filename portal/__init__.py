"""Alliance Portal: the application factory.

`create_app()` reads the environment (portal.config), binds the database and the extensions, and registers
one blueprint per domain area. `wsgi.py` calls it for gunicorn and the `flask` command.
"""
import logging
import os

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from portal import db as database
from portal import errors, security
from portal.config import PROJECT_ROOT, settings_from_env
from portal.extensions import csrf, init_limiter, login_manager


def create_app(overrides=None):
    app = Flask(__name__, template_folder=str(PROJECT_ROOT / "templates"),
                static_folder=str(PROJECT_ROOT / "static"))
    settings = settings_from_env()
    settings.update(overrides or {})
    app.config.update(settings)
    # Werkzeug refuses a request body past this before any view reads it (a 413 with a clear message).
    # A notice's evidence files travel in one request: room for three files at the per-file cap.
    app.config.setdefault("MAX_CONTENT_LENGTH", max(app.config["MARKS_IMPORT_MAX_BYTES"],
                                                    app.config["MARK_PROOF_MAX_BYTES"],
                                                    3 * app.config["NOTICE_EVIDENCE_MAX_BYTES"]) + 1024 * 1024)
    app.instance_path = app.config["INSTANCE_PATH"]
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    if app.config["TRUSTED_PROXY_COUNT"]:
        count = app.config["TRUSTED_PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)

    database.init_app(app)
    errors.init_app(app)
    security.init_app(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    init_limiter(app)
    _register_accounts(app)
    _register_importers()
    _register_wordings()
    _register_blueprints(app)
    _register_api(app)
    _register_template_helpers(app)

    from portal.cli import register_commands
    register_commands(app)
    return app


def _register_importers():
    """Each kind of bulk upload registers its importer with the engine (portal.imports.registry) when its
    module is imported: here, so every web process and the worker (whose tasks run in this app) know them."""
    from portal.intel import authorized_import  # noqa: F401
    from portal.intel import imports as flag_importer  # noqa: F401
    from portal.marks import importer as mark_importer  # noqa: F401
    from portal.notices import batches as notice_batch_importer  # noqa: F401
    from portal.imports.registry import on_job_end
    from portal.notifications.services import import_ended
    on_job_end(import_ended)  # the uploader hears of an import that ended with errors


def _register_wordings():
    """Each domain words its audit events for the trail (portal.trail) when its `wording` module is imported."""
    from portal.accounts import wording as accounts_wording  # noqa: F401
    from portal.intel import wording as intel_wording  # noqa: F401
    from portal.marks import wording as marks_wording  # noqa: F401
    from portal.notices import wording as notices_wording  # noqa: F401
    from portal.notifications import wording as notifications_wording  # noqa: F401
    from portal.oauth import wording as oauth_wording  # noqa: F401
    from portal.partnerships import wording as partnerships_wording  # noqa: F401
    from portal.reports import wording as reports_wording  # noqa: F401
    from portal.sla import wording as sla_wording  # noqa: F401
    from portal.webhooks import wording as webhooks_wording  # noqa: F401


def _register_accounts(app):
    from portal.accounts import sessions

    login_manager.user_loader(sessions.load_user_from_session)
    # After the user loader: decides which org this request acts for (DESIGN.md rule 1).
    app.before_request(sessions.load_org_context)


def _register_blueprints(app):
    from portal.intel.routing import register_converters
    register_converters(app)  # before the routes that use them
    from portal.accounts.views import bp as accounts_bp
    from portal.dashboard.views import bp as dashboard_bp
    from portal.intel.screening_views import bp as screening_bp
    from portal.intel.views import bp as intel_bp
    from portal.marks.views import bp as marks_bp
    from portal.notices.views import bp as notices_bp
    from portal.notices import batch_views  # noqa: F401  (the batch pages, on the notices blueprint)
    from portal.notices import grounds_views  # noqa: F401  (the ground templates, on the notices blueprint)
    from portal.notifications.views import bp as notifications_bp
    from portal.oauth.views import bp as oauth_bp
    from portal.ops import bp as ops_bp
    from portal.partnerships.views import bp as partnerships_bp
    from portal.reports.views import bp as reports_bp
    from portal.webhooks.views import bp as webhooks_bp

    for blueprint in (accounts_bp, dashboard_bp, marks_bp, notices_bp, oauth_bp, ops_bp, partnerships_bp, intel_bp,
                      screening_bp, webhooks_bp, reports_bp, notifications_bp):
        app.register_blueprint(blueprint)


def _register_api(app):
    from portal import api
    from portal.oauth import server

    server.init_app(app)
    api.init_app(app)


def _register_template_helpers(app):
    from flask_login import current_user

    from portal.accounts.services import active_memberships
    from portal.tenancy import current_membership, current_org
    from portal.timeutil import format_local, human_duration, human_hours

    @app.template_filter("localtime")
    def localtime(moment, fmt="%Y-%m-%d %H:%M %Z"):
        tz_name = current_org.timezone if current_org else "UTC"
        return format_local(moment, tz_name, fmt)

    app.add_template_filter(human_duration, "duration")
    app.add_template_filter(human_hours, "hours")

    @app.context_processor
    def navigation():
        memberships = active_memberships(current_user) if current_user.is_authenticated else []
        return {"current_org": current_org, "current_membership": current_membership,
                "nav_memberships": memberships}
