"""End-to-end fixtures: the app served by a real gunicorn process on its own database.

Each test module gets a fresh database, prepared by the app's own CLI
(``flask --app wsgi db upgrade`` then ``demo load``), and its own server:

    gunicorn --workers 4 --threads 4 --bind 127.0.0.1:<free port> wsgi:app

with the normal configuration (CSRF on, a random SECRET_KEY), and beside it a
worker of the task queue (``flask --app wsgi jobs run``, on the module's own
queue file) that sends the e-mails, as ``make run`` does. Both are stopped when
the module ends, before the next module starts. Reading an SMTP inbox
(tests/mail_server.py) first waits until the worker has tried every e-mail queued.

Database: SQLite (a file in the module's tmp dir) unless TEST_DATABASE_URL is
set; then a separate PostgreSQL database ``<name>_e2e`` next to it, created for
the session and dropped at its end (the main suite's autouse fixture empties
the tables of TEST_DATABASE_URL before every test, the e2e servers must not
share it). Its schema is dropped and recreated for each module.

A traceback on the server's stderr fails the test during which it appeared
(and the module, if it appeared while shutting down).
"""
import http.cookiejar
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

from tests import mail_server

ROOT = Path(__file__).resolve().parents[2]
DEMO_PASSWORD = "demo-password"
SERVER_START_TIMEOUT = 30  # seconds


# ------------------------------------------------------------------ databases
def _pg_admin_engine(url):
    return create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)


