"""What each operation answers and does, through the same services as the screens."""
from datetime import date, timedelta

from api_helpers import assert_error
from sqlalchemy import select, update

from portal import clock
from portal.domain.accounts import users
from portal.extensions import db
from portal.models import AuditEvent, Invoice, Organisation, User


def holder(site):
    return db.session.scalar(select(User).where(User.site_id == site.id).order_by(User.id))


# ---------------------------------------------------------------- catalogue and summary

def test_subscription_types_are_the_catalogue_with_money(api_as, demo):
    body = api_as("acme_accountant").get("/api/v1/subscription-types").get_json()
    assert body["total"] == 3 and body["page"] == 1
    essentials = body["items"][0]
    assert essentials == {"code": "essentials", "name": "Essentials",
                          "monthly_price": {"amount": 1500, "currency": "EUR"},
                          "annual_price": {"amount": 15000, "currency": "EUR"}}


def test_summary_sums_every_client_in_reach(api_as, demo):
    items = {i["subscription_type"]: i for i in api_as("nw_finance").get("/api/v1/summary").get_json()["items"]}
    assert items["essentials"] == {"subscription_type": "essentials", "allocated": 8, "consumed": 7, "free": 1}
    assert items["unlimited"] == {"subscription_type": "unlimited", "allocated": 12, "consumed": 9, "free": 3}
    assert items["support"]["allocated"] == 2
    acme_only = {i["subscription_type"]: i for i in api_as("acme_admin").get("/api/v1/summary").get_json()["items"]}
    assert acme_only["unlimited"]["allocated"] == 2


# ---------------------------------------------------------------- clients

def test_clients_list_has_billing_state_and_seats(api_as, demo):
    body = api_as("nw_support").get("/api/v1/clients").get_json()
    acme = next(c for c in body["items"] if c["name"] == "Acme Dental")
    assert acme["billing_cycle"] == "monthly"
    assert acme["seats"] == {"allocated": 12, "consumed": 9, "free": 3}
    assert set(acme) == {"id", "name", "billing_cycle", "pending_billing_cycle", "pending_effective_on",
                         "period_start", "period_end", "trial_ends_on", "seats"}
    assert acme["period_start"] == clock.today().isoformat()


def test_clients_search_by_name(api_as, demo):
    body = api_as("nw_support").get("/api/v1/clients?q=glob").get_json()
    assert [c["name"] for c in body["items"]] == ["Globex Clinic"] and body["total"] == 1


def test_a_site_manager_sees_only_their_sites_seats(api_as, demo):
    body = api_as("acme_frontdesk").get("/api/v1/clients").get_json()
    assert [c["name"] for c in body["items"]] == ["Acme Dental"]
    assert body["items"][0]["seats"] == {"allocated": 7, "consumed": 6, "free": 1}  # Lyon only
    detail = api_as("acme_frontdesk").get(f"/api/v1/clients/{demo.acme.id}").get_json()
    assert [s["name"] for s in detail["sites"]] == ["Lyon"]


def test_create_client_opens_its_first_period(api_as, demo):
    response = api_as("nw_admin").post("/api/v1/clients", json={"name": "Umbrella Care", "billing_cycle": "annual"})
    assert response.status_code == 201
    client = response.get_json()
    assert client["billing_cycle"] == "annual" and client["trial_ends_on"] is None
    assert client["period_start"] == clock.today().isoformat()
    assert client["seats"] == {"allocated": 0, "consumed": 0, "free": 0}


def test_create_client_with_a_trial(api_as, demo):
    response = api_as("nw_admin").post("/api/v1/clients",
                                       json={"name": "Trial Vet", "billing_cycle": "monthly", "trial_days": 14})
    assert response.status_code == 201
    trial_end = (clock.today() + timedelta(days=14)).isoformat()
    assert response.get_json()["trial_ends_on"] == trial_end == response.get_json()["period_start"]


def test_duplicate_client_name_is_a_conflict(api_as, demo):
    response = api_as("nw_admin").post("/api/v1/clients", json={"name": "Acme Dental", "billing_cycle": "monthly"})
    assert_error(response, 409, "conflict", "name")


