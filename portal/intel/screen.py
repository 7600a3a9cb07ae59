"""Listing screening as a business service: a brand's batch of listings checked against its marks, the hits
kept, and a notice filed from chosen hits in one step. Pages, the API and the CLI call this module; the
matching itself lives in portal.intel.screening (the pure engine), visibility of flags in
portal.intel.sharing, filing in portal.notices.services.

Decided here (and in the README):
- **Brands only.** A platform has no marks to screen for: the service refuses it (403), the pages are
  brand-only (404 for a platform), the API answers 403.
- **A batch is checked as a whole.** Every row is validated first (URL as a notice's, title required, at
  most 500 characters, seller id at most 200, price free text at most 64, none of them with control
  characters, tabs or line breaks; the marketplace of the row or the batch's default, a marketplace of the
  alliance); one bad row refuses the batch with every problem named by row, and nothing is saved. A URL
  given twice in one batch is refused like in a notice (it is a data error, and it would stop filing the
  hits together later). At most MAX_LISTINGS (10,000) listings per batch: split larger lists.
- **Any marketplace of the alliance** can be screened, not only partners': screening is detection, and the
  hits are useful intelligence even where the brand cannot file yet. Filing needs a partnership.
- **Which marks.** Every mark of the brand except rejected ones (pending and expired registrations still
  say what the brand's names are); one hit per listing, naming every word found and remembering every
  registration of those words (`mark_ids`). Only the hits are stored, not the clean listings.
- **Score** of a listing: the best of its words' scores from the engine (mark 0.6, disguised +0.15,
  indicators +0.1 each up to +0.3), stored with the hit; +0.1 (capped at 1.0) when the seller has an active
  flag the brand may see, decided at every reading through `sharing.visible_flags` (the one predicate) and
  never stored, so a flag hidden since leaves no trace in the screening. The reason says so without naming
  the flag. Hits are listed by their stored (title) score, then batch order.
- **Authorized sellers** (the brand's list, matched on marketplace and exact seller id, as sellers are
  everywhere in the portal) are never reported: their listings with a hit are only counted
  (`authorized_skipped`). A seller authorized after a screening keeps its hits on record, but they are
  refused at filing and left out of the notice drafts.
- **Filing from hits**: the chosen hits must be unfiled and on one marketplace; each must name at least one
  of the brand's verified, unexpired marks (a notice relies only on those, and a listing is filed only
  on marks it names); the notice relies on those marks. Reason "counterfeit"; the explanation defaults to
  a text built from the hits' reasons; the partnership defaults to the only active one covering the
  marketplace. Everything else (good faith, jurisdiction warnings, listings already under notice, the
  300-listing cap) is `notices.services.file_notice`'s, called inside the same transaction that marks the
  hits as filed, so two clicks cannot file the same hits twice. Listings file_notice skips (already under
  an open notice) stay unfiled here and are reported.
- **Notice drafts** (the API's answer): one per marketplace and per 300 listings, holding the unfiled hits
  that name a usable mark, the marks, the explanation built from the hits and the partnership when exactly
  one covers the marketplace (else null, for the integrator to choose). Good faith is never pre-filled:
  the integrator attests it when POSTing the draft to /api/v1/notices.
- **Authorized sellers**: one entry per (marketplace, seller id); adding it again is refused (409).
- The pages show hits 300 to a page (one notice's worth), best first; the prefilled explanation sums up
  the page's unfiled hits without naming listings, and an empty explanation is built from the selected
  hits listing by listing.
"""
import re
from dataclasses import dataclass, field

from peewee import chunked

