"""The API's scopes: what each one allows, and which org kinds may hold it.

A client may only ask for scopes it was given; an org may only give scopes that fit its kind; a viewer
authorizing an app grants read scopes only. This module is the one place those rules are written.
"""
SCOPES = {
    "marks:read": "Read the organization's trademarks and their verification status",
    "marks:write": "Create, change and bulk upload trademarks",
    "notices:read": "Read partnerships, takedown notices, their items and SLA clocks",
    "notices:write": "File notices and move notice items through their states",
    "intel:read": "Read flagged-seller intelligence shared with the organization",
    "intel:write": "Flag sellers and add sightings",
    "reports:read": "Pull weekly enforcement reports",
}

# Platforms do not own marks (they verify brands' marks in the portal), so they cannot grant marks:write.
SCOPES_BY_KIND = {
    "brand": tuple(SCOPES),
    "platform": tuple(s for s in SCOPES if s != "marks:write"),
}

READ_ONLY_ROLES = frozenset({"viewer"})


def split_scope(scope):
    """'a b  c' or ['a', 'b'] -> ['a', 'b', 'c'] without duplicates, in the canonical order of SCOPES."""
    if scope is None:
        return []
    words = scope.split() if isinstance(scope, str) else list(scope)
    known = [s for s in SCOPES if s in words]
    unknown = sorted({w for w in words if w not in SCOPES})
    return known + unknown


def unknown_scopes(scopes):
    return [s for s in split_scope(scopes) if s not in SCOPES]


def scopes_for_kind(kind):
    return SCOPES_BY_KIND.get(kind, ())


def scopes_for_role(scopes, role):
    """The part of `scopes` a member with `role` can hold: viewers read, never write."""
    if role in READ_ONLY_ROLES:
        return [s for s in split_scope(scopes) if s.endswith(":read")]
    return split_scope(scopes)
