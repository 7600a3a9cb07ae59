"""A verified mark goes back to pending when anything the platform reviewed changes (office, number, proof
included), and the verification queue shows what changed since the last review."""
import io
import re

import pytest
from werkzeug.datastructures import FileStorage

from portal.audit import acting_as
from portal.marks import services
from portal.marks.models import Mark
from tests.conftest import page_text
from tests.platform.test_migrations import new_database  # noqa: F401 (a fixture)

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
OTHER_PDF = PDF.replace(b"1 0 obj", b"2 0 obj")


def proof(content):
    return FileStorage(io.BytesIO(content), filename="certificate.pdf")


@pytest.fixture
def reviewed(app, world):
    brand, platform = world.org("Microsoft"), world.org("Alibaba", kind="platform")
    world.partnership(brand, platform)
    mark = world.mark(brand, word="MICROSOFT", office="USPTO", number="1200236", classes="9")
    with app.app_context(), acting_as("test"):
        services.update_mark(mark, {}, proof=proof(PDF))
        mark = services.review_mark(Mark.get_by_id(mark.id), platform, None, "verify")
    assert mark.status == "verified" and mark.changes_since_review == []
    return brand, platform, mark


@pytest.mark.parametrize("values,change", [
    ({"office": "UKIPO", "registration_number": "3123456"}, ["office", "USPTO", "UKIPO"]),
    ({"registration_number": "1200237"}, ["registration_number", "1200236", "1200237"]),
])
def test_a_new_office_or_number_needs_a_new_verification(app, reviewed, values, change):
    _, _, mark = reviewed
    with app.app_context(), acting_as("test"):
        services.update_mark(mark, values)
    mark = Mark.get_by_id(mark.id)
    assert mark.status == "pending" and mark.reviewed_by_org is None
    assert change in mark.changes_since_review


def test_a_new_certificate_needs_a_new_verification_but_the_same_one_again_does_not(app, reviewed):
    _, _, mark = reviewed
    with app.app_context(), acting_as("test"):
        services.update_mark(mark, {}, proof=proof(PDF))
        assert Mark.get_by_id(mark.id).status == "verified"
        services.update_mark(Mark.get_by_id(mark.id), {}, proof=proof(OTHER_PDF))
    mark = Mark.get_by_id(mark.id)
    assert mark.status == "pending"
    assert [name for name, _, _ in mark.changes_since_review] == ["proof_sha256"]


def test_the_queue_shows_what_changed_since_the_last_verification(app, make_client, world, reviewed):
    brand, platform, mark = reviewed
    with app.app_context(), acting_as("test"):
        services.update_mark(mark, {"nice_classes": "9;42", "registered_on": "1982-06-01"})
    client = make_client()
    client.sign_in(world.person(platform, "analyst").email)
    page = " ".join(re.sub(r"<[^>]+>", " ", page_text(client.get("/marks/verification"))).split())
    assert "Changed since it was verified by Alibaba" in page
    assert "Nice classes: 9 → 9;42" in page and "registered on: (blank) → 1982-06-01" in page
    # Verified again, it has nothing to show; the brand's page says the same as the queue while pending.
    with app.app_context(), acting_as("test"):
        services.update_mark(Mark.get_by_id(mark.id), {"word": "MICROSOFT CORP"})
    brand_client = make_client()
    brand_client.sign_in(world.person(brand, "admin").email)
    detail = " ".join(re.sub(r"<[^>]+>", " ", page_text(brand_client.get(f"/marks/{mark.id}"))).split())
    assert "word: MICROSOFT → MICROSOFT CORP" in detail
    with app.app_context(), acting_as("test"):
        services.review_mark(Mark.get_by_id(mark.id), platform, None, "verify")
    assert Mark.get_by_id(mark.id).changes_since_review == []


def test_the_migration_keeps_what_was_verified_as_the_last_review(new_database):
    """Marks verified before the upgrade get their present values as the reviewed ones, so a later change
    shows in the queue; pending marks have no review to compare with."""
    from playhouse.migrations import Runner
    from playhouse.schema_diff import diff_models

    from portal.db import MIGRATIONS_DIR, open_database
    from portal.models import ALL_MODELS

    url = new_database()
    database = open_database(url)
    with database.connection_context():
        Runner(database, directory=str(MIGRATIONS_DIR)).up(target="0008_two_factor")
        database.execute_sql("INSERT INTO organization (slug, name, kind, timezone, created_at, two_factor_required) "
                             "VALUES ('acme', 'Acme', 'brand', 'UTC', '2026-01-01 00:00:00', %s)"
                             % ("false" if url.startswith("postgres") else "0"))
        reviewed = "'2026-01-02 00:00:00'"
        for number, status, reviewed_at in (("1200236", "verified", reviewed), ("1200237", "pending", "NULL"),
                                            ("1200238", "expired", reviewed), ("1200239", "expired", "NULL")):
            database.execute_sql(
                "INSERT INTO mark (org_id, word, office, registration_number, nice_classes, registered_on, "
                "jurisdictions, status, status_reason, proof_name, proof_path, proof_sha256, proof_size, "
                "proof_type, reviewed_by_org_id, reviewed_at, created_at, updated_at) SELECT id, 'ACME', 'USPTO', "
                "%s, ';9;', '1982-06-01', ';US;', %s, '', '', '', '', 0, '', id, %s, '2026-01-01 00:00:00', "
                "'2026-01-01 00:00:00' FROM organization" % (f"'{number}'", f"'{status}'", reviewed_at))
        # 0009, then the later migrations (the models below are today's).
        assert Runner(database, directory=str(MIGRATIONS_DIR)).up()[:1] == ["0009_safe_bulk_updates"]
        with database.bind_ctx(ALL_MODELS):
            verified = Mark.get(Mark.registration_number == "1200236")
            assert verified.last_review_data["values"]["registered_on"] == "1982-06-01"
            assert (verified.last_review_data["decision"], verified.last_review_data["by_org"]) == ("verified", "Acme")
            assert Mark.get(Mark.registration_number == "1200238").last_review_data["values"]["word"] == "ACME"
            assert Mark.get(Mark.registration_number == "1200239").last_review == ""  # never reviewed
            assert verified.changes_since_review == []
            verified.nice_classes = ";9;42;"
            assert verified.changes_since_review == [["nice_classes", "9", "9;42"]]
            assert Mark.get(Mark.registration_number == "1200237").last_review == ""
            assert not diff_models(database, ALL_MODELS)
    if hasattr(database, "close_all"):
        database.close_all()
