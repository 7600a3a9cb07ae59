"""CSV downloads: every cell that a spreadsheet would read as a formula is made inert (CSV injection)."""
import csv
import io

from flask import Response, stream_with_context

from portal.db import db

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """A cell as text, with a leading apostrophe when it starts like a formula (OWASP's advice)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_lines(header, rows):
    """Yield the CSV text line by line (header first), every cell made safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in [header] if header else []:
        writer.writerow([safe_cell(v) for v in row])
    yield buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([safe_cell(v) for v in row])
        yield buffer.getvalue()


def csv_response(filename, header, rows):
    """A streamed CSV download (UTF-8 with a BOM, so Excel shows accents right).

    `rows` may be a lazy query (a generator function's): it runs while the response streams. The request
    context stays pushed for that (`current_org` still resolves) and the stream holds a connection of
    its own, since the request's connection is handed back when the view returns.
    """
    @stream_with_context
    def generate():
        with db.connection_context():
            yield "\ufeff"
            yield from csv_lines(header, rows)
    return Response(generate(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"',
                             "Cache-Control": "private, no-store"})
