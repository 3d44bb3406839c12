"""Invoice screens, CSV export and the billing controls on the client page."""
import csv
import io

from babel.dates import format_date
from sqlalchemy import select

from portal.domain.seats import allocations
from portal.extensions import db
from portal.models import Invoice, RoleAssignment, User


def acme_invoice(demo):
    return db.session.scalar(select(Invoice).where(Invoice.client_id == demo.acme.id))


def test_finance_lists_every_invoice_of_its_partner_only(demo, login_as):
    page = login_as("finance@northwind.example").get("/invoices").get_data(as_text=True)
    assert "Acme Dental" in page and "Globex Clinic" in page
    assert "Initech Vet" not in page and "SW-000001" not in page


def test_another_partners_invoice_is_not_found(demo, login_as):
    response = login_as("admin@southwind.example").get(f"/invoices/{acme_invoice(demo).id}")
    assert response.status_code == 404


def test_roles_without_billing_view_are_refused(demo, login_as):
    assert login_as("admin@northwind.example").get("/invoices").status_code == 403
    assert login_as("frontdesk@acme.example").get("/invoices/export.csv").status_code == 403


def test_the_accountant_lands_on_its_clients_invoices_and_cannot_open_client_pages(demo, login_as):
    accountant = login_as("accountant@acme.example")
    assert accountant.get("/").headers["Location"].endswith("/invoices")
    page = accountant.get("/invoices").get_data(as_text=True)
    assert acme_invoice(demo).number in page and "Globex" not in page
    assert accountant.get(f"/clients/{demo.acme.id}").status_code == 403
    assert accountant.post(f"/clients/{demo.acme.id}/billing-cycle", data={"billing_cycle": "annual"}).status_code == 403


def test_an_accountant_restricted_to_a_site_reads_only_its_lines(demo, login_as):
    assignment = db.session.scalar(select(RoleAssignment).join(User).where(User.email == "accountant@acme.example"))
    assignment.sites = [demo.paris]
    db.session.commit()
    accountant = login_as("accountant@acme.example")
    detail = accountant.get(f"/invoices/{acme_invoice(demo).id}").get_data(as_text=True)
    assert "Paris" in detail and "Lyon" not in detail
    assert "Subtotal for your sites" in detail and "€45.00" in detail
    rows = list(csv.DictReader(io.StringIO(accountant.get("/invoices/export.csv").get_data(as_text=True))))
    assert {row["site"] for row in rows} == {"Paris"}


def test_the_csv_export_has_one_row_per_line_with_decimal_amounts(demo, login_as):
    response = login_as("finance@northwind.example").get("/invoices/export.csv?kind=period")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    lyon = next(r for r in rows if r["site"] == "Lyon" and r["subscription_type"] == "essentials")
    assert (lyon["client"], lyon["quantity"], lyon["unit_price"], lyon["amount"]) == ("Acme Dental", "5", "15.00", "75.00")
    assert len(rows) == 4 + 1  # Acme's four lines, Globex's one


