"""Keyed POSTs, pages and the API across a real PostgreSQL outage (docs/rules.md rule 41b).

A private PostgreSQL server is started for this module and stopped with
``pg_ctl stop -m immediate`` in the middle of requests, as a crash would.
Before, such an outage left keys reserved without an answer (every retry got
409 for 24 hours) and changes committed behind a 500 that said nothing was
changed. Now a retry after recovery replays the first answer or runs the
request, and the change exists exactly once.
"""
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest
from sqlalchemy import func, select

from portal import create_app
from portal.domain import idempotency
from portal.domain.accounts import api_tokens
from portal.domain.demo import load_demo
from portal.extensions import db
from portal.models import IdempotencyKey, Organisation, Site, User

pytestmark = pytest.mark.slow


def _pg_bin() -> str | None:
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.access(os.path.join(folder, "pg_ctl"), os.X_OK):
            return folder
    return None


class PrivatePostgres:
    """initdb, start, stop -m immediate: a server this test may crash at will."""

    def __init__(self, folder: str):
        self.bin, self.folder = _pg_bin(), folder
        self.data = os.path.join(folder, "data")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]

    def _run(self, *args):
        command = [os.path.join(self.bin, args[0]), *args[1:]]
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, cwd=self.folder)

    def init(self):
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run("initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C")
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "portal")

    def start(self):
        self._run("pg_ctl", "-D", self.data, "-w", "-l", os.path.join(self.folder, "log"),
                  "-o", f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def crash(self):
        self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/portal"


@pytest.fixture(scope="module")
def postgres():
    if _pg_bin() is None:
        pytest.skip("PostgreSQL server binaries are not installed")
    # Directly under /tmp: pytest's own tmp folders are private to root, and the
    # server runs as ``postgres``; a short path also keeps the socket name legal.
    folder = tempfile.mkdtemp(prefix="portal-pg-", dir="/tmp")
    server = PrivatePostgres(folder)
    try:
        server.init()
        yield server
    finally:
        try:
            server.crash()
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def outage_app(postgres, testing_settings):
    app = create_app({**testing_settings, "SQLALCHEMY_DATABASE_URI": postgres.url})
    with app.app_context():
        db.drop_all()
        db.create_all()
        load_demo()
        admin = db.session.scalar(select(User).where(User.email == "admin@northwind.example"))
        token = api_tokens.create_token(None, admin).secret
        acme_id = db.session.scalar(select(Organisation.id).where(Organisation.name == "Acme Dental"))
    yield app, token, acme_id
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _post_until_answered(app, token, url, body, key, within=30.0):
    """Retry as a client would after an outage: until the answer is not a server error (at most ``within`` s)."""
    deadline = time.monotonic() + within
    while True:
        with app.app_context():
            response = app.test_client().post(url, json=body, headers={
                "Authorization": f"Bearer {token}", "Idempotency-Key": key})
        if response.status_code < 500 or time.monotonic() > deadline:
            return response
        time.sleep(0.5)


def _count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_a_crash_between_the_change_and_its_answer_leaves_nothing_half_done(postgres, outage_app, monkeypatch):
    app, token, acme_id = outage_app
    url = f"/api/v1/clients/{acme_id}/sites"
    store = idempotency.store_answer

    def crash_first(*args, **kwargs):
        postgres.crash()  # the change is written but not committed: the server dies now
        return store(*args, **kwargs)

    monkeypatch.setattr(idempotency, "store_answer", crash_first)
    with app.app_context():
        failed = app.test_client().post(url, json={"name": "Crashed"}, headers={
            "Authorization": f"Bearer {token}", "Idempotency-Key": "crash"})
    assert failed.status_code == 503  # the database went away: retry later
    monkeypatch.undo()

    postgres.start()
    retried = _post_until_answered(app, token, url, {"name": "Crashed"}, "crash")
    assert retried.status_code == 201, retried.get_data(as_text=True)
    assert "Idempotent-Replayed" not in retried.headers  # the first attempt changed nothing: it ran again
    assert _count(app, Site, Site.name == "Crashed") == 1
    replayed = _post_until_answered(app, token, url, {"name": "Crashed"}, "crash")
    assert replayed.headers["Idempotent-Replayed"] == "true" and replayed.get_json() == retried.get_json()


def test_requests_sent_while_the_database_is_down_run_once_it_is_back(postgres, outage_app):
    app, token, acme_id = outage_app
    url = f"/api/v1/clients/{acme_id}/sites"
    postgres.crash()
    with app.app_context():
        down = app.test_client().post(url, json={"name": "Later"}, headers={
            "Authorization": f"Bearer {token}", "Idempotency-Key": "later"})
    assert down.status_code >= 500
    postgres.start()
    answered = _post_until_answered(app, token, url, {"name": "Later"}, "later")
    assert answered.status_code == 201
    assert _count(app, Site, Site.name == "Later") == 1
    assert _count(app, IdempotencyKey, IdempotencyKey.status.is_(None)) == 0


def test_with_the_database_down_pages_and_the_api_answer_503_with_retry_after(postgres, outage_app):
    app, token, _ = outage_app
    browser = app.test_client()
    with app.app_context():
        logged_in = browser.post("/login", data={"email": "admin@northwind.example", "password": "demo-password"})
    assert logged_in.status_code == 302
    postgres.crash()
    try:
        with app.app_context():
            page = browser.get("/overview")
            api = app.test_client().get("/api/v1/clients", headers={"Authorization": f"Bearer {token}"})
    finally:
        postgres.start()
    assert page.status_code == 503 and page.headers["Retry-After"] == "30"
    assert "Temporarily unavailable" in page.get_data(as_text=True)
    assert api.status_code == 503 and api.headers["Retry-After"] == "30"
    assert api.get_json()["error"]["code"] == "unavailable"
    deadline = time.monotonic() + 30  # and back to normal once the database answers again
    while True:
        with app.app_context():
            page = browser.get("/overview")
        if page.status_code != 503 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert page.status_code == 200