def test_client_detail_has_sites_and_totals(api_as, demo):
    body = api_as("nw_support").get(f"/api/v1/clients/{demo.acme.id}").get_json()
    assert [s["name"] for s in body["sites"]] == ["Lyon", "Paris"]
    lyon = body["sites"][0]
    assert lyon["client_id"] == demo.acme.id
    assert {a["subscription_type"]: (a["allocated"], a["consumed"], a["free"]) for a in lyon["allocations"]} == {
        "essentials": (5, 4, 1), "unlimited": (2, 2, 0), "support": (0, 0, 0)}
    totals = {t["subscription_type"]: t["allocated"] for t in body["totals"]}
    assert totals == {"essentials": 8, "unlimited": 2, "support": 2}


def test_rename_client(api_as, demo, fresh):
    acme_id = demo.acme.id
    response = api_as("nw_admin").patch(f"/api/v1/clients/{acme_id}", json={"name": "Acme Dental Group"})
    assert response.status_code == 200 and response.get_json()["name"] == "Acme Dental Group"
    fresh()
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "client.renamed"))
    assert event.before == {"name": "Acme Dental"} and event.after == {"name": "Acme Dental Group"}
    taken = api_as("nw_admin").patch(f"/api/v1/clients/{acme_id}", json={"name": "Globex Clinic"})
    assert_error(taken, 409, "conflict", "name")


def test_billing_cycle_change_is_pending_and_can_be_withdrawn(api_as, demo):
    client = api_as("nw_finance")
    url = f"/api/v1/clients/{demo.acme.id}"
    body = client.patch(url, json={"billing_cycle": "annual"}).get_json()
    assert body["billing_cycle"] == "monthly"
    assert body["pending_billing_cycle"] == "annual"
    assert body["pending_effective_on"] == body["period_end"]
    withdrawn = client.patch(url, json={"billing_cycle": None}).get_json()
    assert withdrawn["pending_billing_cycle"] is None and withdrawn["pending_effective_on"] is None


def test_billing_cycle_needs_subscriptions_manage_and_nothing_changes_on_refusal(api_as, demo, fresh):
    response = api_as("nw_admin").patch(f"/api/v1/clients/{demo.acme.id}",
                                        json={"name": "Renamed", "billing_cycle": "annual"})
    assert_error(response, 403, "forbidden")
    fresh()
    acme = db.session.get(Organisation, demo.acme.id)
    assert acme.name == "Acme Dental" and acme.pending_billing_cycle is None


def test_empty_patch_answers_the_client(api_as, demo):
    response = api_as("nw_finance").patch(f"/api/v1/clients/{demo.acme.id}", json={})
    assert response.status_code == 200 and response.get_json()["name"] == "Acme Dental"


# ---------------------------------------------------------------- sites

def test_sites_list_and_create(api_as, demo):
    client = api_as("nw_admin")
    created = client.post(f"/api/v1/clients/{demo.acme.id}/sites", json={"name": "Bordeaux"})
    assert created.status_code == 201
    site = created.get_json()
    assert site["name"] == "Bordeaux" and site["client_id"] == demo.acme.id
    assert all(a["allocated"] == 0 for a in site["allocations"])
    listing = client.get(f"/api/v1/clients/{demo.acme.id}/sites").get_json()
    assert [s["name"] for s in listing["items"]] == ["Bordeaux", "Lyon", "Paris"] and listing["total"] == 3
    assert_error(client.post(f"/api/v1/clients/{demo.acme.id}/sites", json={"name": "Lyon"}), 409, "conflict", "name")


def test_site_detail(api_as, demo):
    body = api_as("acme_frontdesk").get(f"/api/v1/sites/{demo.lyon.id}").get_json()
    assert body["id"] == demo.lyon.id and body["name"] == "Lyon" and body["client_id"] == demo.acme.id
    assert [a["subscription_type"] for a in body["allocations"]] == ["essentials", "unlimited", "support"]


