"""Text that cannot be stored never costs a 500 (issue 18, part 4).

JSON may escape a lone surrogate ("\\ud800"), which no UTF-8 encoder accepts: every JSON write of the API
answered 500 (UnicodeEncodeError in the database driver). Now the decoded document is checked before any
schema or view reads it (portal.textcheck, through the API's argument parser): a 422 problem naming the
field as the API's other 422s name it, and nothing written. NUL ("\\u0000") is refused the same way.

Every write operation the OpenAPI document lists with a JSON body is tried, each string field of its
schema in turn, so a new endpoint or field is covered without touching this file. Then forms, query
strings, paths, multipart filenames and uploaded files: none of them can carry a surrogate (Werkzeug 3.1
keeps a percent escape that is not UTF-8 as the text "%ED%A0%80" in query strings and forms, decodes paths
and multipart values with errors="replace"; CSV is decoded strictly; XML has no surrogates) and NUL in a
form or query value is refused up front (422 naming the field), so they are checked for never reaching a 500, here and on
PostgreSQL, where NUL in a seller's path used to reach the database.
"""
import copy
import io
import json
import zipfile

import pytest

from portal.audit import acting_as
from portal.imports.models import ImportJob
from portal.marks.models import Mark
from portal.imports.tables import FileRefused, open_table
from portal.marks.rules import MARK_COLUMNS
from portal.models import ALL_MODELS
from portal.notices.models import NoticeItem
from portal.oauth.scopes import SCOPES
from portal.textcheck import HAS_NUL, NOT_UNICODE
from tests.conftest import page_text
from tests.platform.test_api import PROBLEM, bearer, client_token

PDF = b"%PDF-1.4\n%%EOF\n"
MARKS_CSV = b"word,office,registration_number,nice_classes\nHALO,USPTO,3456789,9\n"
JSON_TYPES = ("application/json",)


@pytest.fixture
def alliance(app, client, world):
    """Alibaba (Taobao, Tmall) and Swarovski in partnership: a verified mark and another one, a notice of two
    listings, an alliance flag of Swarovski's, a dry-run import; a token for each side with every scope it
    may hold."""
    alibaba, brand = world.org("Alibaba", kind="platform"), world.org("Swarovski")
    world.marketplace(alibaba, "Taobao")
    world.marketplace(alibaba, "Tmall")
    partnership = world.partnership(brand, alibaba)
    mark = world.verified_mark(brand, alibaba, word="SWAROVSKI")
    notice = world.notice(brand, partnership, ["https://item.taobao.com/item.htm?id=1",
                                               "https://item.taobao.com/item.htm?id=2"], marks=[mark]).notice
    flag = world.flag(brand, "crystal-outlet", "taobao", display_name="Crystal Outlet")
    job = world.upload(brand, MARKS_CSV, dry_run=True)
    other_mark = world.mark(brand, word="SWAROVSKI", office="EUIPO", number="018000001", classes="14")
    tokens = {"brand": client_token(client, brand, " ".join(SCOPES)),
              "platform": client_token(client, alibaba, " ".join(s for s in SCOPES if s != "marks:write"))}
    for token in tokens.values():
        client.get("/api/v1/me", headers=bearer(token))  # the clients' last use is recorded: done now
    item = NoticeItem.select().where(NoticeItem.notice == notice).order_by(NoticeItem.position).first()
    return {"brand": brand, "platform": alibaba, "tokens": tokens, "partnership": partnership, "verified": mark,
            "path_ids": {"flag_id": flag.id, "mark_id": other_mark.id, "notice_id": notice.id, "item_id": item.id,
                         "import_id": job.id}}


def database_contents():
    """Every row of every table: 'nothing written' compared exactly."""
    return {model.__name__: sorted(map(repr, model.select().tuples())) for model in ALL_MODELS}


# --- every JSON write of the API ------------------------------------------------------------------------

