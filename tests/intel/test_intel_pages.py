"""The pages of flagged-seller intelligence: the list with its search, counts and CSV export, flagging a
seller through the form, a flag's page with evidence, sightings, editing and withdrawal, bulk flagging
from a file, and seller profiles with strikes. Every path is tried with a flag the viewer may not see:
it must answer 404 and leave no trace."""
import csv
import hashlib
import io
import re

import pytest

from portal.audit import acting_as
from portal.intel import services, sharing
from portal.intel.models import Flag, FlagEvidence, FlagIdentifier, FlagNotice, FlagShare, Seller, Sighting
from portal.imports.models import ImportJob
from portal.notices.models import NoticeItem
from portal.notices.services import transition
from tests.conftest import page_text
from tests.conftest import count_queries

PDF = b"%PDF-1.4 test buy receipt"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
def alliance(world):
    """Alibaba (platform, Taobao), Louis Vuitton, Swarovski and Microsoft (brands) and a brand nobody
    partners with; people are made on demand by `client_for`."""
    alibaba = world.org("Alibaba", kind="platform")
    taobao = world.marketplace(alibaba, "Taobao")
    return dict(alibaba=alibaba, taobao=taobao, lv=world.org("Louis Vuitton"), swarovski=world.org("Swarovski"),
                microsoft=world.org("Microsoft"), outsider=world.org("Lonely Brand"))


@pytest.fixture
def client_for(world, make_client):
    made = {}

    def sign_in(org, role="analyst"):
        if (org.id, role) not in made:
            person = world.person(org, role)
            client = make_client()
            client.sign_in(person.email)
            made[(org.id, role)] = client
        return made[(org.id, role)]
    return sign_in


def flag_form(**values):
    form = {"marketplace": "taobao", "seller_id": "shop-1", "category": "suspected_counterfeit",
            "confidence": "high", "tlp": "amber", "distribution": "alliance", "display_name": "", "shop_url": "",
            "notes": "", "email": "", "domain": "", "payment": "", "phone": "", "notice_refs": ""}
    form.update(values)
    return form


def facet_counts(text, name):
    """{value: count} of the list's status or category figures."""
    return {key: int(count) for key, count in
            re.findall(rf'data-{name}="([^"]+)">[^<]*<span class="count">(\d+)</span>', text)}


def csv_rows(response):
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def evidence_files(app):
    with app.app_context():
        return sorted(p.name for p in services.evidence_path(FlagEvidence(path="x")).parent.iterdir())


# --- flagging through the form ------------------------------------------------------------------------

def test_flagging_a_seller_through_the_form(app, world, alliance, client_for):
    lv, swarovski, alibaba = alliance["lv"], alliance["swarovski"], alliance["alibaba"]
    microsoft = alliance["microsoft"]
    partnership = world.partnership(lv, alibaba)
    notice = world.notice(lv, partnership, [("https://item.taobao.com/item.htm?id=1", "shop-1")]).notice
    client = client_for(lv)
    form_page = page_text(client.get("/intel/flags/new?marketplace=taobao&seller_id=shop-1"))
    assert 'value="shop-1"' in form_page and '<option selected value="taobao">' in form_page
    assert notice.reference in form_page  # the org's own notices are offered
    assert "TLP:RED with “The whole alliance”" in form_page  # the refused combinations are explained

    response = client.post_form("/intel/flags/new", flag_form(
        tlp="amber", distribution="group", share_with=[swarovski.slug, alibaba.slug], display_name="Lux Outlet",
        email=" Boss@Fakes.example ", domain="https://www.fakes.example/shop", notes="Test buy: fake serials.",
        notice_refs=notice.reference, evidence=[(io.BytesIO(PDF), "receipt.pdf"), (io.BytesIO(PNG), "photo.png")]),
        content_type="multipart/form-data")
    assert response.status_code == 302
    flag = Flag.get()
    assert response.headers["Location"].endswith(f"/intel/flags/{flag.id}")
    assert (flag.org_id, flag.tlp, flag.distribution, flag.display_name) == (lv.id, "amber", "group", "Lux Outlet")
    assert {s.org_id for s in FlagShare.select()} == {swarovski.id, alibaba.id}
    assert services.identifiers_of([flag])[flag.id] == [("domain", "fakes.example"), ("email", "boss@fakes.example")]
    assert [n.notice_id for n in FlagNotice.select()] == [notice.id]
    evidence = list(FlagEvidence.select().order_by(FlagEvidence.name))
    assert [(e.name, e.sha256, e.content_type) for e in evidence] == [
        ("photo.png", hashlib.sha256(PNG).hexdigest(), "image/png"),
        ("receipt.pdf", hashlib.sha256(PDF).hexdigest(), "application/pdf")]

    page = page_text(client.get(f"/intel/flags/{flag.id}"))
    assert "Lux Outlet" in page and "boss@fakes.example" in page and hashlib.sha256(PDF).hexdigest() in page
    assert "Swarovski" in page and "Alibaba" in page  # the owner sees its whole group
    assert f'href="/notices/{notice.id}"' in page
    assert "Edit this flag" in page and "Withdraw" in page and "Add a sighting" not in page
    download = client.get(f"/intel/flags/{flag.id}/evidence/{evidence[1].id}")
    assert download.status_code == 200 and download.data == PDF
    assert "attachment" in download.headers["Content-Disposition"]

    # A member of the group reads it and the evidence; an org outside the group does not.
    member_page = page_text(client_for(swarovski, "viewer").get(f"/intel/flags/{flag.id}"))
    assert "Lux Outlet" in member_page and hashlib.sha256(PDF).hexdigest() in member_page
    assert client_for(swarovski, "viewer").get(f"/intel/flags/{flag.id}/evidence/{evidence[1].id}").data == PDF
    outsider = client_for(microsoft)
    assert outsider.get(f"/intel/flags/{flag.id}").status_code == 404
    assert outsider.get(f"/intel/flags/{flag.id}/evidence/{evidence[1].id}").status_code == 404
    # Evidence of another flag is not reachable through this one.
    other = world.flag(swarovski, "shop-2", "taobao")
    assert client.get(f"/intel/flags/{other.id}/evidence/{evidence[1].id}").status_code == 404


