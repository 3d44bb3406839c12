"""Two app servers and two workers on one database and one Redis (docs/rules.md rule 44).

The topology of docs/deploy.md, on one machine: two gunicorn servers (2
workers × 4 threads each) with the same SECRET_KEY and ``PORTAL_REDIS_URL``,
and two ``flask --app wsgi jobs run`` workers on that Redis queue, all on one
database (PostgreSQL when TEST_DATABASE_URL is set, else one SQLite file),
started once for the module. Requests alternate between the servers as a
load balancer would send them; every count that matters must add up across
both, never per server or per process:

- a login session opened on A works on B, and a logout on B ends it on A;
- the per-address login limit (``PORTAL_LOGIN_RATE_LIMIT``) and the API
  limit (``PORTAL_API_RATE_LIMIT``) count requests made on either server;
- a seat race split across the servers fills exactly the free seats;
- each event reaches a webhook receiver once, whichever worker relays it.

The servers trust one proxy (``PORTAL_PROXY_FIX=1``), as behind a balancer,
so a test can speak from an address of its own (``X-Forwarded-For``) and the
login limit of one test does not eat into another's.

Needs a Redis server: TEST_REDIS_URL (``.ci/run`` starts Debian's
redis-server and sets it); the module is skipped without it. Its queue and
its rate-limit keys live under a name of its own, deleted at the end.
"""
import copy
import json
import os
import secrets
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tests.e2e.conftest import (ROOT, HttpSession, LiveServer, Response, _free_port, _fresh_database_url,
                                _gunicorn_command, _gunicorn_extra_options, _KeepErrors, _stop, _wait_until_serving,
                                problem_report, server_problems)
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.slow

FINANCE = "finance@northwind.example"  # Partner admin + Finance of Northwind: every permission used below
API_LIMIT = 20  # PORTAL_API_RATE_LIMIT, per token
LOGIN_LIMIT = 10  # PORTAL_LOGIN_RATE_LIMIT, per client address
LOCKOUT_AFTER = 10  # failures for one e-mail before it is locked (portal.domain.accounts.authentication)
RACERS, FREE_SEATS = 16, 5
CHANGES = 6  # webhook events made through the two servers
TOKENS = ("limit", "other", "setup", "race", "webhooks")  # one API token per use: the limit counts per token


@dataclass
class Topology:
    a: LiveServer
    b: LiveServer
    tokens: dict  # name -> bearer token of FINANCE
    worker_logs: list

    @property
    def servers(self) -> tuple[LiveServer, LiveServer]:
        return self.a, self.b

    def alternate(self, count: int):
        """``count`` servers, A, B, A, B…: what a round-robin balancer does."""
        return [self.servers[n % 2] for n in range(count)]


def _flask_command() -> list[str]:
    flask = ROOT / ".venv" / "bin" / "flask"
    return [str(flask)] if flask.exists() else [sys.executable, "-m", "flask"]


# Run by _prepare in a process of its own: the real CLI commands through Flask's CLI runner.
PREPARE = """
import json, sys
from wsgi import app

runner = app.test_cli_runner()


def run(*args):
    result = runner.invoke(args=list(args))
    sys.stderr.write(f"$ flask --app wsgi {' '.join(args)}\\n{result.output}\\n")
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()


run("db", "upgrade")
run("demo", "load")
print(json.dumps([run("api-token", "create", sys.argv[1])[-1] for _ in range(int(sys.argv[2]))]))
"""


def _prepare(env: dict, log) -> dict:
    """``db upgrade``, ``demo load`` and one ``api-token create FINANCE`` per name of TOKENS, in one process
    (one each would cost seconds of start-up on a busy machine); the API tokens by name."""
    result = subprocess.run([sys.executable, "-c", PREPARE, FINANCE, str(len(TOKENS))], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=180, check=False)
    log.write_text(result.stderr)
    if result.returncode != 0:
        pytest.fail(f"preparing the database failed (log: {log}):\n{result.stderr[-3000:]}", pytrace=False)
    return dict(zip(TOKENS, json.loads(result.stdout.strip().splitlines()[-1]), strict=True))


def _forget_redis_keys(redis_url: str, name: str) -> None:
    """Delete this module's queue and rate-limit counts (every key containing its own name)."""
    import redis

    connection = redis.Redis.from_url(redis_url)
    try:
        keys = list(connection.scan_iter(match=f"*{name}*", count=1000))
        if keys:
            connection.delete(*keys)
    finally:
        connection.close()


