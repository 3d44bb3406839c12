"""The partner overview (docs/rules.md section 5): totals per type, and the per-client list."""
from urllib.parse import parse_qs, urlsplit

import pytest

from portal.domain.orgs import clients as client_service
from portal.domain.seats import allocations

OVERVIEW_TABS = "Overview of all clients"


def totals(page):
    """{code: (allocated, consumed, free)} from the totals table."""
    rows = {}
    for row in page.by_id("partner-totals").find_all("tr"):
        if row.attrs.get("id", "").startswith("total-"):
            cells = row.cells()
            rows[row.attrs["id"].removeprefix("total-")] = tuple(int(cell) for cell in cells[1:4])
    return rows


def client_rows(page):
    """[(name, cells...)] of the per-client table, in display order."""
    table = page.by_id("client-table")
    return [row.cells() for row in table.find_all("tr") if row.attrs.get("id", "").startswith("client-")]


def test_totals_add_up_every_northwind_client_and_nothing_else(demo, login_as, html):
    response = login_as("finance@northwind.example").get("/overview")

    assert response.status_code == 200
    # Acme Lyon 5/4 + Paris 3/3 essentials; Acme Lyon 2/2 + Globex 10/7 unlimited; Paris 2/0 support.
    # Southwind's Initech (essentials 4/1) is not Northwind's.
    assert totals(html(response)) == {
        "essentials": (8, 7, 1),
        "unlimited": (12, 9, 3),
        "support": (2, 0, 2),
    }


def test_the_operator_totals_cover_every_partner(demo, login_as, html):
    response = login_as("operator@portal.example").get("/overview?tab=totals")

    assert totals(html(response)) == {
        "essentials": (12, 8, 4),
        "unlimited": (12, 9, 3),
        "support": (2, 0, 2),
    }


def test_the_other_partner_sees_only_its_own_totals_and_clients(demo, login_as, html):
    browser = login_as("admin@southwind.example")

    assert totals(html(browser.get("/overview"))) == {
        "essentials": (4, 1, 3), "unlimited": (0, 0, 0), "support": (0, 0, 0)}
    names = [row[0] for row in client_rows(html(browser.get("/overview?tab=clients")))]
    assert names == ["Initech Vet"]


def test_totals_follow_an_allocation_change_at_once(demo, login_as, html):
    allocations.set_allocation(demo.user("finance@northwind.example"), demo.lyon, demo.type("essentials"), 10)

    response = login_as("support@northwind.example").get("/overview")

    assert totals(html(response))["essentials"] == (13, 7, 6)


def test_clients_tab_lists_each_client_with_its_seats(demo, login_as, html):
    response = login_as("support@northwind.example").get("/overview?tab=clients")

    assert response.status_code == 200
    rows = client_rows(html(response))
    # name, cycle, allocated, consumed, free, usage
    assert [row[:5] for row in rows] == [
        ["Acme Dental", "Monthly", "12", "9", "3"],
        ["Globex Clinic", "Annual", "10", "7", "3"],
    ]


@pytest.mark.parametrize(("q", "expected"), [
    ("glob", ["Globex Clinic"]),
    ("ACME", ["Acme Dental"]),
    ("c", ["Acme Dental", "Globex Clinic"]),
    ("initech", []),  # the other partner's client
    ("%", []),  # a wildcard is a character, not "anything"
    ("_", []),
])
def test_clients_search_by_name(q, expected, demo, login_as, html):
    response = login_as("finance@northwind.example").get("/overview", query_string={"tab": "clients", "q": q})

    page = html(response)
    assert [row[0] for row in client_rows(page)] == expected
    if not expected:
        assert "No client matches" in page.by_id("client-table").text


