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


def test_demo_scale_adds_clients_with_consistent_counters(runner):
    runner.invoke(args=["demo", "load"])
    result = runner.invoke(args=["demo", "scale", "--clients", "7", "--sites-per-client", "2", "--users-per-site", "3"])
    assert result.exit_code == 0, result.output
    assert "Added 7 clients, 14 sites, 42 users" in result.output
    northwind = db.session.scalar(select(Organisation).where(Organisation.name == "Northwind Telecom"))
    assert db.session.scalar(select(func.count()).where(Organisation.parent_id == northwind.id)) == 2 + 7
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
