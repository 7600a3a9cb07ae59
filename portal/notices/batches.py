"""Notice batches: up to 50,000 listings in one upload (a CSV/XLSX file from the page, or a file or a JSON
`listings` array over the API) filed as many notices, through the import engine (portal.imports).

One row is one listing: `url` (required), `seller_id`, `title`, and the notice's own fields, each of which
the row may leave blank to take the batch's default: `marketplace` (a slug), `reason_code`, `marks`,
`explanation` and `test_buy_ref`. The batch's defaults and options come with the upload (form fields, API
fields): the partnership and/or marketplace, the reason, the marks, the explanation, the test-buy reference,
the good-faith statement (required, for the whole batch), `confirm_jurisdiction` (file even where a mark
does not cover the marketplace's country) and `group_by_seller`.

A mark is named by a registration number of one of the brand's marks (`018123456`, or with its office
`EUIPO 018123456` / `EUIPO:018123456` when two offices share the number), or by its id as `#42`; the API
also takes ids as JSON numbers. A cell names several marks separated by `;` (or `,`).

How it runs (the engine's Importer, this module's NoticeBatchImporter):
1. Each row is checked as file_notice would check it (the listing by portal.notices.rules, the marketplace
   and partnership terms by portal.partnerships.services.filing_terms, the marks by the filing service's
   own check): bad rows are reported by row and column and left out; a URL under an active notice of the
   brand, or twice in the file (by its URL key), is refused too. Accepted rows are staged
   (NoticeBatchRow) in their batch's transaction, with their group's key.
2. Once every row is in (`complete`), the rows are planned, once, in one transaction: grouped by
   (marketplace, reason, marks, explanation, test-buy reference) and, with group_by_seller, by seller id;
   each group split into notices of at most 300 listings (650 listings: 300, 300, 50), numbered in the
   order of each group's first row. A dry run stops here and shows the plan.
3. Otherwise each planned notice is filed through portal.notices.services.file_notice (every rule, audit
   event, SLA clock and webhook of a notice filed by hand), in a transaction that also records it as filed:
   a worker that dies between two notices leaves the batch where it was, and the resumed job files only the
   planned notices still open. A notice that cannot be filed on its own account (its listings filed
   meanwhile, a mark no longer verified) is recorded as not filed with the reason and the batch goes on;
   one refused because the partnership no longer allows filing (suspended, ended, terms out of effect or
   no longer covering the marketplace) stops the batch: the rest is recorded as not filed with that reason
   and the job ends as failed with a message naming what was filed and what was not.
"""
import hashlib
import io
import logging
import math
import re

from flask import current_app
from peewee import IntegrityError, InterfaceError, OperationalError, fn

from portal import audit, bulk, uploads
from portal.accounts.models import Marketplace
from portal.audit import canonical_json
from portal.csvutil import csv_lines
from portal.db import db
from portal.errors import NotFound, ValidationError
from portal.imports import runner
from portal.imports.models import ImportJob
from portal.imports.pages import ImportPages
from portal.imports.registry import register
from portal.imports.rows import Checked, Problem, as_text
from portal.imports.runner import IMPORT_AREA, Importer, JobTakenOver, limits
from portal.imports.service import schedule
from portal.imports.tables import Columns, FileRefused, open_table
from portal.marks.models import Mark
from portal.marks.offices import OFFICES, SEPARATORS, normalise_number
from portal.notices import rules, services
from portal.notices.batch_models import NoticeBatch, NoticeBatchRow, PlannedNotice
from portal.notices.models import REASONS, STATE_LABELS, Notice, notice_reference
from portal.packed import pack_codes, unpack_codes
from portal.partnerships import services as partnerships
from portal.partnerships.models import Partnership
from portal.tenancy import MAX_ID, lock_org, object_id
from portal.timeutil import local_today, utcnow

log = logging.getLogger(__name__)

KIND = "notice_batch"
MAX_ROWS = 50_000  # NOTICE_BATCH_MAX_ROWS
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # visible ASCII, as the IETF draft's examples
BATCH_COLUMNS = Columns(
    names=("url", "seller_id", "title", "marketplace", "reason_code", "marks", "explanation", "test_buy_ref"),
    required=("url",),
    aliases={**rules.LISTING_COLUMNS.aliases,
             "marketplace": ("marketplace", "market", "marketplaceslug", "platform"),
             "reason_code": ("reasoncode", "reason"),
             "marks": ("marks", "mark", "marksreliedon", "registrationnumbers", "registrationnumber",
                       "trademarks", "trademark"),
             "explanation": ("explanation", "notes", "description"),
             "test_buy_ref": ("testbuyref", "testbuy", "testbuyreference", "testbuyorder")})
COLUMN_HELP = {
    "url": "Required. The listing's full address (http or https). A URL twice in the file, or already under "
           "one of your notices that is open or removed, is reported and not filed again.",
    "seller_id": "The seller's id on the marketplace (needed to group by seller).",
    "title": "The listing's title, as the marketplace shows it.",
    "marketplace": "The marketplace's slug, such as taobao; blank: the batch's marketplace.",
    "reason_code": ", ".join(REASONS) + "; blank: the batch's reason.",
    "marks": "The marks the listing infringes: registration numbers of your verified marks (with the office, "
             "such as EUIPO 018123456, when two offices share a number) or #id, separated by semicolons; "
             "blank: the batch's marks.",
    "explanation": "What is infringing and why (at least a sentence); blank: the batch's explanation. Rows "
                   "with an explanation of their own go into notices of their own.",
    "test_buy_ref": "Your test-buy order reference; blank: the batch's. Rows with their own go into notices "
                    "of their own.",
}
ROW_FIELDS = ("org", "batch", "row", "url", "url_key", "seller_id", "title", "marketplace", "partnership",
              "reason_code", "marks", "explanation", "test_buy_ref", "group_key")
