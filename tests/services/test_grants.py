"""Giving and taking roles, tested without HTTP (DESIGN.md section 4, issue 5 item 5)."""
import threading

import pytest
from sqlalchemy import func, select

from portal.domain.accounts import roles
from portal.domain.errors import Conflict, Forbidden, Invalid, NotFound
from portal.extensions import db
from portal.models import AuditEvent, RoleAssignment, User


def actor(demo, email) -> User:
    """The user as an actor, with its permissions read afresh (they are cached per object)."""
    user = demo.user(email)
    vars(user).pop("_rbac_identity", None)
    return user


def held(email) -> dict:
    """{role: [site ids]} as committed now."""
    db.session.rollback()
    rows = db.session.scalars(select(RoleAssignment).join(User).where(User.email == email)).all()
    return {row.role: sorted(site.id for site in row.sites) for row in rows}


def state():
    """What a refused change must leave alone: every assignment, its sites, and the audit log."""
    db.session.rollback()
    assignments = sorted((a.user_id, a.role, tuple(sorted(s.id for s in a.sites)))
                         for a in db.session.scalars(select(RoleAssignment)))
    return assignments, db.session.scalar(select(func.count(AuditEvent.id)))


def last_event():
    return db.session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))


def give(demo, email, role, sites=()):
    """Set up a role directly (not through the service under test)."""
    assignment = RoleAssignment(user_id=demo.user(email).id, role=role)
    assignment.sites = list(sites)
    db.session.add(assignment)
    db.session.commit()


def test_a_client_admin_gives_a_site_manager_role_limited_to_a_site(demo):
    admin = actor(demo, "admin@acme.example")
    paris = demo.paris
    member = demo.user("user1@acme.example")

    roles.grant_role(admin, member, "site_manager", [str(paris.id)])

    assert held("user1@acme.example") == {"site_manager": [paris.id]}
    event = last_event()
    assert (event.action, event.target_type, event.target_id, event.organisation_id, event.actor_email) == (
        "role.granted", "user", member.id, demo.acme.id, "admin@acme.example")
    assert event.before is None and event.after == {"role": "site_manager", "sites": [paris.id]}


def test_a_client_admin_of_acme_cannot_touch_globex_users(demo):
    admin = actor(demo, "admin@acme.example")
    globex_user = demo.user("user1@globex.example")
    before = state()

    with pytest.raises(NotFound) as refused:
        roles.grant_role(admin, globex_user, "member")
    assert refused.value.status == 404
    with pytest.raises(NotFound):
        roles.revoke_role(admin, demo.user("admin@globex.example"), "client_admin")

    assert state() == before


def test_a_partner_admin_cannot_give_roles_to_its_clients_users(demo):
    """Roles are managed inside one's own organisation only, even for the partner above."""
    with pytest.raises(NotFound):
        roles.grant_role(actor(demo, "admin@northwind.example"), demo.user("user1@acme.example"), "member")


def test_a_site_manager_cannot_grant_anything(demo):
    frontdesk = actor(demo, "frontdesk@acme.example")
    before = state()

    for role, sites in (("site_manager", [demo.lyon.id]), ("member", None), ("site_manager", None)):
        with pytest.raises(Forbidden):
            roles.grant_role(frontdesk, demo.user("user1@acme.example"), role, sites)

    assert roles.grantable_roles(frontdesk) == []
    assert state() == before


def test_the_last_client_admin_cannot_be_removed(demo):
    admin = actor(demo, "admin@acme.example")
    before = state()

    with pytest.raises(Conflict) as refused:
        roles.revoke_role(admin, demo.user("admin@acme.example"), "client_admin")

    assert "last active Client admin of Acme Dental" in refused.value.message
    assert "someone else first" in refused.value.message
    assert state() == before


def test_a_client_admin_can_step_down_once_another_admin_is_active(demo):
    admin = actor(demo, "admin@acme.example")
    roles.grant_role(admin, demo.user("user2@acme.example"), "client_admin")

    roles.revoke_role(admin, demo.user("admin@acme.example"), "client_admin")

    assert held("admin@acme.example") == {}
    event = last_event()
    assert (event.action, event.before, event.after) == (
        "role.revoked", {"role": "client_admin", "sites": []}, None)


