"""Screens a partner would switch to (docs/rules.md section 15), issue 11 second part: what an HTTP test can see.

Layout at 360 px is checked in a real browser (tests/e2e/test_browser_screens_2.py).
"""
import re

import pytest

from portal.domain.demo import DEMO_PASSWORD
from tests.blueprints.test_members import held, role_state
from tests.helpers import parse_html


def text_of(response) -> str:
    return response.get_data(as_text=True)


# --- defect 2: the account page ----------------------------------------------------------------------

def test_every_form_of_the_account_page_names_its_action_also_after_a_token_was_created(demo, login_as):
    client = login_as("admin@acme.example")
    for response in (client.get("/account"), client.post("/account/tokens", data={"name": "Provisioning"})):
        page = parse_html(text_of(response))
        forms = page.find_all("form")
        assert forms and all(form.attrs.get("action") for form in forms), [f.attrs for f in forms]
        password_form = next(form for form in forms if form.find("input", name="new_password"))
        assert password_form.attrs["action"] == "/account"
    # The answer to the token's POST asks portal.js to show /account: a reload is then a GET.
    assert page.by_id("new-token") is not None
    assert page.find("div", **{"data-replace-url": "/account"}) is not None


def test_changing_the_password_after_creating_a_token_changes_it(demo, login_as):
    client = login_as("admin@acme.example")
    client.post("/account/tokens", data={"name": "Provisioning"})
    new = "correct horse battery staple 42"
    # What the browser does with the password form of that answer: post to its action.
    response = client.post("/account", data={"current_password": DEMO_PASSWORD, "new_password": new})
    assert response.status_code == 303 and response.headers["Location"].endswith("/account")
    login_as("admin@acme.example", new)


def test_a_wrong_current_password_and_a_short_new_one_show_both_mistakes(demo, login_as):
    client = login_as("admin@acme.example")
    response = client.post("/account", data={"current_password": "not my password", "new_password": "short"})
    assert response.status_code == 422
    body = text_of(response)
    assert "Your current password is not correct." in body
    assert "Choose a password of at least 12 characters." in body


def test_a_right_current_password_and_a_short_new_one_show_only_the_length_rule(demo, login_as):
    client = login_as("admin@acme.example")
    response = client.post("/account", data={"current_password": DEMO_PASSWORD, "new_password": "short"})
    body = text_of(response)
    assert response.status_code == 422 and "Choose a password of at least 12 characters." in body
    assert "current password is not correct" not in body


# --- defect 6: the members page (docs/rules.md screen 15e) ---------------------------------------------

@pytest.mark.parametrize("email", ["admin@acme.example", "admin@northwind.example"])
def test_every_role_select_starts_on_an_empty_option_that_cannot_be_submitted(email, demo, login_as):
    page = parse_html(text_of(login_as(email).get("/members")))
    selects = [s for s in page.find_all("select") if s.attrs.get("name", "").endswith("-role")]
    assert selects
    for select_ in selects:
        options = select_.find_all("option")
        assert options[0].attrs["value"] == "" and options[0].text == "Choose a role…"
        # Nothing else is pre-selected, so the browser shows the empty option; `required` stops its submission.
        assert [o.attrs["value"] for o in options if "selected" in o.attrs] in ([], [""])
        assert "required" in select_.attrs


def test_a_grant_without_a_role_is_a_422_with_a_sentence_and_writes_nothing(demo, login_as):
    member = demo.user("user1@acme.example")
    admin = login_as("admin@acme.example")
    before = role_state()
    data = {f"member-{member.id}-role": ""}
    for response in (admin.hx_post(f"/members/{member.id}/roles", data=data),
                     admin.post(f"/members/{member.id}/roles", data=data)):
        assert response.status_code == 422 and "Choose a role." in text_of(response)
    assert role_state() == before


def test_sites_are_checkboxes_sending_several_site_ids(demo, login_as):
    member = demo.user("user1@acme.example")
    admin = login_as("admin@acme.example")
    row = parse_html(text_of(admin.get("/members"))).by_id(f"member-{member.id}")
    assert row.find("select", multiple="") is None and not [s for s in row.find_all("select") if "multiple" in s.attrs]
    boxes = row.find_all("input", type="checkbox")
    assert {box.attrs["name"] for box in boxes} == {f"member-{member.id}-site_ids"}
    labels = {row.find("label", **{"for": box.attrs["id"]}).text: box.attrs["value"] for box in boxes}
    assert set(labels) == {"Lyon", "Paris"}
    assert row.find("fieldset").find("legend").text.startswith("Only at these sites")

    response = admin.post(f"/members/{member.id}/roles", data={
        f"member-{member.id}-role": "site_manager", f"member-{member.id}-site_ids": [labels["Lyon"], labels["Paris"]]})
    assert response.status_code == 303
    assert held(member.email)["site_manager"] == sorted([demo.lyon.id, demo.paris.id])


