"""Demo data: the alliance of the seed documents (Microsoft, Louis Vuitton, Swarovski and Alibaba).

All demo users share one password: DEMO_PASSWORD when set, otherwise a random one generated at seeding
and kept in instance/demo-logins.json (never in the repository) so `make run` can print it every time.

Besides the orgs, users and marks, the demo has what the queues, clocks, dashboards and reports need on a
fresh `make run`:
- Alibaba verifies most of each brand's marks (one per brand stays in its verification queue);
- each brand has an active partnership with Alibaba: Microsoft around the clock (24/7, UTC), Louis Vuitton
  on business hours in Asia/Shanghai with China's public holidays, Swarovski on Mon-Sat business hours
  there, and Swarovski files so cleanly that it has earned the fast lane;
- twelve weeks of notice history, generated from a fixed seed relative to today: filed, acknowledged and
  decided through the notice services at plausible moments (removals, rejections with reasons, requests
  for information and the brands' answers, counter-notices, some late acknowledgements), and a handful of
  notices still open with running clocks, some near or past their deadline. Then the SLA check runs once.
Everything goes through the domain services (filing, transitions, clocks), never straight to the tables.
"""
import heapq
import itertools
import json
import os
import random
import secrets
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import current_app
from peewee import fn

from portal.accounts import services
from portal.accounts.models import Marketplace, Organization
from portal.db import db
from portal.intel.models import Flag, Screening, Seller, Sighting
from portal.intel.screen import add_authorized_seller, screen_listings
from portal.intel.services import add_sighting, create_flag
from portal.marks.models import Mark
from portal.marks.offices import covered_countries
from portal.marks.services import create_mark, review_mark
from portal.notices.goodfaith import score
from portal.notices.models import Notice, NoticeItem
from portal.notices.services import file_notice, transition, visible_items, visible_notices
from portal.partnerships.models import Terms
from portal.partnerships.services import create_partnership, terms_in_force
from portal.sla.clocks import check_clocks
from portal.timeutil import utcnow

BRANDS = [
    ("microsoft", "Microsoft", "America/Los_Angeles"),
    ("louis-vuitton", "Louis Vuitton", "Europe/Paris"),
    ("swarovski", "Swarovski", "Europe/Vienna"),
]
PLATFORM = ("alibaba", "Alibaba Group", "Asia/Shanghai")
MARKETPLACES = [("taobao", "Taobao", "CN"), ("tmall", "Tmall", "CN"), ("aliexpress", "AliExpress", "CN")]
# Outside counsel acting for two brands: one login, two memberships, the org switcher in the nav bar.
COUNSEL = ("counsel@lawfirm.example", [("louis-vuitton", "analyst"), ("swarovski", "analyst")])


def logins_file():
    return Path(current_app.config["INSTANCE_PATH"]) / "demo-logins.json"


def saved_logins():
    path = logins_file()
    return json.loads(path.read_text()) if path.exists() else None


# A few registrations per brand (illustrative numbers, not the real registers').
DEMO_MARKS = {
    "microsoft": [("MICROSOFT", "USPTO", "1200236", "9;42", "1982-05-25", "2032-05-25", ""),
                  ("XBOX", "EUIPO", "1934318", "9;28;41", "2002-03-06", "2030-11-01", ""),
                  ("WINDOWS", "CNIPA", "1011588", "9", "1997-05-28", "2037-05-27", ""),
                  ("XBOX", "CNIPA", "3456789", "9;28", "2004-09-14", "2034-09-13", "")],
    "louis-vuitton": [("LOUIS VUITTON", "EUIPO", "15123456", "18;25", "2016-02-03", "2026-02-03", ""),
                      ("LV", "WIPO", "1234567", "18;25;35", "2014-07-10", "2034-07-10", "CN;JP;KR"),
                      ("LOUIS VUITTON", "CNIPA", "8123456", "18", "2011-04-14", "2031-04-13", ""),
                      ("LOUIS VUITTON", "USPTO", "4192541", "18;25", "2012-08-28", "2032-08-28", "")],
    "swarovski": [("SWAROVSKI", "EUIPO", "18123456", "14;21", "2019-03-14", "2029-03-14", ""),
                  ("SWAROVSKI", "UKIPO", "3123456", "14", "2015-08-21", "2025-08-21", ""),
                  ("SWAROVSKI", "WIPO", "1345678", "14;21", "2017-01-10", "2037-01-10", "CN;JP;US"),
                  ("SWAROVSKI", "CNIPA", "9123456", "14", "2012-03-07", "2032-03-06", "")],
}
# Marks Alibaba leaves pending, so its verification queue has work: (brand, office, number).
LEFT_PENDING = {("microsoft", "EUIPO", "001934318"), ("louis-vuitton", "USPTO", "4192541"),
                ("swarovski", "CNIPA", "9123456")}