@pytest.fixture(scope="module")
def two_servers(e2e_postgres_url, tmp_path_factory):
    """Servers A and B (gunicorn, 2 workers × 4 threads each) and two workers, on one database and one Redis."""
    redis_url = os.environ.get("TEST_REDIS_URL")
    if not redis_url:
        pytest.skip("TEST_REDIS_URL is not set (.ci/run starts Debian's redis-server and sets it)")
    tmp_dir = tmp_path_factory.mktemp("two-servers")
    database_url = _fresh_database_url(e2e_postgres_url, tmp_dir)
    name = f"portal-e2e-{uuid.uuid4().hex[:10]}"  # this module's queue and rate-limit keys in the shared Redis
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PORTAL_", "FLASK_")) and key not in ("DATABASE_URL", "SECRET_KEY")}
    env.update(DATABASE_URL=database_url, SECRET_KEY=secrets.token_hex(32), PYTHONUNBUFFERED="1",
               PORTAL_TRUSTED_HOSTS='["127.0.0.1", "localhost"]', PORTAL_SESSION_COOKIE_SECURE="false",
               PORTAL_REDIS_URL=redis_url, PORTAL_JOBS_QUEUE_NAME=name, PORTAL_RATELIMIT_KEY_PREFIX=name,
               PORTAL_API_RATE_LIMIT=f"{API_LIMIT} per minute", PORTAL_LOGIN_RATE_LIMIT=f"{LOGIN_LIMIT} per minute",
               PORTAL_PROXY_FIX="1",  # behind a balancer; lets each test speak from its own address
               PORTAL_WEBHOOK_ALLOW_PRIVATE="true", PORTAL_WEBHOOK_RETRY_SECONDS="0,0,0",
               PORTAL_WEBHOOK_TIMEOUT="5",
               # Cheap hashing (the demo users' stored hash, and the dummy hash of an unknown e-mail).
               PORTAL_PASSWORD_HASH_TIME_COST="1", PORTAL_PASSWORD_HASH_MEMORY_COST="8192")
    tokens = _prepare(env, tmp_dir / "setup.log")

    processes, servers, worker_logs = [], [], []
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        started = []
        for label in ("a", "b"):
            port = _free_port()
            stderr_path = tmp_dir / f"gunicorn-{label}.err"
            with (tmp_dir / f"gunicorn-{label}.out").open("wb") as stdout, stderr_path.open("wb") as stderr:
                process = subprocess.Popen(
                    [*_gunicorn_command(), "--workers", "2", "--threads", "4", "--bind", f"127.0.0.1:{port}",
                     "--graceful-timeout", "10", *_gunicorn_extra_options(), "wsgi:app"],
                    cwd=ROOT, env=env, stdout=stdout, stderr=stderr)
            processes.append(process)
            started.append((process, port, stderr_path))
        for n in (1, 2):
            worker_log = tmp_dir / f"worker-{n}.log"
            with worker_log.open("wb") as out:
                processes.append(subprocess.Popen([*_flask_command(), "--app", "wsgi", "jobs", "run", "--workers", "2"],
                                                  cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT))
            worker_logs.append(worker_log)
        for process, port, stderr_path in started:
            url = f"http://127.0.0.1:{port}"
            _wait_until_serving(process, url, port, stderr_path)
            servers.append(LiveServer(url=url, database_url=database_url, stderr_path=stderr_path, engine=engine))
        yield Topology(*servers, tokens=tokens, worker_logs=worker_logs)
    finally:
        stopping = [threading.Thread(target=_stop, args=(process,)) for process in processes]  # all at once
        for thread in stopping:
            thread.start()
        for thread in stopping:
            thread.join()
        engine.dispose()
        _forget_redis_keys(redis_url, name)
    for server, label in zip(servers, "AB", strict=False):
        log = server.stderr()
        if server_problems(log):
            pytest.fail(problem_report(log, f"on server {label} (full log: {server.stderr_path})"), pytrace=False)
    for worker_log in worker_logs:
        log = worker_log.read_text(errors="replace")
        if server_problems(log):
            pytest.fail(problem_report(log, f"in a worker (full log: {worker_log})"), pytrace=False)


@pytest.fixture(autouse=True)
def servers_log_no_error(two_servers):
    """Fails the test if either server logged a traceback or an error while it ran."""
    starts = [server.stderr_size() for server in two_servers.servers]
    yield
    time.sleep(0.2)  # let the workers flush what the last responses logged
    for server, start, label in zip(two_servers.servers, starts, "AB", strict=True):
        log = server.stderr(start)
        if server_problems(log):
            pytest.fail(problem_report(log, f"on server {label} during this test ({server.stderr_path})"),
                        pytrace=False)


