"""Form helpers every domain's pages share. Flask-WTF adds the CSRF token to every form.

Plumbing: imports nothing of the portal (a domain's own forms live in its package).
"""
from flask_wtf import FlaskForm


class ConfirmForm(FlaskForm):
    """A bare form for one-button actions (deactivate, revoke, sign out): it carries only the CSRF token."""


def apply_service_errors(form, error):
    """Show a ServiceError's messages beside the matching fields; the rest go to `form.form_errors`."""
    for field_name, messages in error.errors.items():
        field = getattr(form, field_name, None)
        if field is not None and hasattr(field, "errors") and field_name != "__all__":
            field.errors = list(field.errors) + messages
        else:
            form.form_errors.extend(messages)
