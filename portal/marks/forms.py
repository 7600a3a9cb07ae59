"""Forms of the marks pages. Shape only (lengths, a file present); the rules live in portal.marks.rules."""
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, DateField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from portal.marks.rules import COLUMN_HELP


class MarkForm(FlaskForm):
    word = StringField("Word", validators=[Length(max=400)], description=COLUMN_HELP["word"])
    office = StringField("Office", validators=[Length(max=64)], description=COLUMN_HELP["office"])
    registration_number = StringField("Registration number", validators=[Length(max=64)],
                                      description=COLUMN_HELP["registration_number"])
    nice_classes = StringField("Nice classes", validators=[Length(max=400)], description=COLUMN_HELP["nice_classes"])
    registered_on = DateField("Registered on", validators=[Optional()], description=COLUMN_HELP["registered_on"])
    expires_on = DateField("Expires on", validators=[Optional()], description=COLUMN_HELP["expires_on"])
    jurisdictions = StringField("Jurisdictions", validators=[Length(max=2000)],
                                description=COLUMN_HELP["jurisdictions"])
    proof = FileField("Proof of registration (PDF, PNG or JPEG)",
                      description="The registration certificate; platforms check it when they verify the mark.")

    def values(self):
        return {name: getattr(self, name).data for name in ("word", "office", "registration_number",
                                                           "nice_classes", "registered_on", "expires_on",
                                                           "jurisdictions")}


class ImportForm(FlaskForm):
    file = FileField("Trademark list (.csv or .xlsx)", validators=[FileRequired(message="Choose a file.")])
    dry_run = BooleanField("Dry run: only show what would happen, change nothing")


class ReviewForm(FlaskForm):
    reason = TextAreaField("Reason (required to reject; the brand sees it)", validators=[Length(max=2000)])
