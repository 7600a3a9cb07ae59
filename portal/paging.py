"""Numbered pages of the portal's lists (marks, notices, queue, audit trail), shown by the `pager` macro.
The API pages by cursor instead (portal.api.pagination)."""
from dataclasses import dataclass

from flask import request


@dataclass
class Page:
    rows: list
    number: int
    count: int  # pages, at least 1
    total: int  # rows in the whole list


def numbered_page(query, size):
    """The page of `query` that `?page=` asks for, clamped into range (a bad number shows page 1 or the last)."""
    return page_of(query.count(), lambda limit, offset: list(query.limit(limit).offset(offset)), size)


def page_of(total, fetch, size):
    """The same for a list of `total` rows whose page `fetch(limit, offset)` reads (a prepared query)."""
    count = max((total + size - 1) // size, 1)
    number = min(max(request.args.get("page", 1, type=int) or 1, 1), count)
    return Page(rows=fetch(size, (number - 1) * size), number=number, count=count, total=total)
