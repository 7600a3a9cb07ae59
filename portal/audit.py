"""The audit log (DESIGN.md rule 3): one hash-chained event per state change, in the same transaction.

Each event stores the canonical JSON of the change and `hash = SHA-256(canonical JSON of the event,
including prev_hash)`. `AuditHead` holds the last sequence number and hash: updating it first in every
writing transaction serialises writers (a row lock on PostgreSQL, the write lock on SQLite), so two
transactions can never both chain onto the same predecessor, and it lets `verify_chain` notice events
deleted from the end of the log.

Plumbing: imports no domain. An event's org and actor are foreign keys to the accounts domain's
Organization and User, which that domain hands down with `link_parties` when its models are defined.
"""
import contextlib
import contextvars
import hashlib
import json
from dataclasses import dataclass

from flask import g, has_request_context
from flask_login import current_user
from peewee import BigIntegerField, CharField, DateTimeField, ForeignKeyField, IntegerField, TextField, fn

from portal.db import BaseModel, db, is_postgresql
from portal.tenancy import TenantModel
from portal.timeutil import utcnow

GENESIS_HASH = "0" * 64

# Who is acting outside a browser request: "cli:<os user>", "worker", "demo".
_system_actor = contextvars.ContextVar("audit_system_actor", default="system")


class AuditEvent(TenantModel):
    """One change. `org` (null: the change belongs to no org) and `actor` (null: the CLI, the worker or an
    API client acted, see `actor_label`) are added by `link_parties`."""

    seq = BigIntegerField(unique=True)
    created_at = DateTimeField(default=utcnow)
    actor_label = CharField(max_length=254)
    action = CharField(max_length=64)
    object_type = CharField(max_length=64, default="")
    object_id = CharField(max_length=64, default="")
    change = TextField(default="{}")  # canonical JSON, hashed byte for byte
    prev_hash = CharField(max_length=64)
    hash = CharField(max_length=64)

    class Meta:
        indexes = ((("org", "seq"), False),)  # an org's trail, newest first

    def chained_fields(self):
        return {
            "seq": self.seq,
            "created_at": self.created_at.isoformat(timespec="microseconds"),
            "org_id": self.org_id,
            "actor_id": self.actor_id,
            "actor_label": self.actor_label,
            "action": self.action,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "change": self.change,
            "prev_hash": self.prev_hash,
        }

    def compute_hash(self):
        return hashlib.sha256(canonical_json(self.chained_fields()).encode("utf-8")).hexdigest()

    @property
    def change_data(self):
        return json.loads(self.change)


def link_parties(organization, user):
    """Make `AuditEvent.org` and `AuditEvent.actor` foreign keys to `organization` and `user`; called by
    portal.accounts.models as soon as it defines them, so the two always exist together."""
    AuditEvent._meta.add_field("org", ForeignKeyField(organization, null=True, backref="audit_events",
                                                      on_delete="RESTRICT"))
    AuditEvent._meta.add_field("actor", ForeignKeyField(user, null=True, on_delete="RESTRICT"))


class AuditHead(BaseModel):
    """Single row (id 1): the sequence number and hash of the newest event."""

    id = IntegerField(primary_key=True)
    seq = BigIntegerField(default=0)
    hash = CharField(max_length=64, default=GENESIS_HASH)


