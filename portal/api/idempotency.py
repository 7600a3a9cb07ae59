"""`Idempotency-Key` for API calls that change many things at once (the listing-level bulk moves).

A client that lost the answer to a call sends it again with the same key: it gets the first call's answer
(`Idempotent-Replayed: true`), and nothing is done twice. The key is the client's (1 to 255 visible ASCII
characters, a UUID say), per organization and operation, and is kept for 24 hours:

- the same key with the same request (canonical JSON of its body): the stored answer, status and body;
- the same key with another request: 422 `idempotency_key_reused`, nothing done;
- the same key while its first call still runs: 409 `idempotency_key_in_progress` (try again shortly);
  a call that died without an answer frees its key after ten minutes;
- a call refused as a whole (its body is invalid, a 4xx raised before anything is done) keeps no answer:
  the key may be used again for the corrected request.

Notice batches keep their key with the batch instead (portal.notices.batches): a batch is itself the record.
"""
import hashlib
import json
import re
from datetime import timedelta

from flask import abort, jsonify, request
from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, IntegrityError, TextField

from portal.accounts.models import Organization
from portal.audit import canonical_json
from portal.db import db
from portal.errors import problem_response
from portal.tenancy import TenantModel
from portal.timeutil import utcnow

HEADER = "Idempotency-Key"
KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")
KEPT_FOR = timedelta(hours=24)
ABANDONED_AFTER = timedelta(minutes=10)
IN_PROGRESS = 0

HEADER_PARAMETER = {"in": "header", "name": HEADER, "required": False, "schema": {
    "type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[\x21-\x7e]+$"},
    "description": "Optional. The same key with the same body within 24 hours answers the first call's "
                   "result again (header Idempotent-Replayed: true) and does nothing twice; with another "
                   "body it is a 422 (code idempotency_key_reused)."}


class IdempotentRequest(TenantModel):
    org = ForeignKeyField(Organization, on_delete="CASCADE", backref="+")
    operation = CharField(max_length=64)
    key = CharField(max_length=255)
    request_sha256 = CharField(max_length=64)
    status = IntegerField(default=IN_PROGRESS)  # the answer's HTTP status; 0 while the first call runs
    body = TextField(default="")  # the answer's JSON, as sent
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("org", "operation", "key"), True), (("created_at",), False))


def key_of_request():
    """The request's Idempotency-Key, or None; a malformed one is a 422 before anything is done."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not KEY_PATTERN.match(key):
        abort(problem_response(422, "Unprocessable Entity", "The Idempotency-Key header must be 1 to 255 visible "
                                                            "ASCII characters; nothing was done.",
                               {HEADER: ["Use 1 to 255 visible ASCII characters (a UUID, say)."]}))
    return key


def answered_once(org, operation, payload, perform):
    """Run `perform()` -> (status, JSON-ready body) once per Idempotency-Key of the request; returns the JSON
    response, the stored one on a replay. Without a key, `perform` simply runs."""
    key = key_of_request()
    if key is None:
        status, body = perform()
        return _json(status, body)
    digest = hashlib.sha256(canonical_json(payload).encode()).hexdigest()
    earlier = _claim(org, operation, key, digest)
    if earlier is not None:
        response = _json(earlier.status, json.loads(earlier.body))
        response.headers["Idempotent-Replayed"] = "true"
        return response
    try:
        status, body = perform()
    except BaseException:
        # Refused as a whole (or failed) before an answer: nothing was done, the key stays free.
        IdempotentRequest.delete().where(_row(org, operation, key)).execute()
        raise
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    IdempotentRequest.update(status=status, body=text).where(_row(org, operation, key)).execute()
    return _json(status, json.loads(text))


def _row(org, operation, key):
    return ((IdempotentRequest.org == org) & (IdempotentRequest.operation == operation)
            & (IdempotentRequest.key == key))


def _claim(org, operation, key, digest):
    """The finished earlier call with this key, or None once this call holds the key (a placeholder row)."""
    now = utcnow()
    with db.atomic():
        earlier = IdempotentRequest.get_or_none(_row(org, operation, key))
        if earlier is not None and (earlier.created_at < now - KEPT_FOR or (
                earlier.status == IN_PROGRESS and earlier.created_at < now - ABANDONED_AFTER)):
            earlier.delete_instance()
            earlier = None
        if earlier is None:
            try:
                with db.atomic():  # a savepoint: another call may take the key at the same moment
                    IdempotentRequest.create(org=org, operation=operation, key=key, request_sha256=digest,
                                             created_at=now)
                return None
            except IntegrityError:
                earlier = IdempotentRequest.get(_row(org, operation, key))
    if earlier.request_sha256 != digest:
        abort(problem_response(422, "Unprocessable Entity", "This Idempotency-Key was used in the last 24 hours "
                                                            "for another request; nothing was done.",
                               {HEADER: ["Use a new key for a new request."]}, code="idempotency_key_reused"))
    if earlier.status == IN_PROGRESS:
        abort(problem_response(409, "Conflict", "A request with this Idempotency-Key is still being handled; "
                                                "ask again in a moment for its answer.",
                               code="idempotency_key_in_progress"))
    return earlier


def forget_expired(now=None):
    """Delete the answers older than 24 hours (the worker's daily purge); returns how many."""
    return IdempotentRequest.delete().where(
        IdempotentRequest.created_at < (now or utcnow()) - KEPT_FOR).execute()


def _json(status, body):
    response = jsonify(body)
    response.status_code = status
    return response
