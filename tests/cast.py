"""The people and places the rule tests share, built with the factories (a pytest plugin of tests/conftest.py).

Northwind Telecom (invoice prefix NW) with its admin and its finance admin, its
client Acme Dental (billed monthly from today, first invoice issued) with its
admin, the Essentials type, and the operator admin. A test module adds the
sites and seats it needs (each module's ``lyon`` differs on purpose).
"""
import pytest

from tests.factories import ClientFactory, PartnerFactory, SubscriptionTypeFactory, UserFactory


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
