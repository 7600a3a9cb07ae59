"""Short lists packed into one text column: [9, 25] is stored as ";9;25;", so one class, country or code
is found with LIKE '%;9;%' and the column needs no table of its own."""


def pack_codes(values):
    """[9, 25] -> ";9;25;": delimited on both sides so one class or country is found with LIKE '%;9;%'."""
    return ";" + ";".join(map(str, values)) + ";" if values else ""


def unpack_codes(text, convert=str):
    return [convert(part) for part in (text or "").split(";") if part]
