"""The fixtures of the whole suite: the app on SQLite (default) or PostgreSQL, logins, clients.

Set TEST_DATABASE_URL=postgresql+psycopg://… to run the suite on PostgreSQL.
Services commit their own transactions, so each test starts from empty
tables rather than from a rolled-back savepoint. A test builds the rows it
needs with tests/factories.py, or loads the demo data with the ``demo``
fixture. Plain helpers (the client class, HTML parsing, the API error shape)
live in tests/helpers.py.
"""
import os
from dataclasses import dataclass

import pytest
from sqlalchemy import event, func, select, text, update

from portal import create_app, extensions, jobs
from portal.config import TestingConfig
from portal.domain.accounts import api_tokens
from portal.domain.demo import DEMO_PASSWORD, load_demo
from portal.extensions import db
from portal.models import Allocation, AuditEvent, Organisation, OutboxEvent, Site, SubscriptionType, User
from portal.models.mixins import utcnow
from tests import demo_copy, helpers, mail_server
from tests.helpers import LOGINS, PortalClient, parse_html, portal_client

# The shared cast of the rule tests (tests/cast.py).
pytest_plugins = ["tests.cast", "tests.webhook_receiver"]

# --- the app and its database ----------------------------------------------------


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    return os.environ.get("TEST_DATABASE_URL") or "sqlite:///" + str(tmp_path_factory.mktemp("db") / "portal.sqlite")


@pytest.fixture(scope="session")
def testing_settings(database_url, tmp_path_factory) -> dict:
    """The settings the ``app`` fixture is built with (TestingConfig on the test database, its own job queue)."""
    settings = {key: getattr(TestingConfig, key) for key in dir(TestingConfig) if key.isupper()}
    settings["SQLALCHEMY_DATABASE_URI"] = database_url
    settings["JOBS_SQLITE_PATH"] = str(tmp_path_factory.mktemp("jobs") / "jobs.sqlite")
    return settings


@pytest.fixture(scope="session")
def app(testing_settings):
    app = create_app(testing_settings)
    app.test_client_class = PortalClient
    with app.app_context():
        db.drop_all()
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


def _empty_tables():
    db.session.rollback()
    # DELETE in dependency order: on a few rows it is much faster than TRUNCATE on PostgreSQL.
    tables = list(reversed(db.metadata.sorted_tables))
    if db.session.get_bind().dialect.name == "postgresql":
        # Every DELETE in one round trip (psycopg sends a query without parameters as it is).
        db.session.execute(text("; ".join(f'DELETE FROM "{table.name}"' for table in tables)))
    else:
        for table in tables:
            db.session.execute(table.delete())
    db.session.commit()


@pytest.fixture(autouse=True)
def app_context(app):
    """Each test runs inside an app context, on empty tables."""
    with app.app_context():
        _empty_tables()
        yield
        db.session.remove()


@pytest.fixture(autouse=True)
def job_queue(app, app_context):
    """Each test starts with an empty task queue (docs/rules.md rule 31), and reading an SMTP inbox
    (tests/mail_server.py) first does the jobs due, as a worker would have by then
    (``flask jobs run --until-empty``: every e-mail still goes through the queue and SMTP)."""
    jobs.jobs_of(app).huey.flush()
    mail_server.settle = lambda: jobs.run_until_empty(app)
    yield
    mail_server.settle = None


@pytest.fixture
def run_jobs(app):
    """``run_jobs()``: what ``flask jobs run --until-empty`` does now (its RunReport)."""
    return lambda: jobs.run_until_empty(app)


@pytest.fixture(autouse=True)
def fresh_rate_limits(app):
    """Start each test with no per-address request counts.

    Every test request comes from 127.0.0.1 and the limiter's storage lives as
    long as the process: without this, the suite's logins add up to the
    per-address login limit.
    """
    limiter = getattr(extensions, "limiter", None)
    if limiter is not None and getattr(limiter, "_storage", None) is not None:
        limiter.reset()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# --- the demo data -------------------------------------------------------------------


@dataclass
class Demo:
    """The demo data of portal.domain.demo, looked up by name."""

    def org(self, name) -> Organisation:
        return db.session.scalar(select(Organisation).where(Organisation.name == name))

    def site(self, client_name, site_name) -> Site:
        return db.session.scalar(
            select(Site).join(Organisation, Site.client_id == Organisation.id)
            .where(Organisation.name == client_name, Site.name == site_name))

    def user(self, email) -> User:
        return db.session.scalar(select(User).where(User.email == email))

    def type(self, code) -> SubscriptionType:
        return db.session.scalar(select(SubscriptionType).where(SubscriptionType.code == code))

    @property
    def acme(self):
        return self.org("Acme Dental")

    @property
    def lyon(self):
        return self.site("Acme Dental", "Lyon")

    @property
    def paris(self):
        return self.site("Acme Dental", "Paris")


