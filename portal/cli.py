"""Command-line interface: `flask --app wsgi <group> <command>`. Every command prints JSON on stdout.

On success the JSON describes what was done; on bad input it is `{"error": ..., "errors": {field: [...]}}`
and the exit status is 1, so scripts can rely on both. Changes are audited as `cli:<os user>`.
"""
import functools
import getpass
import json
import os
import sys

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from portal import audit
from portal import db as database
from portal.accounts import services
from portal.errors import NotFound, ServiceError


def emit(data):
    click.echo(json.dumps(data, indent=2, default=str))


def json_command(func):
    """Run as `cli:<os user>` and turn refused input into a JSON error and exit status 1."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            with audit.acting_as(f"cli:{getpass.getuser()}"):
                return func(*args, **kwargs)
        except ServiceError as error:
            emit({"error": error.message, "errors": error.errors})
            sys.exit(1)
        except NotFound as error:
            emit({"error": error.description})
            sys.exit(1)
    return wrapper


db_cli = AppGroup("db", help="Database schema and maintenance.")
audit_cli = AppGroup("audit", help="The hash-chained audit log.")
org_cli = AppGroup("org", help="Organizations (brands and platforms).")
marketplace_cli = AppGroup("marketplace", help="Marketplaces run by platform organizations.")
user_cli = AppGroup("user", help="Users and their memberships.")
client_cli = AppGroup("client", help="OAuth clients (API integrations).")
partnership_cli = AppGroup("partnership", help="Partnerships between brands and platforms.")
marks_cli = AppGroup("marks", help="The marks registry.")
notices_cli = AppGroup("notices", help="Takedown notices and their SLA clocks.")
intel_cli = AppGroup("intel", help="Flagged-seller intelligence, strikes and listing screening.")
reports_cli = AppGroup("reports", help="Weekly enforcement reports and their snapshots.")


@db_cli.command("upgrade")
def db_upgrade():
    """Apply pending migrations from migrations/."""
    emit({"applied": database.upgrade()})


@db_cli.command("status")
def db_status():
    """List every migration and when it was applied."""
    rows = database.status()
    emit({"migrations": [{"name": name, "applied_at": applied} for name, applied in rows],
          "pending": [name for name, applied in rows if applied is None]})


@db_cli.command("backup")
@click.argument("path")  # checked by the command, so that every refusal is JSON
@click.option("--force", is_flag=True, help="Replace PATH if it exists.")
@json_command
def db_backup(path, force):
    """Write a consistent backup of the database to PATH while the portal keeps running.

    SQLite: an online copy through SQLite's backup API (one file, integrity-checked). PostgreSQL: pg_dump
    --format=custom (restore it with pg_restore). Prints the path, size, SHA-256, the last migration, row
    counts and the audit head as they are in the backup. The file appears at PATH only once complete."""
    from portal.backups import BackupRefused, backup

    try:
        emit(backup(current_app.config["DATABASE_URL"], path, force=force))
    except BackupRefused as refused:
        emit({"error": refused.message, **refused.extra})
        sys.exit(1)


@db_cli.command("restore")
@click.argument("path")
@click.option("--force", is_flag=True,
              help="Replace a database that holds data (it is kept beside it as <name>.replaced-<time>).")
@json_command
def db_restore(path, force):
    """Replace the SQLite database with the backup at PATH. Stop the portal (web and worker) first.

    The backup must pass SQLite's integrity check and be a portal database at a migration this version
    knows; the database file is replaced in one rename. A database holding data is replaced only with
    --force. PostgreSQL: restore with pg_restore into an empty database; this command prints the exact
    pg_restore command (pg_restore --no-owner --no-privileges --exit-on-error --single-transaction
    --dbname=DATABASE_URL PATH)."""
    from portal.backups import BackupRefused, restore

    try:
        result = restore(current_app.config["DATABASE_URL"], path, force=force)
    except BackupRefused as refused:
        emit({"error": refused.message, **refused.extra})
        sys.exit(1)
    with database.db.connection_context():
        result["audit"] = audit.verify_chain().as_dict()
    emit(result)


@audit_cli.command("verify")
def audit_verify():
    """Check the whole hash chain; exit 1 and name the first bad sequence number when it is broken."""
    report = audit.verify_chain()
    emit(report.as_dict())
    if not report.ok:
        sys.exit(1)


@org_cli.command("create")
@click.option("--name", required=True)
@click.option("--kind", required=True, type=click.Choice(["brand", "platform"]))
@click.option("--slug", default=None, help="Defaults to the name in lower case with dashes.")
@click.option("--timezone", default="UTC", show_default=True, help="IANA time zone, e.g. Europe/Paris.")
@json_command
def org_create(name, kind, slug, timezone):
    emit(services.create_organization(name, kind, slug=slug, timezone=timezone).as_dict())


@marketplace_cli.command("create")
@click.option("--org", "org_slug", required=True, help="Slug of the platform organization.")
@click.option("--name", required=True)
@click.option("--slug", default=None)
@click.option("--country", default=None, help="ISO 3166 two-letter code of the market, e.g. CN.")
@json_command
def marketplace_create(org_slug, name, slug, country):
    org = services.get_organization(org_slug)
    emit(services.create_marketplace(org, name, slug=slug, country=country).as_dict())


@user_cli.command("create")
@click.option("--email", required=True)
@click.option("--org", "org_slug", required=True)
@click.option("--role", required=True, type=click.Choice(["admin", "analyst", "viewer"]))
@click.option("--name", default="", help="Display name; defaults to the part of the email before @.")
@json_command
def user_create(email, org_slug, role, name):
    """Create a user with a role in an org; an existing user just gains the membership.

    The password of a new user comes from PORTAL_PASSWORD, or is prompted for (on stderr).
    """
    org = services.get_organization(org_slug)
    password = None
    if services.find_user(email) is None:
        password = os.environ.get("PORTAL_PASSWORD") or click.prompt(
            "Password", hide_input=True, confirmation_prompt=True, err=True)
    membership, created = services.add_member(org, email, role, password=password, name=name)
    emit({"user": membership.user.as_dict(), "created": created, "membership": membership.as_dict()})


@user_cli.command("reset-two-factor")
@click.argument("email")
@json_command
def user_reset_two_factor(email):
    """Turn off a user's two-factor authentication (a lost phone and lost recovery codes, or a SECRET_KEY
    change that made the keys unreadable); they sign in with their password and set it up again.
    Audited in each of the user's organizations."""
    from portal.accounts import two_factor

    user = services.find_user(email)
    if user is None:
        raise NotFound(f"No user with email '{email}'.")
    two_factor.reset_by_operator(user)
    emit({"user": user.as_dict(), "two_factor": False,
          "must_set_up_again_for": [org.slug for org in two_factor.orgs_requiring(user)]})