def valid_bodies(alliance):
    """A body each write operation accepts (checked last, when it may write), and the side that sends it.
    An operation missing here is still tried, with a body drawn from its schema (see body_from_schema)."""
    notice_id = alliance["path_ids"]["notice_id"]
    return {
        "POST /api/v1/marks": ("brand", {
            "word": "SWAROVSKI CRYSTAL", "office": "WIPO", "registration_number": "1234567", "nice_classes": [14],
            "jurisdictions": ["CN"], "registered_on": "2020-01-02", "expires_on": "2030-01-02"}),
        "PATCH /api/v1/marks/{mark_id}": ("brand", {
            "word": "SWAROVSKI OPTIK", "office": "CNIPA", "registration_number": "12345679", "nice_classes": [9],
            "jurisdictions": ["CN"], "registered_on": "2020-01-02", "expires_on": "2031-01-02"}),
        "POST /api/v1/notices": ("brand", {
            "partnership": alliance["partnership"].id, "marketplace": "taobao", "reason_code": "counterfeit",
            "explanation": "Counterfeit crystal figurines sold under our mark.", "good_faith": True,
            "marks": [alliance["verified"].id], "test_buy_ref": "TB-2026-1",
            "listings": [{"url": "https://item.taobao.com/item.htm?id=50", "seller_id": "shop-50",
                          "title": "Crystal swan"}]}),
        "POST /api/v1/notices/{notice_id}/items/{item_id}/transitions": ("platform", {
            "to": "removed", "reason": "Counterfeit confirmed.", "redress": "Write to appeals@alibaba.example."}),
        "POST /api/v1/intel/flags": ("brand", {
            "marketplace": "tmall", "seller_id": "shop-7", "category": "counterfeit_confirmed", "confidence": "high",
            "tlp": "amber", "distribution": "group", "share_with": ["alibaba"], "show_group": True,
            "display_name": "Shop Seven", "shop_url": "https://shop.tmall.com/7", "notes": "Test buy TB-7.",
            "identifiers": [{"kind": "email", "value": "boss@fakes.example"}], "notices": [notice_id]}),
        "PATCH /api/v1/intel/flags/{flag_id}": ("brand", {
            "category": "other", "confidence": "low", "tlp": "amber", "distribution": "group",
            "share_with": ["alibaba"], "display_name": "Crystal Outlet 2", "shop_url": "https://shop.taobao.com/c",
            "notes": "Relisted.", "identifiers": [{"kind": "phone", "value": "+86 138 0000 0000"}]}),
        "POST /api/v1/intel/flags/{flag_id}/sightings": ("platform", {
            "kind": "seen", "note": "Relisted today.", "listing_url": "https://item.taobao.com/item.htm?id=9"}),
        "POST /api/v1/intel/screenings": ("brand", {
            "marketplace": "taobao", "listings": [{"title": "Crystal swan", "price": "12.50", "seller_id": "shop-9",
                                                   "url": "https://item.taobao.com/item.htm?id=9",
                                                   "marketplace": "taobao"}]}),
    }


def the_document(client):
    return client.get("/api/openapi.json").json


def deref(spec, schema):
    """The schema a `$ref` points to (components only, as apispec writes them)."""
    while isinstance(schema, dict) and "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema


def types_of(schema):
    kind = schema.get("type")
    return set(kind) if isinstance(kind, list) else {kind}


def string_paths(spec, schema, path=()):
    """Paths (keys, list index 0) of every string field a body of `schema` may hold."""
    schema = deref(spec, schema)
    for alternative in schema.get("anyOf", []) + schema.get("oneOf", []) + schema.get("allOf", []):
        yield from string_paths(spec, alternative, path)
    kinds = types_of(schema)
    if "object" in kinds or "properties" in schema:
        for name, inner in schema.get("properties", {}).items():
            yield from string_paths(spec, inner, (*path, name))
    elif "array" in kinds:
        yield from string_paths(spec, schema.get("items", {}), (*path, 0))
    elif "string" in kinds:
        yield path


