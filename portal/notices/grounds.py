"""A platform's ground templates: the statements of reasons and questions its analysts use again and again
("Counterfeit: logo and packaging differ from the genuine product"; "Send the registration certificate"),
each for one kind of move, for every partnership or for one. The queue's bulk bar, a listing's decision form
and the API (`ground` in a move) take one instead of typed text; the move then carries a copy of the text, so
changing or deleting a template never changes a decision already made.
"""
from peewee import CharField, DateTimeField, ForeignKeyField, TextField

from portal import audit
from portal.accounts.models import Organization, User
from portal.db import db
from portal.errors import NotFound, ValidationError
from portal.notices import rules
from portal.notices.models import STATE_LABELS
from portal.partnerships.models import Partnership
from portal.tenancy import TenantModel, object_id
from portal.text import CONTROL_CHARACTERS
from portal.timeutil import utcnow

# The platform's moves that carry a ground or a question: what a template is for.
MOVES = {"removed": "Removal ground", "rejected": "Rejection ground", "info_requested": "Question to the brand",
         "counter_noticed": "Counter-notice summary", "reinstated": "Reinstatement ground",
         "upheld": "Ground for upholding"}
MAX_TITLE = 100
MAX_PER_PLATFORM = 200


class GroundTemplate(TenantModel):
    org = ForeignKeyField(Organization, backref="+", on_delete="CASCADE")  # the platform
    partnership = ForeignKeyField(Partnership, null=True, backref="+", on_delete="CASCADE")  # None: every one
    move = CharField(max_length=20)
    title = CharField(max_length=MAX_TITLE)
    text = TextField()
    redress = TextField(default="")
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("org", "move"), False),)

    @property
    def move_label(self):
        return MOVES.get(self.move, STATE_LABELS.get(self.move, self.move))

    def as_dict(self):
        return {"id": self.id, "move": self.move, "title": self.title, "text": self.text, "redress": self.redress,
                "partnership": self.partnership_id}


def templates_of(platform, move=None, partnership=None):
    """The platform's templates, those of one partnership first, then by title. With `partnership`, only the
    ones that apply to it (its own and the general ones)."""
    query = GroundTemplate.for_org(platform)
    if move:
        query = query.where(GroundTemplate.move == move)
    if partnership is not None:
        query = query.where(GroundTemplate.partnership.is_null() | (GroundTemplate.partnership == partnership))
    return list(query.order_by(GroundTemplate.partnership.is_null(), GroundTemplate.move, GroundTemplate.title,
                               GroundTemplate.id))


def get_template(platform, template_id):
    return GroundTemplate.get_for_org(template_id, platform)


def _clean(platform, values):
    errors, cleaned = {}, {}
    move = str(values.get("move") or "").strip()
    if move not in MOVES:
        errors["move"] = "Choose what the template is for: " + ", ".join(MOVES.values()).lower() + "."
    cleaned["move"] = move
    for name, limit, required in (("title", MAX_TITLE, True), ("text", rules.MAX_REASON, True),
                                  ("redress", rules.MAX_REASON, False)):
        text = str(values.get(name) or "").replace("\r\n", "\n").strip()
        if required and not text:
            errors[name] = "Required."
        elif len(text) > limit:
            errors[name] = f"Use at most {limit} characters."
        elif CONTROL_CHARACTERS.search(text):  # line breaks and tabs are fine
            errors[name] = "Remove the control characters."
        cleaned[name] = text
    partnership = values.get("partnership")
    cleaned["partnership"] = None
    if partnership not in (None, "", 0, "0"):
        try:
            pk = object_id(partnership)
        except NotFound:
            pk = None
        found = Partnership.get_or_none((Partnership.id == pk) & (Partnership.platform == platform)) if pk else None
        if found is None:
            errors["partnership"] = "Choose one of your partnerships, or every partnership."
        cleaned["partnership"] = found
    if errors:
        raise ValidationError(errors)
    return cleaned


def create_template(platform, values, user=None):
    if not platform.is_platform:
        raise ValidationError({"move": "Only platforms keep ground templates."})
    cleaned = _clean(platform, values)
    with db.atomic():
        if GroundTemplate.for_org(platform).count() >= MAX_PER_PLATFORM:
            raise ValidationError({"title": f"A platform keeps at most {MAX_PER_PLATFORM} templates; delete "
                                            "one you no longer use."})
        template = GroundTemplate.create(org=platform, created_by=user, **cleaned)
        audit.record("ground_template.created", platform, template, change=template.as_dict())
    return template


def update_template(template, values):
    cleaned = _clean(template.org, values)
    with db.atomic():
        before = template.as_dict()
        GroundTemplate.update(updated_at=utcnow(), **cleaned).where(GroundTemplate.id == template.id).execute()
        template = GroundTemplate.get_by_id(template.id)
        after = template.as_dict()
        audit.record("ground_template.updated", template.org_id, template, change={
            "before": {k: v for k, v in before.items() if after[k] != v},
            "after": {k: v for k, v in after.items() if before[k] != v}})
    return template


def delete_template(template):
    with db.atomic():
        audit.record("ground_template.deleted", template.org_id, template, change=template.as_dict())
        template.delete_instance()


def ground_for(platform, template_id, move, partnership_id):
    """The (reason, redress) a move takes from template `template_id`: a template of the platform for this
    kind of move that applies to the listing's partnership; otherwise a ValidationError naming `ground`."""
    try:
        template = get_template(platform, template_id)
    except NotFound:
        raise ValidationError({"ground": "No such ground template of yours."})
    if template.move != move:
        raise ValidationError({"ground": f"This template is a {template.move_label.lower()}; it cannot be used "
                                         f"to move a listing to {STATE_LABELS.get(move, move).lower()}."})
    if template.partnership_id not in (None, partnership_id):
        raise ValidationError({"ground": "This template is for another partnership."})
    return template.text, template.redress
