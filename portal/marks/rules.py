"""The one validation of a mark's fields, used by the form, the API and every row of a bulk import.

`clean_mark(values)` takes what a person typed or a spreadsheet cell held (text, numbers, dates, or lists
from JSON) and returns a `Checked` result: the normalised fields, the problems (each with a column, a
stable code, a message and the offending value) and warnings that do not stop the mark being saved.
"""
import re
from datetime import date, datetime

from portal.imports.rows import Checked, Problem, as_text, reported_value  # noqa: F401 (used here and by marks)
from portal.imports.tables import Columns
from portal.marks import offices
from portal.text import CONTROL_CHARACTERS

COLUMNS = ("word", "office", "registration_number", "nice_classes", "registered_on", "expires_on",
           "jurisdictions")
REQUIRED_COLUMNS = ("word", "office", "registration_number", "nice_classes")
COLUMN_HELP = {
    "word": "The mark as registered, for example LOUIS VUITTON. Required, up to 200 characters.",
    "office": "The office that registered it: USPTO, EUIPO, CNIPA, UKIPO, JPO, KIPO, WIPO (Madrid) or "
              "another office's code (accepted with a warning). Required.",
    "registration_number": "As the office writes it; spaces, dashes, commas and leading zeros are "
                           "normalised. Required.",
    "nice_classes": "Nice classes 1 to 45, separated by ; or , (for example 9;25;42). Required.",
    "registered_on": "Registration date, ISO format YYYY-MM-DD. Optional.",
    "expires_on": "Expiry (next renewal) date, YYYY-MM-DD. Optional; a mark past it becomes expired.",
    "jurisdictions": "Country codes (ISO 3166, EU for the whole Union) separated by ; or ,. Implied by a "
                     "national or EU office; required for WIPO (the designations).",
}
HEADER_ALIASES = {
    "word": ("word", "mark", "trademark", "wordmark", "markword", "marktext"),
    "office": ("office", "ipoffice", "trademarkoffice", "registry"),
    "registration_number": ("registrationnumber", "registrationno", "regnumber", "regno", "number"),
    "nice_classes": ("niceclasses", "niceclass", "classes", "class"),
    "registered_on": ("registeredon", "registrationdate", "registered", "dateofregistration"),
    "expires_on": ("expireson", "expirydate", "expirationdate", "expires", "renewaldate", "expiry"),
    "jurisdictions": ("jurisdictions", "jurisdiction", "countries", "designations", "territories"),
}
MARK_COLUMNS = Columns(COLUMNS, REQUIRED_COLUMNS, HEADER_ALIASES)
MAX_WORD = 200
LIST_SEPARATORS = re.compile(r"[;,\s]+")
EARLIEST_YEAR, LATEST_YEAR = 1800, 2200
# Fast paths for the cells a bulk upload is made of, each giving exactly what the full check gives (tests:
# tests/marks/test_rules_fast_paths.py); anything else takes the full check.
NICE_CLASS_TEXTS = {str(number): number for number in range(1, 46)}  # "9" -> 9, as the check reads it
PLAIN_OFFICE_CODES = frozenset(code for code in offices.OFFICES if offices.office_code(code) == code)
REMEMBERED_CELLS = 4096  # cells a remembered check keeps (see _remembered)


