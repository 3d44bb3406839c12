"""The insight page and its CSV (docs/rules.md rule 36), for subscriptions.view holders.

Northwind's Acme Dental (monthly since DAY0) has Lyon with 3 seats nobody
used for a month and Paris with none free; Southwind's Initech has seats of
its own that Northwind never sees.
"""
import csv
import io
from datetime import date, timedelta

import pytest

from portal.domain import insights
from tests.factories import (
    AllocationFactory,
    ClientFactory,
    PartnerFactory,
    SiteFactory,
    SubscriptionTypeFactory,
    UserFactory,
)

TODAY = date(2027, 6, 30)
DAY0 = TODAY - timedelta(days=60)


@pytest.fixture
def world(on, northwind):
    on(DAY0)
    essentials = SubscriptionTypeFactory(essentials=True)
    finance = UserFactory(organisation=northwind, email="finance@northwind.example", finance=True)
    acme = ClientFactory(parent=northwind, name="Acme Dental")
    lyon = SiteFactory(client=acme, name="Lyon")
    AllocationFactory(site=lyon, subscription_type=essentials, allocated=5, consumed=2)
    paris = SiteFactory(client=acme, name="Paris")
    AllocationFactory(site=paris, subscription_type=essentials, allocated=2, consumed=2)
    initech = ClientFactory(parent=PartnerFactory(name="Southwind"), name="Initech")
    AllocationFactory(site=SiteFactory(client=initech, name="Austin"), subscription_type=essentials, allocated=9,
                      consumed=0)
    on(TODAY)
    return dict(northwind=northwind, finance=finance, acme=acme, lyon=lyon, paris=paris, essentials=essentials,
                initech=initech)


def test_finance_reads_the_three_lists_each_row_leading_to_where_it_is_acted_on(world, login_as, html):
    acme, lyon, paris = world["acme"], world["lyon"], world["paris"]
    browser = login_as("finance@northwind.example")

    response = browser.get("/insights")

    assert response.status_code == 200
    page = html(response)
    idle = page.by_id(f"idle-{lyon.id}-essentials")
    assert idle.cells() == ["Acme Dental", "Lyon", "Essentials", "3", "€45.00 per month"]
    assert idle.find("a").attrs["href"] == f"/clients/{acme.id}/sites/{lyon.id}#seat-essentials"
    running = page.by_id(f"running-out-{paris.id}-essentials")
    assert running.cells() == ["Acme Dental", "Paris", "Essentials", "0", "None left"]
    assert running.find("a").attrs["href"] == f"/clients/{acme.id}/sites/{paris.id}#seat-essentials"
    assert page.by_id(f"mrr-{acme.id}-eur").cells() == ["Acme Dental", "Monthly", "€105.00", "€0.00"]
    assert page.by_id(f"mrr-{acme.id}-eur").find("a").attrs["href"] == f"/clients/{acme.id}"
    assert page.by_id("mrr-total-eur").text == "Total: €105.00 a month · €0.00 over 30 days"
    assert "Initech" not in page.text and "Austin" not in page.text  # another partner's
    assert all(th.attrs.get("scope") in ("col", "row") for th in page.find_all("th"))
    assert page.by_id("idle-more") is None
    # The page is linked from the main navigation.
    nav = page.find("nav")
    assert any(link.attrs.get("href") == "/insights" for link in nav.find_all("a"))


def test_names_are_shown_as_written_never_as_markup(world, login_as, html):
    world["acme"].name = 'Acme <b>"Dental"</b>'
    world["lyon"].name = "Lyon & <i>Co</i>"
    from portal.extensions import db
    db.session.commit()

    response = login_as("finance@northwind.example").get("/insights")

    body = response.get_data(as_text=True)
    assert "<b>" not in body and "<i>" not in body
    assert "Acme &lt;b&gt;&#34;Dental&#34;&lt;/b&gt;" in body and "Lyon &amp; &lt;i&gt;Co&lt;/i&gt;" in body
    page = html(response)
    assert page.by_id(f"idle-{world['lyon'].id}-essentials").cells()[:2] == ['Acme <b>"Dental"</b>',
                                                                             "Lyon & <i>Co</i>"]


def test_the_seat_page_the_row_links_to_has_the_seat_row_it_points_at(world, login_as, html):
    acme, lyon = world["acme"], world["lyon"]
    page = html(login_as("finance@northwind.example").get(f"/clients/{acme.id}/sites/{lyon.id}"))
    assert page.by_id("seat-essentials") is not None