from portal import audit
from portal.accounts.models import Marketplace, Organization
from portal.db import db
from portal.errors import Conflict, Forbidden, NotFound, ValidationError
from portal.intel import sharing
from portal.intel.models import AuthorizedSeller, Flag, Screening, ScreeningHit, Seller
from portal.intel.screening import Screener
from portal.marks.models import Mark
from portal.marks.offices import covered_countries
from portal.imports.rows import reported_value
from portal.imports.tables import Columns
from portal.notices import rules as notice_rules
from portal.notices import services as notices
from portal.notices.rules import ListingProblem
from portal.partnerships.services import fileable_partnerships
from portal.tenancy import lock_org, object_id
from portal.text import clean_url, url_key
from portal.timeutil import to_local, utcnow

MAX_LISTINGS = 10000
MAX_TITLE = 500
MAX_SELLER_ID = 200
MAX_PRICE = 64
MAX_NOTE = 500
MAX_FILENAME = 200
MAX_FILE_BYTES = 20 * 1024 * 1024  # 10,000 rows of a few hundred characters, with room to spare
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
FLAG_BONUS = 0.1
SOURCES = ("upload", "form", "api")
# Stricter than portal.text.CONTROL_CHARACTERS: a tab or line break in a title is a broken row, not a title.
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
DISGUISE = "in disguise (spacing, punctuation, look-alike letters or digits)"

SCREENING_COLUMNS = Columns(
    names=("title", "price", "seller_id", "url", "marketplace"), required=("title", "url"),
    aliases={"title": ("title", "listingtitle", "producttitle", "itemtitle", "name", "productname"),
             "price": ("price", "listprice", "saleprice", "amount", "cost"),
             # Ids only: a seller's or shop's *name* is not its id (ids are matched exactly against
             # authorized sellers and flags), so "Seller name" / "Shop" columns are left alone.
             "seller_id": ("sellerid", "seller", "shopid", "storeid"),
             "url": ("url", "listingurl", "link", "listing", "producturl", "itemurl"),
             "marketplace": ("marketplace", "platform", "site", "market")})


class ScreeningRefused(ValidationError):
    """Rows of a batch are not usable; `problems` name each row, column and reason. Nothing was saved."""

    code = "invalid_listings"

    def __init__(self, problems, message=None):
        self.problems = list(problems)
        message = message or (f"{len(self.problems)} problem(s) in the listings; nothing was screened: "
                              + "; ".join(f"row {p.row}: {p.message}" for p in self.problems[:5])
                              + ("; ..." if len(self.problems) > 5 else ""))
        super().__init__({"listings": [message]})


def _brand_only(org, what):
    if org.is_platform:
        raise Forbidden(f"Only brands {what}: screening looks for a brand's own marks, and a platform has none.")


def _text(value):
    """A cell or JSON value as text: numbers from a spreadsheet without a spurious '.0'."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def marketplaces():
    """Every marketplace of the alliance (names and slugs are known to all members), for choices."""
    return list(Marketplace.select(Marketplace, Organization)
                .join(Organization, on=(Marketplace.org == Organization.id)).order_by(Marketplace.name))


def find_marketplace(slug):
    return Marketplace.get_or_none(Marketplace.slug == _text(slug).lower()) if _text(slug) else None


# --- reading a batch ----------------------------------------------------------------------------------

def entries_from_table(table):
    """(row, values) of an uploaded listings file (spreadsheet numbering); blank rows skipped. Reads at most
    one row past the cap, which is enough to refuse the file."""
    entries = []
    for row, values in table.rows():
        if values is None:
            continue
        entries.append((row, values))
        if len(entries) > MAX_LISTINGS:
            break
    return entries


def entries_from_text(text):
    """The form's box: one listing per line, "URL<TAB>seller id<TAB>title<TAB>price" as pasted from a
    spreadsheet; a line without tabs is read like a notice's ("URL, seller id, title", no price)."""
    entries = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        if "\t" in line:
            parts = [part.strip() for part in line.split("\t", 3)] + ["", "", ""]
            entries.append((number, {"url": parts[0], "seller_id": parts[1], "title": parts[2], "price": parts[3]}))
        else:
            entries.extend((number, values) for _, values in notice_rules.listings_from_text(line))
        if len(entries) > MAX_LISTINGS:
            break
    return entries