def body_from_schema(spec, schema):
    """A body of `schema` with every property filled with a plain value, for an operation not in
    valid_bodies: the check runs before validation, so it need not be accepted."""
    schema = deref(spec, schema)
    kinds = types_of(schema)
    if "enum" in schema:
        return schema["enum"][0]
    if "object" in kinds or "properties" in schema:
        return {name: body_from_schema(spec, inner) for name, inner in schema.get("properties", {}).items()}
    if "array" in kinds:
        return [body_from_schema(spec, schema.get("items", {}))]
    return {"integer": 1, "number": 1, "boolean": True, "null": None}.get(next(iter(kinds - {None}), None),
                                                                         "text")


def put(body, path, value):
    """`body` with `value` at `path`, creating the objects and lists on the way."""
    target = body
    for step, following in zip(path, path[1:]):
        empty = [] if isinstance(following, int) else {}
        if isinstance(step, int):
            if not target:
                target.append(empty)
        elif not isinstance(target.get(step), (dict, list)):
            target[step] = empty
        target = target[step]
    if isinstance(path[-1], int) and not target:
        target.append(value)
    else:
        target[path[-1]] = value
    return body


def json_writes(spec):
    """(label, path template, method, request schema) of every operation taking a JSON body."""
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            content = (operation.get("requestBody") or {}).get("content", {}) if isinstance(operation, dict) else {}
            for media_type in JSON_TYPES:
                if media_type in content:
                    yield f"{method.upper()} {path}", path, method, content[media_type]["schema"]


def url_of(template, alliance):
    url = template
    for name, value in alliance["path_ids"].items():
        url = url.replace("{" + name + "}", str(value))
    return url


def field_name(path):
    return ".".join(str(step) for step in path) or "_schema"


def refused(response, field, message):
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.json
    assert body["errors"] == [{"field": field, "message": message}], body
    assert (body["status"], body["title"]) == (422, "Unprocessable Entity")
    return body


def test_the_document_lists_the_json_writes_we_know(client):
    """A guard on the enumeration itself: were it to find nothing, the tests below would pass vacuously."""
    labels = {label for label, *_ in json_writes(the_document(client))}
    assert labels >= {"POST /api/v1/marks", "PATCH /api/v1/marks/{mark_id}", "POST /api/v1/notices",
                      "POST /api/v1/intel/flags", "PATCH /api/v1/intel/flags/{flag_id}",
                      "POST /api/v1/intel/flags/{flag_id}/sightings", "POST /api/v1/intel/screenings",
                      "POST /api/v1/notices/{notice_id}/items/{item_id}/transitions"}


@pytest.mark.parametrize("bad, message", [("\ud800", NOT_UNICODE), ("\udfff", NOT_UNICODE), ("\x00", HAS_NUL)],
                         ids=["high-surrogate", "low-surrogate", "nul"])
def test_every_string_field_of_every_json_write_refuses_unstorable_text(client, alliance, bad, message):
    spec = the_document(client)
    bodies = valid_bodies(alliance)
    tried = []
    for label, template, method, schema in json_writes(spec):
        side, valid = bodies.get(label, ("brand", body_from_schema(spec, schema)))
        headers, url = bearer(alliance["tokens"][side]), url_of(template, alliance)
        paths = list(string_paths(spec, schema))
        assert paths, label
        for path in paths:
            before = database_contents()
            body = put(copy.deepcopy(valid), path, f"A{bad}B")
            response = getattr(client, method)(url, headers=headers, data=json.dumps(body),
                                               content_type="application/json")
            refused(response, field_name(path), message)
            assert database_contents() == before, (label, path)
            tried.append((label, field_name(path)))
        # A key that cannot be stored, next to the fields: named as it was sent, escaped.
        before = database_contents()
        response = getattr(client, method)(url, headers=headers, content_type="application/json",
                                           data=json.dumps({**valid, f"k{bad}": "x"}))
        refused(response, "k" + bad.encode("unicode_escape").decode("ascii"), message)
        assert database_contents() == before, label
    assert {label for label, _ in tried} >= set(bodies)
    assert ("POST /api/v1/notices", "listings.0.title") in tried  # nested fields are reached too