PLANNED_FIELDS = ("org", "batch", "number", "partnership", "marketplace", "reason_code", "marks", "seller_id",
                  "explanation", "test_buy_ref", "part", "parts", "listing_count")
SHOWN_REFERENCES = 20


def max_rows():
    return current_app.config.get("NOTICE_BATCH_MAX_ROWS", MAX_ROWS)


class IdempotencyKeyReused(ValidationError):
    """The Idempotency-Key came before with another request: nothing is done (the API answers 422)."""

    code = "idempotency_key_reused"


# --- naming marks ------------------------------------------------------------------------------------

MARK_SEPARATORS = re.compile(r"[;,|\n]+")


class MarkNames:
    """Resolves what a cell or a field says about marks into the brand's mark ids, once per distinct text."""

    def __init__(self, brand):
        self.brand = brand
        self._cache = {}

    def resolve(self, values):
        """(sorted ids, problems) for a cell's text or a list of references (ints: ids; strings: as a cell)."""
        if isinstance(values, (list, tuple)):
            references = [value for value in values if value is not None and str(value).strip() != ""]
        else:
            references = [part for part in MARK_SEPARATORS.split(as_text(values)) if part.strip()]
        ids, problems = set(), []
        for reference in references:
            found, problem = self.one(reference)
            if problem:
                problems.append(problem)
            else:
                ids.add(found)
        return sorted(ids), problems

    def one(self, reference):
        key = (type(reference) is int, str(reference).strip())
        if key not in self._cache:
            self._cache[key] = self._lookup(reference)
        return self._cache[key]

    def _lookup(self, reference):
        if isinstance(reference, bool):
            return None, "A mark is named by its registration number or #id."
        if isinstance(reference, int) or (isinstance(reference, str) and reference.strip().startswith("#")):
            text = str(reference).strip().lstrip("#").strip()
            if not text.isdigit() or not 1 <= int(text) <= MAX_ID:
                return None, f"“{str(reference)[:40]}” is not a mark id."
            mark = Mark.for_org(self.brand).where(Mark.id == int(text)).first()
            return (mark.id, None) if mark else (None, f"No mark of yours has the id {text[:20]}.")
        text = str(reference).strip()
        office, _, number = text.partition(":") if ":" in text else text.partition(" ")
        office = office.strip().upper()
        if number.strip() and office:
            normalised, error = normalise_number(office, number.strip())
            marks = [] if error else list(Mark.for_org(self.brand).where(
                (Mark.office == office) & (Mark.registration_number == normalised)).limit(2))
            if marks:
                return marks[0].id, None
        # A number alone: the brand's marks whose number it is, in any office's way of writing it.
        candidates = {SEPARATORS.sub("", text.upper())}
        candidates.update(found for found in (office_.normalise(text) for office_ in OFFICES.values()) if found)
        marks = list(Mark.for_org(self.brand).where(Mark.registration_number.in_(sorted(candidates))).limit(20))
        marks = [m for m in marks if m.registration_number == SEPARATORS.sub("", text.upper())
                 or (m.office in OFFICES and OFFICES[m.office].normalise(text) == m.registration_number)]
        if len(marks) == 1:
            return marks[0].id, None
        if len(marks) > 1:
            offices = ", ".join(f"{m.office} {m.registration_number}" for m in marks[:5])
            return None, f"{text[:40]} is the number of several of your marks ({offices}): add the office."
        return None, f"No mark of yours has the registration number {text[:40]}."


# --- the batch's defaults ----------------------------------------------------------------------------

def clean_defaults(brand, values):
    """The batch's defaults and options, checked; a ValidationError (field -> message) otherwise. Rows are
    checked against them later, one by one; here only what holds for the whole batch."""
    errors, cleaned = {}, {}
    partnership = None
    if values.get("partnership") not in (None, ""):
        try:
            partnership = partnerships.get_partnership(values["partnership"], brand)
            if partnership.brand_id != brand.id:
                raise NotFound()
            cleaned["partnership"] = partnership.id
        except NotFound:
            errors["partnership"] = "Choose one of your partnerships."
    slug = as_text(values.get("marketplace")).lower()
    if slug:
        marketplace = Marketplace.get_or_none(Marketplace.slug == slug[:64])
        if marketplace is None:
            errors["marketplace"] = f"No marketplace {slug[:64]!r} in the alliance."
        elif partnership is not None and marketplace.org_id != partnership.platform_id:
            errors["marketplace"] = (f"{marketplace.name} is not a marketplace of {partnership.platform.name}, "
                                     "the batch's partnership.")
        cleaned["marketplace"] = slug[:64]
    reason_code = as_text(values.get("reason_code"))
    if reason_code and reason_code not in REASONS:
        errors["reason_code"] = "Choose a reason: " + ", ".join(REASONS) + "."
    cleaned["reason_code"] = reason_code
    marks = values.get("marks")
    if marks not in (None, "", []):
        ids, problems = MarkNames(brand).resolve(marks)
        if problems:
            errors["marks"] = " ".join(problems[:10])
        elif len(ids) > rules.MAX_MARKS:
            errors["marks"] = f"A notice relies on at most {rules.MAX_MARKS} registrations; choose those that matter."
        else:
            # Verified and unexpired, as the filing service wants them (whether they cover a marketplace's
            # country is for each row to say: it depends on the row's marketplace).
            services._check_marks(errors, brand, ids, None, local_today(brand.timezone))
        cleaned["marks"] = pack_codes(ids)
    explanation = str(values.get("explanation") or "").strip()
    if explanation and len(explanation) < rules.MIN_EXPLANATION:
        errors["explanation"] = (f"Explain what is infringing and why (at least {rules.MIN_EXPLANATION} "
                                 "characters), or leave it to each row.")
    elif len(explanation) > rules.MAX_EXPLANATION:
        errors["explanation"] = f"Use at most {rules.MAX_EXPLANATION} characters."
    cleaned["explanation"] = explanation
    test_buy_ref = as_text(values.get("test_buy_ref"))
    if len(test_buy_ref) > services.MAX_TEST_BUY_REF:
        errors["test_buy_ref"] = f"Use at most {services.MAX_TEST_BUY_REF} characters."
    cleaned["test_buy_ref"] = test_buy_ref
    if values.get("good_faith") is not True:
        errors["good_faith"] = ("Confirm the good-faith statement: it is made once for every notice of the batch, "
                                "and no notice is filed without it.")
    cleaned["confirm_jurisdiction"] = bool(values.get("confirm_jurisdiction"))
    cleaned["group_by_seller"] = bool(values.get("group_by_seller"))
    if errors:
        raise ValidationError(errors)
    return cleaned


