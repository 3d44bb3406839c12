"""A user's seat life on the client page: move, reactivate, invite an administrator (rules 27, 27b, 28).

Each page works without JavaScript: a form, a redirect to the client page on
success, the refusal (with the caller's way through) on the page otherwise.
"""
import pytest
from sqlalchemy import select

from portal.domain.accounts import users as user_service
from portal.extensions import db
from portal.models import RoleAssignment, User


def move_url(client, user):
    return f"/clients/{client.id}/users/{user.id}/move"


def reactivate_url(client, user):
    return f"/clients/{client.id}/users/{user.id}/reactivate"


def holder(site, code):
    return db.session.scalar(select(User).join(User.subscription_type)
                             .where(User.site_id == site.id, User.status != "deactivated",
                                    User.subscription_type.has(code=code)).order_by(User.id))


def seat(site, code):
    return {"site_id": str(site.id), "subscription_type": code}


# --- move ------------------------------------------------------------------------

def test_a_client_admin_moves_a_seat_to_a_free_one_at_another_site(demo, login_as, seats, fresh, html):
    browser = login_as("admin@acme.example")
    user = holder(demo.lyon, "essentials")
    page = html(browser.get(move_url(demo.acme, user)))
    assert page.find("input", name="subscription_type", value="essentials", checked=True)

    response = browser.post(move_url(demo.acme, user), data=seat(demo.paris, "support"))

    assert response.status_code == 303
    assert response.headers["Location"] == f"/clients/{demo.acme.id}"
    assert seats(demo.lyon, "essentials") == (5, 3)
    assert seats(demo.paris, "support") == (2, 1)
    fresh()
    assert (db.session.get(User, user.id).site_id, db.session.get(User, user.id).subscription_type.code) == (
        demo.paris.id, "support")
    assert f"{user.name} now holds a Support seat at Paris." in browser.get(response.headers["Location"]).text


def test_the_site_picker_shows_that_sites_seats_and_sends_no_secret(demo, login_as, html):
    browser = login_as("admin@acme.example")
    user = holder(demo.lyon, "essentials")

    page = html(browser.get(move_url(demo.acme, user) + f"?site_id={demo.paris.id}"))

    picker = page.by_id("site-picker")
    assert picker.attrs["method"] == "get" and picker.find("input", name="csrf_token") is None
    assert "Subscription type at Paris" in page.text
    assert "0 free of 3" in page.text  # Paris essentials


def test_no_free_seat_refuses_the_move_and_offers_the_callers_way_through(demo, login_as, html, snapshot):
    user = holder(demo.lyon, "essentials")
    before = snapshot()

    refused = login_as("admin@acme.example").post(move_url(demo.acme, user), data=seat(demo.paris, "essentials"))

    assert refused.status_code == 409
    page = html(refused)
    assert "No free Essentials seat at Paris (0 free)" in page.by_id("no-seat").text
    assert "finance@northwind.example" in page.by_id("no-seat").text  # whom to ask
    assert page.find("button", name="add_seat") is None
    assert snapshot() == before


def test_finance_adds_a_seat_and_moves_in_one_step(demo, login_as, html, seats, snapshot):
    browser = login_as("finance@northwind.example")
    user = holder(demo.lyon, "essentials")
    before = snapshot()

    refused = browser.post(move_url(demo.acme, user), data=seat(demo.paris, "essentials"))

    assert refused.status_code == 409
    page = html(refused)
    assert page.find("button", name="add_seat").text == "Add a seat and move"
    assert "invoiced now" in page.by_id("no-seat").text
    assert snapshot() == before

    done = browser.post(move_url(demo.acme, user), data={**seat(demo.paris, "essentials"), "add_seat": "y"})

    assert done.status_code == 303
    assert seats(demo.paris, "essentials") == (4, 4)
    assert seats(demo.lyon, "essentials") == (5, 3)


def test_a_site_manager_cannot_move_a_seat_to_a_site_beyond_their_own(demo, login_as, snapshot):
    user = holder(demo.lyon, "essentials")
    before = snapshot()

    response = login_as("frontdesk@acme.example").post(move_url(demo.acme, user), data=seat(demo.paris, "support"))

    assert response.status_code == 422  # Paris is not one of their choices
    assert snapshot() == before


@pytest.mark.parametrize("data", [seat_data for seat_data in (
    {"site_id": "abc", "subscription_type": "essentials"},
    {"site_id": "", "subscription_type": ""},
    {"site_id": "1", "subscription_type": "platinum"},
)])
def test_bad_move_input_is_refused_and_writes_nothing(data, demo, login_as, snapshot):
    user = holder(demo.lyon, "essentials")
    before = snapshot()

    response = login_as("admin@acme.example").post(move_url(demo.acme, user), data=data)

    assert response.status_code == 422
    assert snapshot() == before


def test_another_clients_user_is_not_found(demo, login_as):
    globex_user = holder(demo.site("Globex Clinic", "Main"), "unlimited")

    browser = login_as("finance@northwind.example")

    assert browser.get(move_url(demo.acme, globex_user)).status_code == 404
    assert browser.get(reactivate_url(demo.acme, globex_user)).status_code == 404


# --- reactivate ------------------------------------------------------------------

def deactivated(demo, site, code):
    user = holder(site, code)
    user_service.deactivate_user(None, user)
    db.session.rollback()
    return db.session.get(User, user.id)


