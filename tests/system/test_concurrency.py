"""Many clients at once against the portal as production runs it: gunicorn (several workers x threads) and
the huey consumer as subprocesses, on a database of their own (SQLite in WAL mode, or PostgreSQL when the
suite runs on it).

For a bounded time, 8 API clients (brands registering, changing and deleting marks and filing notices,
platforms acknowledging and removing listings, everyone reading lists and reports) run beside 2 bulk
uploads of thousands of marks (one imported during its request, one on the worker). Then: no 5xx answer,
no answer other than the ones each request may give, nothing alarming in any log, and the database holds
exactly what the clients were told: every write that succeeded once, nothing that failed, each upload's
rows as its job reports them, and an unbroken audit chain.
"""
import random
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import pytest
import requests

from tests import servers
from tests.servers import audit_verified, csv_of_marks, portal_env, query, seed, token

processes, scratch = servers.processes, servers.scratch  # shared fixtures (a bare import would look unused)

LOAD_SECONDS = 15  # the clients run this long, and on until both uploads are done
UPLOAD_DEADLINE = 90  # an upload not done by then fails the test
GUNICORN_WORKERS = 3  # x 8 threads (gunicorn.conf.py)
INLINE_BYTES = 200_000  # MARKS_IMPORT_INLINE_BYTES: the smaller upload is imported in its request
UPLOADS = {"acme": (3_000, 7_000_000), "globex": (6_000, 7_000_000)}  # org: (rows, first number)
BRAND_CLIENTS, GLOBEX_CLIENTS, PLATFORM_CLIENTS = 5, 1, 2
SEEDED_MARKS = 2

SPEC = {
    "brands": ["acme", "globex"],
    "platforms": {"shopzilla": [["Shopzilla Market", "CN"]]},
    "partnerships": [["acme", "shopzilla"]],
    "verified_marks": {"acme": SEEDED_MARKS},
    "clients": ([[f"acme-{n}", "acme", "marks:read marks:write notices:read notices:write reports:read"]
                 for n in range(BRAND_CLIENTS)]
                + [[f"globex-{n}", "globex", "marks:read marks:write reports:read"] for n in range(GLOBEX_CLIENTS)]
                + [[f"shopzilla-{n}", "shopzilla", "marks:read notices:read notices:write reports:read"]
                   for n in range(PLATFORM_CLIENTS)]
                + [["acme-upload", "acme", "marks:read marks:write"], ["globex-upload", "globex",
                                                                        "marks:read marks:write"]]),
}


@dataclass
class Server:
    url: str
    database_url: str
    made: dict
    processes: object
    env: dict


@pytest.fixture
def server(scratch, processes, tmp_path):
    database_url = scratch.make("concurrency")
    env = portal_env(database_url, tmp_path / "instance", MARKS_IMPORT_INLINE_BYTES=INLINE_BYTES,
                     MARKS_IMPORT_BATCH_ROWS=500, API_RATE_LIMIT="1000000 per minute")
    made = seed(env, SPEC)
    web = processes.gunicorn(env, workers=GUNICORN_WORKERS)
    processes.consumer(env)
    return Server(web.url, database_url, made, processes, env)


# --- the clients --------------------------------------------------------------------------------------

@dataclass
class Seen:
    """What one client was told."""
    marks: dict = field(default_factory=dict)  # number -> id, created (201)
    refused_numbers: set = field(default_factory=set)  # creations answered 422
    deleted: set = field(default_factory=set)  # numbers deleted (204)
    words: dict = field(default_factory=dict)  # mark id -> word of the last successful PATCH
    notices: dict = field(default_factory=dict)  # id -> (explanation, item count)
    refused_notices: list = field(default_factory=list)  # explanations answered 422
    moves: list = field(default_factory=list)  # (item id, to, status)
    skipped: int = 0  # listings a filed notice left out as already under another notice
    answers: Counter = field(default_factory=Counter)  # status -> count
    unexpected: list = field(default_factory=list)  # (method, path, status, body)
    errors: list = field(default_factory=list)  # exceptions (timeouts, dropped connections)