def clean_batch(entries, default_marketplace=None):
    """(rows, problems): every row checked, each problem a notices.rules.ListingProblem with its row."""
    problems, rows, seen = [], [], {}

    def problem(row, column, code, message, value=""):
        problems.append(ListingProblem(row, column, code, message, reported_value(value)))

    entries = list(entries)
    if len(entries) > MAX_LISTINGS:
        problem(entries[MAX_LISTINGS][0], "url", "too_many_listings",
                f"A screening takes at most {MAX_LISTINGS:,} listings; split the list into several batches.")
        return [], problems
    default = _text(default_marketplace).lower()
    slugs = {default} | {_text(values.get("marketplace")).lower() for _, values in entries}
    known = {m.slug: m for m in Marketplace.select().where(Marketplace.slug.in_(sorted(s for s in slugs if s)))}
    for row, values in entries:
        values = values or {}
        bad = False
        url, url_problem = clean_url(values.get("url"))
        if url_problem:
            problem(row, "url", url_problem[0], url_problem[1], values.get("url"))
            bad = True
        title = _text(values.get("title"))
        if not title:
            problem(row, "title", "required", "Give the listing's title: screening reads it.")
            bad = True
        elif len(title) > MAX_TITLE or CONTROL.search(title):
            problem(row, "title", "invalid_title", f"A title has at most {MAX_TITLE} characters and no control "
                                                   "characters (tabs and line breaks included).", title)
            bad = True
        seller_id = _text(values.get("seller_id"))
        if len(seller_id) > MAX_SELLER_ID or CONTROL.search(seller_id):
            problem(row, "seller_id", "invalid_seller_id", f"A seller id has at most {MAX_SELLER_ID} characters "
                                                           "and no control characters.", seller_id)
            bad = True
        price = _text(values.get("price"))
        if len(price) > MAX_PRICE or CONTROL.search(price):
            problem(row, "price", "invalid_price", f"A price has at most {MAX_PRICE} characters and no control "
                                                   "characters.", price)
            bad = True
        slug = _text(values.get("marketplace")).lower() or default
        marketplace = known.get(slug)
        if not slug:
            problem(row, "marketplace", "required", "Name the listing's marketplace (its slug, e.g. taobao), or "
                                                    "choose a default marketplace for the batch.")
            bad = True
        elif marketplace is None:
            problem(row, "marketplace", "unknown_marketplace",
                    "No marketplace of the alliance has this slug.", slug)
            bad = True
        if url and not url_problem:
            key = url_key(url)
            if key in seen:
                problem(row, "url", "duplicate_url", f"This URL is already in the batch (row {seen[key]}).", url)
                bad = True
            else:
                seen[key] = row
        if not bad:
            rows.append({"row": row, "url": url, "title": title, "seller_id": seller_id, "price": price,
                         "marketplace": marketplace})
    return rows, problems


# --- screening ----------------------------------------------------------------------------------------

def screener_for(org):
    """The brand's marks (all but rejected ones) compiled for screening."""
    marks = Mark.for_org(org).select(Mark.id, Mark.word).where(Mark.status != "rejected").order_by(Mark.id)
    return Screener([(mark.id, mark.word) for mark in marks])


def _authorized_pairs(org):
    return set(AuthorizedSeller.for_org(org).select(AuthorizedSeller.marketplace, AuthorizedSeller.external_id)
               .tuples())


def flagged_pairs(org, pairs):
    """Of (marketplace id, seller id) pairs, those whose seller has an active flag `org` may see."""
    found = set()
    seller_ids = sorted({seller for _, seller in pairs if seller})
    marketplace_ids = sorted({marketplace for marketplace, _ in pairs})
    for chunk in chunked(seller_ids, 500):
        query = (sharing.visible_flags(org).select(Seller.marketplace, Seller.external_id).join(Seller)
                 .where((Flag.status == "active") & Seller.marketplace.in_(marketplace_ids)
                        & Seller.external_id.in_(chunk)).distinct())
        found.update(query.tuples())
    return found & set(pairs)