# --- the importer ------------------------------------------------------------------------------------

class NoticeBatchImporter(Importer):
    kind = KIND
    columns = BATCH_COLUMNS
    key_columns = ("url", "marketplace", "seller_id")
    audit_name = "notice_batch"
    batch_event = "notice_batch.staged"  # never written: staging is the job's own record, like its report
    consequence_words = {}
    pages = ImportPages("notices.batches", "notices.batch", "notices.batch_status", "notices.apply_batch",
                        "notices.batch_errors", "notices.batch_report", "Batches of notices", "listing",
                        "your notices")

    @classmethod
    def check_org(cls, org):
        if org.is_platform:
            raise FileRefused("not_a_brand", "Only brands file notices; a platform answers them.")

    def __init__(self, job):
        super().__init__(job)
        self.batch = NoticeBatch.get_by_id(job.id)
        self.defaults = {"marketplace": self.batch.marketplace, "reason_code": self.batch.reason_code,
                         "marks": self.batch.mark_ids, "explanation": self.batch.explanation,
                         "test_buy_ref": self.batch.test_buy_ref}
        self.marks = MarkNames(self.org)
        self._places, self._mark_checks = {}, {}
        self.now = utcnow()

    def count_rows(self, table):
        """The batch's own row limit (the file was counted when it came; this is for a resumed job)."""
        total = table.count_rows()
        if total > max_rows():
            raise FileRefused("too_many_rows", too_many_rows(total))
        ImportJob.update(total_rows=total, heartbeat_at=utcnow()).where(ImportJob.id == self.job.id).execute()
        self.job.total_rows = total

    # --- rows ---

    def place(self, slug):
        """(marketplace, partnership, problem) for a marketplace slug: the partnership the brand files under
        there, and whether its terms allow filing there today."""
        if slug not in self._places:
            self._places[slug] = self._place(slug)
        return self._places[slug]

    def _place(self, slug):
        marketplace = Marketplace.get_or_none(Marketplace.slug == slug[:64])
        if marketplace is None:
            return None, None, f"No marketplace {slug[:64]!r} in the alliance."
        if self.batch.partnership_id:
            partnership = Partnership.get_by_id(self.batch.partnership_id)
            if partnership.platform_id != marketplace.org_id:
                return None, None, (f"{marketplace.name} is not a marketplace of {partnership.platform.name}, "
                                    "the batch's partnership.")
        else:
            partnership = partnerships.live_partnership(self.org, marketplace.org_id)
            if partnership is None:
                return None, None, (f"You have no partnership with {marketplace.org.name}, which runs "
                                    f"{marketplace.name}.")
        try:
            partnerships.filing_terms(partnership, marketplace, now=self.now)
        except ValidationError as refused:
            return None, None, plain_message(refused)
        return marketplace, partnership, None

    def check_marks(self, ids, marketplace):
        """(problem, warning) of relying on marks `ids` on `marketplace`, as the filing service decides."""
        key = (tuple(ids), marketplace.id)
        if key not in self._mark_checks:
            errors = {}
            _, uncovered = services._check_marks(errors, self.org, ids, marketplace, self.today)
            problem, warning = errors.get("marks"), None
            if uncovered and not problem:
                warning = services.jurisdiction_warning(marketplace, uncovered)
                if not self.batch.confirm_jurisdiction:
                    problem, warning = (warning + " Tick “file anyway where marks do not cover the country” "
                                                  "(confirm_jurisdiction) to file such rows."), None
            self._mark_checks[key] = (problem, warning)
        return self._mark_checks[key]

    def clean(self, values):
        checked = Checked()
        # Spreadsheet numbers as text (a numeric seller id is "12345", not "12345.0").
        listing = rules.clean_listings([(0, {"url": values.get("url"), "seller_id": as_text(values.get("seller_id")),
                                              "title": as_text(values.get("title"))})])
        for problem in listing.problems:
            checked.problem(problem.column, problem.code, problem.message, problem.value)
        slug = as_text(values.get("marketplace")).lower() or self.defaults["marketplace"]
        marketplace = partnership = None
        if not slug:
            checked.problem("marketplace", "required", "Give the marketplace (its slug, such as taobao), or choose "
                                                       "one for the whole batch.")
        else:
            marketplace, partnership, problem = self.place(slug)
            if problem:
                checked.problem("marketplace", "not_fileable", problem, values.get("marketplace") or slug)
        reason_code = as_text(values.get("reason_code")).lower() or self.defaults["reason_code"]
        if reason_code not in REASONS:
            checked.problem("reason_code", "required" if not reason_code else "invalid",
                            "Give a reason: " + ", ".join(REASONS) + " (or choose one for the whole batch).",
                            values.get("reason_code"))
        own_marks = as_text(values.get("marks"))
        ids = self.defaults["marks"]
        if own_marks:
            ids, problems = self.marks.resolve(own_marks)
            for problem in problems:
                checked.problem("marks", "unknown_mark", problem, own_marks)
            if not problems and len(ids) > rules.MAX_MARKS:
                checked.problem("marks", "too_many_marks",
                                f"A notice relies on at most {rules.MAX_MARKS} registrations.", own_marks)
        if not ids and not own_marks:
            checked.problem("marks", "required", "Name the marks the listing infringes, or choose marks for the "
                                                 "whole batch.")
        elif ids and marketplace is not None and checked.ok:
            problem, warning = self.check_marks(ids, marketplace)
            if problem:
                checked.problem("marks", "mark_not_usable", problem, own_marks)
            elif warning:
                checked.warnings.append(Problem("marks", "jurisdiction_confirmed", warning + " Filed anyway, as "
                                                "the batch confirms.", own_marks))
        own_explanation = str(values.get("explanation") or "").strip()
        explanation = own_explanation or self.defaults["explanation"]
        if len(explanation) < rules.MIN_EXPLANATION:
            checked.problem("explanation", "required" if not explanation else "too_short",
                            f"Explain what is infringing and why (at least {rules.MIN_EXPLANATION} characters), "
                            "in the row or for the whole batch.", own_explanation)
        elif len(explanation) > rules.MAX_EXPLANATION:
            checked.problem("explanation", "too_long", f"Use at most {rules.MAX_EXPLANATION} characters.",
                            own_explanation)
        test_buy_ref = as_text(values.get("test_buy_ref")) or self.defaults["test_buy_ref"]
        if len(test_buy_ref) > services.MAX_TEST_BUY_REF:
            checked.problem("test_buy_ref", "too_long", f"Use at most {services.MAX_TEST_BUY_REF} characters.",
                            test_buy_ref)
        if not checked.ok:
            return checked
        row = listing.rows[0]
        seller_id = row["seller_id"] if self.batch.group_by_seller else None
        group = [marketplace.id, partnership.id, reason_code, ids, explanation, test_buy_ref, seller_id]
        checked.fields = {
            "url": row["url"], "url_key": row["url_key"], "seller_id": row["seller_id"], "title": row["title"],
            "marketplace": marketplace.id, "marketplace_slug": marketplace.slug, "partnership": partnership.id,
            "reason_code": reason_code, "marks": pack_codes(ids),
            "explanation": "" if explanation == self.defaults["explanation"] else explanation,
            "test_buy_ref": "" if test_buy_ref == self.defaults["test_buy_ref"] else test_buy_ref,
            "group_key": hashlib.sha256(canonical_json(group).encode()).hexdigest()}
        return checked

    def key(self, fields):
        return hash(fields["url_key"])

    def duplicate(self, fields, first):
        return Problem("url", "duplicate_row", f"Row {first} has the same listing URL; this row was skipped.",
                       fields["url"])

    def upsert(self, candidates, report):
        """Stage the batch's listings (a dry run too: the plan is made from them), refusing those already
        under an active notice of the brand. Nothing of a notice is written here."""
        found = {s["row"]: s for s in services.already_filed(self.org, [
            {"row": number, "url": fields["url"], "url_key": fields["url_key"]} for number, fields in candidates])}
        staged = []
        for number, fields in candidates:
            key = [fields["url"], fields["marketplace_slug"], fields["seller_id"]]
            under = found.get(number)
            if under:
                report.refuse(number, [Problem(
                    "url", "already_filed", f"This listing is already under your notice {under['notice']} "
                                            f"({STATE_LABELS.get(under['state'], under['state']).lower()}): it is "
                                            "not filed twice.", fields["url"])], key)
                continue
            report.created(number, key)
            staged.append((self.org.id, self.batch.job_id, number, *(fields[name] for name in ROW_FIELDS[3:])))
        bulk.insert(NoticeBatchRow, ROW_FIELDS, staged)
        return [], []

    # --- after the last row ---

    def complete(self):
        batch = NoticeBatch.get_by_id(self.batch.job_id)
        if batch.planned_at is None:
            self.plan()
            batch = NoticeBatch.get_by_id(batch.job_id)
        if self.job.dry_run:
            return
        if batch.outcome == "stopped":
            stop_job(self.job, batch)
            return
        try:
            self.file_planned()
        except (OperationalError, InterfaceError, JobTakenOver):
            raise  # the job stays running: it resumes after the last notice it recorded
        except Exception:
            # A fault of ours while filing would recur on resume: stop here, saying what was filed.
            log.exception("notice batch %s: filing failed", self.job.id)
            self.stop_for_error()
            raise

    def stop_for_error(self):
        with db.atomic():
            lock_org(self.org)
            planned = (PlannedNotice.select().where((PlannedNotice.batch == self.batch.job_id)
                                                    & (PlannedNotice.status == "planned"))
                       .order_by(PlannedNotice.number).first())
            if planned is None:
                return
            stop_batch(self.org, self.batch, planned, "An error on our side interrupted filing.")
        stop_job(self.job, NoticeBatch.get_by_id(self.batch.job_id))

    def beat(self):
        """In a transaction: the job is still this worker's (running), and its heart beats."""
        if not (ImportJob.update(heartbeat_at=utcnow())
                .where((ImportJob.id == self.job.id) & (ImportJob.status == "running")).execute()):
            raise JobTakenOver(self.job.id)

    def plan(self):
        """Group the staged listings and split each group into notices of at most 300: once, in one
        transaction (a resumed job finds the plan made, or nothing of it)."""
        limit = rules.MAX_ITEMS
        with db.atomic():
            lock_org(self.org)
            self.beat()
            if NoticeBatch.get_by_id(self.batch.job_id).planned_at is not None:
                return
            groups = {}  # group key -> [row ids in row order]; dicts keep the order of each group's first row
            rows = (NoticeBatchRow.select(NoticeBatchRow.id, NoticeBatchRow.group_key)
                    .where(NoticeBatchRow.batch == self.batch.job_id).order_by(NoticeBatchRow.row).tuples())
            for row_id, group_key in rows.iterator():
                groups.setdefault(group_key, []).append(row_id)
            firsts = {}
            first_ids = [ids[0] for ids in groups.values()]
            for start in range(0, len(first_ids), 500):
                for row in NoticeBatchRow.select().where(NoticeBatchRow.id.in_(first_ids[start:start + 500])):
                    firsts[row.group_key] = row
            planned, members, number = [], [], 0
            for group_key, ids in groups.items():
                first = firsts[group_key]
                parts = math.ceil(len(ids) / limit)
                for part in range(parts):
                    number += 1
                    chunk = ids[part * limit:(part + 1) * limit]
                    planned.append((self.org.id, self.batch.job_id, number, first.partnership_id,
                                    first.marketplace_id, first.reason_code, first.marks,
                                    first.seller_id if self.batch.group_by_seller else None,
                                    first.explanation or self.batch.explanation,
                                    first.test_buy_ref or self.batch.test_buy_ref, part + 1, parts, len(chunk)))
                    members.append(chunk)
            bulk.insert(PlannedNotice, PLANNED_FIELDS, planned)
            numbered = dict(PlannedNotice.select(PlannedNotice.number, PlannedNotice.id)
                            .where(PlannedNotice.batch == self.batch.job_id).tuples())
            if self.job.dry_run:
                NoticeBatchRow.delete().where(NoticeBatchRow.batch == self.batch.job_id).execute()
            else:
                bulk.update(NoticeBatchRow, ("planned",),
                            [(numbered[n], row_id) for n, chunk in enumerate(members, start=1) for row_id in chunk])
            listings = sum(len(chunk) for chunk in members)
            NoticeBatch.update(planned_at=utcnow(), notices_planned=number,
                               outcome="planned" if self.job.dry_run else "filing").where(
                NoticeBatch.job == self.batch.job_id).execute()
            audit.record("notice_batch.planned", self.org, self.batch, change={
                "job": self.job.id, "dry_run": self.job.dry_run, "notices": number, "listings": listings,
                "groups": len(groups), "group_by_seller": self.batch.group_by_seller})

    def file_planned(self):
        """File the planned notices still open, in order; each one filed and recorded in one transaction."""
        while True:
            planned = (PlannedNotice.select().where((PlannedNotice.batch == self.batch.job_id)
                                                    & (PlannedNotice.status == "planned"))
                       .order_by(PlannedNotice.number).first())
            if planned is None:
                break
            if self.file_one(planned) == "stopped":
                stop_job(self.job, NoticeBatch.get_by_id(self.batch.job_id))
                return
        with db.atomic():
            self.beat()
            batch = NoticeBatch.get_by_id(self.batch.job_id)
            outcome = "filed" if not batch.notices_not_filed else "partly_filed"
            NoticeBatch.update(outcome=outcome).where(NoticeBatch.job == batch.job_id).execute()
            audit.record("notice_batch.filed", self.org, batch, change={
                "job": self.job.id, "outcome": outcome, "filed": batch.notices_filed,
                "not_filed": batch.notices_not_filed})

    def file_one(self, planned):
        entries = [(row.row, {"url": row.url, "seller_id": row.seller_id, "title": row.title})
                   for row in NoticeBatchRow.select(NoticeBatchRow.row, NoticeBatchRow.url, NoticeBatchRow.seller_id,
                                                    NoticeBatchRow.title)
                   .where(NoticeBatchRow.planned == planned).order_by(NoticeBatchRow.row)]
        values = {"partnership": planned.partnership_id, "marketplace": planned.marketplace.slug,
                  "reason_code": planned.reason_code, "explanation": planned.explanation,
                  "marks": planned.mark_ids, "test_buy_ref": planned.test_buy_ref, "good_faith": True,
                  "confirm_jurisdiction": self.batch.confirm_jurisdiction}
        now = utcnow()
        with db.atomic():
            lock_org(self.org)
            self.beat()
            # The claim: a planned notice is filed by the one transaction that finds it still planned.
            if not (PlannedNotice.update(filed_at=now).where((PlannedNotice.id == planned.id)
                                                             & (PlannedNotice.status == "planned")).execute()):
                return "taken"
            try:
                with db.atomic():
                    filed = services.file_notice(self.org, values, entries, (), user=self.job.created_by, now=now)
            except ValidationError as refused:
                reason = plain_message(refused)
                if set(refused.errors) & {"partnership", "marketplace"}:
                    stop_batch(self.org, self.batch, planned, reason)
                    return "stopped"
                PlannedNotice.update(status="not_filed", reason=reason, filed_at=None).where(
                    PlannedNotice.id == planned.id).execute()
                NoticeBatchRow.update(outcome="not_filed", note=reason[:2000]).where(
                    NoticeBatchRow.planned == planned).execute()
                NoticeBatch.update(notices_not_filed=NoticeBatch.notices_not_filed + 1).where(
                    NoticeBatch.job == self.batch.job_id).execute()
                return "not_filed"
            PlannedNotice.update(status="filed", notice=filed.notice.id, skipped=len(filed.skipped)).where(
                PlannedNotice.id == planned.id).execute()
            NoticeBatchRow.update(outcome="filed").where(NoticeBatchRow.planned == planned).execute()
            for skipped in filed.skipped:
                NoticeBatchRow.update(outcome="skipped", note=f"Already under {skipped['notice']} "
                                                               f"({skipped['state']}) when filed.").where(
                    (NoticeBatchRow.planned == planned) & (NoticeBatchRow.row == skipped["row"])).execute()
            NoticeBatch.update(notices_filed=NoticeBatch.notices_filed + 1).where(
                NoticeBatch.job == self.batch.job_id).execute()
            return "filed"


