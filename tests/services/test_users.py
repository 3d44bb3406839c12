"""Creating and deactivating users, tested without HTTP."""
import pytest
from sqlalchemy import func, select

from portal.domain.accounts import users
from portal.domain.errors import Conflict, Forbidden, Invalid, NoFreeSeat
from portal.extensions import db
from portal.models import Allocation, AuditEvent, LoginSession, User


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


def test_creating_a_user_takes_a_free_seat(demo):
    admin = demo.user("admin@acme.example")
    last = last_event_id()
    user = users.create_user(admin, demo.lyon, demo.type("essentials"), " New.Person@Acme.example ", "New Person")
    assert (user.status, user.email, user.site_id) == ("invited", "new.person@acme.example", demo.lyon.id)
    assert consumed(demo.lyon, "essentials") == 5
    assert new_actions(last) == ["invitation.sent", "user.created"]


def test_no_free_seat_refuses_and_tells_a_client_admin_to_ask_finance(demo):
    admin = demo.user("admin@acme.example")
    before, last = user_count(), last_event_id()
    with pytest.raises(NoFreeSeat) as refused:
        users.create_user(admin, demo.paris, demo.type("essentials"), "x@acme.example", "X")
    assert refused.value.extra["free"] == 0
    assert "(0 free)" in refused.value.message
    assert "Ask a finance administrator" in refused.value.message
    assert user_count() == before
    assert consumed(demo.paris, "essentials") == 3
    assert new_actions(last) == []


def test_finance_is_offered_to_add_a_seat(demo):
    finance = demo.user("finance@northwind.example")
    with pytest.raises(NoFreeSeat) as refused:
        users.create_user(finance, demo.paris, demo.type("essentials"), "x@acme.example", "X")
    assert "Add a seat and create" in refused.value.message


def test_finance_adds_a_seat_and_creates_in_one_step(demo):
    finance = demo.user("finance@northwind.example")
    last = last_event_id()
    user = users.create_user(finance, demo.paris, demo.type("essentials"), "x@acme.example", "X", add_seat=True)
    assert user.site_id == demo.paris.id
    assert (allocated(demo.paris, "essentials"), consumed(demo.paris, "essentials")) == (4, 4)
    # The added seat is charged at once on a prorated invoice (DESIGN rule 10).
    assert new_actions(last) == ["allocation.seat_added", "invitation.sent", "invoice.issued", "user.created"]


def test_add_seat_uses_a_free_seat_first_instead_of_buying_one(demo):
    finance = demo.user("finance@northwind.example")
    users.create_user(finance, demo.lyon, demo.type("essentials"), "x@acme.example", "X", add_seat=True)
    assert (allocated(demo.lyon, "essentials"), consumed(demo.lyon, "essentials")) == (5, 5)


def test_adding_a_seat_needs_subscription_management(demo):
    partner_admin = demo.user("admin@northwind.example")
    with pytest.raises(Forbidden):
        users.create_user(partner_admin, demo.paris, demo.type("essentials"), "x@acme.example", "X", add_seat=True)
    assert allocated(demo.paris, "essentials") == 3


def test_a_duplicate_email_is_refused_and_keeps_the_seat_free(demo):
    admin = demo.user("admin@acme.example")
    with pytest.raises(Conflict) as refused:
        users.create_user(admin, demo.lyon, demo.type("essentials"), "USER1@acme.example", "Copy")
    assert refused.value.field == "email"
    assert consumed(demo.lyon, "essentials") == 4


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
def test_malformed_input_is_refused_with_the_field_named(demo, email, name, field):
    admin = demo.user("admin@acme.example")
    before = user_count()
    with pytest.raises(Invalid) as refused:
        users.create_user(admin, demo.lyon, demo.type("essentials"), email, name)
    assert refused.value.field == field
    assert user_count() == before


def test_deactivating_frees_the_seat_and_ends_sessions(demo, login_as):
    login_as("user1@acme.example")
    victim = demo.user("user1@acme.example")
    assert db.session.scalar(select(func.count(LoginSession.id)).where(LoginSession.user_id == victim.id)) == 1
    admin = demo.user("admin@acme.example")
    users.deactivate_user(admin, victim)
    assert demo.user("user1@acme.example").status == "deactivated"
    assert consumed(demo.lyon, "essentials") == 3
    assert db.session.scalar(select(func.count(LoginSession.id)).where(LoginSession.user_id == victim.id)) == 0


def test_nobody_can_deactivate_their_own_account(demo):
    admin = demo.user("admin@acme.example")
    with pytest.raises(Conflict, match="your own account"):
        users.deactivate_user(admin, admin)
    assert demo.user("admin@acme.example").status == "active"


def test_deactivating_twice_frees_one_seat_only(demo):
    admin = demo.user("admin@acme.example")
    users.deactivate_user(admin, demo.user("user1@acme.example"))
    with pytest.raises(Conflict, match="already deactivated"):
        users.deactivate_user(admin, demo.user("user1@acme.example"))
    assert consumed(demo.lyon, "essentials") == 3


def test_the_last_administrator_cannot_be_deactivated(demo):
    globex_admin = demo.user("admin@globex.example")
    operator = demo.user("operator@portal.example")
    with pytest.raises(Conflict, match="last active Client admin"):
        users.deactivate_user(operator, globex_admin)
    assert demo.user("admin@globex.example").status == "active"
