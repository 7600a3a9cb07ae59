"""Pages of listing screening: screen a batch of listings, read its hits, file a notice from them, and
keep the list of authorized sellers screening leaves alone. Brands only (a platform gets 404). Views stay
thin: the rules live in portal.intel.screen."""
import tempfile

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import Length

from portal.access import member
from portal.forms import apply_service_errors
from portal.csvutil import csv_response
from portal.errors import ServiceError
from portal.imports import pages as import_pages
from portal.imports import runner
from portal.intel import screen
from portal.intel.authorized_import import COLUMN_HELP as AUTHORIZED_COLUMN_HELP
from portal.intel.authorized_import import AuthorizedSellerImporter

from portal.imports.tables import FileRefused, open_table
from portal.notices import rules as notice_rules
from portal.notices.services import GOOD_FAITH_STATEMENT
from portal.paging import numbered_page
from portal.partnerships.forms import as_choices
from portal.partnerships.services import visible_marketplaces
from portal.tenancy import current_membership, current_org

bp = Blueprint("screening", __name__, url_prefix="/intel")

PAGE_SIZE = 50
HITS_PAGE_SIZE = notice_rules.MAX_ITEMS  # one page of hits is at most one notice


def user():
    return current_user._get_current_object()


def can_act():
    return current_membership.role in ("admin", "analyst")


def seller_path(hit):
    """Where a hit's seller leads: its intelligence page when the brand may read something there (a flag it
    may see: the hit is `flagged`); otherwise the form to flag it, prefilled (the page would be a 404)."""
    if hit.flagged:
        return url_for("intel.seller", marketplace=hit.marketplace.slug, seller_id=hit.seller_id)
    return url_for("intel.new_flag", marketplace=hit.marketplace.slug, seller_id=hit.seller_id)


# --- forms --------------------------------------------------------------------------------------------

class ScreeningForm(FlaskForm):
    marketplace = SelectField("Default marketplace", choices=[], validate_choice=False,
                              description="For rows that do not name their marketplace.")
    listings = TextAreaField("Listings", validators=[Length(max=screen.MAX_LISTINGS * 3000)],
                             description="One listing per line: URL, seller id, title and price separated by tabs "
                                         "(paste from a spreadsheet).")
    listings_file = FileField("Or a listings file (.csv or .xlsx)",
                              description="Columns title and url (required), price, seller_id and marketplace; "
                                          "see the template. Up to 10,000 listings.")


class FileFromHitsForm(FlaskForm):
    partnership = SelectField("Partnership", choices=[], validate_choice=False)
    # Twice the service's limit: browsers send line breaks as two characters; the service counts one.
    explanation = TextAreaField("Explanation", validators=[Length(max=notice_rules.MAX_EXPLANATION * 2)],
                                description="Prefilled from the findings of every unfiled hit: edit it to fit the "
                                            "hits you select and add what you know (a test buy, the price), or "
                                            "empty it to have it built from the selected hits, listing by "
                                            "listing.")
    test_buy_ref = StringField("Test-buy order reference (optional)", validators=[Length(max=200)])
    confirm_jurisdiction = BooleanField("File anyway: I know these marks are not registered where this marketplace "
                                        "trades")
    good_faith = BooleanField("I make the good-faith statement above")

    def values(self):
        return {"partnership": self.partnership.data or None, "explanation": self.explanation.data,
                "test_buy_ref": self.test_buy_ref.data, "good_faith": self.good_faith.data,
                "confirm_jurisdiction": self.confirm_jurisdiction.data}


class AuthorizedForm(FlaskForm):
    marketplace = SelectField("Marketplace", choices=[], validate_choice=False)
    seller_id = StringField("Seller id on the marketplace", validators=[Length(max=400)])
    note = StringField("Note (optional)", validators=[Length(max=1000)],
                       description="Who they are: a licensed distributor, your own store...")


def marketplace_choices(org, blank):
    """Marketplaces of the brand's partners first (where it can file), then the rest of the alliance."""
    partners = {m.id for m in visible_marketplaces(org)}
    every = screen.marketplaces()
    ordered = [m for m in every if m.id in partners] + [m for m in every if m.id not in partners]
    choices = [("", blank)] if blank else []
    return as_choices(choices + [(m.slug, f"{m.name} ({m.org.name})") for m in ordered])


# --- screenings -----------------------------------------------------------------------------------------

@bp.route("/screenings")
@member("viewer", org_kind="brand")
def index():
    page = numbered_page(screen.screenings(current_org), PAGE_SIZE)
    return render_template("intel/screening_index.html", screenings=page.rows, total=page.total, page=page.number,
                           pages=page.count, can_act=can_act())


