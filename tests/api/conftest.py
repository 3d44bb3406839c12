"""Fixtures for the JSON API tests: clients that send a bearer token.

As in tests/blueprints, every request runs in its own fresh application
context (a real server gives each request one), so nothing cached on ``g``
or in the database session leaks from one request into the next.
"""
import pytest
from api_helpers import LOGINS, assert_error
from flask.testing import FlaskClient
from sqlalchemy import func, select

from portal.domain.accounts import api_tokens
from portal.extensions import db
from portal.models import Allocation, AuditEvent, Site, User


class ApiClient(FlaskClient):
    """A test client with an optional bearer token; each request gets its own app context."""

    token: str | None = None

    def open(self, *args, **kwargs):
        headers = dict(kwargs.pop("headers", None) or {})
        if self.token is not None:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        kwargs["headers"] = headers
        with self.application.app_context():
            return super().open(*args, **kwargs)


def api_client(app, token=None) -> ApiClient:
    client = ApiClient(app, app.response_class, use_cookies=True)
    client.token = token
    return client


@pytest.fixture
def anonymous(app):
    """An API client without a token."""
    return api_client(app)


@pytest.fixture
def client_with(app):
    """``client_with(token)`` → an API client sending that bearer token."""
    return lambda token: api_client(app, token)


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

    def make(who: str) -> ApiClient:
        email = LOGINS.get(who, who)
        if email not in cache:
            cache[email] = api_client(app, token_for(email))
        return cache[email]

    return make


@pytest.fixture
def snapshot(fresh):
    """What a refused request must leave alone: users, allocations, sites, audit events."""

    def take():
        fresh()
        users = db.session.execute(select(User.id, User.email, User.name, User.status, User.site_id,
                                          User.subscription_type_id).order_by(User.id)).all()
        allocations = db.session.execute(select(Allocation.site_id, Allocation.subscription_type_id,
                                                Allocation.allocated, Allocation.consumed)
                                         .order_by(Allocation.site_id, Allocation.subscription_type_id)).all()
        sites = db.session.execute(select(Site.id, Site.client_id, Site.name).order_by(Site.id)).all()
        audit = db.session.scalar(select(func.count(AuditEvent.id)))
        return dict(users=users, allocations=allocations, sites=sites, audit=audit)

    return take


@pytest.fixture
def error():
    return assert_error
