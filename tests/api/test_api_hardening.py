"""docs/rules.md rule 41b through the JSON API: the attacks 2-7 of issue 10, each reproduced.

Managing up, a site restriction widened by another role, a staff account kept
alive by a trial, line separators in names and mail headers, forged Host
headers, and an e-mail check that told a site manager which addresses belong
to another organisation.
"""
from datetime import timedelta

import pytest
from api_helpers import assert_error
from sqlalchemy import select, update

from portal import clock
from portal.domain.seats import counters
from portal.domain.transactions import write_transaction
from portal.extensions import db
from portal.models import Invitation, Invoice, Organisation, RoleAssignment, User

NEUTRAL = "This e-mail address cannot be used for a new account."


def holder(site):
    return db.session.scalar(select(User).where(User.site_id == site.id).order_by(User.id))


def give_seat(user, site, subscription_type):
    """``user`` takes a free seat of that type at ``site``, as creating a seat holder would."""
    with write_transaction():
        assert counters.claim_seat(site.id, subscription_type.id)
        db.session.execute(update(User).where(User.id == user.id)
                           .values(site_id=site.id, subscription_type_id=subscription_type.id))


def add_role(user, role, sites=()):
    db.session.add(RoleAssignment(user_id=user.id, role=role, sites=list(sites)))
    db.session.commit()


# --- attack 2: nobody manages up -------------------------------------------------------------

def test_a_site_manager_cannot_deactivate_a_client_admin_holding_a_seat_at_their_site(api_as, demo, snapshot):
    boss = demo.user("admin@acme.example")
    give_seat(boss, demo.lyon, demo.type("essentials"))
    boss_api = api_as("acme_admin")
    assert boss_api.get("/api/v1/clients").status_code == 200
    frontdesk = api_as("acme_frontdesk")
    assert frontdesk.get(f"/api/v1/users/{boss.id}").status_code == 200  # within reach: 403, not 404
    before = snapshot()

    error = assert_error(frontdesk.delete(f"/api/v1/users/{boss.id}"), 403, "forbidden")

    assert "Client admin" in error["message"] and error["message"].endswith(".")
    assert snapshot() == before
    assert boss_api.get("/api/v1/clients").status_code == 200  # the admin's token still works


def test_a_site_manager_still_deactivates_the_seat_holders_of_their_site(api_as, demo, seats):
    user = holder(demo.lyon)
    body = api_as("acme_frontdesk").delete(f"/api/v1/users/{user.id}").get_json()
    assert body["status"] == "deactivated"
    assert seats(demo.lyon, "essentials") == (5, 3)


# --- attack 3: reach is worked out per permission ----------------------------------------------

@pytest.fixture
def accountant_of_lyon(demo):
    """accountant@acme (client-wide billing.view) made site manager of Lyon too."""
    add_role(demo.user("accountant@acme.example"), "site_manager", [demo.lyon])
    return "acme_accountant"


def test_a_site_restriction_holds_beside_a_client_wide_role(api_as, demo, accountant_of_lyon):
    api = api_as(accountant_of_lyon)

    client = api.get(f"/api/v1/clients/{demo.acme.id}").get_json()
    assert [site["name"] for site in client["sites"]] == ["Lyon"]
    totals = {row["subscription_type"]: (row["allocated"], row["consumed"]) for row in client["totals"]}
    assert totals == {"essentials": (5, 4), "unlimited": (2, 2), "support": (0, 0)}
    assert client["seats"] == {"allocated": 7, "consumed": 6, "free": 1}
    sites = api.get(f"/api/v1/clients/{demo.acme.id}/sites").get_json()
    assert [site["name"] for site in sites["items"]] == ["Lyon"]
    [listed] = api.get("/api/v1/clients").get_json()["items"]
    assert listed["seats"] == {"allocated": 7, "consumed": 6, "free": 1}

    assert api.get(f"/api/v1/users/{holder(demo.lyon).id}").status_code == 200
    assert_error(api.get(f"/api/v1/users/{holder(demo.paris).id}"), 403, "forbidden")
    assert_error(api.get(f"/api/v1/sites/{demo.paris.id}/users"), 403, "forbidden")
    assert_error(api.delete(f"/api/v1/users/{holder(demo.paris).id}"), 403, "forbidden")


def test_the_client_wide_role_keeps_its_own_reach(api_as, demo, accountant_of_lyon):
    invoice_id = db.session.scalar(select(Invoice.id).where(Invoice.client_id == demo.acme.id))
    invoice = api_as(accountant_of_lyon).get(f"/api/v1/invoices/{invoice_id}").get_json()
    assert {line["site_id"] for line in invoice["lines"]} == {demo.lyon.id, demo.paris.id}


# --- attack 4: the trial grace is for seat holders only -----------------------------------------

def test_staff_deactivated_during_a_trial_lose_access_at_once(api_as, demo, token_for, client_with):
    trial_end = clock.today() + timedelta(days=300)
    db.session.execute(update(Organisation).where(Organisation.id == demo.acme.id).values(trial_ends_on=trial_end))
    db.session.commit()
    staff = demo.user("frontdesk@acme.example")
    staff_api = client_with(token_for(staff.email))
    assert staff_api.get("/api/v1/clients").status_code == 200

    body = api_as("acme_admin").delete(f"/api/v1/users/{staff.id}").get_json()

    assert (body["status"], body["access_until"]) == ("deactivated", None)
    assert_error(staff_api.get("/api/v1/clients"), 401, "unauthorized")
    # A seat holder still keeps the grace of rule 5.
    seat_holder = api_as("acme_admin").delete(f"/api/v1/users/{holder(demo.lyon).id}").get_json()
    assert seat_holder["access_until"] == trial_end.isoformat()