def canonical_json(value):
    """Sorted keys, no whitespace, UTF-8: the same value always gives the same bytes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


@contextlib.contextmanager
def acting_as(label):
    """Attribute events written outside a browser request (CLI, worker, demo seeding) to `label`."""
    token = _system_actor.set(label)
    try:
        yield
    finally:
        _system_actor.reset(token)


def current_actor():
    if has_request_context():
        api_token = g.get("api_token")
        if api_token is not None:  # an API call acts as the token's user, or as its client
            user = api_token.acting_user
            return user, user.email if user else f"client:{api_token.client.client_id}"
        # Token and client endpoints never look at the session cookie (it may belong to someone else).
        if g.get("browser_session", True) and current_user.is_authenticated:
            return current_user._get_current_object(), current_user.email
    return None, _system_actor.get()


def record(action, org, obj=None, change=None, object_type=None, object_id=None, actor=None):
    """Append one event. Must run inside the transaction that makes the change it describes.

    The actor is the signed-in user of the request, or the label set with `acting_as`; pass `actor`
    (a User) where the change happens before that user is signed in (sign-in, accepting an invitation).
    """
    if not db.in_transaction():
        raise RuntimeError("audit.record must be called inside the transaction of the change it records")
    if obj is not None:
        object_type = object_type or type(obj).__name__
        object_id = object_id if object_id is not None else obj._pk
    actor, actor_label = (actor, actor.email) if actor is not None else current_actor()

    sql = _statements()
    # Claim the next sequence number first: this UPDATE is the lock that serialises writers, and it
    # answers the claimed number and the head's hash (RETURNING: one round trip, not two).
    claimed = db.execute_sql(sql["claim"]).fetchall()  # all: an unfinished SQLite statement would block the commit
    if not claimed:
        AuditHead.create(id=1, seq=1, hash=GENESIS_HASH)
        claimed = db.execute_sql(sql["head"]).fetchall()
    seq, prev_hash = claimed[0]

    event = AuditEvent(
        seq=seq, org=org, actor=actor, actor_label=actor_label, action=action,
        object_type=object_type or "", object_id=str(object_id if object_id is not None else ""),
        change=canonical_json(change or {}), prev_hash=prev_hash)
    event.hash = event.compute_hash()
    fields = AuditEvent._meta.fields
    values = [fields[name].db_value(event.__data__.get(name)) for name in EVENT_COLUMNS]
    if "insert_and_advance" in sql:  # PostgreSQL: the event and the head's new hash in one statement
        db.execute_sql(sql["insert_and_advance"], [*values, event.hash])
    else:
        db.execute_sql(sql["insert"], values)
        db.execute_sql(sql["advance"], (event.hash,))
    return event


# Every audited transaction runs these four statements: their SQL is written once per kind of database
# rather than built by peewee each time (which cost more than running them, on bulk moves of 300 listings).
EVENT_COLUMNS = ("seq", "created_at", "org", "actor", "actor_label", "action", "object_type", "object_id",
                 "change", "prev_hash", "hash")
_compiled = {}


def _statements():
    kind = type(db.obj)
    if kind not in _compiled:
        mark = db.obj.param
        fields = AuditEvent._meta.fields
        columns = ", ".join(f'"{fields[name].column_name}"' for name in EVENT_COLUMNS)
        head, event = AuditHead._meta.table_name, AuditEvent._meta.table_name
        insert = f'INSERT INTO "{event}" ({columns}) VALUES ({", ".join([mark] * len(EVENT_COLUMNS))})'
        advance = f'UPDATE "{head}" SET "hash" = {mark} WHERE "id" = 1'
        statements = {
            "claim": f'UPDATE "{head}" SET "seq" = "seq" + 1 WHERE "id" = 1 RETURNING "seq", "hash"',
            "head": f'SELECT "seq", "hash" FROM "{head}" WHERE "id" = 1',
            "insert": insert, "advance": advance}
        if is_postgresql():  # a data-modifying WITH: SQLite has none, and its statements cost no round trip
            statements["insert_and_advance"] = f"WITH inserted AS ({insert}) {advance}"
        _compiled[kind] = statements
    return _compiled[kind]


@dataclass
class ChainReport:
    ok: bool
    count: int
    head_hash: str
    bad_seq: int = None
    problem: str = ""

    def as_dict(self):
        data = {"ok": self.ok, "events": self.count, "head_hash": self.head_hash}
        if not self.ok:
            data.update(first_bad_seq=self.bad_seq, problem=self.problem)
        return data


def verify_chain():
    """Walk the log in sequence order; name the first sequence number that does not check out.

    The head is read first and only events up to it are checked: events committed while the walk runs
    are the next verification's business, not a false alarm. (Every event is committed together with
    the head update that claimed its number, so all events up to the head read are visible.)
    """
    head = AuditHead.get_or_none(AuditHead.id == 1)
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS_HASH)
    expected_seq, expected_prev = 1, GENESIS_HASH
    events = AuditEvent.select().where(AuditEvent.seq <= head_seq).order_by(AuditEvent.seq)
    for event in events.iterator():
        if event.seq != expected_seq:
            return ChainReport(False, expected_seq - 1, expected_prev, expected_seq,
                               f"event {expected_seq} is missing (the next event found is {event.seq})")
        if event.prev_hash != expected_prev:
            return ChainReport(False, expected_seq - 1, expected_prev, event.seq,
                               f"event {event.seq} does not link to event {event.seq - 1}")
        if event.compute_hash() != event.hash:
            return ChainReport(False, expected_seq - 1, expected_prev, event.seq,
                               f"event {event.seq} was altered: its content does not match its hash")
        expected_seq, expected_prev = expected_seq + 1, event.hash

    count = expected_seq - 1
    if head_seq > count:
        return ChainReport(False, count, expected_prev, count + 1,
                           f"events {count + 1} to {head_seq} are missing from the end of the log")
    if head_hash != expected_prev:
        return ChainReport(False, count, expected_prev, head_seq,
                           "the chain head does not match the last event")
    # Rows the application never wrote sit beyond the head. Read the highest event before the head again:
    # every committed event is at or below the head as committed then, and the head only grows.
    highest = AuditEvent.select(fn.MAX(AuditEvent.seq)).scalar() or 0
    latest_head = AuditHead.get_or_none(AuditHead.id == 1)
    latest_seq = latest_head.seq if latest_head else 0
    if highest > latest_seq:
        rogue = AuditEvent.select(fn.MIN(AuditEvent.seq)).where(AuditEvent.seq > latest_seq).scalar()
        return ChainReport(False, count, expected_prev, rogue,
                           f"event {rogue} is beyond the chain head: it was not written by the portal")
    return ChainReport(True, count, expected_prev)
