"""The price book page, the client page's prices panel and the price forms (docs/rules.md rule 22).

The demo has no price book entries: every client pays the list price
(Essentials 15.00 a month, 150.00 a year). Northwind's cost of Essentials is 12.00 (20 % off).
"""
import pytest
from sqlalchemy import func, select

from portal.domain.billing import price_book
from portal.extensions import db
from portal.models import ClientPrice, PriceBookEntry, User


@pytest.fixture
def finance(demo, login_as):
    return login_as("finance@northwind.example")


def entries():
    db.session.rollback()
    return (db.session.scalar(select(func.count()).select_from(PriceBookEntry)),
            db.session.scalar(select(func.count()).select_from(ClientPrice)))


def test_finance_reads_the_price_book_with_list_price_cost_and_its_price(finance, html):
    page = html(finance.get("/price-book"))

    assert page.by_id("type-essentials").cells()[:7] == ["Essentials", "€15.00", "€150.00", "€12.00", "€120.00",
                                                         "€15.00", "€150.00 list price"]
    assert "reaches each client at the start of its next period" in page.text
    assert any(link.attrs.get("href") == "/price-book" for link in page.find_all("a"))  # in the navigation


def test_setting_a_price_shows_on_the_book_and_as_the_coming_price_on_the_client_page(demo, finance, html):
    response = finance.post("/price-book/essentials", data={"monthly": "18", "annual": "180.00"})

    assert response.status_code == 303 and response.headers["Location"] == "/price-book"
    page = html(finance.get("/price-book"))
    assert page.by_id("type-essentials").cells()[5:7] == ["€18.00", "€180.00"]
    assert "Your price of Essentials is saved" in page.text
    client_page = html(finance.get(f"/clients/{demo.acme.id}"))
    cells = client_page.by_id("price-essentials").cells()
    assert cells[:4] == ["Essentials", "€15.00 per month",
                         f"€18.00 from {demo.acme.period_end:%b} {demo.acme.period_end.day}, "
                         f"{demo.acme.period_end.year}", "Your price book"]


@pytest.mark.parametrize("monthly, annual, message", [
    ("-1", "100", "cannot be negative"),
    ("abc", "100", "at most two decimals"),
    ("1,5", "100", "with a dot for decimals"),
    ("15.001", "100", "at most two decimals"),
    ("15", "", "This field is required"),
    ("2000000", "100", "at most 1,000,000.00"),
])
def test_a_bad_price_is_a_field_error_and_nothing_is_written(demo, finance, html, monthly, annual, message):
    for url in ("/price-book/essentials", f"/clients/{demo.acme.id}/prices/essentials"):
        response = finance.post(url, data={"monthly": monthly, "annual": annual})
        assert response.status_code == 422
        assert message in html(response).text
    assert entries() == (0, 0)


def test_going_back_to_the_list_price_asks_first(demo, finance, html):
    price_book.set_book_price(db.session.get(User, _finance_id()), demo.org("Northwind Telecom"), "essentials",
                              1800, 18000)
    confirm = finance.get("/price-book/essentials/clear")
    assert confirm.status_code == 200 and "Go back to the list price of Essentials?" in html(confirm).text
    assert entries() == (1, 0)
    done = finance.post("/price-book/essentials/clear")
    assert done.status_code == 303 and entries() == (0, 0)


def _finance_id():
    return db.session.scalar(select(User.id).where(User.email == "finance@northwind.example"))


def test_a_client_price_from_the_client_page_and_back_to_the_price_book(demo, finance, html):
    acme = demo.acme
    form = html(finance.get(f"/clients/{acme.id}/prices/unlimited"))
    assert form.by_id("monthly").attrs["value"] == "29.00"
    response = finance.post(f"/clients/{acme.id}/prices/unlimited", data={"monthly": "25", "annual": "250"})
    assert response.status_code == 303 and entries() == (0, 1)
    page = html(finance.get(f"/clients/{acme.id}"))
    assert page.by_id("price-unlimited").cells()[3] == "The client's own price"
    assert finance.get(f"/clients/{acme.id}/prices/unlimited/clear").status_code == 200
    assert finance.post(f"/clients/{acme.id}/prices/unlimited/clear").status_code == 303
    assert entries() == (0, 0)


def test_who_sees_what(demo, login_as, html):
    acme = demo.acme
    # A partner admin holds neither prices.manage nor margins.view: no price book.
    admin = login_as("admin@northwind.example")
    assert admin.get("/price-book").status_code == 403
    assert admin.post(f"/clients/{acme.id}/prices/essentials", data={"monthly": "1", "annual": "1"}).status_code \
        == 403
    # A client admin reads its prices on its page, without any way to change them and without cost.
    client_admin = login_as("admin@acme.example")
    page = html(client_admin.get(f"/clients/{acme.id}"))
    assert page.by_id("price-essentials").cells() == ["Essentials", "€15.00 per month", "no change",
                                                      "The list price"]
    assert client_admin.get("/price-book").status_code == 404
    assert client_admin.get(f"/clients/{acme.id}/prices/essentials").status_code == 403
    # A site manager limited to Lyon reads no whole-client prices.
    assert html(login_as("frontdesk@acme.example").get(f"/clients/{acme.id}")).by_id("prices") is None
    # Another partner's client: not found.
    southwind = login_as("admin@southwind.example")
    assert southwind.get(f"/clients/{acme.id}/prices/essentials").status_code == 404
    assert southwind.post(f"/clients/{acme.id}/prices/essentials/clear").status_code == 404
    assert entries() == (0, 0)


def test_price_changes_read_as_sentences_in_the_audit_log(demo, finance, login_as, html):
    finance.post("/price-book/essentials", data={"monthly": "18", "annual": "180"})
    finance.post(f"/clients/{demo.acme.id}/prices/unlimited", data={"monthly": "25", "annual": "250"})
    finance.post(f"/clients/{demo.acme.id}/prices/unlimited/clear")
    finance.post("/price-book/essentials/clear")

    text = html(login_as("admin@northwind.example").get("/audit")).text
    for sentence in (
            "set the price book's price of Essentials to €18.00 a month and €180.00 a year",
            "set the price of Unlimited for Acme Dental to €25.00 a month and €250.00 a year",
            "put Unlimited back at the price book's price for Acme Dental",
            "put Essentials back at the list price in the price book"):
        assert sentence in text, sentence
