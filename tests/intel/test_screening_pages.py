"""Pages of listing screening: upload a batch, read the hits, file a notice from selected hits in one step,
errors that lose nothing, the authorized sellers list, and brand-only, org-scoped access."""
import io

import pytest

from portal.intel.models import AuthorizedSeller, Screening, ScreeningHit
from portal.notices.models import Notice, NoticeItem
from tests.conftest import page_text

CSV = ("Listing Title,Price,Seller ID,Listing URL,Marketplace\n"
       "L o u i s  V u i t t o n Neverfull replica,¥ 199,shop-1,https://item.taobao.com/item.htm?id=1,taobao\n"
       "Leather gloves,¥ 99,shop-2,https://item.taobao.com/item.htm?id=2,taobao\n"
       "LOUIS VUITTON wallet 1:1,¥ 150,shop-3,https://item.taobao.com/item.htm?id=3,\n"
       "LV belt AAA,¥ 80,shop-4,https://item.taobao.com/item.htm?id=4,taobao\n"
       "Louis Vuitton Speedy,¥ 300,lv-official,https://item.taobao.com/item.htm?id=5,taobao\n")


@pytest.fixture
def lv(world, make_client):
    """Louis Vuitton with an analyst signed in, partnered with Alibaba (Taobao); LOUIS VUITTON verified, LV
    pending; one authorized seller."""
    from portal.audit import acting_as
    from portal.intel import screen
    alibaba = world.org("Alibaba", kind="platform")
    world.marketplace(alibaba, "Taobao", "CN")
    brand = world.org("Louis Vuitton")
    partnership = world.partnership(brand, alibaba)
    verified = world.verified_mark(brand, alibaba, word="LOUIS VUITTON", number="12345678")
    world.mark(brand, word="LV", office="CNIPA", number="87654321")
    with acting_as("test"):
        screen.add_authorized_seller(brand, "taobao", "lv-official", "Our store")
    client = make_client()
    client.sign_in(world.person(brand, "analyst").email)
    return {"client": client, "brand": brand, "platform": alibaba, "partnership": partnership, "mark": verified}


def upload(client, content=CSV, filename="listings.csv", marketplace="taobao"):
    return client.post_form("/intel/screenings/new", {"marketplace": marketplace,
                                                      "listings_file": (io.BytesIO(content.encode()), filename)},
                            content_type="multipart/form-data")


def test_upload_then_file_a_notice_from_selected_hits(lv):
    client = lv["client"]
    assert "Screen listings" in page_text(client.get("/intel/screenings/new"))
    response = upload(client)
    assert response.status_code == 302
    screening = Screening.for_org(lv["brand"]).get()
    assert response.headers["Location"].endswith(f"/intel/screenings/{screening.id}")
    assert (screening.source, screening.filename, screening.listings, screening.hit_count,
            screening.authorized_skipped) == ("upload", "listings.csv", 5, 3, 1)

    page = client.get(f"/intel/screenings/{screening.id}")
    text = page_text(page)
    assert page.status_code == 200
    assert "L o u i s  V u i t t o n Neverfull replica" in text and "Leather gloves" not in text
    assert "in disguise" in text and "/intel/flags/new?marketplace=taobao&seller_id=shop-1" in text  # unknown seller: flag it
    assert "File a notice from the selected hits" in text
    assert "Listing screening found our registered marks" in text  # the explanation, prefilled
    hits = {hit.row: hit for hit in ScreeningHit.select().where(ScreeningHit.screening == screening)}
    assert set(hits) == {2, 4, 5}  # spreadsheet rows (the header is row 1); lv-official's row 6 left out
    # Best first, then in file order: the disguised mark with an indicator (0.85), then two at 0.7.
    assert text.index(hits[2].title) < text.index(hits[4].title) < text.index(hits[5].title)

    chosen = [hits[2], hits[4]]
    response = client.post_form(f"/intel/screenings/{screening.id}/notice",
                                {"hit": [str(h.id) for h in chosen], "partnership": str(lv["partnership"].id),
                                 "explanation": "Replica Louis Vuitton goods found by our screening; not genuine.",
                                 "good_faith": "y"})
    assert response.status_code == 302, page_text(response)
    notice = Notice.for_org(lv["brand"]).get()
    assert response.headers["Location"].endswith(f"/notices/{notice.id}")
    items = NoticeItem.select().where(NoticeItem.notice == notice)
    assert sorted(i.url for i in items) == sorted(h.url for h in chosen)
    assert {h.notice_id for h in ScreeningHit.select().where(ScreeningHit.id.in_([h.id for h in chosen]))} == {
        notice.id}
    after = page_text(client.get(f"/intel/screenings/{screening.id}"))
    assert notice.reference in after and f'id="pick-{hits[2].id}"' not in after and f'id="pick-{hits[5].id}"' in after