def listing_reason(hits):
    """Why a listing is reported: the words found (disguised or not), the indicators."""
    if len(hits) == 1:
        text = hits[0].reason
    else:
        named = [hit.word + (" " + DISGUISE if hit.disguised else "") for hit in hits]
        text = "The title names the marks " + ", ".join(named[:-1]) + " and " + named[-1]
        if hits[0].indicators:
            text += "; counterfeit indicators: " + ", ".join(hits[0].indicators)
        text += "."
    return text


def _hit_row(screening, row, hits):
    score = max(hit.score for hit in hits)
    words = "; ".join(hit.word for hit in hits)
    indicators = hits[0].indicators  # title-level: the same for every word
    mark_ids = sorted({mark_id for hit in hits for mark_id in hit.mark_ids})
    return {"screening": screening.id, "row": row["row"], "marketplace": row["marketplace"].id, "url": row["url"],
            "title": row["title"], "price": row["price"], "seller_id": row["seller_id"], "score": score,
            "words": words[:500], "mark_ids": ",".join(map(str, mark_ids)), "indicators": "; ".join(indicators)[:500],
            "disguised": any(hit.disguised for hit in hits), "reason": listing_reason(hits)}


def screen_listings(org, entries, default_marketplace=None, source="api", filename="", user=None, now=None):
    """Screen a batch of listings for the brand `org` and keep the hits. `entries`: (row, {title, price,
    seller_id, url, marketplace}) pairs. Returns the saved Screening. ScreeningRefused (row problems) or
    ValidationError when the batch cannot be screened; nothing is saved then."""
    _brand_only(org, "screen listings")
    now = now or utcnow()
    if source not in SOURCES:
        raise ValueError(f"unknown screening source {source!r}")
    entries = list(entries)
    if not entries:
        raise ValidationError({"listings": "Give at least one listing to screen."})
    rows, problems = clean_batch(entries, default_marketplace)
    if problems:
        raise ScreeningRefused(problems)
    screener = screener_for(org)
    found = []  # (row, hits)
    for row in rows:
        hits = screener.screen_title(row["title"])
        if hits:
            found.append((row, hits))
    authorized = _authorized_pairs(org) if found else set()
    reported = [(row, hits) for row, hits in found
                if not (row["seller_id"] and (row["marketplace"].id, row["seller_id"]) in authorized)]
    with db.atomic():
        screening = Screening.create(org=org, source=source, filename=_text(filename)[:MAX_FILENAME],
                                     listings=len(rows), hit_count=len(reported),
                                     authorized_skipped=len(found) - len(reported), created_by=user, created_at=now)
        hit_rows = [_hit_row(screening, row, hits) for row, hits in reported]
        for chunk in chunked(hit_rows, 200):
            ScreeningHit.insert_many(chunk).execute()
        audit.record("intel.screening.run", org, screening, change={
            "source": source, "filename": screening.filename, "listings": screening.listings,
            "hits": screening.hit_count, "authorized_skipped": screening.authorized_skipped,
            "marketplaces": sorted({row["marketplace"].slug for row in rows})})
    return screening


# --- reading screenings -------------------------------------------------------------------------------

def screenings(org):
    """The brand's screenings, newest first."""
    return Screening.for_org(org).order_by(Screening.created_at.desc(), Screening.id.desc())


def get_screening(pk, org):
    return Screening.get_for_org(pk, org)


def hits_query(screening):
    """The hits of a screening, best first (then in batch order), with their marketplace."""
    return (ScreeningHit.select(ScreeningHit, Marketplace).join(Marketplace)
            .where(ScreeningHit.screening == screening)
            .order_by(ScreeningHit.score.desc(), ScreeningHit.row))


def hits_of(screening):
    return with_flags(screening, list(hits_query(screening)))


