"""Reading an uploaded table (a trademark list, flags, listings): CSV or XLSX, told apart by content, rows streamed one at a time.

`open_table(path, filename)` checks what can be checked cheaply before any work starts (format,
encoding, the header row) and raises `FileRefused` with a clear message otherwise. The `Table` it returns
yields `(row_number, values)` for every row below the header, row numbers as a spreadsheet shows them
(the header is row 1), so a person can find each reported row in their file.

CSV: UTF-8 (with or without BOM) and UTF-16 (with BOM, or without one when the NUL bytes give it away)
are read as such; a file that is not valid UTF-8 is read as Windows-1252 (Excel's "CSV" on Western
Windows) when every byte is defined there, with a warning; anything else is refused. The delimiter (comma,
semicolon as Excel writes in much of Europe, or tab) is the one that makes the most known header names.
"""
import codecs
import csv
import operator
import re
import zipfile
from dataclasses import dataclass, field

from portal.csvutil import needs_apostrophe
from portal.errors import ValidationError

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # Excel 97-2003 .xls
SAMPLE_BYTES = 64 * 1024
MAX_CELL = 1024 * 1024
csv.field_size_limit(MAX_CELL)
BINARY_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f]")

@dataclass(frozen=True)
class Columns:
    """What a kind of table holds: its columns, which are required, and the header names each goes by.
    Each importer brings its own (portal.marks.rules.MARK_COLUMNS, ...)."""

    names: tuple
    required: tuple
    aliases: dict

    def column_for(self, header_text):
        key = header_key(header_text)
        return next((column for column, aliases in self.aliases.items() if key in aliases), None)



class FileRefused(ValidationError):
    """The whole file cannot be imported; `code` says why (the corpus tests and API clients rely on it)."""

    def __init__(self, code, message, problems=()):
        super().__init__({"file": [message]})
        self.text = message
        self.code = code
        self.problems = list(problems)  # [(row, column, code, message, value)]


def header_key(text):
    """"Registration Number", "registration_number", " REGISTRATION-NUMBER " -> "registrationnumber"."""
    return re.sub(r"[^0-9a-z]", "", str(text or "").lower())


@dataclass
class Header:
    columns: dict  # cell index -> column name
    width: int
    warnings: list = field(default_factory=list)


def read_header(cells, spec):
    """Map header cells to columns; refuse a header missing required columns or naming one twice."""
    columns, seen, warnings, problems = {}, {}, [], []
    for index, cell in enumerate(cells):
        text = "" if cell is None else str(cell).strip().lstrip("\ufeff")
        if not text:
            continue
        column = spec.column_for(text)
        if column is None:
            warnings.append(f"The column “{text[:60]}” is not one the import reads; it was ignored.")
        elif column in seen:
            problems.append((1, column, "duplicate_column",
                             f"Two columns mean {column}: “{seen[column]}” and “{text[:60]}”. Keep one.", text))
        else:
            columns[index], seen[column] = column, text
    missing = [c for c in spec.required if c not in seen]
    for column in missing:
        problems.append((1, column, "missing_column", f"The header has no {column} column.", ""))
    if problems:
        named = ", ".join(p[1] for p in problems)
        raise FileRefused(problems[0][2], f"The header row is not usable ({named}). The columns are: "
                                          f"{', '.join(spec.names)}; download the template to start from.",
                          problems)
    return Header(columns, len(cells), warnings)


class InertText(str):
    """A cell's text after inert_cell took our apostrophe off: what the person wrote, literally. A bulk
    update reads "-" as "empty this value", but "'-" (a stored "-" as our CSV downloads write it) stays the
    text "-" (portal.imports.runner.split_cells)."""


def inert_cell(value):
    """Undo the apostrophe our CSV downloads put before a formula-like cell (portal.csvutil.safe_cell), so an
    exported list uploads again unchanged: a cell loses its first apostrophe exactly when safe_cell would
    have added it to what follows."""
    if isinstance(value, str) and value.startswith("'") and needs_apostrophe(value[1:]):
        return InertText(value[1:])
    return value


def is_blank(cells):
    for cell in cells:  # a loop, not all(genexpr): this runs twice for every row of every file
        if cell is not None and (cell.strip() if isinstance(cell, str) else True):
            return False
    return True