@pytest.fixture(scope="session")
def e2e_postgres_url():
    """The URL of ``<TEST_DATABASE_URL's database>_e2e`` (created now, dropped at the end), or None."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        yield None
        return
    base_url = make_url(base)
    if not base_url.get_backend_name().startswith("postgresql"):
        pytest.fail(f"TEST_DATABASE_URL is not a PostgreSQL URL: {base_url.render_as_string(hide_password=True)}")
    name = f"{base_url.database}_e2e"
    if not re.fullmatch(r"[A-Za-z0-9_]+", name):
        pytest.fail(f"unexpected database name {name!r}")
    admin = _pg_admin_engine(base_url)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _fresh_database_url(e2e_postgres_url, tmp_dir: Path) -> str:
    if e2e_postgres_url is None:
        return "sqlite:///" + str(tmp_dir / "portal-e2e.sqlite")
    engine = _pg_admin_engine(e2e_postgres_url)
    with engine.connect() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return e2e_postgres_url


# --------------------------------------------------------------------- server
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _gunicorn_command() -> list[str]:
    venv_gunicorn = ROOT / ".venv" / "bin" / "gunicorn"
    if venv_gunicorn.exists():
        return [str(venv_gunicorn)]
    return [sys.executable, "-m", "gunicorn"]


def _gunicorn_extra_options() -> list[str]:
    """gunicorn >= 25 opens a control socket at one fixed path per user; several servers would clash."""
    try:
        from gunicorn.config import KNOWN_SETTINGS
    except ImportError:  # pragma: no cover
        return []
    names = {setting.name for setting in KNOWN_SETTINGS}
    return ["--no-control-socket"] if "control_socket_disable" in names else []


def _flask(args: list[str], env: dict, log: Path) -> None:
    flask = ROOT / ".venv" / "bin" / "flask"
    command = [str(flask)] if flask.exists() else [sys.executable, "-m", "flask"]
    result = subprocess.run([*command, "--app", "wsgi", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    with log.open("a") as out:
        out.write(f"$ flask --app wsgi {' '.join(args)}\n{result.stdout}{result.stderr}\n")
    if result.returncode != 0:
        pytest.fail(f"flask --app wsgi {' '.join(args)} failed ({result.returncode}):\n"
                    f"{result.stdout}\n{result.stderr}", pytrace=False)


def _wait_until_serving(process, url: str, port: int, stderr_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited with {process.returncode}:\n{stderr_path.read_text()}", pytrace=False)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                pass
            with urllib.request.urlopen(url + "/login", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"gunicorn did not answer on {url} within {SERVER_START_TIMEOUT} s:\n{stderr_path.read_text()}",
                pytrace=False)


def _stop(process) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # graceful: the master stops its workers
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


# The app logs JSON lines (docs/rules.md rule 43): an error it logged is a line at level ERROR or CRITICAL.
TRACEBACK = re.compile(r"^Traceback \(most recent call last\)|^\S*(Error|Exception): |\[CRITICAL\]|WORKER TIMEOUT"
                       r'|"level": "(ERROR|CRITICAL)"', re.MULTILINE)


@dataclass
class LiveServer:
    url: str
    database_url: str
    stderr_path: Path
    engine: object = field(repr=False)

    def session(self) -> "HttpSession":
        return HttpSession(self.url)

    def login(self, email: str, password: str = DEMO_PASSWORD) -> "HttpSession":
        """A new cookie jar, logged in through the real login form (CSRF token included)."""
        session = self.session()
        token = csrf_token_from(session.get("/login").expect(200).text)
        response = session.post("/login", {"csrf_token": token, "email": email, "password": password})
        assert response.status == 302, f"login of {email}: {response.status}\n{response.text[:500]}"
        return session

    def stderr(self, start: int = 0) -> str:
        with self.stderr_path.open("rb") as log:
            log.seek(start)
            return log.read().decode("utf-8", "replace")

    def stderr_size(self) -> int:
        return self.stderr_path.stat().st_size

    def scalar(self, sql: str, **params):
        with self.engine.connect() as connection:
            return connection.execute(text(sql), params).scalar()

    def one(self, sql: str, **params):
        with self.engine.connect() as connection:
            return connection.execute(text(sql), params).one()

    def ids(self) -> "DemoIds":
        """Ids of the demo objects the e2e tests use."""
        acme = self.scalar("SELECT id FROM organisations WHERE name = 'Acme Dental'")
        site = "SELECT id FROM sites WHERE client_id = :client AND name = :name"
        return DemoIds(
            acme=acme,
            lyon=self.scalar(site, client=acme, name="Lyon"),
            paris=self.scalar(site, client=acme, name="Paris"),
            essentials=self.scalar("SELECT id FROM subscription_types WHERE code = 'essentials'"),
            unlimited=self.scalar("SELECT id FROM subscription_types WHERE code = 'unlimited'"),
        )

    def allocation(self, site_id: int, type_id: int) -> tuple[int, int]:
        """(allocated, consumed) straight from the database."""
        row = self.one("SELECT allocated, consumed FROM allocations WHERE site_id = :s AND subscription_type_id = :t",
                       s=site_id, t=type_id)
        return row.allocated, row.consumed


@dataclass(frozen=True)
class DemoIds:
    acme: int
    lyon: int
    paris: int
    essentials: int
    unlimited: int


def server_problems(log: str) -> list[str]:
    """Lines of a gunicorn log that show a traceback, an error logged by the app or a worker timeout."""
    return [line for line in log.splitlines() if TRACEBACK.search(line)]


def problem_report(log: str, where: str) -> str:
    """A short failure message: how many problems, the distinct error lines, the first traceback."""
    problems = server_problems(log)
    distinct = list(dict.fromkeys(line for line in problems if not line.startswith("Traceback")))
    lines = log.splitlines()
    first = next((i for i, line in enumerate(lines) if line.startswith("Traceback")), None)
    excerpt = "\n".join(lines[max(0, (first or 0) - 2):(first or 0) + 60]) if first is not None else ""
    return (f"the server logged {sum(line.startswith('Traceback') for line in problems)} traceback(s) {where}:\n"
            + "\n".join(distinct[:20]) + ("\n\nfirst one:\n" + excerpt if excerpt else ""))


@pytest.fixture(scope="module")
def live_server(e2e_postgres_url, tmp_path_factory, request):
    """A gunicorn server (4 workers × 4 threads) on a freshly migrated database with the demo data.

    A test module may set ``SERVER_ENV`` (a dict) for settings of its own, e.g. an SMTP server.
    """
    tmp_dir = tmp_path_factory.mktemp("e2e")
    database_url = _fresh_database_url(e2e_postgres_url, tmp_dir)
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PORTAL_", "FLASK_")) and key not in ("DATABASE_URL", "SECRET_KEY")}
    env.update(DATABASE_URL=database_url, SECRET_KEY=secrets.token_hex(32), PYTHONUNBUFFERED="1",
               # docs/rules.md rule 41b: a server answers only to its own hosts (links in e-mails).
               PORTAL_TRUSTED_HOSTS='["127.0.0.1", "localhost"]',
               # The test server speaks plain HTTP: Secure cookies would never come back (docs/rules.md rule 41b).
               PORTAL_SESSION_COOKIE_SECURE="false")
    env.update(getattr(request.module, "SERVER_ENV", {}))
    env["PORTAL_JOBS_SQLITE_PATH"] = str(tmp_dir / "jobs.sqlite")
    setup_log = tmp_dir / "setup.log"
    _flask(["db", "upgrade"], env, setup_log)
    # The demo users share one password hash, made cheap here (the server verifies with the
    # parameters stored in the hash): dozens of logins per test must not cost 0.4 s each.
    _flask(["demo", "load"], {**env, "PORTAL_PASSWORD_HASH_TIME_COST": "1",
                              "PORTAL_PASSWORD_HASH_MEMORY_COST": "8192"}, setup_log)

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    stdout_path, stderr_path = tmp_dir / "gunicorn.out", tmp_dir / "gunicorn.err"
    with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [*_gunicorn_command(), "--workers", "4", "--threads", "4", "--bind", f"127.0.0.1:{port}",
             "--graceful-timeout", "10", *_gunicorn_extra_options(), "wsgi:app"],
            cwd=ROOT, env=env, stdout=stdout, stderr=stderr,
        )
    worker_path = tmp_dir / "worker.log"
    flask = ROOT / ".venv" / "bin" / "flask"
    with worker_path.open("wb") as worker_log:
        worker = subprocess.Popen([*([str(flask)] if flask.exists() else [sys.executable, "-m", "flask"]),
                                   "--app", "wsgi", "jobs", "run", "--workers", "2"],
                                  cwd=ROOT, env=env, stdout=worker_log, stderr=subprocess.STDOUT)
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        _wait_until_serving(process, url, port, stderr_path)
        yield LiveServer(url=url, database_url=database_url, stderr_path=stderr_path, engine=engine)
    finally:
        _stop(process)
        _stop(worker)
        engine.dispose()
    log = stderr_path.read_text(errors="replace")
    if server_problems(log):
        pytest.fail(problem_report(log, f"while serving this module (full log: {stderr_path})"), pytrace=False)
    if "Traceback" in worker_path.read_text(errors="replace"):
        pytest.fail(f"the worker logged a traceback (full log: {worker_path})", pytrace=False)


@pytest.fixture(autouse=True)
def job_queue(request):
    """Reading an SMTP inbox first waits until the live server's worker has tried every e-mail queued
    (instead of the main suite's run of the jobs in the test's own app)."""

    def settle():
        if "live_server" in request.fixturenames:
            _wait_for_mail(request.getfixturevalue("live_server"))

    mail_server.settle = settle
    yield
    mail_server.settle = None


def _wait_for_mail(server, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    untried = ("SELECT count(*) FROM mail_messages "
               "WHERE status = 'sending' OR (status = 'pending' AND attempts = 0)")
    while server.scalar(untried):
        if time.monotonic() > deadline:
            pytest.fail(f"the worker did not try every queued e-mail within {timeout} s", pytrace=False)
        time.sleep(0.1)


@pytest.fixture
def server(live_server):
    """The module's live server; fails the test if the server logged a traceback meanwhile."""
    start = live_server.stderr_size()
    yield live_server
    time.sleep(0.2)  # let the workers flush what the last responses logged
    log = live_server.stderr(start)
    if server_problems(log):
        pytest.fail(problem_report(log, f"during this test (full log: {live_server.stderr_path})"), pytrace=False)


