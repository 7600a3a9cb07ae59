"""Pages, error pages, headers and the operational endpoints."""
from datetime import timedelta

import pytest
from peewee import SqliteDatabase

from portal.accounts import tasks
from portal.accounts.models import UserSession
from portal.db import db
from portal.timeutil import utcnow
from tests.conftest import page_text


def signed_in(make_client, world, kind="brand", role="admin", timezone="UTC"):
    org = world.org("Alibaba Group" if kind == "platform" else "Microsoft", kind=kind, timezone=timezone)
    user = world.person(org, role)
    client = make_client()
    client.sign_in(user.email)
    return client, org, user


def test_login_page_is_served_with_its_assets(client):
    page = client.get("/login")
    assert page.status_code == 200
    text = page_text(page)
    assert '<label for="email">Email</label>' in text and '<label for="password">Password</label>' in text
    assert 'name="csrf_token"' in text
    for asset in ("/static/css/portal.css", "/static/js/portal.js"):
        assert asset in text
        assert client.get(asset).status_code == 200
    assert "http://" not in text.replace("http://localhost", "") and "https://" not in text  # no CDN


def test_brand_dashboard(make_client, world):
    client, org, user = signed_in(make_client, world, role="analyst")
    text = page_text(client.get("/"))
    assert "Brand workspace" in text and "<h1>Microsoft</h1>" in text
    assert "Recent activity" not in text  # the audit extract is for admins


def test_platform_dashboard_lists_its_marketplaces(make_client, world):
    client, org, user = signed_in(make_client, world, kind="platform")
    world.marketplace(org, "Taobao")
    world.marketplace(org, "AliExpress")
    text = page_text(client.get("/"))
    assert "Platform workspace" in text
    assert "Taobao" in text and "AliExpress" in text
    assert "Recent activity" in text and "added the marketplace AliExpress (CN)" in text  # in the trail's words


def test_times_are_shown_in_the_orgs_time_zone(make_client, world):
    client, org, user = signed_in(make_client, world, timezone="Asia/Shanghai")
    assert "CST" in page_text(client.get("/audit"))  # China Standard Time, not UTC
    assert "Times shown in Asia/Shanghai" in page_text(client.get("/"))


def test_navigation_shows_org_and_role(make_client, world):
    client, org, user = signed_in(make_client, world, role="analyst")
    text = page_text(client.get("/team"))
    assert 'aria-current="page">Team' in text
    assert "Microsoft · analyst" in text
    assert "Audit trail" not in text  # analysts have no audit page


def test_unknown_page_is_a_friendly_404(make_client, world):
    client, org, user = signed_in(make_client, world)
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "Not found" in page_text(response)


def test_api_paths_answer_problem_json(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["status"] == 404


def test_security_headers_on_every_response(client):
    for path in ("/login", "/static/css/portal.css", "/healthz", "/missing"):
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
        assert "object-src 'none'" in csp and "base-uri 'none'" in csp and "frame-ancestors 'none'" in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in client.get("/login").headers
    assert "Strict-Transport-Security" in client.get("/login", base_url="https://portal.example").headers


def test_session_cookie_flags(client, world):
    org = world.org("Microsoft")
    user = world.person(org, "admin")
    response = client.post_form("/login", {"email": user.email, "password": "correct horse battery staple"})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


@pytest.mark.parametrize("base_url, secure", [
    ("https://portal.example", True),
    ("http://portal.example", True),      # behind a proxy that hides the browser's HTTPS: still Secure
    ("http://10.1.2.3:8000", True),
    ("https://localhost", True),
    ("http://localhost", False),          # local development only: plain HTTP on loopback
    ("http://127.0.0.1:5000", False),
    ("http://[::1]:5000", False),
])
def test_the_session_cookie_is_secure_outside_local_development(app, base_url, secure):
    response = app.test_client().get("/login", base_url=base_url)
    cookie = response.headers["Set-Cookie"]
    assert ("; Secure" in cookie) is secure, cookie
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_behind_a_proxy_the_cookie_is_secure_even_when_it_forwards_a_loopback_host(app, monkeypatch):
    monkeypatch.setitem(app.config, "TRUSTED_PROXY_COUNT", 1)
    assert "; Secure" in app.test_client().get("/login", base_url="http://127.0.0.1:8000").headers["Set-Cookie"]


@pytest.mark.parametrize("value, expected", [("", "auto"), ("auto", "auto"), ("1", True), ("on", True),
                                             ("0", False), ("false", False)])
def test_session_cookie_secure_setting_is_read_strictly(monkeypatch, value, expected):
    from portal.config import settings_from_env
    monkeypatch.setenv("SESSION_COOKIE_SECURE", value)
    assert settings_from_env()["SESSION_COOKIE_SECURE"] == expected


def test_a_misspelt_session_cookie_secure_stops_the_start(monkeypatch):
    from portal.config import settings_from_env
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "ture")
    with pytest.raises(SystemExit) as stopped:
        settings_from_env()
    assert "SESSION_COOKIE_SECURE must be one of auto, 1, true" in str(stopped.value)