@client_cli.command("create")
@click.option("--org", "org_slug", required=True, help="Slug of the organization the client acts for.")
@click.option("--name", required=True)
@click.option("--scope", required=True, help='Space separated, e.g. "marks:read reports:read".')
@click.option("--public", is_flag=True, help="An app without a secret (authorization code + PKCE only).")
@click.option("--redirect-uri", "redirect_uris", multiple=True, help="Exact redirect URI; repeatable.")
@json_command
def client_create(org_slug, name, scope, public, redirect_uris):
    """Register an OAuth client. The secret is printed once and stored only as a hash."""
    from portal.oauth.services import create_client

    org = services.get_organization(org_slug)
    client, secret = create_client(org, name, scope, public=public, redirect_uris=redirect_uris)
    emit(dict(client.as_dict(), client_secret=secret))


def partnership_json(partnership, now=None):
    """A partnership with its terms in force, their calendar in words, and the brand's good-faith score."""
    from portal.notices.goodfaith import score
    from portal.partnerships.services import terms_in_force

    terms = terms_in_force(partnership)
    return dict(partnership.as_dict(), terms=terms.as_dict() if terms else None,
                calendar=terms.describe_calendar() if terms else None,
                good_faith=score(partnership, now).as_dict())


@partnership_cli.command("create")
@click.option("--brand", "brand_slug", required=True)
@click.option("--platform", "platform_slug", required=True)
@click.option("--effective-from", default=None, help="First day of the terms (YYYY-MM-DD); default today.")
@click.option("--marketplace", "marketplaces", multiple=True,
              help="Slug of a marketplace covered; repeatable. Default: all of the platform's.")