# --- 15a on /members and /account: their tables scroll in their own box --------------------------------

@pytest.mark.parametrize("path", ["/members", "/account"])
def test_the_tables_of_members_and_account_scroll_in_a_labelled_focusable_box(path, demo, login_as):
    page = parse_html(text_of(login_as("admin@acme.example").get(path)))
    tables = page.find_all("table")
    assert tables
    for table in tables:
        box = table.parent
        assert "table-scroll" in box.attrs.get("class", "").split(), table.attrs
        assert box.attrs.get("role") == "region" and box.attrs.get("tabindex") == "0" and box.attrs.get("aria-label")


# --- defect 9: the new user form with no free seat -------------------------------------------------------

def new_user_url(client):
    return f"/clients/{client.id}/users/new"


def refresh(browser, url, **form):
    """What htmx sends when the site or the type changes: the whole form, posted, flagged ``refresh=y``."""
    return browser.hx_post(url, data={"refresh": "y", **form})


def test_choosing_a_type_refreshes_the_form_like_the_site_does(demo, login_as):
    page = parse_html(text_of(login_as("admin@acme.example").get(new_user_url(demo.acme))))
    fieldset = page.by_id("seat-choice")
    assert fieldset.attrs.get("data-hx-post") == new_user_url(demo.acme)
    assert fieldset.attrs.get("data-hx-vals") == '{"refresh": "y"}'
    assert fieldset.attrs.get("data-hx-trigger") == "change"
    assert fieldset.attrs.get("data-hx-target") == "#new-user-form"


def test_finance_sees_the_offer_with_its_price_as_soon_as_the_type_has_no_free_seat(demo, login_as):
    """No submit: the refresh of choosing Essentials at Paris (0 free of 3) already offers the seat."""
    response = refresh(login_as("finance@northwind.example"), new_user_url(demo.acme), name="New Person",
                       email="new.person@example.org", site_id=demo.paris.id, subscription_type="essentials")
    assert response.status_code == 200
    form = parse_html(text_of(response)).by_id("new-user-form")
    notice = form.find("div", id="no-seat").text
    assert "one more Essentials seat at Paris" in notice and "essentials seat" not in notice
    assert "invoiced now" in notice or "No invoice is issued" in notice
    primaries = [b for b in form.find_all("button") if "primary" in b.attrs.get("class", "").split()]
    assert [(b.text, b.attrs.get("name")) for b in primaries] == [("Add a seat and create", "add_seat")]
    # Nothing allocated is still offered to whom may add seats.
    assert form.find("input", value="unlimited") is not None


def test_a_type_with_free_seats_shows_no_offer_and_one_primary_button(demo, login_as):
    response = refresh(login_as("finance@northwind.example"), new_user_url(demo.acme), site_id=demo.lyon.id,
                       subscription_type="essentials")
    form = parse_html(text_of(response)).by_id("new-user-form")
    assert form.find("div", id="no-seat") is None
    primaries = [b.text for b in form.find_all("button") if "primary" in b.attrs.get("class", "").split()]
    assert primaries == ["Create and invite"]


def test_a_client_admin_is_not_offered_types_with_nothing_allocated(demo, login_as):
    response = refresh(login_as("admin@acme.example"), new_user_url(demo.acme), site_id=demo.paris.id)
    form = parse_html(text_of(response)).by_id("new-user-form")
    offered = {radio.attrs["value"] for radio in form.find_all("input", type="radio", name="subscription_type")}
    assert offered == {"essentials", "support"}  # Unlimited: 0 of 0 at Paris


def test_a_client_admin_is_told_once_whom_to_ask(demo, login_as):
    from portal.domain.accounts.queries import finance_contacts

    contacts = finance_contacts(demo.acme.partner_id)
    assert [c.email for c in contacts] == ["finance@northwind.example"]
    client = login_as("admin@acme.example")
    chosen = refresh(client, new_user_url(demo.acme), site_id=demo.paris.id, subscription_type="essentials")
    refused = client.post(new_user_url(demo.acme), data={
        "name": "New Person", "email": "new.person@example.org", "site_id": str(demo.paris.id),
        "subscription_type": "essentials"})
    assert refused.status_code == 409
    for response in (chosen, refused):
        form = parse_html(text_of(response)).by_id("new-user-form")
        assert form.text.count("Ask a finance administrator") == 1 and form.text.count("finance administrator") == 1
        notice = form.find("div", id="no-seat").text
        assert "Northwind" in notice and contacts[0].name in notice and "finance@northwind.example" in notice
        assert form.find("button", name="add_seat") is None


