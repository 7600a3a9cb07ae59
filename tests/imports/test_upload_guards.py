"""Hostile uploads: zip bombs (honest and lying ones), XML entity bombs, files whose name lies about their
type, and names that try to choose where the file is kept. Each is refused with a message (or read for what
it really is), nothing is imported, and nothing but generated names is ever written."""
import io
import resource
import struct
import zipfile

import openpyxl
import pytest
from werkzeug.datastructures import FileStorage

from portal.errors import ValidationError
from portal.imports.models import ImportJob
from portal.marks.models import Mark
from portal.imports.tables import FileRefused
from portal.uploads import folder, save_documents

HEADER = ["word", "office", "registration_number", "nice_classes"]


def workbook_bytes(rows):
    book = openpyxl.Workbook()
    for row in [HEADER, *rows]:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def with_part(xlsx, name, data):
    """The workbook with one part replaced (or added) by `data`, compressed."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename != name:
                target.writestr(info, source.read(info.filename))
        target.writestr(name, data)
    return out.getvalue()


def sheet_of_padding(megabytes):
    """Sheet XML of one real row and `megabytes` MB of whitespace: compresses a thousand to one."""
    cells = "".join(f'<c r="{col}1" t="inlineStr"><is><t>{value}</t></is></c>'
                    for col, value in zip("ABCD", HEADER))
    return ('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns='
            '"http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
            f'<row r="1">{cells}</row>' + " " * (megabytes * 1024 * 1024) + "</sheetData></worksheet>")


def lie_about_sizes(data, declared=1000):
    """Rewrite every local header and central directory entry to declare `declared` unpacked bytes."""
    data = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (start := data.find(signature, start)) != -1:
            struct.pack_into("<I", data, start + offset, declared)
            start += 4
    return bytes(data)


def refused(world, org, content, filename):
    with pytest.raises((FileRefused, ValidationError)) as caught:
        world.upload(org, content, filename=filename)
    return str(caught.value)


@pytest.fixture
def brand(world):
    return world.org("Swarovski")


def kept_uploads(area="imports"):
    from flask import current_app
    with current_app.app_context():
        return sorted(p.name for p in folder(area).iterdir())


def test_a_workbook_that_unpacks_past_the_limit_is_refused_before_it_is_opened(app, world, brand, monkeypatch):
    monkeypatch.setitem(app.config, "MARKS_IMPORT_MAX_UNPACKED_BYTES", 8 * 1024 * 1024)
    bomb = with_part(workbook_bytes([]), "xl/worksheets/sheet1.xml", sheet_of_padding(40))
    assert len(bomb) < 200_000  # 40 MB of sheet in a small upload
    with app.app_context():
        before = kept_uploads()
        message = refused(world, brand, bomb, "list.xlsx")
        assert "unpacks to more than 8 MB" in message
        assert ImportJob.select().count() == 0 and Mark.select().count() == 0
        assert kept_uploads() == before  # the refused file was not kept


def test_a_workbook_lying_about_its_unpacked_size_is_refused_without_inflating_it(app, world, brand):
    """The directory says 1,000 bytes; the data inflates to 40 MB. zipfile stops at the declared size and
    the CRC check fails, so the lie is caught as a damaged workbook, in bounded memory."""
    liar = lie_about_sizes(with_part(workbook_bytes([]), "xl/worksheets/sheet1.xml", sheet_of_padding(40)))
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    job = None
    try:
        job = world.upload(brand, liar, filename="list.xlsx")
    except (FileRefused, ValidationError) as error:
        assert "XLSX" in str(error) or "workbook" in str(error)
    if job is not None:
        job = ImportJob.get_by_id(job.id)
        assert job.status == "failed" and "damaged" in job.failure
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before
    assert grown_kb < 30 * 1024, f"memory grew by {grown_kb} kB"
    assert Mark.select().count() == 0


def test_an_xml_entity_bomb_in_a_workbook_is_refused(world, brand):
    """A billion laughs in the sheet: the XML parser refuses to expand it and the import says the workbook
    cannot be read, without the memory a billion "lol"s would take. openpyxl parses with defusedxml."""
    import openpyxl.xml
    assert openpyxl.xml.DEFUSEDXML, "defusedxml (requirements.txt) is what keeps entities out of workbooks"
    entities = "".join(f'<!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">'
                       for n in range(1, 10))
    cells = "".join(f'<c r="{col}1" t="inlineStr"><is><t>{value}</t></is></c>' for col, value in zip("ABCD", HEADER))
    sheet = ('<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY lol "lol">' + entities + ']>'
             '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
             f'<row r="1">{cells}</row><row r="2"><c r="A2" t="inlineStr"><is><t>&lol9;</t></is></c></row>'
             '</sheetData></worksheet>')
    bomb = with_part(workbook_bytes([]), "xl/worksheets/sheet1.xml", sheet)
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        job = ImportJob.get_by_id(world.upload(brand, bomb, filename="list.xlsx").id)
        assert job.status == "failed" and "cannot be read" in job.failure, job.failure
    except (FileRefused, ValidationError) as error:
        assert "cannot be read" in str(error)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 100 * 1024
    assert Mark.select().count() == 0


def test_a_list_is_read_by_its_content_whatever_its_name(world, brand):
    xlsx = workbook_bytes([["SWAROVSKI", "EUIPO", "018123456", "14"]])
    job = world.upload(brand, xlsx, filename="marks.csv")  # a workbook named .csv is read as a workbook
    assert (job.status, job.file_format, job.created) == ("done", "xlsx", 1)
    csv_text = "word,office,registration_number,nice_classes\nCRYSTAL,USPTO,1234567,14\n"
    assert "named .xlsx but is not an XLSX" in refused(world, brand, csv_text, "marks.xlsx")
    elf = b"\x7fELF\x02\x01\x01" + bytes(range(256)) * 4
    assert "not a CSV or XLSX spreadsheet" in refused(world, brand, elf, "marks.csv")
    old_excel = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600
    assert ".xls" in refused(world, brand, old_excel, "marks.csv")
    assert Mark.select().count() == 1


@pytest.mark.parametrize("content, name", [
    (b"<html><script>alert(1)</script></html>", "receipt.pdf"),   # HTML named PDF
    (b"MZ\x90\x00" + b"\x00" * 100, "photo.png"),                  # a Windows program named PNG
    (b"GIF89a" + b"\x00" * 100, "photo.jpg"),                      # a type not accepted
    (b"", "empty.pdf"),
])
def test_evidence_is_accepted_by_its_content_not_its_name(app, content, name):
    with app.test_request_context():
        before = kept_uploads("evidence-test")
        with pytest.raises(ValidationError) as caught:
            save_documents([FileStorage(io.BytesIO(content), filename=name)], "evidence-test", 1024 * 1024, 3,
                           "a notice")
        assert "checked by their content" in str(caught.value.errors)
        assert kept_uploads("evidence-test") == before  # nothing kept


@pytest.mark.parametrize("name", ["../../../../etc/cron.d/evil.pdf", "/etc/passwd.pdf", "..\\..\\win.ini.pdf",
                                  "con.pdf", "a\x00b.pdf", "\u202egnp.pdf", ""])
def test_files_are_kept_under_generated_names_only(app, tmp_path, name):
    with app.test_request_context():
        area = folder("evidence-test")
        [kept] = save_documents([FileStorage(io.BytesIO(b"%PDF-1.4 x"), filename=name or "x.pdf")],
                                "evidence-test", 1024, 3, "a notice")
        assert len(kept.name) == 32 and all(c in "0123456789abcdef" for c in kept.name)
        assert kept.path("evidence-test").parent == area and kept.path("evidence-test").exists()
        assert "/" not in kept.original_name and "\\" not in kept.original_name
        assert all(ch.isprintable() for ch in kept.original_name)
