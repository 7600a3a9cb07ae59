"""Trademark offices: how each writes its registration numbers, and which countries a registration covers.

Numbers are normalised before they are compared or stored, so "1,234,567", "1234567" and "01234567" at
the USPTO are one registration (the natural key is org + office + normalised number). Offices that print
leading zeros as part of the number (EUIPO, UKIPO) get them padded back; offices that do not have them
stripped. An office not in this table is accepted with a warning: its number is only tidied (upper case,
no spaces), never called valid.
"""
import functools
import re
from dataclasses import dataclass

from iso3166 import countries_by_alpha2

EU_MEMBER_STATES = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split())
# Codes that stand for more than one country in a jurisdictions list.
REGIONAL_CODES = {"EU": EU_MEMBER_STATES}

SEPARATORS = re.compile(r"[\s,.\-/]+")
# KIPRIS writes "40-1234567-0000" or 4012345670000: the last four digits are a counter of the registration's
# versions, not part of the number. Nothing else is cut off.
KIPO_VERSION_SUFFIX = re.compile(r"^\s*(40\s*-?\s*[0-9]{7})\s*-?\s*0000\s*$")


@dataclass(frozen=True)
class Office:
    code: str
    name: str
    covers: tuple  # jurisdictions implied by a registration there; () for WIPO (designations are listed)
    pattern: str  # the normalised number
    example: str
    pad_to: int = 0  # leading zeros the office writes (EUIPO 9 digits)
    prefix: str = ""  # a letter prefix the office writes (UKIPO "UK")

    def normalise(self, raw):
        """The canonical form of `raw`, or None when it cannot be a number of this office."""
        if self.code == "KIPO":
            raw = KIPO_VERSION_SUFFIX.sub(r"\1", raw)
        # ASCII digits alone are their own tidied form (nothing to strip, upper-case or take out).
        number = raw if raw.isdigit() and raw.isascii() else SEPARATORS.sub("", raw.strip().upper())
        if self.prefix and number.startswith(self.prefix):
            number = number[len(self.prefix):]
        if number.isdigit():
            number = number.lstrip("0") or "0"
            if self.pad_to:
                number = number.zfill(self.pad_to)
        number = self.prefix + number
        return number if self.compiled.fullmatch(number) else None

    def __post_init__(self):
        object.__setattr__(self, "compiled", _compiled(self.pattern))  # compiled once, read per row


@functools.lru_cache(maxsize=None)
def _compiled(pattern):
    return re.compile(pattern)


OFFICES = {office.code: office for office in (
    Office("USPTO", "United States Patent and Trademark Office", ("US",), r"[1-9][0-9]{0,7}", "1234567"),
    Office("EUIPO", "European Union Intellectual Property Office", ("EU",), r"(?!0{9})[0-9]{9}", "018123456", pad_to=9),
    Office("CNIPA", "China National Intellectual Property Administration", ("CN",), r"[1-9][0-9]{0,8}",
           "12345678"),
    Office("UKIPO", "UK Intellectual Property Office", ("GB",), r"UK[0-9]{11}", "UK00003123456", pad_to=11,
           prefix="UK"),
    Office("JPO", "Japan Patent Office", ("JP",), r"[1-9][0-9]{0,6}", "5123456"),
    Office("KIPO", "Korean Intellectual Property Office", ("KR",), r"40[0-9]{7}", "40-1234567"),
    Office("WIPO", "WIPO Madrid System (international registration)", (), r"[1-9][0-9]{0,6}[A-Z]?", "1234567"),
    Office("CIPO", "Canadian Intellectual Property Office", ("CA",), r"TMA[1-9][0-9]{0,6}", "TMA123456",
           prefix="TMA"),
    Office("DPMA", "German Patent and Trade Mark Office", ("DE",), r"[1-9][0-9]{0,14}", "302019123456"),
    Office("INPI", "Institut national de la propriété industrielle (France)", ("FR",), r"[1-9][0-9]{0,7}",
           "4123456"),
    Office("IPAU", "IP Australia", ("AU",), r"[1-9][0-9]{0,7}", "1234567"),
    Office("SWISSREG", "Swiss Federal Institute of Intellectual Property", ("CH",), r"[1-9][0-9]{0,8}",
           "712345"),
)}

# Names people type for an office, mapped to its code.
OFFICE_ALIASES = {"EUTM": "EUIPO", "OHIM": "EUIPO", "SIPO": "CNIPA", "CTMO": "CNIPA", "UKIPO": "UKIPO",
                  "UK IPO": "UKIPO", "IPO UK": "UKIPO", "MADRID": "WIPO", "WIPO MADRID": "WIPO", "KIPRIS": "KIPO",
                  "INPI FR": "INPI", "IGE": "SWISSREG", "IPI": "SWISSREG"}
UNKNOWN_OFFICE_PATTERN = re.compile(r"^[A-Z][A-Z0-9 \-]{1,15}$")
UNKNOWN_NUMBER_PATTERN = re.compile(r"^[A-Z0-9]{1,32}$")


def office_code(raw):
    """The office code for what someone typed ("eutm" -> "EUIPO"), or the tidied text if unknown."""
    text = " ".join((raw or "").split()).upper()
    return OFFICE_ALIASES.get(text, text)


def is_known_office(code):
    return code in OFFICES


def normalise_number(code, raw):
    """(number, error message or None). Unknown offices: tidied only, checked for plausible characters."""
    office = OFFICES.get(code)
    if office is not None:
        number = office.normalise(raw)
        if number is None:
            return raw, f"Not a {code} registration number (expected something like {office.example})."
        return number, None
    number = SEPARATORS.sub("", (raw or "").strip().upper())
    if not UNKNOWN_NUMBER_PATTERN.match(number):
        return raw, "Use letters and digits only (spaces, dashes and dots are ignored), up to 32."
    return number, None


def implied_jurisdictions(code):
    office = OFFICES.get(code)
    return office.covers if office else ()


def is_country_code(code):
    return code in countries_by_alpha2 or code in REGIONAL_CODES


def covered_countries(jurisdictions):
    """Countries a list of jurisdiction codes covers, with regional codes (EU) expanded."""
    countries = set()
    for code in jurisdictions:
        countries |= REGIONAL_CODES.get(code, {code})
    return countries