@bp.route("/screenings/template.csv")
@member("viewer", org_kind="brand")
def template():
    return csv_response("screening-template.csv", list(screen.SCREENING_COLUMNS.names), [])


def entries_of(form):
    """(entries, source, filename, warnings): the uploaded file's rows if there is one, else the box's lines."""
    upload = form.listings_file.data
    if upload is None or not getattr(upload, "filename", ""):
        return screen.entries_from_text(form.listings.data), "form", "", []
    with tempfile.NamedTemporaryFile(prefix="screening-") as handle:
        data = upload.stream.read(screen.MAX_FILE_BYTES + 1)
        if len(data) > screen.MAX_FILE_BYTES:
            raise FileRefused("too_large", f"A listings file is at most {screen.MAX_FILE_BYTES // (1024 * 1024)} MB "
                                           f"({screen.MAX_LISTINGS:,} listings); split it.")
        handle.write(data)
        handle.flush()
        table = open_table(handle.name, upload.filename, screen.MAX_UNPACKED_BYTES, spec=screen.SCREENING_COLUMNS)
        return screen.entries_from_table(table), "upload", upload.filename, table.warnings


def render_new(form, status=200, problems=()):
    return render_template("intel/screening_new.html", form=form, problems=problems,
                           max_listings=screen.MAX_LISTINGS), status


@bp.route("/screenings/new", methods=["GET", "POST"])
@member("analyst", org_kind="brand")
def new():
    form = ScreeningForm()
    form.marketplace.choices = marketplace_choices(current_org, "None: each row names its marketplace")
    if not form.validate_on_submit():
        return render_new(form, 422 if form.is_submitted() else 200)
    try:
        entries, source, filename, warnings = entries_of(form)
        found = screen.screen_listings(current_org, entries, default_marketplace=form.marketplace.data,
                                       source=source, filename=filename, user=user())
    except screen.ScreeningRefused as refused:
        form.listings.errors = list(form.listings.errors) + [refused.message]
        return render_new(form, refused.status, problems=refused.problems)
    except FileRefused as refused:
        form.listings_file.errors = list(form.listings_file.errors) + [refused.text]
        return render_new(form, refused.status)
    except ServiceError as error:
        apply_service_errors(form, error)
        return render_new(form, error.status)
    message = f"Screened {found.listings:,} listing(s): {found.hit_count:,} hit(s)"
    if found.authorized_skipped:
        message += f", {found.authorized_skipped:,} left out (authorized sellers)"
    flash(message + ".", "success")
    for warning in warnings[:3]:  # unknown columns ignored, a Windows-1252 file: worth knowing, not refusing
        flash(warning, "warning")
    return redirect(url_for("screening.detail", screening_id=found.id))


def partnership_choices(org, hits):
    """Active partnerships covering the marketplaces of the unfiled hits (all of them if none does)."""
    choices, seen = [], set()
    marketplaces = {hit.marketplace_id: hit.marketplace for hit in hits}
    for marketplace in marketplaces.values():
        for partnership in screen.partnerships_for(org, marketplace):
            if partnership.id not in seen:
                seen.add(partnership.id)
                choices.append((str(partnership.id), partnership.platform.name))
    if len(choices) != 1:
        choices = [("", "Choose…")] + choices
    return as_choices(choices)


def render_detail(screening, form=None, status=200, selected=(), warning=None, problems=()):
    page = numbered_page(screen.hits_query(screening), HITS_PAGE_SIZE)
    hits = screen.with_flags(screening, page.rows)
    unfiled = [hit for hit in hits if hit.notice_id is None]
    flagged = screen.flagged_count(screening)
    if form is None:
        form = FileFromHitsForm(formdata=None)
        form.explanation.data = screen.default_explanation(unfiled, per_listing=False) if unfiled else ""
    form.partnership.choices = partnership_choices(current_org, unfiled)
    return render_template("intel/screening_detail.html", screening=screening, hits=hits, unfiled=unfiled, form=form,
                           selected={str(value) for value in selected}, seller_path=seller_path,
                           words_of=screen.words_of, indicators_of=screen.indicators_of, can_act=can_act(),
                           statement=GOOD_FAITH_STATEMENT, warning=warning, problems=problems,
                           page=page.number, pages=page.count, page_size=HITS_PAGE_SIZE,
                           flagged=flagged), status


