"""Giving and taking roles, tested without HTTP (docs/rules.md section 4, issue 5 item 5)."""
import threading

import pytest
from sqlalchemy import func, select

from portal.domain.accounts import grants
from portal.domain.errors import Conflict, Forbidden, Invalid, NotFound
from portal.extensions import db
from portal.models import AuditEvent, RoleAssignment, User
from tests.factories import ClientFactory, SiteFactory, UserFactory


def actor(user) -> User:
    """The user as an actor, with its permissions read afresh (they are cached per object)."""
    vars(user).pop("_rbac_identity", None)
    return user


def held(user) -> dict:
    """{role: [site ids]} as committed now."""
    db.session.rollback()
    rows = db.session.scalars(select(RoleAssignment).where(RoleAssignment.user_id == user.id)).all()
    return {row.role: sorted(site.id for site in row.sites) for row in rows}


def state():
    """What a refused change must leave alone: every assignment, its sites, and the audit log."""
    db.session.rollback()
    assignments = sorted((a.user_id, a.role, tuple(sorted(s.id for s in a.sites)))
                         for a in db.session.scalars(select(RoleAssignment)))
    return assignments, db.session.scalar(select(func.count(AuditEvent.id)))


def last_event():
    return db.session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))


# The cast: the partner Northwind and its staff, its clients Acme Dental (sites
# Lyon and Paris) and Globex Clinic, and their people. Each test asks for the
# ones it needs (parametrized tests by fixture name).


@pytest.fixture
def nw_finance(northwind):
    return UserFactory(organisation=northwind, partner_admin=True, finance=True)


@pytest.fixture
def nw_support(northwind):
    return UserFactory(organisation=northwind, partner_support=True)


@pytest.fixture
def lyon(acme):
    return SiteFactory(client=acme, name="Lyon")


@pytest.fixture
def paris(acme):
    return SiteFactory(client=acme, name="Paris")


@pytest.fixture
def member(acme):
    """A user of Acme without any role."""
    return UserFactory(organisation=acme)


@pytest.fixture
def frontdesk(lyon):
    return UserFactory(site_manager=True, sites=[lyon])


@pytest.fixture
def accountant(acme):
    return UserFactory(organisation=acme, accountant=True)


@pytest.fixture
def globex(northwind):
    return ClientFactory(parent=northwind, name="Globex Clinic")


def test_a_client_admin_gives_a_site_manager_role_limited_to_a_site(acme, acme_admin, member, paris):
    grants.grant_role(actor(acme_admin), member, "site_manager", [str(paris.id)])

    assert held(member) == {"site_manager": [paris.id]}
    event = last_event()
    assert (event.action, event.target_type, event.target_id, event.organisation_id, event.actor_email) == (
        "role.granted", "user", member.id, acme.id, "admin@acme.example")
    assert event.before is None and event.after == {"role": "site_manager", "sites": [paris.id]}


def test_a_client_admin_of_acme_cannot_touch_globex_users(acme_admin, globex):
    globex_user = UserFactory(organisation=globex)
    globex_admin = UserFactory(organisation=globex, client_admin=True)
    before = state()

    with pytest.raises(NotFound) as refused:
        grants.grant_role(actor(acme_admin), globex_user, "member")
    assert refused.value.status == 404
    with pytest.raises(NotFound):
        grants.revoke_role(actor(acme_admin), globex_admin, "client_admin")

    assert state() == before


def test_a_partner_admin_cannot_give_roles_to_its_clients_users(nw_admin, member):
    """Roles are managed inside one's own organisation only, even for the partner above."""
    with pytest.raises(NotFound):
        grants.grant_role(actor(nw_admin), member, "member")


def test_a_site_manager_cannot_grant_anything(frontdesk, member, lyon, paris):
    before = state()

    for role, sites in (("site_manager", [lyon.id]), ("member", None), ("site_manager", None)):
        with pytest.raises(Forbidden):
            grants.grant_role(actor(frontdesk), member, role, sites)

    assert grants.grantable_roles(actor(frontdesk)) == []
    assert state() == before