# --------------------------------------------------------------------- helpers
def _same_browser(session: HttpSession, server: LiveServer) -> HttpSession:
    """The browser of ``session`` (same cookie jar) talking to ``server``, as a balancer would route it."""
    other = copy.copy(session)  # shares the jar and the opener
    other.base_url = server.url
    return other


def _copy_of_cookies(session: HttpSession, server: LiveServer) -> HttpSession:
    """A new browser holding a copy of ``session``'s cookies as they are now (a cookie kept from before)."""
    other = server.session()
    for cookie in session.cookies:
        other.cookies.set_cookie(copy.copy(cookie))
    return other


def _api(server: LiveServer, method: str, path: str, token: str, body: dict | None = None) -> Response:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(server.url + path, data=data, method=method, headers=headers)
    with urllib.request.build_opener(_KeepErrors()).open(request, timeout=60) as response:
        return Response(response.status, response.headers, response.read().decode("utf-8", "replace"))


def _error_code(response: Response) -> str:
    return json.loads(response.text)["error"]["code"]


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout} s", pytrace=False)
        time.sleep(0.1)


# ----------------------------------------------------------------------- tests
def test_a_session_opened_on_one_server_works_on_the_other(two_servers):
    a, b = two_servers.servers
    on_a = a.login(FINANCE)
    on_b = _same_browser(on_a, b)
    assert FINANCE in on_b.get("/overview").expect(200).text  # the page names who is logged in
    assert on_a.get("/overview").expect(200)
    kept = _copy_of_cookies(on_a, a)  # the login cookie, kept aside before the logout

    token = on_b.csrf_token("/overview")  # the CSRF token (signed with the shared SECRET_KEY) works on B
    assert on_b.post("/logout", {"csrf_token": token}).expect(302).location.endswith("/login")

    # The logout on B ended the login session itself (a row in the database), not just B's cookie:
    # the cookie kept from before no longer opens a page on A.
    assert "/login" in kept.get("/overview").expect(302).location
    assert "/login" in on_a.get("/overview").expect(302).location


def test_the_login_limit_counts_the_attempts_made_on_both_servers(two_servers):
    """Wrong passwords from one address, alternately on A and B: the limit is reached at its count in total.

    Each attempt names another (unknown) e-mail, so the per-account lockout stays out of it.
    """
    a, _ = two_servers.servers
    browser = a.session()
    token = browser.csrf_token("/login")
    answers = []
    for n, server in enumerate(two_servers.alternate(LOGIN_LIMIT + 2)):
        answers.append(_same_browser(browser, server).post(
            "/login", {"csrf_token": token, "email": f"nobody{n}@example.org", "password": "wrong-password"},
            headers={"X-Forwarded-For": "203.0.113.10"}))

    assert [r.status for r in answers] == [422] * LOGIN_LIMIT + [429, 429]
    assert all("Wrong e-mail or password." in r.text for r in answers[:LOGIN_LIMIT])
    for refused in answers[LOGIN_LIMIT:]:
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert "Too many requests from your address" in refused.text
    # Another address is not held back by the first one's attempts, on either server.
    for server in two_servers.servers:
        other = _same_browser(browser, server).post(
            "/login", {"csrf_token": token, "email": "nobody@example.org", "password": "wrong-password"},
            headers={"X-Forwarded-For": f"203.0.113.{11 if server is a else 12}"})
        assert other.status == 422


def test_the_account_lockout_counts_the_failures_made_on_both_servers(two_servers):
    """Wrong passwords for one e-mail, alternately on A and B (from fresh addresses, under the login limit)."""
    a, _ = two_servers.servers
    browser = a.session()
    token = browser.csrf_token("/login")
    answers = []
    for n, server in enumerate(two_servers.alternate(LOCKOUT_AFTER + 1)):
        answers.append(_same_browser(browser, server).post(
            "/login", {"csrf_token": token, "email": "support@northwind.example", "password": "wrong-password"},
            headers={"X-Forwarded-For": f"198.51.100.{n // 5 + 1}"}))  # 5 attempts per address
    assert [r.status for r in answers] == [422] * LOCKOUT_AFTER + [429]
    assert "Too many failed attempts for this e-mail" in answers[-1].text
    assert int(answers[-1].headers["Retry-After"]) > 0