class Client:
    def __init__(self, base, access_token, seen):
        self.base, self.seen = base, seen
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {access_token}"

    def call(self, method, path, expect, **kwargs):
        """One request; its status must be one of `expect`. Returns the response, or None if it failed."""
        try:
            response = self.http.request(method, self.base + path, timeout=60, **kwargs)
        except requests.RequestException as error:
            self.seen.errors.append(f"{method} {path}: {error!r}")
            return None
        self.seen.answers[response.status_code] += 1
        if response.status_code not in expect:
            self.seen.unexpected.append((method, path, response.status_code, response.text[:500]))
        return response


def brand_client(client, number, stop, notices=None):
    """Marks: create (and duplicates, and invalid ones), rename, delete; with `notices` (partnership,
    marketplace, mark ids) also files notices, some with a bad URL; reads in between."""
    rng, count = random.Random(number), 0
    live = []  # ids of marks created and not deleted, with their numbers
    while not stop.is_set():
        count += 1
        roll = rng.random()
        seen = client.seen
        if roll < 0.22 or not live:
            mark_number = 30_000_000 + number * 100_000 + count
            response = client.call("POST", "/api/v1/marks", (201,), json={
                "word": f"CLIENT{number}X{count}", "office": "CNIPA", "registration_number": str(mark_number),
                "nice_classes": [9, 25]})
            if response is not None and response.status_code == 201:
                seen.marks[mark_number] = response.json()["id"]
                live.append((response.json()["id"], mark_number))
        elif roll < 0.26:
            _, taken = rng.choice(live)
            client.call("POST", "/api/v1/marks", (409,), json={
                "word": "AGAIN", "office": "CNIPA", "registration_number": str(taken), "nice_classes": [9]})
        elif roll < 0.30:
            mark_number = 30_000_000 + number * 100_000 + count
            response = client.call("POST", "/api/v1/marks", (422,), json={
                "word": "BACKWARDS", "office": "CNIPA", "registration_number": str(mark_number),
                "nice_classes": [9], "registered_on": "2020-01-01", "expires_on": "2019-01-01"})
            if response is not None:
                seen.refused_numbers.add(mark_number)
        elif roll < 0.38:
            mark_id, _ = rng.choice(live)
            word = f"RENAMED{number}X{count}"
            response = client.call("PATCH", f"/api/v1/marks/{mark_id}", (200,), json={"word": word})
            if response is not None and response.status_code == 200:
                seen.words[mark_id] = word
        elif roll < 0.42 and len(live) > 3:
            mark_id, mark_number = live.pop(rng.randrange(len(live)))
            response = client.call("DELETE", f"/api/v1/marks/{mark_id}", (204,))
            if response is not None and response.status_code == 204:
                seen.deleted.add(mark_number)
                seen.words.pop(mark_id, None)
        elif roll < 0.57 and notices:
            file_notice(client, rng, number, count, *notices)
        else:
            read(client, rng, notices is not None)


def file_notice(client, rng, number, count, partnership, marketplace, mark_ids):
    """A notice of 1 to 3 listings of this client's own, sometimes one more that every brand client may
    be filing at the same moment (one per 5 s: the first filing takes it, the others must skip it), and
    sometimes one that is not a URL (the whole notice is refused)."""
    explanation = f"Counterfeit goods sold under our registered mark (case {number}-{count})."
    urls = [f"https://shop.example/item/{number}-{count}-{i}" for i in range(rng.randint(1, 3))]
    if rng.random() < 0.25:
        urls.append(f"https://shop.example/contested/{int(time.time()) // 5}")
    bad = rng.random() < 0.15
    if bad:
        urls.append("not a listing address")
    response = client.call("POST", "/api/v1/notices", (422,) if bad else (201,), json={
        "partnership": partnership, "marketplace": marketplace, "reason_code": "counterfeit",
        "explanation": explanation, "marks": mark_ids, "good_faith": True,
        "listings": [{"url": url, "seller_id": f"seller-{number}"} for url in urls]})
    if response is None:
        return
    if response.status_code == 201:
        skipped = [entry["url"] for entry in response.json()["skipped"]]
        if any("/contested/" not in url for url in skipped):
            client.seen.unexpected.append(("POST", "/api/v1/notices", 201, f"skipped its own new URLs {skipped}"))
        client.seen.notices[response.json()["id"]] = (explanation, len(urls) - len(skipped))
        client.seen.skipped += len(skipped)
    elif response.status_code == 422:
        client.seen.refused_notices.append(explanation)


