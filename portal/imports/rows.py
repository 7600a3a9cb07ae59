"""A row of a bulk upload as every importer checks it: the `Checked` result of a row's cells (its fields,
its problems, its warnings), each `Problem` with a column, a stable code, a message and the offending value
as the report shows it, and the reading of spreadsheet cells as text."""
from dataclasses import dataclass, field
from datetime import date, datetime

MAX_REPORTED_VALUE = 200


@dataclass
class Problem:
    column: str
    code: str
    message: str
    value: str = ""


@dataclass
class Checked:
    fields: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)
    warnings: list = field(default_factory=list)

    @property
    def ok(self):
        return not self.problems

    def problem(self, column, code, message, value=""):
        self.problems.append(Problem(column, code, message, reported_value(value)))

    def as_errors(self):
        """{column: [messages]}, the shape of ValidationError."""
        errors = {}
        for problem in self.problems:
            errors.setdefault(problem.column, []).append(problem.message)
        return errors


def reported_value(value):
    """A cell as the error report shows it: text, cut short when very long."""
    text = "" if value is None else str(value)
    if len(text) > MAX_REPORTED_VALUE:
        return f"{text[:MAX_REPORTED_VALUE]}… ({len(text)} characters)"
    return text


def as_text(value):
    """A cell as text: spreadsheet numbers lose the ".0" a float gives them (1234567.0 -> "1234567")."""
    if type(value) is str:  # a CSV cell, by far the most common: called for every cell of every row
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value).strip()
