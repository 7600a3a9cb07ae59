"""Forms of the partnership pages. Shape only; the rules live in portal.partnerships.services."""
from decimal import Decimal

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, DecimalField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional, StopValidation
from wtforms.widgets import CheckboxInput, ListWidget

def finite(form, field):
    """NaN and infinity parse as decimals; refuse them before NumberRange compares them (it cannot)."""
    if field.data is not None and not field.data.is_finite():
        raise StopValidation("Give a number of hours.")


HOURS = [InputRequired(message="Give a number of hours."), finite, NumberRange(min=Decimal("0.1"), max=2160)]


def as_choices(pairs):
    """(value, label) pairs as the choices WTForms 3.3 wants (plain tuples are deprecated)."""
    return [SelectChoice(str(value), label) for value, label in pairs]


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class TermsForm(FlaskForm):
    effective_from = DateField("In effect from", validators=[InputRequired(message="Give a date.")])
    effective_to = DateField("Until (optional)", validators=[Optional()])
    marketplaces = MultiCheckboxField("Marketplaces covered", choices=[])
    ack_hours = DecimalField("Acknowledge within (hours)", places=None, validators=HOURS)
    action_hours = DecimalField("Act within (hours)", places=None, validators=HOURS)
    fast_ack_hours = DecimalField("Fast lane: acknowledge within (hours)", places=None, validators=HOURS)
    fast_action_hours = DecimalField("Fast lane: act within (hours)", places=None, validators=HOURS)
    always_open = BooleanField("24/7: count every hour (no business calendar)")
    timezone = StringField("Time zone (IANA)", validators=[Length(max=64)])
    working_days = StringField("Working days", validators=[Length(max=40)])
    opens = StringField("Opens (HH:MM)", validators=[Length(max=5)])
    closes = StringField("Closes (HH:MM)", validators=[Length(max=5)])
    holidays = TextAreaField("Holidays (one YYYY-MM-DD date per line)", validators=[Length(max=8000)])
    note = TextAreaField("Note to the other side (optional)", validators=[Length(max=2000)])

    def values(self):
        """What portal.partnerships.services.clean_terms takes: targets in whole minutes."""
        values = {name: getattr(self, name).data for name in (
            "effective_from", "effective_to", "marketplaces", "always_open", "timezone", "working_days", "opens",
            "closes", "holidays", "note")}
        for name in ("ack", "action", "fast_ack", "fast_action"):
            hours = getattr(self, f"{name}_hours").data
            values[f"{name}_minutes"] = int(round(hours * 60)) if hours is not None else None
        return values

    def fill(self, values):
        """Start the form from terms (portal.partnerships.services.terms_form_values)."""
        for name in ("effective_from", "effective_to", "marketplaces", "always_open", "timezone", "working_days",
                     "opens", "closes"):
            getattr(self, name).data = values.get(name)
        self.holidays.data = "\n".join(str(d) for d in values.get("holidays") or [])
        for name in ("ack", "action", "fast_ack", "fast_action"):
            minutes = values.get(f"{name}_minutes")
            getattr(self, f"{name}_hours").data = Decimal(minutes) / 60 if minutes else None


class ProposeForm(TermsForm):
    platform = SelectField("Platform", choices=[], validate_choice=False)


class ReasonForm(FlaskForm):
    reason = TextAreaField("Reason (the other side sees it)", validators=[Length(max=2000)])