@pytest.mark.parametrize("tlp,distribution", [("red", "alliance"), ("clear", "own"), ("amber+strict", "alliance")])
def test_a_contradicting_label_is_shown_beside_the_field_and_nothing_is_kept(app, alliance, client_for, tlp,
                                                                           distribution):
    before = evidence_files(app)
    response = client_for(alliance["lv"]).post_form("/intel/flags/new", flag_form(
        tlp=tlp, distribution=distribution, display_name="Typed Name", notes="Typed notes stay.",
        email="kept@fakes.example", evidence=[(io.BytesIO(PDF), "receipt.pdf")]), content_type="multipart/form-data")
    assert response.status_code == 422
    text = page_text(response)
    message = sharing.CONTRADICTIONS[(tlp, distribution)]
    assert re.search(r'<p class="field-error" id="tlp-error">' + re.escape(message), text)
    assert 'value="Typed Name"' in text and "Typed notes stay." in text and 'value="kept@fakes.example"' in text
    assert f'<option selected value="{tlp}">' in text and f'<option selected value="{distribution}">' in text
    assert not Flag.select().exists() and not Seller.select().exists() and not FlagEvidence.select().exists()
    assert evidence_files(app) == before


def test_form_refusals_keep_what_was_typed(app, world, alliance, client_for):
    client = client_for(alliance["lv"])
    group_without_names = client.post_form("/intel/flags/new", flag_form(tlp="amber", distribution="group",
                                                                         seller_id="shop-9", phone="+86 138 0013 8000"))
    assert group_without_names.status_code == 422
    text = page_text(group_without_names)
    assert 'id="share_with-error"' in text and "Name at least one other organization" in text
    assert 'value="shop-9"' in text and 'value="+86 138 0013 8000"' in text
    bad = page_text(client.post_form("/intel/flags/new", flag_form(email="not-an-address", notice_refs="N-999999")))
    assert 'id="email-error"' in bad and "not an e-mail address" in bad
    assert not Flag.select().exists()
    # A notice of another org cannot be linked.
    partnership = world.partnership(alliance["swarovski"], alliance["alibaba"])
    theirs = world.notice(alliance["swarovski"], partnership, ["https://item.taobao.com/item.htm?id=5"]).notice
    response = client.post_form("/intel/flags/new", flag_form(notice_refs=theirs.reference))
    assert response.status_code == 422 and 'id="notices-error"' in page_text(response)
    assert not Flag.select().exists()
    # Flagging a seller the org flags already names the existing flag.
    existing = world.flag(alliance["lv"], "shop-1", "taobao")
    again = client.post_form("/intel/flags/new", flag_form())
    assert again.status_code == 409 and existing.reference in page_text(again)
    assert Flag.select().count() == 1


