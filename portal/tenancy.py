"""Tenancy (DESIGN.md rule 1): every tenant-owned row names its org, and nothing reads one unscoped.

Views, API handlers, CLI and tasks reach tenant-owned rows only through `Model.for_org(org)` and
`Model.get_for_org(pk, org)`. An object of another org is indistinguishable from a missing one: 404.
The current org of a request lives in `g` and is read through `current_org` / `current_membership`.
"""
from flask import g, has_app_context
from werkzeug.local import LocalProxy

from portal.db import BaseModel
from portal.errors import NotFound


class TenantModel(BaseModel):
    """Base class of every tenant-owned model. Subclasses declare `org = ForeignKeyField(Organization)`."""

    @classmethod
    def for_org(cls, org):
        """Rows of this model owned by `org` (an Organization or its id)."""
        return cls.select().where(cls.org == org)

    @classmethod
    def get_for_org(cls, pk, org):
        """The row with primary key `pk` if `org` owns it; otherwise NotFound (404), never another org's row."""
        try:
            pk = int(pk)
        except (TypeError, ValueError):
            raise NotFound()
        row = cls.for_org(org).where(cls._meta.primary_key == pk).first()
        if row is None:
            raise NotFound()
        return row


def tenant_models():
    """Every concrete tenant-owned model, for the isolation tests."""
    found, pending = [], list(TenantModel.__subclasses__())
    while pending:
        model = pending.pop()
        found.append(model)
        pending.extend(model.__subclasses__())
    return found


def _current(attr):
    return g.get(attr) if has_app_context() else None


current_org = LocalProxy(lambda: _current("org"))
current_membership = LocalProxy(lambda: _current("membership"))