@click.option("--always-open", is_flag=True, help="SLA targets count around the clock (24/7).")
@click.option("--timezone", default=None, help="IANA time zone of the SLA calendar; default the platform's.")
@click.option("--working-days", default=None, help='Working days, e.g. "mon-fri" (the default) or "mon,wed,fri".')
@click.option("--opens", default=None, help="Working hours start, HH:MM (default 09:00).")
@click.option("--closes", default=None, help="Working hours end, HH:MM (default 17:00).")
@click.option("--holiday", "holidays", multiple=True, help="A closed day, YYYY-MM-DD; repeatable.")
@click.option("--ack-minutes", default=None, help="Target to acknowledge a listing, in business minutes.")
@click.option("--action-minutes", default=None, help="Target to act on a listing, in business minutes.")
@click.option("--fast-ack-minutes", default=None, help="Fast-lane acknowledge target, in business minutes.")
@click.option("--fast-action-minutes", default=None, help="Fast-lane action target, in business minutes.")
@json_command
def partnership_create(brand_slug, platform_slug, marketplaces, always_open, holidays, **terms):
    """An active partnership with its terms in force at once: the platform's analysts then see and verify
    the brand's marks, and the brand can file notices. Terms not given take the defaults (business hours
    in the platform's time zone, 24 h to acknowledge and 72 h to act)."""
    from portal.partnerships.services import create_partnership

    brand, platform = services.get_organization(brand_slug), services.get_organization(platform_slug)
    values = {name: value for name, value in terms.items() if value is not None}
    if marketplaces:
        values["marketplaces"] = list(marketplaces)
    if holidays:
        values["holidays"] = list(holidays)
    if always_open:
        values["always_open"] = True
    emit(partnership_json(create_partnership(brand, platform, values)))


@partnership_cli.command("list")
@click.option("--org", "org_slug", default=None, help="Only the partnerships of this brand or platform.")
@click.option("--status", default=None, type=click.Choice(["proposed", "active", "suspended", "ended"]))
@json_command
def partnership_list(org_slug, status):
    """Partnerships with their terms in force, SLA calendar and the brand's good-faith score (fast lane)."""
    from portal.partnerships.models import Partnership
    from portal.partnerships.services import partnerships_of

    query = partnerships_of(services.get_organization(org_slug)) if org_slug else Partnership.select()
    if status:
        query = query.where(Partnership.status == status)
    emit({"partnerships": [partnership_json(p) for p in query.order_by(Partnership.id)]})


@marks_cli.command("import")
@click.option("--org", "org_slug", required=True, help="Slug of the brand.")
@click.option("--dry-run", is_flag=True, help="Only report what would happen.")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@json_command
def marks_import(org_slug, dry_run, path):
    """Import a CSV or XLSX trademark list (the same service as the upload page), here and now."""
    run_import(org_slug, dry_run, path, "marks")


