"""Demo data: the alliance of the seed documents (Microsoft, Louis Vuitton, Swarovski and Alibaba).

All demo users share one password: DEMO_PASSWORD when set, otherwise a random one generated at seeding
and kept in instance/demo-logins.json (never in the repository) so `make run` can print it every time.
"""
import json
import os
import secrets
from pathlib import Path

from flask import current_app

from portal.accounts import services
from portal.accounts.models import Organization
from portal.db import db

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
                  ("WINDOWS", "CNIPA", "1011588", "9", "1997-05-28", "2027-05-27", "")],
    "louis-vuitton": [("LOUIS VUITTON", "EUIPO", "15123456", "18;25", "2016-02-03", "2026-02-03", ""),
                      ("LV", "WIPO", "1234567", "18;25;35", "2014-07-10", "2034-07-10", "CN;JP;KR"),
                      ("LOUIS VUITTON", "CNIPA", "8123456", "18", "2011-04-14", "2031-04-13", "")],
    "swarovski": [("SWAROVSKI", "EUIPO", "18123456", "14;21", "2019-03-14", "2029-03-14", ""),
                  ("SWAROVSKI", "UKIPO", "3123456", "14", "2015-08-21", "2025-08-21", "")],
}


def seed_marks(orgs):
    """Each brand's marks, and partnerships with Alibaba so its analysts have a verification queue."""
    from portal.marks.services import create_mark
    from portal.partnerships.services import create_partnership

    fields = ("word", "office", "registration_number", "nice_classes", "registered_on", "expires_on",
              "jurisdictions")
    for slug, marks in DEMO_MARKS.items():
        create_partnership(orgs[slug], orgs[PLATFORM[0]])
        for values in marks:
            create_mark(orgs[slug], dict(zip(fields, values)))


def seed_demo():
    if Organization.select().exists():
        return {"seeded": False, "reason": "the database already has organizations",
                **(saved_logins() or {})}
    password = os.environ.get("DEMO_PASSWORD") or secrets.token_urlsafe(12)
    logins = []

    def member(org, email, role, name=None):
        services.add_member(org, email, role, password=password, name=name or f"{org.name} {role}")
        logins.append({"email": email, "org": org.slug, "role": role})

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
        seed_marks(orgs)

    result = {"password": password, "logins": logins}
    path = logins_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2))
    path.chmod(0o600)
    return {"seeded": True, **result}