def read(client, rng, files_notices):
    choice = rng.randrange(6 if files_notices else 4)
    if choice == 0:
        client.call("GET", "/api/v1/marks", (200,), params={"limit": 50, "q": "CLIENT"})
    elif choice == 1:
        client.call("GET", "/api/v1/reports/weekly", (200,))
    elif choice == 2:
        client.call("GET", "/api/v1/marks/imports", (200,))
    elif choice == 3:
        marks = list(client.seen.marks.items())
        if marks:
            number, mark_id = rng.choice(marks)
            # Deleted meanwhile (by this client): 404 is then the right answer.
            client.call("GET", f"/api/v1/marks/{mark_id}", (404,) if number in client.seen.deleted else (200,))
    elif choice == 4:
        client.call("GET", "/api/v1/notices", (200,), params={"limit": 20})
    else:
        notice_ids = list(client.seen.notices)
        if notice_ids:
            client.call("GET", f"/api/v1/notices/{rng.choice(notice_ids)}", (200,))


def platform_client(client, number, stop):
    """Works the queue: takes a notice with submitted items and acknowledges or removes them, racing the
    other platform client for the same items (so some moves are refused with 409)."""
    rng = random.Random(1000 + number)
    while not stop.is_set():
        roll = rng.random()
        if roll < 0.6:
            page = client.call("GET", "/api/v1/notices", (200,), params={"state": "submitted", "limit": 20})
            if page is None or page.status_code != 200 or not page.json()["items"]:
                time.sleep(0.05)
                continue
            notice_id = rng.choice(page.json()["items"][:5])["id"]
            notice = client.call("GET", f"/api/v1/notices/{notice_id}", (200,))
            if notice is None or notice.status_code != 200:
                continue
            for item in notice.json()["items"]:
                if item["state"] != "submitted":
                    continue
                to = "removed" if rng.random() < 0.3 else "acknowledged"
                body = {"to": to, "reason": "Counterfeit confirmed by the listing's photos."} if to == "removed" \
                    else {"to": to}
                response = client.call("POST", f"/api/v1/notices/{notice_id}/items/{item['id']}/transitions",
                                       (200, 409), json=body)
                if response is not None:
                    client.seen.moves.append((item["id"], to, response.status_code))
        elif roll < 0.8:
            client.call("GET", "/api/v1/reports/weekly", (200,))
        else:
            client.call("GET", "/api/v1/marks", (200,), params={"owner": "acme", "limit": 20})


def upload(base, access_token, content, filename, result):
    """POST a trademark list to the import endpoint and follow its job until it ends."""
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {access_token}"
    started = time.monotonic()
    try:
        response = http.post(f"{base}/api/v1/marks/imports", files={"file": (filename, content, "text/csv")},
                             timeout=120)
        result["answer"], result["answered_after"] = response.status_code, time.monotonic() - started
        if response.status_code != 202:
            result["body"] = response.text[:2000]
            return
        job = response.json()
        result["first"] = job
        deadline = time.monotonic() + UPLOAD_DEADLINE
        while job["status"] not in ("done", "failed") and time.monotonic() < deadline:
            time.sleep(0.3)
            polled = http.get(f"{base}/api/v1/marks/imports/{job['id']}", timeout=60)
            if polled.status_code != 200:
                result.setdefault("bad_polls", []).append((polled.status_code, polled.text[:300]))
                continue
            job = polled.json()
            result.setdefault("progress", []).append(job["processed_rows"])
        result["job"], result["done_after"] = job, time.monotonic() - started
    except requests.RequestException as error:
        result["error"] = repr(error)


# --- the test ------------------------------------------------------------------------------------------

