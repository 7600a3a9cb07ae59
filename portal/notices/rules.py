"""The one validation of what a notice is made of: its listings (from the form, a CSV/XLSX file, or the
API) and its text fields. Every problem names its row (spreadsheet numbering where a file is involved),
its column, a stable code and a message, like the marks import report.
"""
from dataclasses import dataclass, field

from portal.imports.rows import reported_value
from portal.imports.tables import Columns
from portal.text import CONTROL_CHARACTERS, clean_url, url_key

MAX_ITEMS = 300
MAX_MARKS = 200  # registrations a notice relies on
MAX_SELLER_ID = 200
MAX_TITLE = 500
MAX_EXPLANATION = 10000
MIN_EXPLANATION = 20  # "substantiated": a sentence, not a word
MAX_REASON = 4000
LISTING_COLUMNS = Columns(
    names=("url", "seller_id", "title"), required=("url",),
    aliases={"url": ("url", "listingurl", "link", "listing", "producturl", "itemurl"),
             "seller_id": ("sellerid", "seller", "shopid", "storeid"),  # an id, not a seller's name
             "title": ("title", "listingtitle", "producttitle", "itemtitle", "name")})


@dataclass
class ListingProblem:
    row: int
    column: str
    code: str
    message: str
    value: str = ""

    def as_dict(self):
        return {"row": self.row, "column": self.column, "code": self.code, "message": self.message,
                "value": self.value}


@dataclass
class Listings:
    rows: list = field(default_factory=list)  # [{"row", "url", "url_key", "seller_id", "title"}]
    problems: list = field(default_factory=list)

    def problem(self, row, column, code, message, value=""):
        self.problems.append(ListingProblem(row, column, code, message, reported_value(value)))


def _text(value):
    if value is None:
        return ""
    return str(value).strip()


def clean_listings(entries, first_row=1):
    """Listings from (row, {url, seller_id, title}) pairs: checked, duplicates within the notice refused."""
    result, seen = Listings(), {}
    for row, entry in entries:
        url, problem = clean_url(entry.get("url"))
        if problem:
            result.problem(row, "url", problem[0], problem[1], entry.get("url"))
            continue
        seller_id, title = _text(entry.get("seller_id")), _text(entry.get("title"))
        if len(seller_id) > MAX_SELLER_ID or CONTROL_CHARACTERS.search(seller_id):
            result.problem(row, "seller_id", "invalid_seller_id",
                           f"A seller id has at most {MAX_SELLER_ID} characters and no control characters.",
                           seller_id)
            continue
        if len(title) > MAX_TITLE or CONTROL_CHARACTERS.search(title):
            result.problem(row, "title", "invalid_title",
                           f"A title has at most {MAX_TITLE} characters and no control characters.", title)
            continue
        key = url_key(url)
        if key in seen:
            result.problem(row, "url", "duplicate_url", f"This URL is already listed in this notice (row {seen[key]}).",
                           url)
            continue
        seen[key] = row
        result.rows.append({"row": row, "url": url, "url_key": key, "seller_id": seller_id, "title": title})
    if len(result.rows) + len(result.problems) > MAX_ITEMS:
        result.problem(first_row, "url", "too_many_listings",
                       f"A notice carries at most {MAX_ITEMS} listings; split the list into several notices.")
    return result


def listings_from_text(text):
    """The form's box: one listing per line, "URL", or "URL, seller id, title" (tab separated, as pasted
    from a spreadsheet, or a comma and a space). A URL holds no whitespace but may hold commas
    (AliExpress SKUs: `?sku_attr=14:193,5:100`), so the URL ends at the first tab or whitespace."""
    entries = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        if "\t" in line:
            parts = [part.strip() for part in line.split("\t", 2)]
        else:
            url, _, rest = line.strip().partition(" ")
            if url.endswith(",") and rest:
                url = url[:-1]
            parts = [url] + [part.strip() for part in rest.strip().lstrip(",").split(",", 1)] if rest.strip() else [url]
        entries.append((number, {"url": parts[0], "seller_id": parts[1] if len(parts) > 1 else "",
                                 "title": parts[2] if len(parts) > 2 else ""}))
    return entries


def listings_from_table(table):
    """Rows of an uploaded listings file (portal.imports.tables), numbered as the spreadsheet shows."""
    entries = []
    for row, values in table.rows():
        if values is None:
            continue
        entries.append((row, values))
        if len(entries) > MAX_ITEMS:  # enough to say it is too many; do not read a huge file to the end
            break
    return entries
