"""The production shape: two app processes (two gunicorn masters with two workers each, on two ports)
sharing one PostgreSQL database and one Redis, and a huey consumer started on its own (RedisHuey).

What must hold across processes: a browser session made on one works on the other, and signing out on
either ends it on both; the API rate limit of a client and the sign-in throttle are counted once for
the whole site, not per process; a bulk upload to one process runs on the separate consumer and its
progress and result show on the other.

Runs when the suite runs on PostgreSQL, with a `redis-server` binary to start (a throw-away one on a free
port). Without the binary it is skipped, unless PORTAL_REQUIRE_REDIS is set (the CI sets it).
"""
import os
import re
import shutil
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.servers import (csrf_token, csv_of_marks, is_postgresql_url, portal_env, query, running_processes,
                           scratch_databases, seed, sign_in, suite_database_url, token)

RATE_LIMIT = 20  # API requests per client per minute, for the whole site
ACCOUNT_ATTEMPTS = 3  # sign-in attempts per account per 5 minutes
IMPORT_ROWS = 2_000
INLINE_BYTES = 4_096  # so the upload goes to the worker

SPEC = {
    "brands": ["acme"],
    "users": [["alice@acme.example", "acme", "admin"], ["bob@acme.example", "acme", "analyst"],
              ["carol@acme.example", "acme", "analyst"]],
    "clients": [["limited", "acme", "marks:read"]],
}


def skip_reason():
    if not is_postgresql_url(suite_database_url()):
        return "the scale-out shape needs PostgreSQL (run the suite with DATABASE_URL=postgresql://...)"
    if shutil.which("redis-server") is None and not os.environ.get("PORTAL_REQUIRE_REDIS"):
        return "redis-server is not installed (set PORTAL_REQUIRE_REDIS=1 to make this a failure)"
    return None


pytestmark = pytest.mark.skipif(skip_reason() is not None, reason=str(skip_reason()))


@pytest.fixture(scope="module")
def site(request, tmp_path_factory):
    """Redis, two web processes and a consumer on one PostgreSQL database; {"web1", "web2", "processes", ...}."""
    assert shutil.which("redis-server"), "PORTAL_REQUIRE_REDIS is set but redis-server is not installed"
    folder = tmp_path_factory.mktemp("scale-out")
    with scratch_databases(folder) as scratch, running_processes(request, folder / "logs") as processes:
        database_url = scratch.make("scale_out")
        env = portal_env(database_url, folder / "instance", REDIS_URL=processes.redis(),
                         API_RATE_LIMIT=f"{RATE_LIMIT} per minute",
                         LOGIN_ATTEMPTS_PER_ACCOUNT=f"{ACCOUNT_ATTEMPTS} per 5 minutes",
                         LOGIN_ATTEMPTS_PER_ADDRESS="1000 per 5 minutes",
                         MARKS_IMPORT_INLINE_BYTES=INLINE_BYTES, MARKS_IMPORT_BATCH_ROWS=250)
        made = seed(env, SPEC)
        web1 = processes.gunicorn(env, "web1", workers=2, threads=4, wait=False)
        web2 = processes.gunicorn(env, "web2", workers=2, threads=4, wait=False)
        processes.consumer(env, "consumer")
        web1.wait_for_http()
        web2.wait_for_http()
        yield {"web1": web1.url, "web2": web2.url, "processes": processes, "made": made,
               "database_url": database_url}
        assert processes.dead() == {}
        assert processes.problems() == {}


def signed_in(session, base, cookie=None):
    """True when the dashboard opens (not a redirect to the sign-in page)."""
    cookies = {"portal_session": cookie} if cookie else None
    response = (requests if cookie else session).get(f"{base}/", cookies=cookies, allow_redirects=False)
    assert response.status_code in (200, 302), response.status_code
    return response.status_code == 200


def test_a_session_made_on_one_process_works_on_the_other_and_signing_out_ends_it_on_both(site):
    web1, web2 = site["web1"], site["web2"]
    browser = requests.Session()  # cookies are per host, not per port: both processes get the cookie
    assert sign_in(browser, web1, "alice@acme.example").status_code == 302
    cookie = browser.cookies["portal_session"]
    assert signed_in(browser, web2) and signed_in(browser, web1)
    assert "alice@acme.example" in browser.get(f"{web2}/").text

    logout = browser.post(f"{web2}/logout", data={"csrf_token": csrf_token(browser, f"{web2}/")}, allow_redirects=False)
    assert logout.status_code == 302 and logout.headers["Location"].endswith("/login")
    assert not signed_in(browser, web1) and not signed_in(browser, web2)
    # The cookie as it was before signing out (someone who copied it) is refused by both processes too.
    assert not signed_in(None, web1, cookie=cookie) and not signed_in(None, web2, cookie=cookie)


