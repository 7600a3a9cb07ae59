"""Forms of the API clients page and the consent page (Flask-WTF: every one carries a CSRF token)."""
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectChoice, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from portal.oauth.scopes import SCOPES

CLIENT_TYPES = [
    SelectChoice("confidential", "Server-side integration (has a secret): client credentials, and acting "
                                 "for users when it has redirect URIs"),
    SelectChoice("public", "Browser or mobile app (no secret): acts for users with PKCE, needs a redirect URI"),
]


class CheckboxListField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ClientForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(message="Name the integration."), Length(max=120)])
    client_type = RadioField("Type", choices=CLIENT_TYPES, default="confidential")
    scope = CheckboxListField("Scopes", validate_choice=False)
    redirect_uris = TextAreaField("Redirect URIs (one per line, matched exactly)",
                                  validators=[Length(max=20000)])

    def set_scope_choices(self, allowed):
        self.scope.choices = [SelectChoice(s, f"{s} · {SCOPES[s]}") for s in allowed]


class ConsentForm(FlaskForm):
    org_id = StringField()
