"""Reading an import job's row report: what each row of the file came to (or, in a dry run, would come
to), with its natural key, its field-by-field change, its consequences and its problems. The job's page,
its CSV download and the API all read it here.

A report is kept compactly: each batch's outcome codes and keys in one `ImportOutcomes` row, an
`ImportRowChange` only for the rows that change something a person must check (updates, and creations
with a consequence), an `ImportRowError` per problem. A page of the report reads a few rows of each.
"""
import bisect
from dataclasses import dataclass, field

from portal.imports.models import ImportOutcomes, ImportRowChange, ImportRowError
from portal.imports.registry import importer_for

OUTCOMES = {"c": "create", "u": "update", "n": "unchanged", "e": "error"}
SHOWS = ("all", "errors", "updates", "consequences")


@dataclass
class ReportRow:
    row: int
    outcome: str
    key: list
    changes: list = field(default_factory=list)  # [[field, before, after]]
    consequences: list = field(default_factory=list)  # codes
    problems: list = field(default_factory=list)  # ImportRowError

    def key_of(self, columns):
        return dict(zip(columns, self.key or [""] * len(columns)))


def outcome_batches(job):
    return ImportOutcomes.for_org(job.org_id).where(ImportOutcomes.job == job)


def changes_of(job):
    return ImportRowChange.for_org(job.org_id).where(ImportRowChange.job == job)


def errors_of(job):
    return ImportRowError.for_org(job.org_id).where(ImportRowError.job == job)


def rows_page(job, show="all", after_row=1, count=100):
    """Up to `count` ReportRows after spreadsheet row `after_row`, in row order. `show`: every row that is
    not blank (`all`), rows refused (`errors`), rows that update (`updates`), rows with a consequence."""
    if show == "all":
        rows = _all_rows(job, after_row, count)
    else:
        rows = _rows_with_keys(job, _filtered_row_numbers(job, show, after_row, count))
    if rows:
        numbers = [row.row for row in rows]
        by_number = {row.row: row for row in rows}
        for change in changes_of(job).where(ImportRowChange.row.in_(numbers)):
            by_number[change.row].changes = change.change_list
            by_number[change.row].consequences = change.consequence_codes
        for problem in errors_of(job).where(ImportRowError.row.in_(numbers)).order_by(ImportRowError.row,
                                                                                        ImportRowError.id):
            by_number[problem.row].problems.append(problem)
    return rows


def row_outcomes(job, first_row=2, count=100):
    """[(row, outcome)] for spreadsheet rows from `first_row`, blank rows left out."""
    return [(row.row, row.outcome) for row in rows_page(job, "all", first_row - 1, count)]


def _all_rows(job, after_row, count):
    """The non-blank rows after `after_row`, read from the batch holding it onwards, a few batches at a time."""
    rows = []
    start = (outcome_batches(job).select(ImportOutcomes.first_row).where(ImportOutcomes.first_row <= after_row + 1)
             .order_by(ImportOutcomes.first_row.desc()).limit(1).scalar()) or 0
    while len(rows) < count:
        batches = list(outcome_batches(job).where(ImportOutcomes.first_row >= start)
                       .order_by(ImportOutcomes.first_row).limit(2))
        if not batches:
            break
        for batch in batches:
            for offset, (code, key) in enumerate(zip(batch.codes, batch.key_list)):
                row = batch.first_row + offset
                if row > after_row and code in OUTCOMES and len(rows) < count:
                    rows.append(ReportRow(row, OUTCOMES[code], key))
        start = batches[-1].first_row + 1
    return rows


def _filtered_row_numbers(job, show, after_row, count):
    if show == "errors":
        query = (errors_of(job).select(ImportRowError.row)
                 .where((ImportRowError.level == "error") & (ImportRowError.row > after_row))
                 .group_by(ImportRowError.row).order_by(ImportRowError.row))
        return [row for (row,) in query.limit(count).tuples()]
    if show == "updates":
        condition = ImportRowChange.outcome == "update"
    elif show == "consequences":
        condition = ImportRowChange.consequences != ""
    else:
        raise ValueError(f"no report of {show!r} rows")
    query = changes_of(job).select(ImportRowChange.row).where(condition & (ImportRowChange.row > after_row))
    return [row for (row,) in query.order_by(ImportRowChange.row).limit(count).tuples()]