def test_a_viewer_reads_but_cannot_change_anything(app, world, alliance, client_for):
    lv, swarovski = alliance["lv"], alliance["swarovski"]
    mine = world.flag(lv, "shop-1", "taobao")
    theirs = world.flag(swarovski, "shop-2", "taobao")
    viewer = client_for(lv, "viewer")
    assert viewer.get("/intel/flags").status_code == 200
    assert viewer.get(f"/intel/flags/{theirs.id}").status_code == 200
    page = page_text(viewer.get(f"/intel/flags/{mine.id}"))
    assert "Edit this flag" not in page and "Withdraw" not in page
    assert "Add a sighting" not in page_text(viewer.get(f"/intel/flags/{theirs.id}"))
    csv_upload = (io.BytesIO(b"marketplace,seller_id,category,tlp,distribution\ntaobao,x,other,green,alliance\n"),
                  "flags.csv")
    refused = [
        ("/intel/flags/new", flag_form(seller_id="shop-3")),
        (f"/intel/flags/{mine.id}/edit", flag_form(display_name="Changed")),
        (f"/intel/flags/{mine.id}/withdraw", {"reason": "no"}),
        (f"/intel/flags/{mine.id}/evidence", {"evidence": (io.BytesIO(PDF), "a.pdf")}),
        (f"/intel/flags/{theirs.id}/sightings", {"kind": "seen"}),
        ("/intel/flags/import", {"file": csv_upload}),
    ]
    for url, data in refused:
        assert viewer.post_form(url, data, content_type="multipart/form-data").status_code == 403, url
    assert viewer.get("/intel/flags/new").status_code == 403
    assert Flag.select().count() == 2 and Flag.get_by_id(mine.id).status == "active"
    assert not Sighting.select().exists() and not FlagEvidence.select().exists()
    assert not ImportJob.select().exists()


# --- what a viewer may not see ------------------------------------------------------------------------