# China's public holidays around the dates the demo uses (2026, and New Year's Day 2027): closed days in the
# business-hours calendars, so clocks do not run over Spring Festival or the National Day week.
CN_HOLIDAYS = (["2026-01-01"] + [f"2026-02-{d}" for d in range(16, 23)] + ["2026-04-05"]
               + [f"2026-05-0{d}" for d in range(1, 6)] + ["2026-06-19", "2026-09-25"]
               + [f"2026-10-0{d}" for d in range(1, 8)] + ["2027-01-01"])
TERMS_START_WEEKS = 16  # the terms are in force from before the oldest notice
PARTNERSHIP_TERMS = {
    # Microsoft: around the clock; 24 h to acknowledge, 72 h to act (fast lane 4 h / 24 h).
    "microsoft": {"always_open": True, "timezone": "UTC", "ack_minutes": 24 * 60, "action_minutes": 72 * 60,
                  "fast_ack_minutes": 4 * 60, "fast_action_minutes": 24 * 60},
    # Louis Vuitton: Mon-Fri 09:00-18:00 Shanghai with holidays; one business day to acknowledge, three to act.
    "louis-vuitton": {"timezone": "Asia/Shanghai", "working_days": "mon-fri", "opens": "09:00", "closes": "18:00",
                      "holidays": CN_HOLIDAYS, "ack_minutes": 9 * 60, "action_minutes": 27 * 60,
                      "fast_ack_minutes": 3 * 60, "fast_action_minutes": 9 * 60},
    # Swarovski: Mon-Sat 08:00-20:00 Shanghai with holidays; the fast lane it earns halves the targets.
    "swarovski": {"timezone": "Asia/Shanghai", "working_days": "mon-sat", "opens": "08:00", "closes": "20:00",
                  "holidays": CN_HOLIDAYS, "ack_minutes": 8 * 60, "action_minutes": 24 * 60,
                  "fast_ack_minutes": 4 * 60, "fast_action_minutes": 12 * 60},
}


def seed_marks(orgs, reviewer, now):
    """Each brand's marks, its partnership with Alibaba, and Alibaba's verification of most of the marks."""
    platform = orgs[PLATFORM[0]]
    effective_from = (now - timedelta(weeks=TERMS_START_WEEKS)).date()
    partnerships = {}
    fields = ("word", "office", "registration_number", "nice_classes", "registered_on", "expires_on",
              "jurisdictions")
    for slug, marks in DEMO_MARKS.items():
        partnerships[slug] = create_partnership(orgs[slug], platform, dict(
            PARTNERSHIP_TERMS[slug], effective_from=effective_from, marketplaces=[m[0] for m in MARKETPLACES]))
        for values in marks:
            create_mark(orgs[slug], dict(zip(fields, values)))
        for mark in Mark.for_org(orgs[slug]).order_by(Mark.id):
            if mark.status == "pending" and (slug, mark.office, mark.registration_number) not in LEFT_PENDING:
                review_mark(mark, platform, reviewer, "verify")
    return partnerships


def seed_demo(now=None):
    """Seed the demo alliance and its history up to `now` (default: this moment) on an empty database."""
    if Organization.select().exists():
        return {"seeded": False, "reason": "the database already has organizations",
                **(saved_logins() or {})}
    now = (now or utcnow()).replace(microsecond=0)
    password = os.environ.get("DEMO_PASSWORD") or secrets.token_urlsafe(12)
    logins = []
    users = {}

    def member(org, email, role, name=None):
        membership, _ = services.add_member(org, email, role, password=password, name=name or f"{org.name} {role}")
        users[email] = membership.user
        logins.append({"email": email, "org": org.slug, "role": role})

    # One transaction: a failure half way leaves an empty database, so running the demo again starts over.
    with db.atomic():
        orgs = {}
        for slug, name, timezone in BRANDS + [PLATFORM]:
            kind = "platform" if slug == PLATFORM[0] else "brand"
            orgs[slug] = org = services.create_organization(name, kind, slug=slug, timezone=timezone)
            member(org, f"admin@{slug}.example", "admin")
            member(org, f"analyst@{slug}.example", "analyst")
        member(orgs["microsoft"], "viewer@microsoft.example", "viewer")
        for slug, name, country in MARKETPLACES:
            services.create_marketplace(orgs[PLATFORM[0]], name, slug=slug, country=country)
        email, roles = COUNSEL
        for org_slug, role in roles:
            member(orgs[org_slug], email, role, name="Outside counsel")
        partnerships = seed_marks(orgs, users[f"analyst@{PLATFORM[0]}.example"], now)
        history = seed_history(orgs, users, partnerships, now=now)
        history["intel"] = seed_intel(orgs, users, now)

    result = {"password": password, "logins": logins}
    path = logins_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2))
    path.chmod(0o600)
    return {"seeded": True, **result, "history": history}


