"""Tenancy (DESIGN.md rule 1): every tenant-owned row names its org, and nothing reads one unscoped.

Views, API handlers, CLI and tasks reach tenant-owned rows only through `Model.for_org(org)` and
`Model.get_for_org(pk, org)`. An object of another org is indistinguishable from a missing one: 404.
The current org of a request lives in `g` and is read through `current_org` / `current_membership`.
"""
from flask import g, has_app_context
from werkzeug.local import LocalProxy

from portal.db import BaseModel, db, is_postgresql
from portal.errors import NotFound


MAX_ID = 2**63 - 1


class TenantModel(BaseModel):
    """Base class of every tenant-owned model. Subclasses declare `org = ForeignKeyField(Organization)`."""

    @classmethod
    def for_org(cls, org):
        """Rows of this model owned by `org` (an Organization or its id)."""
        return cls.select().where(cls.org == org)

    @classmethod
    def get_for_org(cls, pk, org):
        """The row with primary key `pk` if `org` owns it; otherwise NotFound (404), never another org's row."""
        row = cls.for_org(org).where(cls._meta.primary_key == object_id(pk)).first()
        if row is None:
            raise NotFound()
        return row


def object_id(value):
    """An id from a URL or a form as an int, or NotFound: text, and numbers no row can have (some drivers
    would overflow on them), are answered like a missing object."""
    try:
        pk = int(value)
    except (TypeError, ValueError):
        raise NotFound()
    if not 1 <= pk <= MAX_ID:
        raise NotFound()
    return pk


def lock_org(org):
    """Serialise, within the current transaction, every writer that checks an org-wide rule (the last
    admin, one pending invitation per email) before changing that org.

    PostgreSQL: a row lock on the org, FOR NO KEY UPDATE: it excludes the other lockers but not the
    KEY SHARE lock that inserting any row referencing the org takes. (FOR UPDATE would: a transaction
    holding the audit head and inserting its event for this org would then wait for us while we wait for
    the audit head, a deadlock.) SQLite: nothing to do, every transaction already holds the database's
    write lock from its first statement (BEGIN IMMEDIATE, see portal.db).
    """
    if not db.in_transaction():
        raise RuntimeError("lock_org only means something inside a transaction")
    if is_postgresql():
        db.execute_sql("SELECT id FROM organization WHERE id = %s FOR NO KEY UPDATE", (getattr(org, "id", org),))


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
