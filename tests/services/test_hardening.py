"""docs/rules.md rule 41b, the hardening bullets 1-5 and 7, tested without HTTP.

Each test reproduces an attack of issue 10 (items 2-7) that held on the code
before it: managing up, reach across permissions, a staff account keeping
access during a trial, line separators in names and mail headers, and an
e-mail check that told a site manager which addresses belong to another
organisation.
"""
import pytest
from sqlalchemy import func, select, update

from portal.domain import validation
from portal.domain.accounts import api_tokens, users
from portal.domain.errors import Conflict, Forbidden, Invalid, NoFreeSeat
from portal.domain.orgs import clients
from portal.domain.seats import counters
from portal.domain.transactions import write_transaction
from portal.extensions import db
from portal.models import AuditEvent, Invitation, LoginSession, Organisation, RoleAssignment, User
from portal.rbac import sessions
from portal.rbac.permissions import may_manage_user
from portal.rbac.scoping import site_ids_in_reach
from tests.factories import AllocationFactory, ClientFactory, SeatHolderFactory, SiteFactory, UserFactory

NEUTRAL = "This e-mail address cannot be used for a new account."


def events() -> int:
    return db.session.scalar(select(func.count(AuditEvent.id)))


def reload(user) -> User:
    return db.session.get(User, user.id, populate_existing=True)


@pytest.fixture
def lyon(acme, essentials):
    """Lyon: 5 Essentials seats bought, 3 held: two free."""
    site = SiteFactory(client=acme, name="Lyon")
    AllocationFactory(site=site, subscription_type=essentials, allocated=5, consumed=3)
    return site


@pytest.fixture
def paris(acme, essentials):
    """Paris: 3 Essentials seats bought, all held."""
    site = SiteFactory(client=acme, name="Paris")
    AllocationFactory(site=site, subscription_type=essentials, allocated=3, consumed=3)
    return site


@pytest.fixture
def frontdesk(lyon):
    """A site manager of Lyon only."""
    return UserFactory(site_manager=True, sites=[lyon], email="frontdesk@acme.example")


# --- rule 41b.1: nobody manages up ---------------------------------------------------------

def test_a_site_manager_cannot_deactivate_a_client_admin_holding_a_seat_at_their_site(
        acme, acme_admin, lyon, essentials, frontdesk):
    boss = SeatHolderFactory(site=lyon, subscription_type=essentials, client_admin=True, email="boss@acme.example")
    with write_transaction():
        sessions.start_session(boss)
    before = events()

    assert not may_manage_user(frontdesk, boss)
    with pytest.raises(Forbidden) as refused:
        users.deactivate_user(frontdesk, boss)

    assert "Client admin" in refused.value.message
    boss = reload(boss)
    assert (boss.status, boss.site_id) == ("active", lyon.id)
    assert counters.free_seats(lyon.id, essentials.id) == 1
    assert db.session.scalar(select(func.count(LoginSession.id)).where(LoginSession.user_id == boss.id)) == 1
    assert events() == before


def test_a_site_manager_cannot_deactivate_a_site_manager_of_more_sites(lyon, paris, essentials, frontdesk):
    wider = SeatHolderFactory(site=lyon, subscription_type=essentials, site_manager=True, sites=[lyon, paris])
    with pytest.raises(Forbidden):
        users.deactivate_user(frontdesk, wider)
    assert reload(wider).status == "active"


def test_an_invited_client_admin_is_not_revoked_by_a_site_manager(lyon, essentials, frontdesk, acme_admin):
    invited = users.create_user(acme_admin, lyon, essentials, "invited.boss@acme.example", "Invited Boss",
                                send="later")
    with write_transaction():
        db.session.add(RoleAssignment(user_id=invited.id, role="client_admin"))
    with pytest.raises(Forbidden):
        users.deactivate_user(frontdesk, reload(invited))
    assert reload(invited).status == "invited"


def test_managing_down_and_sideways_still_works(lyon, essentials, frontdesk, acme_admin):
    member = SeatHolderFactory(site=lyon, subscription_type=essentials, member=True)
    peer = SeatHolderFactory(site=lyon, subscription_type=essentials, site_manager=True, sites=[lyon])
    assert may_manage_user(frontdesk, member) and may_manage_user(frontdesk, peer)
    assert users.deactivate_user(frontdesk, member).status == "deactivated"
    assert users.deactivate_user(acme_admin, frontdesk).status == "deactivated"


def test_an_accountant_is_deactivated_only_by_someone_holding_billing_view(acme, acme_admin, lyon):
    accountant = UserFactory(organisation=acme, accountant=True)
    site_manager = UserFactory(organisation=acme, site_manager=True, sites=[lyon])
    # A site manager holds no billing.view (docs/rules.md section 4): that would be managing up.
    with pytest.raises(Forbidden):
        users.deactivate_user(site_manager, accountant)
    # The client admin holds it (rule 27b): they named the accountant and may end their access.
    assert users.deactivate_user(acme_admin, reload(accountant)).status == "deactivated"


# --- rule 41b.2: reach is worked out per permission -------------------------------------------