# --- notice history ----------------------------------------------------------------------------------

HISTORY_SEED = 20260301
HISTORY_WEEKS = 12
OPEN_DAYS = 2  # the generated history is filed up to this many days ago; newer notices are the scripted open ones


@dataclass
class Profile:
    """How a brand files and how its notices fare on the platform."""

    per_week: tuple  # notices a week (min, max)
    marketplaces: dict  # slug -> weight
    reasons: dict  # reason code -> weight
    rejected: float  # share of items rejected
    info: float  # share of notices the platform asks for information on
    counter: float  # share of removed items that get a counter-notice
    reinstated: float  # share of counter-notices that succeed
    late: float  # share of notices acknowledged late
    filers: list  # emails of the brand's people who file
    catalog: list  # [(products, English title patterns, Chinese title patterns)]
    open_notices: list = field(default_factory=list)  # recent notices still open (see History.plan_open)
    earns_fast_lane: bool = False  # files cleanly enough to have the fast lane by the end of the history


PROFILES = {
    "microsoft": Profile(
        per_week=(2, 3), marketplaces={"taobao": 5, "aliexpress": 4, "tmall": 1},
        reasons={"counterfeit": 6, "trademark_misuse": 3, "brand_images": 1},
        rejected=0.14, info=0.08, counter=0.06, reinstated=0.5, late=0.12,
        filers=["analyst@microsoft.example", "analyst@microsoft.example", "admin@microsoft.example"],
        catalog=[(["Windows 11 Pro", "Windows 10 Home", "Office 2021 Professional Plus", "Office 365"],
                  ["{p} retail key lifetime activation", "{p} product key 1PC permanent - instant delivery",
                   "Genuine {p} OEM key"],
                  ["{p} 激活码 永久 秒发", "正版 {p} 密钥 终身"]),
                 (["Xbox Series X controller", "Xbox Elite Series 2 controller", "Surface Pro keyboard",
                   "Surface Pen"],
                  ["{p} 1:1 replica high quality", "Replica {p} 1:1", "{p} OEM copy"],
                  ["{p} 1:1 高仿", "{p} 原装 复刻版"])],
        open_notices=["fresh", "near", "in_progress", "countered"]),
    "louis-vuitton": Profile(
        per_week=(3, 4), marketplaces={"taobao": 6, "aliexpress": 3, "tmall": 1},
        reasons={"counterfeit": 8, "brand_images": 2},
        rejected=0.16, info=0.10, counter=0.05, reinstated=0.35, late=0.15,
        filers=["analyst@louis-vuitton.example", "counsel@lawfirm.example", "counsel@lawfirm.example"],
        catalog=[(["Neverfull MM Monogram", "Speedy 30 Damier Ebene", "Keepall 55", "Alma BB", "Capucines MM",
                   "Twist chain bag", "reversible belt 40mm", "Multi Pochette Accessoires", "Monogram scarf"],
                  ["Replica Louis Vuitton {p} 1:1", "LV {p} mirror quality AAA",
                   "Louis Vuitton {p} top grade original leather", "Replica LV {p} 1:1 with box and dust bag"],
                  ["LV {p} 1:1 高仿 原单", "路易威登 {p} 顶级复刻", "LV老花 {p} 1:1 专柜品质"])],
        open_notices=["overdue", "in_progress", "waiting"]),
    "swarovski": Profile(
        per_week=(2, 3), marketplaces={"aliexpress": 5, "taobao": 4, "tmall": 1},
        reasons={"counterfeit": 9, "trademark_misuse": 1},
        rejected=0.02, info=0.04, counter=0.03, reinstated=0.0, late=0.04,
        filers=["analyst@swarovski.example", "counsel@lawfirm.example"],
        catalog=[(["Swan necklace", "Remix bracelet", "Millenia earrings", "Attract ring", "Iconic Swan figurine",
                   "Constella necklace", "Tennis bracelet"],
                  ["Replica Swarovski {p} 1:1", "Swarovski crystal {p} mirror quality",
                   "SWAROVSKI {p} AAA copy 925 silver"],
                  ["施华洛世奇 {p} 1:1 高仿", "Swarovski {p} 顶级复刻 同款"])],
        open_notices=["fresh", "near", "in_progress"], earns_fast_lane=True),
}

