"""The downloadable XLSX template: the columns on the first sheet (header only, so uploading the template
as it is imports nothing by mistake), and a second sheet that explains each column with an example."""
import io

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Font

from portal.imports.runner import UPDATE_RULES_HELP
from portal.marks.rules import COLUMN_HELP, COLUMNS, REQUIRED_COLUMNS

EXAMPLE = {"word": "SWAROVSKI", "office": "EUIPO", "registration_number": "018123456",
           "nice_classes": "14;25", "registered_on": "2019-03-14", "expires_on": "2029-03-14",
           "jurisdictions": "EU"}


def xlsx_template():
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Marks"
    sheet.append(list(COLUMNS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.comment = Comment(COLUMN_HELP[cell.value], "Alliance Portal")
        sheet.column_dimensions[cell.column_letter].width = max(16, len(cell.value) + 4)
    # Registration numbers and dates as text: Excel would drop a number's leading zeros.
    for column in ("B", "C", "D", "E", "F", "G"):
        for row in range(2, 1002):
            sheet[f"{column}{row}"].number_format = "@"
    help_sheet = workbook.create_sheet("How to fill in")
    help_sheet.append(["column", "required", "what to enter", "example"])
    for cell in help_sheet[1]:
        cell.font = Font(bold=True)
    for column in COLUMNS:
        help_sheet.append([column, "yes" if column in REQUIRED_COLUMNS else "no", COLUMN_HELP[column],
                           EXAMPLE[column]])
    help_sheet.column_dimensions["C"].width = 90
    help_sheet.append([])
    help_sheet.append(["Only the first sheet is read. Rows are matched on office + registration number: "
                       "uploading a corrected file again updates those marks and leaves the rest unchanged."])
    help_sheet.append([UPDATE_RULES_HELP])
    help_sheet.append(["Required columns cannot be emptied: a new mark needs them; an existing mark keeps its "
                       "own when the cell is blank."])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