def test_concurrent_clients_and_uploads_lose_nothing(server):
    made, base = server.made, server.url
    tokens = {name: token(base, client) for name, client in made["clients"].items()}
    acme_notices = (made["partnerships"]["acme/shopzilla"], made["marketplaces"]["Shopzilla Market"],
                    made["marks"]["acme"])
    stop = threading.Event()
    clients, threads = {}, []
    for name in tokens:
        if name.endswith("-upload"):
            continue
        clients[name] = Client(base, tokens[name], Seen())
        number = int(name.rsplit("-", 1)[1]) + (100 if name.startswith("globex") else 0)
        if name.startswith("acme"):
            target, args = brand_client, (number, stop, acme_notices)
        elif name.startswith("globex"):
            target, args = brand_client, (number, stop)
        else:
            target, args = platform_client, (number, stop)
        threads.append(threading.Thread(target=target, args=(clients[name], *args), name=name))
    assert len(threads) == 8

    files = {org: csv_of_marks(rows, start, word=f"{org.upper()}BULK") for org, (rows, start) in UPLOADS.items()}
    assert len(files["acme"]) <= INLINE_BYTES < len(files["globex"])  # one inline, one on the worker
    results = {org: {} for org in UPLOADS}
    uploads = [threading.Thread(target=upload, args=(base, tokens[f"{org}-upload"], files[org], f"{org}.csv",
                                                     results[org])) for org in UPLOADS]

    started = time.monotonic()
    for thread in threads:
        thread.start()
    time.sleep(1)
    for thread in uploads:
        thread.start()
    time.sleep(max(0.0, LOAD_SECONDS - (time.monotonic() - started)))
    for thread in uploads:
        thread.join(UPLOAD_DEADLINE + 30)
    stop.set()
    for thread in threads:
        thread.join(90)
    elapsed = time.monotonic() - started
    assert not any(thread.is_alive() for thread in threads + uploads), "a client hung"

    seen = [client.seen for client in clients.values()]
    answers = sum((s.answers for s in seen), Counter())
    print(f"\n{sum(answers.values())} API answers in {elapsed:.1f} s: {dict(sorted(answers.items()))}")
    for org, result in results.items():
        print(f"upload of {UPLOADS[org][0]:,} rows ({org}): answered after {result.get('answered_after', 0):.1f} s, "
              f"done after {result.get('done_after', 0):.1f} s")
    assert not [status for status in answers if status >= 500], answers
    assert [e for s in seen for e in s.errors] == []
    assert [u for s in seen for u in s.unexpected] == []
    for org, result in results.items():
        assert result.get("answer") == 202 and "error" not in result and "bad_polls" not in result, (org, result)
        job = result["job"]
        rows = UPLOADS[org][0]
        assert (job["status"], job["total_rows"], job["processed_rows"]) == ("done", rows, rows), (org, job)
        assert (job["created"], job["updated"], job["unchanged"], job["errors"]) == (rows, 0, 0, 0), (org, job)
    # The small file was done when its upload answered; the large one was queued and done by the worker.
    assert results["acme"]["first"]["status"] == "done"
    assert results["globex"]["first"]["status"] in ("queued", "running")
    progress = results["globex"].get("progress", [])
    assert progress == sorted(progress), "the worker's progress went backwards"
    assert "Executing portal.imports.tasks.run_import_job" in server.processes.log("worker")
    assert server.processes.dead() == {}
    assert server.processes.problems() == {}

    check_database(server, {name: client.seen for name, client in clients.items()}, results)
    audit_verified(server.env)


