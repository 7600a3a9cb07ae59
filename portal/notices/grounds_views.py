"""The platform's ground templates page, on the notices blueprint: the list, adding one, changing and deleting
one. Analysts and admins keep them (they are the people who write the grounds); every member reads them.
The rules live in portal.notices.grounds."""
from flask import flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import Length

from portal.access import member
from portal.accounts.models import Organization
from portal.errors import ServiceError
from portal.forms import ConfirmForm, apply_service_errors
from portal.notices import grounds
from portal.notices.views import bp
from portal.partnerships.forms import as_choices
from portal.partnerships.models import Partnership
from portal.tenancy import current_org


class GroundForm(FlaskForm):
    move = SelectField("For", choices=as_choices([("", "Choose…")] + list(grounds.MOVES.items())),
                       validate_choice=False)
    partnership = SelectField("Partnership", choices=[], validate_choice=False)
    title = StringField("Title (what your analysts pick it by)", validators=[Length(max=200)])
    text = TextAreaField("Text (the ground or question the brand and the seller see)", validators=[Length(max=8000)])
    redress = TextAreaField("Redress (optional; the standard text otherwise)", validators=[Length(max=8000)])

    def with_partnerships(self, platform):
        partners = (Partnership.select(Partnership, Organization).join(Organization, on=(Partnership.brand == Organization.id))
                    .where(Partnership.platform == platform).order_by(Organization.name, Partnership.id))
        self.partnership.choices = as_choices([("", "Every partnership")] + [(p.id, p.brand.name) for p in partners])
        return self

    def values(self):
        return {"move": self.move.data, "partnership": self.partnership.data, "title": self.title.data,
                "text": self.text.data, "redress": self.redress.data}


def render_grounds(form=None, status=200):
    org = current_org._get_current_object()
    return render_template("notices/grounds.html", templates=grounds.templates_of(org),
                           form=form or GroundForm().with_partnerships(org), delete_form=ConfirmForm()), status


@bp.route("/queue/grounds", endpoint="grounds")
@member("viewer", org_kind="platform")
def list_grounds():
    return render_grounds()


@bp.route("/queue/grounds/new", methods=["POST"], endpoint="new_ground")
@member("analyst", org_kind="platform")
def new_ground():
    form = GroundForm().with_partnerships(current_org)
    if form.validate_on_submit():
        try:
            template = grounds.create_template(current_org._get_current_object(), form.values(),
                                               current_user._get_current_object())
        except ServiceError as error:
            apply_service_errors(form, error)
            return render_grounds(form, error.status)
        flash(f"The template \u201c{template.title}\u201d was added.", "success")
        return redirect(url_for("notices.grounds"))
    return render_grounds(form, 422)


@bp.route("/queue/grounds/<int:template_id>", methods=["GET", "POST"], endpoint="edit_ground")
@member("analyst", org_kind="platform")
def edit_ground(template_id):
    template = grounds.get_template(current_org, template_id)
    form = GroundForm().with_partnerships(current_org)
    status = 200
    if form.validate_on_submit():
        try:
            grounds.update_template(template, form.values())
        except ServiceError as error:
            apply_service_errors(form, error)
            status = error.status
        else:
            flash("The template was changed. Decisions already made keep the text they were made with.", "success")
            return redirect(url_for("notices.grounds"))
    elif form.is_submitted():
        status = 422
    else:
        form.move.data, form.title.data, form.text.data = template.move, template.title, template.text
        form.redress.data = template.redress
        form.partnership.data = str(template.partnership_id or "")
    return render_template("notices/ground_edit.html", form=form, template=template), status


@bp.route("/queue/grounds/<int:template_id>/delete", methods=["POST"], endpoint="delete_ground")
@member("analyst", org_kind="platform")
def delete_ground(template_id):
    template = grounds.get_template(current_org, template_id)
    if ConfirmForm().validate_on_submit():
        grounds.delete_template(template)
        flash(f"The template \u201c{template.title}\u201d was deleted.", "success")
    return redirect(url_for("notices.grounds"))
