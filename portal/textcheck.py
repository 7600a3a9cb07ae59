"""Text the portal can keep: every string a request brings must encode as UTF-8 and hold no NUL.

JSON may escape a lone surrogate ("\\ud800"): Python decodes it into a str that no UTF-8 encoder accepts
(SQLite, psycopg, the audit hash), so such a value used to travel through validation and fail deep inside
the write as a 500. PostgreSQL text refuses NUL ("\\u0000"). A decoded JSON document is checked here as a
whole, before any schema or view reads it, so every field of every endpoint, present and future, is
covered by one rule.

Forms, query strings, paths and multipart filenames cannot carry a surrogate: Werkzeug 3.1 keeps a percent
escape that is not UTF-8 as the text it was ("%ED%A0%80") in query strings and urlencoded forms, and
decodes paths, multipart values and RFC 2231 filenames with errors="replace" (U+FFFD); NUL in a form or
query value is refused up front (portal.security). Uploaded CSV files are decoded strictly, and XLSX text
is XML, which has no surrogates or NUL (portal.imports.tables).

Plumbing: imports nothing of the portal.
"""
NOT_UNICODE = "Text that is not valid Unicode (an unpaired surrogate such as \\ud800) is not accepted."
HAS_NUL = "Text containing NUL characters is not accepted."


def text_problem(text):
    """Why `text` cannot be stored, or None."""
    if "\x00" in text:
        return HAS_NUL
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return NOT_UNICODE
    return None


def shown_key(key):
    """A refused key, readable and encodable in the answer that names it: "\\ud800" for a lone surrogate."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in key)


class _BadKey(str):
    """Stands in the walk for a key that cannot be stored: the walk reaches it in document order."""


def first_bad_text(document):
    """(path, message) for the first string or key, in document order, that cannot be stored; None when
    every one can. `path` lists the keys and list indexes from the top, as marshmallow names nested
    fields ("listings", 0, "title"). Iterative: a document as deep as the JSON parser allows is fine."""
    pending = [((), document)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, _BadKey):
            return path, str(value)
        if isinstance(value, str):
            problem = text_problem(value)
            if problem:
                return path, problem
        elif isinstance(value, dict):
            pending.extend(reversed([_child(path, key, inner) for key, inner in value.items()]))
        elif isinstance(value, list):
            pending.extend(reversed([((*path, index), inner) for index, inner in enumerate(value)]))
    return None


def _child(path, key, value):
    problem = text_problem(key) if isinstance(key, str) else None
    if problem:
        return (*path, shown_key(key)), _BadKey(problem)
    return (*path, key), value


def nested_errors(path, message):
    """("listings", 0, "title"), message -> {"listings": {0: {"title": [message]}}}: marshmallow's shape of
    a field error, so the problem document names the field as it names any other."""
    errors = [message]
    for step in reversed(path or ("_schema",)):
        errors = {step: errors}
    return errors
