"""Cursor pagination for every list endpoint: stable under inserts and deletes because it continues
after the last id seen (keyset), never from an offset.

The cursor is opaque to clients (pass `next_cursor` back as it came). It is the last id seen, in digits:
every value its documented pattern allows is a valid position, so a well-formed cursor is never refused
and a malformed one is a 422 naming the field. Endpoints sorted on something else than the id define a
cursor of their own.
"""
from marshmallow import Schema, fields, validate

from portal.tenancy import MAX_ID

CURSOR_PATTERN = r"^[0-9]{1,19}$"
MAX_LIMIT = 500
DEFAULT_LIMIT = 100


class PageArgs(Schema):
    limit = fields.Integer(load_default=DEFAULT_LIMIT, validate=validate.Range(min=1, max=MAX_LIMIT),
                           metadata={"description": f"Items per page, 1 to {MAX_LIMIT}"})
    cursor = fields.String(load_default=None, validate=validate.Regexp(
        CURSOR_PATTERN, error="This cursor is not valid; pass the next_cursor of a page as it was returned."),
        metadata={"description": "The `next_cursor` of the previous page (opaque)",
                  "pattern": CURSOR_PATTERN})


def encode_cursor(last_id):
    return str(last_id)


def decode_cursor(cursor):
    return min(int(cursor), MAX_ID)  # past the last possible id: an empty last page


def paginate(query, model, args):
    """One page of `query` (already scoped to the org) in id order: {"items": rows, "next_cursor": ...}."""
    limit = args["limit"]
    if args.get("cursor"):
        query = query.where(model.id > decode_cursor(args["cursor"]))
    rows = list(query.order_by(model.id).limit(limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": rows, "next_cursor": encode_cursor(rows[-1].id) if more else None}
