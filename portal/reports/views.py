"""The weekly report pages: the report with its charts, and its CSV and JSON downloads (the API's bytes)."""
from datetime import timedelta

from flask import Blueprint, flash, redirect, render_template, request, url_for
from jinja2 import Undefined

from portal.access import member
from portal.errors import ValidationError
from portal.reports import services
from portal.reports.api import report_response
from portal.reports.charts import report_charts
from portal.reports.figures import INTEL_FIGURES, ITEM_FIGURES, LABELS
from portal.tenancy import current_org
from portal.timeutil import human_duration

bp = Blueprint("reports", __name__, url_prefix="/reports")
# The page writes durations in days and hours once; the `_hours` twins are for the CSV and JSON.
PAGE_FIGURES = tuple(name for name in ITEM_FIGURES if not name.endswith("_hours"))


@bp.route("/weekly")
@member("viewer")
def weekly():
    try:
        report = services.weekly_report(current_org, request.args.get("week"))
    except ValidationError as error:
        flash(" ".join(m for messages in error.errors.values() for m in messages), "error")
        return redirect(url_for("reports.weekly"))
    data = report.data
    weeks = services.available_weeks(current_org)
    return render_template("reports/weekly.html", report=report, data=data, weeks=weeks,
                           charts=report_charts(data, LABELS), labels=LABELS, item_figures=PAGE_FIGURES,
                           intel_figures=INTEL_FIGURES, neighbours=_neighbours(report.week, weeks),
                           one_week_less_a_day=timedelta(days=6))


@bp.route("/weekly.csv")
@member("viewer")
def weekly_csv():
    return report_response(services.weekly_report(current_org, request.args.get("week")), as_csv=True)


@bp.route("/weekly.json")
@member("viewer")
def weekly_json():
    return report_response(services.weekly_report(current_org, request.args.get("week")), as_csv=False)


def _neighbours(week, weeks):
    listed = {row["week"] for row in weeks}
    earlier, later = str(week.shifted(-1)), str(week.shifted(1))
    return (earlier if earlier in listed else None), (later if later in listed else None)


def figure_text(name, value):
    """A figure for people: durations in days and hours, percentages with their sign, none as a dash."""
    if value is None or isinstance(value, Undefined):  # Undefined: a figure an older snapshot lacks
        return "–"
    if name.endswith("_seconds"):
        return human_duration(timedelta(seconds=value))
    if name.endswith("_percent"):
        return f"{value:g} %"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"{value:,}"


@bp.app_template_filter("figure")
def figure_filter(value, name):
    return figure_text(name, value)


@bp.app_template_global()
def compliance_words(row, metric):
    """Compliance with what it leaves out: "100 % of 69 completed on time; 14 open clocks breached"."""
    met, late = row.get(f"{metric}_met") or 0, row.get(f"{metric}_breached") or 0
    done = (f"{row[f'{metric}_compliance_percent']:g} % of {met + late:,} completed on time" if met + late
            else "none completed")
    open_breached = row.get(f"{metric}_open_breached")
    if open_breached is None:  # a version-1 snapshot did not count them
        return done
    return f"{done}; {open_breached:,} open clock{'' if open_breached == 1 else 's'} breached"