def test_filing_hits_whose_marks_are_unverified_is_refused_and_loses_nothing(lv):
    client = lv["client"]
    upload(client)
    screening = Screening.for_org(lv["brand"]).get()
    belt = ScreeningHit.get((ScreeningHit.screening == screening) & (ScreeningHit.words == "LV"))
    response = client.post_form(f"/intel/screenings/{screening.id}/notice",
                                {"hit": [str(belt.id)], "explanation": "My own words about the belt listing.",
                                 "good_faith": "y"})
    text = page_text(response)
    assert response.status_code == 422
    assert "LV need(s) verification" in text
    assert "My own words about the belt listing." in text  # what was typed is still there
    assert f'value="{belt.id}" id="pick-{belt.id}" checked' in text  # and the selection
    assert Notice.select().count() == 0 and ScreeningHit.get_by_id(belt.id).notice_id is None
    # Without the good-faith statement: refused beside the checkbox.
    other = ScreeningHit.get((ScreeningHit.screening == screening) & (ScreeningHit.row == 2))
    response = client.post_form(f"/intel/screenings/{screening.id}/notice", {"hit": [str(other.id)]})
    assert response.status_code == 422 and "good-faith statement" in page_text(response)
    assert Notice.select().count() == 0


def test_bad_rows_re_render_with_row_numbers_and_nothing_is_saved(lv):
    bad = CSV + "Louis Vuitton,1,shop-9,ftp://nowhere,taobao\n,2,shop-9,https://item.taobao.com/item.htm?id=8,mars\n"
    response = upload(lv["client"], bad)
    text = page_text(response)
    assert response.status_code == 422
    assert "nothing was screened" in text.lower()
    assert "<td>7</td><td>url</td>" in text.replace("\n", "") and "<td>8</td><td>title</td>" in text
    assert "<td>8</td><td>marketplace</td>" in text
    assert Screening.select().count() == 0
    # Pasted lines: the default marketplace applies; a missing file column is a clear refusal.
    response = lv["client"].post_form("/intel/screenings/new", {
        "marketplace": "taobao", "listings": "https://item.taobao.com/item.htm?id=9\tshop-9\tLouis Vuitton bag\t¥ 1"})
    assert response.status_code == 302
    assert Screening.for_org(lv["brand"]).get().source == "form"
    response = upload(lv["client"], "Price,Seller\n1,2\n")
    assert response.status_code == 422 and "header row is not usable (title, url)" in page_text(response)


def test_index_lists_screenings_and_the_template_has_the_columns(lv):
    upload(lv["client"])
    text = page_text(lv["client"].get("/intel/screenings"))
    assert "1 screening" in text and "listings.csv" in text
    template = lv["client"].get("/intel/screenings/template.csv")
    assert template.status_code == 200
    assert template.get_data(as_text=True).lstrip("\ufeff").splitlines()[0] == "title,price,seller_id,url,marketplace"


def test_authorized_sellers_are_added_and_removed(lv):
    client = lv["client"]
    response = client.post_form("/intel/authorized-sellers", {"marketplace": "taobao", "seller_id": "lv-outlet",
                                                              "note": "Licensed outlet"})
    assert response.status_code == 302
    text = page_text(client.get("/intel/authorized-sellers"))
    assert "lv-outlet" in text and "Licensed outlet" in text and "lv-official" in text
    response = client.post_form("/intel/authorized-sellers", {"marketplace": "taobao", "seller_id": "lv-outlet"})
    assert response.status_code == 409 and "already on your list" in page_text(response)
    response = client.post_form("/intel/authorized-sellers", {"marketplace": "", "seller_id": ""})
    assert response.status_code == 422 and "Choose a marketplace" in page_text(response)
    outlet = AuthorizedSeller.for_org(lv["brand"]).where(AuthorizedSeller.external_id == "lv-outlet").get()
    response = client.post_form(f"/intel/authorized-sellers/{outlet.id}/delete")
    assert response.status_code == 302
    assert [a.external_id for a in AuthorizedSeller.for_org(lv["brand"])] == ["lv-official"]


