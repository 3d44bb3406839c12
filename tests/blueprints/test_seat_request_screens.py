"""Seat requests on screen (docs/rules.md rule 29): asked from a full site, decided from finance's queue.

Without JavaScript throughout: a client admin meets "no free seat", asks for
seats carrying the user they were creating, and finance approves from the queue
after a confirmation page saying what it costs, or declines with a reason.
"""
import re

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import SeatRequest

NADIA = {"name": "Nadia Noor", "email": "nadia@acme.example", "send_invitation": "now"}


def new_user_url(demo):
    return f"/clients/{demo.acme.id}/users/new"


def request_url(demo, site):
    return f"/clients/{demo.acme.id}/sites/{site.id}/seat-requests/new"


def stored(fresh):
    fresh()
    return db.session.scalars(select(SeatRequest).order_by(SeatRequest.id)).all()


def ask(browser, demo, site, **form):
    data = {"subscription_type": "essentials", "quantity": "2", "note": "Two nurses start on Monday.",
            "csrf_token": browser.csrf, **NADIA, **form}
    return browser.post(request_url(demo, site), data=data)


@pytest.fixture
def client_admin(login_as, csrf_token_from, demo):
    browser = login_as("admin@acme.example")
    browser.csrf = csrf_token_from(browser.get(new_user_url(demo)).get_data(as_text=True))
    return browser


def test_no_free_seat_offers_to_request_seats_carrying_the_user(demo, client_admin, html, fresh):
    refused = client_admin.post(new_user_url(demo), data={**NADIA, "site_id": str(demo.paris.id),
                                                         "subscription_type": "essentials"})

    assert refused.status_code == 409
    button = html(refused).find("button", name="carry")
    assert button is not None and button.text == "Request seats"
    assert button.attrs["formaction"] == request_url(demo, demo.paris)  # a POST: no name or address in a URL

    filled = client_admin.post(button.attrs["formaction"], data={
        **NADIA, "site_id": str(demo.paris.id), "subscription_type": "essentials", "carry": "y",
        "csrf_token": client_admin.csrf})

    assert filled.status_code == 200
    form = html(filled).by_id("seat-request-form")
    assert form.find("input", name="email").attrs["value"] == "nadia@acme.example"
    assert form.find("input", name="name").attrs["value"] == "Nadia Noor"
    assert stored(fresh) == []  # filling the form in asks nothing yet


def test_a_client_admin_asks_and_finance_approves_in_one_click(demo, client_admin, login_as, html, seats,
                                                                 fresh, outbox):
    asked = ask(client_admin, demo, demo.paris)

    assert asked.status_code == 303
    [request] = stored(fresh)
    assert (request.status, request.quantity, request.user_email, request.note) == (
        "pending", 2, "nadia@acme.example", "Two nurses start on Monday.")
    assert "was sent to finance" in client_admin.get(asked.headers["Location"]).get_data(as_text=True)

    finance = login_as("finance@northwind.example")
    queue = html(finance.get("/seat-requests"))
    assert re.search(r"Seat requests\s*1", queue.find("nav").text)  # the navigation's count
    row = queue.by_id(f"seat-request-{request.id}")
    assert "2 Essentials seats" in row.text and "Nadia Noor" in row.text and "Costs €" in row.text

    confirm = html(finance.get(f"/seat-requests/{request.id}/approve"))
    assert "Approve 2 Essentials seats at Paris?" in confirm.find("h1").text
    assert "prorated invoice of €" in confirm.text
    assert seats(demo.paris, "essentials") == (3, 3)  # asking to confirm changes nothing

    approved = finance.post(f"/seat-requests/{request.id}/approve")

    assert approved.status_code == 303
    assert seats(demo.paris, "essentials") == (5, 4)
    fresh()
    nadia = demo.user("nadia@acme.example")
    assert (nadia.status, nadia.site_id) == ("invited", demo.paris.id)
    # The answer to the requester and Nadia's invitation; the prorated invoice to Acme's readers of invoices.
    mail = sorted((to, "NW-" in subject) for to, subject, _body in outbox)
    assert mail == [("accountant@acme.example", True), ("admin@acme.example", False), ("admin@acme.example", True),
                    ("nadia@acme.example", False)]
    page = finance.get(approved.headers["Location"]).get_data(as_text=True)
    assert "Approved: 2 Essentials seats at Paris" in page
    assert "No seat request is waiting for a decision." in page


