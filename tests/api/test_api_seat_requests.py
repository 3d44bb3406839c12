"""Seat requests through the API (docs/rules.md rule 29): POST /sites/{id}/seat-requests, GET /seat-requests,
GET /seat-requests/{id}, POST …/approve and …/decline."""
import threading

import pytest
from api_helpers import assert_error
from sqlalchemy import func, select

from portal.blueprints.api.openapi import document
from portal.domain.billing import invoices as billing
from portal.extensions import db
from portal.models import Invoice, SeatRequest, User

NADIA = {"email": "nadia@example.org", "name": "Nadia Noor"}
REQUEST_KEYS = {"id", "client_id", "site_id", "subscription_type", "quantity", "note", "user", "status",
                "requested_by", "requested_at", "decided_by", "decided_at", "reason", "invoice_id", "user_id"}


def person(demo, email) -> dict:
    user = demo.user(email)
    return {"id": user.id, "email": user.email, "name": user.name}


def ask(client, site, **body):
    """POST a request for 2 Essentials seats at ``site`` (or what ``body`` says); the answer's JSON."""
    response = client.post(f"/api/v1/sites/{site.id}/seat-requests",
                           json={"subscription_type": "essentials", "quantity": 2, **body})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def requests_stored(fresh) -> int:
    fresh()
    return db.session.scalar(select(func.count(SeatRequest.id)))


# ---------------------------------------------------------------- asking


def test_a_site_manager_asks_and_gets_the_request_back(api_as, demo, seats):
    body = ask(api_as("acme_frontdesk"), demo.lyon, quantity=3, note="Two dentists and a nurse start Monday",
               user=NADIA)
    assert set(body) == REQUEST_KEYS
    assert {key: body[key] for key in REQUEST_KEYS - {"id", "requested_at"}} == {
        "client_id": demo.acme.id, "site_id": demo.lyon.id, "subscription_type": "essentials", "quantity": 3,
        "note": "Two dentists and a nurse start Monday", "user": NADIA, "status": "pending",
        "requested_by": person(demo, "frontdesk@acme.example"), "decided_by": None, "decided_at": None,
        "reason": None, "invoice_id": None, "user_id": None}
    assert body["requested_at"].endswith("Z")
    assert seats(demo.lyon, "essentials") == (5, 4)  # nothing bought until finance approves


def test_a_request_without_note_or_user_answers_null_for_them(api_as, demo):
    body = ask(api_as("acme_admin"), demo.paris, subscription_type="support", quantity=1, note=None, user=None)
    assert (body["note"], body["user"], body["subscription_type"]) == (None, None, "support")


@pytest.mark.parametrize("body, field", [
    ({"quantity": 0}, "quantity"),
    ({"quantity": -3}, "quantity"),
    ({"quantity": 1001}, "quantity"),
    ({"quantity": 10**20}, "quantity"),
    ({"quantity": "2"}, "quantity"),
    ({"quantity": 2.5}, "quantity"),
    ({"quantity": True}, "quantity"),
    ({"quantity": None}, "quantity"),
    ({"subscription_type": "platinum"}, "subscription_type"),
    ({"subscription_type": ""}, "subscription_type"),
    ({"note": "n" * 2001}, "note"),
    ({"note": "a\x00b"}, "note"),
    ({"note": 7}, "note"),
    ({"user": {"email": "nadia", "name": "Nadia"}}, "user.email"),
    ({"user": {"email": "nadia@example.org"}}, "user.name"),
    ({"user": {"email": "nadia@example.org", "name": "Na\ndia"}}, "user.name"),
    ({"user": {**NADIA, "send_invitation": True}}, "user.send_invitation"),
    ({"user": {**NADIA, "send_invitation": "tomorrow"}}, "user.send_invitation"),
    ({"user": "nadia@example.org"}, "user"),
])
def test_bad_input_is_a_422_naming_the_field_and_nothing_is_written(api_as, demo, snapshot, fresh, body, field):
    client = api_as("acme_admin")  # its token is an audit event of its own
    before, stored = snapshot(), requests_stored(fresh)
    response = client.post(f"/api/v1/sites/{demo.lyon.id}/seat-requests",
                           json={"subscription_type": "essentials", "quantity": 2, **body})
    assert_error(response, 422, "validation_error", field)
    assert snapshot() == before and requests_stored(fresh) == stored


def test_a_missing_quantity_or_a_body_that_is_not_json_is_a_422(api_as, demo):
    client = api_as("acme_admin")
    url = f"/api/v1/sites/{demo.lyon.id}/seat-requests"
    assert_error(client.post(url, json={"subscription_type": "essentials"}), 422, "validation_error", "quantity")
    assert_error(client.post(url, data="{quantity: 2", content_type="application/json"), 422, "validation_error")


