"""Forms of the intelligence pages. Shape only (lengths, a file present); the rules live in
portal.intel.rules, portal.intel.sharing and portal.intel.services, which say what is wrong in their own
words (the form shows it beside the field)."""
import re

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired, MultipleFileField
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import Length

from portal.intel.models import CATEGORIES, CONFIDENCES, DISTRIBUTIONS, IDENTIFIER_KINDS, SIGHTING_KINDS, TLP_LABELS
from portal.partnerships.forms import MultiCheckboxField, as_choices

# What each TLP 2.0 label asks of recipients, in one sentence (FIRST's definitions).
TLP_MEANINGS = {
    "clear": "Recipients may share it with anyone; there is no limit on disclosure.",
    "green": "Recipients may share it within the alliance, but not publicly.",
    "amber": "Recipients may share it only within their organization and with its clients, on a need-to-know "
             "basis.",
    "amber+strict": "Recipients may share it only within their own organization, on a need-to-know basis.",
    "red": "For the named recipients only: not to be shared any further, not even within their organization.",
}
# Who reads a flag under each distribution (the rule is portal.intel.sharing.visible_to).
DISTRIBUTION_MEANINGS = {
    "own": "Only your organization reads the flag.",
    "group": "Your organization and the organizations you name below. They do not learn who else is named "
             "unless you tick “Show group members”.",
    "alliance": "Every member organization of the alliance, brands and platforms.",
}
IDENTIFIER_FIELDS = tuple(IDENTIFIER_KINDS)  # email, domain, payment, phone: one form field each
IDENTIFIER_SEPARATORS = re.compile(r"[;\n]+")
NOTICE_REFERENCE = re.compile(r"^n-?0*(\d{1,12})$", re.IGNORECASE)
LIST_SEPARATORS = re.compile(r"[\s,;]+")


def notice_ids_from_text(text):
    """"N-000042, N-43 44" -> ["42", "43", "44"]. Anything else is passed on as typed, so the service names
    it in its message ("No notice 'X-1' of yours")."""
    found = []
    for token in LIST_SEPARATORS.split(text or ""):
        if not token:
            continue
        match = NOTICE_REFERENCE.match(token)
        found.append(match.group(1) if match else token)
    return found


def identifier_values(text):
    return [value.strip() for value in IDENTIFIER_SEPARATORS.split(text or "") if value.strip()]


class FlagFields(FlaskForm):
    """What the owner says about a seller and whom it tells: the fields of both flagging and editing."""

    display_name = StringField("Display name (as the shop shows it)", validators=[Length(max=400)])
    shop_url = StringField("Shop URL", validators=[Length(max=2000)])
    category = SelectField("Category", choices=as_choices(CATEGORIES.items()), validate_choice=False)
    confidence = SelectField("Confidence", choices=as_choices(CONFIDENCES.items()), default="medium",
                             validate_choice=False)
    tlp = SelectField("TLP label", choices=as_choices(TLP_LABELS.items()), default="amber", validate_choice=False)
    distribution = SelectField("Distribution", choices=as_choices(DISTRIBUTIONS.items()), default="group",
                               validate_choice=False)
    share_with = MultiCheckboxField("Share with (for a sharing group only)", choices=[], validate_choice=False)
    show_group = BooleanField("Show group members: the organizations named may see one another (and one "
                              "another's sightings)")
    email = StringField(IDENTIFIER_KINDS["email"], validators=[Length(max=2000)])
    domain = StringField(IDENTIFIER_KINDS["domain"], validators=[Length(max=2000)])
    payment = StringField(IDENTIFIER_KINDS["payment"], validators=[Length(max=2000)])
    phone = StringField(IDENTIFIER_KINDS["phone"], validators=[Length(max=2000)])
    notes = TextAreaField("Notes", validators=[Length(max=10000)],
                          description="What you know and how: test buys, packaging, prices, other shops.")
    notices = MultiCheckboxField("Your notices that back this flag", choices=[], validate_choice=False)
    notice_refs = StringField("Or name them", validators=[Length(max=2000)],
                              description="Notice references such as N-000042, separated by commas.")

    def values(self):
        distribution = self.distribution.data or ""
        notices = list(self.notices.data or []) + notice_ids_from_text(self.notice_refs.data)
        return {
            "category": self.category.data, "confidence": self.confidence.data, "tlp": self.tlp.data,
            "distribution": distribution,
            # The names count only for a group; a box left ticked under another choice is not a contradiction.
            "share_with": list(self.share_with.data or []) if distribution == "group" else [],
            "show_group": bool(self.show_group.data) and distribution == "group",
            "display_name": self.display_name.data, "shop_url": self.shop_url.data, "notes": self.notes.data,
            "identifiers": {kind: identifier_values(getattr(self, kind).data) for kind in IDENTIFIER_FIELDS},
            "notices": list(dict.fromkeys(notices)),
        }


class FlagForm(FlagFields):
    """Flagging a seller: the seller, then what the owner says about it, then evidence files."""

    marketplace = SelectField("Marketplace", choices=[], validate_choice=False)
    seller_id = StringField("Seller id on the marketplace", validators=[Length(max=400)],
                            description="The marketplace's own id of the shop (in its URL or profile).")
    evidence = MultipleFileField("Evidence files (PDF, PNG or JPEG)",
                                 description="Test-buy photos, screenshots, lab reports. Each file is hashed "
                                             "(SHA-256); everyone who may read the flag sees the hash.")

    def values(self):
        return {"marketplace": self.marketplace.data, "seller_id": self.seller_id.data, **super().values()}


class FlagValues:
    """A flag as the edit form shows it (identifiers of a kind joined with semicolons)."""

    def __init__(self, flag, identifiers, share_slugs, notice_ids):
        for name in ("category", "confidence", "tlp", "distribution", "show_group", "display_name", "shop_url",
                     "notes"):
            setattr(self, name, getattr(flag, name))
        for kind in IDENTIFIER_FIELDS:
            setattr(self, kind, "; ".join(value for k, value in identifiers if k == kind))
        self.share_with = list(share_slugs)
        self.notices = [str(i) for i in notice_ids]
        self.notice_refs = ""


class WithdrawForm(FlaskForm):
    # Twice the service's limit: browsers send line breaks as two characters; the service counts one.
    reason = TextAreaField("Why you withdraw it (the flag's readers see this)", validators=[Length(max=10000)])


class SightingForm(FlaskForm):
    kind = SelectField("What you found", choices=as_choices(SIGHTING_KINDS.items()), validate_choice=False)
    note = TextAreaField("Note", validators=[Length(max=10000)])
    listing_url = StringField("Listing URL (optional)", validators=[Length(max=2000)])

    def values(self):
        return {"kind": self.kind.data, "note": self.note.data, "listing_url": self.listing_url.data}


class EvidenceForm(FlaskForm):
    evidence = MultipleFileField("Add evidence files (PDF, PNG or JPEG)")


class FlagImportForm(FlaskForm):
    file = FileField("Flag list (.csv or .xlsx)", validators=[FileRequired(message="Choose a file.")])
    dry_run = BooleanField("Dry run: only show what would happen, change nothing")
