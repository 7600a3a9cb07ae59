"""Weekly reports over the API (`reports:read`): the report of a week as JSON or CSV, and the weeks there are.

A closed week answers its snapshot byte for byte, with the snapshot's SHA-256 as its ETag (a conditional
GET with If-None-Match answers 304); the live week is computed at each call and is never cached.
"""
from flask import Response, request
from marshmallow import Schema, fields, validate

from portal.api.auth import ApiBlueprint
from portal.csvutil import csv_lines
from portal.reports import services
from portal.reports.figures import INTEL_FIGURES, ITEM_FIGURES
from portal.tenancy import current_org

blp = ApiBlueprint("Reports", __name__, url_prefix="/reports",
                   description="Weekly enforcement reports: closed weeks are immutable snapshots")

WEEK_TEXT = {"description": "An ISO week in your organization's time zone; default: the last closed week",
             "example": "2026-W46", "pattern": r"^\d{4}-W\d{2}$"}
TIME = {"description": "UTC, ISO 8601 with Z", "format": "date-time"}


# Figures added in version 2 of the document: a version-1 snapshot (taken before) does not carry them.
SINCE_VERSION_2 = "Since version 2 of the report; absent from older closed weeks' snapshots."


def _figure(name):
    if name.endswith("_percent"):
        return fields.Float(required=True, allow_none=True,
                            metadata={"description": "Met / (met + breached) in %; null: none decided"})
    if name.endswith("_hours"):
        return fields.Float(allow_none=True, metadata={"description": "The same duration in hours, two decimals. "
                                                                      + SINCE_VERSION_2})
    if name.endswith("_open_breached"):
        return fields.Integer(metadata={"description": "Clocks still open at week end (now, for the live week) "
                                                       "whose deadline had passed. " + SINCE_VERSION_2})
    if name.endswith("_seconds"):
        return fields.Integer(required=True, allow_none=True, metadata={"description": "A duration in seconds"})
    return fields.Integer(required=True, allow_none=True)


def _figures(names):
    return {name: _figure(name) for name in names}


def _totals():
    return {**_figures(ITEM_FIGURES), **_figures(INTEL_FIGURES),
            "fast_lane_partnerships": fields.Integer(required=True)}


TotalsSchema = Schema.from_dict(_totals(), name="ReportTotals")
MarketplaceRow = Schema.from_dict({"marketplace": fields.String(required=True), "name": fields.String(required=True),
                                   **_figures(ITEM_FIGURES), **_figures(INTEL_FIGURES)}, name="ReportMarketplaceRow")
GoodFaith = Schema.from_dict({
    "window_days": fields.Integer(required=True), "decided": fields.Integer(required=True),
    "removed": fields.Integer(required=True), "rejected": fields.Integer(required=True),
    "removed_share": fields.Float(required=True, allow_none=True),
    "counter_notices_decided": fields.Integer(required=True),
    "counter_notices_succeeded": fields.Integer(required=True),
    "counter_success_share": fields.Float(required=True), "fast_lane": fields.Boolean(required=True),
    "under_review": fields.Boolean(required=True), "min_decided": fields.Integer(required=True)},
    name="ReportGoodFaith")
PartnershipRow = Schema.from_dict({
    "partnership": fields.String(required=True, metadata={"example": "P-0002"}),
    "partner": fields.String(required=True, metadata={"description": "Slug of the other side"}),
    "partner_name": fields.String(required=True), "status": fields.String(required=True),
    **_figures(ITEM_FIGURES),
    "good_faith": fields.Nested(GoodFaith, required=True, metadata={"description": "The brand's score at week end"})},
    name="ReportPartnershipRow")
SellerRow = Schema.from_dict({"marketplace": fields.String(required=True), "seller_id": fields.String(required=True),
                              "removed_items": fields.Integer(required=True)}, name="ReportTopSeller")
TrendRow = Schema.from_dict({"week": fields.String(required=True), **_totals()}, name="ReportTrendWeek")


