"""The site screen: seats per type with − / + and a number field (docs/rules.md rule 4, section 5)."""
import pytest

from portal.domain.accounts import users


def site_url(site):
    return f"/clients/{site.client_id}/sites/{site.id}"


def allocation_url(site, code):
    return f"{site_url(site)}/allocations/{code}"


def seat_row(page, code):
    return page.by_id(f"seat-{code}")


def test_finance_gets_minus_plus_and_a_number_field(demo, login_as, html):
    page = html(login_as("finance@northwind.example").get(site_url(demo.lyon)))

    row = seat_row(page, "essentials")
    form = row.find("form")
    assert form.attrs["method"] == "post" and form.attrs["action"] == allocation_url(demo.lyon, "essentials")
    assert form.attrs["hx-post"] == allocation_url(demo.lyon, "essentials")
    field = form.find("input", name="allocated")
    assert (field.attrs["type"], field.attrs["value"]) == ("number", "5")
    steps = {button.attrs["value"]: button for button in form.find_all("button", name="step")}
    assert set(steps) == {"-1", "1"}
    assert "disabled" not in steps["-1"].attrs
    assert row.cells()[2:4] == ["4", "1"]  # consumed, free


def test_minus_is_disabled_when_every_seat_is_in_use(demo, login_as, html):
    page = html(login_as("finance@northwind.example").get(site_url(demo.lyon)))

    minus = seat_row(page, "unlimited").find("button", name="step", value="-1")  # 2 allocated / 2 consumed
    assert "disabled" in minus.attrs


@pytest.mark.parametrize("email", ["support@northwind.example", "admin@northwind.example", "admin@acme.example"])
def test_without_seat_management_the_count_is_read_only(email, demo, login_as, html):
    page = html(login_as(email).get(site_url(demo.lyon)))

    row = seat_row(page, "essentials")
    assert row.find("span", id="allocated-essentials").text == "5"
    assert row.find("form") is None
    assert page.find("input", name="allocated") is None
    assert page.find("button", name="step") is None


def test_site_page_lists_the_users_holding_a_seat_there(demo, login_as, html):
    admin = demo.user("admin@acme.example")
    users.deactivate_user(admin, demo.user("user1@acme.example"))

    page = html(login_as("admin@acme.example").get(site_url(demo.lyon)))

    emails = [row.cells()[1] for row in page.find_all("tr") if row.attrs.get("id", "").startswith("site-user-")]
    assert sorted(emails) == [f"user{n}@acme.example" for n in range(2, 7)]


@pytest.mark.parametrize(("form", "expected"), [
    ({"allocated": "5", "step": "1"}, (6, 4)),
    ({"allocated": "5", "step": "-1"}, (4, 4)),
    ({"allocated": "9"}, (9, 4)),
    ({"allocated": " 7 "}, (7, 4)),
    ({"allocated": "7", "step": "100"}, (7, 4)),  # only ±1 moves the typed number
    ({"allocated": "5"}, (5, 4)),  # unchanged is fine
])
def test_setting_the_allocation(form, expected, demo, login_as, seats):
    browser = login_as("finance@northwind.example")

    response = browser.post(allocation_url(demo.lyon, "essentials"), data=form)

    assert response.status_code == 303
    assert response.headers["Location"] == site_url(demo.lyon)
    assert seats(demo.lyon, "essentials") == expected
    assert "Essentials seats at Lyon updated" in browser.get(site_url(demo.lyon)).get_data(as_text=True)


def test_a_type_never_allocated_at_the_site_can_be_raised(demo, login_as, seats):
    response = login_as("finance@northwind.example").post(
        allocation_url(demo.lyon, "support"), data={"allocated": "0", "step": "1"})

    assert response.status_code == 303
    assert seats(demo.lyon, "support") == (1, 0)


def refused(browser, response, html) -> str:
    """A refusal without htmx: Post/Redirect/Get to the site page, the message flashed there (issue 11, defect 13)."""
    assert response.status_code == 303, response.status_code
    page = html(browser.get(response.headers["Location"]))
    [message] = page.find_all(class_="flash flash-error")
    return message.text


@pytest.mark.parametrize("form", [{"allocated": "2"}, {"allocated": "4", "step": "-1"}, {"allocated": "0"}])
def test_going_below_the_seats_in_use_is_refused_and_names_them(form, demo, login_as, html, snapshot):
    browser = login_as("finance@northwind.example")
    before = snapshot()

    response = browser.post(allocation_url(demo.lyon, "essentials"), data=form)

    assert response.headers["Location"] == site_url(demo.lyon)
    message = refused(browser, response, html)
    assert message.startswith("Essentials seats at Lyon not changed:")
    assert "4" in message and "in use" in message
    assert snapshot() == before


