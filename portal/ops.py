"""Operational endpoints for load balancers and monitoring."""
from flask import Blueprint, jsonify

from portal.access import public
from portal.db import db

bp = Blueprint("ops", __name__)


@bp.route("/healthz")
@public
def healthz():
    """200 when the database answers. When it does not, the error handler answers a JSON 503."""
    db.execute_sql("SELECT 1")
    return jsonify(status="ok")