def test_approving_twice_buys_the_seats_once(demo, client_admin, login_as, seats, fresh):
    ask(client_admin, demo, demo.paris, name="", email="")
    [request] = stored(fresh)
    finance = login_as("finance@northwind.example")

    assert finance.post(f"/seat-requests/{request.id}/approve").status_code == 303
    again = finance.post(f"/seat-requests/{request.id}/approve")

    assert again.status_code == 303
    assert seats(demo.paris, "essentials") == (5, 3)
    assert "already decided" in finance.get(again.headers["Location"]).get_data(as_text=True)


def test_declining_needs_a_reason_and_tells_the_requester(demo, client_admin, login_as, html, fresh, outbox):
    ask(client_admin, demo, demo.paris)
    [request] = stored(fresh)
    finance = login_as("finance@northwind.example")
    form = html(finance.get(f"/seat-requests/{request.id}/decline"))
    token = form.find("input", name="csrf_token").attrs["value"]

    empty = finance.post(f"/seat-requests/{request.id}/decline", data={"reason": "  ", "csrf_token": token})

    assert empty.status_code == 422
    assert stored(fresh)[0].status == "pending"

    declined = finance.post(f"/seat-requests/{request.id}/decline",
                            data={"reason": "Not this month.\r\nAsk again in January.", "csrf_token": token})

    assert declined.status_code == 303
    [request] = stored(fresh)
    assert (request.status, request.reason) == ("declined", "Not this month.\nAsk again in January.")
    assert demo.user("nadia@acme.example") is None
    [(to, subject, body)] = list(outbox)
    # Told in the language of Acme Dental (French in the demo), not the decider's (rule 37).
    assert to == "admin@acme.example" and "refusée" in subject and "Ask again in January." in body


@pytest.mark.parametrize("quantity", ["0", "-1", "1001", "abc", ""])
def test_a_bad_quantity_is_refused_and_nothing_is_asked(quantity, demo, client_admin, fresh):
    response = ask(client_admin, demo, demo.paris, quantity=quantity)

    assert response.status_code == 422
    assert stored(fresh) == []


@pytest.mark.parametrize(("form", "field"), [
    ({"email": "not-an-address"}, "email"),
    ({"name": ""}, "name"),
    ({"note": "n" * 2001}, "note"),
    ({"subscription_type": "platinum"}, "subscription_type"),
])
def test_bad_input_is_shown_on_its_field_and_nothing_is_asked(form, field, demo, client_admin, html, fresh):
    response = ask(client_admin, demo, demo.paris, **form)

    assert response.status_code == 422
    assert html(response).find(id=f"{field}-error") is not None
    assert stored(fresh) == []


def test_who_may_decide_and_who_may_only_look(demo, client_admin, login_as, html, fresh):
    ask(client_admin, demo, demo.paris)
    [request] = stored(fresh)

    mine = html(client_admin.get("/seat-requests"))
    assert mine.by_id(f"seat-request-{request.id}") is not None
    assert mine.find("a", href=f"/seat-requests/{request.id}/approve") is None  # asks, never decides
    assert client_admin.get(f"/seat-requests/{request.id}/approve").status_code == 403
    assert client_admin.post(f"/seat-requests/{request.id}/approve").status_code == 403
    # Another partner's admin: the request does not exist for them.
    assert login_as("admin@southwind.example").get(f"/seat-requests/{request.id}/approve").status_code == 404
    # The site manager of Lyon does not see Paris's request.
    assert login_as("frontdesk@acme.example").get("/seat-requests").get_data(as_text=True).count(
        f"seat-request-{request.id}") == 0
    # The accountant neither asks nor decides: no queue at all.
    assert login_as("accountant@acme.example").get("/seat-requests").status_code == 403
    assert db.session.scalar(select(func.count(SeatRequest.id)).where(SeatRequest.status == "pending")) == 1


def test_a_site_manager_asks_only_for_their_own_site(demo, login_as):
    frontdesk = login_as("frontdesk@acme.example")

    assert frontdesk.get(request_url(demo, demo.lyon) + "?subscription_type=essentials&quantity=3").status_code == 200
    assert frontdesk.get(request_url(demo, demo.paris)).status_code in (403, 404)


def test_the_move_page_offers_to_request_a_seat_when_none_is_free(demo, client_admin, html):
    from tests.blueprints.test_client_people import holder, move_url, seat

    refused = client_admin.post(move_url(demo.acme, holder(demo.lyon, "essentials")), data=seat(demo.paris, "essentials"))

    link = html(refused).find("a", href=request_url(demo, demo.paris) + "?subscription_type=essentials&quantity=1")
    assert link is not None and link.text == "Request seats"
