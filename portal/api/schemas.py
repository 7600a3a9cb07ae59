"""Schemas every API area shares: the problem document and the page envelope."""
from datetime import timezone

from marshmallow import Schema, fields, validate

# Every request with a NUL character is refused (400) before any view runs (portal.security); string
# parameters say so in the document, so generated clients and schemathesis never send one.
NO_NUL = validate.Regexp(r"^[^\x00]*$", error="Text containing NUL characters is not accepted.")


class UtcDateTime(fields.DateTime):
    """A stored (naive UTC) time, written with its offset: 2026-11-22T16:11:48.861351+00:00."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return super()._serialize(value, attr, obj, **kwargs)


class FieldErrorSchema(Schema):
    field = fields.String(required=True, metadata={"description": "The field (dotted path) at fault"})
    message = fields.String(required=True)


class ProblemSchema(Schema):
    """RFC 9457 problem details."""

    type = fields.String(required=True, metadata={"example": "about:blank"})
    title = fields.String(required=True, metadata={"example": "Unprocessable Entity"})
    status = fields.Integer(required=True, metadata={"example": 422})
    detail = fields.String()
    errors = fields.List(fields.Nested(FieldErrorSchema), metadata={"description": "Validation errors"})
    error = fields.String(metadata={"description": "OAuth error code, for 401 and 403"})
    scope = fields.String(metadata={"description": "The scope the request needs (403 insufficient_scope)"})
    code = fields.String(metadata={"description": "Why an uploaded file was refused, e.g. missing_column"})
    problems = fields.List(fields.Dict(), metadata={"description": "A refused file's problems: "
                                                                   "{row, column, code, message, value}"})


def page_schema(item_schema, name):
    """The envelope of every list endpoint: {"items": [...], "next_cursor": "..." | null}."""
    return Schema.from_dict({
        "items": fields.List(fields.Nested(item_schema), required=True),
        "next_cursor": fields.String(required=True, allow_none=True,
                                     metadata={"description": "Pass as `cursor` for the next page; null "
                                                              "on the last page"}),
    }, name=name)