EXPLANATIONS = {
    "counterfeit": "These listings offer counterfeit goods ({product} and the like) bearing the {marks} "
                   "mark(s). {brand} does not supply these sellers, the prices are a fraction of retail and "
                   "the titles call the goods replicas (1:1, mirror quality, AAA).",
    "trademark_misuse": "The sellers use the {marks} mark(s) in titles, keywords and shop names to sell goods "
                        "that are not {brand} products, misleading buyers as to their origin.",
    "brand_images": "The listings use {brand}'s official photographs of the {product}, which show the "
                    "{marks} mark(s), to sell goods of unknown origin.",
}
REMOVED_REASONS = {
    "counterfeit": ["Test purchase confirmed the goods are counterfeit: logo, packaging and serial label do not "
                    "match the genuine product.",
                    "The listing offers goods bearing the mark as a '1:1 replica'; the seller is not an "
                    "authorized distributor. Counterfeit goods (platform rules 2.1).",
                    "Product photos show counterfeit goods bearing the registered mark at a fraction of the "
                    "retail price."],
    "trademark_misuse": ["The listing uses the registered mark in its title and keywords for goods not made "
                         "by the rights holder. Trademark misuse (platform rules 2.3)."],
    "brand_images": ["The listing uses the rights holder's own product photographs without permission. "
                     "Unauthorized use of brand images (platform rules 2.4)."],
}


def removal_reason(rng, notice):
    options = REMOVED_REASONS[notice.reason_code]
    if notice.reason_code == "counterfeit":  # the first counterfeit ground is the brand's test purchase
        options = options[:1] if notice.test_buy_ref else options[1:]
    return rng.choice(options)


REJECTED_REASONS = [
    "The listing had already been taken down by the seller before review; there is nothing to remove.",
    "The item is a genuine second-hand product; reselling genuine goods does not infringe the mark.",
    "The evidence does not show the mark on the goods or in the listing; file again with screenshots of the "
    "infringing use.",
    "The listing sells a compatible accessory and names the brand only to describe what it fits.",
    "The URL leads to a shop page, not a single listing; give the listing's own URL.",
]
INFO_REQUESTS = [
    "Please give the test-purchase order number and photos of the product received.",
    "Please explain which features of the product show it is not genuine.",
    "Please send the registration certificate of the mark relied on, or its CNIPA record.",
]
INFO_ANSWERS = [
    "Test purchase order {ref} placed last week; photos of the hologram, stitching and serial label are in the "
    "case file shared with the partnership contact.",
    "The serial number format and the font of the logo differ from genuine products; our comparison sheet is "
    "with your enforcement mailbox.",
    "The CNIPA registration record is public under the number in the notice; the certificate was sent to the "
    "partnership contact today.",
]
WITHDRAWN_REASONS = ["The listing went offline before we could give the information; withdrawn."]
COUNTER_NOTICES = [
    "The seller states the goods are genuine, bought from an authorized distributor, and provided an invoice.",
    "The seller states the product is unbranded and the mark appeared only in the search keywords.",
    "The seller claims a parallel import of genuine goods from Europe, with customs papers.",
]
UPHELD_REASONS = [
    "The invoice does not come from an authorized distributor and the serial numbers do not match; the removal "
    "stands.",
    "The product photos still show the mark on the goods; the listing stays down.",
]
REINSTATED_REASONS = [
    "The seller's invoice from an authorized distributor checks out with the rights holder's records; the "
    "listing is restored.",
    "The seller removed the mark from the title and images; the listing is restored without them.",
]


def _weighted(rng, weights):
    choices = list(weights)
    return rng.choices(choices, weights=[weights[c] for c in choices])[0]


def _business_before(calendar, end, duration):
    """The latest moment from which `duration` of the calendar's working time has passed by `end`."""
    low, high = end - timedelta(days=60), end
    for _ in range(40):
        middle = low + (high - low) / 2
        if calendar.elapsed(middle, end) >= duration:
            low = middle
        else:
            high = middle
    return low.replace(microsecond=0)