def test_the_last_client_admin_cannot_be_removed(acme_admin):
    before = state()

    with pytest.raises(Conflict) as refused:
        grants.revoke_role(actor(acme_admin), acme_admin, "client_admin")

    assert "last active Client admin of Acme Dental" in refused.value.message
    assert "someone else first" in refused.value.message
    assert state() == before


def test_a_client_admin_can_step_down_once_another_admin_is_active(acme_admin, member):
    grants.grant_role(actor(acme_admin), member, "client_admin")

    grants.revoke_role(actor(acme_admin), acme_admin, "client_admin")

    assert held(acme_admin) == {}
    event = last_event()
    assert (event.action, event.before, event.after) == (
        "role.revoked", {"role": "client_admin", "sites": []}, None)


def test_an_invited_or_deactivated_admin_does_not_count_as_the_other_admin(acme, acme_admin):
    invited = UserFactory(organisation=acme, client_admin=True, status="invited")

    with pytest.raises(Conflict):
        grants.revoke_role(actor(acme_admin), acme_admin, "client_admin")
    # The invited one can go: an active admin stays.
    grants.revoke_role(actor(acme_admin), invited, "client_admin")
    assert held(invited) == {}


@pytest.mark.parametrize(("kind", "organisation_admin"), [
    ("partner", "partner_admin"),
    ("operator", "operator_admin"),
])
def test_the_last_partner_or_operator_admin_cannot_be_removed(kind, organisation_admin):
    # A partner admin who is also finance (as Southwind's), the operator admin.
    admin = UserFactory(partner_admin=True, finance=True) if kind == "partner" else UserFactory(operator_admin=True)
    with pytest.raises(Conflict):
        grants.revoke_role(actor(admin), admin, organisation_admin)
    assert organisation_admin in held(admin)


@pytest.mark.parametrize(("granter", "grantee", "role"), [
    ("nw_admin", "nw_support", "finance"),           # subscriptions.*, billing.view
    ("nw_admin", "nw_support", "partner_support"),   # subscriptions.view
])
def test_nobody_can_grant_a_permission_they_do_not_hold(request, granter, grantee, role):
    granter, grantee = request.getfixturevalue(granter), request.getfixturevalue(grantee)
    before = state()

    with pytest.raises(Forbidden) as refused:
        grants.grant_role(actor(granter), grantee, role)

    assert "permissions you do not hold" in refused.value.message
    assert state() == before


def test_a_finance_partner_admin_may_grant_finance(nw_finance, nw_support):
    grants.grant_role(actor(nw_finance), nw_support, "finance")
    assert held(nw_support) == {"finance": [], "partner_support": []}


def test_nobody_can_take_away_a_role_they_could_not_give(nw_admin, nw_finance):
    """Otherwise a partner admin could strip finance, and nobody left could grant it back."""
    before = state()
    with pytest.raises(Forbidden):
        grants.revoke_role(actor(nw_admin), nw_finance, "finance")
    assert state() == before


def test_a_client_admin_names_an_accountant_for_the_whole_client_or_some_sites(acme_admin, lyon, paris, member):
    """Client admins hold billing.view (DESIGN section 4, rule 27b): they may give the accountant role."""
    grants.grant_role(actor(acme_admin), member, "accountant", [paris.id])
    assert held(member) == {"accountant": [paris.id]}
    accountant = next(g for g in grants.grantable_roles(actor(acme_admin)) if g.role.code == "accountant")
    assert accountant.org_wide


@pytest.mark.parametrize("role", ["no_such_role", "partner_admin", "operator_admin", "", None, 7, ["member"]])
def test_an_unknown_role_or_a_role_of_another_kind_is_invalid(acme_admin, member, role):
    before = state()
    with pytest.raises(Invalid) as refused:
        grants.grant_role(actor(acme_admin), member, role)
    assert refused.value.status == 422 and refused.value.field == "role"
    assert state() == before