def test_an_invited_or_deactivated_admin_does_not_count_as_the_other_admin(demo):
    give(demo, "user3@acme.example", "client_admin")
    user3 = demo.user("user3@acme.example")
    user3.status = "invited"
    db.session.commit()
    admin = actor(demo, "admin@acme.example")

    with pytest.raises(Conflict):
        roles.revoke_role(admin, demo.user("admin@acme.example"), "client_admin")
    # The invited one can go: an active admin stays.
    roles.revoke_role(admin, demo.user("user3@acme.example"), "client_admin")
    assert held("user3@acme.example") == {}


@pytest.mark.parametrize(("email", "organisation_admin"), [
    ("admin@southwind.example", "partner_admin"),
    ("operator@portal.example", "operator_admin"),
])
def test_the_last_partner_or_operator_admin_cannot_be_removed(demo, email, organisation_admin):
    with pytest.raises(Conflict):
        roles.revoke_role(actor(demo, email), demo.user(email), organisation_admin)
    assert organisation_admin in held(email)


@pytest.mark.parametrize(("email", "member", "role"), [
    ("admin@acme.example", "user1@acme.example", "accountant"),          # billing.view
    ("admin@northwind.example", "support@northwind.example", "finance"),  # subscriptions.*, billing.view
    ("admin@northwind.example", "support@northwind.example", "partner_support"),  # subscriptions.view
])
def test_nobody_can_grant_a_permission_they_do_not_hold(demo, email, member, role):
    before = state()

    with pytest.raises(Forbidden) as refused:
        roles.grant_role(actor(demo, email), demo.user(member), role)

    assert "permissions you do not hold" in refused.value.message
    assert state() == before


def test_a_finance_partner_admin_may_grant_finance(demo):
    roles.grant_role(actor(demo, "finance@northwind.example"), demo.user("support@northwind.example"), "finance")
    assert held("support@northwind.example") == {"finance": [], "partner_support": []}


def test_nobody_can_take_away_a_role_they_could_not_give(demo):
    """Otherwise a partner admin could strip finance, and nobody left could grant it back."""
    before = state()
    with pytest.raises(Forbidden):
        roles.revoke_role(actor(demo, "admin@northwind.example"), demo.user("finance@northwind.example"), "finance")
    assert state() == before


def test_a_granter_restricted_to_a_site_grants_only_at_that_site(demo):
    """Acme's admin who is also accountant of Paris holds billing.view at Paris only."""
    give(demo, "admin@acme.example", "accountant", [demo.paris])
    admin = actor(demo, "admin@acme.example")
    member = demo.user("user1@acme.example")
    before = state()

    with pytest.raises(Forbidden):
        roles.grant_role(admin, member, "accountant")                  # organisation-wide
    with pytest.raises(Forbidden):
        roles.grant_role(admin, member, "accountant", [demo.lyon.id])  # another site
    with pytest.raises(Forbidden):
        roles.grant_role(admin, member, "accountant", [demo.lyon.id, demo.paris.id])
    assert state() == before

    roles.grant_role(admin, member, "accountant", [demo.paris.id])
    assert held("user1@acme.example") == {"accountant": [demo.paris.id]}
    accountant = next(g for g in roles.grantable_roles(admin) if g.role.code == "accountant")
    assert (accountant.org_wide, accountant.site_ids) == (False, {demo.paris.id})


@pytest.mark.parametrize("role", ["no_such_role", "partner_admin", "operator_admin", "", None, 7, ["member"]])
def test_an_unknown_role_or_a_role_of_another_kind_is_invalid(demo, role):
    before = state()
    with pytest.raises(Invalid) as refused:
        roles.grant_role(actor(demo, "admin@acme.example"), demo.user("user1@acme.example"), role)
    assert refused.value.status == 422 and refused.value.field == "role"
    assert state() == before


def test_revoking_an_unknown_role_is_invalid(demo):
    with pytest.raises(Invalid):
        roles.revoke_role(actor(demo, "admin@acme.example"), demo.user("frontdesk@acme.example"), "nope")


def test_a_site_of_another_client_is_invalid(demo):
    globex_main = demo.site("Globex Clinic", "Main")
    before = state()

    with pytest.raises(Invalid) as refused:
        roles.grant_role(actor(demo, "admin@acme.example"), demo.user("user1@acme.example"), "site_manager",
                         [demo.lyon.id, globex_main.id])

    assert refused.value.status == 422 and refused.value.field == "site_ids"
    assert "sites of Acme Dental only" in refused.value.message
    assert state() == before


