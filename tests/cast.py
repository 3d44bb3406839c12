"""The people and places the rule tests share, built with the factories (a pytest plugin of tests/conftest.py).

Northwind Telecom (invoice prefix NW) with its admin and its finance admin, its
client Acme Dental (billed monthly from today, first invoice issued) with its
admin, the Essentials type, and the operator admin. A test module adds the
sites and seats it needs (each module's ``lyon`` differs on purpose).
"""
import os
import sys

import pytest

from portal import clock, create_app
from portal.extensions import db
from tests import mail_server
from tests.factories import ClientFactory, PartnerFactory, SubscriptionTypeFactory, UserFactory


@pytest.fixture
def on(monkeypatch):
    """Move the service clock: ``on(date(2027, 1, 15))``."""

    def move(day):
        monkeypatch.setattr(clock, "today", lambda: day)

    return move


@pytest.fixture
def tenner():
    """A 10.00-a-month type, to check the proration vectors of the issue."""
    return SubscriptionTypeFactory(code="tenner", name="Tenner", monthly_price=1000, annual_price=10000)


@pytest.fixture
def essentials():
    return SubscriptionTypeFactory(essentials=True)


@pytest.fixture
def operator():
    """The operator admin: the only one who keeps the catalogue and creates partners."""
    return UserFactory(operator_admin=True)


@pytest.fixture
def northwind():
    return PartnerFactory(name="Northwind Telecom", invoice_prefix="NW")


@pytest.fixture
def nw_admin(northwind):
    return UserFactory(organisation=northwind, partner_admin=True)


@pytest.fixture
def finance(northwind):
    """A partner admin who also holds finance (subscriptions.manage)."""
    return UserFactory(organisation=northwind, email="finance@northwind.example", partner_admin=True, finance=True)


@pytest.fixture
def acme(northwind):
    """A monthly client whose first period started today, invoiced."""
    return ClientFactory(parent=northwind, name="Acme Dental")


@pytest.fixture
def acme_admin(acme):
    return UserFactory(organisation=acme, email="admin@acme.example", client_admin=True)


class Outbox:
    """The messages a real SMTP server on loopback received during the test, as ``(to, subject, body)``."""

    def __init__(self, inbox):
        self._inbox = inbox

    def _sent(self) -> list[tuple[str, str, str]]:
        return [(m["To"], m["Subject"], m.get_body(("plain",)).get_content()) for m in self._inbox.messages]

    def __iter__(self):
        return iter(self._sent())

    def __len__(self):
        return len(self._inbox.messages)

    def __getitem__(self, index):
        return self._sent()[index]

    def __eq__(self, other):
        return self._sent() == list(other)


@pytest.fixture(scope="session")
def smtp_server():
    controller, inbox = mail_server.start()
    yield controller, inbox
    controller.stop()


@pytest.fixture
def outbox(app, smtp_server, monkeypatch):
    """Send this test's e-mail to a real SMTP server (aiosmtpd on loopback) and read what it received
    (once the due jobs are done: the ``job_queue`` fixture)."""
    controller, inbox = smtp_server
    inbox.received.clear()
    monkeypatch.setitem(app.config, "MAIL_SERVER", controller.hostname)
    monkeypatch.setitem(app.config, "MAIL_PORT", controller.port)
    return Outbox(inbox)


@pytest.fixture
def csrf_app(testing_settings):
    """A second app on the same database, with CSRF protection on as in production (docs/rules.md rule 18)."""
    app = create_app({**testing_settings, "WTF_CSRF_ENABLED": True})
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def production_env(monkeypatch):
    """No debug, not under `flask`, no settings from the developer's shell."""
    for name in list(os.environ):
        if name.startswith(("FLASK_", "PORTAL_")) or name in ("SECRET_KEY", "DATABASE_URL"):
            monkeypatch.delenv(name)
    monkeypatch.setattr(sys, "argv", ["gunicorn", "wsgi:app"])