class Table:
    file_format = ""
    encoding = ""

    def __init__(self, path, spec):
        self.path = path
        self.spec = spec
        self.warnings = []
        self.header = None

    def records(self):
        """Every row of the file as a list of cells, the header included."""
        raise NotImplementedError

    def open(self):
        """Read the header (the first non-blank row) and check that data rows follow."""
        header_row, has_data = None, False
        for number, cells in enumerate(self.records(), start=1):
            if is_blank(cells):
                continue
            if self.header is None:
                self.header = read_header(cells, self.spec)
                header_row = number
                continue
            has_data = True
            break
        if self.header is None:
            raise FileRefused("empty_file", "The file is empty: there is no header row and no data.")
        if not has_data:
            raise FileRefused("no_rows", "The file has a header row but no data rows below it.")
        self.header_row = header_row
        self.warnings.extend(self.header.warnings)
        return self

    def count_rows(self):
        """How many rows below the header are not blank: the whole file read once, its cells not mapped."""
        return sum(1 for number, cells in enumerate(self.records(), start=1)
                   if number > self.header_row and not is_blank(cells))

    def rows(self):
        """(row_number, {column: value}) for every row below the header; None for a blank row."""
        columns = self.header.columns.items()
        names = tuple(self.header.columns.values())
        width_needed = max(self.header.columns) + 1
        pick = operator.itemgetter(*self.header.columns)
        for number, cells in enumerate(self.records(), start=1):
            if number <= self.header_row:
                continue
            if is_blank(cells):
                yield number, None
                continue
            width = len(cells)
            if width >= width_needed:
                picked = pick(cells) if len(names) > 1 else (pick(cells),)
                try:
                    plain = "\x00'" not in "\x00" + "\x00".join(picked)  # no cell starts with an apostrophe
                except TypeError:  # not all text (a spreadsheet's numbers and dates)
                    plain = False
                if plain:
                    yield number, dict(zip(names, picked))
                    continue
            yield number, {column: inert_cell(cells[index]) if index < width else None for index, column in columns}


class CsvTable(Table):
    file_format = "csv"

    def __init__(self, path, encoding, delimiter, spec):
        super().__init__(path, spec)
        self.encoding = encoding
        self.delimiter = delimiter

    def records(self):
        read = 0
        with open(self.path, encoding=self.encoding, newline="") as handle:
            try:
                for read, cells in enumerate(csv.reader(text_lines(handle), delimiter=self.delimiter), start=1):
                    yield cells
            except NulInText:
                raise FileRefused("not_text", f"Row {read + 1} holds a NUL character: the file is not plain "
                                              "text. Save it again as CSV UTF-8. Nothing was imported.") from None
            except csv.Error as error:
                raise FileRefused("bad_csv", f"Row {read + 1} of the CSV cannot be read ({error}). "
                                             "Nothing was imported.") from None
            except UnicodeDecodeError:
                raise FileRefused("wrong_encoding", ENCODING_MESSAGE) from None


class NulInText(Exception):
    """A line of a CSV file holds a NUL: a binary file, or UTF-16 read as something else."""


def text_lines(handle):
    """The file's lines, refusing one with a NUL (checked a line at a time: cheaper than every cell)."""
    for line in handle:
        if "\x00" in line:
            raise NulInText()
        yield line


class XlsxTable(Table):
    file_format = "xlsx"

    def __init__(self, path, max_uncompressed, spec):
        super().__init__(path, spec)
        self.max_uncompressed = max_uncompressed
        self.check_zip()

    def check_zip(self):
        """Refuse a zip bomb before openpyxl inflates anything: the unpacked size is in the zip's directory."""
        try:
            with zipfile.ZipFile(self.path) as archive:
                unpacked = sum(info.file_size for info in archive.infolist())
                names = set(archive.namelist())
        except (zipfile.BadZipFile, OSError):
            raise FileRefused("bad_xlsx", "This is not a readable XLSX workbook. Save it again from your "
                                          "spreadsheet program as .xlsx or as CSV.") from None
        if unpacked > self.max_uncompressed:
            raise FileRefused("xlsx_too_large", "This workbook unpacks to more than "
                                                f"{self.max_uncompressed // (1024 * 1024)} MB; split it or save "
                                                "it as CSV.")
        if "xl/workbook.xml" not in names:
            raise FileRefused("bad_xlsx", "This zip file is not an XLSX workbook. Upload a .xlsx or .csv file.")

    def records(self):
        import openpyxl
        # An open file, not the path: uploads are stored under generated names without an extension,
        # and openpyxl refuses a path that does not end in .xlsx.
        handle = open(self.path, "rb")
        try:
            workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True)
        except Exception:  # openpyxl raises many types for a damaged workbook
            handle.close()
            raise FileRefused("bad_xlsx", "This XLSX workbook is damaged and cannot be read. Save it again "
                                          "from your spreadsheet program.") from None
        try:
            sheets = workbook.sheetnames
            if len(sheets) > 1 and not any("sheets" in w for w in self.warnings):
                self.warnings.append(f"The workbook has {len(sheets)} sheets; only the first, “{sheets[0]}”, "
                                     "was read.")
            sheet = workbook.worksheets[0]
            sheet.reset_dimensions()  # some programs write a wrong size; read what is there
            rows = sheet.iter_rows(min_row=1, values_only=True)
            while True:
                try:
                    cells = next(rows)
                except StopIteration:
                    break
                except Exception:  # damaged sheet XML, a missing part, an impossible cell reference
                    raise FileRefused("bad_xlsx", "This XLSX workbook is damaged and cannot be read to the end. "
                                                  "Save it again from your spreadsheet program.") from None
                yield list(cells)
        finally:
            workbook.close()
            handle.close()


