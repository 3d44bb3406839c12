"""Creating and deactivating users, tested without HTTP."""
import pytest
from sqlalchemy import func, inspect, select

from portal.domain.accounts import users
from portal.domain.errors import Conflict, Forbidden, Invalid, NoFreeSeat
from portal.extensions import db
from portal.models import Allocation, AuditEvent, LoginSession, User
from tests.factories import (
    AllocationFactory,
    ClientFactory,
    SeatHolderFactory,
    SiteFactory,
    UserFactory,
)


def consumed(site, code):
    return db.session.scalar(
        select(Allocation.consumed).join(Allocation.subscription_type)
        .where(Allocation.site_id == site.id, Allocation.subscription_type.has(code=code)))


def allocated(site, code):
    return db.session.scalar(
        select(Allocation.allocated).join(Allocation.subscription_type)
        .where(Allocation.site_id == site.id, Allocation.subscription_type.has(code=code)))


def new_actions(after_id):
    return sorted(db.session.scalars(select(AuditEvent.action).where(AuditEvent.id > after_id)).all())


def last_event_id():
    return db.session.scalar(select(func.coalesce(func.max(AuditEvent.id), 0)))


def user_count():
    return db.session.scalar(select(func.count(User.id)))


# The world: the partner Northwind, its client Acme Dental (billed monthly from
# today, so an added seat is invoiced at once) and the people who act on it.


@pytest.fixture
def admin(acme):
    return UserFactory(organisation=acme, client_admin=True)


@pytest.fixture
def lyon(acme, essentials):
    """Lyon: 5 Essentials seats bought, 4 held: one free."""
    site = SiteFactory(client=acme, name="Lyon")
    AllocationFactory(site=site, subscription_type=essentials, allocated=5, consumed=3)
    SeatHolderFactory(site=site, subscription_type=essentials, email="user1@acme.example")
    return site


@pytest.fixture
def user1(lyon):
    return db.session.scalar(select(User).where(User.email == "user1@acme.example"))


@pytest.fixture
def paris(acme, essentials):
    """Paris: 3 Essentials seats bought, all held."""
    site = SiteFactory(client=acme, name="Paris")
    AllocationFactory(site=site, subscription_type=essentials, allocated=3, consumed=3)
    return site


def test_creating_a_user_takes_a_free_seat(admin, lyon, essentials):
    last = last_event_id()
    user = users.create_user(admin, lyon, essentials, " New.Person@Acme.example ", "New Person")
    assert (user.status, user.email, user.site_id) == ("invited", "new.person@acme.example", lyon.id)
    assert consumed(lyon, "essentials") == 5
    assert new_actions(last) == ["invitation.sent", "user.created"]


def test_a_creation_reads_neither_what_it_was_given_nor_what_it_wrote_again(admin, lyon, essentials, statements):
    """The actor, site, type and client are not re-read inside the write, and the answer after it reads the
    new user and its type without a statement: all of that stays loaded (write_transaction's ``keep``)."""
    lyon.client  # noqa: B018 - loaded as the views load it (the site's client comes with it)
    db.session.rollback()
    for each in (admin, lyon, essentials, lyon.client):
        db.session.refresh(each)
    statements.clear()
    user = users.create_user(admin, lyon, essentials, "kept@acme.example", "Kept")
    answer = (user.id, user.email, user.status, user.site_id, user.subscription_type.code, admin.email, lyon.name)
    assert answer[1:] == ("kept@acme.example", "invited", lyon.id, "essentials", admin.email, "Lyon")
    # Loading a whole row names its table's id column first; the e-mail check reads users.id alone.
    loads = [each for each in statements if each.startswith(
        ("SELECT users.id, ", "SELECT sites.id, ", "SELECT subscription_types.id, ", "SELECT organisations.id, "))]
    assert loads == []
    assert "INSERT INTO partner_seat_totals" in statements[-1]  # the commit's last write; nothing after it


def test_what_a_write_was_not_told_to_keep_is_read_again(admin, lyon, essentials):
    """Only what is named is kept: another loaded row is expired at the write's commits, as before."""
    paris = SiteFactory(client=lyon.client, name="Paris")
    db.session.rollback()
    db.session.refresh(paris)
    users.create_user(admin, lyon, essentials, "fresh@acme.example", "Fresh")
    assert inspect(paris).expired and not inspect(essentials).expired


