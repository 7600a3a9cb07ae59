"""CSV downloads: every cell that a spreadsheet would read as a formula is made inert (CSV injection).

A cell is formula-like (OWASP's CSV injection advice, widened) when it starts with TAB or CR, or when its
first character that is not a space is a formula character: = + - @ or a character that compatibility-
normalises to one (full-width ＝ ＋ － ＠, small and superscript forms). Spaces are Unicode whitespace (NBSP,
the ideographic space, LF and the other line breaks included) and invisible format characters (zero-width
space, word joiner, BOM, direction marks): a spreadsheet may skip them, a reader does not see them.
A cell starting with LF is left alone unless a formula character follows: LF alone starts no formula.
"""
import csv
import io
import unicodedata

from flask import Response, stream_with_context

from portal.db import db

FORMULA_CHARACTERS = "=+-@"
ALWAYS_GUARDED = ("\t", "\r")  # OWASP's list: some programs drop them and read what follows


def is_blank(character):
    """Whitespace, or an invisible format character (category Cf: U+200B, U+2060, U+FEFF, U+200E ...)."""
    return character.isspace() or unicodedata.category(character) == "Cf"


def starts_like_formula(text):
    """Whether a spreadsheet program could evaluate the cell, at once or once it trims what comes first."""
    if text.startswith(ALWAYS_GUARDED):
        return True
    first = next((character for character in text if not is_blank(character)), "")
    return first != "" and unicodedata.normalize("NFKC", first)[:1] in FORMULA_CHARACTERS


def needs_apostrophe(text):
    """True for a formula-like cell, and for one that is formula-like after apostrophes: guarding
    "'=1" too (as "''=1") is what lets the upload (portal.imports.tables.inert_cell) take exactly one
    apostrophe off the cells guarded here and give back every exported value unchanged."""
    return starts_like_formula(text.lstrip("'"))


def safe_cell(value):
    """A cell as text, with a leading apostrophe when it starts like a formula (OWASP's advice)."""
    text = "" if value is None else str(value)
    return "'" + text if needs_apostrophe(text) else text


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
