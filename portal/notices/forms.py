"""Forms of the notice pages. Shape only; the rules live in portal.notices.services and rules."""
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired, MultipleFileField
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import Length

from portal.notices.models import REASONS
from portal.partnerships.forms import MultiCheckboxField, as_choices


class NoticeForm(FlaskForm):
    where = SelectField("Partnership and marketplace", choices=[], validate_choice=False)
    reason_code = SelectField("Reason", choices=as_choices(REASONS.items()))
    explanation = TextAreaField("Explanation", validators=[Length(max=10000)],
                                description="What is infringing and why: what the listings sell, how you know "
                                            "(test buy, packaging, price). Required for every reason, "
                                            "and says what the reason is when you chose Other.")
    marks = MultiCheckboxField("Marks relied on", choices=[], coerce=str)
    listings = TextAreaField("Listings", validators=[Length(max=300 * 2800)],
                             description="One listing per line: its URL, optionally followed by the seller id "
                                         "and the title, separated by tabs (pasted from a spreadsheet) or by "
                                         "a comma and a space. Up to 300 per notice.")
    listings_file = FileField("Or a listings file (.csv or .xlsx)",
                              description="Columns url (required), seller_id and title; see the template.")
    evidence = MultipleFileField("Evidence files (PDF, PNG or JPEG)",
                                 description="Test-buy photos, screenshots, certificates. Each file is hashed "
                                             "(SHA-256); the hash is shown to both sides.")
    test_buy_ref = StringField("Test-buy order reference (optional)", validators=[Length(max=200)])
    confirm_jurisdiction = BooleanField("File anyway: I know these marks are not registered where this marketplace "
                                        "trades")
    good_faith = BooleanField("I make the good-faith statement above")

    def values(self):
        partnership, _, marketplace = (self.where.data or "").partition(":")
        return {"partnership": partnership, "marketplace": marketplace, "reason_code": self.reason_code.data,
                "explanation": self.explanation.data, "marks": self.marks.data,
                "test_buy_ref": self.test_buy_ref.data, "good_faith": self.good_faith.data,
                "confirm_jurisdiction": self.confirm_jurisdiction.data}


class TransitionForm(FlaskForm):
    # Twice the service's limit: browsers send line breaks as two characters; the service counts one.
    reason = TextAreaField("Reason", validators=[Length(max=8000)])
    redress = TextAreaField("How to seek redress (optional; a standard text otherwise)", validators=[Length(max=8000)])


class EvidenceForm(FlaskForm):
    files = MultipleFileField("Add evidence files (PDF, PNG or JPEG)")


class NoticeBatchForm(FlaskForm):
    """A batch of notices: the listings file and the defaults a row may leave blank."""

    file = FileField("Listings file (.csv or .xlsx)", validators=[FileRequired(message="Choose a file.")],
                     description="One listing per row; see the columns and the template beside the form.")
    where = SelectField("Partnership and marketplace (for rows that leave the marketplace blank)", choices=[],
                        validate_choice=False)
    reason_code = SelectField("Reason (for rows that leave it blank)",
                              choices=as_choices([("", "Each row gives its reason")] + list(REASONS.items())))
    marks = MultiCheckboxField("Marks relied on (for rows that leave them blank)", choices=[], coerce=str)
    explanation = TextAreaField("Explanation (for rows that leave it blank)", validators=[Length(max=10000)],
                                description="What is infringing and why: what the listings sell, how you know "
                                            "(test buy, packaging, price). At least a sentence.")
    test_buy_ref = StringField("Test-buy order reference (optional)", validators=[Length(max=200)])
    group_by_seller = BooleanField("One notice per seller: group the listings by seller id as well")
    confirm_jurisdiction = BooleanField("File anyway where the marks are not registered in the marketplace's "
                                        "country (each such row says so)")
    good_faith = BooleanField("I make the good-faith statement above for every notice of this batch")
    dry_run = BooleanField("Dry run: show the planned notices and the problems, file nothing", default=True)

    def values(self):
        partnership, _, marketplace = (self.where.data or "").partition(":")
        return {"partnership": partnership or None, "marketplace": marketplace,
                "reason_code": self.reason_code.data or "", "marks": [int(v) for v in self.marks.data or [] if v.isdigit()],
                "explanation": self.explanation.data, "test_buy_ref": self.test_buy_ref.data,
                "good_faith": bool(self.good_faith.data), "confirm_jurisdiction": bool(self.confirm_jurisdiction.data),
                "group_by_seller": bool(self.group_by_seller.data)}