def test_the_valid_bodies_are_accepted(client, alliance):
    """The bodies above are real writes: what stopped them was the bad text alone."""
    spec = the_document(client)
    bodies = valid_bodies(alliance)
    for label, template, method, schema in json_writes(spec):
        if label in bodies:
            side, body = bodies[label]
            response = getattr(client, method)(url_of(template, alliance), json=body,
                                               headers=bearer(alliance["tokens"][side]))
            assert response.status_code in (200, 201), (label, response.get_data(as_text=True))


@pytest.mark.parametrize("text", ["\ud800", "x\udbffy", "\udc00\ud800", "\ud83d", "\ude00z"])
def test_surrogates_however_placed_are_refused_and_pairs_are_not(client, alliance, text):
    headers = bearer(alliance["tokens"]["brand"])
    body = {"marketplace": "taobao", "seller_id": "shop-s", "category": "other", "tlp": "green",
            "distribution": "alliance", "notes": text}
    refused(client.post("/api/v1/intel/flags", headers=headers, data=json.dumps(body),
                        content_type="application/json"), "notes", NOT_UNICODE)
    body["notes"] = "A pair is one character: \ud83d\ude00 (escaped in JSON as \\ud83d\\ude00)"
    created = client.post("/api/v1/intel/flags", headers=headers, data=json.dumps(body),
                          content_type="application/json")
    assert created.status_code == 201 and created.json["notes"].startswith("A pair is one character: \U0001f600")


@pytest.mark.parametrize("document, field", [
    ('"\\ud800"', "_schema"), ('["\\ud800"]', "0"), ('{"identifiers": [{"kind": "email", "value": '
                                                             '"a\\ud800@b.example"}]}', "identifiers.0.value"),
])
def test_the_field_is_named_wherever_it_sits(client, alliance, document, field):
    response = client.post("/api/v1/intel/flags", headers=bearer(alliance["tokens"]["brand"]), data=document,
                           content_type="application/json")
    refused(response, field, NOT_UNICODE)


def test_json_too_deep_to_parse_is_a_400_problem(client, alliance):
    before = database_contents()
    response = client.post("/api/v1/marks", headers=bearer(alliance["tokens"]["brand"]),
                           data="[" * 100_000 + "]" * 100_000, content_type="application/json")
    assert response.status_code == 400 and response.mimetype == PROBLEM
    assert "nested too deeply" in response.json["detail"]
    assert database_contents() == before


def test_raw_bytes_that_are_not_utf8_are_a_400_problem(client, alliance):
    """Bytes of a surrogate (ED A0 80) or a stray FF in the body itself: not JSON at all (RFC 8259: UTF-8)."""
    for raw in (b'{"word": "X\xed\xa0\x80"}', b'{"word": "X\xff"}'):
        response = client.post("/api/v1/marks", headers=bearer(alliance["tokens"]["brand"]), data=raw,
                               content_type="application/json")
        assert response.status_code == 400 and response.mimetype == PROBLEM


# --- query strings and forms ----------------------------------------------------------------------------

ODD_BYTES = {"surrogate": "%ED%A0%80", "ff": "%FF", "nul": "%00"}
PAGES = ["/marks?q={}", "/marks?office={}", "/marks/export.csv?q={}", "/intel/flags?q={}",
         "/intel/flags?marketplace={}", "/intel/flags.csv?q={}", "/intel/sellers?q={}", "/notices?q={}",
         "/audit?action={}", "/intel/sellers/taobao/{}", "/intel/sellers/{}/shop-1", "/intel/sellers/taobao/a{}b"]
API_READS = ["/api/v1/marks?q={}", "/api/v1/marks?office={}", "/api/v1/intel/flags?q={}",
             "/api/v1/intel/flags?seller_id={}", "/api/v1/notices?marketplace={}",
             "/api/v1/reports/weekly?week={}", "/api/v1/intel/sellers/taobao/{}"]


@pytest.fixture
def browser(make_client, world, alliance):
    signed_in = make_client()
    signed_in.sign_in(world.person(alliance["brand"], "admin").email)
    return signed_in