def test_a_hidden_flag_is_404_everywhere_and_leaves_no_trace(app, world, alliance, client_for):
    lv, microsoft = alliance["lv"], alliance["microsoft"]
    same_mail = {"email": "boss@fakes.example"}
    world.flag(lv, "shop-1", "taobao", category="other", display_name="Visible Shop", identifiers=same_mail)
    hidden = world.flag(microsoft, "hidden-shop", "taobao", tlp="red", distribution="own",
                        category="counterfeit_confirmed", display_name="Secret Name", identifiers=same_mail)
    with app.app_context(), acting_as("test"):
        hidden_evidence = services.attach_flag_evidence(hidden, microsoft, [_upload(PDF, "secret.pdf")])[0]
    client = client_for(lv)
    for url in (f"/intel/flags/{hidden.id}", f"/intel/flags/{hidden.id}/edit",
                f"/intel/flags/{hidden.id}/evidence/{hidden_evidence.id}", "/intel/sellers/taobao/hidden-shop"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "Secret Name" not in page_text(response)
    for url, data in ((f"/intel/flags/{hidden.id}/sightings", {"kind": "seen", "note": "me too"}),
                      (f"/intel/flags/{hidden.id}/withdraw", {"reason": "x"}),
                      (f"/intel/flags/{hidden.id}/edit", flag_form(display_name="Took over")),
                      (f"/intel/flags/{hidden.id}/evidence", {"evidence": (io.BytesIO(PDF), "b.pdf")})):
        assert client.post_form(url, data, content_type="multipart/form-data").status_code == 404, url
    assert not Sighting.select().exists() and Flag.get_by_id(hidden.id).status == "active"
    assert Flag.get_by_id(hidden.id).display_name == "Secret Name" and FlagEvidence.select().count() == 1

    for query in ("", "?status=all", "?q=boss@fakes", "?q=hidden", "?category=counterfeit_confirmed&status=all"):
        text = page_text(client.get("/intel/flags" + query))
        assert "Secret Name" not in text and hidden.reference not in text and "hidden-shop" not in text, query
        assert facet_counts(text, "category").get("counterfeit_confirmed") == 0, query
    text = page_text(client.get("/intel/flags?status=all"))
    assert facet_counts(text, "status") == {"active": 1, "withdrawn": 0, "all": 1}
    assert ">1 flag</h2>" in text
    rows = csv_rows(client.get("/intel/flags.csv?status=all"))
    assert [r["seller_id"] for r in rows] == ["shop-1"]
    assert csv_rows(client.get("/intel/flags.csv?q=hidden")) == []
    # The seller it shares an e-mail with is not linked through the hidden flag.
    profile = page_text(client.get("/intel/sellers/taobao/shop-1"))
    assert "hidden-shop" not in profile and "Secret Name" not in profile and "No linked sellers" in profile
    # Its owner sees all of it.
    owner = client_for(microsoft)
    assert "Secret Name" in page_text(owner.get(f"/intel/flags/{hidden.id}"))
    assert "shop-1" in page_text(owner.get("/intel/sellers/taobao/hidden-shop"))  # linked by the shared e-mail


def _upload(data, name):
    from werkzeug.datastructures import FileStorage
    return FileStorage(io.BytesIO(data), filename=name)


def test_a_hidden_groups_members_never_see_one_another(app, world, alliance, client_for):
    lv, swarovski, microsoft = alliance["lv"], alliance["swarovski"], alliance["microsoft"]
    hidden = world.flag(lv, "shop-1", "taobao", tlp="amber", distribution="group", share_with=[swarovski, microsoft],
                        display_name="Crystal Fakes")
    with acting_as("test"):
        services.add_sighting(hidden, microsoft, {"kind": "seen", "note": "Redmond saw it too."})
        services.add_sighting(hidden, swarovski, {"kind": "seen", "note": "Crystals are fake."})
    client = client_for(swarovski)
    pages = [page_text(client.get(url)) for url in (
        f"/intel/flags/{hidden.id}", "/intel/flags", "/intel/sellers/taobao/shop-1", "/intel/flags?q=crystal")]
    assert "Shared with you; the owner does not show whom else, if anyone." in pages[0]
    assert "Crystals are fake." in pages[0] and "Crystals are fake." in pages[2]  # its own sighting
    for text in pages:
        assert "Microsoft" not in text and "Redmond saw it too." not in text
    rows = csv_rows(client.get("/intel/flags.csv"))
    assert [(r["reference"], r["sightings"]) for r in rows] == [(hidden.reference, "1")]
    assert "Microsoft" not in client.get("/intel/flags.csv").get_data(as_text=True)
    # The owner sees the whole group and every sighting.
    owner_page = page_text(client_for(lv).get(f"/intel/flags/{hidden.id}"))
    assert "Microsoft" in owner_page and "Swarovski" in owner_page and "Redmond saw it too." in owner_page
    assert csv_rows(client_for(lv).get("/intel/flags.csv"))[0]["sightings"] == "2"
    # Shown groups name their members.
    shown = world.flag(lv, "shop-2", "taobao", tlp="amber", distribution="group", share_with=[swarovski, microsoft],
                       show_group=True)
    shown_page = page_text(client.get(f"/intel/flags/{shown.id}"))
    assert "Microsoft" in shown_page and "does not show whom else" not in shown_page


# --- the list -----------------------------------------------------------------------------------------

def test_search_filters_and_counts(app, world, alliance, client_for):
    lv, swarovski, alibaba = alliance["lv"], alliance["swarovski"], alliance["alibaba"]
    tmall = world.marketplace(alibaba, "Tmall")
    world.flag(lv, "shop-a", "taobao", category="counterfeit_confirmed", display_name="Alpha Bags",
               identifiers={"payment": "PayPal.me/alpha"})
    withdrawn = world.flag(lv, "shop-b", "taobao", category="other", tlp="red", distribution="own")
    with acting_as("test"):
        services.withdraw_flag(withdrawn, lv, "Authorized reseller after all.")
    world.flag(swarovski, "shop-c", tmall, category="counterfeit_confirmed", tlp="clear", display_name="Gamma")
    client = client_for(lv)
    text = page_text(client.get("/intel/flags"))
    assert facet_counts(text, "status") == {"active": 2, "withdrawn": 1, "all": 3}
    assert facet_counts(text, "category")["counterfeit_confirmed"] == 2 and facet_counts(text, "category")["other"] == 0
    assert ">2 flags</h2>" in text and "shop-b" not in text

    def listed(query):
        return set(re.findall(r">(shop-[a-z])</a>", page_text(client.get("/intel/flags" + query))))
    assert listed("?status=withdrawn") == {"shop-b"}
    assert listed("?status=all") == {"shop-a", "shop-b", "shop-c"}
    assert listed("?owner=mine") == {"shop-a"} and listed("?owner=others") == {"shop-c"}
    assert listed("?marketplace=" + tmall.slug) == {"shop-c"}
    assert listed("?tlp=clear") == {"shop-c"} and listed("?category=other&status=all") == {"shop-b"}
    assert listed("?q=paypal.me") == {"shop-a"} and listed("?q=GAMMA") == {"shop-c"}
    assert listed("?q=SHOP-A") == {"shop-a"}
    assert listed("?status=bogus&tlp=purple&page=-4") == {"shop-a", "shop-c"}  # malformed filters are ignored
    narrowed = page_text(client.get("/intel/flags?q=shop-a&status=all"))
    assert facet_counts(narrowed, "status") == {"active": 1, "withdrawn": 0, "all": 1}
    assert 'href="/intel/flags.csv?q=shop-a&amp;status=all"' in client.get("/intel/flags?q=shop-a&status=all").get_data(
        as_text=True)  # the export link keeps the filters
    assert [r["seller_id"] for r in csv_rows(client.get("/intel/flags.csv?status=withdrawn"))] == ["shop-b"]


def test_the_csv_has_every_visible_flag_and_inert_formulas(app, world, alliance, client_for):
    lv, swarovski = alliance["lv"], alliance["swarovski"]
    formula = world.flag(lv, "shop-0", "taobao", display_name='=HYPERLINK("http://evil.example","Click")',
                         identifiers={"email": "a@fakes.example", "phone": "+8613800138000"})
    for n in range(1, 56):
        world.flag(swarovski if n % 2 else lv, f"shop-{n}", "taobao")
    with acting_as("test"):
        services.add_sighting(formula, swarovski, {"kind": "seen"})
    response = client_for(lv).get("/intel/flags.csv")
    assert response.headers["Content-Disposition"].startswith("attachment")
    rows = csv_rows(response)
    assert len(rows) == 56  # all of them, not a page of 50
    first = next(r for r in rows if r["seller_id"] == "shop-0")
    assert first["display_name"] == '\'=HYPERLINK("http://evil.example","Click")'
    assert first["identifiers"] == "email:a@fakes.example; phone:+8613800138000"
    assert (first["owner"], first["marketplace"], first["tlp"], first["distribution"], first["status"],
            first["sightings"]) == (lv.slug, "taobao", "green", "alliance", "active", "1")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", first["created_at"])
    assert list(rows[0]) == ["reference", "owner", "marketplace", "seller_id", "display_name", "shop_url",
                             "category", "confidence", "tlp", "distribution", "status", "identifiers", "sightings",
                             "created_at", "updated_at"]


def test_the_list_and_export_do_not_query_per_flag(app, world, alliance, client_for):
    lv, swarovski, microsoft = alliance["lv"], alliance["swarovski"], alliance["microsoft"]
    client = client_for(lv)
    client.get("/intel/flags")  # warm up the session

    def measure():
        listed, list_queries = count_queries(lambda: client.get("/intel/flags?status=all"))
        exported, export_queries = count_queries(lambda: (client.get("/intel/flags.csv?status=all").get_data()))
        assert listed.status_code == 200
        return list_queries, export_queries

    for n in range(3):
        world.flag(lv, f"seed-{n}", "taobao", identifiers={"email": f"s{n}@fakes.example"})
    few = measure()
    for n in range(45):
        owner = (lv, swarovski, microsoft)[n % 3]
        flag = world.flag(owner, f"shop-{n}", "taobao", tlp="amber", distribution="group",
                          share_with=[o for o in (lv, swarovski, microsoft) if o != owner],
                          identifiers={"email": f"x{n}@fakes.example"})
        if owner != lv:
            with acting_as("test"):
                services.add_sighting(flag, lv, {"kind": "seen"})
    many = measure()
    assert ">48 flags</h2>" in page_text(client.get("/intel/flags?status=all"))
    assert many[0] == few[0] and many[1] == few[1], (few, many)
    assert many[0] < 30 and many[1] < 30, many


# --- one flag: edit, withdraw, sightings, evidence ----------------------------------------------------

def test_the_owner_edits_and_others_are_refused(app, world, alliance, client_for):
    lv, swarovski, microsoft = alliance["lv"], alliance["swarovski"], alliance["microsoft"]
    flag = world.flag(lv, "shop-1", "taobao", display_name="Old Name",
                      identifiers={"email": ["one@fakes.example", "two@fakes.example"]})
    client = client_for(lv)
    page = page_text(client.get(f"/intel/flags/{flag.id}/edit"))
    assert 'value="Old Name"' in page and 'value="one@fakes.example; two@fakes.example"' in page
    response = client.post_form(f"/intel/flags/{flag.id}/edit", flag_form(
        display_name="New Name", tlp="amber", distribution="group", share_with=[microsoft.slug],
        email="one@fakes.example; two@fakes.example", phone="+86 138 0013 8000"))
    assert response.status_code == 302
    flag = Flag.get_by_id(flag.id)
    assert (flag.display_name, flag.tlp, flag.distribution) == ("New Name", "amber", "group")
    assert [s.org_id for s in FlagShare.select()] == [microsoft.id]
    assert FlagIdentifier.select().count() == 3
    # Swarovski no longer sees it; Microsoft sees it but may not edit it.
    assert client_for(swarovski).get(f"/intel/flags/{flag.id}/edit").status_code == 404
    assert client_for(microsoft).get(f"/intel/flags/{flag.id}/edit").status_code == 403
    refused = client_for(microsoft).post_form(f"/intel/flags/{flag.id}/edit", flag_form(display_name="Hijacked"))
    assert refused.status_code == 403 and Flag.get_by_id(flag.id).display_name == "New Name"
    # A contradiction on edit changes nothing and says why.
    bad = client.post_form(f"/intel/flags/{flag.id}/edit", flag_form(tlp="red", distribution="alliance",
                                                                    display_name="Lost?"))
    assert bad.status_code == 422 and sharing.CONTRADICTIONS[("red", "alliance")] in page_text(bad)
    assert 'value="Lost?"' in page_text(bad) and Flag.get_by_id(flag.id).tlp == "amber"


def test_withdrawing_shows_the_reason_and_stops_sightings(app, world, alliance, client_for):
    lv, swarovski = alliance["lv"], alliance["swarovski"]
    flag = world.flag(lv, "shop-1", "taobao")
    stranger = client_for(swarovski).post_form(f"/intel/flags/{flag.id}/withdraw", {"reason": "mine now"})
    assert stranger.status_code == 403 and Flag.get_by_id(flag.id).status == "active"
    response = client_for(lv).post_form(f"/intel/flags/{flag.id}/withdraw",
                                        {"reason": "Turned out to be an authorized reseller."})
    assert response.status_code == 302 and Flag.get_by_id(flag.id).status == "withdrawn"
    page = page_text(client_for(swarovski).get(f"/intel/flags/{flag.id}"))
    assert "Withdrawn by Louis Vuitton" in page and "Turned out to be an authorized reseller." in page
    assert "Add a sighting" not in page
    late = client_for(swarovski).post_form(f"/intel/flags/{flag.id}/sightings", {"kind": "seen"},
                                           follow_redirects=True)
    assert "withdrawn" in page_text(late) and not Sighting.select().exists()
    owner_page = page_text(client_for(lv).get(f"/intel/flags/{flag.id}"))
    assert "Edit this flag" not in owner_page
    again = client_for(lv).post_form(f"/intel/flags/{flag.id}/withdraw", {"reason": "twice"}, follow_redirects=True)
    assert "was withdrawn; it cannot change any more" in page_text(again)
    assert Flag.get_by_id(flag.id).withdrawn_reason.startswith("Turned")


def test_sightings_through_the_flag_page(app, world, alliance, client_for):
    lv, swarovski = alliance["lv"], alliance["swarovski"]
    flag = world.flag(lv, "shop-1", "taobao")
    client = client_for(swarovski)
    assert "Add a sighting" in page_text(client.get(f"/intel/flags/{flag.id}"))
    bad = client.post_form(f"/intel/flags/{flag.id}/sightings",
                           {"kind": "seen", "note": "Bought one in March.", "listing_url": "not a url"})
    assert bad.status_code == 422 and 'id="listing_url-error"' in page_text(bad)
    assert "Bought one in March." in page_text(bad) and not Sighting.select().exists()
    ok = client.post_form(f"/intel/flags/{flag.id}/sightings", {
        "kind": "false_positive", "note": "Authorized reseller of ours.",
        "listing_url": "https://item.taobao.com/item.htm?id=77"})
    assert ok.status_code == 302
    sighting = Sighting.get()
    assert (sighting.org_id, sighting.kind) == (swarovski.id, "false_positive")
    assert "Authorized reseller of ours." in page_text(client_for(lv).get(f"/intel/flags/{flag.id}"))
    # The owner does not add sightings to its own flag.
    own = client_for(lv).post_form(f"/intel/flags/{flag.id}/sightings", {"kind": "seen"}, follow_redirects=True)
    assert "update it rather than adding a sighting" in page_text(own) and Sighting.select().count() == 1


def test_adding_evidence_to_a_flag(app, world, alliance, client_for):
    lv, swarovski = alliance["lv"], alliance["swarovski"]
    flag = world.flag(lv, "shop-1", "taobao")
    client = client_for(lv)
    not_a_document = client.post_form(f"/intel/flags/{flag.id}/evidence",
                                      {"evidence": (io.BytesIO(b"just text"), "notes.txt")},
                                      content_type="multipart/form-data")
    assert not_a_document.status_code == 422 and "PDF, PNG or JPEG" in page_text(not_a_document)
    nothing = client.post_form(f"/intel/flags/{flag.id}/evidence", {}, content_type="multipart/form-data")
    assert nothing.status_code == 422 and "Choose a file" in page_text(nothing)
    assert not FlagEvidence.select().exists()
    assert client_for(swarovski).post_form(f"/intel/flags/{flag.id}/evidence",
                                           {"evidence": (io.BytesIO(PDF), "theirs.pdf")},
                                           content_type="multipart/form-data").status_code == 403
    ok = client.post_form(f"/intel/flags/{flag.id}/evidence", {"evidence": (io.BytesIO(PNG), "shop.png")},
                          content_type="multipart/form-data")
    assert ok.status_code == 302 and FlagEvidence.get().sha256 == hashlib.sha256(PNG).hexdigest()
    assert hashlib.sha256(PNG).hexdigest() in page_text(client_for(swarovski).get(f"/intel/flags/{flag.id}"))


# --- bulk flagging ------------------------------------------------------------------------------------

FLAGS_CSV = """marketplace,seller_id,category,confidence,tlp,distribution,share_with,display_name,email
taobao,shop-a,suspected_counterfeit,high,green,alliance,,Shop A,a@fakes.example
taobao,shop-b,counterfeit_confirmed,high,amber,group,swarovski,Shop B,
taobao,shop-c,suspected_counterfeit,low,red,alliance,,Shop C,
nowhere,shop-d,suspected_counterfeit,low,green,alliance,,Shop D,
"""


def test_bulk_flagging_from_a_file_dry_run_then_apply(app, world, alliance, client_for):
    lv, swarovski = alliance["lv"], alliance["swarovski"]
    client = client_for(lv)
    assert "No uploads yet." in page_text(client.get("/intel/flags/import"))
    response = client.post_form("/intel/flags/import", {"file": (io.BytesIO(FLAGS_CSV.encode()), "flags.csv"),
                                                        "dry_run": "y"}, content_type="multipart/form-data")
    assert response.status_code == 302
    dry = ImportJob.get()
    assert dry.kind == "flags" and dry.dry_run
    assert response.headers["Location"].endswith(f"/intel/flags/import/{dry.id}")
    assert not Flag.select().exists()
    page = page_text(client.get(f"/intel/flags/import/{dry.id}"))
    assert "Dry run of flags.csv" in page and "Would create" in page and "Import this file now" in page
    assert sharing.CONTRADICTIONS[("red", "alliance")] in page and "No marketplace 'nowhere'" in page
    assert f'data-poll-url="/intel/flags/import/{dry.id}/status"' in page
    status = client.get(f"/intel/flags/import/{dry.id}/status").get_json()
    assert (status["status"], status["created"], status["errors"]) == ("done", 2, 2)
    report = list(csv.reader(io.StringIO(client.get(f"/intel/flags/import/{dry.id}/errors.csv")
                                         .get_data(as_text=True).lstrip("\ufeff"))))
    assert report[0] == ["row", "column", "code", "message", "value", "level"]
    assert sorted((r[0], r[1]) for r in report[1:]) == [("4", "tlp"), ("5", "marketplace")]
    assert "flags.csv" in page_text(client.get("/intel/flags/import"))

    applied = client.post_form(f"/intel/flags/import/{dry.id}/apply", {})
    assert applied.status_code == 302
    job = ImportJob.get(ImportJob.applied_from == dry)
    assert applied.headers["Location"].endswith(f"/intel/flags/import/{job.id}")
    assert (job.created, job.error_rows) == (2, 2)
    assert {f.seller.external_id for f in Flag.select()} == {"shop-a", "shop-b"}
    b = Flag.get(Flag.display_name == "Shop B")
    assert client_for(swarovski).get(f"/intel/flags/{b.id}").status_code == 200
    assert "Import of flags.csv" in page_text(client.get(f"/intel/flags/import/{job.id}"))
    twice = client.post_form(f"/intel/flags/import/{dry.id}/apply", {}, follow_redirects=True)
    assert "Only a finished dry run whose file is still kept" in page_text(twice) and Flag.select().count() == 2


def test_flag_import_pages_reach_only_the_orgs_flag_jobs(app, world, alliance, client_for):
    lv, swarovski = alliance["lv"], alliance["swarovski"]
    marks_job = world.upload(lv, "word,office,registration_number,nice_classes\nX,USPTO,1,9\n", dry_run=True)
    client = client_for(lv)
    for suffix in ("", "/status", "/errors.csv"):
        assert client.get(f"/intel/flags/import/{marks_job.id}{suffix}").status_code == 404
    assert client.post_form(f"/intel/flags/import/{marks_job.id}/apply", {}).status_code == 404
    from portal.intel.imports import start_flag_import
    with app.app_context(), acting_as("test"):
        theirs = start_flag_import(swarovski, io.BytesIO(FLAGS_CSV.encode()), "theirs.csv", dry_run=True)
    assert client.get(f"/intel/flags/import/{theirs.id}").status_code == 404
    assert client.post_form(f"/intel/flags/import/{theirs.id}/apply", {}).status_code == 404
    assert not Flag.select().exists()
    refused = client.post_form("/intel/flags/import", {"file": (io.BytesIO(b"name,colour\nx,y\n"), "junk.csv")},
                               content_type="multipart/form-data")
    assert refused.status_code == 422 and "header row" in page_text(refused)
    assert ImportJob.for_org(lv).where(ImportJob.kind == "flags").count() == 0


def test_the_import_template_is_a_valid_example(app, world, alliance, client_for):
    client = client_for(alliance["alibaba"])  # platforms flag sellers too
    template = client.get("/intel/flags/import-template.csv")
    rows = list(csv.reader(io.StringIO(template.get_data(as_text=True).lstrip("\ufeff"))))
    from portal.intel.rules import FLAG_COLUMNS
    assert rows[0] == list(FLAG_COLUMNS.names) and len(rows) == 2
    client.post_form("/intel/flags/import", {"file": (io.BytesIO(template.data), "template.csv")},
                     content_type="multipart/form-data")
    job = ImportJob.get()
    assert (job.created, job.error_rows) == (1, 0)
    assert Flag.get().org_id == alliance["alibaba"].id


# --- sellers ------------------------------------------------------------------------------------------

def _remove_all(app, notice, platform):
    with app.app_context(), acting_as("test"):
        for item in NoticeItem.select().where(NoticeItem.notice == notice):
            transition(item, platform, "removed", reason="Counterfeit confirmed.")


def test_seller_profile_shows_strikes_to_partners_only(app, world, alliance, client_for):
    lv, swarovski, alibaba, outsider = alliance["lv"], alliance["swarovski"], alliance["alibaba"], alliance["outsider"]
    lv_partnership = world.partnership(lv, alibaba)
    world.partnership(swarovski, alibaba)
    notices = []
    for n in range(4):
        filed = world.notice(lv, lv_partnership, [(f"https://item.taobao.com/item.htm?id=9{n}", "bad-shop")]).notice
        _remove_all(app, filed, alibaba)
        notices.append(filed)
    world.flag(lv, "bad-shop", "taobao", display_name="Bad Shop", identifiers={"domain": "bad.example"})
    world.flag(swarovski, "other-shop", "taobao", identifiers={"domain": "bad.example"})

    partner = page_text(client_for(lv).get("/intel/sellers/taobao/bad-shop"))
    assert "Strikes" in partner and "4 strikes in the last 365 days" in partner and "Repeat infringer since" in partner
    assert f'href="/notices/{notices[0].id}"' in partner  # its own notices are linked
    assert "Bad Shop" in partner and "other-shop" in partner and "bad.example" in partner  # linked seller
    assert "Your flag" in partner and "Flag this seller" not in partner

    # Another partner brand sees the strikes but cannot open LV's notices.
    other_partner = client_for(swarovski).get("/intel/sellers/taobao/bad-shop")
    text = page_text(other_partner)
    assert other_partner.status_code == 200 and "Repeat infringer since" in text
    assert "another brand's notice" in text  # neither a link nor the reference (an id of LV's)
    assert notices[0].reference not in text and f'href="/notices/{notices[0].id}"' not in text
    assert "Flag this seller" in text and "/intel/flags/new?marketplace=taobao&amp;seller_id=bad-shop" in \
        other_partner.get_data(as_text=True)
    # The platform sees them too, with links (the notices were sent to it).
    assert f'href="/notices/{notices[0].id}"' in page_text(client_for(alibaba).get("/intel/sellers/taobao/bad-shop"))

    # A brand without a partnership there sees the flag, not the strikes.
    lonely = page_text(client_for(outsider).get("/intel/sellers/taobao/bad-shop"))
    assert "Bad Shop" in lonely
    assert "Strikes" not in lonely and "repeat infringer" not in lonely.lower() and notices[0].reference not in lonely
    assert client_for(outsider).get("/intel/sellers/taobao/nobody-knows").status_code == 404
    assert client_for(outsider).get("/intel/sellers/nowhere/bad-shop").status_code == 404


def test_seller_lookup_redirects_to_the_profile(app, world, alliance, client_for):
    world.flag(alliance["lv"], "shop/with/slashes", "taobao", display_name="Slashes")
    client = client_for(alliance["swarovski"], "viewer")
    assert "Look up" in page_text(client.get("/intel/sellers"))
    response = client.get("/intel/sellers?marketplace=taobao&seller_id=shop/with/slashes")
    assert response.status_code == 302
    profile = client.get(response.headers["Location"])
    assert profile.status_code == 200 and "Slashes" in page_text(profile)
    assert "Choose the marketplace" in page_text(client.get("/intel/sellers?marketplace=taobao"))
    assert "Flag this seller" not in page_text(profile)  # a viewer cannot flag