def plain_message(refused):
    """A refusal's messages as one sentence, without the field names (people read it in the report)."""
    return " ".join(message for messages in refused.errors.values() for message in messages)


def stop_batch(brand, batch, planned, reason):
    """In the filing transaction: `planned` and every planned notice after it are not filed, for `reason`."""
    message = f"Not filed: filing stopped at notice {planned.number}. {reason}"
    stopped = (PlannedNotice.update(status="not_filed", reason=message, filed_at=None)
               .where((PlannedNotice.batch == batch.job_id) & (PlannedNotice.status == "planned")).execute())
    NoticeBatchRow.update(outcome="not_filed", note=message[:2000]).where(
        (NoticeBatchRow.batch == batch.job_id) & (NoticeBatchRow.outcome == "")).execute()
    NoticeBatch.update(outcome="stopped", stop_reason=reason, notices_not_filed=NoticeBatch.notices_not_filed + stopped
                       ).where(NoticeBatch.job == batch.job_id).execute()
    fresh = NoticeBatch.get_by_id(batch.job_id)
    audit.record("notice_batch.stopped", brand, fresh, change={
        "job": batch.job_id, "reason": reason, "at_notice": planned.number, "filed": fresh.notices_filed,
        "not_filed": fresh.notices_not_filed})


def stop_job(job, batch):
    """End the job of a stopped batch as failed, with what was filed and what was not (again on resume)."""
    filed = filed_references(batch)
    shown = ", ".join(filed[:SHOWN_REFERENCES]) + (f" and {len(filed) - SHOWN_REFERENCES} more"
                                                   if len(filed) > SHOWN_REFERENCES else "")
    not_filed = PlannedNotice.select().where((PlannedNotice.batch == batch.job_id)
                                             & (PlannedNotice.status == "not_filed"))
    listings = not_filed.select(fn.COALESCE(fn.SUM(PlannedNotice.listing_count), 0)).scalar()
    runner.fail(job, f"Filing stopped: {batch.stop_reason} "
                     f"{len(filed)} of {batch.notices_planned} planned notices were filed"
                     + (f" ({shown})" if filed else "") + f"; {not_filed.count()} were not ({listings:,} listings). "
                     "Nothing was filed twice. Once filing is possible again, upload the same file: the listings "
                     "already filed are reported as such and only the others are filed.")