@pytest.mark.parametrize("odd", ODD_BYTES)
def test_odd_bytes_in_query_strings_are_never_a_500(client, browser, alliance, odd):
    """Werkzeug decodes %ED%A0%80 and %FF to U+FFFD; %00 is refused with 422 before any view runs."""
    for template in PAGES + API_READS:
        api = template.startswith("/api/")
        response = (client.get(template.format(ODD_BYTES[odd]), headers=bearer(alliance["tokens"]["brand"]))
                    if api else browser.get(template.format(ODD_BYTES[odd])))
        if odd == "nul" and "?" in template:
            expected = (422,)
        else:
            expected = (200, 404, 422)
        assert response.status_code in expected, (template, response.status_code)
        assert response.status_code == 200 or not api or response.mimetype == PROBLEM, template


@pytest.mark.parametrize("odd", ["surrogate", "ff"])
def test_odd_bytes_in_a_form_are_kept_as_sent(browser, alliance, odd):
    """Werkzeug keeps a percent escape that is not UTF-8 as the text it was (errors="werkzeug.url_quote"):
    valid text, stored and shown as typed."""
    token = browser.csrf_token()
    response = browser.post("/marks/new", content_type="application/x-www-form-urlencoded",
                            data=f"csrf_token={token}&word=HALO{ODD_BYTES[odd]}&office=USPTO"
                                 f"&registration_number=3456780&nice_classes=9")
    assert response.status_code == 302, page_text(response)
    assert Mark.get(Mark.registration_number == "3456780").word == f"HALO{ODD_BYTES[odd]}"


def test_raw_bytes_that_are_not_utf8_in_a_form_are_a_4xx(browser, alliance):
    """Not percent-escaped: Werkzeug cannot read the form at all and hands the view an empty one."""
    before = database_contents()
    for raw in (b"word=HALO\xed\xa0\x80&office=USPTO", b"word=HALO\xff&office=USPTO"):
        response = browser.post("/marks/new", data=raw, content_type="application/x-www-form-urlencoded")
        assert 400 <= response.status_code < 500
    assert database_contents() == before


def test_nul_in_a_form_is_refused_and_nothing_kept(browser, alliance):
    token = browser.csrf_token()
    before = database_contents()
    response = browser.post("/intel/flags/new", content_type="application/x-www-form-urlencoded",
                            data=f"csrf_token={token}&marketplace=taobao&seller_id=z9&category=other"
                                 "&confidence=low&tlp=green&distribution=alliance&notes=a%00b")
    assert response.status_code == 422 and "notes: Text containing NUL" in page_text(response)
    assert database_contents() == before


# --- multipart filenames ------------------------------------------------------------------------------

FILENAMES = {
    "nul-raw": b'filename="test\x00buy.pdf"', "nul-escaped": b"filename*=UTF-8''test%00buy.pdf",
    "surrogate-escaped": b"filename*=UTF-8''test%ED%A0%80buy.pdf", "ff-escaped": b"filename*=UTF-8''test%FFbuy.pdf",
    "surrogate-raw": b'filename="test\xed\xa0\x80buy.pdf"', "ff-raw": b'filename="test\xffbuy.pdf"',
}


def multipart(field, disposition, content, fields=()):
    parts = [b'--b\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (name.encode(), value.encode())
             for name, value in fields]
    parts.append(b'--b\r\nContent-Disposition: form-data; name="%s"; %s\r\nContent-Type: application/pdf\r\n\r\n'
                 b'%s\r\n' % (field.encode(), disposition, content))
    return {"data": b"".join(parts) + b"--b--\r\n", "content_type": "multipart/form-data; boundary=b"}


def stored_names():
    from portal.intel.models import FlagEvidence
    from portal.notices.models import Evidence
    return [row.name for model in (FlagEvidence, Evidence) for row in model.select()] + \
        [job.filename for job in ImportJob.select()] + [mark.proof_name for mark in Mark.select()]


