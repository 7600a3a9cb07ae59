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

    result = {"password": password, "logins": logins}
    path = logins_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2))
    path.chmod(0o600)
    return {"seeded": True, **result}
