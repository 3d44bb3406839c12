"""factory_boy factories: each test builds exactly the world it needs.

    partner = PartnerFactory(name="Northwind Telecom", invoice_prefix="NW")
    finance = UserFactory(organisation=partner, partner_admin=True, finance=True)
    acme = ClientFactory(parent=partner, name="Acme Dental")
    lyon = SiteFactory(client=acme, name="Lyon")
    essentials = SubscriptionTypeFactory(essentials=True)
    AllocationFactory(site=lyon, subscription_type=essentials, allocated=5, consumed=4)  # + 4 seat holders
    frontdesk = UserFactory(site_manager=True, sites=[lyon])

Every factory commits what it creates (``sqlalchemy_session_persistence =
"commit"``): the services open their own write transaction
(``write_transaction`` commits whatever the session holds first), and the
threads of the race tests read through sessions of their own, which see
committed rows only. Organisations and users come out as the real services
leave them: a client's billing is started by the billing service itself,
seat counters move through ``portal.domain.seats.counters`` (so the
partner's ``PartnerSeatTotal`` rows stay equal to the sum of its
allocations), and every user can log in with ``PASSWORD``.
"""
import functools
from datetime import date

import factory
from factory.alchemy import SQLAlchemyModelFactory

from portal import clock
from portal.domain.accounts.passwords import hash_password
from portal.domain.billing import invoices as billing
from portal.domain.demo import DEMO_PASSWORD
from portal.domain.orgs.clients import add_clients
from portal.domain.seats import counters
from portal.domain.transactions import write_transaction
from portal.extensions import db
from portal.models import Allocation, InvoiceSequence, Organisation, RoleAssignment, Site, SubscriptionType, User
from portal.rbac.roles import ROLES

# The demo's password, so ``login_as(user.email)`` works for factory users too.
PASSWORD = DEMO_PASSWORD