# --- defect 8: bulk invite --------------------------------------------------------------------------------

def bulk_url(client):
    return f"/clients/{client.id}/users/bulk"


def test_the_site_and_type_selects_refresh_the_free_seats(demo, login_as):
    client = login_as("admin@acme.example")
    page = parse_html(text_of(client.get(bulk_url(demo.acme))))
    for name in ("site_id", "subscription_type"):
        select_ = page.find("select", name=name)
        # A POST: no typed addresses nor CSRF token in a URL, so none in server logs (issue 11, defect 13).
        assert select_.attrs.get("data-hx-post") == bulk_url(demo.acme) and "data-hx-get" not in select_.attrs
        assert select_.attrs.get("data-hx-vals") == '{"refresh": "y"}'
        assert select_.attrs.get("data-hx-trigger") == "change"
        assert select_.attrs.get("data-hx-target") == "#seat-status"

    response = refresh(client, bulk_url(demo.acme), emails="anna@example.org", site_id=demo.paris.id,
                       subscription_type="support")
    assert response.status_code == 200
    form = parse_html(text_of(response)).by_id("bulk-invite-form")
    assert form.by_id("seat-status").by_id("free-seats").text.startswith("Free at Paris:")
    assert form.find(class_="field-error") is None, "a refresh is not a submission"


def test_no_seat_has_its_own_message(demo, login_as):
    """Lyon has 1 free Essentials seat (demo); three people to invite."""
    response = login_as("admin@acme.example").post(bulk_url(demo.acme), data={
        "emails": "a@example.org\nb@example.org\nc@example.org", "site_id": str(demo.lyon.id),
        "subscription_type": "essentials", "send_invitation": "now"})
    assert response.status_code == 409
    body = text_of(response)
    assert "3 people to invite but only 1 free Essentials seat at Lyon" in body
    assert "Add a seat and create the user" not in body and "only 0 free" not in body


def test_without_seat_management_the_missing_seats_can_be_requested(demo, login_as):
    """Rule 29: the client admin may not buy the 2 missing seats; the refusal links to asking finance for them."""
    response = login_as("admin@acme.example").post(bulk_url(demo.acme), data={
        "emails": "a@example.org\nb@example.org\nc@example.org", "site_id": str(demo.lyon.id),
        "subscription_type": "essentials", "send_invitation": "now"})
    offer = parse_html(text_of(response)).by_id("request-seats")
    assert "can add the 2 missing seats" in offer.text
    link = offer.find("a")
    assert link.attrs["href"] == (f"/clients/{demo.acme.id}/sites/{demo.lyon.id}/seat-requests/new"
                                  "?subscription_type=essentials&quantity=2") and link.text == "Request seats"


def test_an_invalid_email_names_its_line(demo, login_as):
    response = login_as("admin@acme.example").post(bulk_url(demo.acme), data={
        "emails": "a@example.org\n\nnot-an-email\nb@example.org", "site_id": str(demo.lyon.id),
        "subscription_type": "essentials", "send_invitation": "now"})
    assert response.status_code == 422
    assert "Line 3: not-an-email is not a valid e-mail address." in text_of(response)


def test_adding_the_missing_seats_shows_their_price(demo, login_as):
    response = login_as("finance@northwind.example").post(bulk_url(demo.acme), data={
        "emails": "a@example.org\nb@example.org\nc@example.org", "site_id": str(demo.lyon.id),
        "subscription_type": "essentials", "send_invitation": "later"})
    assert response.status_code == 409
    offer = parse_html(text_of(response)).by_id("add-seats").text
    assert "Add the 2 missing Essentials seats at Lyon" in offer
    assert re.search(r"\d[\d,]*\.\d\d", offer) and "invoiced now" in offer, offer


@pytest.mark.parametrize(("emails", "said"), [
    ("one@example.org", "1 person was invited (Support at Paris)."),
    ("one@example.org\ntwo@example.org", "2 people were invited (Support at Paris)."),
])
def test_the_success_message_counts_right(emails, said, demo, login_as):
    client = login_as("admin@acme.example")
    response = client.post(bulk_url(demo.acme), data={
        "emails": emails, "site_id": str(demo.paris.id), "subscription_type": "support", "send_invitation": "later"})
    assert response.status_code == 303
    assert said in text_of(client.get(response.headers["Location"]))
