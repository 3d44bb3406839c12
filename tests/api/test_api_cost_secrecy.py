"""docs/rules.md rule 23 through the API: no answer a client user can read carries cost or margin.

Every client-side demo role calls every GET operation of the OpenAPI document
with the ids of its own client (its sites, users, invoices, a pending seat
request), after a proration was issued. No JSON answer may hold a key about
cost or margin, at any depth, and no invoice PDF a word of them. ``cost_now`` of a seat request is no secret: it
is what approving the request invoices the client (its own price), named so
by the API's contract. Finance's margin report does carry them: the check
would find them.
"""
import io
import re
from datetime import timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from portal import clock
from portal.blueprints.api.registry import OPERATIONS
from portal.domain.seats import allocations, requests
from portal.extensions import db
from portal.models import Invoice, SeatRequest, Site, User, WebhookDelivery, WebhookEndpoint
from tests.helpers import LOGINS

CLIENT_ROLES = {"acme_admin": "Acme Dental", "acme_accountant": "Acme Dental", "acme_frontdesk": "Acme Dental",
                "globex_admin": "Globex Clinic", "initech_admin": "Initech Vet"}
SECRET_KEY = re.compile(r"cost|margin", re.IGNORECASE)
# In a document's words (the invoice PDF), as the margin report writes them.
SECRET_WORDS = re.compile(r"\b[Cc]ost\b|\b[Mm]argins?\b")
# What the client pays, not what the partner pays: the price of approving a seat request now.
CLIENT_PRICES = {"cost_now"}


def _this_month() -> str:
    today = clock.today()
    return f"from={today.replace(day=1).isoformat()}&to={(today + timedelta(days=1)).isoformat()}"


def secret_keys(value, where="") -> list[str]:
    """Every key of a JSON value, at any depth, that names a cost or a margin."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            if SECRET_KEY.search(key) and key not in CLIENT_PRICES:
                found.append(f"{where}.{key}")
            found += secret_keys(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += secret_keys(item, f"{where}[{index}]")
    return found


@pytest.fixture
def busy_demo(demo):
    """A proration per client and a seat request pending at every site."""
    finance, southwind = demo.user(LOGINS["nw_finance"]), demo.user(LOGINS["sw_admin"])
    for actor, site, code, seats in ((finance, demo.lyon, "essentials", 6),
                                     (finance, demo.site("Globex Clinic", "Main"), "unlimited", 11),
                                     (southwind, demo.site("Initech Vet", "Berlin"), "essentials", 5)):
        allocations.set_allocation(actor, site, demo.type(code), seats)
    for site in db.session.scalars(select(Site)).all():
        admin = db.session.scalar(select(User).where(User.organisation_id == site.client_id,
                                                     User.email.like("admin@%")))
        requests.request_seats(admin, site, "essentials", 1, note="For the new nurse")
    return demo


def _ids(demo, client_name) -> dict[str, list]:
    """Every id of the client's own, per path parameter."""
    client = demo.org(client_name)

    def ids(column, where):
        return db.session.scalars(select(column).where(where).order_by(column)).all()

    return {"client_id": [client.id], "site_id": ids(Site.id, Site.client_id == client.id),
            "user_id": ids(User.id, User.organisation_id == client.id),
            "invoice_id": ids(Invoice.id, Invoice.client_id == client.id),
            "request_id": ids(SeatRequest.id, SeatRequest.client_id == client.id),
            "partner_id": [client.parent_id],
            # The partner's webhook endpoints (rule 32): never a client user's to read.
            "webhook_id": ids(WebhookEndpoint.id, WebhookEndpoint.organisation_id == client.parent_id),
            "delivery_id": ids(WebhookDelivery.id, WebhookDelivery.endpoint_id.in_(
                select(WebhookEndpoint.id).where(WebhookEndpoint.organisation_id == client.parent_id)))}


def _urls(op, ids) -> list[str]:
    urls = [op.path]
    for name in op.path_params:
        urls = [url.replace("{" + name + "}", str(value)) for url in urls for value in ids[name]]
    if op.path == "/reports/margins":
        query = _this_month()
    else:
        query = "per_page=200" if op.query is not None and "page" in op.query.model_fields else ""
    return ["/api/v1" + url + ("?" + query if query else "") for url in urls]


@pytest.mark.parametrize("role", CLIENT_ROLES)
def test_no_api_answer_a_client_user_reads_carries_cost_or_margin(role, busy_demo, api_as):
    client = api_as(role)
    ids = _ids(busy_demo, CLIENT_ROLES[role])
    read, leaks = [], {}
    for op in OPERATIONS:
        if op.method != "GET":
            continue
        for url in _urls(op, ids):
            response = client.get(url)
            if response.status_code != 200:
                assert response.status_code in (403, 404), (url, response.status_code)
                continue
            read.append(url)
            if response.mimetype == "application/pdf":  # an invoice document (rule 26): its words
                found = SECRET_WORDS.findall(" ".join(page.extract_text() or ""
                                                      for page in PdfReader(io.BytesIO(response.data)).pages))
            else:
                found = secret_keys(response.get_json())
            if found:
                leaks[url] = found
    assert leaks == {}
    assert not any("/reports/margins" in url for url in read)
    if role != "acme_frontdesk":  # the site manager reads no invoice
        assert any(re.search(r"/invoices/\d+$", url) for url in read), read
        assert any(re.search(r"/invoices/\d+/pdf$", url) for url in read), read
    if role != "acme_accountant":  # the accountant reads invoices only
        assert any(re.search(r"/seat-requests/\d+$", url) for url in read), read


def test_every_path_parameter_of_a_read_has_ids_to_walk(demo):
    names = set(_ids(demo, "Acme Dental"))
    assert {name for op in OPERATIONS if op.method == "GET" for name in op.path_params} <= names


def test_finance_reads_cost_and_margin_so_the_check_would_find_them(busy_demo, api_as):
    body = api_as("nw_finance").get("/api/v1/reports/margins?" + _this_month()).get_json()
    assert {".items[0].cost", ".items[0].margin", ".totals.cost", ".totals.margin"} <= set(secret_keys(body))
