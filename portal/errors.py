"""Errors shared by services, pages, API and CLI, and the handlers that turn them into responses.

Services raise `ValidationError` (field -> messages) or `Conflict`; a page re-renders its form with the
messages, the CLI prints them as JSON, the API (later) answers application/problem+json (RFC 9457).
Nothing a user sends may produce a 500.
"""
import errno
import logging

from flask import current_app, g, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from peewee import DataError, IntegrityError, InterfaceError, OperationalError
from playhouse.pool import MaxConnectionsExceeded
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.exceptions import NotFound as HTTPNotFound

from portal.access import is_token_request
from portal.text import human_size

log = logging.getLogger(__name__)


class ServiceError(Exception):
    """A business rule refused the request. `errors` maps a field name (or "__all__") to messages."""

    status = 400

    def __init__(self, errors):
        if isinstance(errors, str):
            errors = {"__all__": [errors]}
        self.errors = {field: list(messages) if isinstance(messages, (list, tuple)) else [messages]
                       for field, messages in errors.items()}
        super().__init__(self.message)

    @property
    def message(self):
        return "; ".join(f"{m}" if f == "__all__" else f"{f}: {m}"
                         for f, messages in self.errors.items() for m in messages)


class ValidationError(ServiceError):
    status = 422


class Conflict(ServiceError):
    status = 409


class Forbidden(ServiceError):
    """The object may be seen but not changed by this org (another member's flag)."""

    status = 403


# A write refused for want of room: the disk or a quota is full (ENOSPC, EDQUOT), or the file would pass
# the process's file size limit (EFBIG, RLIMIT_FSIZE).
NO_ROOM_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
NO_ROOM_FOR_FILE = "The server has no room to store this file; nothing was kept. Try again later."
NO_ROOM_FOR_CHANGE = "The server has no room to store this change; nothing was changed. Try again later."


class StorageFull(ServiceError):
    """The server ran out of room while keeping an upload; the partial file is already deleted."""

    status = 507


def is_out_of_room(error):
    """A full disk, a quota or the file size limit, as an OSError or as the database's own error (SQLite:
    "database or disk is full"; PostgreSQL: SQLSTATE 53100 disk_full)."""
    if isinstance(error, OSError):
        return error.errno in NO_ROOM_ERRNOS
    if "database or disk is full" in str(error):
        return True
    # Peewee raises its own class with the driver's exception as first argument (and as context).
    originals = [error.__cause__, error.__context__, *(a for a in error.args if isinstance(a, BaseException))]
    return any(getattr(original, "sqlstate", None) == "53100"
               or isinstance(original, OSError) and original.errno in NO_ROOM_ERRNOS for original in originals)


class NotFound(HTTPNotFound):
    """Missing, or owned by another org: the two are indistinguishable on purpose (DESIGN.md rule 1)."""

    description = "No such page or object in your organization."


def wants_problem_json():
    """API paths (known or not), token and client endpoints, operational endpoints and clients that ask
    for JSON get problem+json, not a page."""
    return (request.path.startswith("/api/") or request.blueprint == "ops" or is_token_request()
            or request.accept_mimetypes.best in ("application/json", "application/problem+json"))


def problem_response(status, title, detail=None, errors=None, **extensions):
    """An RFC 9457 problem. `errors` (field -> messages, or a list) becomes a list of {field, message}."""
    body = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = field_error_list(errors)
    body.update(extensions)
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


def field_error_list(errors):
    """{"name": ["msg"], "json": {"scope": ["Unknown field."]}} -> [{"field": ..., "message": ...}, ...]."""
    if isinstance(errors, list):
        return errors
    flat = []

    def walk(prefix, value):
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(prefix, item)
        else:
            flat.append({"field": prefix or "__all__", "message": str(value)})

    walk("", errors)
    return flat


def request_argument_errors(error):
    """Validation messages webargs (flask-smorest) attached to a 422, without the location level:
    {"json": {"name": [...]}} -> {"name": [...]}."""
    messages = (getattr(error, "data", None) or {}).get("messages") or {}
    merged = {}
    for location_errors in messages.values():
        if isinstance(location_errors, dict):
            merged.update(location_errors)
    return merged