def test_the_api_limit_counts_the_requests_made_on_both_servers(two_servers):
    token = two_servers.tokens["limit"]
    answers = [_api(server, "GET", "/api/v1/subscription-types", token)
               for server in two_servers.alternate(API_LIMIT + 1)]

    assert [r.status for r in answers] == [200] * API_LIMIT + [429]
    refused = answers[-1]
    assert _error_code(refused) == "rate_limited"
    # The window's end, rounded up (Flask-Limiter's reset_at is the whole second after it): at most 61.
    assert 1 <= int(refused.headers["Retry-After"]) <= 61
    # The limit is the token's: another token of the same user still gets through, on both servers.
    for server in two_servers.servers:
        assert _api(server, "GET", "/api/v1/subscription-types", two_servers.tokens["other"]).status == 200


def test_a_seat_race_split_across_both_servers_fills_exactly_the_free_seats(two_servers):
    a, _ = two_servers.servers
    ids = a.ids()
    _, consumed = a.allocation(ids.lyon, ids.essentials)
    _api(a, "PUT", f"/api/v1/sites/{ids.lyon}/allocations/essentials", two_servers.tokens["setup"],
         {"allocated": consumed + FREE_SEATS}).expect(200)
    assert a.allocation(ids.lyon, ids.essentials) == (consumed + FREE_SEATS, consumed)

    token, targets = two_servers.tokens["race"], two_servers.alternate(RACERS)
    barrier = threading.Barrier(RACERS)
    results, errors = [None] * RACERS, []

    def create(n):
        try:
            barrier.wait(timeout=30)
            results[n] = _api(targets[n], "POST", f"/api/v1/sites/{ids.lyon}/users", token, {
                "email": f"racer{n}@example.org", "name": f"Racer {n}", "subscription_type": "essentials",
                "send_invitation": "later"})
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=create, args=(n,)) for n in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    statuses = sorted(r.status for r in results)
    by_server = {label: sorted(r.status for r, server in zip(results, targets, strict=True) if server is s)
                 for label, s in zip("AB", two_servers.servers, strict=True)}
    print(f"\n{a.engine.dialect.name}: {RACERS} creations on {FREE_SEATS} free seats -> {by_server}")

    assert statuses == [201] * FREE_SEATS + [409] * (RACERS - FREE_SEATS), [r.text[:200] for r in results]
    for response in results:
        if response.status == 409:
            error = json.loads(response.text)["error"]
            assert (error["code"], error["free"]) == ("no_free_seat", 0)
    created = a.scalar("SELECT count(*) FROM users WHERE email LIKE 'racer%@example.org'")
    assert created == FREE_SEATS
    allocated, consumed_now = a.allocation(ids.lyon, ids.essentials)
    assert allocated == consumed_now == consumed + FREE_SEATS
    holders = a.scalar("SELECT count(*) FROM users WHERE site_id = :s AND subscription_type_id = :t "
                       "AND status != 'deactivated'", s=ids.lyon, t=ids.essentials)
    assert consumed_now == holders  # the counter matches the users


def test_each_event_reaches_the_webhook_receiver_once(two_servers):
    a, _ = two_servers.servers
    token = two_servers.tokens["webhooks"]
    _wait_for(lambda: a.scalar("SELECT count(*) FROM outbox_events WHERE relayed_at IS NULL") == 0, 30,
              "the workers relay the events of the demo data and of the earlier tests")
    globex = a.scalar("SELECT id FROM organisations WHERE name = 'Globex Clinic'")
    receiver = Receiver().start()
    try:
        created = _api(a, "POST", "/api/v1/webhooks", token,
                       {"url": receiver.url, "events": ["client.updated"]}).expect(201)
        endpoint = json.loads(created.text)["id"]
        last_event = a.scalar("SELECT coalesce(max(id), 0) FROM outbox_events")

        for n, server in enumerate(two_servers.alternate(CHANGES)):
            _api(server, "PATCH", f"/api/v1/clients/{globex}", token, {"name": f"Globex Clinic {n}"}).expect(200)
        with a.engine.connect() as connection:
            events = list(connection.execute(text("SELECT id FROM outbox_events WHERE id > :last "
                                                  "AND type = 'client.updated' ORDER BY id"), {"last": last_event})
                          .scalars())
        assert len(events) == CHANGES

        _wait_for(lambda: len(receiver.received) >= CHANGES, 30, f"{CHANGES} deliveries")
        time.sleep(2)  # a second delivery of an event would come now
        received = [int({k.lower(): v for k, v in request.headers.items()}["portal-event-id"])
                    for request in receiver.received]
    finally:
        receiver.stop()

    assert sorted(received) == events, received  # each once, none missing, nothing else
    deliveries = a.scalar("SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = :e", e=endpoint)
    succeeded = a.scalar("SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = :e AND status = 'succeeded' "
                         "AND attempt = 1", e=endpoint)
    assert deliveries == succeeded == CHANGES
