"""Validation of flag fields, in one place for the form, the API, and the CSV import.

`clean_flag(values)` takes what a person or a client sent (strings, lists, or a CSV row's cells) and
returns the stored fields and a {field: message} dict of what is wrong with them. It checks each field on
its own; rules that need the database (the marketplace, the orgs of a sharing group, one's own notices)
are checked by the service.
"""
import re
from urllib.parse import urlsplit

from portal.intel.models import CATEGORIES, CONFIDENCES, DISTRIBUTIONS, IDENTIFIER_KINDS, SIGHTING_KINDS, TLP_LABELS
from portal.imports.tables import Columns
from portal.notices.rules import MAX_SELLER_ID
from portal.text import CONTROL_CHARACTERS, clean_url

MAX_NAME = 200
MAX_NOTES = 5000
MAX_IDENTIFIER = 254
MAX_IDENTIFIERS = 20
MAX_SHARES = 50
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DOMAIN = re.compile(r"^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{1,62}$")
LIST_SEPARATORS = re.compile(r"[;,\s]+")

# The bulk-flag file: one flag per row. Identifiers have a column each; `share_with` lists org slugs.
FLAG_COLUMNS = Columns(
    names=("marketplace", "seller_id", "category", "confidence", "tlp", "distribution", "share_with",
           "show_group", "display_name", "shop_url", "email", "domain", "payment", "phone", "notes"),
    required=("marketplace", "seller_id", "category", "tlp", "distribution"),
    aliases={"marketplace": ("marketplace", "platform", "site"),
             "seller_id": ("sellerid", "seller", "shopid", "storeid"),
             "category": ("category", "type"),
             "confidence": ("confidence",),
             "tlp": ("tlp", "tlplabel", "label"),
             "distribution": ("distribution", "sharing", "shareto"),
             "share_with": ("sharewith", "group", "sharinggroup", "orgs"),
             "show_group": ("showgroup", "showmembers"),
             "display_name": ("displayname", "sellername", "name", "shopname"),
             "shop_url": ("shopurl", "storeurl", "url"),
             "email": ("email", "contactemail", "e-mail"),
             "domain": ("domain", "storefrontdomain", "website"),
             "payment": ("payment", "paymenthandle", "paypal"),
             "phone": ("phone", "telephone"),
             "notes": ("notes", "note", "comment", "comments")})
TRUE_WORDS = {"1", "true", "yes", "y", "on"}
FALSE_WORDS = {"", "0", "false", "no", "n", "off"}


def text(value):
    if value is None:
        return ""
    return str(value).replace("\r\n", "\n").strip()


def _choice(errors, name, value, choices, label, default=None):
    value = text(value).lower().replace(" ", "_") if name != "tlp" else _tlp_key(value)
    if not value and default is not None:
        return default
    if value not in choices:
        errors[name] = f"Choose the {label}: " + ", ".join(choices) + "."
    return value


def _tlp_key(value):
    """'TLP:AMBER+STRICT', 'amber strict', 'Amber+Strict' -> 'amber+strict'."""
    value = text(value).lower()
    value = value[4:] if value.startswith("tlp:") else value
    return re.sub(r"[\s_-]*\+?[\s_-]*strict$", "+strict", value.strip())


def flag_bool(value):
    if isinstance(value, bool):
        return value, None
    word = text(value).lower()
    if word in TRUE_WORDS:
        return True, None
    if word in FALSE_WORDS:
        return False, None
    return False, "Answer yes or no."


def org_slugs(value):
    """Org slugs from a list or a text ("microsoft; alibaba")."""
    if isinstance(value, (list, tuple)):
        items = value
    else:
        items = LIST_SEPARATORS.split(text(value))
    return [text(item).lower() for item in items if text(item)]


def normalise_identifier(kind, value):
    """(stored value, None) or (None, message). E-mails and domains in lower case; a domain given as a URL
    keeps only its host, without www.; payment handles and phones lose spaces and punctuation around."""
    value = text(value)
    if not value:
        return None, "Give a value."
    if len(value) > MAX_IDENTIFIER or CONTROL_CHARACTERS.search(value):
        return None, f"At most {MAX_IDENTIFIER} characters, no control characters."
    if kind == "email":
        value = value.lower()
        if value.startswith("mailto:"):
            value = value[7:]
        if not EMAIL.match(value):
            return None, "This is not an e-mail address."
        return value, None
    if kind == "domain":
        host = value.lower()
        if "//" in host:
            try:
                host = urlsplit(host).hostname or ""
            except ValueError:
                return None, "This is not a domain."
        host = host.split("/")[0].rstrip(".")
        host = host[4:] if host.startswith("www.") else host
        if not DOMAIN.match(host):
            return None, "This is not a domain (shop.example.com)."
        return host, None
    if kind == "phone":
        digits = re.sub(r"[\s().-]", "", value)
        if not re.fullmatch(r"\+?\d{6,20}", digits):
            return None, "This is not a phone number."
        return digits, None
    if kind == "payment":
        return re.sub(r"\s+", "", value).lower(), None
    return None, "Unknown kind of identifier: " + ", ".join(IDENTIFIER_KINDS) + "."