def test_another_tenants_site_or_request_is_a_404(api_as, demo, fresh):
    mine = ask(api_as("acme_admin"), demo.lyon)
    for who in ("globex_admin", "sw_admin", "initech_admin"):
        client = api_as(who)
        assert_error(client.post(f"/api/v1/sites/{demo.lyon.id}/seat-requests",
                                 json={"subscription_type": "essentials", "quantity": 1}), 404, "not_found")
        assert_error(client.get(f"/api/v1/seat-requests/{mine['id']}"), 404, "not_found")
        assert mine["id"] not in [item["id"] for item in client.get("/api/v1/seat-requests").get_json()["items"]]
    assert_error(api_as("sw_admin").post(f"/api/v1/seat-requests/{mine['id']}/approve"), 404, "not_found")
    assert_error(api_as("operator").get("/api/v1/seat-requests/2147483000"), 404, "not_found")
    assert_error(api_as("operator").get("/api/v1/seat-requests/2147483648"), 404, "not_found")
    assert_error(api_as("operator").post("/api/v1/sites/2147483000/seat-requests",
                                         json={"subscription_type": "essentials", "quantity": 1}), 404, "not_found")
    assert requests_stored(fresh) == 1


# ---------------------------------------------------------------- reading


def test_one_request_shows_what_approving_costs_now_while_pending(api_as, demo):
    asked = ask(api_as("acme_frontdesk"), demo.lyon, quantity=4)
    finance = api_as("nw_finance")
    body = finance.get(f"/api/v1/seat-requests/{asked['id']}").get_json()
    quote = billing.quote_increase(demo.acme, demo.type("essentials"), 4)
    assert body["cost_now"] == {"amount": quote.amount, "currency": "EUR"} and quote.amount > 0
    assert {key: body[key] for key in REQUEST_KEYS} == asked
    assert "cost_now" not in finance.get("/api/v1/seat-requests").get_json()["items"][0]
    finance.post(f"/api/v1/seat-requests/{asked['id']}/approve")
    assert finance.get(f"/api/v1/seat-requests/{asked['id']}").get_json()["cost_now"] is None


def test_a_free_type_costs_nothing_now(api_as, demo):
    asked = ask(api_as("acme_admin"), demo.paris, subscription_type="support")
    body = api_as("nw_finance").get(f"/api/v1/seat-requests/{asked['id']}").get_json()
    assert body["cost_now"] == {"amount": 0, "currency": "EUR"}


def test_the_list_is_paginated_newest_first_and_filtered_by_status(api_as, demo):
    client = api_as("nw_finance")
    asked = [ask(api_as("acme_admin"), demo.lyon, quantity=n)["id"] for n in (1, 2, 3)]
    client.post(f"/api/v1/seat-requests/{asked[0]}/decline", json={"reason": "One is not worth it"})
    every = client.get("/api/v1/seat-requests?per_page=2").get_json()
    assert ([item["id"] for item in every["items"]], every["total"], every["page"], every["per_page"]) == (
        [asked[2], asked[1]], 3, 1, 2)
    pending = client.get("/api/v1/seat-requests?status=pending").get_json()
    assert [item["id"] for item in pending["items"]] == [asked[2], asked[1]]
    declined = client.get("/api/v1/seat-requests?status=declined").get_json()["items"]
    assert [(item["id"], item["reason"]) for item in declined] == [(asked[0], "One is not worth it")]
    assert client.get("/api/v1/seat-requests?page=3&per_page=2").get_json()["items"] == []
    assert_error(client.get("/api/v1/seat-requests?status=maybe"), 422, "validation_error", "status")
    assert_error(client.get("/api/v1/seat-requests?per_page=201"), 422, "validation_error", "per_page")


def test_a_site_manager_lists_only_their_sites_requests(api_as, demo):
    lyon = ask(api_as("acme_admin"), demo.lyon)["id"]
    paris = ask(api_as("acme_admin"), demo.paris)["id"]
    listed = [item["id"] for item in api_as("acme_frontdesk").get("/api/v1/seat-requests").get_json()["items"]]
    assert listed == [lyon]
    assert_error(api_as("acme_frontdesk").get(f"/api/v1/seat-requests/{paris}"), 404, "not_found")


# ---------------------------------------------------------------- deciding


