"""docs/rules.md rule 41b on the screens: the attacks 2-5 and 7 of issue 10, each reproduced.

A site manager deactivating a client admin (the row offers nothing, the
confirmation and the POST refuse), a site restriction widened by a client-wide
role, a staff account kept alive by a trial, line separators in names, and the
e-mail check answered before the seat check.
"""
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select, update

from portal import clock
from portal.domain.accounts import users
from portal.domain.demo import DEMO_PASSWORD
from portal.domain.seats import counters
from portal.domain.transactions import write_transaction
from portal.extensions import db
from portal.models import Organisation, RoleAssignment, User


def detail_url(client):
    return f"/clients/{client.id}"


def deactivate_url(client, user):
    return f"/clients/{client.id}/users/{user.id}/deactivate"


def user_rows(page):
    return {row.attrs["id"]: row for row in page.by_id("user-list").find_all("tr")
            if row.attrs.get("id", "").startswith("user-")}


def holders(site):
    return db.session.scalars(select(User).where(User.site_id == site.id).order_by(User.id)).all()


def give_seat(user, site, subscription_type):
    with write_transaction():
        assert counters.claim_seat(site.id, subscription_type.id)
        db.session.execute(update(User).where(User.id == user.id)
                           .values(site_id=site.id, subscription_type_id=subscription_type.id))


# --- attack 2: nobody manages up -------------------------------------------------------------

@pytest.fixture
def boss(demo):
    """The client admin of Acme, holding an Essentials seat at Lyon (the site manager's site)."""
    admin = demo.user("admin@acme.example")
    give_seat(admin, demo.lyon, demo.type("essentials"))
    return admin


def test_the_row_of_a_client_admin_offers_a_site_manager_no_deactivation(demo, boss, login_as, html):
    page = html(login_as("frontdesk@acme.example").get(detail_url(demo.acme)))

    rows = user_rows(page)
    assert "Deactivate" not in rows[f"user-{boss.id}"].text
    assert "Deactivate" in rows[f"user-{holders(demo.lyon)[0].id}"].text  # a plain seat holder: yes


def test_a_site_manager_cannot_deactivate_a_client_admin_of_their_site(demo, boss, login_as, html, snapshot,
                                                                        assert_fragment):
    browser = login_as("frontdesk@acme.example")
    before = snapshot()

    confirm = browser.get(deactivate_url(demo.acme, boss))
    posted = browser.post(deactivate_url(demo.acme, boss))
    row = assert_fragment(browser.hx_post(deactivate_url(demo.acme, boss)), f"user-{boss.id}", status=403)

    assert confirm.status_code == posted.status_code == 403
    for response in (confirm, posted):
        assert "You cannot deactivate Alice Acme: they hold the Client admin role" in html(response).text
    assert "Client admin role" in row.text
    assert snapshot() == before
    assert login_as("admin@acme.example").get("/account").status_code == 200


def test_an_invited_client_admin_cannot_be_revoked_by_a_site_manager(demo, login_as, html, snapshot):
    invited = users.create_user(demo.user("admin@acme.example"), demo.lyon, demo.type("essentials"),
                                "new.boss@acme.example", "New Boss", send="later")
    db.session.add(RoleAssignment(user_id=invited.id, role="client_admin"))
    db.session.commit()
    browser = login_as("frontdesk@acme.example")
    before = snapshot()

    row = html(browser.get(detail_url(demo.acme))).by_id(f"invitation-{invited.id}")
    assert "Revoke" not in row.text and "Send" in row.text
    assert browser.post(f"/clients/{demo.acme.id}/invitations/{invited.id}/revoke").status_code == 403
    assert browser.post(deactivate_url(demo.acme, invited)).status_code == 403
    assert snapshot() == before


# --- attack 3: reach is worked out per permission ----------------------------------------------

def test_an_accountant_who_also_manages_lyon_sees_no_paris_user_or_site(demo, login_as, html):
    accountant = demo.user("accountant@acme.example")
    db.session.add(RoleAssignment(user_id=accountant.id, role="site_manager", sites=[demo.lyon]))
    db.session.commit()
    browser = login_as("accountant@acme.example")

    page = html(browser.get(detail_url(demo.acme)))

    assert [row.cells()[0] for row in page.find_all("tr") if row.attrs.get("id", "").startswith("site-")] == ["Lyon"]
    emails = {row.cells()[1] for row in user_rows(page).values()}
    assert emails == {user.email for user in holders(demo.lyon)}
    assert not emails & {user.email for user in holders(demo.paris)}
    paris_user = holders(demo.paris)[0]
    assert browser.get(deactivate_url(demo.acme, paris_user)).status_code == 403
    assert browser.get(f"/clients/{demo.acme.id}/sites/{demo.paris.id}").status_code == 403
    form = html(browser.get(f"/clients/{demo.acme.id}/users/new"))
    assert [option.text for option in form.find("select", name="site_id").find_all("option")] == ["Lyon"]


# --- attack 4: the trial grace is for seat holders only -----------------------------------------

def test_staff_deactivated_during_a_trial_lose_their_session_and_cannot_log_in(demo, login_as, client, fresh):
    db.session.execute(update(Organisation).where(Organisation.id == demo.acme.id)
                       .values(trial_ends_on=clock.today() + timedelta(days=300)))
    db.session.commit()
    staff = demo.user("frontdesk@acme.example")
    browser = login_as(staff.email)
    assert browser.get("/account").status_code == 200

    assert login_as("admin@acme.example").post(deactivate_url(demo.acme, staff)).status_code == 303

    fresh()
    assert (demo.user(staff.email).status, demo.user(staff.email).access_until) == ("deactivated", None)
    response = browser.get("/account")
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"
    assert client.post("/login", data={"email": staff.email, "password": DEMO_PASSWORD}).status_code == 422


# --- attack 5: names refuse control and line-separator characters -------------------------------

@pytest.mark.parametrize("character", ["\u2028", "\u2029", "\u0085", "\t"], ids=ascii)
def test_a_name_with_a_line_separator_is_refused_on_its_field(demo, login_as, html, snapshot, character):
    browser = login_as("finance@northwind.example")
    before = snapshot()

    new_user = browser.post(f"/clients/{demo.acme.id}/users/new", data={
        "name": f"Eve{character}Admin", "email": "eve@acme.example", "site_id": str(demo.lyon.id),
        "subscription_type": "essentials"})
    new_site = browser.post(f"/clients/{demo.acme.id}/sites/new", data={"name": f"Nice{character}Bcc: x"})

    for response in (new_user, new_site):
        assert response.status_code == 422
        assert "cannot contain control characters or line breaks" in html(response).find(class_="field-error").text
    assert snapshot() == before


# --- attack 7: the e-mail check reveals nothing ----------------------------------------------------

def test_a_site_manager_learns_nothing_about_other_organisations_emails(demo, login_as, html, snapshot):
    browser = login_as("frontdesk@acme.example")
    before = snapshot()

    def create(email, code):
        return browser.post(f"/clients/{demo.acme.id}/users/new", data={
            "name": "Someone", "email": email, "site_id": str(demo.lyon.id), "subscription_type": code})

    for email in ("admin@globex.example", "nobody@example.org"):  # Unlimited at Lyon: 2 of 2 held
        full = create(email, "unlimited")
        assert full.status_code == 409 and "No free Unlimited seat at Lyon" in full.get_data(as_text=True)
    answers = {html(create(email, "essentials")).find(class_="field-error").text  # 1 free
               for email in ("admin@globex.example", "user1@acme.example")}
    assert answers == {"This e-mail address cannot be used for a new account."}
    assert snapshot() == before
