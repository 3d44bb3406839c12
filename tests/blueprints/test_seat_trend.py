"""The seats-over-time chart of the site, client and partner pages (docs/rules.md rule 35)."""
import pytest

from portal.domain.seats import allocations


def trend(page):
    return page.by_id("usage")


def rows(section):
    return [row.cells() for row in section.find("table", class_="usage-numbers").find("tbody").find_all("tr")]


def test_the_client_page_shows_90_days_with_the_numbers_behind(demo, login_as, html):
    finance = login_as("finance@northwind.example")

    section = trend(html(finance.get(f"/clients/{demo.acme.id}")))

    svg = section.find("svg")
    assert svg.attrs["role"] == "img"
    title = svg.find("title", id=svg.attrs["aria-labelledby"])
    assert "Acme Dental" in title.text and "90 days" in title.text
    assert not section.find_all("script")
    table = rows(section)
    assert len(table) == 90
    assert table[-1][1:] == ["12", "9"]  # today: Lyon 5+2 and Paris 3+2 bought; 4+2 and 3 held
    current = section.find("nav", class_="chart-ranges").find("a", aria_current="true")
    assert current.text == "90 days"


@pytest.mark.parametrize("asked, days", [("30d", 30), ("12m", 365), ("90d", 90), ("forever", 90)])
def test_the_period_links_choose_30_days_90_days_or_12_months(demo, login_as, html, asked, days):
    finance = login_as("finance@northwind.example")
    site = demo.site("Acme Dental", "Lyon")

    section = trend(html(finance.get(f"/clients/{demo.acme.id}/sites/{site.id}?range={asked}")))

    assert len(rows(section)) == days
    links = {link.text: link.attrs["href"] for link in section.find("nav", class_="chart-ranges").find_all("a")}
    assert links == {label: f"/clients/{demo.acme.id}/sites/{site.id}?range={key}#usage"
                     for label, key in (("30 days", "30d"), ("90 days", "90d"), ("12 months", "12m"))}


def test_a_change_shows_in_todays_numbers(demo, login_as, html):
    site = demo.site("Acme Dental", "Paris")
    allocations.set_allocation(demo.user("finance@northwind.example"), site, demo.type("essentials"), 6)
    finance = login_as("finance@northwind.example")

    table = rows(trend(html(finance.get(f"/clients/{demo.acme.id}/sites/{site.id}?range=30d"))))

    assert table[-1][1:] == ["8", "3"]  # essentials 6 + support 2 bought, 3 held


def test_the_partner_overview_charts_every_client(demo, login_as, html):
    finance = login_as("finance@northwind.example")

    section = trend(html(finance.get("/overview?tab=totals&range=30d")))

    assert rows(section)[-1][1:] == ["22", "16"]  # Acme 12/9 and Globex 10/7
    links = [link.attrs["href"] for link in section.find("nav", class_="chart-ranges").find_all("a")]
    assert links[0] == "/overview?tab=totals&range=30d#usage"


def test_the_chart_is_in_the_readers_language(demo, login_as, html):
    admin = login_as("admin@acme.example")

    section = trend(html(admin.get(f"/clients/{demo.acme.id}", headers={"Accept-Language": "fr"})))

    assert section.find("h2").text == "Sièges dans le temps"
    assert "90 derniers jours" in section.find("figcaption").text


def test_only_those_who_see_the_seats_see_the_chart(demo, login_as, html):
    lyon = demo.site("Acme Dental", "Lyon")
    accountant = html(login_as("accountant@acme.example").get(f"/clients/{demo.acme.id}"))
    frontdesk = html(login_as("frontdesk@acme.example").get(f"/clients/{demo.acme.id}/sites/{lyon.id}"))

    assert trend(accountant) is None
    assert trend(frontdesk) is None