@pytest.mark.parametrize("name", FILENAMES)
def test_odd_upload_filenames_are_never_a_500_nor_stored_raw(client, browser, alliance, name):
    """A filename is only ever shown: NUL and other unprintable characters are dropped when it is kept.
    Bytes that are not UTF-8 in a part's header make Werkzeug drop the whole body: a 4xx, nothing kept."""
    ids, disposition = alliance["path_ids"], FILENAMES[name]
    api = bearer(alliance["tokens"]["brand"])
    answers = [
        client.post(f"/api/v1/notices/{ids['notice_id']}/evidence", headers=api, **multipart("file", disposition, PDF)),
        client.post(f"/api/v1/intel/flags/{ids['flag_id']}/evidence", headers=api,
                    **multipart("file", disposition, PDF)),
        client.post("/api/v1/marks/imports", headers=api, **multipart("file", disposition, MARKS_CSV)),
    ]
    for path, field, content in [("/marks/imports", "file", MARKS_CSV),
                                 (f"/notices/{ids['notice_id']}/evidence", "files", PDF),
                                 (f"/intel/flags/{ids['flag_id']}/evidence", "evidence", PDF)]:
        answers.append(browser.post(path, **multipart(field, disposition, content,
                                                      [("csrf_token", browser.csrf_token())])))
    statuses = [answer.status_code for answer in answers]
    assert all(status < 500 for status in statuses), statuses
    if name.endswith("-raw") and name != "nul-raw":
        assert all(400 <= status < 500 for status in statuses), statuses
    for kept in stored_names():
        assert kept.isprintable(), ascii(kept)
        kept.encode("utf-8")  # raises for a lone surrogate


# --- uploaded files -------------------------------------------------------------------------------------

def utf16_csv_with(code_unit):
    text = "word,office,registration_number,nice_classes\nHALO{},USPTO,3456789,9\n"
    before, after = text.split("{}")
    return (b"\xff\xfe" + before.encode("utf-16-le") + code_unit + after.encode("utf-16-le"))


XLSX_PARTS = {
    "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
                           'package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.'
                           'openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType='
                           '"application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.'
                           'openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/'
                           'worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
                           'spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType='
                           '"application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
    "_rels/.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
                   'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
                   'officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
    "xl/workbook.xml": '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/'
                       'spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/'
                       'relationships"><sheets><sheet name="Marks" sheetId="1" r:id="rId1"/></sheets></workbook>',
    "xl/_rels/workbook.xml.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
                                  'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type='
                                  '"http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"'
                                  ' Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.'
                                  'openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target='
                                  '"sharedStrings.xml"/></Relationships>',
}


def workbook(word_xml, encoding="utf-8"):
    """An XLSX (shared strings, as Excel writes) of the marks header and one row, `word_xml` as the word."""
    def cells(row, first):
        return "".join(f'<c r="{column}{row}" t="s"><v>{first + n}</v></c>' for n, column in enumerate("ABCD"))
    sheet = ('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
             f'spreadsheetml/2006/main"><sheetData><row r="1">{cells(1, 0)}</row><row r="2">{cells(2, 4)}</row>'
             '</sheetData></worksheet>')
    strings = ["word", "office", "registration_number", "nice_classes", "@WORD@", "USPTO", "3456789", "9"]
    table = (f'<?xml version="1.0" encoding="{encoding.upper()}"?><sst xmlns="http://schemas.openxmlformats.org/'
             'spreadsheetml/2006/main">' + "".join(f"<si><t>{s}</t></si>" for s in strings) + "</sst>")
    encoded = table.encode(encoding).replace("@WORD@".encode(encoding),
                                             word_xml if isinstance(word_xml, bytes) else word_xml.encode(encoding))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for part, text in XLSX_PARTS.items():
            archive.writestr(part, text)
        archive.writestr("xl/worksheets/sheet1.xml", sheet)
        archive.writestr("xl/sharedStrings.xml", encoded)
    return buffer.getvalue()


