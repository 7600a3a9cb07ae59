"""Test fixtures: a real database (SQLite file, or the PostgreSQL named by DATABASE_URL), built by the
migrations, emptied between tests; the app with CSRF on; helpers that sign in like a browser does."""
import html
import io
import logging
import os
import re
import shutil
import tempfile
import threading
from pathlib import Path
from urllib.parse import urlparse

# Before anything imports the portal: tasks run inline, password hashing is the cheap argon2id profile.
os.environ["HUEY_IMMEDIATE"] = "1"
os.environ["PASSWORD_HASHING"] = "test"
os.environ.setdefault("INSTANCE_PATH", tempfile.mkdtemp(prefix="portal-test-instance-"))

import pytest  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402
from peewee import sort_models  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from portal import create_app  # noqa: E402
from portal.accounts import services  # noqa: E402
from portal.audit import GENESIS_HASH, AuditHead, acting_as  # noqa: E402
from portal.db import db, is_postgresql  # noqa: E402
from portal.extensions import limiter  # noqa: E402
from portal.models import ALL_MODELS  # noqa: E402

PASSWORD = "correct horse battery staple"
CSRF_PATTERN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def database_url_for_tests(tmp_path_factory):
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        name = urlparse(url).path.lstrip("/")
        if "test" not in name:
            raise pytest.UsageError(f"refusing to run tests against database {name!r}: the tests empty it. "
                                    "Use a database whose name contains 'test'.")
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'portal-test.db'}"


def drop_everything():
    """Start from an empty database, as a fresh install would."""
    if is_postgresql():
        db.execute_sql("DROP SCHEMA public CASCADE")
        db.execute_sql("CREATE SCHEMA public")
    else:
        for table in db.get_tables():
            db.execute_sql(f'DROP TABLE IF EXISTS "{table}"')


def empty_all_tables():
    # DELETE, children first, rather than TRUNCATE: on a handful of rows it is many times faster on
    # PostgreSQL. Ids keep counting up across tests; no test may depend on them.
    with db.atomic():
        for model in reversed(sort_models(ALL_MODELS)):
            if model is not AuditHead:
                model.delete().execute()
        AuditHead.update(seq=0, hash=GENESIS_HASH).where(AuditHead.id == 1).execute()


def count_queries(call):
    """(result of call(), number of SQL statements peewee ran meanwhile): for N+1 checks."""
    class Counter(logging.Handler):
        seen = 0

        def emit(self, record):
            Counter.seen += 1
    logger, counter = logging.getLogger("peewee"), Counter()
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(counter)
    try:
        return call(), Counter.seen
    finally:
        logger.removeHandler(counter)
        logger.setLevel(level)


def page_text(response):
    """The response body as a reader sees it (HTML entities decoded)."""
    return html.unescape(response.get_data(as_text=True))


class PortalClient(FlaskClient):
    """A test client that sends forms the way the browser does: with the CSRF token of its session."""

    def csrf_token(self):
        # The sign-in page when signed out; the dashboard or org chooser (both carry forms) when signed in.
        page = self.get("/login", follow_redirects=True)
        match = CSRF_PATTERN.search(page.get_data(as_text=True))
        assert match, "no CSRF token on the page"
        return match.group(1)

    def post_form(self, url, data=None, csrf=True, **kwargs):
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf_token", self.csrf_token())
        return self.post(url, data=data, **kwargs)

    def sign_in(self, email, password=PASSWORD, org=None):
        response = self.post_form("/login", {"email": email, "password": password})
        if org is not None:
            response = self.post_form("/choose-org", {"org_id": str(org.id)})
        return response


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    url = database_url_for_tests(tmp_path_factory)
    app = create_app({"DATABASE_URL": url, "TESTING": True,
                      "INSTANCE_PATH": str(tmp_path_factory.mktemp("instance"))})
    app.test_client_class = PortalClient
    with app.app_context():
        drop_everything()
        result = app.test_cli_runner().invoke(args=["db", "upgrade"])
        assert result.exit_code == 0, result.output
    return app


@pytest.fixture(autouse=True)
def clean_state(app):
    with app.app_context():
        empty_all_tables()
    limiter.reset()
    yield