def test_no_free_seat_refuses_and_tells_a_client_admin_to_ask_finance(admin, paris, essentials):
    before, last = user_count(), last_event_id()
    with pytest.raises(NoFreeSeat) as refused:
        users.create_user(admin, paris, essentials, "x@acme.example", "X")
    assert refused.value.extra["free"] == 0
    assert "(0 free)" in refused.value.message
    assert "Ask a finance administrator" in refused.value.message
    assert user_count() == before
    assert consumed(paris, "essentials") == 3
    assert new_actions(last) == []


def test_finance_is_offered_to_add_a_seat(finance, paris, essentials):
    with pytest.raises(NoFreeSeat) as refused:
        users.create_user(finance, paris, essentials, "x@acme.example", "X")
    assert "Add a seat and create" in refused.value.message


def test_finance_adds_a_seat_and_creates_in_one_step(finance, paris, essentials):
    last = last_event_id()
    user = users.create_user(finance, paris, essentials, "x@acme.example", "X", add_seat=True)
    assert user.site_id == paris.id
    assert (allocated(paris, "essentials"), consumed(paris, "essentials")) == (4, 4)
    # The added seat is charged at once on a prorated invoice (docs/rules.md rule 10).
    assert new_actions(last) == ["allocation.seat_added", "invitation.sent", "invoice.issued", "user.created"]


def test_add_seat_uses_a_free_seat_first_instead_of_buying_one(finance, lyon, essentials):
    users.create_user(finance, lyon, essentials, "x@acme.example", "X", add_seat=True)
    assert (allocated(lyon, "essentials"), consumed(lyon, "essentials")) == (5, 5)


def test_adding_a_seat_needs_subscription_management(northwind, paris, essentials):
    partner_admin = UserFactory(organisation=northwind, partner_admin=True)
    with pytest.raises(Forbidden):
        users.create_user(partner_admin, paris, essentials, "x@acme.example", "X", add_seat=True)
    assert allocated(paris, "essentials") == 3


def test_a_duplicate_email_is_refused_and_keeps_the_seat_free(admin, lyon, essentials):
    with pytest.raises(Conflict) as refused:
        users.create_user(admin, lyon, essentials, "USER1@acme.example", "Copy")
    assert refused.value.field == "email"
    assert consumed(lyon, "essentials") == 4


@pytest.mark.parametrize("email, name, field", [
    ("not-an-email", "Name", "email"),
    ("a@b", "Name", "email"),
    ("victim@acme.example\r\nBcc: evil@x.example", "Name", "email"),
    ("", "Name", "email"),
    ("ok@acme.example", "", "name"),
    ("ok@acme.example", "Line\nbreak", "name"),
    ("ok@acme.example", "Nul\x00", "name"),
    ("ok@acme.example", "x" * 201, "name"),
])
def test_malformed_input_is_refused_with_the_field_named(admin, lyon, essentials, email, name, field):
    before = user_count()
    with pytest.raises(Invalid) as refused:
        users.create_user(admin, lyon, essentials, email, name)
    assert refused.value.field == field
    assert user_count() == before


def test_deactivating_frees_the_seat_and_ends_sessions(admin, lyon, user1, login_as):
    login_as(user1.email)
    assert db.session.scalar(select(func.count(LoginSession.id)).where(LoginSession.user_id == user1.id)) == 1
    users.deactivate_user(admin, user1)
    db.session.refresh(user1)
    assert user1.status == "deactivated"
    assert consumed(lyon, "essentials") == 3
    assert db.session.scalar(select(func.count(LoginSession.id)).where(LoginSession.user_id == user1.id)) == 0


def test_nobody_can_deactivate_their_own_account(admin):
    with pytest.raises(Conflict, match="your own account"):
        users.deactivate_user(admin, admin)
    db.session.refresh(admin)
    assert admin.status == "active"


def test_deactivating_twice_frees_one_seat_only(admin, lyon, user1):
    users.deactivate_user(admin, user1)
    with pytest.raises(Conflict, match="already deactivated"):
        users.deactivate_user(admin, db.session.get(User, user1.id, populate_existing=True))
    assert consumed(lyon, "essentials") == 3


def test_the_last_administrator_cannot_be_deactivated(northwind):
    globex_admin = UserFactory(organisation=ClientFactory(parent=northwind, name="Globex Clinic"), client_admin=True)
    operator = UserFactory(operator_admin=True)
    with pytest.raises(Conflict, match="last active Client admin"):
        users.deactivate_user(operator, globex_admin)
    db.session.refresh(globex_admin)
    assert globex_admin.status == "active"