# --------------------------------------------------------------- HTTP client
@dataclass
class Response:
    status: int
    headers: object
    text: str

    @property
    def location(self) -> str | None:
        return self.headers.get("Location")

    def expect(self, *statuses: int) -> "Response":
        assert self.status in statuses, f"expected {statuses}, got {self.status}:\n{self.text[:1000]}"
        return self


class _KeepErrors(urllib.request.HTTPErrorProcessor):
    """Hand back every response as is: no exception for 4xx/5xx, no redirect following."""

    def http_response(self, request, response):
        return response

    https_response = http_response


class HttpSession:
    """A browser-like session on urllib: its own cookie jar, redirects not followed."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.cookies = http.cookiejar.CookieJar()
        self._opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies), _KeepErrors())

    def request(self, method: str, path: str, data: dict | None = None, headers: dict | None = None,
                timeout: float = 60) -> Response:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(self.base_url + path, data=body, method=method, headers=headers or {})
        with self._opener.open(request, timeout=timeout) as response:
            return Response(response.status, response.headers, response.read().decode("utf-8", "replace"))

    def get(self, path: str, **kwargs) -> Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, data: dict, **kwargs) -> Response:
        return self.request("POST", path, data, **kwargs)

    def csrf_token(self, path: str) -> str:
        """The CSRF token of this session, read from the page at ``path``."""
        return csrf_token_from(self.get(path).expect(200).text)


def csrf_token_from(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'"X-CSRFToken": "([^"]+)"', html)
    assert match, "page carries no CSRF token"
    return match.group(1)
