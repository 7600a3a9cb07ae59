"""Forms of the webhooks pages (Flask-WTF: every one carries a CSRF token)."""
from flask_wtf import FlaskForm
from wtforms import SelectChoice, StringField
from wtforms.validators import DataRequired, Length

from portal.oauth.forms import CheckboxListField
from portal.webhooks.models import EVENT_KINDS

EVENT_CHOICES = [SelectChoice(kind, f"{kind} · {text}") for kind, text in EVENT_KINDS.items()]


class WebhookForm(FlaskForm):
    url = StringField("Endpoint URL", validators=[DataRequired(message="Enter the endpoint's URL."),
                                                   Length(max=2000)])
    events = CheckboxListField("Events", choices=EVENT_CHOICES, validate_choice=False)


class EventsForm(FlaskForm):
    events = CheckboxListField("Events", choices=EVENT_CHOICES, validate_choice=False)
