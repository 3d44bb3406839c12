"""The demo data of docs/rules.md section 7, and synthetic bulk data for benchmarks."""
from dataclasses import dataclass

from sqlalchemy import func, insert, select

from portal import clock
from portal.domain.accounts.passwords import hash_password
from portal.domain.billing import invoices, periods
from portal.domain.demo_history import scale_history, write_demo_history
from portal.domain.insights import baselines as insight_baselines
from portal.domain.orgs.clients import add_clients
from portal.domain.seats.counters import recount_partner_totals
from portal.domain.transactions import insert_rows, write_transaction
from portal.extensions import db
from portal.models import Allocation, InvoiceSequence, Organisation, RoleAssignment, Site, SubscriptionType, User

DEMO_PASSWORD = "demo-password"

CATALOGUE = [
    ("essentials", "Essentials", 1500, 15000),
    ("unlimited", "Unlimited", 2900, 29000),
    ("support", "Support", 0, 0),
]

PREFIXES = {"Northwind Telecom": "NW", "Southwind Networks": "SW"}
# The operator's discount to each partner, in basis points (docs/rules.md section 8): 20 % and 15 %.
DISCOUNTS = {"Northwind Telecom": 2000, "Southwind Networks": 1500}
# Legal and tax details (docs/rules.md rule 25): what the demo's invoices print for seller and buyer.
# No address names a demo site's town (Lyon, Paris, Main, Berlin): a reader restricted to one site's
# lines must not read another site's name.
# Every partner and client at 20 % (French VAT), set on each (a client could leave it to its partner's).
TAX_RATE_BP = 2000
LEGAL = {
    "Northwind Telecom": dict(legal_name="Northwind Telecom SAS", vat_number="FR12345678901",
                              address="12 rue de la République\n13001 Marseille\nFrance"),
    "Southwind Networks": dict(legal_name="Southwind Networks GmbH", vat_number="DE123456789",
                               address="Hafenstraße 12\n20457 Hamburg\nDeutschland"),
    "Acme Dental": dict(legal_name="Acme Dental SARL", vat_number="FR98765432109",
                        address="3 rue Nationale\n59000 Lille\nFrance", billing_email="compta@acme.example"),
    "Globex Clinic": dict(legal_name="Clinique Globex SAS", vat_number="FR45678912345",
                          address="45 avenue Jean Médecin\n06000 Nice\nFrance",
                          billing_email="factures@globex.example"),
    "Initech Vet": dict(legal_name="Initech Tierarztpraxis GmbH", vat_number="DE987654321",
                        address="Königsallee 45\n40212 Düsseldorf\nDeutschland",
                        billing_email="buchhaltung@initech.example"),
}
# The language of each organisation's invitations (docs/rules.md rule 37): two French clinics; the rest English.
LANGUAGES = {"Acme Dental": "fr", "Globex Clinic": "fr"}
DEFAULT_LANGUAGE = "en"

# partner -> (staff [(email, name, roles)], clients)
# client -> (cycle, staff, sites {site: {type: (allocated, consumed)}}, user domain)
DEMO = {
    "Northwind Telecom": (
        [("admin@northwind.example", "Nora Admin", ["partner_admin"]),
         ("finance@northwind.example", "Felix Finance", ["partner_admin", "finance"]),
         ("support@northwind.example", "Sam Support", ["partner_support"])],
        {
            "Acme Dental": ("monthly", "acme.example",
                            [("admin@acme.example", "Alice Acme", ["client_admin"], None),
                             ("accountant@acme.example", "Arthur Accountant", ["accountant"], None),
                             ("frontdesk@acme.example", "Fanny Frontdesk", ["site_manager"], "Lyon")],
                            {"Lyon": {"essentials": (5, 4), "unlimited": (2, 2)},
                             "Paris": {"essentials": (3, 3), "support": (2, 0)}}),
            "Globex Clinic": ("annual", "globex.example",
                              [("admin@globex.example", "Gina Globex", ["client_admin"], None)],
                              {"Main": {"unlimited": (10, 7)}}),
        },
    ),
    "Southwind Networks": (
        [("admin@southwind.example", "Sven Southwind", ["partner_admin", "finance"])],
        {
            "Initech Vet": ("monthly", "initech.example",
                            [("admin@initech.example", "Ivan Initech", ["client_admin"], None)],
                            {"Berlin": {"essentials": (4, 1)}}),
        },
    ),
}