def filed_references(batch):
    return [notice_reference(notice_id) for (notice_id,) in PlannedNotice.select(PlannedNotice.notice).where(
        (PlannedNotice.batch == batch.job_id) & (PlannedNotice.status == "filed")).order_by(PlannedNotice.number)
        .tuples()]


def too_many_rows(total):
    return (f"The file has {total:,} listings; a batch holds at most {max_rows():,}. Split it into several "
            "batches. Nothing was kept.")


register(NoticeBatchImporter)


# --- starting and applying ---------------------------------------------------------------------------

def request_digest(fields, file_sha256):
    """What an Idempotency-Key is bound to: the request's fields (canonical JSON) and its listings' bytes."""
    return hashlib.sha256(f"{canonical_json(fields)}\n{file_sha256}".encode()).hexdigest()


def start_batch(org, stream, filename, defaults, dry_run=False, user=None, source="file", idempotency_key=None,
                request_fields=None, run_inline=None):
    """Check the defaults, keep and check the file (format, header, at most 50,000 rows), create the job and
    its batch, and run it (inline when small). Returns (job, replayed): with an Idempotency-Key already used
    by this org with the same request, the batch it made, and nothing new; with another request,
    IdempotencyKeyReused. A refused file or request keeps nothing."""
    NoticeBatchImporter.check_org(org)
    cleaned = clean_defaults(org, defaults)
    limit = limits()
    stored = uploads.save_upload(stream, IMPORT_AREA, limit["max_bytes"], filename)
    digest = request_digest(request_fields if request_fields is not None else defaults, stored.sha256)
    try:
        if idempotency_key:
            earlier = replay(org, idempotency_key, digest)
            if earlier is not None:
                uploads.delete(IMPORT_AREA, stored.name)
                return earlier, True
        table = open_table(stored.path(IMPORT_AREA), stored.original_name, limit["max_unpacked"],
                           spec=BATCH_COLUMNS)
        total = table.count_rows()
        if total > max_rows():
            raise FileRefused("too_many_rows", too_many_rows(total))
        with db.atomic():
            job = ImportJob.create(
                org=org, kind=KIND, created_by=user, created_by_label=audit.current_actor()[1],
                filename=stored.original_name, file_format=table.file_format, encoding=table.encoding,
                file_size=stored.size, file_sha256=stored.sha256, stored_path=stored.name, dry_run=dry_run,
                warnings="\n".join(table.warnings), total_rows=total)
            batch = NoticeBatch.create(job=job, org=org, source=source, idempotency_key=idempotency_key or None,
                                       request_sha256=digest, good_faith_statement=services.GOOD_FAITH_STATEMENT,
                                       **cleaned)
            audit.record("notice_batch.started", org, batch, change={
                "job": job.id, "filename": job.filename, "sha256": job.file_sha256, "dry_run": dry_run,
                "rows": total, "source": source, "defaults": cleaned, "idempotency_key": idempotency_key or None})
    except IntegrityError:
        # The same key at the same moment from another request: that one made the batch.
        uploads.delete(IMPORT_AREA, stored.name)
        earlier = replay(org, idempotency_key, digest) if idempotency_key else None
        if earlier is None:
            raise
        return earlier, True
    except BaseException:
        uploads.delete(IMPORT_AREA, stored.name)
        raise
    schedule(job, inline=stored.size <= limit["inline_bytes"] if run_inline is None else run_inline)
    return ImportJob.get_by_id(job.id), False