def test_reactivating_asks_first_then_takes_a_seat_of_the_last_site_and_type(demo, login_as, html, seats, fresh):
    user = deactivated(demo, demo.lyon, "essentials")
    assert seats(demo.lyon, "essentials") == (5, 3)
    browser = login_as("admin@acme.example")

    confirm = browser.get(reactivate_url(demo.acme, user))

    assert confirm.status_code == 200
    assert f"Reactivate {user.name}?" in html(confirm).find("h1").text
    assert seats(demo.lyon, "essentials") == (5, 3)  # asking changes nothing

    response = browser.post(reactivate_url(demo.acme, user), data=seat(demo.lyon, "essentials"))

    assert response.status_code == 303
    assert seats(demo.lyon, "essentials") == (5, 4)
    fresh()
    assert db.session.get(User, user.id).status == "active"


def test_reactivation_without_a_free_seat_is_refused_with_the_way_through(demo, login_as, html, snapshot):
    user = deactivated(demo, demo.paris, "essentials")
    other = holder(demo.lyon, "essentials")
    moved = login_as("finance@northwind.example").post(move_url(demo.acme, other), data=seat(demo.paris, "essentials"))
    assert moved.status_code == 303  # the freed Paris seat is taken again
    before = snapshot()

    refused = login_as("admin@acme.example").post(reactivate_url(demo.acme, user), data=seat(demo.paris, "essentials"))

    assert refused.status_code == 409
    assert "No free Essentials seat at Paris" in html(refused).by_id("no-seat").text
    assert snapshot() == before


def test_reactivating_an_active_user_is_refused(demo, login_as, snapshot):
    user = holder(demo.lyon, "essentials")
    before = snapshot()

    response = login_as("admin@acme.example").post(reactivate_url(demo.acme, user), data=seat(demo.lyon, "essentials"))

    assert response.status_code == 409
    assert snapshot() == before


# --- invite an administrator -------------------------------------------------------

def invite_url(client):
    return f"/clients/{client.id}/administrators/new"


def test_a_partner_admin_invites_a_client_administrator(demo, login_as, outbox, fresh):
    browser = login_as("admin@northwind.example")
    assert browser.get(invite_url(demo.acme)).status_code == 200

    response = browser.post(invite_url(demo.acme), data={"name": "Camille Martin", "email": "camille@acme.example",
                                                         "send_invitation": "now"})

    assert response.status_code == 303
    fresh()
    user = demo.user("camille@acme.example")
    assert (user.organisation_id, user.status, user.site_id) == (demo.acme.id, "invited", None)  # no seat
    roles = db.session.scalars(select(RoleAssignment.role).where(RoleAssignment.user_id == user.id)).all()
    assert roles == ["client_admin"]
    assert [to for to, _subject, _body in outbox] == ["camille@acme.example"]


@pytest.mark.parametrize(("form", "status"), [
    ({"name": "Camille", "email": "not-an-email", "send_invitation": "now"}, 422),
    ({"name": "", "email": "camille@acme.example", "send_invitation": "now"}, 422),
    ({"name": "Camille", "email": "user1@acme.example", "send_invitation": "now"}, 409),
    ({"name": "Camille", "email": "camille@acme.example", "send_invitation": "tomorrow"}, 422),
])
def test_bad_administrator_input_is_refused_and_writes_nothing(form, status, demo, login_as, snapshot):
    before = snapshot()

    response = login_as("admin@northwind.example").post(invite_url(demo.acme), data=form)

    assert response.status_code == status
    assert snapshot() == before


@pytest.mark.parametrize(("email", "status"), [("admin@acme.example", 403), ("admin@southwind.example", 404)])
def test_only_the_partners_client_managers_invite_administrators(email, status, demo, login_as):
    assert login_as(email).get(invite_url(demo.acme)).status_code == status


# --- where the pages are reached from ------------------------------------------------

def test_the_client_page_links_each_user_to_move_or_reactivate(demo, login_as, html):
    gone = deactivated(demo, demo.paris, "essentials")
    active = holder(demo.lyon, "essentials")

    page = html(login_as("admin@acme.example").get(f"/clients/{demo.acme.id}"))

    assert page.by_id(f"user-{active.id}").find("a", href=move_url(demo.acme, active)) is not None
    assert page.by_id(f"user-{gone.id}").find("a", href=reactivate_url(demo.acme, gone)) is not None
    assert page.by_id(f"user-{gone.id}").find("a", href=move_url(demo.acme, gone)) is None


@pytest.mark.parametrize(("email", "offered"), [("admin@northwind.example", True), ("admin@acme.example", False)])
def test_only_who_manages_the_client_is_offered_to_invite_its_administrators(email, offered, demo, login_as, html):
    page = html(login_as(email).get(f"/clients/{demo.acme.id}"))

    assert (page.find("a", href=invite_url(demo.acme)) is not None) is offered


@pytest.mark.parametrize(("email", "crumbs"), [
    ("finance@northwind.example", "Clients › Acme Dental ›"), ("admin@acme.example", "Acme Dental ›")])
def test_the_site_page_says_where_it_sits(email, crumbs, demo, login_as, html):
    page = html(login_as(email).get(f"/clients/{demo.acme.id}/sites/{demo.lyon.id}"))

    assert page.find("p", class_="crumbs").text == crumbs