@pytest.mark.parametrize(("q", "expected"), [
    ("50%", ["Promo 50%_off/a"]),
    ("%_o", ["Promo 50%_off/a"]),
    ("f/a", ["Promo 50%_off/a"]),  # the escape character itself
    ("5_%", []),
])
def test_clients_search_finds_wildcard_characters_literally(q, expected, demo, login_as, html):
    client_service.create_client(demo.user("operator@portal.example"), demo.org("Northwind Telecom"),
                                 "Promo 50%_off/a", "monthly")

    page = html(login_as("finance@northwind.example").get("/overview", query_string={"tab": "clients", "q": q}))

    assert [row[0] for row in client_rows(page)] == expected


@pytest.fixture
def many_clients(demo):
    """25 more Northwind clients, "Clinic 01".."Clinic 25", client n with n free essentials seats."""
    operator = demo.user("operator@portal.example")
    northwind = demo.org("Northwind Telecom")
    essentials = demo.type("essentials")
    for n in range(1, 26):
        client = client_service.create_client(operator, northwind, f"Clinic {n:02d}", "monthly")
        site = client_service.create_site(operator, client, "Main")
        allocations.set_allocation(operator, site, essentials, n)
    return 27


def test_clients_sorted_by_free_seats_descending(many_clients, login_as, html):
    response = login_as("finance@northwind.example").get("/overview?tab=clients&sort=free&direction=desc")

    rows = client_rows(html(response))
    free = [int(row[4]) for row in rows]
    assert free == sorted(free, reverse=True)
    assert rows[0][0] == "Clinic 25" and free[0] == 25


def test_clients_list_is_paginated_and_keeps_search_and_sort(many_clients, login_as, html):
    browser = login_as("finance@northwind.example")

    first = html(browser.get("/overview?tab=clients&sort=free&direction=desc"))
    assert "27 clients" in first.by_id("client-table").text
    assert len(client_rows(first)) == 25
    assert "Page 1 of 2" in first.by_id("client-table").text
    next_link = first.find("a", rel="next")
    query = parse_qs(urlsplit(next_link.attrs["href"]).query)
    assert (query["page"], query["sort"], query["direction"]) == (["2"], ["free"], ["desc"])

    second = html(browser.get(next_link.attrs["href"]))
    second_rows = client_rows(second)
    assert len(second_rows) == 2
    names = [row[0] for row in client_rows(first) + second_rows]
    assert len(set(names)) == many_clients
    free = [int(row[4]) for row in client_rows(first) + second_rows]
    assert free == sorted(free, reverse=True)


@pytest.mark.parametrize(("page", "expected_first"), [("99", "Clinic 25"), ("abc", "Acme Dental"), ("-1", "Acme Dental")])
def test_out_of_range_or_garbage_page_numbers_show_a_real_page(page, expected_first, many_clients, login_as, html):
    response = login_as("finance@northwind.example").get(f"/overview?tab=clients&page={page}")

    assert response.status_code == 200
    rows = client_rows(html(response))
    assert rows and rows[0][0] == expected_first


def test_unknown_sort_falls_back_to_name(demo, login_as, html):
    response = login_as("finance@northwind.example").get("/overview?tab=clients&sort=password&direction=sideways")

    assert response.status_code == 200
    assert [row[0] for row in client_rows(html(response))] == ["Acme Dental", "Globex Clinic"]


def test_partner_admin_without_subscriptions_view_sees_no_seat_figures(demo, login_as, html):
    browser = login_as("admin@northwind.example")

    for url in ("/overview", "/overview?tab=totals", "/overview?tab=clients"):
        response = browser.get(url)
        assert response.status_code == 200, url
        page = html(response)
        assert page.by_id("partner-totals") is None, url
        assert OVERVIEW_TABS not in page.text, url
        table = page.by_id("client-table")
        headers = [cell.text.rstrip(" ▲▼") for cell in table.find_all("th") if cell.attrs.get("scope") == "col"]
        assert headers == ["Client", "Billing cycle"], url
        assert [row[0] for row in client_rows(page)] == ["Acme Dental", "Globex Clinic"], url