def run_import(org_slug, dry_run, path, kind):
    """A bulk upload of `kind` through the import service, run here; prints the job, what its rows do
    (the consequences, and the first updated rows field by field) and its first errors."""
    from portal.imports import report as import_report
    from portal.imports.runner import job_status, row_errors
    from portal.imports.service import start_import

    org = services.get_organization(org_slug)
    with open(path, "rb") as handle:
        job = start_import(org, handle, os.path.basename(path), kind, dry_run=dry_run, run_inline=True)
    emit(dict(job_status(job), summary=import_report.consequence_summary(job),
              updated_rows=[import_report.row_as_dict(kind, row) for row in import_report.rows_page(job, "updates")],
              consequence_rows=[import_report.row_as_dict(kind, row)
                                for row in import_report.rows_page(job, "consequences")],
              error_rows=[e.as_dict() for e in row_errors(job).limit(100)]))
    if job.status == "failed":
        sys.exit(1)


@marks_cli.command("expire")
@json_command
def marks_expire():
    """Mark every mark past its expiry date expired now (the worker does this hourly)."""
    from portal.marks.services import expire_marks

    emit({"expired": expire_marks()})


@notices_cli.command("check-sla")
@json_command
def notices_check_sla():
    """Emit sla.warning and sla.breached for clocks due by now, once each (the worker does this every
    minute); prints how many of each this run emitted."""
    from portal.sla.clocks import check_clocks

    warnings, breaches = check_clocks()
    emit({"warnings": warnings, "breaches": breaches})


@intel_cli.command("import")
@click.option("--org", "org_slug", required=True, help="Slug of the flagging organization.")
@click.option("--dry-run", is_flag=True, help="Only report what would happen.")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@json_command
def intel_import(org_slug, dry_run, path):
    """Flag sellers from a CSV or XLSX file (the same import service as the bulk flag page), here and now."""
    run_import(org_slug, dry_run, path, "flags")


@intel_cli.command("rebuild-strikes")
@json_command
def intel_rebuild_strikes():
    """Replay every upheld counterfeit removal into strikes and repeat-infringer marks (once after upgrading
    to a version with strikes, or to repair them); running it again changes nothing."""
    from portal.intel.models import Seller, Strike
    from portal.intel.strikes import rebuild_all

    looked_at = rebuild_all()
    emit({"notice_sellers": looked_at, "strikes": Strike.select().where(Strike.voided_at.is_null()).count(),
          "repeat_infringers": Seller.select().where(Seller.repeat_infringer_at.is_null(False)).count()})


@reports_cli.command("snapshot")
@json_command
def reports_snapshot():
    """Take the snapshot of every closed week in each org's trend window (the 12 weeks before its current
    one) that has none, oldest first (the worker does this every 15 minutes); prints how many were taken."""
    from portal.reports.services import snapshot_closed_weeks

    emit({"taken": snapshot_closed_weeks()})


@reports_cli.command("show")
@click.option("--org", "org_slug", required=True, help="Slug of the organization.")
@click.option("--week", default="", help="ISO week such as 2026-W46; default: the last closed week.")
@click.option("--format", "output", type=click.Choice(["json", "csv"]), default="json")
@json_command
def reports_show(org_slug, week, output):
    """Print an org's weekly report: the JSON the API serves, or its CSV."""
    from portal.csvutil import csv_lines
    from portal.reports.services import CSV_HEADER, csv_rows, weekly_report

    report = weekly_report(services.get_organization(org_slug), week or None)
    if output == "csv":
        click.echo("".join(csv_lines(CSV_HEADER, csv_rows(report.data))), nl=False)
    else:
        click.echo(report.body)


@click.command("demo")
@with_appcontext
def demo():
    """Seed the demo alliance on an empty database (does nothing on a database that has data): orgs, users,
    marks, partnerships with Alibaba and twelve weeks of notice history up to now."""
    from portal.demo import seed_demo

    try:
        with audit.acting_as("demo"):
            emit(seed_demo())
    except ServiceError as error:  # a DEMO_PASSWORD the password policy refuses: nothing was seeded
        emit({"error": error.message, "errors": error.errors})
        sys.exit(1)


def register_commands(app):
    for command in (db_cli, audit_cli, org_cli, marketplace_cli, user_cli, client_cli, partnership_cli, marks_cli,
                    notices_cli, intel_cli, reports_cli, demo):
        app.cli.add_command(command)
