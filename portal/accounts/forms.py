"""Forms for sign-in and team management. Flask-WTF adds the CSRF token to every one of them.

Forms check shape (required, lengths); business rules (email validity, roles, the last admin, password
policy) live in `services` and come back as ValidationError messages shown beside the fields.
"""
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from portal.accounts.models import ROLES
from portal.accounts.passwords import MAX_LENGTH

ROLE_CHOICES = [SelectChoice(role, role.capitalize()) for role in ROLES]


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(message="Enter your email address."),
                                            Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(message="Enter your password."),
                                                     Length(max=MAX_LENGTH)])
    next = HiddenField()


class ChooseOrgForm(FlaskForm):
    org_id = SelectField("Organization", coerce=str, validate_choice=False,
                         validators=[DataRequired(message="Choose an organization.")])
    next = HiddenField()


class InviteForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(message="Enter the person's email address."),
                                            Length(max=254)])
    role = SelectField("Role", choices=ROLE_CHOICES, default="analyst")


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES)


class AcceptInvitationForm(FlaskForm):
    name = StringField("Your name", validators=[DataRequired(message="Enter your name."), Length(max=200)])
    password = PasswordField("Choose a password", validators=[DataRequired(message="Choose a password.")])
    confirm = PasswordField("Repeat the password",
                            validators=[EqualTo("password", message="The two passwords differ.")])


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired(message="Enter it.")])
    password = PasswordField("New password", validators=[DataRequired(message="Choose a new password.")])
    confirm = PasswordField("Repeat the new password",
                            validators=[EqualTo("password", message="The two passwords differ.")])


def code_field(label="Code from your authenticator app", message="Enter the 6-digit code from your app."):
    return StringField(label, validators=[DataRequired(message=message), Length(max=64)])


class TwoFactorLoginForm(FlaskForm):
    """The second step of signing in: a code from the app, or a recovery code."""
    code = code_field("Authentication code", "Enter the code from your authenticator app, or a recovery code.")


class EnableTwoFactorForm(FlaskForm):
    code = code_field()
    next = HiddenField()


class RegenerateRecoveryCodesForm(FlaskForm):
    """On the account page beside other forms: made with prefix="regenerate" so its fields' ids differ."""
    code = code_field()


class DisableTwoFactorForm(FlaskForm):
    """On the account page beside the password form: made with prefix="disable"."""
    password = PasswordField("Your password", validators=[DataRequired(message="Enter your password."),
                                                          Length(max=MAX_LENGTH)])
    code = code_field("Code from your app, or a recovery code",
                      "Enter the code from your authenticator app, or a recovery code.")


class TwoFactorMandateForm(FlaskForm):
    required = BooleanField("Require two-factor authentication of every member")