DEMO_LOGINS = [
    "operator@portal.example",
    *[email for staff, _ in DEMO.values() for email, _, _ in staff],
    *[email for _, clients in DEMO.values() for c in clients.values() for email, *_ in c[2]],
]


def _get_or_add(model, defaults=None, **keys):
    obj = db.session.scalar(select(model).filter_by(**keys))
    if obj is None:
        obj = model(**keys, **(defaults or {}))
        db.session.add(obj)
        db.session.flush()
    return obj, obj in db.session.new or obj._sa_instance_state.pending


def _user(email, name, organisation, password_hash, roles=(), site=None, seat=None):
    user = db.session.scalar(select(User).where(User.email == email))
    if user is not None:
        return user
    user = User(email=email, name=name, organisation_id=organisation.id, status="active",
                password_hash=password_hash)
    if seat is not None:
        user.site_id, user.subscription_type_id = seat
    db.session.add(user)
    db.session.flush()
    for role in roles:
        assignment = RoleAssignment(user_id=user.id, role=role)
        if role == "site_manager" and site is not None:
            assignment.sites = [site]
        db.session.add(assignment)
    return user


def load_demo() -> bool:
    """Load the demo data; returns False (and changes nothing) if it is already there.

    All demo users share one password hash: the data is for demonstrations only.
    """
    if db.session.scalar(select(User.id).where(User.email == "operator@portal.example")):
        return False
    password_hash = hash_password(DEMO_PASSWORD)
    with write_transaction():
        _load(password_hash)
    return True


def reset_demo() -> None:
    """Bring the database back to the demo's first state: every row of every table goes, then the demo.

    One transaction: should loading fail, nothing was deleted. Everything goes — clients
    and users added since, ``demo scale`` data, invoices, audit events, login sessions
    (everyone is logged out) — and the demo's periods start today again, as after
    ``demo load`` on an empty database. The schema and its migration history stay.
    """
    password_hash = hash_password(DEMO_PASSWORD)  # slow on purpose: before the write lock
    with write_transaction():
        for table in reversed(db.metadata.sorted_tables):  # children before parents
            db.session.execute(table.delete())
        # Objects the session still holds are gone from the database; new rows may take their ids.
        db.session.expunge_all()
        _load(password_hash)


def _load(password_hash: str) -> None:
    """The demo data, with its last 90 days of seat history (portal.domain.demo_history), in the caller's
    transaction."""
    types = {}
    for code, name, monthly, annual in CATALOGUE:
        types[code], _ = _get_or_add(SubscriptionType, code=code, defaults=dict(
            name=name, monthly_price=monthly, annual_price=annual, currency="EUR"))
    operator = Organisation(kind="operator", name="Portal Operator", language=DEFAULT_LANGUAGE)
    db.session.add(operator)
    db.session.flush()
    _user("operator@portal.example", "Olga Operator", operator, password_hash, ["operator_admin"])
    partner_ids = []
    for partner_name, (staff, clients) in DEMO.items():
        partner = Organisation(kind="partner", name=partner_name, parent_id=operator.id,
                               language=LANGUAGES.get(partner_name, DEFAULT_LANGUAGE),
                               discount_bp=DISCOUNTS[partner_name], tax_rate_bp=TAX_RATE_BP,
                               **LEGAL[partner_name])
        db.session.add(partner)
        db.session.flush()
        db.session.add(InvoiceSequence(partner_id=partner.id, prefix=PREFIXES[partner_name]))
        for email, name, roles in staff:
            _user(email, name, partner, password_hash, roles)
        for client_name, (cycle, domain, client_staff, sites) in clients.items():
            _load_client(partner, client_name, cycle, domain, client_staff, sites, types, password_hash)
        recount_partner_totals(partner.id)
        partner_ids.append(partner.id)
    write_demo_history(partner_ids)
    for partner_id in partner_ids:  # insight reads them from the first page (rule 36)
        insight_baselines.build(partner_id)


