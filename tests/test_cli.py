"""CLI commands, through Flask's runner."""
from sqlalchemy import func, select

from portal.domain.demo import DEMO_LOGINS
from portal.domain.seats import counters
from portal.extensions import db
from portal.models import Allocation, Organisation, User


def totals():
    return (db.session.scalar(select(func.count(User.id))),
            db.session.scalar(select(func.count(Organisation.id))),
            db.session.scalar(select(func.sum(Allocation.consumed))))


def test_demo_load_is_idempotent(runner):
    first = runner.invoke(args=["demo", "load"])
    assert first.exit_code == 0 and "loaded" in first.output
    after_first = totals()
    second = runner.invoke(args=["demo", "load"])
    assert second.exit_code == 0 and "already present" in second.output
    assert totals() == after_first


def test_demo_load_matches_the_design(runner):
    runner.invoke(args=["demo", "load"])
    users, organisations, consumed = totals()
    # 10 staff logins + 9 Acme + 7 Globex + 1 Initech seat holders
    assert len(DEMO_LOGINS) == 10
    assert users == 10 + 9 + 7 + 1
    assert organisations == 1 + 2 + 3
    assert consumed == 4 + 2 + 3 + 0 + 7 + 1
    holders = db.session.scalar(select(func.count(User.id)).where(User.site_id.is_not(None)))
    assert holders == consumed
    # docs/rules.md rule 37: the two French clinics invite in French, everyone else in English.
    languages = dict(db.session.execute(select(Organisation.name, Organisation.language)).all())
    assert {name for name, language in languages.items() if language == "fr"} == {"Acme Dental", "Globex Clinic"}
    assert {language for name, language in languages.items() if language != "fr"} == {"en"}


def test_demo_scale_adds_clients_with_consistent_counters(runner):
    runner.invoke(args=["demo", "load"])
    result = runner.invoke(args=["demo", "scale", "--clients", "7", "--sites-per-client", "2", "--users-per-site", "3"])
    assert result.exit_code == 0, result.output
    assert "Added 7 clients, 14 sites, 42 users" in result.output
    northwind = db.session.scalar(select(Organisation).where(Organisation.name == "Northwind Telecom"))
    assert db.session.scalar(select(func.count()).where(Organisation.parent_id == northwind.id)) == 2 + 7
    assert northwind.client_count == 2 + 7  # the client list's total (issue 17)
    scale_users = db.session.scalar(select(func.count(User.id)).where(User.email.like("%@scale.example")))
    assert scale_users == 42
    again = runner.invoke(args=["demo", "scale", "--clients", "2", "--sites-per-client", "1", "--users-per-site", "1"])
    assert again.exit_code == 0, again.output


def test_demo_scale_needs_the_demo_data_first(runner):
    result = runner.invoke(args=["demo", "scale", "--clients", "1"])
    assert result.exit_code != 0
    assert "Load the demo data first" in result.output


def test_demo_scale_refuses_nonsense_sizes(runner):
    runner.invoke(args=["demo", "load"])
    result = runner.invoke(args=["demo", "scale", "--clients", "-5"])
    assert result.exit_code == 2


def test_invitations_expire_frees_the_seats_of_expired_links(runner, monkeypatch):
    from datetime import timedelta

    from portal.domain.accounts import invitations, users
    from portal.models.mixins import utcnow

    runner.invoke(args=["demo", "load"])
    admin = db.session.scalar(select(User).where(User.email == "admin@acme.example"))
    lyon = admin.organisation.sites[0]
    essentials = next(a.subscription_type for a in lyon.allocations if a.subscription_type.code == "essentials")
    users.create_user(admin, lyon, essentials, "late@acme.example", "Late")
    assert counters.free_seats(lyon.id, essentials.id) == 0
    assert "0 expired invitations closed" in runner.invoke(args=["invitations", "expire"]).output
    later = utcnow() + timedelta(days=31)
    monkeypatch.setattr(invitations, "utcnow", lambda: later)
    assert "1 expired invitation closed" in runner.invoke(args=["invitations", "expire"]).output
    assert counters.free_seats(lyon.id, essentials.id) == 1


# --- demo reset ---------------------------------------------------------------------------