@pytest.fixture
def demo():
    """The demo data, loaded as if long ago: its own events were handed on before the test began, so the
    e-mails and deliveries a test reads are those of its own changes (docs/rules.md rules 30-33).

    Loaded once and copied back for the next tests (tests/demo_copy.py says when it is loaded again)."""

    def load():
        load_demo()
        db.session.execute(update(OutboxEvent).where(OutboxEvent.relayed_at.is_(None)).values(relayed_at=utcnow()))
        db.session.commit()

    demo_copy.load(load)
    return Demo()


# --- screens: clients, logins, pages -------------------------------------------------


@pytest.fixture
def client(app):
    """An anonymous test client (``hx_get`` / ``hx_post`` send htmx requests)."""
    return portal_client(app)


@pytest.fixture
def login_as(app):
    """``login_as(email, password=DEMO_PASSWORD)`` → a test client logged in through the real login form."""

    def login(email: str, password: str = DEMO_PASSWORD):
        test_client = portal_client(app)
        response = test_client.post("/login", data={"email": email, "password": password})
        assert response.status_code == 302, f"login of {email} failed: {response.status_code}"
        return test_client

    return login


@pytest.fixture
def csrf_token_from():
    return helpers.csrf_token_from


@pytest.fixture
def html():
    """``html(response)`` → the parsed document (``.by_id``, ``.find_all``, ``.text``)."""

    def parse(response_or_text):
        text = response_or_text if isinstance(response_or_text, str) else response_or_text.get_data(as_text=True)
        return parse_html(text)

    return parse


@pytest.fixture
def assert_fragment():
    """Check that an htmx response is only the partial whose root element has ``root_id``."""

    def check(response, root_id, status=200):
        body = response.get_data(as_text=True)
        assert response.status_code == status, body[:500]
        assert "<html" not in body.lower() and "<body" not in body.lower()
        roots = parse_html(body).elements()
        assert len(roots) == 1, f"a fragment has one root element, got {[r.tag for r in roots]}"
        assert roots[0].attrs.get("id") == root_id
        assert "HX-Request" in response.headers.get("Vary", "")
        return roots[0]

    return check


# --- the JSON API ----------------------------------------------------------------------


@pytest.fixture
def anonymous(app):
    """An API client without a token."""
    return portal_client(app)


@pytest.fixture
def client_with(app):
    """``client_with(token)`` → an API client sending that bearer token."""
    return lambda token: portal_client(app, token)


@pytest.fixture
def token_for():
    """``token_for(email)`` → a new API token acting as that user."""

    def issue(email: str) -> str:
        user = db.session.scalar(select(User).where(User.email == email))
        secret = api_tokens.create_token(None, user).secret
        db.session.rollback()
        return secret

    return issue


@pytest.fixture
def api_as(app, demo, token_for):
    """``api_as("nw_finance")`` (a LOGINS key or an e-mail) → a client sending that user's token."""
    cache = {}

    def make(who: str) -> PortalClient:
        email = LOGINS.get(who, who)
        if email not in cache:
            cache[email] = portal_client(app, token_for(email))
        return cache[email]

    return make


@pytest.fixture
def error():
    return helpers.assert_error


@pytest.fixture
def statements():
    """The SQL the test's code sends from here on, in order (a list to clear between steps)."""
    seen = []

    def note(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    yield seen
    event.remove(db.engine, "before_cursor_execute", note)


# --- reading what requests committed -------------------------------------------------


@pytest.fixture
def fresh():
    """End the test's own read transaction, so the next query sees what requests committed."""

    def refresh():
        db.session.rollback()

    return refresh


@pytest.fixture
def seats(fresh):
    """``seats(site, code)`` → (allocated, consumed) as committed now; (0, 0) if never allocated."""

    def read(site, code):
        fresh()
        row = db.session.execute(
            select(Allocation.allocated, Allocation.consumed)
            .join(SubscriptionType, Allocation.subscription_type_id == SubscriptionType.id)
            .where(Allocation.site_id == site.id, SubscriptionType.code == code)
        ).first()
        return tuple(row) if row else (0, 0)

    return read


@pytest.fixture
def snapshot(fresh):
    """Everything a refused request must leave alone: users, allocations, sites, audit events.

    Successful logins ("auth.login") are left out of the audit count: a test
    may log in between two snapshots. Every other event counts, failed logins
    included.
    """

    def take():
        fresh()
        users = db.session.execute(
            select(User.id, User.email, User.name, User.status, User.site_id, User.subscription_type_id)
            .order_by(User.id)).all()
        allocations = db.session.execute(
            select(Allocation.site_id, Allocation.subscription_type_id, Allocation.allocated, Allocation.consumed)
            .order_by(Allocation.site_id, Allocation.subscription_type_id)).all()
        sites = db.session.execute(select(Site.id, Site.client_id, Site.name).order_by(Site.id)).all()
        audit = db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action != "auth.login"))
        return dict(users=users, allocations=allocations, sites=sites, audit=audit)

    return take
