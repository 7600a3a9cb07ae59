"""The OpenAPI document and a readable reference page built from it (no CDN, no script)."""
from flask import Blueprint, jsonify, render_template

from portal.access import public
from portal.api import api
from portal.oauth.scopes import SCOPES

bp = Blueprint("api_docs", __name__)

METHOD_ORDER = ("get", "post", "put", "patch", "delete")


@bp.route("/api/openapi.json")
@public
def openapi_json():
    return jsonify(api.spec.to_dict())


@bp.route("/api/docs")
@public
def docs():
    spec = api.spec.to_dict()
    operations = []
    for path, item in spec.get("paths", {}).items():
        for method in METHOD_ORDER:
            if method in item:
                operations.append(describe_operation(spec, path, method, item[method]))
    return render_template("api/docs.html", spec=spec, operations=operations, scopes=SCOPES)


def describe_operation(spec, path, method, operation):
    scopes = [scope for requirement in operation.get("security", []) for scope in requirement.get("oauth2", [])]
    return {
        "anchor": f"{method}-{path}".replace("/", "-").replace("{", "").replace("}", "").strip("-"),
        "method": method.upper(), "path": path, "summary": operation.get("summary", ""),
        "description": operation.get("description", ""), "tag": (operation.get("tags") or [""])[0],
        "scopes": scopes, "authenticated": "security" in operation,
        "parameters": operation.get("parameters", []),
        "responses": sorted(operation.get("responses", {}).items()),
        "body": operation.get("requestBody"),
    }