@pytest.fixture(scope="session")
def live_server(app):
    """The app on a real local HTTP server (threaded), for the browser and concurrency tests."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_client(app):
    return app.test_client


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class World:
    """Builds orgs and people through the real services, as the CLI would.

    No app context is held open here on purpose: a test client request reuses an outer app context, and
    with it `g` (where Flask-Login caches the user), which would leak one request's user into the next.
    """

    def org(self, name, kind="brand", timezone="UTC", slug=None):
        with acting_as("test"):
            return services.create_organization(name, kind, slug=slug, timezone=timezone)

    def person(self, org, role, email=None, password=PASSWORD):
        email = email or f"{role}-{org.slug}@{org.slug}.example"
        with acting_as("test"):
            membership, _ = services.add_member(org, email, role, password=password)
        return membership.user

    def marketplace(self, org, name, country="CN"):
        with acting_as("test"):
            return services.create_marketplace(org, name, country=country)

    def __init__(self, app):
        self.app = app

    def upload(self, org, content, filename="marks.csv", dry_run=False):
        """Run a marks import of `content` (bytes or text) through the import service, as `test`."""
        from portal.imports.service import start_import
        data = content.encode("utf-8") if isinstance(content, str) else content
        with self.app.app_context(), acting_as("test"):
            return start_import(org, io.BytesIO(data), filename, "marks", dry_run=dry_run)

    def mark(self, org, word="XBOX", office="USPTO", number="2345678", classes="9", **more):
        from portal.marks.services import create_mark
        with acting_as("test"):
            return create_mark(org, dict(word=word, office=office, registration_number=number,
                                         nice_classes=classes, **more))[0]

    def partnership(self, brand, platform, **terms):
        """An active partnership with default terms (changed by `terms`); the platform gets a marketplace
        first if it has none, since terms cover at least one."""
        from portal.accounts.models import Marketplace
        from portal.partnerships.services import create_partnership
        if not Marketplace.for_org(platform).exists():
            self.marketplace(platform, f"{platform.name} Market")
        with acting_as("test"):
            return create_partnership(brand, platform, terms)

    def verified_mark(self, brand, platform, word="XBOX", office="CNIPA", number="12345678", **more):
        """A mark of `brand` verified by `platform` (a CNIPA mark covers China, where the default
        marketplace of `marketplace()` is)."""
        from portal.marks.services import review_mark
        mark = self.mark(brand, word=word, office=office, number=number, **more)
        with self.app.app_context(), acting_as("test"):
            return review_mark(mark, platform, None, "verify")

    def notice(self, brand, partnership, urls, marks=None, now=None, evidence=(), **values):
        """File a notice of `urls` under `partnership` through the filing service, as `test`."""
        from portal.accounts.models import Marketplace
        from portal.notices.services import file_notice
        from portal.partnerships.services import terms_in_force
        terms = terms_in_force(partnership)
        if marks is None:
            from portal.marks.models import Mark
            number = str(20000000 + Mark.for_org(brand).count())  # a new number each call
            marks = [self.verified_mark(brand, partnership.platform, number=number)]
        fields = dict(partnership=partnership.id, marketplace=terms.marketplace_slugs[0], reason_code="counterfeit",
                      explanation="Counterfeit goods sold under our registered mark.", good_faith=True,
                      marks=[m.id for m in marks])
        fields.update(values)
        # A listing is a URL, or (URL, seller id).
        entries = [(n, {"url": url} if isinstance(url, str) else {"url": url[0], "seller_id": url[1]})
                   for n, url in enumerate(urls, start=1)]
        with self.app.app_context(), acting_as("test"):
            return file_notice(brand, fields, entries, evidence, now=now)


    def flag(self, org, seller_id, marketplace, tlp="green", distribution="alliance", share_with=(), **values):
        """Flag a seller for `org` through the intel service, as `test`."""
        from portal.intel.services import create_flag
        fields = dict(marketplace=getattr(marketplace, "slug", marketplace), seller_id=seller_id,
                      category="suspected_counterfeit", confidence="medium", tlp=tlp, distribution=distribution,
                      share_with=[getattr(o, "slug", o) for o in share_with])
        fields.update(values)
        with self.app.app_context(), acting_as("test"):
            return create_flag(org, fields)


@pytest.fixture
def world(app):
    return World(app)


@pytest.fixture
def admin(make_client, world):
    """A test client signed in as the admin of a new brand, Microsoft; returns (client, org)."""
    org = world.org("Microsoft")
    user = world.person(org, "admin")
    client = make_client()
    client.sign_in(user.email)
    return client, org


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Lets fixtures see whether the test failed (the browser tests save screenshots then)."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.test_failed = report.failed


# --- the browser (headless Chromium driven by Playwright), shared by every browser test file ---------------

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
# Flags that keep Chromium from reaching for Google services on a machine with no internet.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


def browser_unavailable():
    if not os.path.exists(CHROMIUM):
        return f"Chromium not found at {CHROMIUM}"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed"
    return None


@pytest.fixture(scope="session")
def chromium():
    reason = browser_unavailable()
    if reason:
        if os.environ.get("PORTAL_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser tests are required here: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def record_console(message, errors):
    # Chromium logs every 4xx response as "Failed to load resource". A page answered 401 or 422 on
    # purpose (failed sign-in, refused form) is not a fault; failed assets are caught by status below.
    if message.type == "error" and not message.text.startswith("Failed to load resource"):
        errors.append(message.text)


def record_failed_asset(response, errors):
    if response.status >= 400 and response.request.resource_type != "document":
        errors.append(f"{response.status} for {response.url}")


@pytest.fixture
def open_page(chromium, live_server, request):
    """Pages in fresh browser contexts (separate cookie jars); script errors and failed assets fail the test."""
    contexts, console_errors = [], []

    def open_new():
        context = chromium.new_context(base_url=live_server)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10000)
        page.on("console", lambda msg: record_console(msg, console_errors))
        page.on("pageerror", lambda error: console_errors.append(str(error)))
        page.on("response", lambda response: record_failed_asset(response, console_errors))
        return page

    yield open_new
    if getattr(request.node, "test_failed", False):
        ARTIFACTS.mkdir(exist_ok=True)
        for n, context in enumerate(contexts):
            for m, page in enumerate(context.pages):
                page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-{n}-{m}.png"), full_page=True)
    for context in contexts:
        context.close()
    assert console_errors == [], f"console errors: {console_errors}"