def split_list(value):
    """"9; 25,42" or [9, 25] or 9 -> ["9", "25", "42"]."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [as_text(v) for v in value if as_text(v)]
    return [part for part in LIST_SEPARATORS.split(as_text(value)) if part]


def _remembered(check):
    """A check of one cell (`check(checked, *args)`, its cell the last argument) that remembers what it did
    for each text cell (or list of texts): the fields it set, its problems and warnings and what it returned,
    replayed when the same arguments come again. For the checks whose cells repeat in a file (an office's jurisdictions): the
    outcome and the messages are the check's own by construction. At most REMEMBERED_CELLS are kept."""
    memory = {}

    def remembered(checked, *args):
        value = args[-1]
        key = args
        if value.__class__ is list and value and all(item.__class__ is str for item in value):
            key = (*args[:-1], tuple(value))  # a stored mark's list ["CN", "JP"]: never equal to a text key
        elif value.__class__ is not str:  # text only (a subclass such as InertText is checked every time)
            return check(checked, *args)
        seen = memory.get(key)
        if seen is None:
            scratch = Checked()
            returned = check(scratch, *args)
            seen = (tuple(scratch.fields.items()), tuple(scratch.problems), tuple(scratch.warnings), returned)
            if len(memory) >= REMEMBERED_CELLS:
                memory.clear()
            memory[key] = seen
        fields, problems, warnings, returned = seen
        for name, field_value in fields:  # lists copied: each mark owns its fields
            checked.fields[name] = list(field_value) if field_value.__class__ is list else field_value
        if problems:  # copied too: the importer adds to a problem's message
            checked.problems.extend(Problem(p.column, p.code, p.message, p.value) for p in problems)
        if warnings:
            checked.warnings.extend(Problem(p.column, p.code, p.message, p.value) for p in warnings)
        return returned

    remembered.check = check  # the check itself, for the tests that compare the two
    return remembered


def clean_mark(values, partial=False, key=None):
    """Check and normalise one mark. `values` maps column names to raw values (missing = empty).

    With `partial` (a row of a bulk update), only the office and registration number (the natural key) are
    required; every other column is checked only when `values` has it, and the rules between columns wait
    for the row to be merged with the stored mark (`clean_mark` again, on the merged values). `key`: the
    office and number as `clean_mark_key` made them, not checked again."""
    checked = Checked()
    get = values.get
    if not partial or "word" in values:
        _clean_word(checked, get("word"))
    if key:
        code, checked.fields["registration_number"] = key
        checked.fields["office"] = code
    else:
        code = _clean_office(checked, get("office"))
        _clean_number(checked, code, get("registration_number"))
    if not partial or "nice_classes" in values:
        _clean_classes(checked, get("nice_classes"))
    registered = _clean_date(checked, "registered_on", get("registered_on")) if (
        not partial or "registered_on" in values) else None
    expires = _clean_date(checked, "expires_on", get("expires_on")) if (
        not partial or "expires_on" in values) else None
    if registered and expires and expires <= registered:
        checked.problem("expires_on", "date_order", "The expiry date must be after the registration date.",
                        expires.isoformat())
    if not partial or "jurisdictions" in values:
        _clean_jurisdictions(checked, code, get("jurisdictions"))
    return checked


def clean_mark_key(values):
    """Check and normalise the natural key alone (office and registration number), for a bulk row whose
    other cells are checked once it is merged with the stored mark."""
    checked = Checked()
    _clean_number(checked, _clean_office(checked, values.get("office")), values.get("registration_number"))
    return checked


def _clean_word(checked, value):
    word = " ".join((value if value.__class__ is str else as_text(value)).split())  # split() strips too
    if not word:
        checked.problem("word", "required", "Enter the mark's word (its text as registered).")
    elif len(word) > MAX_WORD:
        checked.problem("word", "too_long", f"Use at most {MAX_WORD} characters.", value)
    elif CONTROL_CHARACTERS.search(word):
        checked.problem("word", "bad_text", "Remove the control characters from this text.", value)
    else:
        checked.fields["word"] = word


def _clean_office(checked, value):
    if value.__class__ is str and value in PLAIN_OFFICE_CODES:  # "USPTO": the code as the check makes it
        checked.fields["office"] = value
        return value
    raw = as_text(value)
    code = offices.office_code(raw)
    if not code:
        checked.problem("office", "required", "Enter the office, for example USPTO, EUIPO or WIPO.")
        return None
    if offices.is_known_office(code):
        checked.fields["office"] = code
        return code
    if not offices.UNKNOWN_OFFICE_PATTERN.match(code):
        checked.problem("office", "bad_office", "An office is a short code of letters, for example USPTO.", raw)
        return None
    checked.fields["office"] = code
    checked.warnings.append(Problem("office", "unknown_office",
                                    f"{code} is not an office the portal knows: its registration number "
                                    "format was not checked.", code))
    return code


def _clean_number(checked, code, value):
    raw = value.strip() if value.__class__ is str else as_text(value)
    if not raw:
        checked.problem("registration_number", "required", "Enter the registration number.")
        return
    if len(raw) > 64:
        checked.problem("registration_number", "too_long", "A registration number is at most 32 characters.",
                        raw)
        return
    if code is None:
        return  # the office is missing or malformed: the number cannot be checked against it
    number, error = offices.normalise_number(code, raw)
    if error:
        checked.problem("registration_number", "bad_number", error, raw)
    else:
        checked.fields["registration_number"] = number


def _clean_classes(checked, value):
    if value.__class__ is str:  # "9;25": each part a class as the check below reads it
        numbers = [NICE_CLASS_TEXTS.get(part) for part in LIST_SEPARATORS.split(value.strip()) if part]
        if numbers and None not in numbers:
            checked.fields["nice_classes"] = sorted(set(numbers))
            return
    parts = split_list(value)
    if not parts:
        checked.problem("nice_classes", "required", "Give at least one Nice class (1 to 45).")
        return
    classes = set()
    for part in parts:
        number = part[:-2] if part.endswith(".0") else part
        if not number.isdecimal():  # not isdigit(): "²" and "①" are digits that int() refuses
            checked.problem("nice_classes", "bad_class", f"{reported_value(part)} is not a class number; "
                                                         "classes are whole numbers 1 to 45.", value)
            return
        if not 1 <= int(number) <= 45:
            checked.problem("nice_classes", "class_out_of_range",
                            f"Class {int(number)} does not exist: Nice classes are 1 to 45.", value)
            return
        classes.add(int(number))
    checked.fields["nice_classes"] = sorted(classes)


def _clean_date(checked, column, value):
    if value.__class__ is str and len(value) == 10:  # "2031-05-31"
        try:
            parsed = date.fromisoformat(value)
        except ValueError:
            parsed = None  # the check below says why
        if parsed is not None and EARLIEST_YEAR <= parsed.year <= LATEST_YEAR:
            checked.fields[column] = parsed
            return parsed
    if value is None or (isinstance(value, str) and not value.strip()):
        checked.fields[column] = None
        return None
    if isinstance(value, datetime):
        parsed = value.date()
    elif isinstance(value, date):
        parsed = value
    else:
        text = as_text(value)
        try:
            parsed = date.fromisoformat(text) if len(text) <= 10 else datetime.fromisoformat(text).date()
        except ValueError:
            checked.problem(column, "bad_date", "Use an ISO date: YYYY-MM-DD, for example 2031-05-31.", value)
            return None
    if not EARLIEST_YEAR <= parsed.year <= LATEST_YEAR:
        checked.problem(column, "bad_date", f"Give a year between {EARLIEST_YEAR} and {LATEST_YEAR}.", value)
        return None
    checked.fields[column] = parsed
    return parsed


@_remembered
def _clean_jurisdictions(checked, code, value):
    given = [part.upper() for part in split_list(value)]
    unknown = [part for part in given if not offices.is_country_code(part)]
    if unknown:
        checked.problem("jurisdictions", "bad_jurisdiction",
                        f"Not a country code: {', '.join(reported_value(u) for u in unknown[:5])}. Use ISO "
                        "3166 two-letter codes (EU for the European Union).", value)
        return
    implied = offices.implied_jurisdictions(code) if code else ()
    if implied:
        outside = [] if set(given) <= set(implied) else sorted(
            offices.covered_countries(given) - offices.covered_countries(implied))
        if outside:
            checked.problem("jurisdictions", "jurisdiction_mismatch",
                            f"A {code} registration covers {', '.join(implied)} only, not {', '.join(outside)}. "
                            "Register those countries through their office or WIPO.", value)
            return
        checked.fields["jurisdictions"] = list(implied)
    elif code == "WIPO" and not given:
        checked.problem("jurisdictions", "designations_required",
                        "A WIPO (Madrid) registration lists its designated countries, for example CN;JP;KR.")
    else:
        checked.fields["jurisdictions"] = sorted(set(given))