def with_flags(screening, hits):
    """Hits as the brand may read them now: a seller with an active flag the brand may see (read through
    the sharing predicate at every reading, never stored, so a flag hidden since leaves no trace) is marked
    `flagged`, its score raised by FLAG_BONUS (at most 1.0) and the reason says so."""
    flagged = flagged_pairs(screening.org_id, {(hit.marketplace_id, hit.seller_id) for hit in hits if hit.seller_id})
    for hit in hits:
        hit.flagged = (hit.marketplace_id, hit.seller_id) in flagged
        if hit.flagged:
            hit.score = round(min(hit.score + FLAG_BONUS, 1.0), 2)
            hit.reason += f" The seller has an active flag shared with you (+{FLAG_BONUS:g})."
    return hits


def flagged_count(screening):
    """How many of the screening's hits are of sellers the brand may now see flagged."""
    pairs = list(ScreeningHit.select(ScreeningHit.marketplace, ScreeningHit.seller_id)
                 .where((ScreeningHit.screening == screening) & (ScreeningHit.seller_id != "")).tuples())
    flagged = flagged_pairs(screening.org_id, set(pairs))
    return sum(1 for pair in pairs if pair in flagged)


def mark_ids_of(hit):
    return [int(value) for value in (hit.mark_ids or "").split(",") if value]


def words_of(hit):
    return [value for value in (hit.words or "").split("; ") if value]


def indicators_of(hit):
    return [value for value in (hit.indicators or "").split("; ") if value]


def usable_marks(org, mark_ids, now=None):
    """{id: Mark} of the brand's verified marks among `mark_ids` that have not expired (in its time zone)."""
    today = to_local(now or utcnow(), org.timezone).date()
    ids = sorted(set(mark_ids))
    found = {}
    for chunk in chunked(ids, 500):
        for mark in Mark.for_org(org).where(Mark.id.in_(chunk) & (Mark.status == "verified")):
            if not (mark.expires_on and mark.expires_on < today):
                found[mark.id] = mark
    return found


def default_explanation(hits, per_listing=True, limit=notice_rules.MAX_EXPLANATION):
    """A notice's explanation built from the hits' findings: the words, the disguises, the indicators, and
    (`per_listing`) each listing's reason as long as the text has room. It states only what screening
    knows; the filer adds what they know (a test buy, the price) and attests it."""
    words = sorted({word for hit in hits for word in words_of(hit)})
    indicators = sorted({value for hit in hits for value in indicators_of(hit)})
    named = ", ".join(words[:20]) + (f" and {len(words) - 20} more" if len(words) > 20 else "")
    text = ("Listing screening found our registered mark" + ("s " if len(words) > 1 else " ") + named
            + " in the titles of these listings")
    disguised = sum(1 for hit in hits if hit.disguised)
    if disguised:
        text += (f", {disguised} of them written in disguise (spacing, punctuation, look-alike letters or digits) "
                 "to evade searches")
    if indicators:
        text += ", offered with counterfeit indicators (" + ", ".join(indicators) + ")"
    text += ". None of these sellers is on our list of authorized sellers."
    if not per_listing:
        return text
    lines = []
    for hit in hits:
        line = f"\n- {hit.url}: {hit.reason}"
        if len(text) + sum(map(len, lines)) + len(line) > limit - 80:
            lines.append(f"\n- and {len(hits) - len(lines)} more listing(s) with the same findings.")
            break
        lines.append(line)
    return text + "".join(lines)


# --- filing a notice from hits ------------------------------------------------------------------------

@dataclass
class NoticeDraft:
    """What POST /api/v1/notices needs, as far as the hits tell it."""

    marketplace: Marketplace
    partnership: object  # the only active partnership covering the marketplace, or None
    marks: list
    hits: list
    explanation: str = ""
    reason_code: str = "counterfeit"
    left_out: list = field(default_factory=list)  # hits on this marketplace whose marks are none usable