@pytest.mark.parametrize("sites", [["x"], [1.5], "12", [True], [-1], [10 ** 30], 5])
def test_malformed_site_ids_are_invalid(demo, sites):
    before = state()
    with pytest.raises(Invalid):
        roles.grant_role(actor(demo, "admin@acme.example"), demo.user("user1@acme.example"), "site_manager", sites)
    assert state() == before


def test_sites_on_a_role_that_cannot_be_restricted_are_invalid(demo):
    with pytest.raises(Invalid) as refused:
        roles.grant_role(actor(demo, "admin@acme.example"), demo.user("user1@acme.example"), "client_admin",
                         [demo.lyon.id])
    assert "cannot be limited to sites" in refused.value.message


def test_granting_a_held_role_changes_its_sites_or_says_it_is_held(demo):
    admin = actor(demo, "admin@acme.example")
    frontdesk = demo.user("frontdesk@acme.example")
    lyon, paris = demo.lyon.id, demo.paris.id

    with pytest.raises(Conflict) as refused:
        roles.grant_role(admin, frontdesk, "site_manager", [lyon])
    assert "already holds the Site manager role for Lyon" in refused.value.message

    roles.grant_role(admin, frontdesk, "site_manager", [lyon, paris])

    assert held("frontdesk@acme.example") == {"site_manager": sorted([lyon, paris])}
    event = last_event()
    assert (event.before, event.after) == ({"role": "site_manager", "sites": [lyon]},
                                           {"role": "site_manager", "sites": sorted([lyon, paris])})


def test_revoking_a_role_not_held_is_a_conflict(demo):
    with pytest.raises(Conflict):
        roles.revoke_role(actor(demo, "admin@acme.example"), demo.user("user1@acme.example"), "site_manager")


def test_a_deactivated_member_gets_no_new_role(demo):
    member = demo.user("user4@acme.example")
    member.status = "deactivated"
    db.session.commit()
    with pytest.raises(Conflict):
        roles.grant_role(actor(demo, "admin@acme.example"), demo.user("user4@acme.example"), "member")


def test_what_each_admin_may_grant(demo):
    def codes(email):
        return [(g.role.code, g.org_wide) for g in roles.grantable_roles(actor(demo, email))]

    assert codes("admin@acme.example") == [("client_admin", True), ("site_manager", True), ("member", True)]
    assert codes("admin@northwind.example") == [("partner_admin", True)]
    assert codes("finance@northwind.example") == [("partner_admin", True), ("finance", True),
                                                   ("partner_support", True)]
    assert codes("accountant@acme.example") == []
    assert codes("operator@portal.example") == [("operator_admin", True)]


def test_two_admins_revoking_each_other_at_once_leave_one_admin(demo, app):
    """The organisation row is locked for every role change, so only one revocation wins."""
    roles.grant_role(actor(demo, "admin@acme.example"), demo.user("user2@acme.example"), "client_admin")
    pairs = [("admin@acme.example", "user2@acme.example"), ("user2@acme.example", "admin@acme.example")]
    barrier = threading.Barrier(2)
    outcomes = []

    def revoke(actor_email, target_email):
        with app.app_context():
            try:
                who = db.session.scalar(select(User).where(User.email == actor_email))
                target = db.session.scalar(select(User).where(User.email == target_email))
                who.role_assignments, target.role_assignments  # load before the race
                barrier.wait(timeout=10)
                roles.revoke_role(who, target, "client_admin")
                outcomes.append("revoked")
            except Conflict:
                outcomes.append("refused")
            except Forbidden:
                outcomes.append("forbidden")  # the winner already removed this actor's admin role
            finally:
                db.session.remove()

    threads = [threading.Thread(target=revoke, args=pair) for pair in pairs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(outcomes) == 2 and outcomes.count("revoked") == 1
    db.session.rollback()
    admins = db.session.scalar(select(func.count(RoleAssignment.id)).join(User).where(
        User.organisation_id == demo.acme.id, RoleAssignment.role == "client_admin"))
    assert admins == 1
