"""Shared fixtures: the app on SQLite (default) or PostgreSQL, demo data, logins.

Set TEST_DATABASE_URL=postgresql+psycopg://… to run the suite on PostgreSQL.
Services commit their own transactions, so each test starts from empty
tables rather than from a rolled-back savepoint.
"""
import os
import re
from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from portal import create_app
from portal.config import TestingConfig
from portal.domain.demo import DEMO_PASSWORD, load_demo
from portal.extensions import db
from portal.models import Allocation, Organisation, Site, SubscriptionType, User


def _testing_settings(database_url: str) -> dict:
    settings = {key: getattr(TestingConfig, key) for key in dir(TestingConfig) if key.isupper()}
    settings["SQLALCHEMY_DATABASE_URI"] = database_url
    return settings


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    return os.environ.get("TEST_DATABASE_URL") or "sqlite:///" + str(tmp_path_factory.mktemp("db") / "portal.sqlite")


class PortalClient(FlaskClient):
    """A test client whose requests run as under a real server.

    Tests keep an app context pushed (see ``app_context``), and Flask reuses a
    pushed context for requests: ``g`` (where Flask-Login caches the user) and
    the database session would carry over between requests of different
    clients. Each request gets its own app context instead; afterwards the
    test's own session is rolled back so it sees what the request committed.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            response = super().open(*args, **kwargs)
        db.session.rollback()
        return response


@pytest.fixture(scope="session")
def app(database_url):
    app = create_app(_testing_settings(database_url))
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
    for table in reversed(db.metadata.sorted_tables):
        db.session.execute(table.delete())
    db.session.commit()


@pytest.fixture(autouse=True)
def app_context(app):
    """Each test runs inside an app context, on empty tables."""
    with app.app_context():
        _empty_tables()
        yield
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@dataclass
class Demo:
    """The demo data of DESIGN.md section 7, looked up by name."""

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
    load_demo()
    return Demo()


@pytest.fixture
def login_as(app):
    """Return a test client logged in through the real login form."""

    def login(email: str, password: str = DEMO_PASSWORD):
        test_client = app.test_client()
        response = test_client.post("/login", data={"email": email, "password": password})
        assert response.status_code == 302, f"login of {email} failed: {response.status_code}"
        return test_client

    return login


def csrf_token_from(html: str) -> str:
    """The CSRF token a rendered page carries (hidden field or hx-headers)."""
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'"X-CSRFToken": "([^"]+)"', html)
    assert match, "page carries no CSRF token"
    return match.group(1)


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