def test_revoking_an_unknown_role_is_invalid(acme_admin, frontdesk):
    with pytest.raises(Invalid):
        grants.revoke_role(actor(acme_admin), frontdesk, "nope")


def test_a_site_of_another_client_is_invalid(acme_admin, member, lyon, globex):
    globex_main = SiteFactory(client=globex, name="Main")
    before = state()

    with pytest.raises(Invalid) as refused:
        grants.grant_role(actor(acme_admin), member, "site_manager", [lyon.id, globex_main.id])

    assert refused.value.status == 422 and refused.value.field == "site_ids"
    assert "sites of Acme Dental only" in refused.value.message
    assert state() == before


@pytest.mark.parametrize("sites", [["x"], [1.5], "12", [True], [-1], [10 ** 30], 5])
def test_malformed_site_ids_are_invalid(acme_admin, member, sites):
    before = state()
    with pytest.raises(Invalid):
        grants.grant_role(actor(acme_admin), member, "site_manager", sites)
    assert state() == before


def test_sites_on_a_role_that_cannot_be_restricted_are_invalid(acme_admin, member, lyon):
    with pytest.raises(Invalid) as refused:
        grants.grant_role(actor(acme_admin), member, "client_admin", [lyon.id])
    assert "cannot be limited to sites" in refused.value.message


def test_granting_a_held_role_changes_its_sites_or_says_it_is_held(acme_admin, frontdesk, lyon, paris):
    lyon, paris = lyon.id, paris.id

    with pytest.raises(Conflict) as refused:
        grants.grant_role(actor(acme_admin), frontdesk, "site_manager", [lyon])
    assert "already holds the Site manager role for Lyon" in refused.value.message

    grants.grant_role(actor(acme_admin), frontdesk, "site_manager", [lyon, paris])

    assert held(frontdesk) == {"site_manager": sorted([lyon, paris])}
    event = last_event()
    assert (event.before, event.after) == ({"role": "site_manager", "sites": [lyon]},
                                           {"role": "site_manager", "sites": sorted([lyon, paris])})


def test_revoking_a_role_not_held_is_a_conflict(acme_admin, member):
    with pytest.raises(Conflict):
        grants.revoke_role(actor(acme_admin), member, "site_manager")


def test_a_deactivated_member_gets_no_new_role(acme, acme_admin):
    deactivated = UserFactory(organisation=acme, status="deactivated")
    with pytest.raises(Conflict):
        grants.grant_role(actor(acme_admin), deactivated, "member")


def test_what_each_admin_may_grant(acme_admin, lyon, paris, nw_admin, nw_finance, accountant, operator):
    def codes(user):
        return [(g.role.code, g.org_wide) for g in grants.grantable_roles(actor(user))]

    assert codes(acme_admin) == [("client_admin", True), ("site_manager", True), ("accountant", True),
                                 ("member", True)]
    assert codes(nw_admin) == [("partner_admin", True)]
    assert codes(nw_finance) == [("partner_admin", True), ("finance", True), ("partner_support", True)]
    assert codes(accountant) == []
    assert codes(operator) == [("operator_admin", True)]


def test_two_admins_revoking_each_other_at_once_leave_one_admin(app, acme, acme_admin, member):
    """The organisation row is locked for every role change, so only one revocation wins."""
    grants.grant_role(actor(acme_admin), member, "client_admin")
    pairs = [(acme_admin.id, member.id), (member.id, acme_admin.id)]
    barrier = threading.Barrier(2)
    outcomes = []

    def revoke(actor_id, target_id):
        with app.app_context():
            try:
                who, target = db.session.get(User, actor_id), db.session.get(User, target_id)
                who.role_assignments, target.role_assignments  # load before the race
                barrier.wait(timeout=10)
                grants.revoke_role(who, target, "client_admin")
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
        User.organisation_id == acme.id, RoleAssignment.role == "client_admin"))
    assert admins == 1