def _rows_with_keys(job, numbers):
    """ReportRows for chosen row numbers, their outcome and key read from the batches holding them."""
    if not numbers:
        return []
    starts = [first for (first,) in outcome_batches(job).select(ImportOutcomes.first_row)
              .order_by(ImportOutcomes.first_row).tuples()]
    holding = sorted({starts[bisect.bisect_right(starts, number) - 1] for number in numbers})
    # Each holding batch's codes and keys, its JSON parsed once (not once per row).
    batches = {batch.first_row: (batch.codes, batch.key_list)
               for batch in outcome_batches(job).where(ImportOutcomes.first_row.in_(holding))}
    rows = []
    for number in numbers:
        first_row = starts[bisect.bisect_right(starts, number) - 1]
        codes, keys = batches[first_row]
        rows.append(ReportRow(number, OUTCOMES.get(codes[number - first_row], "error"), keys[number - first_row]))
    return rows


def all_rows(job, show="all", page=1000):
    """Every ReportRow of the report, a page of queries at a time (for the CSV download)."""
    after = 1
    while True:
        rows = rows_page(job, show, after, page)
        yield from rows
        if len(rows) < page:
            return
        after = rows[-1].row


def shown_counts(job):
    """How many rows each view of the report has, for its filter links."""
    return {"all": job.processed_rows, "errors": job.error_rows, "updates": job.updated,
            "consequences": changes_of(job).where(ImportRowChange.consequences != "").count()}


# --- words ---------------------------------------------------------------------------------------------

def consequence_label(kind, code):
    words = importer_for(kind).consequence_words.get(code)
    return words[0] if words else code.replace("_", " ")


def consequence_summary(job):
    """The job's consequences as sentences, before the user applies ("3 verified marks will return to
    pending: ..."), or after an import (past tense). Most serious first, as the importer lists them."""
    words, counts = importer_for(job.kind).consequence_words, job.consequence_counts
    sentences = []
    for code, (_, subjects, will, did) in words.items():
        count = counts.get(code, 0)
        if count:
            subject = subjects[0] if count == 1 else subjects[1]
            predicate = (will if job.dry_run else did).format(them="it" if count == 1 else "them")
            if not job.dry_run and count == 1:
                predicate = predicate.replace("were created", "was created")
            sentences.append(f"{count:,} {subject} {predicate}.")
    return sentences


def differs_from_dry_run(job):
    """For an import that applied a dry run: whether its consequences differ from what the dry run showed
    (the registry changed in between: a mark verified, edited or expired meanwhile)."""
    dry_run = job.applied_from
    return dry_run is not None and dry_run.consequence_counts != job.consequence_counts


FIELD_LABELS = {"nice_classes": "Nice classes", "proof_sha256": "proof (SHA-256)", "share_with": "shared with",
                "show_group": "group shown", "tlp": "TLP"}


def field_label(name):
    return FIELD_LABELS.get(name, name.replace("_", " "))


def shown_change(change):
    name, before, after = change
    return f"{field_label(name)}: {before or '(blank)'} → {after or '(blank)'}"


def row_as_dict(kind, row):
    """A ReportRow as the API and the CLI give it."""
    return {"row": row.row, "key": row.key_of(importer_for(kind).key_columns), "outcome": row.outcome,
            "changes": [{"field": name, "before": before, "after": after} for name, before, after in row.changes],
            "consequences": [{"code": code, "label": consequence_label(kind, code)} for code in row.consequences],
            "problems": [problem.as_dict() for problem in row.problems]}


def csv_header(kind):
    return ["row", *importer_for(kind).key_columns, "outcome", "changes", "consequences", "problems"]


def csv_row(kind, row):
    key_columns = importer_for(kind).key_columns
    return [row.row, *[row.key_of(key_columns)[column] for column in key_columns], row.outcome,
            " | ".join(shown_change(change) for change in row.changes),
            "; ".join(consequence_label(kind, code) for code in row.consequences),
            "; ".join(f"{'warning: ' if p.level == 'warning' else ''}{p.column}: {p.message}" for p in row.problems)]