class Factory(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731 (the session of the current app context)
        sqlalchemy_session_persistence = "commit"


# --- organisations ---------------------------------------------------------------------


class OperatorFactory(Factory):
    """The operator: one per database (an existing one is returned)."""

    class Meta:
        model = Organisation
        sqlalchemy_get_or_create = ("kind", "name")

    kind = "operator"
    name = "Portal Operator"


class PartnerFactory(Factory):
    """A partner under the operator, with its invoice-number sequence (``invoice_prefix``, default "P<id>")."""

    class Meta:
        model = Organisation

    kind = "partner"
    name = factory.Sequence(lambda n: f"Partner {n}")
    parent = factory.SubFactory(OperatorFactory)

    @factory.post_generation
    def invoice_prefix(partner, create, extracted, **kwargs):
        if not create:
            return
        # As partners.create_partner does: the sequence is created with the partner.
        db.session.add(InvoiceSequence(partner_id=partner.id, prefix=extracted or f"P{partner.id}"))
        db.session.commit()


def start_billing(client: Organisation, start: date | None = None, *, trial_days: int | None = None) -> None:
    """Open the client's first period through the billing service, as creating a client does.

    Without a trial the period invoice is issued at once, for the seats
    allocated at that moment; with one, nothing is invoiced before it ends.
    """
    with write_transaction():
        billing.start_billing(None, client, start or clock.today(), trial_days=trial_days)


class ClientFactory(Factory):
    """A client of a partner, billed monthly, its billing started as ``clients.create_client`` starts it.

    ``started_on`` (default: the service clock's today, read when the factory
    runs) and ``trial_days`` are passed to the billing service;
    ``billed=False`` leaves the billing state empty (call ``start_billing``
    yourself once the sites and allocations the first invoice should list exist).
    """

    class Meta:
        model = Organisation

    kind = "client"
    name = factory.Sequence(lambda n: f"Client {n}")
    parent = factory.SubFactory(PartnerFactory)
    billing_cycle = "monthly"
    started_on = None
    trial_days = None
    billed = True

    @classmethod
    def _create(cls, model_class, *args, started_on=None, trial_days=None, billed=True, **kwargs):
        client = super()._create(model_class, *args, **kwargs)
        add_clients(client.parent_id, 1)  # as clients.create_client counts it
        if billed:
            start_billing(client, started_on, trial_days=trial_days)
        return client


class SiteFactory(Factory):
    class Meta:
        model = Site

    client = factory.SubFactory(ClientFactory)
    name = factory.Sequence(lambda n: f"Site {n}")


# --- the catalogue and the seat counters -----------------------------------------------


class SubscriptionTypeFactory(Factory):
    """A subscription type; one row per ``code`` (an existing one is returned).

    The traits ``essentials``, ``unlimited`` and ``support`` are the demo catalogue's types.
    """

    class Meta:
        model = SubscriptionType
        sqlalchemy_get_or_create = ("code",)

    class Params:
        essentials = factory.Trait(code="essentials", name="Essentials", monthly_price=1500, annual_price=15000)
        unlimited = factory.Trait(code="unlimited", name="Unlimited", monthly_price=2900, annual_price=29000)
        support = factory.Trait(code="support", name="Support", monthly_price=0, annual_price=0)

    code = factory.Sequence(lambda n: f"type{n}")
    name = factory.Sequence(lambda n: f"Type {n}")
    monthly_price = 1000
    annual_price = 10000
    currency = "EUR"


class AllocationFactory(Factory):
    """Seats bought (``allocated``) and in use (``consumed``) of one type at one site.

    The counters move through ``counters.add_seats``, as buying seats moves
    them, so the partner's totals follow; on an existing allocation the
    numbers are added. Each consumed seat gets a seat holder (an active user
    of the client at that site and type), unless ``holders=False``: then the
    counter says more than the users do, as after an import behind the
    services' back.
    """

    class Meta:
        model = Allocation

    site = factory.SubFactory(SiteFactory)
    subscription_type = factory.SubFactory(SubscriptionTypeFactory)
    allocated = 5
    consumed = 0
    holders = True

    @classmethod
    def _create(cls, model_class, site, subscription_type, allocated=0, consumed=0, holders=True):
        with write_transaction():
            counters.add_seats(site.id, subscription_type.id, allocated, take=consumed)
        if holders:
            SeatHolderFactory.create_batch(consumed, site=site, subscription_type=subscription_type,
                                           take_seat=False)
        return counters.allocation_row(site.id, subscription_type.id)


# --- users -------------------------------------------------------------------------------


@functools.lru_cache
def _password_hash(password: str) -> str:
    # Argon2 hashes carry their own parameters: one hash per password serves every test.
    return hash_password(password)


ROLE_CODES = tuple(ROLES)


def _roles(user) -> list[str]:
    return [code for code in ROLE_CODES if getattr(user, code)]


def _organisation_kind(user) -> str:
    kinds = {ROLES[code].organisation_kind for code in _roles(user)}
    assert len(kinds) <= 1, f"roles of several organisation kinds: {_roles(user)}"
    return kinds.pop() if kinds else "client"


class UserFactory(Factory):
    """An active user who logs in with ``PASSWORD``; roles are flags.

        UserFactory(organisation=partner, partner_admin=True, finance=True)
        UserFactory(organisation=acme, client_admin=True)
        UserFactory(site_manager=True, sites=[lyon])     # of lyon's client, site manager of Lyon only
        UserFactory(accountant=True, sites=[paris])      # accountant of Paris only
        UserFactory(organisation=acme, member=True)

    The flags are the role codes of ``portal.rbac.roles`` (operator_admin,
    partner_admin, finance, partner_support, client_admin, site_manager,
    accountant, member). ``sites`` limits the roles that can be limited to
    sites. Without ``organisation``, the user belongs to the client of
    ``sites`` or ``site``, else to a new organisation of the kind the roles
    need (a client when there are none).
    """

    class Meta:
        model = User

    class Params:
        password = PASSWORD
        sites = ()
        operator_admin = False
        partner_admin = False
        finance = False
        partner_support = False
        client_admin = False
        site_manager = False
        accountant = False
        member = False
        organisation_kind = factory.LazyAttribute(_organisation_kind)

    organisation = factory.Maybe(
        factory.LazyAttribute(lambda o: bool(o.sites) or o.site is not None),
        yes_declaration=factory.LazyAttribute(lambda o: (o.sites[0] if o.sites else o.site).client),
        no_declaration=factory.Maybe(
            factory.LazyAttribute(lambda o: o.organisation_kind == "client"),
            yes_declaration=factory.SubFactory(ClientFactory),
            no_declaration=factory.Maybe(
                factory.LazyAttribute(lambda o: o.organisation_kind == "partner"),
                yes_declaration=factory.SubFactory(PartnerFactory),
                no_declaration=factory.SubFactory(OperatorFactory))))
    email = factory.Sequence(lambda n: f"user{n}@example.org")
    name = factory.Sequence(lambda n: f"User {n}")
    status = "active"
    password_hash = factory.LazyAttribute(lambda o: _password_hash(o.password))
    site = None
    subscription_type = None
    role_assignments = factory.LazyAttribute(lambda o: [
        RoleAssignment(role=code, sites=list(o.sites) if ROLES[code].site_restrictable else [])
        for code in _roles(o)])


class SeatHolderFactory(UserFactory):
    """A user of the site's client holding a seat of ``subscription_type`` at ``site``.

    The seat is claimed through ``counters.claim_seat`` (``LookupError`` when
    none is free: create the allocation first); ``take_seat=False`` leaves
    the counters alone (``AllocationFactory`` counts its holders itself). A
    seat holder has no role unless given one (``member=True`` is what
    ``users.create_user`` gives).
    """

    site = factory.SubFactory(SiteFactory)
    subscription_type = factory.SubFactory(SubscriptionTypeFactory)
    take_seat = True

    @classmethod
    def _create(cls, model_class, *args, take_seat=True, **kwargs):
        user = super()._create(model_class, *args, **kwargs)
        if take_seat and user.holds_seat:
            with write_transaction():
                if not counters.claim_seat(user.site_id, user.subscription_type_id):
                    raise LookupError(f"no free seat for {user.email}: create its allocation first")
        return user