class History:
    """Twelve weeks of notices played forward in time order: every filing and every move is an event on one
    time line, so each filing's good-faith score sees only the decisions made before it."""

    def __init__(self, orgs, users, partnerships, now, seed=HISTORY_SEED):
        self.orgs, self.users, self.partnerships, self.now = orgs, users, partnerships, now
        self.platform = orgs[PLATFORM[0]]
        self.seed = seed
        self.rng = random.Random(seed)  # the plan (when each notice is filed); each notice has its own below
        self.events = []
        self.sequence = itertools.count()
        self.used_urls = set()
        self.sellers = {slug: self._seller_pool(slug) for slug, _, _ in MARKETPLACES}
        # Alibaba's analyst works most of the queue; its admin takes some notices.
        self.platform_people = [users[f"analyst@{PLATFORM[0]}.example"]] * 3 + [users[f"admin@{PLATFORM[0]}.example"]]

    # --- the time line ---

    def at(self, moment, action, *args):
        moment = moment.replace(microsecond=0)  # whole seconds (a target times a random share rarely is)
        heapq.heappush(self.events, (moment, next(self.sequence), action, args))

    def run(self):
        while self.events:
            moment, _, action, args = heapq.heappop(self.events)
            if moment > self.now:
                continue  # has not happened yet: the item stays where it is
            action(moment, *args)

    # --- listings ---

    def _seller_pool(self, marketplace):
        """A marketplace's infringing sellers; a few of them turn up again and again (repeat infringers)."""
        low, high = (1100000000, 1109999999) if marketplace == "aliexpress" else (2200000000, 2219999999)
        return [str(self.rng.randint(low, high)) for _ in range(80)]

    def _url(self, rng, marketplace):
        while True:
            if marketplace == "aliexpress":
                url = f"https://www.aliexpress.com/item/{rng.randint(1005005000000000, 1005007999999999)}.html"
            else:
                host = "item.taobao.com" if marketplace == "taobao" else "detail.tmall.com"
                url = f"https://{host}/item.htm?id={rng.randint(600000000000, 799999999999)}"
            if url not in self.used_urls:
                self.used_urls.add(url)
                return url

    def listings(self, rng, profile, marketplace, count):
        pool = self.sellers[marketplace]
        weights = [1 / (rank + 1) for rank in range(len(pool))]
        products, titles_en, titles_zh = rng.choice(profile.catalog)  # a notice is about one product line
        # AliExpress sells abroad in English; on Taobao and Tmall most titles are Chinese.
        templates = titles_en if marketplace == "aliexpress" else titles_zh + titles_en[:1]
        first = product = rng.choice(products)
        entries = []
        for row in range(1, count + 1):
            if rng.random() < 0.3:
                product = rng.choice(products)
            entries.append((row, {"url": self._url(rng, marketplace), "seller_id": rng.choices(pool, weights)[0],
                                  "title": rng.choice(templates).format(p=product)}))
        return entries, first

    # --- filing ---

    def plan_history(self, slug):
        """Notices of one brand over the weeks before the last OPEN_DAYS days, on its working days."""
        profile, brand = PROFILES[slug], self.orgs[slug]
        zone = ZoneInfo(brand.timezone)
        last = self.now - timedelta(days=OPEN_DAYS)
        for week in range(HISTORY_WEEKS, 0, -1):
            for number in range(self.rng.randint(*profile.per_week)):
                day = self._local_day(zone, self.now - timedelta(weeks=week, days=-self.rng.uniform(0, 7)))
                if day.weekday() >= 5 and self.rng.random() < 0.8:
                    day += timedelta(days=7 - day.weekday())  # filed on Monday rather than at the weekend
                local = datetime.combine(day, time(8, 30)) + timedelta(minutes=self.rng.randint(0, 10 * 60))
                filed_at = local.replace(tzinfo=zone).astimezone(ZoneInfo("UTC")).replace(tzinfo=None)
                if filed_at < last:
                    self.at(filed_at, self.file, slug, "history", self.notice_rng(slug, f"{week}/{number}"))

    @staticmethod
    def _local_day(zone, moment):
        return moment.replace(tzinfo=ZoneInfo("UTC")).astimezone(zone).date()

    def plan_open(self, slug):
        """Recent notices in the states a working queue has: timed back from now in the partnership's
        business time, so their clocks stand where the script says whatever day the demo is seeded."""
        partnership = self.partnerships[slug]
        terms = terms_in_force(partnership)
        calendar = terms.calendar()
        ack, action = (timedelta(minutes=m) for m in terms.targets(fast_lane=PROFILES[slug].earns_fast_lane))
        back = {"fresh": ack * 0.15, "near": ack * 0.85, "overdue": ack * 1.3, "in_progress": action * 0.6,
                "waiting": action * 0.7}
        for script in PROFILES[slug].open_notices:
            if script == "countered":
                filed_at = self.now - timedelta(days=9, hours=self.rng.randint(0, 8))
            else:
                filed_at = _business_before(calendar, self.now, back[script])
            self.at(filed_at, self.file, slug, script, self.notice_rng(slug, script))

    def notice_rng(self, slug, key):
        """A notice's own random stream: what it holds and what becomes of it do not depend on the order
        in which the time line happens to run (which shifts with the day of the week the demo is seeded)."""
        return random.Random(f"{self.seed}/{slug}/{key}")

    def file(self, moment, slug, script, rng):
        profile, brand = PROFILES[slug], self.orgs[slug]
        partnership = self.partnerships[slug]
        marketplace = _weighted(rng, profile.marketplaces)
        reason = _weighted(rng, profile.reasons)
        today = self._local_day(ZoneInfo(brand.timezone), moment)
        usable = [m for m in Mark.for_org(brand).where(Mark.status == "verified").order_by(Mark.id)
                  if not m.expires_on or m.expires_on >= today]
        local = [m for m in usable if "CN" in covered_countries(m.jurisdiction_list)]
        marks = rng.sample(local, k=min(len(local), rng.randint(1, 2))) if local else usable[:1]
        if rng.random() < 0.2:  # sometimes a home registration too: the filer confirms the jurisdiction warning
            marks = list({m.id: m for m in marks + [rng.choice(usable)]}.values())
        uncovered = any("CN" not in covered_countries(m.jurisdiction_list) for m in marks)
        size = rng.choice([rng.randint(1, 5)] * 6 + [rng.randint(6, 12)] * 3 + [rng.randint(13, 30)])
        if script != "history":
            size = rng.randint(3, 8)
        entries, product = self.listings(rng, profile, marketplace, size)
        words = sorted({m.word for m in marks})
        values = {"partnership": partnership.id, "marketplace": marketplace, "reason_code": reason,
                  "explanation": EXPLANATIONS[reason].format(brand=brand.name, marks=", ".join(words),
                                                             product=product),
                  "marks": [m.id for m in marks], "good_faith": True, "confirm_jurisdiction": uncovered,
                  "test_buy_ref": (f"TB-{moment:%Y%m}-{rng.randint(1000, 9999)}"
                                   if reason == "counterfeit" and rng.random() < 0.4 else "")}
        filer = self.users[rng.choice(profile.filers)]
        notice = file_notice(brand, values, entries, user=filer, now=moment).notice
        items = list(visible_items(brand).where(NoticeItem.notice == notice).order_by(NoticeItem.position))
        self.plan_items(slug, notice, items, script, rng)

    # --- what happens to the items ---

    def move(self, moment, item, org, to, reason, user):
        transition(item, org, to, reason=reason, user=user, now=moment)

    def plan_items(self, slug, notice, items, script, rng):
        profile = PROFILES[slug]
        terms = Terms.get_by_id(notice.terms_id)
        calendar = terms.calendar()
        ack_target, action_target = (timedelta(minutes=m) for m in terms.targets(notice.fast_lane))
        analyst = rng.choice(self.platform_people)
        brand_user = self.users[f"analyst@{slug}.example"]
        platform, brand = self.platform, self.orgs[slug]
        filed = notice.filed_at

        def business(share, target):
            return calendar.add(filed, target * share) + timedelta(seconds=rng.randint(0, 600))

        if script in ("fresh", "near", "overdue"):
            return  # nobody has looked at these yet
        late = script == "history" and rng.random() < profile.late
        if script == "history":  # most acknowledged well within the target, a few late
            ack_share = rng.uniform(1.05, 1.8) if late else rng.triangular(0.05, 0.8, 0.2)
        else:
            ack_share = 0.3
        ack_at = business(ack_share, ack_target)
        # A small notice is often decided as soon as it is opened: the decision acknowledges it (both recorded).
        direct = script == "history" and not late and len(items) <= 3 and rng.random() < 0.5
        if not direct:
            for item in items:
                self.at(ack_at, self.move, item, platform, "acknowledged", "", analyst)
        if script == "countered":
            removed_at = business(0.5, action_target)
            for item in items:
                self.at(removed_at, self.move, item, platform, "removed",
                        removal_reason(rng, notice), analyst)
            countered_at = self.now - timedelta(hours=rng.randint(6, 30))
            self.at(countered_at, self.move, items[0], platform, "counter_noticed", COUNTER_NOTICES[0], analyst)
            return
        if script == "in_progress":  # a third decided, the rest acknowledged with the action clock running
            decided_at = business(0.4, action_target)
            for item in items[:max(1, len(items) // 3)]:
                self.at(decided_at, self.move, item, platform, "removed",
                        removal_reason(rng, notice), analyst)
            return
        if script == "waiting":  # the platform asked for information; the brand has not answered yet
            asked_at = business(0.5, action_target)
            for item in items:
                self.at(asked_at, self.move, item, platform, "info_requested", INFO_REQUESTS[0], analyst)
            return

        # A notice played out in full: most listings removed, some rejected, some put on hold for information.
        quality = rng.choice([0.3, 0.6, 1, 1, 1, 1.5, 3])
        rejected = min(0.9, profile.rejected * quality)
        action_late = not direct and rng.random() < profile.late * 0.6
        info_items = set()
        if rng.random() < profile.info:
            info_items = {item.id for item in items if rng.random() < 0.7} or {items[0].id}
        info_request, answer = rng.choice(INFO_REQUESTS), rng.choice(INFO_ANSWERS)
        for position, item in enumerate(items):
            earliest = max(0.2, ack_share * ack_target / action_target)
            share = rng.uniform(1.02, 1.5) if action_late else rng.uniform(min(earliest, 0.9), 0.95)
            decided_at = ack_at if direct else max(business(share, action_target), ack_at + timedelta(minutes=5))
            decided_at += timedelta(minutes=2 * position)
            if item.id in info_items:
                self.at(decided_at, self.move, item, platform, "info_requested", info_request, analyst)
                answered_at = decided_at + timedelta(hours=rng.uniform(3, 72))
                if rng.random() < 0.12:
                    self.at(answered_at, self.move, item, brand, "withdrawn", WITHDRAWN_REASONS[0], brand_user)
                    continue
                self.at(answered_at, self.move, item, brand, "acknowledged",
                        answer.format(ref=notice.test_buy_ref or f"TB-{filed:%Y%m}-{rng.randint(1000, 9999)}"),
                        brand_user)
                decided_at = calendar.add(answered_at, action_target * rng.uniform(0.05, 0.3)) + timedelta(
                    minutes=2 * position)
                outcome = "rejected" if rng.random() < max(rejected, 0.2) else "removed"
            else:
                outcome = "rejected" if rng.random() < rejected else "removed"
            if outcome == "rejected":
                self.at(decided_at, self.move, item, platform, "rejected", rng.choice(REJECTED_REASONS), analyst)
                continue
            self.at(decided_at, self.move, item, platform, "removed",
                    removal_reason(rng, notice), analyst)
            if rng.random() < profile.counter:
                countered_at = decided_at + timedelta(days=rng.uniform(1, 12))
                self.at(countered_at, self.move, item, platform, "counter_noticed", rng.choice(COUNTER_NOTICES),
                        analyst)
                settled_at = countered_at + timedelta(days=rng.uniform(1, 6))
                if rng.random() < profile.reinstated:
                    self.at(settled_at, self.move, item, platform, "reinstated", rng.choice(REINSTATED_REASONS),
                            analyst)
                else:
                    self.at(settled_at, self.move, item, platform, "upheld", rng.choice(UPHELD_REASONS), analyst)


def seed_history(orgs, users, partnerships, now=None, seed=HISTORY_SEED):
    """Twelve weeks of notices up to `now` (default: this moment), then the SLA check. Returns counts."""
    now = (now or utcnow()).replace(microsecond=0)
    history = History(orgs, users, partnerships, now, seed)
    for slug in PROFILES:
        history.plan_history(slug)
        history.plan_open(slug)
    history.run()
    warnings, breaches = check_clocks(now=now)  # what the periodic task would find at this moment
    brands = {}
    for slug in PROFILES:
        items = visible_items(orgs[slug])
        brands[slug] = {"calendar": terms_in_force(partnerships[slug]).describe_calendar(),
                        "notices": visible_notices(orgs[slug]).count(), "items": items.count(),
                        "by_state": dict(items.select(NoticeItem.state, fn.COUNT(NoticeItem.id))
                                         .group_by(NoticeItem.state).order_by(NoticeItem.state).tuples()),
                        "fast_lane": score(partnerships[slug], now).fast_lane}
    return {"brands": brands, "sla_check": {"warnings": warnings, "breaches": breaches}}


# --- shared intelligence -----------------------------------------------------------------------------

def top_sellers(brand, marketplace, count):
    """The sellers most often named in `brand`'s notices on `marketplace`, most named first."""
    named = fn.COUNT(NoticeItem.id)
    query = (visible_items(brand).join(Marketplace, on=(NoticeItem.marketplace == Marketplace.id))
             .where((Marketplace.slug == marketplace) & (NoticeItem.seller_id != ""))
             .select(NoticeItem.seller_id, named).group_by(NoticeItem.seller_id)
             .order_by(named.desc(), NoticeItem.seller_id).limit(count))
    return [seller_id for seller_id, _ in query.tuples()]


def seed_intel(orgs, users, now):
    """Flags on sellers from the history, under each sharing level, with a sighting and linked sellers:
    - Louis Vuitton flags its worst Taobao seller to the whole alliance (TLP:GREEN, with notices and
      identifiers), Swarovski adds a sighting;
    - Swarovski flags an AliExpress store that shares the first one's storefront domain (a linked seller);
    - Microsoft shares a flag with Alibaba only (TLP:AMBER, a group whose members are not shown);
    - Louis Vuitton keeps an internal TLP:RED flag to itself;
    - Alibaba flags a repeat infringer to the alliance (TLP:CLEAR)."""
    lv, swarovski, microsoft, alibaba = (orgs[s] for s in ("louis-vuitton", "swarovski", "microsoft", PLATFORM[0]))
    lv_taobao = top_sellers(lv, "taobao", 2)
    worst = lv_taobao[0]
    lv_notices = [n.id for n in visible_notices(lv).join(NoticeItem).where(NoticeItem.seller_id == worst)
                  .distinct().order_by(Notice.id.desc()).limit(3)]
    shared = create_flag(lv, {
        "marketplace": "taobao", "seller_id": worst, "category": "counterfeit_confirmed", "confidence": "high",
        "tlp": "green", "distribution": "alliance", "display_name": "奢品汇 Luxury Outlet 88",
        "shop_url": f"https://shop{worst[-6:]}.taobao.com", "notices": lv_notices,
        "identifiers": {"email": "service@luxe-outlet88.example", "domain": "luxe-outlet88.example"},
        "notes": "Test buy of a Neverfull MM in October: counterfeit (stitching, date code, heat stamp). The shop "
                 "reopens under new ids; watch the storefront domain."},
        user=users["analyst@louis-vuitton.example"], now=now - timedelta(days=20))
    add_sighting(shared, swarovski, {"kind": "seen", "note": "Also sells fake Swan necklaces in the same shop.",
                                     "listing_url": f"https://item.taobao.com/item.htm?id={worst[-9:]}123"},
                 user=users["analyst@swarovski.example"], now=now - timedelta(days=9))
    create_flag(swarovski, {
        "marketplace": "aliexpress", "seller_id": top_sellers(swarovski, "aliexpress", 1)[0],
        "category": "suspected_counterfeit", "confidence": "medium", "tlp": "amber", "distribution": "alliance",
        "display_name": "Crystal Dreams Store", "identifiers": {"domain": "luxe-outlet88.example"},
        "notes": "Storefront links to the same outside shop as Louis Vuitton's Taobao flag."},
        user=users["analyst@swarovski.example"], now=now - timedelta(days=8))
    create_flag(microsoft, {
        "marketplace": "aliexpress", "seller_id": top_sellers(microsoft, "aliexpress", 1)[0],
        "category": "counterfeit_confirmed", "confidence": "high", "tlp": "amber", "distribution": "group",
        "share_with": [alibaba.slug], "display_name": "Key Paradise Store",
        "identifiers": {"payment": "keyparadise@pay.example"},
        "notes": "Test buys of 'lifetime' Windows 11 Pro keys: volume keys resold, blocked within weeks."},
        user=users["analyst@microsoft.example"], now=now - timedelta(days=6))
    create_flag(lv, {
        "marketplace": "taobao", "seller_id": lv_taobao[1], "category": "suspected_counterfeit",
        "confidence": "low", "tlp": "red", "distribution": "own",
        "notes": "Internal: part of a customs referral; do not share until the raid."},
        user=users["admin@louis-vuitton.example"], now=now - timedelta(days=3))
    repeat = (Seller.select().where(Seller.repeat_infringer_at.is_null(False)).order_by(Seller.repeat_infringer_at)
              .first())
    if repeat is not None:
        marketplace = Marketplace.get_by_id(repeat.marketplace_id)
        create_flag(alibaba, {
            "marketplace": marketplace.slug, "seller_id": repeat.external_id, "category": "repeat_infringer",
            "confidence": "high", "tlp": "clear", "distribution": "alliance",
            "notes": "Four upheld counterfeit removals within a year; the store is closed under our policy."},
            user=users[f"analyst@{PLATFORM[0]}.example"], now=now - timedelta(days=1))
    seed_screening(lv, users["analyst@louis-vuitton.example"], now)
    return {"flags": Flag.select().count(), "sightings": Sighting.select().count(),
            "screenings": Screening.select().count(),
            "repeat_infringers": Seller.select().where(Seller.repeat_infringer_at.is_null(False)).count()}


# Listing titles as a crawler finds them: the mark disguised in every way counterfeiters use, a few
# honest listings, and one from the brand's authorized reseller.
SCREENING_TITLES = [
    ("L o u i s  V u i t t o n Neverfull MM 1:1 mirror quality", "2207000101", "388.00"),
    ("LV Speedy 30 replica AAA grade with dust bag", "2207000102", "260.00"),
    ("L0uis Vu1tt0n Keepall 55 original leather top copy", "2207000103", "455.00"),
    ("Lоuis Vuіttоn Alma BB (Type A) 高仿", "2207000104", "199.00"),
    ("L.O.U.I.S-V.U.I.T.T.O.N monogram scarf inspired", "2207000105", "59.00"),
    ("Louis Vuitton Capucines MM, pre-owned, receipt included", "2207000106", "2899.00"),
    ("Genuine leather tote bag, unbranded", "2207000107", "45.00"),
    ("Louis Vuitton Twist chain bag, new season", "2200000001", "3650.00"),
]


def seed_screening(lv, user, now):
    """Louis Vuitton's authorized reseller, and a screened batch of crawled Taobao listings with hits."""
    add_authorized_seller(lv, "taobao", "2200000001", "Authorized retailer (Shanghai flagship reseller)", user=user,
                          now=now - timedelta(days=30))
    entries = [(row, {"title": title, "seller_id": seller, "price": price,
                      "url": f"https://item.taobao.com/item.htm?id=7990000{row:05d}"})
               for row, (title, seller, price) in enumerate(SCREENING_TITLES, start=1)]
    screen_listings(lv, entries, default_marketplace="taobao", source="upload", filename="crawl-taobao.csv",
                    user=user, now=now - timedelta(hours=5))