def test_partner_admin_cannot_sort_clients_by_seat_figures(many_clients, login_as, html):
    """Sorting by free seats would reveal the figures the columns hide."""
    response = login_as("admin@northwind.example").get("/overview?tab=clients&sort=free&direction=desc")

    names = [row[0] for row in client_rows(html(response))]
    assert names == sorted(names, reverse=True)  # by name, in the direction asked


def test_finance_sees_both_tabs(demo, login_as, html):
    page = html(login_as("finance@northwind.example").get("/overview"))

    tabs = page.find("nav", class_="tabs").find_all("a")
    assert [tab.text for tab in tabs] == [OVERVIEW_TABS, "Detail per client"]
    assert page.by_id("partner-totals") is not None


@pytest.mark.parametrize(("url", "root"), [
    ("/overview?tab=totals", "partner-totals"),
    ("/overview?tab=clients&q=glob", "client-table"),
    ("/overview?tab=clients&sort=free&direction=desc&page=1", "client-table"),
])
def test_htmx_requests_get_only_the_fragment(url, root, demo, login_as, assert_fragment):
    browser = login_as("finance@northwind.example")

    fragment = assert_fragment(browser.hx_get(url), root)

    full = browser.get(url)
    assert "<html" in full.get_data(as_text=True)
    assert "HX-Request" in full.headers["Vary"]
    if root == "client-table" and "glob" in url:
        assert "Globex Clinic" in fragment.text and "Acme Dental" not in fragment.text


def test_client_staff_have_no_partner_overview(demo, login_as):
    assert login_as("admin@acme.example").get("/overview").status_code == 404


@pytest.mark.parametrize("page", ["²", "٣", "-1", "0", "1e3", "99999999999", "abc"])
def test_a_strange_page_number_shows_the_first_page(demo, login_as, page):
    for url in (f"/overview?tab=clients&page={page}", f"/invoices?page={page}", f"/audit?page={page}",
                f"/members?page={page}", f"/clients/{demo.acme.id}?page={page}"):
        response = login_as("finance@northwind.example").get(url)
        assert response.status_code == 200, url


# --- the language of a new client's invitations (docs/rules.md rule 37) ----------------------------


def test_the_new_client_form_offers_the_languages_of_invitations_english_first(demo, login_as, html):
    page = html(login_as("admin@northwind.example").get("/clients/new"))
    select = page.find("select", name="language")
    options = [(option.attrs["value"], option.text) for option in select.find_all("option")]
    assert options == [("en", "English"), ("fr", "Français"), ("pl", "Polski")]
    assert "selected" in select.find("option", value="en").attrs
    assert page.find("label", for_=select.attrs["id"]).text == "Language of invitations"


def test_a_client_created_in_french_invites_in_french(demo, login_as):
    from portal.extensions import db
    from portal.models import Organisation

    response = login_as("admin@northwind.example").post(
        "/clients/new", data={"name": "Zed Clinic", "billing_cycle": "monthly", "language": "fr"})
    assert response.status_code == 303
    db.session.rollback()
    assert demo.org("Zed Clinic").language == "fr"
    assert db.session.get(Organisation, demo.acme.id).language == "fr"  # the demo's, untouched


def test_an_unknown_language_for_a_new_client_is_explained_and_creates_nothing(demo, login_as, html):
    from sqlalchemy import func, select

    from portal.extensions import db
    from portal.models import Organisation

    before = db.session.scalar(select(func.count(Organisation.id)))
    response = login_as("admin@northwind.example").post(
        "/clients/new", data={"name": "Zed Clinic", "billing_cycle": "monthly", "language": "de"})
    assert response.status_code == 422
    error = html(response).find("p", id="language-error")
    assert error is not None and "language of invitations" in error.text
    db.session.rollback()
    assert db.session.scalar(select(func.count(Organisation.id))) == before


# --- issue 11: the operator's partner dimension (defect 10), seats to subscriptions.view (defect 7) ---------