def replay(org, key, digest):
    earlier = NoticeBatch.for_org(org).where(NoticeBatch.idempotency_key == key).first()
    if earlier is None:
        return None
    if earlier.request_sha256 != digest:
        raise IdempotencyKeyReused({"Idempotency-Key": (
            f"This Idempotency-Key was used for another request (batch {earlier.job_id}); nothing was done. "
            "Send the same request again to read that batch, or use a new key for a new batch.")})
    return ImportJob.get_by_id(earlier.job_id)


def listings_file(listings):
    """The API's `listings` array as the CSV file the engine reads (cells guarded as our downloads guard
    them, which the reader undoes exactly: every value comes back as it was sent)."""
    def cell(listing, name):
        value = listing.get(name)
        if name == "marks" and value is not None:
            return ";".join(f"#{v}" if isinstance(v, int) else str(v) for v in value)
        return "" if value is None else value
    lines = csv_lines(list(BATCH_COLUMNS.names),
                      ([cell(listing, name) for name in BATCH_COLUMNS.names] for listing in listings))
    return io.BytesIO("".join(lines).encode("utf-8"))


def start_listings_batch(org, listings, defaults, dry_run=False, user=None, idempotency_key=None,
                         request_fields=None, run_inline=None):
    """A batch from the API's JSON: its listings become a CSV file, checked and run as an uploaded one."""
    if len(listings) > max_rows():
        raise FileRefused("too_many_rows", too_many_rows(len(listings)))
    return start_batch(org, listings_file(listings), "listings.csv", defaults, dry_run=dry_run, user=user,
                       source="json", idempotency_key=idempotency_key, request_fields=request_fields,
                       run_inline=run_inline)


