"""Operational endpoints for load balancers and monitoring."""
from flask import Blueprint, jsonify

from portal.access import public
from portal.db import db

bp = Blueprint("ops", __name__)


@bp.route("/healthz")
@public
def healthz():
    """200 when the database answers; the 503 for an unreachable database comes from the error handler."""
    db.execute_sql("SELECT 1")
    return jsonify(status="ok")