def _load_client(partner, name, cycle, domain, staff, sites, types, password_hash):
    client = Organisation(kind="client", name=name, parent_id=partner.id, billing_cycle=cycle,
                          language=LANGUAGES.get(name, DEFAULT_LANGUAGE), tax_rate_bp=TAX_RATE_BP, **LEGAL[name])
    db.session.add(client)
    db.session.flush()
    add_clients(partner.id, 1)
    by_name = {}
    number = 0
    for site_name, allocations in sites.items():
        site = Site(client_id=client.id, name=site_name)
        db.session.add(site)
        db.session.flush()
        by_name[site_name] = site
        for code, (allocated, consumed) in allocations.items():
            db.session.add(Allocation(site_id=site.id, subscription_type_id=types[code].id,
                                      allocated=allocated, consumed=consumed))
            for _ in range(consumed):
                number += 1
                _user(f"user{number}@{domain}", f"User {number}", client, password_hash,
                      seat=(site.id, types[code].id))
    for email, staff_name, roles, site_name in staff:
        _user(email, staff_name, client, password_hash, roles, site=by_name.get(site_name))
    # The current period starts today and its invoice is issued, so invoice screens are not empty.
    invoices.start_billing(None, client, clock.today())


SCALE_BATCH = 1000  # clients per batch of ``demo scale``'s inserts (one transaction in all)


def scale_demo(clients: int, sites_per_client: int, users_per_site: int, progress=None) -> int:
    """Add synthetic clients to Northwind Telecom with bulk inserts; returns users added.

    Each site gets ``users_per_site`` Essentials users and two spare seats, and a
    year of seat history ending today; each client's period starts today, not yet
    invoiced (a billing run issues it). One transaction, written in batches of
    ``SCALE_BATCH`` clients: ``progress(done, total)``, if given, is told of
    the clients written after each (``portal.cli.progress``).
    """
    partner = db.session.scalar(select(Organisation).where(
        Organisation.kind == "partner", Organisation.name == "Northwind Telecom"))
    if partner is None:
        raise LookupError("Load the demo data first: flask --app wsgi demo load")
    essentials = db.session.scalar(select(SubscriptionType).where(SubscriptionType.code == "essentials"))
    password_hash = db.session.scalar(select(User.password_hash).where(User.email == "admin@northwind.example"))
    batch = _ScaleBatch(partner.id, essentials.id, sites_per_client, users_per_site, password_hash)
    with write_transaction():
        start = db.session.scalar(select(func.count()).where(
            Organisation.parent_id == partner.id, Organisation.name.like("Scale client %")))
        with scale_history(partner.id, essentials.id, users_per_site + 2, users_per_site) as write_history:
            for first in range(0, clients, SCALE_BATCH):
                size = min(SCALE_BATCH, clients - first)
                write_history(batch.write(start + first, size))
                if progress is not None:
                    progress(first + size, clients)
        add_clients(partner.id, clients)
        recount_partner_totals(partner.id)
        insight_baselines.build(partner.id)  # bulk inserts leave no event: the old baseline would be read
    return clients * sites_per_client * users_per_site


@dataclass(frozen=True)
class _ScaleBatch:
    """What every batch of ``demo scale`` writes alike."""

    partner_id: int
    type_id: int
    sites_per_client: int
    users_per_site: int
    password_hash: str

    def write(self, number: int, clients: int) -> list[int]:
        """``clients`` clients named from ``number`` on, with their sites, seats and users; their site ids."""
        today = clock.today()
        ends = {cycle: periods.add_period(today, cycle) for cycle in ("monthly", "annual")}
        client_ids = db.session.scalars(
            insert(Organisation).returning(Organisation.id, sort_by_parameter_order=True),
            [dict(kind="client", name=f"Scale client {number + i:06d}", parent_id=self.partner_id,
                  billing_cycle=cycle, billing_anchor_day=today.day, period_start=today, period_end=ends[cycle],
                  language=DEFAULT_LANGUAGE)
             for i in range(clients) for cycle in ["monthly" if (number + i) % 4 else "annual"]],
        ).all()
        site_rows = [dict(client_id=cid, name=f"Site {s + 1}")
                     for cid in client_ids for s in range(self.sites_per_client)]
        site_ids = db.session.scalars(
            insert(Site).returning(Site.id, sort_by_parameter_order=True), site_rows).all()
        # Core inserts (the tables, not the mapped classes): the ORM's bulk path cost a second per 200,000 rows.
        insert_rows(Allocation.__table__, [
            dict(site_id=sid, subscription_type_id=self.type_id,
                 allocated=self.users_per_site + 2, consumed=self.users_per_site) for sid in site_ids])
        if self.users_per_site:
            insert_rows(User.__table__, [
                dict(organisation_id=site_rows[n]["client_id"], site_id=sid, subscription_type_id=self.type_id,
                     email=f"u{u}.s{sid}@scale.example", name=f"User {u} of site {sid}",
                     status="active", password_hash=self.password_hash)
                for n, sid in enumerate(site_ids) for u in range(self.users_per_site)])
        return list(site_ids)