def partnerships_for(org, marketplace):
    """The brand's active partnerships whose terms in force cover `marketplace`."""
    return [partnership for partnership, terms in fileable_partnerships(org)
            if partnership.platform_id == marketplace.org_id and marketplace.slug in terms.marketplace_slugs]


def notice_drafts(org, screening, now=None):
    """One draft per marketplace (and per 300 listings) of the screening's unfiled hits that name a usable
    mark, best hits first."""
    authorized = _authorized_pairs(org)
    hits = [hit for hit in hits_of(screening)
            if hit.notice_id is None and (hit.marketplace_id, hit.seller_id) not in authorized]
    # Listings already under one of the brand's active notices (filed from this draft, say) are not offered
    # again: filing them would be refused.
    in_hand = {entry["url_key"] for entry in notices.already_filed(
        org, [{"row": hit.row, "url": hit.url, "url_key": url_key(hit.url)} for hit in hits])}
    hits = [hit for hit in hits if url_key(hit.url) not in in_hand]
    usable = usable_marks(org, [mark_id for hit in hits for mark_id in mark_ids_of(hit)], now)
    drafts, by_marketplace = [], {}
    for hit in hits:
        by_marketplace.setdefault(hit.marketplace_id, []).append(hit)
    for marketplace_hits in by_marketplace.values():
        marketplace = marketplace_hits[0].marketplace
        fileable = [hit for hit in marketplace_hits if any(i in usable for i in mark_ids_of(hit))]
        left_out = [hit for hit in marketplace_hits if hit not in fileable]
        covering = partnerships_for(org, marketplace) if fileable else []
        for chunk in chunked(fileable, notice_rules.MAX_ITEMS):
            marks = marks_for(chunk, usable, marketplace)
            drafts.append(NoticeDraft(marketplace=marketplace, partnership=covering[0] if len(covering) == 1 else None,
                                      marks=marks, hits=chunk, explanation=default_explanation(chunk),
                                      left_out=left_out))
    return drafts


def _selected_hits(screening, hit_ids):
    ids = set()
    for value in hit_ids or []:
        try:
            ids.add(object_id(value))
        except NotFound:
            raise ValidationError({"hits": f"{str(value)[:40]!r} is not a hit of this screening."}) from None
    if not ids:
        raise ValidationError({"hits": "Select at least one hit to file."})
    if len(ids) > notice_rules.MAX_ITEMS:
        raise ValidationError({"hits": f"A notice carries at most {notice_rules.MAX_ITEMS} listings; select fewer "
                                       "hits and file the rest in another notice."})
    hits = list(ScreeningHit.select(ScreeningHit, Marketplace).join(Marketplace)
                .where((ScreeningHit.screening == screening) & ScreeningHit.id.in_(sorted(ids)))
                .order_by(ScreeningHit.score.desc(), ScreeningHit.row))
    missing = sorted(ids - {hit.id for hit in hits})
    if missing:
        raise ValidationError({"hits": f"No hit {missing[0]} in this screening."})
    return hits