@bp.route("/screenings/<int:screening_id>")
@member("viewer", org_kind="brand")
def detail(screening_id):
    return render_detail(screen.get_screening(screening_id, current_org))


@bp.route("/screenings/<int:screening_id>/notice", methods=["POST"])
@member("analyst", org_kind="brand")
def file_notice(screening_id):
    screening = screen.get_screening(screening_id, current_org)
    form = FileFromHitsForm()
    form.partnership.choices = partnership_choices(current_org, [])
    selected = request.form.getlist("hit")
    if not form.validate_on_submit():
        return render_detail(screening, form, 422 if form.is_submitted() else 200, selected)
    try:
        filed = screen.file_notice_from_hits(current_org, screening, selected, form.values(), user())
    except ServiceError as error:
        apply_service_errors(form, error)  # hits, marks, marketplace: above the form
        return render_detail(screening, form, error.status, selected,
                             warning=error.errors.get("confirm_jurisdiction"),
                             problems=getattr(error, "problems", ()))
    notice = filed.notice
    flash(f"Notice {notice.reference} filed with {notice.item_count} listing(s) to {notice.platform.name}.", "success")
    if filed.skipped:
        shown = "; ".join(f"{s['url'][:100]} ({s['notice']}, {s['state']})" for s in filed.skipped[:3])
        more = f" and {len(filed.skipped) - 3} more" if len(filed.skipped) > 3 else ""
        flash(f"{len(filed.skipped)} listing(s) not filed again, already under your notices: {shown}{more}.",
              "warning")
    for warning in filed.warnings:
        flash(warning, "warning")
    return redirect(url_for("notices.detail", notice_id=notice.id))


# --- authorized sellers ---------------------------------------------------------------------------------

def render_authorized(form, status=200):
    return render_template("intel/authorized_sellers.html", form=form, sellers=screen.authorized_sellers(current_org),
                           can_act=can_act()), status


@bp.route("/authorized-sellers", methods=["GET", "POST"])
@member("viewer", org_kind="brand")
def authorized():
    form = AuthorizedForm()
    form.marketplace.choices = marketplace_choices(current_org, "Choose…")
    if not form.validate_on_submit():
        return render_authorized(form, 422 if form.is_submitted() else 200)
    # The decorator already refuses a viewer's POST (403): only analysts and admins get here with a form.
    try:
        added = screen.add_authorized_seller(current_org, form.marketplace.data, form.seller_id.data,
                                             form.note.data, user())
    except ServiceError as error:
        apply_service_errors(form, error)
        return render_authorized(form, error.status)
    flash(f"{added.external_id} is an authorized seller: screening leaves its listings alone.", "success")
    return redirect(url_for("screening.authorized"))


@bp.route("/authorized-sellers/<int:authorized_id>/delete", methods=["POST"])
@member("analyst", org_kind="brand")
def remove_authorized(authorized_id):
    removed = screen.remove_authorized_seller(current_org, authorized_id, user())
    flash(f"{removed.external_id} is no longer on your list of authorized sellers.", "success")
    return redirect(url_for("screening.authorized"))


# --- authorized sellers from a file (the import engine's shared pages) ---------------------------------------

class AuthorizedImportForm(FlaskForm):
    file = FileField("Authorized sellers (.csv or .xlsx)", validators=[FileRequired(message="Choose a file.")])
    dry_run = BooleanField("Dry run: only show what would happen, change nothing")


def render_authorized_imports(form=None, status=200, refused=None):
    return render_template("intel/authorized_imports.html", form=form or AuthorizedImportForm(),
                           jobs=import_pages.recent_jobs(current_org, "authorized"),
                           columns=AuthorizedSellerImporter.columns, column_help=AUTHORIZED_COLUMN_HELP,
                           refused=refused, limits=runner.limits(), update_rules=runner.UPDATE_RULES_HELP,
                           pages=AuthorizedSellerImporter.pages), status


import_pages.add_routes(bp, AuthorizedSellerImporter, "/authorized-sellers/import", lambda: current_org, user,
                        AuthorizedImportForm, render_authorized_imports, org_kind="brand",
                        file_prefix="authorized-import")


@bp.route("/authorized-sellers/import-template.csv")
@member("viewer", org_kind="brand")
def authorized_import_template():
    """The columns and one example row, on a marketplace of the alliance."""
    markets = screen.marketplaces()
    example = [markets[0].slug if markets else "taobao", "official-store-123", "Our own flagship store"]
    return csv_response("authorized-sellers-template.csv", list(AuthorizedSellerImporter.columns.names), [example])