def check_database(server, clients, results):
    made = server.made
    url = server.database_url
    if not url.startswith("postgres"):
        assert query(url, "PRAGMA journal_mode") == [("wal",)]
    for org in ("acme", "globex"):
        org_id = made["orgs"][org]
        rows = query(url, "SELECT id, office, registration_number, word FROM mark WHERE org_id = ?", org_id)
        keys = [(office, number) for _, office, number, _ in rows]
        assert len(keys) == len(set(keys)), f"{org}: a mark is there twice"
        mine = [s for name, s in clients.items() if name.startswith(org)]
        created = {("CNIPA", str(n)) for s in mine for n in s.marks}
        deleted = {("CNIPA", str(n)) for s in mine for n in s.deleted}
        refused = {("CNIPA", str(n)) for s in mine for n in s.refused_numbers}
        seeded = {("CNIPA", str(12_000_000 + n)) for n in range(SEEDED_MARKS)} if org == "acme" else set()
        rows_of_upload, first = UPLOADS[org]
        imported = {("USPTO", str(first + n)) for n in range(rows_of_upload)}
        assert created, f"{org}: no client created a mark"
        expected = seeded | (created - deleted) | imported
        assert not (refused & set(keys)), f"{org}: a refused mark was stored"
        assert not (deleted & set(keys)), f"{org}: a deleted mark is still there"
        assert set(keys) == expected, (f"{org}: missing {sorted(expected - set(keys))[:10]}, "
                                       f"unexpected {sorted(set(keys) - expected)[:10]}")
        words = {mark_id: word for mark_id, _, _, word in rows}
        renamed = {mark_id: word for s in mine for mark_id, word in s.words.items()}
        assert {mark_id: words.get(mark_id) for mark_id in renamed} == renamed

        job = results[org]["job"]
        stored = query(url, "SELECT status, total_rows, created, updated, unchanged, error_rows, last_row "
                            "FROM import_job WHERE id = ? AND org_id = ?", job["id"], org_id)
        assert stored == [("done", rows_of_upload, rows_of_upload, 0, 0, 0, rows_of_upload + 1)]

    check_notices(url, made, clients)


def check_notices(url, made, clients):
    acme = made["orgs"]["acme"]
    filed = {notice_id: value for name, s in clients.items() if name.startswith("acme")
             for notice_id, value in s.notices.items()}
    refused = [e for name, s in clients.items() if name.startswith("acme") for e in s.refused_notices]
    assert filed, "the clients filed no notice"
    rows = query(url, "SELECT n.id, n.explanation, n.item_count, COUNT(i.id) FROM notice n "
                      "LEFT JOIN notice_item i ON i.notice_id = n.id WHERE n.org_id = ? "
                      "GROUP BY n.id, n.explanation, n.item_count", acme)
    assert {notice_id: (explanation, count) for notice_id, explanation, _, count in rows} == filed
    assert all(item_count == count for _, _, item_count, count in rows)
    assert not {explanation for _, explanation, _, _ in rows} & set(refused), "a refused notice was filed"
    twice = query(url, "SELECT url, COUNT(*) FROM notice_item WHERE brand_id = ? GROUP BY url "
                       "HAVING COUNT(*) > 1", acme)
    assert twice == [], "a listing is under two notices at once"
    print(f"{len(rows)} notices filed, {sum(s.skipped for s in clients.values())} contested listings skipped, "
          f"{len(refused)} notices refused")

    moves = [move for name, s in clients.items() if name.startswith("shopzilla") for move in s.moves]
    assert any(status == 200 for _, _, status in moves), "the platform moved no listing"
    succeeded = defaultdict(Counter)
    for item_id, to, status in moves:
        if status == 200:
            succeeded[item_id][to] += 1
    doubled = {item_id: c for item_id, c in succeeded.items() if max(c.values()) > 1}
    assert not doubled, f"the same move succeeded twice on one listing: {doubled}"
    transitions = defaultdict(Counter)
    for item_id, to_state, count in query(
            url, "SELECT item_id, to_state, COUNT(*) FROM transition WHERE brand_id = ? GROUP BY item_id, to_state",
            acme):
        transitions[item_id][to_state] = count
    states = dict(query(url, "SELECT id, state FROM notice_item WHERE brand_id = ?", acme))
    for item_id, state in states.items():
        told = succeeded.get(item_id, Counter())
        expected_state = "removed" if told["removed"] else "acknowledged" if told["acknowledged"] else "submitted"
        expected_moves = Counter({"submitted": 1})
        if told:
            expected_moves["acknowledged"] = 1  # removing a submitted listing acknowledges it first
        if told["removed"]:
            expected_moves["removed"] = 1
        assert (state, transitions[item_id]) == (expected_state, expected_moves), item_id