REFUSED_FILES = {
    "utf16-lone-high-surrogate": (utf16_csv_with(b"\x00\xd8"), "wrong_encoding"),
    "utf16-lone-low-surrogate": (utf16_csv_with(b"\x00\xdc"), "wrong_encoding"),
    "csv-with-nul": (MARKS_CSV.replace(b"HALO", b"HA\x00LO"), "not_text"),
    "xlsx-surrogate-reference": (workbook("HALO&#xD800;"), "bad_xlsx"),
    "xlsx-nul-reference": (workbook("HALO&#x0;"), "bad_xlsx"),
    "xlsx-surrogate-bytes": (workbook(b"HALO\xed\xa0\x80"), "bad_xlsx"),
    "xlsx-utf16-lone-surrogate": (workbook("HALO\ud800".encode("utf-16-le", "surrogatepass"), "utf-16-le"),
                                  "bad_xlsx"),
}


@pytest.mark.parametrize("name", REFUSED_FILES)
def test_files_with_unstorable_text_are_refused_whole_with_a_code(tmp_path, client, alliance, name):
    content, code = REFUSED_FILES[name]
    path = tmp_path / "upload"
    path.write_bytes(content)
    with pytest.raises(FileRefused) as caught:
        list(open_table(str(path), "upload", spec=MARK_COLUMNS).rows())
    assert caught.value.code == code
    before = Mark.select().count()
    response = client.post("/api/v1/marks/imports", headers=bearer(alliance["tokens"]["brand"]),
                           data={"file": (io.BytesIO(content), "marks")}, content_type="multipart/form-data")
    assert response.status_code == 422 and response.json["code"] == code, response.get_data(as_text=True)
    assert Mark.select().count() == before


def test_the_bytes_of_a_surrogate_in_a_csv_read_as_windows_1252(world, alliance):
    """ED A0 80 is not UTF-8, but every byte is defined in Windows-1252 (Excel's CSV on Western Windows):
    read so, with a warning, as valid text."""
    job = world.upload(alliance["brand"], MARKS_CSV.replace(b"HALO", b"HALO\xed\xa0\x80"))
    assert (job.status, job.created, job.encoding) == ("done", 1, "cp1252")
    assert "Windows-1252" in " ".join(job.warning_list)
    assert Mark.get(Mark.registration_number == "3456789").word == "HALO\u00ed \u20ac"  # NBSP tidied to a space


def test_openpyxl_keeps_an_x_escape_as_the_text_it_is(tmp_path, world, alliance):
    """`_xD800_` is how OOXML would escape the code unit; openpyxl does not unescape it in cells, so the
    word is stored as those seven characters, never as a lone surrogate."""
    with world.app.app_context(), acting_as("test"):
        job = world.upload(alliance["brand"], workbook("HALO_xD800__x0000_"), "marks.xlsx")
    assert (job.status, job.created, job.error_rows) == ("done", 1, 0)
    word = Mark.get(Mark.registration_number == "3456789").word
    assert word == "HALO_xD800__x0000_"


def test_every_table_reader_refuses_the_same_way(tmp_path, browser, alliance):
    """The notice's listings file and the screening file go through the same reader: a page with the
    message, never a 500."""
    content = utf16_csv_with(b"\x00\xd8").replace("word,office,registration_number,nice_classes".encode("utf-16-le"),
                                                  "title,price,seller_id,url,marketplace".encode("utf-16-le"))
    response = browser.post("/intel/screenings/new", content_type="multipart/form-data", data={
        "csrf_token": browser.csrf_token(), "listings_file": (io.BytesIO(content), "listings.csv")})
    assert response.status_code == 422 and "encoding" in page_text(response)


def test_a_utf16_file_with_a_real_pair_reads_fine(tmp_path):
    """The control: a surrogate pair (an emoji) is one character, read as such."""
    path = tmp_path / "upload"
    path.write_bytes(utf16_csv_with("\U0001f600".encode("utf-16-le")))
    [(number, row)] = list(open_table(str(path), "upload", spec=MARK_COLUMNS).rows())
    assert (number, row["word"]) == (2, "HALO\U0001f600")