def test_raising_an_allocation_issues_a_prorated_invoice(api_as, demo, seats, fresh):
    response = api_as("nw_finance").put(f"/api/v1/sites/{demo.lyon.id}/allocations/essentials",
                                        json={"allocated": 7})
    assert response.status_code == 200
    body = response.get_json()
    assert body == {"site_id": demo.lyon.id, "subscription_type": "essentials", "allocated": 7, "consumed": 4,
                    "free": 3, "invoice_id": body["invoice_id"], "credit_note_id": None}
    assert seats(demo.lyon, "essentials") == (7, 4)
    fresh()
    invoice = db.session.get(Invoice, body["invoice_id"])
    assert invoice.kind == "proration" and invoice.lines[0].quantity == 2


def test_lowering_an_allocation_gives_no_invoice(api_as, demo, seats):
    body = api_as("nw_finance").put(f"/api/v1/sites/{demo.lyon.id}/allocations/essentials",
                                    json={"allocated": 4}).get_json()
    assert body["allocated"] == 4 and body["invoice_id"] is None
    assert seats(demo.lyon, "essentials") == (4, 4)


def test_undoing_an_increase_within_the_window_answers_its_credit_note(api_as, demo, fresh):
    """Rule 24: the lowering answers ``credit_note_id``; the credit note reads like any invoice, negative."""
    finance = api_as("nw_finance")
    url = f"/api/v1/sites/{demo.lyon.id}/allocations/essentials"
    raised = finance.put(url, json={"allocated": 6}).get_json()
    body = finance.put(url, json={"allocated": 5}).get_json()
    assert body["invoice_id"] is None and body["credit_note_id"] is not None
    note = finance.get(f"/api/v1/invoices/{body['credit_note_id']}").get_json()
    bought = finance.get(f"/api/v1/invoices/{raised['invoice_id']}").get_json()
    assert (note["kind"], note["credits_invoice_id"]) == ("credit_note", raised["invoice_id"])
    assert note["total"] == {"amount": -bought["total"]["amount"], "currency": bought["total"]["currency"]}
    assert [line["amount"]["amount"] for line in note["lines"]] == [-bought["total"]["amount"]]
    assert bought["credits_invoice_id"] is None
    assert finance.put(url, json={"allocated": 4}).get_json()["credit_note_id"] is None  # bought before the window


def test_below_consumed_is_a_conflict_naming_the_seats_in_use(api_as, demo, seats):
    response = api_as("nw_finance").put(f"/api/v1/sites/{demo.lyon.id}/allocations/essentials",
                                        json={"allocated": 2})
    error = assert_error(response, 409, "below_consumed", "allocated")
    assert error["consumed"] == 4
    assert seats(demo.lyon, "essentials") == (5, 4)


def test_site_users_are_the_seat_holders(api_as, demo):
    body = api_as("acme_frontdesk").get(f"/api/v1/sites/{demo.lyon.id}/users?per_page=2").get_json()
    assert body["total"] == 6 and len(body["items"]) == 2
    user = body["items"][0]
    assert set(user) == {"id", "email", "name", "status", "site_id", "subscription_type", "access_until"}
    assert user["site_id"] == demo.lyon.id and user["status"] == "active"


# ---------------------------------------------------------------- users

def test_create_user_takes_a_free_seat(api_as, demo, seats):
    response = api_as("acme_admin").post(f"/api/v1/sites/{demo.lyon.id}/users", json={
        "email": "New.Person@Example.org", "name": "New Person", "subscription_type": "essentials"})
    assert response.status_code == 201
    user = response.get_json()
    assert user["status"] == "invited" and user["email"] == "new.person@example.org"
    assert user["subscription_type"] == "essentials" and user["site_id"] == demo.lyon.id
    assert seats(demo.lyon, "essentials") == (5, 5)


def test_no_free_seat_says_how_many_are_free(api_as, demo, seats, snapshot):
    client = api_as("acme_admin")
    before = snapshot()
    response = client.post(f"/api/v1/sites/{demo.lyon.id}/users", json={
        "email": "late@example.org", "name": "Late", "subscription_type": "unlimited"})
    error = assert_error(response, 409, "no_free_seat", "subscription_type")
    assert error["free"] == 0
    assert snapshot() == before