def test_long_lists_show_the_first_rows_and_send_to_the_csv_for_the_rest(on, world, login_as, html, monkeypatch):
    monkeypatch.setattr(insights, "PAGE_ROWS", 1)
    on(DAY0)
    SiteFactory(client=world["acme"], name="Nice")  # nothing allocated: in no list
    AllocationFactory(site=SiteFactory(client=world["acme"], name="Nantes"), subscription_type=world["essentials"],
                      allocated=2, consumed=0)
    on(TODAY)

    page = html(login_as("finance@northwind.example").get("/insights"))

    assert len(page.by_id("idle-seats").find("tbody").find_all("tr")) == 1
    more = page.by_id("idle-more")
    assert more.text == "And 1 more. Download the CSV"
    assert more.find("a").attrs["href"] == "/insights.csv?list=idle"


def test_empty_lists_say_so(on, northwind, login_as, html):
    on(TODAY)
    SubscriptionTypeFactory(essentials=True)
    UserFactory(organisation=northwind, email="finance@northwind.example", finance=True)

    page = html(login_as("finance@northwind.example").get("/insights"))

    assert page.by_id("idle-empty").text == "No idle seats over the last 30 days."
    assert page.by_id("running-out-empty").text == "No site is running out of seats."
    assert page.by_id("mrr-empty").text == "No recurring revenue: no client outside its trial has seats."
    assert page.find("table") is None


@pytest.mark.parametrize("role", ["accountant", "site_manager", "member"])
def test_client_staff_without_subscriptions_view_are_refused(world, login_as, role):
    extra = {"sites": [world["lyon"]]} if role == "site_manager" else {}
    user = UserFactory(organisation=world["acme"], **{role: True}, **extra)
    browser = login_as(user.email)

    assert browser.get("/insights").status_code == 403
    assert browser.get("/insights.csv?list=idle").status_code == 403
    assert 'href="/insights"' not in browser.get("/account").get_data(as_text=True)  # no link to it either


def test_a_partner_admin_without_subscriptions_view_is_refused(world, login_as):
    UserFactory(organisation=world["northwind"], email="admin@northwind.example", partner_admin=True)
    browser = login_as("admin@northwind.example")
    assert browser.get("/insights").status_code == 403


def test_anonymous_visitors_are_sent_to_the_login_page(world, client):
    response = client.get("/insights")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_client_admin_reads_their_own_clients_insight(world, login_as, html):
    UserFactory(organisation=world["acme"], email="admin@acme.example", client_admin=True)
    page = html(login_as("admin@acme.example").get("/insights"))
    assert page.by_id(f"idle-{world['lyon'].id}-essentials") is not None
    assert page.by_id("mrr-total-eur").text.startswith("Total: €105.00")


def _csv(response):
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_each_list_downloads_as_csv_with_every_row(world, login_as, monkeypatch):
    monkeypatch.setattr(insights, "PAGE_ROWS", 0)  # the page shows none: the CSV still has them all
    acme, lyon, paris = world["acme"], world["lyon"], world["paris"]
    browser = login_as("finance@northwind.example")

    idle = browser.get("/insights.csv?list=idle")
    assert idle.headers["Content-Disposition"] == f'attachment; filename="insights-idle-{TODAY}.csv"'
    assert _csv(idle) == [
        ["client_id", "client", "site_id", "site", "subscription_type", "idle_seats", "saving_per_period",
         "currency", "cycle"],
        [str(acme.id), "Acme Dental", str(lyon.id), "Lyon", "essentials", "3", "45.00", "EUR", "monthly"]]
    assert _csv(browser.get("/insights.csv?list=running_out")) == [
        ["client_id", "client", "site_id", "site", "subscription_type", "allocated", "free", "growth_30d",
         "days_left"],
        [str(acme.id), "Acme Dental", str(paris.id), "Paris", "essentials", "2", "0", "0", "0"]]
    assert _csv(browser.get("/insights.csv?list=mrr")) == [
        ["client_id", "client", "billing_cycle", "currency", "mrr", "change_30d"],
        [str(acme.id), "Acme Dental", "monthly", "EUR", "105.00", "0.00"]]


@pytest.mark.parametrize("query", ["", "?list=", "?list=everything", "?list=IDLE"])
def test_an_unknown_list_is_refused_with_a_sentence(world, login_as, html, query):
    response = login_as("finance@northwind.example").get("/insights.csv" + query)
    assert response.status_code == 422
    assert "Choose the list to download: idle" in html(response).text