def apply_dry_run(dry_run_job, user=None, run_inline=None):
    """File for real what a finished dry run planned, from the same file (checked and planned again: what
    changed since, a listing filed meanwhile, shows)."""
    if not dry_run_job.dry_run or dry_run_job.status != "done" or not dry_run_job.stored_path:
        raise FileRefused("not_applicable", "Only a finished dry run whose file is still kept can be filed; "
                                            "upload the file again.")
    dry_batch = NoticeBatch.get_by_id(dry_run_job.id)
    with db.atomic():
        claimed = (ImportJob.update(stored_path="").where((ImportJob.id == dry_run_job.id)
                                                          & (ImportJob.stored_path == dry_run_job.stored_path))
                   .execute())
        if not claimed:
            raise FileRefused("not_applicable", "This dry run was filed already.")
        job = ImportJob.create(
            org=dry_run_job.org, kind=KIND, created_by=user, created_by_label=audit.current_actor()[1],
            filename=dry_run_job.filename, file_format=dry_run_job.file_format, encoding=dry_run_job.encoding,
            file_size=dry_run_job.file_size, file_sha256=dry_run_job.file_sha256,
            stored_path=dry_run_job.stored_path, warnings=dry_run_job.warnings, applied_from=dry_run_job,
            total_rows=dry_run_job.total_rows)
        copied = {name: getattr(dry_batch, name) for name in (
            "partnership_id", "marketplace", "reason_code", "marks", "explanation", "test_buy_ref",
            "good_faith_statement", "confirm_jurisdiction", "group_by_seller", "source")}
        batch = NoticeBatch.create(job=job, org=dry_run_job.org_id, request_sha256=dry_batch.request_sha256,
                                   **copied)
        audit.record("notice_batch.started", job.org, batch, change={
            "job": job.id, "filename": job.filename, "sha256": job.file_sha256, "dry_run": False,
            "applies": dry_run_job.id})
    schedule(job, inline=job.file_size <= limits()["inline_bytes"] if run_inline is None else run_inline)
    return ImportJob.get_by_id(job.id)


# --- reading -----------------------------------------------------------------------------------------

def batches_of(org):
    return runner.jobs_of(org, KIND)


def get_batch_job(pk, org):
    return runner.get_job(pk, org, KIND)


def planned_notices(batch):
    return PlannedNotice.for_org(batch.org_id).where(PlannedNotice.batch == batch.job_id).order_by(PlannedNotice.number)