ENCODING_MESSAGE = ("The file's text encoding was not recognised: save it as “CSV UTF-8” (or UTF-16, or "
                    "Windows-1252) and upload it again. Nothing was imported.")


def detect_encoding(path):
    """The encoding to read a CSV with, and a warning when it is a guess. Refuses binary files."""
    with open(path, "rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", None
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return checked_utf16(path, "utf-16"), None
    if b"\x00" in sample:
        return (checked_utf16(path, utf16_without_bom(sample)),
                "The file has no byte order mark; it was read as UTF-16.")
    if decodes(path, "utf-8"):
        encoding, warning = "utf-8", None
    elif looks_multibyte(sample):
        raise FileRefused("wrong_encoding", MULTIBYTE_MESSAGE)
    elif decodes(path, "cp1252"):
        encoding, warning = "cp1252", "The file is not UTF-8; it was read as Windows-1252."
    else:
        raise FileRefused("wrong_encoding", ENCODING_MESSAGE)
    if BINARY_CONTROLS.search(sample.decode(encoding, errors="replace")):
        raise_binary()
    return encoding, warning


MULTIBYTE_MESSAGE = ("This file seems to use a multi-byte encoding (such as GBK/GB18030, Big5 or Shift-JIS), "
                     "which the portal does not read: save it as “CSV UTF-8” and upload it again. Nothing was "
                     "imported.")


def looks_multibyte(sample):
    """Chinese, Japanese or Korean text in a legacy encoding: nearly every non-ASCII byte sits next to
    another one (two bytes per character). Western Windows-1252 text has isolated accented letters."""
    high = [byte >= 0x80 for byte in sample]
    count = sum(high)
    if count < 4:
        return False
    paired = sum(1 for i, is_high in enumerate(high) if is_high and (
        (i > 0 and high[i - 1]) or (i + 1 < len(high) and high[i + 1])))
    return paired / count > 0.8


def utf16_without_bom(sample):
    """UTF-16 text of mostly Latin letters has a NUL in every other byte; anything else with NULs is binary."""
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.05 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.4 * len(even) and odd.count(0) < 0.05 * len(odd):
        return "utf-16-be"
    raise_binary()


def checked_utf16(path, encoding):
    if not decodes(path, encoding):
        raise FileRefused("wrong_encoding", ENCODING_MESSAGE)
    return encoding


def raise_binary():
    raise FileRefused("not_text", "This file is not a CSV or XLSX spreadsheet (it looks like binary data). "
                                  "Upload the trademark list as .csv or .xlsx.")


def decodes(path, encoding):
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(1024 * 1024):
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def choose_delimiter(path, encoding, spec):
    with open(path, encoding=encoding, newline="") as handle:
        # The header is the first line with any text (leading blank or all-delimiter lines are skipped).
        first_line = next((line for line in handle if any(ch.isalnum() for ch in line)), "")
    best, best_known = ",", -1
    for delimiter in (",", ";", "\t"):
        cells = next(csv.reader([first_line], delimiter=delimiter), [])
        known = sum(1 for cell in cells if spec.column_for(cell.lstrip("\ufeff")))
        if known > best_known:
            best, best_known = delimiter, known
    return best


def open_table(path, filename, max_uncompressed=1024 ** 3, *, spec):
    """The table in the file at `path`, its header checked; FileRefused when it cannot be imported."""
    with open(path, "rb") as handle:
        head = handle.read(8)
    if not head:
        raise FileRefused("empty_file", "The file is empty: there is no header row and no data.")
    if head.startswith(ZIP_MAGIC):
        return XlsxTable(path, max_uncompressed, spec).open()
    if head.startswith(OLE_MAGIC):
        raise FileRefused("xls_not_supported", "Excel 97-2003 workbooks (.xls) are not read. Save the file as "
                                               ".xlsx or as CSV UTF-8.")
    if filename.lower().endswith((".xlsx", ".xlsm")):
        raise FileRefused("bad_xlsx", "This file is named .xlsx but is not an XLSX workbook.")
    encoding, warning = detect_encoding(path)
    table = CsvTable(path, encoding, choose_delimiter(path, encoding, spec), spec)
    if warning:
        table.warnings.append(warning)
    return table.open()
