"""Cursor pagination for every list endpoint: stable under inserts and deletes because it continues
after the last id seen (keyset), never from an offset."""
import base64
import binascii
import json

from marshmallow import Schema, fields, validate

from portal.errors import ValidationError
from portal.tenancy import MAX_ID

MAX_LIMIT = 500
DEFAULT_LIMIT = 100


class PageArgs(Schema):
    limit = fields.Integer(load_default=DEFAULT_LIMIT, validate=validate.Range(min=1, max=MAX_LIMIT),
                           metadata={"description": f"Items per page, 1 to {MAX_LIMIT}"})
    cursor = fields.String(load_default=None, validate=validate.Length(max=200),
                           metadata={"description": "The `next_cursor` of the previous page"})


def encode_cursor(last_id):
    raw = json.dumps({"after": last_id}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor):
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        after = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))["after"]
    except (ValueError, KeyError, TypeError, UnicodeError, binascii.Error):
        after = None
    if type(after) is not int or not 0 <= after <= MAX_ID:
        raise ValidationError({"cursor": "This cursor is not valid; use the next_cursor of a page as it "
                                         "was returned."})
    return after


def paginate(query, model, args):
    """One page of `query` (already scoped to the org) in id order: {"items": rows, "next_cursor": ...}."""
    limit = args["limit"]
    if args.get("cursor"):
        query = query.where(model.id > decode_cursor(args["cursor"]))
    rows = list(query.order_by(model.id).limit(limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": rows, "next_cursor": encode_cursor(rows[-1].id) if more else None}