def progress(job, batch):
    return {"total_rows": job.total_rows, "processed_rows": job.processed_rows, "percent": job.percent,
            "listings_accepted": job.created, "rows_with_errors": job.error_rows,
            "notices_planned": batch.notices_planned, "notices_filed": batch.notices_filed,
            "notices_not_filed": batch.notices_not_filed}


def planned_body(planned, marketplaces):
    return {"number": planned.number, "marketplace": marketplaces.get(planned.marketplace_id, ""),
            "partnership": planned.partnership_id, "reason_code": planned.reason_code, "marks": planned.mark_ids,
            "seller_id": planned.seller_id, "explanation": planned.explanation,
            "test_buy_ref": planned.test_buy_ref, "part": planned.part, "parts": planned.parts,
            "listings": planned.listing_count, "status": planned.status, "notice": planned.notice_id,
            "reference": notice_reference(planned.notice_id) if planned.notice_id else None,
            "skipped": planned.skipped, "reason": planned.reason or None}


def planned_bodies(rows):
    marketplaces = dict(Marketplace.select(Marketplace.id, Marketplace.slug)
                        .where(Marketplace.id.in_({p.marketplace_id for p in rows})).tuples()) if rows else {}
    return [planned_body(planned, marketplaces) for planned in rows]


def groups_of(batch, limit=200):
    """The plan by group, for people: marketplace, reason, marks, seller, how many notices and listings
    (each notice's count, "300, 300, 50"), and how many were filed. Read in two queries."""
    query = (PlannedNotice.select(
        PlannedNotice.marketplace, PlannedNotice.reason_code, PlannedNotice.marks, PlannedNotice.seller_id,
        PlannedNotice.explanation, PlannedNotice.test_buy_ref, fn.MIN(PlannedNotice.number).alias("first"),
        fn.COUNT(PlannedNotice.id).alias("notices"), fn.SUM(PlannedNotice.listing_count).alias("listings"))
        .where((PlannedNotice.org == batch.org_id) & (PlannedNotice.batch == batch.job_id))
        .group_by(PlannedNotice.marketplace, PlannedNotice.reason_code, PlannedNotice.marks, PlannedNotice.seller_id,
                  PlannedNotice.explanation, PlannedNotice.test_buy_ref)
        .order_by(fn.MIN(PlannedNotice.number)).limit(limit).dicts())
    groups = list(query)
    if not groups:
        return []
    marketplaces = {m.id: m for m in Marketplace.select().where(Marketplace.id.in_({g["marketplace"] for g in groups}))}
    mark_ids = {i for g in groups for i in unpack_codes(g["marks"], int)}
    marks = {m.id: m for m in Mark.for_org(batch.org_id).where(Mark.id.in_(sorted(mark_ids)))} if mark_ids else {}
    for group in groups:
        group["marketplace"] = marketplaces[group["marketplace"]]
        group["reason_label"] = REASONS.get(group["reason_code"], group["reason_code"])
        group["mark_list"] = [marks[i] for i in unpack_codes(group["marks"], int) if i in marks]
        full, last = group["notices"] - 1, group["listings"] - rules.MAX_ITEMS * (group["notices"] - 1)
        group["sizes"] = (", ".join([str(rules.MAX_ITEMS)] * full + [str(last)]) if group["notices"] <= 6
                          else f"{rules.MAX_ITEMS} each for {full}, then {last}")
    return groups


def summary(job):
    """What the batch page shows beside the engine's progress and report: the batch, its plan by group and
    its planned notices (the first 500), with the filed notices' references."""
    batch = NoticeBatch.get_or_none((NoticeBatch.job == job.id) & (NoticeBatch.org == job.org_id))
    if batch is None:
        return None
    notices = list(planned_notices(batch).limit(500))
    filed = {n.id: n for n in Notice.for_org(job.org_id).where(Notice.id.in_([p.notice_id for p in notices
                                                                             if p.notice_id]))} if notices else {}
    marketplaces = {m.id: m for m in Marketplace.select().where(Marketplace.id.in_({p.marketplace_id
                                                                                  for p in notices}))} if notices else {}
    return {"batch": batch, "groups": groups_of(batch), "notices": notices, "filed": filed,
            "marketplaces": marketplaces,
            "partnership": Partnership.get_or_none(Partnership.id == batch.partnership_id)
            if batch.partnership_id else None,
            "default_marks": list(Mark.for_org(job.org_id).where(Mark.id.in_(batch.mark_ids)).order_by(Mark.word))
            if batch.mark_ids else [],
            "reasons": REASONS, "differs": plan_differs(job, batch)}


def plan_signature(batch):
    return [(p.marketplace_id, p.reason_code, p.marks, p.seller_id, p.listing_count)
            for p in planned_notices(batch).select(PlannedNotice.marketplace, PlannedNotice.reason_code,
                                                   PlannedNotice.marks, PlannedNotice.seller_id,
                                                   PlannedNotice.listing_count)]


def plan_differs(job, batch):
    """For a batch that files a dry run: whether its plan differs from the dry run's (a listing filed, a mark
    verified or a partnership changed in between)."""
    if not job.applied_from_id or batch.planned_at is None:
        return False
    dry = NoticeBatch.get_or_none(NoticeBatch.job == job.applied_from_id)
    return dry is not None and dry.planned_at is not None and plan_signature(dry) != plan_signature(batch)


def get_planned(batch, number):
    found = planned_notices(batch).where(PlannedNotice.number == object_id(number)).first()
    if found is None:
        raise NotFound()
    return found
