"""Inviting a member with a role and no seat, from the members page (rule 27b, DESIGN section 4).

So a client created in the portal runs itself: its partner invites its administrator, who
names an accountant. The role is checked as giving it to a member is: nobody gives a
permission they do not hold.
"""
import re

import pytest
from sqlalchemy import select

from portal.domain.orgs import clients
from portal.extensions import db
from portal.models import RoleAssignment


def invite(browser, **form):
    data = {"name": "Arno Accounts", "email": "arno@acme.example", "role": "accountant", "send_invitation": "now",
            **form}
    return browser.post("/members/invite", data=data)


def roles_of(user):
    return {a.role: sorted(site.id for site in a.sites)
            for a in db.session.scalars(select(RoleAssignment).where(RoleAssignment.user_id == user.id))}


def test_a_client_admin_invites_an_accountant(demo, login_as, html, outbox, fresh):
    browser = login_as("admin@acme.example")
    page = html(browser.get("/members"))
    assert page.find("a", href="/members/invite") is not None
    form = html(browser.get("/members/invite")).by_id("invite-member-form")
    assert form.find("option", selected=True).attrs["value"] == ""  # no role chosen for them (screen 15e)

    response = invite(browser)

    assert response.status_code == 303
    fresh()
    arno = demo.user("arno@acme.example")
    assert (arno.organisation_id, arno.status, arno.site_id) == (demo.acme.id, "invited", None)
    assert roles_of(arno) == {"accountant": []}
    assert [to for to, _subject, _body in outbox] == ["arno@acme.example"]


def test_an_accountant_may_be_limited_to_sites(demo, login_as, fresh):
    response = invite(login_as("admin@acme.example"), site_ids=[str(demo.paris.id)])

    assert response.status_code == 303
    fresh()
    assert roles_of(demo.user("arno@acme.example")) == {"accountant": [demo.paris.id]}


@pytest.mark.parametrize(("who", "form", "status"), [
    ("admin@acme.example", {"role": ""}, 422),
    ("admin@acme.example", {"role": "partner_admin"}, 422),        # a role of another kind of organisation
    ("admin@acme.example", {"role": "client_admin", "site_ids": ["1"]}, 422),  # cannot be limited to sites
    ("admin@acme.example", {"email": "not-an-address"}, 422),
    ("admin@acme.example", {"email": "user1@acme.example"}, 409),  # has an account
    ("admin@acme.example", {"send_invitation": "tomorrow"}, 422),
    ("admin@northwind.example", {"role": "finance", "email": "fin@northwind.example"}, 403),  # billing it lacks
])
def test_what_cannot_be_given_is_refused_and_nothing_is_written(who, form, status, demo, login_as, snapshot):
    before = snapshot()

    response = invite(login_as(who), **form)

    assert response.status_code == status
    assert snapshot() == before


def test_only_who_manages_roles_reaches_the_page(demo, login_as):
    assert login_as("frontdesk@acme.example").get("/members/invite").status_code == 403
    assert login_as("accountant@acme.example").post("/members/invite", data={}).status_code == 403


def test_a_client_created_in_the_portal_runs_itself(demo, login_as, client, outbox, fresh):
    """Issue 12's "done when": a partner creates a client, invites its admin, who names an accountant."""
    partner_admin = demo.user("admin@northwind.example")
    vetco = clients.create_client(partner_admin, demo.org("Northwind Telecom"), "Vet & Co", "monthly")
    response = login_as("admin@northwind.example").post(
        f"/clients/{vetco.id}/administrators/new",
        data={"name": "Vera Vet", "email": "vera@vetco.example", "send_invitation": "now"})
    assert response.status_code == 303
    [(_to, _subject, body)] = list(outbox)
    link = re.search(r"/invitations/\S+", body).group(0)

    assert client.get(link).status_code == 200
    accepted = client.post(link, data={"name": "Vera Vet", "password": "a long enough password"})
    assert accepted.status_code in (302, 303)
    vera = login_as("vera@vetco.example", "a long enough password")

    named = invite(vera, name="Axel Accounts", email="axel@vetco.example")

    assert named.status_code == 303
    fresh()
    axel = demo.user("axel@vetco.example")
    assert axel.organisation_id == vetco.id and roles_of(axel) == {"accountant": []}