def test_viewers_read_but_change_nothing(lv, world, make_client):
    upload(lv["client"])
    screening = Screening.for_org(lv["brand"]).get()
    viewer = make_client()
    viewer.sign_in(world.person(lv["brand"], "viewer").email)
    text = page_text(viewer.get(f"/intel/screenings/{screening.id}"))
    assert "LOUIS VUITTON wallet" in text and "File a notice from the selected hits" not in text
    assert viewer.get("/intel/screenings/new").status_code == 403
    assert upload(viewer).status_code == 403
    hit = ScreeningHit.select().where(ScreeningHit.screening == screening).first()
    assert viewer.post_form(f"/intel/screenings/{screening.id}/notice",
                            {"hit": [str(hit.id)], "good_faith": "y"}).status_code == 403
    assert viewer.post_form("/intel/authorized-sellers", {"marketplace": "taobao", "seller_id": "x"}).status_code == 403
    assert Screening.select().count() == 1 and Notice.select().count() == 0 and AuthorizedSeller.select().count() == 1


def test_another_brands_screening_and_authorized_seller_are_404_and_platforms_have_no_pages(lv, world, make_client):
    upload(lv["client"])
    screening = Screening.for_org(lv["brand"]).get()
    hit = ScreeningHit.select().where(ScreeningHit.screening == screening).first()
    authorized = AuthorizedSeller.for_org(lv["brand"]).get()
    gucci = world.org("Gucci")
    other = make_client()
    other.sign_in(world.person(gucci, "admin").email)
    assert other.get(f"/intel/screenings/{screening.id}").status_code == 404
    assert other.post_form(f"/intel/screenings/{screening.id}/notice",
                           {"hit": [str(hit.id)], "good_faith": "y"}).status_code == 404
    assert other.post_form(f"/intel/authorized-sellers/{authorized.id}/delete").status_code == 404
    assert "LOUIS VUITTON" not in page_text(other.get("/intel/screenings"))
    assert AuthorizedSeller.select().count() == 1 and Notice.select().count() == 0
    platform = make_client()
    platform.sign_in(world.person(lv["platform"], "admin").email)
    for path in ("/intel/screenings", "/intel/screenings/new", f"/intel/screenings/{screening.id}",
                 "/intel/authorized-sellers"):
        assert platform.get(path).status_code == 404, path


def test_hits_are_paged_by_the_size_of_a_notice_and_an_error_keeps_the_page(lv):
    lines = "\n".join(f"https://item.taobao.com/item.htm?id={n}\tshop-{n}\tLouis Vuitton bag {n}\t1"
                      for n in range(301))
    response = lv["client"].post_form("/intel/screenings/new", {"marketplace": "taobao", "listings": lines})
    assert response.status_code == 302
    screening = Screening.for_org(lv["brand"]).get()
    assert screening.hit_count == 301
    first = page_text(lv["client"].get(f"/intel/screenings/{screening.id}"))
    second = page_text(lv["client"].get(f"/intel/screenings/{screening.id}?page=2"))
    assert first.count('name="hit"') == 300 and second.count('name="hit"') == 1
    assert "301 to 301 of 301" in second and "Louis Vuitton bag 300" in second
    assert f'action="/intel/screenings/{screening.id}/notice?page=2"' in second
    last = ScreeningHit.get((ScreeningHit.screening == screening) & (ScreeningHit.row == 301))
    response = lv["client"].post_form(f"/intel/screenings/{screening.id}/notice?page=2", {"hit": [str(last.id)]})
    assert response.status_code == 422 and "Louis Vuitton bag 300" in page_text(response)
    assert f'id="pick-{last.id}" checked' in page_text(response)