def test_filters_narrow_the_list_and_a_bad_month_is_explained(demo, login_as):
    finance = login_as("finance@northwind.example")
    allocations.set_allocation(demo.user("finance@northwind.example"), demo.lyon, demo.type("essentials"), 6)
    prorations = finance.get("/invoices?kind=proration", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<td>Proration</td>" in prorations and "<td>Period</td>" not in prorations
    assert "1 invoice" in prorations
    bad = finance.get("/invoices?period=2027-13")
    assert bad.status_code == 422 and "YYYY-MM" in bad.get_data(as_text=True)


def test_finance_changes_and_withdraws_the_billing_cycle_in_place(demo, login_as):
    finance = login_as("finance@northwind.example")
    url = f"/clients/{demo.acme.id}/billing-cycle"
    fragment = finance.post(url, data={"billing_cycle": "annual"}, headers={"HX-Request": "true"})
    text = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and text.lstrip().startswith('<section id="billing-panel"')
    assert f"Annual from {format_date(demo.acme.period_end, 'medium', locale='en')}" in text  # "Jan 1, 2027"
    withdrawn = finance.post(url, data={"billing_cycle": ""}, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Annual from" not in withdrawn
    assert demo.acme.pending_billing_cycle is None


def test_an_unknown_cycle_or_a_role_without_finance_changes_nothing(demo, login_as):
    url = f"/clients/{demo.acme.id}/billing-cycle"
    refused = login_as("finance@northwind.example").post(url, data={"billing_cycle": "weekly"})
    assert refused.status_code == 422 and "monthly or annual" in refused.get_data(as_text=True)
    assert login_as("admin@northwind.example").post(url, data={"billing_cycle": "annual"}).status_code == 403
    assert login_as("admin@southwind.example").post(url, data={"billing_cycle": "annual"}).status_code == 404
    db.session.expire_all()
    assert demo.acme.pending_billing_cycle is None


def test_the_site_page_tells_finance_what_one_more_seat_costs_now(demo, login_as):
    page = login_as("finance@northwind.example").get(f"/clients/{demo.acme.id}/sites/{demo.lyon.id}")
    text = page.get_data(as_text=True)
    days = (demo.acme.period_end - demo.acme.period_start).days
    assert f"One more seat now: €15.00 ({days} of {days} days left)" in text
    support_page = login_as("support@northwind.example").get(f"/clients/{demo.acme.id}/sites/{demo.lyon.id}")
    assert "One more seat now" not in support_page.get_data(as_text=True)


def test_the_client_page_previews_the_next_period_invoice(demo, login_as):
    text = login_as("finance@northwind.example").get(f"/clients/{demo.acme.id}").get_data(as_text=True)
    assert '<strong id="next-invoice-total">€178.00</strong>' in text


def test_exports_stream_in_several_batches_after_the_view_returned(demo, login_as, monkeypatch):
    """The body is read after the request's own session closed, as under a real server.

    With two rows per round trip, a query started in the view (not in the
    streaming generator) loses its cursor: PostgreSQL answered "cursor does
    not exist" once the export needed a second batch.
    """
    from portal.web import csv_export

    monkeypatch.setattr(csv_export, "BATCH", 2)
    finance = login_as("finance@northwind.example")
    invoices = list(csv.DictReader(io.StringIO(finance.get("/invoices/export.csv").get_data(as_text=True))))
    assert len(invoices) == 5  # Acme's four lines and Globex's one, over three batches
    admin = login_as("admin@northwind.example")
    events = list(csv.DictReader(io.StringIO(admin.get("/audit/export.csv").get_data(as_text=True))))
    assert len(events) >= 3 and {"auth.login"} <= {e["action"] for e in events}


def test_the_invoice_list_and_page_read_money_and_days_in_french(demo, login_as, html):
    """docs/rules.md rule 37 and screen 15: CLDR money and days, and a period ending on its last day."""
    from datetime import timedelta

    invoice = acme_invoice(demo)
    finance = login_as("finance@northwind.example")
    french = {"Accept-Language": "fr"}
    row = html(finance.get("/invoices", headers=french)).by_id(f"invoice-{invoice.id}")
    day = lambda d: format_date(d, "medium", locale="fr")  # noqa: E731 - "1 déc. 2026"
    period, issued, total = row.cells()[3:6]
    assert day(invoice.period_start) in period and day(invoice.period_end - timedelta(days=1)) in period
    assert day(invoice.period_end) not in period  # the stored end is excluded: people read the last day
    assert issued == day(invoice.issued_on)
    assert total == "178,00 €"
    detail = html(finance.get(f"/invoices/{invoice.id}", headers=french))
    assert "178,00 €" in detail.text and day(invoice.issued_on) in detail.text
    english = html(finance.get(f"/invoices/{invoice.id}")).text
    assert "€178.00" in english and format_date(invoice.issued_on, "medium", locale="en") in english
    assert "Period invoice" in english and "Monthly" in english


# --- issue 11, defects 10 and 11: the operator's partner column, periods of a client in trial ---------


def test_the_operators_invoice_list_names_each_invoices_partner(demo, login_as, html):
    """The operator reaches every partner's invoices: a Partner column, linking to the partner's page."""
    page = html(login_as("operator@portal.example").get("/invoices"))
    table = page.by_id("invoice-table")
    headers = [cell.text for cell in table.find_all("th") if cell.attrs.get("scope") == "col"]
    assert headers[:3] == ["Number", "Client", "Partner"]
    northwind, southwind = demo.org("Northwind Telecom"), demo.org("Southwind Networks")
    rows = {row.cells()[1]: row for row in table.find_all("tr") if row.attrs.get("id", "").startswith("invoice-")}
    assert {client: row.cells()[2] for client, row in rows.items()} == {
        "Acme Dental": "Northwind Telecom", "Globex Clinic": "Northwind Telecom", "Initech Vet": "Southwind Networks"}
    assert rows["Initech Vet"].find("a", href=f"/operator/partners/{southwind.id}") is not None
    assert rows["Acme Dental"].find("a", href=f"/operator/partners/{northwind.id}") is not None


def test_partner_staff_and_client_staff_see_no_partner_column(demo, login_as, html):
    for email in ("finance@northwind.example", "admin@southwind.example", "accountant@acme.example"):
        table = html(login_as(email).get("/invoices")).by_id("invoice-table")
        headers = [cell.text for cell in table.find_all("th") if cell.attrs.get("scope") == "col"]
        assert "Partner" not in headers and headers[:2] == ["Number", "Client"], email


def test_an_operator_with_one_partner_sees_no_partner_column(login_as, html):
    """The column names the partner only when the viewer reaches more than one."""
    from tests.factories import ClientFactory, UserFactory

    operator = UserFactory(operator_admin=True)
    ClientFactory(parent__parent=operator.organisation, name="Lone Clinic")

    table = html(login_as(operator.email).get("/invoices")).by_id("invoice-table")

    headers = [cell.text for cell in table.find_all("th") if cell.attrs.get("scope") == "col"]
    assert "Lone Clinic" in table.text and "Partner" not in headers


def _trial_client(demo):
    """A Northwind client in a 14-day trial from today, with 3 essentials seats at its site Main."""
    from portal.domain.orgs import clients

    admin = demo.user("admin@northwind.example")
    client = clients.create_client(admin, demo.org("Northwind Telecom"), "Trial Vet", "monthly", trial_days=14)
    site = clients.create_site(admin, client, "Main")
    allocations.set_allocation(demo.user("finance@northwind.example"), site, demo.type("essentials"), 3)
    return client


def test_a_client_in_trial_shows_its_trial_and_first_period_not_a_current_period_in_the_future(demo, login_as, html):
    from datetime import timedelta

    from portal import clock

    client = _trial_client(demo)
    today, english = clock.today(), lambda d: format_date(d, "medium", locale="en")
    trial_end = today + timedelta(days=14)  # the first day after the trial: the first period starts then

    panel = html(login_as("finance@northwind.example").get(f"/clients/{client.id}")).by_id("billing-panel")

    line = panel.by_id("billing-cycle").text
    assert (f"Trial until {english(trial_end - timedelta(days=1))}; the first period starts {english(trial_end)}"
            in line)
    assert "current period" not in line
    # The preview is the first period's invoice (the one the trial's end issues), its last day inclusive.
    first_end = client.period_end
    assert (f"Next period invoice ({english(trial_end)} → {english(first_end - timedelta(days=1))}, "
            "monthly billing): €45.00 for 3 seats") in panel.text


def test_a_client_out_of_its_trial_shows_its_current_period(demo, login_as, html):
    from datetime import timedelta

    acme = demo.acme
    line = html(login_as("finance@northwind.example").get(f"/clients/{acme.id}")).by_id("billing-cycle").text
    english = lambda d: format_date(d, "medium", locale="en")  # noqa: E731
    assert f"current period {english(acme.period_start)} → {english(acme.period_end - timedelta(days=1))}" in line
    assert "Trial" not in line