def demo_state():
    """What the demo looks like, by names (ids may differ after a reset on PostgreSQL)."""
    from portal.models import AuditEvent, Invoice, InvoiceLine, PartnerSeatTotal, RoleAssignment, Site, SubscriptionType

    db.session.rollback()
    organisations = sorted(db.session.execute(
        select(Organisation.kind, Organisation.name, Organisation.language, Organisation.discount_bp)).all())
    users = sorted(db.session.execute(
        select(User.email, User.name, User.status, Site.name).outerjoin(Site, User.site_id == Site.id)).all(),
        key=lambda row: row[0])
    seats = sorted(db.session.execute(
        select(Organisation.name, Site.name, SubscriptionType.code, Allocation.allocated, Allocation.consumed)
        .join(Site, Allocation.site_id == Site.id).join(Organisation, Site.client_id == Organisation.id)
        .join(SubscriptionType, Allocation.subscription_type_id == SubscriptionType.id)).all())
    roles = sorted(db.session.execute(
        select(User.email, RoleAssignment.role).join(User, RoleAssignment.user_id == User.id)).all())
    bills = sorted(db.session.execute(select(Invoice.number, Invoice.total, Invoice.period_start)).all())
    costs = sorted(db.session.execute(select(InvoiceLine.site_name, InvoiceLine.subscription_type_code,
                                             InvoiceLine.unit_cost, InvoiceLine.cost)).all())
    partner_totals = sorted(db.session.execute(
        select(Organisation.name, SubscriptionType.code, PartnerSeatTotal.allocated, PartnerSeatTotal.consumed)
        .join(Organisation, PartnerSeatTotal.partner_id == Organisation.id)
        .join(SubscriptionType, PartnerSeatTotal.subscription_type_id == SubscriptionType.id)).all())
    events = db.session.scalar(select(func.count(AuditEvent.id)))
    return dict(organisations=organisations, users=users, seats=seats, roles=roles, invoices=bills,
                costs=costs, partner_totals=partner_totals, events=events)


def test_demo_reset_brings_the_demo_back_to_its_first_state(runner):
    from portal.domain.accounts import grants
    from portal.domain.orgs import clients, partners
    from portal.domain.seats import allocations
    from portal.models import Site, SubscriptionType

    runner.invoke(args=["demo", "load"])
    first = demo_state()
    # A day of use: a new client, seats bought (an invoice, audit events), a role, bulk data.
    operator = db.session.scalar(select(User).where(User.email == "operator@portal.example"))
    northwind = db.session.scalar(select(Organisation).where(Organisation.name == "Northwind Telecom"))
    clients.create_client(operator, northwind, "Umbrella Dental", "annual", language="pl")
    partners.set_discount(operator, northwind, 2500)  # the demo's 20 % comes back with the reset
    acme = db.session.scalar(select(Organisation).where(Organisation.name == "Acme Dental"))
    acme.language = "en"
    db.session.commit()
    lyon = db.session.scalar(select(Site).where(Site.name == "Lyon"))
    essentials = db.session.scalar(select(SubscriptionType).where(SubscriptionType.code == "essentials"))
    allocations.set_allocation(operator, lyon, essentials, 9)
    alice = db.session.scalar(select(User).where(User.email == "admin@acme.example"))
    grants.grant_role(alice, db.session.scalar(select(User).where(User.email == "user1@acme.example")), "site_manager")
    assert runner.invoke(args=["demo", "scale", "--clients", "2", "--sites-per-client", "1",
                               "--users-per-site", "2"]).exit_code == 0
    assert demo_state() != first

    result = runner.invoke(args=["demo", "reset", "--yes"])

    assert result.exit_code == 0, result.output
    assert "Demo data reset" in result.output
    assert demo_state() == first


def test_demo_reset_is_refused_outside_debug_without_yes(runner, app):
    runner.invoke(args=["demo", "load"])
    operator = db.session.scalar(select(User).where(User.email == "operator@portal.example"))
    from portal.domain.orgs import clients

    clients.create_client(operator, db.session.scalar(select(Organisation).where(
        Organisation.name == "Northwind Telecom")), "Kept Clinic", "monthly")
    before = demo_state()
    assert app.debug is False

    result = runner.invoke(args=["demo", "reset"])

    assert result.exit_code == 1
    assert "add --yes to confirm" in result.output
    assert demo_state() == before


def test_demo_reset_needs_no_yes_in_debug_mode(runner, app, monkeypatch):
    runner.invoke(args=["demo", "load"])
    first = demo_state()
    operator = db.session.scalar(select(User).where(User.email == "operator@portal.example"))
    from portal.domain.orgs import clients

    clients.create_client(operator, db.session.scalar(select(Organisation).where(
        Organisation.name == "Northwind Telecom")), "Gone Clinic", "monthly")
    monkeypatch.setattr(app, "debug", True)

    result = runner.invoke(args=["demo", "reset"])

    assert result.exit_code == 0, result.output
    assert demo_state() == first


def test_demo_reset_on_an_empty_database_loads_the_demo(runner):
    result = runner.invoke(args=["demo", "reset", "--yes"])

    assert result.exit_code == 0, result.output
    users, organisations, _consumed = totals()
    assert users == 10 + 9 + 7 + 1 and organisations == 1 + 2 + 3
