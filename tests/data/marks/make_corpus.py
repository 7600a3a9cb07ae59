"""Writes the bad-file corpus of tests/test_marks_corpus.py. Run once (`python tests/data/marks/make_corpus.py`);
the files it writes are committed, so the tests never depend on this script or on random numbers.

Each file is small and shows one problem (or one legitimate variant the import must read correctly).
The expected outcome of every file lives in the CASES table of tests/test_marks_corpus.py.
"""
import random
import struct
import zipfile
import zlib
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
HEADER = "word,office,registration_number,nice_classes"


def write(name, data):
    (HERE / name).write_bytes(data.encode("utf-8") if isinstance(data, str) else data)


def lines(*rows, end="\n"):
    return end.join(rows) + end


def png_bytes():
    """A real 8x8 grey PNG (what a person might rename to .csv by mistake)."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    raw = b"".join(b"\x00" + bytes(range(8 * y, 8 * y + 8)) for y in range(8))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def text_files():
    # Refused before a job exists.
    write("missing_office_column.csv", lines("word,registration_number,nice_classes", "XBOX,2345678,9"))
    write("duplicate_column.csv", lines("word,mark,office,registration_number,nice_classes",
                                        "XBOX,XBOX,USPTO,2345678,9"))
    write("empty.csv", b"")
    write("only_blank_lines.csv", "\r\n\r\n  \r\n")
    write("header_only.csv", lines(HEADER))
    write("header_then_blank_lines.csv", lines(HEADER, "", ",,,", ""))

    # Rows with problems: the job finishes, the bad rows are listed, the good ones are created.
    write("bad_dates.csv", lines(
        HEADER + ",registered_on,expires_on",
        "GOODDATES,USPTO,1000001,9,2020-01-15,2040-01-15",
        "BADMONTH,USPTO,1000002,9,2024-13-45,",
        "DAYFIRST,USPTO,1000003,9,,31/12/2030",
        "FEBRUARY30,USPTO,1000004,9,2024-02-30,",
        "NODATES,USPTO,1000005,25,,",
        "TOOOLD,USPTO,1000006,9,1700-01-01,",
    ))
    write("class_out_of_range.csv", lines(
        HEADER,
        "CLASSZERO,USPTO,1100001,0",
        "CLASS46,USPTO,1100002,46",
        "ONEBAD,USPTO,1100003,9;46",
        "EDGES,USPTO,1100004,1;45",
    ))
    write("bad_numbers.csv", lines(
        HEADER,
        "LETTERS,USPTO,ABC123,9",
        "TENDIGITS,EUIPO,1234567890,9",
        "ZERO,USPTO,0,9",
        "GOODUS,USPTO,1234567,9",
        "GOODEU,EUIPO,18123456,9",
    ))
    write("duplicate_rows.csv", lines(
        HEADER,
        'FIRST,USPTO,"1,234,567",9',
        "SECOND,USPTO,1234567,25",
        "THIRD,uspto,01234567,9",
        "OTHEROFFICE,EUIPO,1234567,9",
    ))
    write("formulas.csv", lines(
        HEADER,
        '"=HYPERLINK(""http://evil.example/"",""click me"")",USPTO,2000001,9',
        "+1+1,USPTO,2000002,9",
        "@SUM(A1),USPTO,2000003,9",
        "-2+3,USPTO,2000004,9",
        "=1+2,USPTO,2000005,=SUM(9)",
        "PLAIN,=cmd|' /C calc'!A0,2000006,9",
        "-MINUS,USPTO,+2000007,9",
    ))
    write("unicode_digit_classes.csv", lines(  # str.isdigit() is true for these, int() refuses them
        HEADER, "GOODCLASS,USPTO,7000001,9", "SQUARED,USPTO,7000002,²", "CIRCLED,USPTO,7000003,9;①",
        "FULLWIDTH,USPTO,7000004,２５"))
    write("long_word.csv", lines(HEADER, "W" * 10_000 + ",USPTO,3000001,9", "SHORT,USPTO,3000002,9"))
    write("nul_in_text.csv", lines(HEADER, "XB\x00OX,USPTO,2345678,9"))

    # Encodings the portal refuses.
    write("shift_jis.csv", lines(HEADER, "ソニー,JPO,4123456,9").encode("shift_jis"))
    write("gb18030.csv", lines(HEADER, "騰訊,CNIPA,12345678,9;42").encode("gb18030"))

    # Encodings and layouts the portal reads.
    words = ["LOUIS VUITTON,EUIPO,15123456,18;25", "HERMÈS,EUIPO,1234,3;14;18", "ŠKODA,EUIPO,2345,12",
             "小米,CNIPA,12345678,9", "ソニー,JPO,4123456,9"]
    write("utf8_bom.csv", b"\xef\xbb\xbf" + lines(HEADER, *words).encode("utf-8"))
    write("utf16_le_bom.csv", lines(HEADER, *words, end="\r\n").encode("utf-16"))  # BOM + little-endian
    write("utf16_be_bom.csv", b"\xfe\xff" + lines(HEADER, *words, end="\r\n").encode("utf-16-be"))
    # Broken half-way: the first rows read fine (so a job starts), a lone surrogate near the end does not.
    body = lines(HEADER, *(f"MARK{n},USPTO,{6000000 + n},9" for n in range(600)), end="\r\n").encode("utf-16-le")
    write("utf16_broken_halfway.csv", b"\xff\xfe" + body + b"\x00\xd8A\x00,\x00\r\x00\n\x00")
    # A NUL past the 64 KB sampled at upload: the job starts, the counting pass finds it, nothing is written.
    body = lines(HEADER, *(f"MARK{n},USPTO,{6000000 + n},9" for n in range(3000)))
    write("nul_after_64k.csv", (body + "BROKEN,USPTO,12\x0034,9\n").encode("utf-8"))
    write("utf16_le_no_bom.csv", lines(HEADER, "HERMÈS,EUIPO,1234,3", "XBOX,USPTO,2345678,9",
                                       end="\r\n").encode("utf-16-le"))
    write("windows1252.csv", lines(HEADER, "HERMÈS,EUIPO,1234,3;14;18", "CITROËN,EUIPO,5678,12",
                                   "NESTLÉ,USPTO,2345678,29;30", "MÜLLER€,USPTO,2345679,29",
                                   end="\r\n").encode("cp1252"))
    write("semicolon_excel_europe.csv", lines(
        "word;office;registration_number;nice_classes;registered_on",
        "L'ORÉAL PARIS;EUIPO;1234;3,5;2019-03-01",
        "GÖTTINGER, WURST;EUIPO;5678;29;",
        "SIEMENS;DPMA;302019123456;9 ;",
        end="\r\n").encode("utf-8"))
    write("semicolon_leading_blank_line.csv", lines(
        "", "word;office;registration_number;nice_classes", "BLANKFIRST;USPTO;2345678;9", end="\r\n"))
    write("comma_leading_blank_line.csv", lines("", HEADER, "BLANKFIRST,USPTO,2345678,9", end="\r\n"))

    # Binary data named .csv.
    rng = random.Random(20240601)
    junk = bytearray(rng.randrange(256) for _ in range(600))
    junk[0:4] = b"\x7fJNK"  # neither a zip, an OLE nor a BOM start
    junk[10] = junk[99] = junk[300] = 0
    write("junk_with_nuls.csv", bytes(junk))
    junk = bytearray(rng.randrange(1, 256) for _ in range(600))
    junk[0:4] = b"\x7fJNK"
    junk[20] = 0x81  # undefined in Windows-1252: no 8-bit reading of this file exists
    write("junk_without_nuls.csv", bytes(junk))
    defined = [b for b in range(1, 256) if b not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)]
    junk = bytearray(rng.choice(defined) for _ in range(600))
    junk[0:8] = b"\x7fELF\x02\x01\x01\x03"  # control characters, every byte defined in Windows-1252
    write("junk_windows1252_controls.csv", bytes(junk))
    write("picture.png.csv", png_bytes())


def xlsx_files():
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Marks"
    sheet.append(["word", "office", "registration_number", "nice_classes"])
    sheet.append(["FIRSTSHEET", "USPTO", "5000001", "9"])
    sheet.append(["ALSOFIRST", "EUIPO", "5000002", "25"])
    other = book.create_sheet("Old marks")
    other.append(["word", "office", "registration_number", "nice_classes"])
    other.append(["SECONDSHEET", "USPTO", "5000003", "9"])
    notes = book.create_sheet("Notes")
    notes.append(["This sheet", "is not", "a list"])
    book.save(HERE / "several_sheets.xlsx")

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Register"
    sheet.append(["Trademark", "Registry", "Reg. No.", "Classes", "Registration date", "Expiry", "Notes"])
    sheet.append(["XBOX", "USPTO", 2345678, 9, datetime(2015, 3, 10), datetime(2035, 3, 10), "numbers"])
    sheet.append([4711, "EUIPO", 18123456.0, "3;5", datetime(2001, 1, 2, 0, 0), None, "a number word"])
    sheet.append([None, None, None, None, None, None, None])  # an empty row in the middle: row 4
    sheet.append(["NOCLASS", "USPTO", 2345679, 46, datetime(2015, 3, 10), None, "class 46 in row 5"])
    sheet.append(["TEXTDATE", "USPTO", "2345680", "9", "2016-04-01", "01/04/2036", "text date in row 6"])
    for row in sheet.iter_rows(min_row=2, min_col=5, max_col=6):
        for cell in row:
            if isinstance(cell.value, datetime):
                cell.number_format = "yyyy-mm-dd"
    book.save(HERE / "typed_cells.xlsx")

    book = openpyxl.Workbook()
    book.active.append(["word", "classes"])
    book.active.append(["XBOX", 9])
    book.save(HERE / "missing_columns.xlsx")

    write("truncated.xlsx", (HERE / "several_sheets.xlsx").read_bytes()[:1500])
    with zipfile.ZipFile(HERE / "zip_not_xlsx.xlsx", "w") as archive:
        archive.writestr("readme.txt", "word,office,registration_number,nice_classes\n")
    write("csv_named.xlsx", lines(HEADER, "XBOX,USPTO,2345678,9"))
    write("legacy.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))


if __name__ == "__main__":
    text_files()
    xlsx_files()