def test_add_seat_needs_subscriptions_manage(api_as, demo, seats):
    response = api_as("acme_admin").post(f"/api/v1/sites/{demo.lyon.id}/users", json={
        "email": "late@example.org", "name": "Late", "subscription_type": "unlimited", "add_seat": True})
    assert_error(response, 403, "forbidden")
    assert seats(demo.lyon, "unlimited") == (2, 2)


def test_add_seat_buys_one_and_uses_it(api_as, demo, seats):
    response = api_as("nw_finance").post(f"/api/v1/sites/{demo.lyon.id}/users", json={
        "email": "late@example.org", "name": "Late", "subscription_type": "unlimited", "add_seat": True})
    assert response.status_code == 201
    assert seats(demo.lyon, "unlimited") == (3, 3)


def test_send_invitation_later(api_as, demo, fresh):
    from portal.models import Invitation

    response = api_as("acme_admin").post(f"/api/v1/sites/{demo.paris.id}/users", json={
        "email": "later@example.org", "name": "Later", "subscription_type": "support", "send_invitation": "later"})
    assert response.status_code == 201
    fresh()
    invitation = db.session.scalar(select(Invitation).where(Invitation.user_id == response.get_json()["id"]))
    assert invitation.delivery == "unsent" and invitation.sent_at is None


def test_duplicate_email_is_a_conflict(api_as, demo):
    response = api_as("acme_admin").post(f"/api/v1/sites/{demo.paris.id}/users", json={
        "email": "user1@acme.example", "name": "Again", "subscription_type": "support"})
    assert_error(response, 409, "conflict", "email")


def test_get_user(api_as, demo):
    user = holder(demo.lyon)
    body = api_as("nw_support").get(f"/api/v1/users/{user.id}").get_json()
    assert body == {"id": user.id, "email": user.email, "name": user.name, "status": "active",
                    "site_id": demo.lyon.id, "subscription_type": "essentials", "access_until": None}


def test_partner_staff_are_not_client_users(api_as, demo):
    staff = demo.user("support@northwind.example")
    assert_error(api_as("nw_finance").get(f"/api/v1/users/{staff.id}"), 404, "not_found")


def test_deactivate_frees_the_seat_now(api_as, demo, seats):
    user = holder(demo.lyon)
    response = api_as("acme_admin").delete(f"/api/v1/users/{user.id}")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "deactivated" and body["access_until"] is None
    assert seats(demo.lyon, "essentials") == (5, 3)
    assert_error(api_as("acme_admin").delete(f"/api/v1/users/{user.id}"), 409, "conflict")


def test_deactivating_during_a_trial_keeps_the_seat_until_it_ends(api_as, demo, seats, fresh):
    trial_end = clock.today() + timedelta(days=10)
    db.session.execute(update(Organisation).where(Organisation.id == demo.acme.id).values(trial_ends_on=trial_end))
    db.session.commit()
    user = holder(demo.lyon)
    body = api_as("acme_admin").delete(f"/api/v1/users/{user.id}").get_json()
    assert body["status"] == "deactivated" and body["access_until"] == trial_end.isoformat()
    assert seats(demo.lyon, "essentials") == (5, 4)
    listed = api_as("acme_admin").get(f"/api/v1/sites/{demo.lyon.id}/users").get_json()
    assert user.id in {u["id"] for u in listed["items"]}


def test_deactivating_oneself_is_a_conflict(api_as, demo, fresh):
    client = api_as("acme_frontdesk")
    me = demo.user("frontdesk@acme.example")
    db.session.execute(update(User).where(User.id == me.id).values(site_id=demo.lyon.id,
                                                                   subscription_type_id=demo.type("support").id))
    db.session.commit()
    assert_error(client.delete(f"/api/v1/users/{me.id}"), 409, "conflict")