def test_a_client_wide_role_does_not_widen_a_site_restriction_on_another_permission(acme, lyon, paris):
    accountant = UserFactory(organisation=acme, accountant=True)
    with write_transaction():
        db.session.add(RoleAssignment(user_id=accountant.id, role="site_manager", sites=[lyon]))
    accountant = reload(accountant)

    assert site_ids_in_reach(accountant, acme, "clients.view") == {lyon.id}
    assert site_ids_in_reach(accountant, acme, "users.manage") == {lyon.id}
    assert site_ids_in_reach(accountant, acme, "billing.view") is None
    assert site_ids_in_reach(accountant, acme) == {lyon.id}  # viewing is the default


# --- rule 41b.3: the trial grace is for seat holders only --------------------------------------

@pytest.fixture
def trial_client(northwind):
    return ClientFactory(parent=northwind, name="Trial Vet", trial_days=30)


def test_staff_deactivated_during_a_trial_lose_access_at_once(trial_client, essentials):
    main = SiteFactory(client=trial_client, name="Main")
    AllocationFactory(site=main, subscription_type=essentials, allocated=2, consumed=0)
    admin = UserFactory(organisation=trial_client, client_admin=True)
    staff = UserFactory(organisation=trial_client, site_manager=True, sites=[main])
    holder = SeatHolderFactory(site=main, subscription_type=essentials, member=True)
    with write_transaction():
        token = sessions.start_session(staff)
    secret = api_tokens.create_token(None, staff).secret

    staff = users.deactivate_user(admin, staff)

    assert (staff.status, staff.access_until) == ("deactivated", None)
    assert not staff.is_active
    assert sessions.load_session_user(token) is None
    assert api_tokens.authenticate(secret) is None
    # A seat holder keeps the rule 5 grace: access and seat until the trial ends.
    holder = users.deactivate_user(admin, holder)
    assert holder.access_until == trial_client.trial_ends_on and holder.is_active


# --- rule 41b.4: names refuse control and line-separator characters -----------------------------

@pytest.mark.parametrize("character", ["\u2028", "\u2029", "\u0085", "\t", "\x9f", "\x7f", "\r"])
def test_names_refuse_every_control_and_line_separator_character(character):
    with pytest.raises(Invalid) as refused:
        validation.text(f"Acme{character}Dental", "name", label="client name")
    assert refused.value.field == "name"
    assert validation.text("Zoë Müller-Ødegård 東京", "name", label="name") == "Zoë Müller-Ødegård 東京"


def test_a_client_name_with_a_line_separator_is_refused(nw_admin, northwind):
    count = db.session.scalar(select(func.count(Organisation.id)))
    with pytest.raises(Invalid) as refused:
        clients.create_client(nw_admin, northwind, "Acme\u2028Bcc: evil@example.org", "monthly")
    assert refused.value.field == "name"
    assert db.session.scalar(select(func.count(Organisation.id))) == count


def test_a_bad_organisation_name_already_stored_never_turns_an_invitation_into_an_error(acme, acme_admin, lyon,
                                                                                      essentials, run_jobs):
    # Stored before names were checked this strictly: the mail header refuses it.
    db.session.execute(update(Organisation).where(Organisation.id == acme.id).values(name="Acme\u2028Dental"))
    db.session.commit()

    user = users.create_user(acme_admin, lyon, essentials, "new@acme.example", "New Person")

    assert reload(user).status == "invited"
    assert run_jobs().failed == 1  # the worker cannot build its header: failed at once, no retry
    db.session.rollback()
    invitation = db.session.scalar(select(Invitation).where(Invitation.user_id == user.id))
    assert (invitation.status, invitation.delivery) == ("pending", "failed")
    assert counters.free_seats(lyon.id, essentials.id) == 1


# --- rule 41b.7: the e-mail check reveals nothing ----------------------------------------------

@pytest.fixture
def outsider(northwind):
    """A user of another client of the same partner."""
    return UserFactory(organisation=ClientFactory(parent=northwind, name="Globex Clinic"),
                       email="admin@globex.example", client_admin=True)


def test_at_a_full_site_the_seat_check_answers_before_the_email_check(paris, essentials, outsider, acme):
    manager = UserFactory(site_manager=True, sites=[paris])
    for email in ("admin@globex.example", "nobody@example.org"):
        with pytest.raises(NoFreeSeat):
            users.create_user(manager, paris, essentials, email, "Someone")
        with pytest.raises(NoFreeSeat):
            users.bulk_invite(manager, paris, essentials, [email])
    assert counters.free_seats(paris.id, essentials.id) == 0


def test_an_email_in_use_gets_the_same_neutral_sentence_whoever_owns_it(lyon, essentials, frontdesk, outsider):
    colleague = UserFactory(organisation=lyon.client, email="colleague@acme.example")
    for email in (outsider.email, colleague.email):
        with pytest.raises(Conflict) as refused:
            users.create_user(frontdesk, lyon, essentials, email, "Someone")
        assert (refused.value.message, refused.value.field) == (NEUTRAL, "email")
        with pytest.raises(Conflict) as refused:
            users.bulk_invite(frontdesk, lyon, essentials, ["fresh@example.org", email])
        assert (refused.value.message, refused.value.field) == (f"{email} cannot be used for a new account.",
                                                                "emails")
    assert counters.free_seats(lyon.id, essentials.id) == 2