def _check_hits(org, hits, now):
    filed = [hit for hit in hits if hit.notice_id is not None]
    if filed:
        raise Conflict({"hits": "Already filed: " + "; ".join(
            f"row {hit.row} under {notices.notice_reference(hit.notice_id)}" for hit in filed[:5])
            + ("; ..." if len(filed) > 5 else "") + ". Select only hits not filed yet."})
    authorized = _authorized_pairs(org)
    resellers = [hit for hit in hits if hit.seller_id and (hit.marketplace_id, hit.seller_id) in authorized]
    if resellers:
        raise ValidationError({"hits": "Authorized sellers since the screening: " + "; ".join(
            f"row {hit.row} ({hit.seller_id})" for hit in resellers[:5]) + ("; ..." if len(resellers) > 5 else "")
            + ". Their listings are not taken down; unselect those hits."})
    slugs = sorted({hit.marketplace.slug for hit in hits})
    if len(slugs) > 1:
        raise ValidationError({"hits": f"The selected hits are on {len(slugs)} marketplaces ({', '.join(slugs)}); a "
                                       "notice goes to one marketplace. Select the hits of one and file the others "
                                       "in another notice."})
    usable = usable_marks(org, [mark_id for hit in hits for mark_id in mark_ids_of(hit)], now)
    unverified = [hit for hit in hits if not any(mark_id in usable for mark_id in mark_ids_of(hit))]
    if unverified:
        words = sorted({word for hit in unverified for word in words_of(hit)})
        rows = ", ".join(str(hit.row) for hit in sorted(unverified, key=lambda h: h.row)[:10])
        raise ValidationError({"marks": "A notice relies only on your verified, unexpired marks, and none of "
                                        f"the marks named by row(s) {rows} is: {', '.join(words)} need(s) "
                                        "verification by a partner platform (or a renewal) first. Unselect "
                                        "those hits or have the marks verified."})
    return hits[0].marketplace, marks_for(hits, usable, hits[0].marketplace)


def marks_for(hits, usable, marketplace):
    """The registrations a notice of `hits` on `marketplace` relies on: for each hit, the usable ones its
    title names that cover the marketplace's country (all its usable ones when none does: the filer then
    confirms the jurisdiction warning). At most MAX_MARKS; past that, each hit keeps one of its own first."""
    per_hit = []
    for hit in hits:
        named = [i for i in mark_ids_of(hit) if i in usable]
        covering = [i for i in named if marketplace.country
                    and marketplace.country in covered_countries(usable[i].jurisdiction_list)]
        per_hit.append(sorted(covering or named))
    relied = sorted({i for ids in per_hit for i in ids})
    if len(relied) <= notice_rules.MAX_MARKS:
        return relied
    chosen = {ids[0] for ids in per_hit if ids}
    for mark_id in relied:
        if len(chosen) >= notice_rules.MAX_MARKS:
            break
        chosen.add(mark_id)
    return sorted(chosen)[:notice_rules.MAX_MARKS]


def _partnership_for(org, marketplace, given):
    if given not in (None, ""):
        return given  # file_notice checks it is the brand's, active, and covers the marketplace
    covering = partnerships_for(org, marketplace)
    if not covering:
        raise ValidationError({"partnership": f"None of your active partnerships covers {marketplace.name}: "
                                              "a brand admin proposes one to its platform first."})
    if len(covering) > 1:
        raise ValidationError({"partnership": f"Several of your partnerships cover {marketplace.name}; choose "
                                              "one."})
    return covering[0].id


def file_notice_from_hits(org, screening, hit_ids, values, user=None, now=None):
    """File a counterfeit notice for the selected hits of `screening` (the brand's). `values`: partnership
    (id; optional when one partnership covers the marketplace), explanation (optional: built from the
    hits), good_faith, confirm_jurisdiction, test_buy_ref. Returns notices.services.Filed."""
    _brand_only(org, "file notices")
    if screening.org_id != org.id:
        raise NotFound()
    now = now or utcnow()
    values = dict(values or {})
    with db.atomic():
        lock_org(org)  # two submissions of the same hits: the second sees them filed
        hits = _selected_hits(screening, hit_ids)
        marketplace, mark_ids = _check_hits(org, hits, now)
        explanation = _text(values.get("explanation")) or default_explanation(hits)
        fields = {"partnership": _partnership_for(org, marketplace, values.get("partnership")),
                  "marketplace": marketplace.slug, "reason_code": "counterfeit", "explanation": explanation,
                  "marks": mark_ids, "good_faith": bool(values.get("good_faith")),
                  "confirm_jurisdiction": bool(values.get("confirm_jurisdiction")),
                  "test_buy_ref": values.get("test_buy_ref") or ""}
        entries = [(hit.row, {"url": hit.url, "seller_id": hit.seller_id, "title": hit.title}) for hit in hits]
        filed = notices.file_notice(org, fields, entries, user=user, now=now)
        skipped = {entry["url_key"] for entry in filed.skipped}
        filed_ids = [hit.id for hit in hits if url_key(hit.url) not in skipped]
        ScreeningHit.update(notice=filed.notice.id).where(ScreeningHit.id.in_(filed_ids)
                                                         & ScreeningHit.notice.is_null()).execute()
        audit.record("intel.screening.notice_filed", org, screening, change={
            "notice": filed.notice.reference, "hits": filed_ids,
            "rows": [hit.row for hit in hits if hit.id in filed_ids],
            "skipped": [entry["url"] for entry in filed.skipped]})
    return filed


