"""POST /api/v1/clients/{id}/administrators: a partner onboards a client's administrators (docs/rules.md rule 27b)."""
import re

from sqlalchemy import select

from portal.extensions import db
from portal.models import Invitation, RoleAssignment, User
from tests.helpers import assert_error


def test_a_partner_admin_invites_the_first_administrator_of_a_new_client(api_as, demo, outbox, client, fresh):
    partner = api_as("nw_admin")
    created = partner.post("/api/v1/clients", json={"name": "Delta Dental", "billing_cycle": "monthly"})
    client_id = created.get_json()["id"]
    response = partner.post(f"/api/v1/clients/{client_id}/administrators",
                            json={"email": "dora@delta.example", "name": "Dora Delta"})
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert (body["status"], body["site_id"], body["subscription_type"]) == ("invited", None, None)  # no seat
    fresh()
    user = db.session.get(User, body["id"])
    assert user.organisation_id == client_id
    assert [a.role for a in user.role_assignments] == ["client_admin"]

    # The e-mail went out through a real SMTP server; its link lets Dora in as the client's administrator.
    [(to, _subject, text)] = list(outbox)
    assert to == "dora@delta.example"
    token = re.search(r"/invitations/(\S+)", text).group(1)
    accepted = client.post(f"/invitations/{token}", data={"name": "Dora Delta", "password": "violet kettle harbour 93"})
    assert accepted.status_code == 303
    logged_in = client.post("/login", data={"email": "dora@delta.example", "password": "violet kettle harbour 93"})
    assert logged_in.status_code == 302
    assert client.get("/").location.endswith(f"/clients/{client_id}")


def test_later_leaves_the_invitation_unsent(api_as, demo, outbox, fresh):
    response = api_as("nw_admin").post(f"/api/v1/clients/{demo.acme.id}/administrators",
                                       json={"email": "second@acme.example", "name": "Second Admin",
                                             "send_invitation": "later"})
    assert response.status_code == 201 and list(outbox) == []
    fresh()
    invitation = db.session.scalar(select(Invitation).where(Invitation.user_id == response.get_json()["id"]))
    assert (invitation.status, invitation.delivery) == ("pending", "unsent")


def test_a_client_admin_cannot_onboard_and_an_email_in_use_is_refused(api_as, demo, fresh):
    url = f"/api/v1/clients/{demo.acme.id}/administrators"
    assert_error(api_as("acme_admin").post(url, json={"email": "x@acme.example", "name": "X"}), 403, "forbidden")
    assert_error(api_as("nw_admin").post(url, json={"email": "admin@globex.example", "name": "G"}),
                 409, "conflict", "email")
    fresh()
    assert db.session.scalar(select(User).where(User.email == "x@acme.example")) is None
    assert db.session.scalar(select(RoleAssignment).join(User).where(User.email == "admin@globex.example")
                             .where(RoleAssignment.role == "client_admin")) is not None  # Globex's own, untouched