def test_a_refusal_answered_at_the_post_url_would_post_again_on_reload(demo, login_as, html):
    """The refusal is a redirect: a reload of the page shown is a GET of the site page, the message gone."""
    browser = login_as("finance@northwind.example")
    response = browser.post(allocation_url(demo.lyon, "essentials"), data={"allocated": "2"})
    assert response.status_code == 303 and response.headers["Location"] == site_url(demo.lyon)
    assert "not changed" in refused(browser, response, html)
    reloaded = html(browser.get(site_url(demo.lyon)))
    assert reloaded.find_all(class_="flash flash-error") == []  # said once
    assert reloaded.find("input", id="allocated-essentials").attrs["value"] == "5"


@pytest.mark.parametrize(("value", "keyword"), [
    ("-1", "negative"),
    ("abc", "whole number"),
    ("1e3", "whole number"),
    ("4.5", "whole number"),
    ("0x10", "whole number"),
    ("١٢", "whole number"),  # non-ASCII digits
    ("", "whole number"),
    ("   ", "whole number"),
    ("100001", "100,000"),
    (str(10**12), None),
    (str(2**63), None),
])
def test_invalid_seat_numbers_are_refused_with_a_clear_message(value, keyword, demo, login_as, html, snapshot):
    browser = login_as("finance@northwind.example")
    before = snapshot()

    response = browser.post(allocation_url(demo.lyon, "essentials"), data={"allocated": value})

    message = refused(browser, response, html)
    assert message.startswith("Essentials seats at Lyon not changed:")
    if keyword:
        assert keyword in message.lower()
    assert snapshot() == before
    # Over htmx, the panel answers with the refusal under its row.
    panel = html(browser.hx_post(allocation_url(demo.lyon, "essentials"), data={"allocated": value}))
    assert keyword is None or keyword in panel.by_id("error-essentials").text.lower()
    assert panel.find("input", id="allocated-essentials").attrs.get("aria-invalid") == "true"


def test_plus_on_the_maximum_is_refused(demo, login_as, html, snapshot):
    browser = login_as("finance@northwind.example")
    before = snapshot()

    response = browser.post(allocation_url(demo.lyon, "essentials"), data={"allocated": "100000", "step": "1"})

    assert "100,000" in refused(browser, response, html)
    assert snapshot() == before


def test_an_unknown_subscription_type_is_404(demo, login_as, snapshot):
    browser = login_as("finance@northwind.example")
    before = snapshot()

    response = browser.post(allocation_url(demo.lyon, "platinum"), data={"allocated": "3"})

    assert response.status_code == 404
    assert snapshot() == before


def test_htmx_change_returns_the_updated_seat_panel(demo, login_as, assert_fragment, seats):
    response = login_as("finance@northwind.example").hx_post(
        allocation_url(demo.lyon, "essentials"), data={"allocated": "5", "step": "1"})

    panel = assert_fragment(response, "seat-panel")
    assert panel.find("input", id="allocated-essentials").attrs["value"] == "6"
    assert panel.by_id("seat-essentials").cells()[2:4] == ["4", "2"]
    assert seats(demo.lyon, "essentials") == (6, 4)


def test_htmx_refusal_returns_the_panel_with_the_message_in_place(demo, login_as, assert_fragment, seats):
    response = login_as("finance@northwind.example").hx_post(
        allocation_url(demo.lyon, "essentials"), data={"allocated": "1"})

    panel = assert_fragment(response, "seat-panel", status=409)
    assert "4" in panel.by_id("error-essentials").text
    assert seats(demo.lyon, "essentials") == (5, 4)

    invalid = login_as("finance@northwind.example").hx_post(
        allocation_url(demo.lyon, "essentials"), data={"allocated": "lots"})
    assert_fragment(invalid, "seat-panel", status=422)


def test_site_page_over_htmx_is_the_seat_panel(demo, login_as, assert_fragment):
    assert_fragment(login_as("support@northwind.example").hx_get(site_url(demo.lyon)), "seat-panel")


def test_lowering_seats_limits_new_users_at_once(demo, login_as, seats):
    finance = login_as("finance@northwind.example")
    finance.post(allocation_url(demo.lyon, "essentials"), data={"allocated": "4"})

    response = login_as("admin@acme.example").post(f"/clients/{demo.acme.id}/users/new", data={
        "name": "Late Comer", "email": "late@example.org", "site_id": demo.lyon.id, "subscription_type": "essentials"})

    assert response.status_code == 409
    assert seats(demo.lyon, "essentials") == (4, 4)


@pytest.mark.parametrize("typed", ["²", "٣", "³3"])
def test_non_ascii_digits_with_a_step_are_refused_cleanly(demo, login_as, html, typed):
    browser = login_as("finance@northwind.example")
    response = browser.post(
        f"/clients/{demo.acme.id}/sites/{demo.lyon.id}/allocations/essentials", data={"allocated": typed, "step": "1"})
    assert "whole number" in refused(browser, response, html)
    assert browser.hx_post(f"/clients/{demo.acme.id}/sites/{demo.lyon.id}/allocations/essentials",
                           data={"allocated": typed, "step": "1"}).status_code == 422


def test_a_non_ascii_client_filter_on_invoices_is_explained(demo, login_as):
    assert login_as("finance@northwind.example").get("/invoices?client_id=²").status_code == 422
