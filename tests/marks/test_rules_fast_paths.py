"""The fast paths of the mark rules (issue 19) agree with the full checks, cell for cell.

Each fast path (a known office code, classes written 1..45, an ISO date, remembered jurisdictions, a
number of ASCII digits) is taken only for a plain `str` cell. An InertText cell (a str subclass, what the
import makes of an apostrophe-prefixed cell) holding the same text always takes the full check, so it is
the oracle: both must give the same fields, problems (code, message, value) and warnings.
"""
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal import bulk
from portal.imports.tables import InertText
from portal.marks import offices, rules
from portal.marks.models import Mark

TRICKY_CELLS = [
    "", " ", "9", "09", "9.0", " 9 ", "9;25", "9, 25", "9;;25", ";9;", "25;9;9", "0", "46", "45", "1", "100",
    "²", "①", "١٢", "9;x", "-9", "+9", "9e0", "9\t25", "\u00a09", "USPTO", "uspto", " USPTO", "USPTO ", "EUTM",
    "UK IPO", "UKIPO", "WIPO", "Madrid", "XX", "X", "ACME IP", "us", "US", "EU", "CN;JP;KR", "cn, jp", "CN;XX",
    "CN;US", "EU;FR", "FR", "GB", "2031-05-31", "2031-5-31", "20310531", "2031-W22-5", "2031-02-30",
    "1799-12-31", "1800-01-01", "2200-12-31", "2201-01-01", " 2031-05-31", "2031-05-31 ", "2031-05-31T10:00",
    "2031-05-31 10:00:00", "０２０３１-05-31", "2031-05-3１", "31/05/2031", "2031/05/31", "abcdefghij",
]
cells = st.one_of(
    st.sampled_from(TRICKY_CELLS),
    st.text(alphabet="0123456789-;, .WTZ:+²١０UKCNJPSEOVaxX\t", max_size=14),
    st.text(max_size=8),
)
CODES = [None, "USPTO", "EUIPO", "WIPO", "KIPO", "UKIPO", "CIPO", "ACME"]


def outcome(checked):
    return (checked.fields, [(p.column, p.code, p.message, p.value) for p in checked.problems],
            [(p.column, p.code, p.message, p.value) for p in checked.warnings])


def both(column, text, **others):
    """clean_mark of a row whose `column` is `text`, as a plain cell and as an InertText cell."""
    row = {"word": "ACME", "office": "USPTO", "registration_number": "1234567", "nice_classes": "9",
           "registered_on": "2015-01-01", "expires_on": "2035-01-01", "jurisdictions": "", **others}
    return (outcome(rules.clean_mark({**row, column: text})),
            outcome(rules.clean_mark({**row, column: InertText(text)})))


@pytest.mark.parametrize("column", ["word", "office", "registration_number", "nice_classes", "registered_on",
                                    "expires_on", "jurisdictions"])
@pytest.mark.parametrize("text", TRICKY_CELLS)
def test_tricky_cells_give_what_the_full_check_gives(column, text):
    fast, full = both(column, text)
    assert fast == full
    fast, full = both(column, text, office="WIPO")  # designations required, numbers of another shape
    assert fast == full


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(column=st.sampled_from(["office", "registration_number", "nice_classes", "registered_on", "expires_on",
                               "jurisdictions", "word"]),
       text=cells, office=st.sampled_from(["USPTO", "EUIPO", "WIPO", "KIPO", "UKIPO", "ACME"]))
def test_any_cell_gives_what_the_full_check_gives(column, text, office):
    fast, full = both(column, text, office=office)
    assert fast == full


@settings(max_examples=300, deadline=None)
@given(code=st.sampled_from(CODES), text=cells)
def test_remembered_jurisdictions_replay_the_check(code, text):
    fresh = rules.Checked()
    rules._clean_jurisdictions.check(fresh, code, text)
    for _ in range(2):  # the first call checks and remembers, the second replays
        replayed = rules.Checked()
        rules._clean_jurisdictions(replayed, code, text)
        assert outcome(replayed) == outcome(fresh)


def test_a_remembered_result_is_each_marks_own():
    first = rules.clean_mark({"word": "A", "office": "WIPO", "registration_number": "1", "nice_classes": "9",
                              "jurisdictions": "JP;CN"})
    first.fields["jurisdictions"].append("XX")
    bad = rules.clean_mark({"word": "A", "office": "USPTO", "registration_number": "1", "nice_classes": "9",
                            "jurisdictions": "CN"})
    bad.problems[0].message += " (changed by its caller)"
    again = rules.clean_mark({"word": "A", "office": "WIPO", "registration_number": "1", "nice_classes": "9",
                              "jurisdictions": "JP;CN"})
    assert again.fields["jurisdictions"] == ["CN", "JP"]
    bad_again = rules.clean_mark({"word": "A", "office": "USPTO", "registration_number": "1",
                                  "nice_classes": "9", "jurisdictions": "CN"})
    assert bad_again.problems[0].message.endswith("not CN. Register those countries through their office or WIPO.")
    # A stored mark's list and the same codes as text are remembered apart (their reported values differ).
    as_list = rules.clean_mark({"word": "A", "office": "USPTO", "registration_number": "1", "nice_classes": "9",
                                "jurisdictions": ["CN"]})
    assert as_list.problems[0].value == "['CN']" and bad_again.problems[0].value == "CN"


def normalised_in_full(office, raw):
    """Office.normalise without its fast path for ASCII digits (the rule as it was written first)."""
    if office.code == "KIPO":
        raw = offices.KIPO_VERSION_SUFFIX.sub(r"\1", raw)
    number = offices.SEPARATORS.sub("", raw.strip().upper())
    if office.prefix and number.startswith(office.prefix):
        number = number[len(office.prefix):]
    if number.isdigit():
        number = number.lstrip("0") or "0"
        if office.pad_to:
            number = number.zfill(office.pad_to)
    number = office.prefix + number
    return number if office.compiled.fullmatch(number) else None


@settings(max_examples=400, deadline=None)
@given(code=st.sampled_from(sorted(offices.OFFICES)),
       raw=st.one_of(st.text(alphabet="0123456789", min_size=1, max_size=16), cells))
def test_numbers_of_ascii_digits_take_a_shortcut_to_the_same_number(code, raw):
    office = offices.OFFICES[code]
    assert office.normalise(raw) == normalised_in_full(office, raw)


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(st.sampled_from(TRICKY_CELLS), st.dates().map(date.isoformat), cells))
def test_dates_read_back_as_peewee_reads_them(text):
    """bulk reads SQLite's date text with date.fromisoformat where peewee's DateField would: the same date,
    or (for anything else) whatever peewee makes of it."""
    field = Mark._meta.fields["registered_on"]
    read = bulk._date_reader(field.python_value)
    try:
        expected = field.python_value(text)
    except Exception as error:  # noqa: BLE001 - whatever peewee raises, the reader raises too
        with pytest.raises(type(error)):
            read(text)
    else:
        assert read(text) == expected and type(read(text)) is type(expected)