def test_deactivating_an_invited_user_revokes_the_invitation(api_as, demo, seats):
    invited = users.create_user(demo.user("admin@acme.example"), demo.paris, demo.type("support"),
                                "invitee@example.org", "Invitee", send="later")
    body = api_as("acme_admin").delete(f"/api/v1/users/{invited.id}").get_json()
    assert body["status"] == "deactivated"
    assert seats(demo.paris, "support") == (2, 0)


# ---------------------------------------------------------------- sync, invoices, audit

def test_sync_seats_fixes_drift_and_says_what_changed(api_as, demo, seats):
    from portal.models import Allocation

    db.session.execute(update(Allocation).where(Allocation.site_id == demo.lyon.id,
                                                Allocation.subscription_type_id == demo.type("essentials").id)
                       .values(consumed=1))
    db.session.commit()
    body = api_as("nw_support").post(f"/api/v1/clients/{demo.acme.id}/sync-seats").get_json()
    assert body["changes"] == [{"site_id": demo.lyon.id, "subscription_type": "essentials", "before": 1, "after": 4}]
    assert body["synced_at"].endswith("Z")
    assert seats(demo.lyon, "essentials") == (5, 4)


def test_invoices_list_and_detail(api_as, demo):
    client = api_as("nw_finance")
    listing = client.get(f"/api/v1/invoices?client_id={demo.acme.id}").get_json()
    assert listing["total"] == 1
    invoice = listing["items"][0]
    assert invoice["kind"] == "period" and invoice["client_id"] == demo.acme.id
    assert invoice["total"] == {"amount": 4 * 0 + 5 * 1500 + 2 * 2900 + 3 * 1500 + 2 * 0, "currency": "EUR"}
    line = invoice["lines"][0]
    assert set(line) == {"site_id", "subscription_type", "quantity", "unit_price", "days", "amount"}
    assert line["unit_price"]["currency"] == "EUR"
    assert client.get(f"/api/v1/invoices/{invoice['id']}").get_json() == invoice
    everything = client.get("/api/v1/invoices").get_json()
    assert everything["total"] == 2  # Acme and Globex, not Southwind's Initech


def test_invoice_of_an_unreachable_client_filter_is_404(api_as, demo):
    initech = demo.org("Initech Vet")
    assert_error(api_as("nw_finance").get(f"/api/v1/invoices?client_id={initech.id}"), 404, "not_found")


def test_a_site_restricted_accountant_reads_only_their_lines(api_as, demo):
    from portal.models import RoleAssignment

    accountant = demo.user("accountant@acme.example")
    assignment = db.session.scalar(select(RoleAssignment).where(RoleAssignment.user_id == accountant.id))
    assignment.sites = [demo.paris]
    db.session.commit()
    invoice = api_as("acme_accountant").get("/api/v1/invoices").get_json()["items"][0]
    assert {line["site_id"] for line in invoice["lines"]} == {demo.paris.id}


def test_audit_events_filter_by_action_and_time(api_as, demo):
    client = api_as("nw_admin")
    client.post(f"/api/v1/clients/{demo.acme.id}/sites", json={"name": "Audited"})
    body = client.get("/api/v1/audit-events?action=site.created").get_json()
    assert body["total"] == 1
    event = body["items"][0]
    assert set(event) == {"id", "at", "actor_email", "action", "target_type", "target_id", "before", "after", "ip"}
    assert event["actor_email"] == "admin@northwind.example" and event["after"] == {"name": "Audited"}
    assert event["at"].endswith("Z") and event["ip"] == "127.0.0.1"
    later = client.get("/api/v1/audit-events", query_string={"since": "2999-01-01T00:00:00Z"}).get_json()
    assert later["total"] == 0
    since = client.get("/api/v1/audit-events", query_string={"action": "site.created", "since": event["at"]})
    assert since.get_json()["total"] == 1


def test_a_client_admin_reads_only_their_clients_events(api_as, demo):
    api_as("nw_admin").post(f"/api/v1/clients/{demo.org('Globex Clinic').id}/sites", json={"name": "Elsewhere"})
    body = api_as("acme_admin").get("/api/v1/audit-events?action=site.created").get_json()
    assert body["total"] == 0


def test_today_is_used_for_dates(demo):
    assert isinstance(clock.today(), date)