def test_finance_approves_buys_the_seats_creates_the_user_and_the_requester_is_told(api_as, demo, seats, fresh,
                                                                                    outbox):
    asked = ask(api_as("acme_frontdesk"), demo.lyon, quantity=2, user=NADIA)
    response = api_as("nw_finance").post(f"/api/v1/seat-requests/{asked['id']}/approve")
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == REQUEST_KEYS | {"user_not_created"}
    assert (body["status"], body["decided_by"], body["user_not_created"], body["reason"]) == (
        "approved", person(demo, "finance@northwind.example"), None, None)
    assert body["decided_at"].endswith("Z") and body["invoice_id"] is not None
    assert seats(demo.lyon, "essentials") == (7, 5)  # two bought, one held by Nadia
    user = api_as("nw_finance").get(f"/api/v1/users/{body['user_id']}").get_json()
    assert (user["email"], user["status"], user["site_id"]) == ("nadia@example.org", "invited", demo.lyon.id)
    invoice = api_as("nw_finance").get(f"/api/v1/invoices/{body['invoice_id']}").get_json()
    assert invoice["kind"] == "proration" and invoice["lines"][0]["quantity"] == 2
    # Nadia's invitation, the requester's answer, and the prorated invoice to Acme's readers of invoices.
    assert sorted(to for to, _subject, _body in outbox) == [
        "accountant@acme.example", "admin@acme.example", "frontdesk@acme.example", "nadia@example.org"]
    number = invoice["number"]
    assert {to for to, subject, _body in outbox if number in subject} == {"accountant@acme.example",
                                                                          "admin@acme.example"}
    fresh()
    requester = demo.user("frontdesk@acme.example")
    told = next(m for m in outbox._inbox.messages if m["To"] == "frontdesk@acme.example")
    assert told["Content-Language"] == (requester.language or requester.organisation.language or "en")


def test_an_email_taken_by_then_still_buys_the_seats_and_the_answer_says_why(api_as, demo, seats):
    asked = ask(api_as("acme_frontdesk"), demo.lyon, quantity=1, user={"email": "user2@acme.example",
                                                                        "name": "Already There"})
    body = api_as("nw_finance").post(f"/api/v1/seat-requests/{asked['id']}/approve").get_json()
    assert (body["status"], body["user_id"]) == ("approved", None)
    assert body["user_not_created"] == "This e-mail address cannot be used for a new account."
    assert seats(demo.lyon, "essentials") == (6, 4)


def test_a_request_is_decided_once(api_as, demo, seats):
    asked = ask(api_as("acme_admin"), demo.lyon)
    finance = api_as("nw_finance")
    assert finance.post(f"/api/v1/seat-requests/{asked['id']}/approve").status_code == 200
    assert_error(api_as("operator").post(f"/api/v1/seat-requests/{asked['id']}/approve"), 409, "conflict")
    assert_error(finance.post(f"/api/v1/seat-requests/{asked['id']}/decline", json={"reason": "Too late"}),
                 409, "conflict")
    assert seats(demo.lyon, "essentials") == (7, 4)


@pytest.mark.parametrize("body, field", [
    ({}, "reason"), ({"reason": ""}, "reason"), ({"reason": "   "}, "reason"), ({"reason": "r" * 2001}, "reason"),
    ({"reason": "no\x00pe"}, "reason"), ({"reason": None}, "reason"), ({"reason": 3}, "reason"),
])
def test_declining_needs_a_reason(api_as, demo, fresh, body, field):
    asked = ask(api_as("acme_admin"), demo.lyon)
    response = api_as("nw_finance").post(f"/api/v1/seat-requests/{asked['id']}/decline", json=body)
    assert_error(response, 422, "validation_error", field)
    fresh()
    assert db.session.get(SeatRequest, asked["id"]).status == "pending"


def test_finance_declines_with_a_reason_and_nothing_is_bought(api_as, demo, seats, outbox):
    asked = ask(api_as("acme_admin"), demo.lyon, user=NADIA)
    response = api_as("nw_finance").post(f"/api/v1/seat-requests/{asked['id']}/decline",
                                         json={"reason": "Paris has free seats"})
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == REQUEST_KEYS
    assert (body["status"], body["reason"], body["invoice_id"], body["user_id"]) == (
        "declined", "Paris has free seats", None, None)
    assert body["decided_by"] == person(demo, "finance@northwind.example")
    assert seats(demo.lyon, "essentials") == (5, 4)
    [(to, subject, text)] = outbox
    # In Acme Dental's language (French in the demo), the reason as finance wrote it.
    assert to == "admin@acme.example" and "refusée" in subject and "Paris has free seats" in text