def column_headers(table):
    return [cell.text.rstrip(" ▲▼") for cell in table.find_all("th") if cell.attrs.get("scope") == "col"]


def test_the_operators_client_list_names_each_clients_partner(demo, login_as, html):
    """The operator reaches every partner's clients: a Partner column, linking to the partner's page."""
    page = html(login_as("operator@portal.example").get("/overview?tab=clients"))

    table = page.by_id("client-table")
    assert column_headers(table)[:3] == ["Client", "Partner", "Billing cycle"]
    assert [row[:3] for row in client_rows(page)] == [
        ["Acme Dental", "Northwind Telecom", "Monthly"],
        ["Globex Clinic", "Northwind Telecom", "Annual"],
        ["Initech Vet", "Southwind Networks", "Monthly"],
    ]
    initech = page.by_id(f"client-{demo.org('Initech Vet').id}")
    assert initech.find("a", href=f"/operator/partners/{demo.org('Southwind Networks').id}") is not None


def test_the_partner_column_follows_htmx_swaps_and_search(demo, login_as, assert_fragment):
    fragment = assert_fragment(login_as("operator@portal.example").hx_get("/overview?tab=clients&q=initech"),
                               "client-table")
    assert "Partner" in column_headers(fragment) and "Southwind Networks" in fragment.text


@pytest.mark.parametrize("email", ["admin@northwind.example", "finance@northwind.example",
                                   "support@northwind.example", "admin@southwind.example"])
def test_partner_staff_see_no_partner_column(email, demo, login_as, html):
    table = html(login_as(email).get("/overview?tab=clients")).by_id("client-table")
    assert "Partner" not in column_headers(table)


def test_the_operators_overview_speaks_of_every_partners_clients(demo, login_as, html):
    """Issue 11, defect 10: the operator has no clients of its own ("all your clients" was wrong)."""
    operator = html(login_as("operator@portal.example").get("/overview?tab=totals")).by_id("partner-totals")
    assert operator.find("caption").text == "Every subscription allocated to every partner's clients"
    assert "your clients" not in operator.text
    partner = html(login_as("finance@northwind.example").get("/overview?tab=totals")).by_id("partner-totals")
    assert partner.find("caption").text == "Every subscription allocated to all your clients"


# DESIGN section 15: "the per-client tab shows each client's seats and usage to every user holding
# subscriptions.view" (finance, partner support, the operator); the partner admin holds no subscriptions.view.
@pytest.mark.parametrize(("email", "sees_seats"), [
    ("support@northwind.example", True),
    ("finance@northwind.example", True),
    ("operator@portal.example", True),
    ("admin@southwind.example", True),  # Southwind's admin is also its finance
    ("admin@northwind.example", False),
])
def test_the_per_client_tab_shows_seats_and_usage_to_each_role_with_subscriptions_view(
        email, sees_seats, demo, login_as, html):
    page = html(login_as(email).get("/overview?tab=clients"))

    table = page.by_id("client-table")
    seat_columns = ["Allocated", "Consumed", "Free", "Usage"]
    assert (column_headers(table)[-4:] == seat_columns) is sees_seats
    first = page.by_id(f"client-{demo.org('Initech Vet' if 'southwind' in email else 'Acme Dental').id}")
    if sees_seats:
        # Acme: 12 allocated, 9 consumed; Initech: 4 and 1. The usage bar says its percentage.
        expected = {"Acme Dental": ["12", "9", "3"], "Initech Vet": ["4", "1", "3"]}[first.cells()[0]]
        assert first.cells()[-4:-1] == expected
        meter, percent = first.find("meter"), first.find("span", class_="percent")
        assert meter.attrs["value"] == expected[1] and meter.attrs["max"] == expected[0]
        assert percent.text == {"12": "75%", "4": "25%"}[expected[0]]
    else:
        assert table.find("meter") is None and not set(seat_columns) & set(column_headers(table))