def test_secure_cookies_can_be_forced_for_local_https_proxies(app, monkeypatch):
    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", True)
    assert "; Secure" in app.test_client().get("/login", base_url="http://localhost").headers["Set-Cookie"]
    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", False)
    assert "; Secure" not in app.test_client().get("/login", base_url="https://portal.example").headers["Set-Cookie"]


def test_no_inline_script_in_pages(make_client, world):
    client, org, user = signed_in(make_client, world)
    for path in ("/", "/team", "/audit", "/account"):
        text = page_text(client.get(path))
        assert "<script>" not in text and "onclick=" not in text and "onchange=" not in text


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


@pytest.fixture
def database_down(tmp_path):
    working = db.obj
    db.initialize(SqliteDatabase(str(tmp_path / "missing-dir" / "portal.db")))
    yield
    db.initialize(working)


def test_database_unavailable_is_a_503_with_a_clear_message(client, database_down):
    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.get_json()["detail"] == "The database is unavailable; try again shortly."
    page = client.get("/login")
    assert page.status_code == 503
    assert "cannot reach its database" in page_text(page)
    assert "Traceback" not in page_text(page)


def test_idle_session_expires(make_client, world):
    client, org, user = signed_in(make_client, world)
    assert client.get("/").status_code == 200
    UserSession.update(last_seen_at=utcnow() - timedelta(minutes=61)).execute()
    assert client.get("/").status_code == 302
    assert UserSession.get().ended_at is not None


def test_absolute_session_limit(make_client, world):
    client, org, user = signed_in(make_client, world)
    UserSession.update(created_at=utcnow() - timedelta(hours=13)).execute()
    assert client.get("/").status_code == 302


def test_periodic_task_ends_expired_sessions(app, make_client, world):
    client, org, user = signed_in(make_client, world)
    other = make_client()
    other.sign_in(user.email)
    oldest = UserSession.select().order_by(UserSession.id).first()
    UserSession.update(last_seen_at=utcnow() - timedelta(hours=2)).where(UserSession.id == oldest.id).execute()
    with app.app_context():
        tasks.end_expired_sessions()  # enqueued on huey, which runs it inline in immediate mode
    assert UserSession.get_by_id(oldest.id).ended_at is not None
    assert UserSession.select().where(UserSession.ended_at.is_null()).count() == 1


def test_access_log_lines_never_carry_invitation_tokens():
    from portal.gunicorn_logging import redact
    assert redact("POST /invite/Zy-G1f_Hi HTTP/1.1") == "POST /invite/[redacted] HTTP/1.1"
    assert redact("GET /login?next=/invite/Zy-G1f_Hi HTTP/1.1") == "GET /login?next=/invite/[redacted] HTTP/1.1"
    assert redact("https://portal.example/invite/Zy-G1f_Hi") == "https://portal.example/invite/[redacted]"
    assert redact("GET /team HTTP/1.1") == "GET /team HTTP/1.1"