def clean_identifiers(errors, entries):
    """[(kind, value)] from [{"kind", "value"}] or {kind: value or [values]}; duplicates collapse."""
    pairs = []
    if isinstance(entries, dict):
        for kind, values in entries.items():
            for value in values if isinstance(values, (list, tuple)) else [values]:
                if text(value):
                    pairs.append((kind, value))
    else:
        for entry in entries or ():
            if not isinstance(entry, dict):
                errors["identifiers"] = "Give each identifier as {kind, value}."
                return []
            pairs.append((entry.get("kind"), entry.get("value")))
    found = []
    for kind, value in pairs:
        kind = text(kind).lower()
        if kind not in IDENTIFIER_KINDS:
            errors["identifiers"] = f"Unknown kind of identifier {kind[:20]!r}: " + ", ".join(IDENTIFIER_KINDS) + "."
            continue
        stored, problem = normalise_identifier(kind, value)
        if problem:
            # Reported under the field it came in: a form's or file's own column ({kind: value}), else the list.
            field = kind if isinstance(entries, dict) and kind in FLAG_COLUMNS.names else "identifiers"
            errors.setdefault(field, f"{IDENTIFIER_KINDS[kind]}: {problem}")
            continue
        if (kind, stored) not in found:
            found.append((kind, stored))
    if len(found) > MAX_IDENTIFIERS:
        errors["identifiers"] = f"Give at most {MAX_IDENTIFIERS} identifiers."
    return found


def clean_seller_key(values, errors):
    """The seller a flag is about: {marketplace (slug), seller_id}; problems go into `errors`."""
    marketplace = text(values.get("marketplace")).lower()
    if not marketplace:
        errors["marketplace"] = "Name the marketplace (its slug, such as taobao)."
    seller_id = text(values.get("seller_id"))
    if not seller_id:
        errors["seller_id"] = "Give the seller's id on the marketplace."
    elif len(seller_id) > MAX_SELLER_ID or CONTROL_CHARACTERS.search(seller_id):
        errors["seller_id"] = f"A seller id has at most {MAX_SELLER_ID} characters and no control characters."
    return {"marketplace": marketplace, "seller_id": seller_id}


def clean_flag(values, partial=False):
    """(fields, errors). With `partial` (an update), only the fields present in `values` are checked and
    returned; the seller (marketplace and seller id) is never part of an update."""
    errors, fields = {}, {}

    def given(name):
        return not partial or name in values

    if not partial:
        fields.update(clean_seller_key(values, errors))
    if given("category"):
        fields["category"] = _choice(errors, "category", values.get("category"), CATEGORIES, "category")
    if given("confidence"):
        fields["confidence"] = _choice(errors, "confidence", values.get("confidence"), CONFIDENCES, "confidence",
                                       default="medium")
    if given("tlp"):
        fields["tlp"] = _choice(errors, "tlp", values.get("tlp"), TLP_LABELS, "TLP label")
    if given("distribution"):
        fields["distribution"] = _choice(errors, "distribution", values.get("distribution"), DISTRIBUTIONS,
                                         "distribution")
    if given("share_with"):
        fields["share_with"] = org_slugs(values.get("share_with"))
        if len(fields["share_with"]) > MAX_SHARES:
            errors["share_with"] = f"Share with at most {MAX_SHARES} organizations."
    if given("show_group"):
        fields["show_group"], problem = flag_bool(values.get("show_group"))
        if problem:
            errors["show_group"] = problem
    if given("display_name"):
        fields["display_name"] = text(values.get("display_name"))
        if len(fields["display_name"]) > MAX_NAME or CONTROL_CHARACTERS.search(fields["display_name"]):
            errors["display_name"] = f"A name has at most {MAX_NAME} characters and no control characters."
    if given("shop_url"):
        fields["shop_url"] = text(values.get("shop_url"))
        if fields["shop_url"]:
            url, problem = clean_url(fields["shop_url"])
            if problem:
                errors["shop_url"] = problem[1].replace("listing", "shop")
    if given("notes"):
        fields["notes"] = text(values.get("notes"))
        if len(fields["notes"]) > MAX_NOTES:
            errors["notes"] = f"Notes have at most {MAX_NOTES} characters."
    if given("identifiers"):
        fields["identifiers"] = clean_identifiers(errors, values.get("identifiers"))
    return fields, errors


def clean_sighting(values):
    errors = {}
    kind = text(values.get("kind")).lower()
    if kind not in SIGHTING_KINDS:
        errors["kind"] = "Choose what you saw: " + ", ".join(SIGHTING_KINDS) + "."
    note = text(values.get("note"))
    if len(note) > MAX_NOTES:
        errors["note"] = f"A note has at most {MAX_NOTES} characters."
    listing_url = text(values.get("listing_url"))
    if listing_url:
        _, problem = clean_url(listing_url)
        if problem:
            errors["listing_url"] = problem[1]
    return {"kind": kind, "note": note, "listing_url": listing_url}, errors