class ReportSchema(Schema):
    report = fields.String(required=True, metadata={"example": services.REPORT_KIND})
    version = fields.Integer(required=True)
    org = fields.Dict(required=True, metadata={"description": "slug, name and kind of your organization"})
    week = fields.String(required=True, metadata={"example": "2026-W46"})
    time_zone = fields.String(required=True, metadata={"description": "The org's IANA zone the week is in"})
    starts_at = fields.String(required=True, metadata=TIME)
    ends_at = fields.String(required=True, metadata=TIME)
    status = fields.String(required=True, metadata={"enum": ["closed", "live"]})
    as_of = fields.String(required=True, metadata={**TIME, "description": "Week end, or now for the live week"})
    computed_at = fields.String(required=True, metadata=TIME)
    totals = fields.Nested(TotalsSchema, required=True)
    by_marketplace = fields.List(fields.Nested(MarketplaceRow), required=True)
    by_partnership = fields.List(fields.Nested(PartnershipRow), required=True)
    top_sellers = fields.List(fields.Nested(SellerRow), required=True)
    trends = fields.List(fields.Nested(TrendRow), required=True,
                         metadata={"description": "The totals of the 12 weeks before, oldest first"})


class ReportArgs(Schema):
    week = fields.String(validate=validate.Regexp(r"^[0-9]{4}-W[0-9]{2}$",
                                                  error="Give an ISO week as YYYY-Www, such as 2026-W46."),
                         metadata=WEEK_TEXT)
    format = fields.String(validate=validate.OneOf(["json", "csv"]),
                           metadata={"description": "csv: one figure per line (also with Accept: text/csv)"})


class WeekSchema(Schema):
    week = fields.String(required=True, metadata={"example": "2026-W46"})
    status = fields.String(required=True, metadata={"enum": ["closed", "live"]})
    starts_at = fields.String(required=True, metadata=TIME)
    ends_at = fields.String(required=True, metadata=TIME)
    sha256 = fields.String(required=True, allow_none=True,
                           metadata={"description": "Of the closed week's snapshot; null until it is taken"})


class WeeksSchema(Schema):
    time_zone = fields.String(required=True)
    weeks = fields.List(fields.Nested(WeekSchema), required=True, metadata={"description": "Newest first"})


# The report is served as stored (its bytes), so the view answers a Response and documents both types here.
REPORT_DOC = {"responses": {
    "200": {"description": "The report as JSON, or as CSV with format=csv or Accept: text/csv",
            "content": {"application/json": {"schema": ReportSchema},
                        "text/csv": {"schema": {"type": "string"}}},
            "headers": {"ETag": {"description": "Closed weeks: the snapshot's SHA-256", "schema": {"type": "string"}},
                        "X-Report-Status": {"description": "closed or live", "schema": {"type": "string"}}}},
    "304": {"description": "Not modified: If-None-Match named the closed week's ETag"}}}


@blp.route("/weekly", methods=["GET"])
@blp.requires("reports:read")
@blp.arguments(ReportArgs, location="query")
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
@blp.doc(**REPORT_DOC)
def weekly_report(args):
    """Your organization's weekly enforcement report (brands: notices sent; platforms: notices received)"""
    report = services.weekly_report(current_org, args.get("week"))
    as_csv = args.get("format") == "csv" or (
        "format" not in args and request.accept_mimetypes.best_match(["application/json", "text/csv"]) == "text/csv")
    return report_response(report, as_csv)


def report_response(report, as_csv):
    """The report as JSON (its canonical bytes) or CSV; a closed week with its ETag, and 304 when it matches."""
    etag = f"{report.sha256}-csv" if as_csv and report.closed else report.sha256
    headers = {"X-Report-Week": str(report.week), "X-Report-Status": "closed" if report.closed else "live",
               "Vary": "Accept"}
    if report.closed:
        headers.update({"ETag": f'"{etag}"', "Cache-Control": "private, no-cache"})
        if request.if_none_match.contains_weak(etag):  # RFC 9110: If-None-Match compares weakly
            return Response(status=304, headers=headers)
    else:
        headers["Cache-Control"] = "private, no-store"
    if as_csv:
        filename = f"weekly-report-{report.org.slug}-{report.week}.csv"
        body = "\ufeff" + "".join(csv_lines(services.CSV_HEADER, services.csv_rows(report.data)))
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
        return Response(body, mimetype="text/csv", headers=headers)
    return Response(report.body, mimetype="application/json", headers=headers)


@blp.route("/weekly/weeks", methods=["GET"])
@blp.requires("reports:read")
@blp.response(200, WeeksSchema)
def weekly_weeks():
    """The weeks you can pull, newest first: the live week, then the closed ones with their snapshot digest"""
    return {"time_zone": current_org.timezone, "weeks": services.available_weeks(current_org)}