def test_only_finance_approves_or_declines(api_as, demo):
    asked = ask(api_as("acme_admin"), demo.lyon)
    for who in ("acme_admin", "acme_frontdesk", "nw_admin", "nw_support"):
        assert_error(api_as(who).post(f"/api/v1/seat-requests/{asked['id']}/approve"), 403, "forbidden")
        assert_error(api_as(who).post(f"/api/v1/seat-requests/{asked['id']}/decline", json={"reason": "No"}),
                     403, "forbidden")


# ---------------------------------------------------------------- Idempotency-Key


def test_a_keyed_request_is_made_once_and_its_answer_replayed(api_as, demo, fresh):
    client = api_as("acme_admin")
    url = f"/api/v1/sites/{demo.lyon.id}/seat-requests"
    body = {"subscription_type": "essentials", "quantity": 2, "note": "Keyed"}
    first = client.post(url, json=body, headers={"Idempotency-Key": "ask-1"})
    again = client.post(url, json=body, headers={"Idempotency-Key": "ask-1"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.get_json() == first.get_json() and again.headers["Idempotent-Replayed"] == "true"
    assert requests_stored(fresh) == 1
    other = client.post(url, json={**body, "quantity": 3}, headers={"Idempotency-Key": "ask-1"})
    assert_error(other, 422, "idempotency_mismatch", "Idempotency-Key")


def test_a_keyed_approval_replays_its_answer_and_buys_once(api_as, demo, seats, fresh):
    asked = ask(api_as("acme_admin"), demo.lyon, user=NADIA)
    finance = api_as("nw_finance")
    url = f"/api/v1/seat-requests/{asked['id']}/approve"
    first = finance.post(url, headers={"Idempotency-Key": "approve-1"})
    again = finance.post(url, headers={"Idempotency-Key": "approve-1"})
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.get_json() == first.get_json() and again.headers["Idempotent-Replayed"] == "true"
    assert seats(demo.lyon, "essentials") == (7, 5)
    fresh()
    assert db.session.scalar(select(func.count(User.id)).where(User.email == NADIA["email"])) == 1
    assert_error(finance.post(url, headers={"Idempotency-Key": "approve-2"}), 409, "conflict")


# ---------------------------------------------------------------- two finance admins at once

RACERS = 8


def test_concurrent_approvals_buy_the_seats_once(api_as, demo, seats, fresh):
    """Eight approvals of one request at once, from two finance admins: one 200, seven 409 (rule 29)."""
    asked = ask(api_as("acme_frontdesk"), demo.lyon, quantity=3, user=NADIA)
    clients = [api_as("nw_finance"), api_as("operator")]
    fresh()
    invoices_before = db.session.scalar(select(func.count(Invoice.id)))
    url = f"/api/v1/seat-requests/{asked['id']}/approve"
    barrier, results = threading.Barrier(RACERS), []

    def approve(n):
        barrier.wait()
        response = clients[n % 2].post(url)
        results.append((response.status_code, response.get_json()))

    threads = [threading.Thread(target=approve, args=(n,)) for n in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(status for status, _ in results) == [200] + [409] * (RACERS - 1), results
    assert all(body["error"]["code"] == "conflict" for status, body in results if status == 409)
    assert seats(demo.lyon, "essentials") == (8, 5)  # three bought once, one held by Nadia
    fresh()
    assert db.session.scalar(select(func.count(Invoice.id))) == invoices_before + 1
    assert db.session.scalar(select(func.count(User.id)).where(User.email == NADIA["email"])) == 1


# ---------------------------------------------------------------- the document


def test_the_document_describes_the_bodies_and_answers():
    spec = document()
    schemas = spec["components"]["schemas"]
    create = schemas["SeatRequestCreate"]
    assert set(create["required"]) == {"subscription_type", "quantity"}
    assert (create["properties"]["quantity"]["minimum"], create["properties"]["quantity"]["maximum"]) == (1, 1000)
    assert schemas["SeatRequestUser"]["properties"]["send_invitation"]["default"] == "now"
    assert schemas["SeatRequestDecline"]["required"] == ["reason"]
    assert schemas["SeatRequestDecline"]["properties"]["reason"]["maxLength"] == 2000
    assert set(schemas["SeatRequestOut"]["properties"]) == REQUEST_KEYS
    assert set(schemas["SeatRequestDetail"]["properties"]) == REQUEST_KEYS | {"cost_now"}
    approve = spec["paths"]["/seat-requests/{request_id}/approve"]["post"]
    assert {"200", "401", "403", "404", "409", "422", "429"} <= set(approve["responses"])
    status = next(p for p in spec["paths"]["/seat-requests"]["get"]["parameters"] if p["name"] == "status")
    assert status["schema"]["enum"] == ["pending", "approved", "declined"]