# --- authorized sellers -------------------------------------------------------------------------------

def authorized_sellers(org):
    """The brand's authorized sellers with their marketplace, by marketplace and seller id."""
    return list(AuthorizedSeller.for_org(org).select(AuthorizedSeller, Marketplace).join(Marketplace)
                .order_by(Marketplace.name, AuthorizedSeller.external_id))


def authorized_problems(marketplace_found, marketplace_slug, seller_id, note):
    """{field: message} of what is wrong with an authorized seller's fields (the page, the API and the bulk
    upload check them here): the marketplace must be one of the alliance, the seller id given, short and
    without control characters, the note short."""
    errors = {}
    if not marketplace_found:
        errors["marketplace"] = ("Choose a marketplace of the alliance." if not _text(marketplace_slug)
                                 else f"No marketplace {_text(marketplace_slug)[:64]!r} in the alliance.")
    if not seller_id:
        errors["seller_id"] = "Give the seller's id on the marketplace."
    elif len(seller_id) > MAX_SELLER_ID or CONTROL.search(seller_id):
        errors["seller_id"] = f"A seller id has at most {MAX_SELLER_ID} characters and no control characters."
    if len(note) > MAX_NOTE or re.search(r"[\x00-\x08\x0b-\x1f\x7f]", note):
        errors["note"] = f"A note has at most {MAX_NOTE} characters and no control characters."
    return errors


def add_authorized_seller(org, marketplace_slug, seller_id, note="", user=None, now=None):
    """Authorize a seller on a marketplace: screening leaves its listings alone."""
    _brand_only(org, "keep a list of authorized sellers")
    marketplace = find_marketplace(marketplace_slug)
    seller_id, note = _text(seller_id), _text(note).replace("\r\n", "\n")
    errors = authorized_problems(marketplace is not None, marketplace_slug, seller_id, note)
    if errors:
        raise ValidationError(errors)
    with db.atomic():
        lock_org(org)
        existing = AuthorizedSeller.for_org(org).where((AuthorizedSeller.marketplace == marketplace)
                                                       & (AuthorizedSeller.external_id == seller_id)).first()
        if existing is not None:
            raise Conflict({"seller_id": f"{seller_id} on {marketplace.name} is already on your list of authorized "
                                         "sellers."})
        authorized = AuthorizedSeller.create(org=org, marketplace=marketplace, external_id=seller_id, note=note,
                                             created_by=user, created_at=now or utcnow())
        audit.record("intel.authorized_seller.added", org, authorized, change={
            "marketplace": marketplace.slug, "seller_id": seller_id, "note": note})
    return authorized


def remove_authorized_seller(org, pk, user=None):
    """Take a seller off the list (another org's entry, or a missing one: NotFound)."""
    _brand_only(org, "keep a list of authorized sellers")
    with db.atomic():
        authorized = AuthorizedSeller.get_for_org(pk, org)
        marketplace = Marketplace.get_by_id(authorized.marketplace_id)
        AuthorizedSeller.delete().where(AuthorizedSeller.id == authorized.id).execute()
        audit.record("intel.authorized_seller.removed", org, authorized, change={
            "marketplace": marketplace.slug, "seller_id": authorized.external_id, "note": authorized.note})
    return authorized