def handle_http_error(error):
    if error.response is not None:  # a response prepared by whoever raised it (the sign-in throttle)
        return error.response
    if wants_problem_json():
        argument_errors = request_argument_errors(error)
        if argument_errors:
            return problem_response(error.code, error.name, "The request has invalid fields; nothing was "
                                                            "changed.", argument_errors)
        return problem_response(error.code, error.name, error.description)
    template = f"errors/{error.code}.html" if error.code in (400, 403, 404) else "errors/generic.html"
    return render_template(template, error=error), error.code


def refusal(status, title, message, errors=None, template="errors/generic.html"):
    """One refused request, as problem+json for API clients or as a page with the reason for people."""
    if wants_problem_json():
        return problem_response(status, title, message, errors)
    return render_template(template, code=status, heading=title, message=message), status


def handle_csrf_failure(error):
    return refusal(400, "Bad request", "This form has expired or was sent from another site. "
                                       "Reload the page and try again; nothing was changed.")


def handle_database_unavailable(error):
    if is_out_of_room(error):
        log.error("no room to write on %s %s: %s", request.method, request.path, error)
        return refusal(507, "Insufficient Storage", NO_ROOM_FOR_CHANGE)
    # A lost or locked database must read as "try again", never as a traceback.
    log.error("database unavailable: %s", error)
    without_database()
    return refusal(503, "Service Unavailable", "The database is unavailable; try again shortly.",
                   template="errors/503.html")


def without_database():
    """Render the error page as for a visitor: the template context processors (Flask-Login's current_user,
    the navigation's memberships) would otherwise load the signed-in user from the database that just
    failed, and the 503 page would become a 500."""
    g._login_user = current_app.login_manager.anonymous_user()


def handle_too_large(error):
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
    return refusal(413, "Upload too large", f"The upload is larger than the limit of {human_size(limit)}. "
                                            "Nothing was kept.")


def handle_service_error(error):
    """Safety net for a refusal no view turned into a form message: a 4xx page with the reason."""
    if isinstance(error, StorageFull):
        return refusal(507, "Insufficient Storage", NO_ROOM_FOR_FILE, error.errors)
    return refusal(error.status, "Request refused", error.message, error.errors)


def handle_os_error(error):
    """No room for a file the request is writing: reading an upload (Werkzeug spools a large file part to a
    temporary file, which is deleted with the request) or keeping it. A 507 saying nothing was kept; any
    other OSError is a bug and goes on to the 500 handler, logged with its traceback."""
    if not is_out_of_room(error):
        raise error
    log.error("no room to store an upload on %s %s: %s", request.method, request.path, error)
    return refusal(507, "Insufficient Storage", NO_ROOM_FOR_FILE)


def handle_integrity_error(error):
    # Two requests changed the same thing at once and a unique or foreign key refused the second one.
    log.warning("integrity error on %s %s: %s", request.method, request.path, error)
    return refusal(409, "Conflict", "This was changed by someone else at the same moment. "
                                    "Reload the page and try again.")


def handle_data_error(error):
    log.warning("data error on %s %s: %s", request.method, request.path, error)
    return refusal(400, "Bad request", "A value was not accepted (too long or malformed). Nothing was changed.")


def handle_unexpected(error):
    # Flask logs the original exception itself; this only chooses the response shape.
    if wants_problem_json():
        return problem_response(500, "Internal Server Error", "Something went wrong on our side.")
    return render_template("errors/500.html"), 500


def init_app(app):
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(RequestEntityTooLarge, handle_too_large)
    app.register_error_handler(CSRFError, handle_csrf_failure)
    app.register_error_handler(OperationalError, handle_database_unavailable)
    app.register_error_handler(InterfaceError, handle_database_unavailable)
    app.register_error_handler(MaxConnectionsExceeded, handle_database_unavailable)
    app.register_error_handler(ServiceError, handle_service_error)
    app.register_error_handler(IntegrityError, handle_integrity_error)
    app.register_error_handler(DataError, handle_data_error)
    app.register_error_handler(OSError, handle_os_error)
    # Registered for 500 (not Exception) so tests still see real tracebacks: Flask only calls this when it
    # would otherwise answer with a bare 500 page.
    app.register_error_handler(500, handle_unexpected)