# --- attack 5: names refuse control and line-separator characters -------------------------------

SEPARATORS = ["\u2028", "\u2029", "\u0085", "\t", "\x9f"]


@pytest.mark.parametrize("character", SEPARATORS, ids=ascii)
def test_a_name_with_a_line_separator_is_a_422_naming_the_field(api_as, demo, snapshot, character):
    name = f"Acme{character}Bcc: evil@example.org"
    finance, admin = api_as("nw_finance"), api_as("acme_admin")
    before = snapshot()
    assert_error(finance.post("/api/v1/clients", json={"name": name, "billing_cycle": "monthly"}),
                 422, "validation_error", "name")
    assert_error(finance.patch(f"/api/v1/clients/{demo.acme.id}", json={"name": name}),
                 422, "validation_error", "name")
    assert_error(finance.post(f"/api/v1/clients/{demo.acme.id}/sites", json={"name": name}),
                 422, "validation_error", "name")
    assert_error(admin.post(f"/api/v1/sites/{demo.lyon.id}/users", json={
        "email": "new@acme.example", "name": name, "subscription_type": "essentials"}),
        422, "validation_error", "name")
    assert snapshot() == before


def test_a_bad_name_already_stored_never_turns_an_invitation_into_a_500(api_as, demo, seats, run_jobs):
    lyon = demo.lyon
    db.session.execute(update(Organisation).where(Organisation.id == demo.acme.id).values(name="Acme\u2028Dental"))
    db.session.commit()

    response = api_as("acme_admin").post(f"/api/v1/sites/{lyon.id}/users", json={
        "email": "new@acme.example", "name": "New Person", "subscription_type": "essentials"})

    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["status"] == "invited"
    run_jobs()  # the worker cannot build the message's header: a failed delivery, no error anywhere
    db.session.rollback()
    invitation = db.session.scalar(select(Invitation).join(User, Invitation.user_id == User.id)
                                   .where(User.email == "new@acme.example"))
    assert invitation.delivery == "failed"  # shown as "Not sent — retry"
    assert seats(lyon, "essentials") == (5, 5)


# --- attack 6: links never come from an unchecked Host header -----------------------------------

def test_a_forged_host_gets_the_apis_json_error(api_as, demo, anonymous, client, app, monkeypatch):
    monkeypatch.setitem(app.config, "TRUSTED_HOSTS", ["portal.example"])
    api = api_as("nw_finance")

    error = assert_error(api.get("/api/v1/clients", headers={"Host": "evil.example"}), 400, "validation_error")
    assert "Host" in error["message"] and "evil.example" not in error["message"]
    assert_error(api.post(f"/api/v1/sites/{demo.lyon.id}/users", headers={"Host": "evil.example"}, json={
        "email": "new@acme.example", "name": "N", "subscription_type": "essentials"}), 400, "validation_error")
    assert_error(anonymous.get("/api/v1/clients", headers={"Host": ""}), 400, "validation_error")
    assert api.get("/api/v1/clients", headers={"Host": "portal.example"}).status_code == 200
    page = client.get("/login", headers={"Host": "evil.example"})  # the screens keep their page
    assert page.status_code == 400 and page.mimetype == "text/html" and "host name" in page.get_data(as_text=True)


@pytest.mark.parametrize("host", ["evil.example", ""])
def test_with_a_server_name_links_ignore_the_host_header(api_as, demo, app, monkeypatch, host, run_jobs):
    sent = []
    monkeypatch.setattr("portal.domain.mail.send", lambda to, subject, body, files=(): sent.append(body))
    monkeypatch.setitem(app.config, "SERVER_NAME", "portal.example")
    api = api_as("acme_admin")

    response = api.post(f"/api/v1/sites/{demo.lyon.id}/users", headers={"Host": host}, json={
        "email": "new@acme.example", "name": "New Person", "subscription_type": "essentials"})

    assert response.status_code == 201, response.get_data(as_text=True)
    run_jobs()  # the worker sends what the request queued
    [body] = [text for text in sent if "/invitations/" in text]
    assert "http://portal.example/invitations/" in body
    # Every e-mail it caused (the invitation, finance told that Lyon runs out) links to the server name only.
    assert len(sent) == 2 and all("evil" not in text and "http:///" not in text for text in sent)


# --- attack 7: the e-mail check reveals nothing ----------------------------------------------------

def test_at_a_full_site_the_seat_check_answers_first(api_as, demo, seats):
    api = api_as("acme_frontdesk")  # Lyon's Unlimited seats: 2 of 2 held
    for email in ("admin@globex.example", "admin@initech.example", "nobody@example.org"):
        response = api.post(f"/api/v1/sites/{demo.lyon.id}/users", json={
            "email": email, "name": "Someone", "subscription_type": "unlimited"})
        assert assert_error(response, 409, "no_free_seat")["free"] == 0


def test_an_email_in_use_gets_one_neutral_sentence_whoever_owns_it(api_as, demo, seats):
    api = api_as("acme_frontdesk")  # Lyon's Essentials seats: 4 of 5 held
    for email in ("admin@globex.example", "admin@initech.example", "admin@acme.example"):
        error = assert_error(api.post(f"/api/v1/sites/{demo.lyon.id}/users", json={
            "email": email, "name": "Someone", "subscription_type": "essentials"}), 409, "conflict", "email")
        assert error["message"] == error["fields"]["email"] == NEUTRAL
    assert seats(demo.lyon, "essentials") == (5, 4)
