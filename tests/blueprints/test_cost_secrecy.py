"""docs/rules.md rule 23: cost and margin are the partner's secret — no client user reads them on any page or CSV.

Every client-side demo role walks every screen it can reach (the pages of
tests/i18n/test_screens.py SCREENS and the GET routes of the access matrix,
plus its own client's pages: sites, invoices, their PDFs, exports), after a proration has
been issued and a seat request is pending. No page or CSV it reads may say
"Cost", "Margin" or "unit_cost", link the margin report, or show one of the
partner's cost figures of the demo (Northwind buys at 20 % off, Southwind at
15 %). Finance reads the very figures on the margin report: the check would
see them if they leaked.
"""
import io
import re

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from portal.domain.seats import allocations, requests
from portal.extensions import db
from portal.models import Invoice, Site
from tests.blueprints.test_access_matrix import ROUTES
from tests.helpers import LOGINS
from tests.i18n.test_screens import SCREENS, readable_text

CLIENT_ROLES = {"acme_admin": "Acme Dental", "acme_accountant": "Acme Dental", "acme_frontdesk": "Acme Dental",
                "globex_admin": "Globex Clinic", "initech_admin": "Initech Vet"}
# Words of cost and margin, as the margin report and its CSV write them.
SECRET_WORDS = re.compile(r"\b[Cc]ost\b|\b[Mm]argins?\b|unit_cost|margin_percent")
# The partner's cost of each demo client, as pages ("€142.40") and CSVs ("142.40") write it:
# Acme's period invoice costs 142.40, its Unlimited seats 46.40 (23.20 each); Globex's year
# costs 2,320.00 (232.00 a seat); Initech's month 51.00 (12.75 a seat).
SECRET_FIGURES = {"Acme Dental": ("142.40", "46.40", "23.20"),
                  "Globex Clinic": ("2,320.00", "2320.00", "232.00"),
                  "Initech Vet": ("51.00", "12.75")}


@pytest.fixture
def busy_demo(demo):
    """The demo after a day of use: a proration per client, and a seat request pending at each site."""
    finance = demo.user(LOGINS["nw_finance"])
    southwind = demo.user(LOGINS["sw_admin"])
    for actor, site, code, seats in ((finance, demo.lyon, "essentials", 6),
                                     (finance, demo.site("Globex Clinic", "Main"), "unlimited", 11),
                                     (southwind, demo.site("Initech Vet", "Berlin"), "essentials", 5)):
        allocations.set_allocation(actor, site, demo.type(code), seats)
    for email, site in ((LOGINS["acme_admin"], demo.lyon), (LOGINS["acme_admin"], demo.paris),
                        (LOGINS["globex_admin"], demo.site("Globex Clinic", "Main"))):
        requests.request_seats(demo.user(email), site, "essentials", 1, note="For the new nurse")
    return demo


def _own_pages(demo, client_name) -> list[str]:
    client = demo.org(client_name)
    sites = db.session.scalars(select(Site.id).where(Site.client_id == client.id)).all()
    invoices = db.session.scalars(select(Invoice.id).where(Invoice.client_id == client.id)).all()
    return [f"/clients/{client.id}", f"/clients/{client.id}/users/new", f"/clients/{client.id}/users/bulk",
            *[f"/clients/{client.id}/sites/{site}" for site in sites],
            *[f"/clients/{client.id}/sites/{site}/seat-requests/new" for site in sites],
            "/invoices", f"/invoices?client_id={client.id}", *[f"/invoices/{invoice}" for invoice in invoices],
            *[f"/invoices/{invoice}.pdf" for invoice in invoices],
            "/invoices/export.csv", "/audit", "/audit/export.csv", "/seat-requests", "/members", "/account",
            "/reports/margins", "/reports/margins.csv"]


def _every_page(demo, client_name) -> list[str]:
    paths = [path(demo) for _who, path in SCREENS.values()]
    paths += [route(demo)[1] for route in ROUTES.values() if route(demo)[0] == "GET"]
    paths += _own_pages(demo, client_name)
    return list(dict.fromkeys(paths))


def pdf_text(data: bytes) -> str:
    """The text of a PDF (an invoice document, rule 26), as its reader reads it."""
    return " ".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)


def _leaks(body: str, is_csv: bool, client_name: str) -> list[str]:
    text = body if is_csv else " ".join(readable_text(body))
    found = SECRET_WORDS.findall(text)
    found += [figure for figure in SECRET_FIGURES[client_name] if figure in text]
    if not is_csv and "/reports/margins" in body:
        found.append("a link to the margin report")
    return found


@pytest.mark.parametrize("role", CLIENT_ROLES)
def test_no_client_user_reads_cost_or_margin_on_any_page_or_csv(role, busy_demo, login_as):
    browser = login_as(LOGINS[role])
    client_name = CLIENT_ROLES[role]
    read, leaks = [], {}
    for path in _every_page(busy_demo, client_name):
        response = browser.get(path)
        if response.status_code != 200:
            assert response.status_code in (302, 303, 403, 404), (path, response.status_code)
            continue
        read.append(path)
        if response.mimetype == "application/pdf":  # plain text: no markup, no link
            found = _leaks(pdf_text(response.data), True, client_name)
        else:
            found = _leaks(response.get_data(as_text=True), response.mimetype == "text/csv", client_name)
        if found:
            leaks[path] = found
    assert leaks == {}
    # The walk read the client's pages, its invoices and their CSV (the accountant reads invoices only,
    # the site manager no invoice at all).
    if role != "acme_frontdesk":
        assert any(path.startswith("/invoices/") and path[10:].isdigit() for path in read), read
        assert "/invoices/export.csv" in read
        assert any(path.endswith(".pdf") for path in read), read
    if role != "acme_accountant":
        assert any(path.startswith("/clients/") and "/sites/" in path for path in read), read
    assert not {"/reports/margins", "/reports/margins.csv"} & set(read)


def test_finance_reads_the_figures_the_walk_looks_for(busy_demo, login_as):
    """The other side of rule 23: margins.view reads cost and margin, so the walk's checks would catch them."""
    finance = login_as(LOGINS["nw_finance"])
    report = finance.get("/reports/margins")
    assert report.status_code == 200
    found = _leaks(report.get_data(as_text=True), False, "Acme Dental")
    assert {"Cost", "Margin", "46.40"} <= set(found)
    export = finance.get("/reports/margins.csv")
    assert export.status_code == 200
    assert {"cost", "margin", "margin_percent", "46.40"} <= set(_leaks(export.get_data(as_text=True), True,
                                                                       "Acme Dental"))