def test_the_api_rate_limit_is_counted_once_across_both_processes(site):
    web1, web2 = site["web1"], site["web2"]
    headers = {"Authorization": f"Bearer {token(web1, site['made']['clients']['limited'])}"}
    bases = [(web1, web2)[n % 2] for n in range(2 * RATE_LIMIT)]
    # In parallel, 8 at a time: the counter is shared and atomic, not a read-then-write per process.
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda base: requests.get(f"{base}/api/v1/me", headers=headers,
                                                           timeout=30).status_code, bases))
    allowed = Counter(base for base, status in zip(bases, statuses) if status == 200)
    assert sum(allowed.values()) == RATE_LIMIT and len(allowed) == 2, allowed
    assert Counter(statuses) == {200: RATE_LIMIT, 429: RATE_LIMIT}, statuses
    for base in (web1, web2):
        refused = requests.get(f"{base}/api/v1/me", headers=headers, timeout=30)
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
        assert refused.headers["Content-Type"].startswith("application/problem+json")


def test_the_sign_in_throttle_is_shared_by_both_processes(site):
    web1, web2 = site["web1"], site["web2"]
    statuses = [sign_in(requests.Session(), (web1, web2)[n % 2], "carol@acme.example", "wrong password").status_code
                for n in range(ACCOUNT_ATTEMPTS)]
    assert statuses == [401] * ACCOUNT_ATTEMPTS
    # Both processes now refuse the account, even with its right password.
    for base in (web2, web1):
        refused = sign_in(requests.Session(), base, "carol@acme.example")
        assert refused.status_code == 429 and "Too many sign-in attempts" in refused.text


def test_a_bulk_upload_to_one_process_runs_on_the_consumer_and_shows_on_the_other(site):
    web1, web2, processes = site["web1"], site["web2"], site["processes"]
    browser = requests.Session()
    assert sign_in(browser, web1, "bob@acme.example").status_code == 302
    content = csv_of_marks(IMPORT_ROWS, 5_000_000, word="SCALED")
    assert len(content) > INLINE_BYTES
    started = browser.post(f"{web1}/marks/imports", data={"csrf_token": csrf_token(browser, f"{web1}/marks/imports")},
                           files={"file": ("scaled.csv", content, "text/csv")}, allow_redirects=False)
    assert started.status_code == 302, started.text[:1000]
    job_id = int(re.search(r"/marks/imports/(\d+)$", started.headers["Location"]).group(1))

    seen, deadline = [], time.monotonic() + 30
    while time.monotonic() < deadline:
        progress = browser.get(f"{web2}/marks/imports/{job_id}/progress")
        assert progress.status_code == 200, progress.text[:500]
        seen.append(progress.json())
        if seen[-1]["status"] in ("done", "failed"):
            break
        time.sleep(0.1)
    job = seen[-1]
    assert (job["status"], job["total_rows"], job["processed_rows"]) == ("done", IMPORT_ROWS, IMPORT_ROWS), job
    assert (job["created"], job["errors"]) == (IMPORT_ROWS, 0)
    assert seen[0]["status"] in ("queued", "running"), "the upload was imported in its request, not on the worker"
    page = browser.get(f"{web2}/marks/imports/{job_id}")
    assert page.status_code == 200 and "scaled.csv" in page.text and "2,000" in page.text

    # The separate consumer ran it; neither web process did.
    ran = "Executing portal.imports.tasks.run_import_job"
    assert ran in processes.log("consumer") and ran not in processes.log("web1") + processes.log("web2")
    count, = query(site["database_url"], "SELECT COUNT(*) FROM mark WHERE org_id = ? AND office = 'USPTO'",
                   site["made"]["orgs"]["acme"])[0]
    actor, = query(site["database_url"], "SELECT actor_label FROM audit_event WHERE action = 'mark_import.finished' "
                                         "AND object_id = ?", str(job_id))[0]
    assert (count, actor) == (IMPORT_ROWS, "worker")
