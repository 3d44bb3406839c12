"""Who may call which operation: every API operation × every demo role (docs/rules.md section 4 and API conventions).

An object outside the caller's reach is 404 (another partner's or another
client's, a site manager's other sites); within reach without the
permission, 403. Every operation of the OpenAPI document appears here.
"""
import pytest
from api_helpers import LOGINS, assert_error
from sqlalchemy import select

from portal.blueprints.api.registry import OPERATIONS
from portal.domain.seats.requests import request_seats
from portal.extensions import db
from portal.domain.webhooks import signing
from portal.models import Invoice, OutboxEvent, User, WebhookDelivery, WebhookEndpoint

ROLES = (*LOGINS, "member")
OTHERS = ("globex_admin", "sw_admin", "initech_admin")  # no reach into Acme Dental


def expect(default: int, **statuses) -> dict:
    """Expected status per role: ``default`` unless listed, e.g. ``expect(200, acme_accountant=403)``."""
    table = {role: default for role in ROLES}
    for status, roles in statuses.items():
        for role in roles.split():
            table[role] = int(status.lstrip("s"))
    return table


ACME_VIEW = expect(200, s403="acme_accountant member", s404=" ".join(OTHERS))
SITE_VIEW = expect(200, s403="acme_accountant", s404=" ".join(OTHERS) + " member")
# Seat requests (docs/rules.md rule 29): whoever asks (users.manage) or decides (subscriptions.manage) there.
SEAT_REQUEST_VIEW = expect(200, s403="nw_support acme_accountant", s404=" ".join(OTHERS) + " member")

# Webhooks (docs/rules.md rule 32): the caller's organisation's own endpoints, integrations.manage.
WEBHOOKS = expect(403, s200="operator nw_admin nw_finance sw_admin")
NW_WEBHOOK = expect(404, s200="nw_admin nw_finance", s403="nw_support")
HOOK = {"url": "http://127.0.0.1:9/hook-{role}", "events": ["client.created"]}

PRICES = {"monthly": {"amount": 1600, "currency": "EUR"}, "annual": {"amount": 16000, "currency": "EUR"}}

CASES = [
    ("GET", "/subscription-types", None, expect(200)),
    ("GET", "/summary", None, expect(200, s403="nw_admin acme_accountant acme_frontdesk member")),
    ("GET", "/usage", None, expect(200, s403="nw_admin acme_accountant acme_frontdesk member")),
    ("GET", "/insights", None, expect(200, s403="nw_admin acme_accountant acme_frontdesk member")),
    ("GET", "/clients", None, expect(200, s403="acme_accountant member")),
    ("POST", "/clients", {"name": "Clinic of {role}", "billing_cycle": "monthly"},
     expect(403, s201="nw_admin nw_finance sw_admin")),
    ("GET", "/clients/{acme}", None, ACME_VIEW),
    ("PATCH", "/clients/{acme}", {"name": "Acme Dental"},
     expect(403, s200="operator nw_admin nw_finance", s404=" ".join(OTHERS))),
    ("PATCH", "/clients/{acme}", {"billing_cycle": "annual"},
     expect(403, s200="operator nw_finance", s404=" ".join(OTHERS))),
    ("GET", "/clients/{acme}/sites", None, ACME_VIEW),
    ("POST", "/clients/{acme}/sites", {"name": "Site of {role}"},
     expect(403, s201="operator nw_admin nw_finance", s404=" ".join(OTHERS))),
    ("POST", "/clients/{acme}/administrators", {"email": "admin.{role}@acme.example", "name": "Admin"},
     expect(403, s201="operator nw_admin nw_finance", s404=" ".join(OTHERS))),
    ("POST", "/clients/{acme}/sync-seats", None,
     expect(403, s200="operator nw_finance nw_support acme_admin", s404=" ".join(OTHERS))),
    ("GET", "/sites/{lyon}", None, SITE_VIEW),
    ("GET", "/sites/{lyon}/usage", None,
     expect(200, s403="nw_admin acme_accountant acme_frontdesk", s404=" ".join(OTHERS) + " member")),
    ("GET", "/clients/{acme}/usage", None,
     expect(200, s403="nw_admin acme_accountant acme_frontdesk member", s404=" ".join(OTHERS))),
    ("GET", "/sites/{paris}", None, {**SITE_VIEW, "acme_frontdesk": 404}),
    ("PUT", "/sites/{lyon}/allocations/essentials", {"allocated": 6},
     expect(403, s200="operator nw_finance", s404=" ".join(OTHERS) + " member")),
    ("GET", "/sites/{lyon}/users", None, SITE_VIEW),
    ("POST", "/sites/{lyon}/users",
     {"email": "new.{role}@example.org", "name": "New", "subscription_type": "essentials"},
     expect(201, s403="nw_support acme_accountant", s404=" ".join(OTHERS) + " member")),
    ("POST", "/sites/{paris}/users",
     {"email": "new.{role}@example.org", "name": "New", "subscription_type": "support"},
     expect(201, s403="nw_support acme_accountant", s404=" ".join(OTHERS) + " member acme_frontdesk")),
    ("GET", "/users/{lyon_user}", None, SITE_VIEW),
    ("GET", "/users/{paris_user}", None, {**SITE_VIEW, "acme_frontdesk": 404}),
    ("PATCH", "/users/{lyon_user}", {"name": "Renamed by {role}"},
     expect(200, s403="nw_support acme_accountant", s404=" ".join(OTHERS) + " member")),
    ("POST", "/users/{lyon_user}/reactivate", {},  # the user is active: 409 for whoever may reach and manage them
     expect(409, s403="nw_support acme_accountant", s404=" ".join(OTHERS) + " member")),
    ("DELETE", "/users/{lyon_user}", None,
     expect(200, s403="nw_support acme_accountant", s404=" ".join(OTHERS) + " member")),
    ("POST", "/sites/{lyon}/seat-requests", {"subscription_type": "essentials", "quantity": 2},
     expect(201, s403="nw_support acme_accountant", s404=" ".join(OTHERS) + " member")),
    ("POST", "/sites/{paris}/seat-requests", {"subscription_type": "support", "quantity": 1, "note": "For {role}"},
     expect(201, s403="nw_support acme_accountant", s404=" ".join(OTHERS) + " member acme_frontdesk")),
    ("GET", "/seat-requests", None, expect(200, s403="nw_support acme_accountant member")),
    ("GET", "/seat-requests?status=pending", None, expect(200, s403="nw_support acme_accountant member")),
    ("GET", "/seat-requests/{lyon_request}", None, SEAT_REQUEST_VIEW),
    ("GET", "/seat-requests/{paris_request}", None, {**SEAT_REQUEST_VIEW, "acme_frontdesk": 404}),
    ("POST", "/seat-requests/{lyon_request}/approve", None,
     expect(403, s200="operator nw_finance", s404=" ".join(OTHERS) + " member")),
    ("POST", "/seat-requests/{lyon_request}/decline", {"reason": "Declined by {role}"},
     expect(403, s200="operator nw_finance", s404=" ".join(OTHERS) + " member")),
    # Client admins hold billing.view over their own client (DESIGN section 4, rule 27b).
    ("GET", "/invoices", None,
     expect(403, s200="operator nw_finance acme_admin acme_accountant globex_admin sw_admin initech_admin")),
    ("GET", "/invoices?client_id={acme}", None,
     expect(403, s200="operator nw_finance acme_admin acme_accountant", s404="globex_admin sw_admin initech_admin")),
    ("GET", "/invoices/{acme_invoice}", None,
     expect(403, s200="operator nw_finance acme_admin acme_accountant", s404=" ".join(OTHERS))),
    ("GET", "/invoices/{acme_invoice}/pdf", None,  # docs/rules.md rule 26: as the invoice itself
     expect(403, s200="operator nw_finance acme_admin acme_accountant", s404=" ".join(OTHERS))),
    ("GET", "/audit-events", None, expect(200, s403="nw_support acme_accountant acme_frontdesk member")),
    # docs/rules.md section 8 and rule 23: the operator's partners and discounts; margins for margins.view only.
    ("GET", "/partners", None, expect(403, s200="operator")),
    ("PUT", "/partners/{southwind}/discount", {"discount_bp": 1500}, expect(403, s200="operator")),
    ("GET", "/reports/margins?from=2026-01-01&to=2026-12-31", None, expect(403, s200="operator nw_finance sw_admin")),
    # docs/rules.md rule 22: a partner's own price book (the operator's prices are the catalogue), a client's prices.
    ("GET", "/price-book", None, expect(403, s200="nw_finance sw_admin")),
    ("PUT", "/price-book/essentials", PRICES, expect(403, s200="nw_finance sw_admin")),
    ("DELETE", "/price-book/essentials", None, expect(403, s200="nw_finance sw_admin")),
    ("GET", "/clients/{acme}/prices", None, ACME_VIEW),
    ("PUT", "/clients/{acme}/prices/essentials", PRICES,
     expect(403, s200="operator nw_finance", s404=" ".join(OTHERS))),
    ("DELETE", "/clients/{acme}/prices/essentials", None,
     expect(403, s200="operator nw_finance", s404=" ".join(OTHERS))),
    ("POST", "/webhooks", HOOK, expect(403, s201="operator nw_admin nw_finance sw_admin")),
    ("GET", "/webhooks", None, WEBHOOKS),
    ("GET", "/webhooks/{nw_webhook}", None, NW_WEBHOOK),
    ("PATCH", "/webhooks/{nw_webhook}", {"description": "By {role}"}, NW_WEBHOOK),
    ("DELETE", "/webhooks/{nw_webhook}", None, expect(404, s204="nw_admin nw_finance", s403="nw_support")),
    ("GET", "/webhooks/{nw_webhook}/deliveries", None, NW_WEBHOOK),
    ("POST", "/webhooks/{nw_webhook}/deliveries/{nw_delivery}/retry", None,
     expect(404, s202="nw_admin nw_finance", s403="nw_support")),
]


def ids(demo, path: str = "") -> dict:
    def holder(site):
        return db.session.scalar(select(User.id).where(User.site_id == site.id).order_by(User.id))

    found = {"acme": demo.acme.id, "lyon": demo.lyon.id, "paris": demo.paris.id,
             "lyon_user": holder(demo.lyon), "paris_user": holder(demo.paris),
             "acme_invoice": db.session.scalar(select(Invoice.id).where(Invoice.client_id == demo.acme.id)),
             "southwind": demo.org("Southwind Networks").id}
    for name, site in (("lyon_request", demo.lyon), ("paris_request", demo.paris)):
        if f"{{{name}}}" in path:  # a pending request there, asked by Acme's admin (the demo has none)
            found[name] = request_seats(demo.user(LOGINS["acme_admin"]), site, "essentials", 2).id
    if "{nw_webhook}" in path:  # Northwind's endpoint, with one failed delivery in its log
        northwind = demo.org("Northwind Telecom")
        endpoint = WebhookEndpoint(organisation_id=northwind.id, url="https://hooks.example/nw",
                                   events=["client.updated"], secret=signing.seal(signing.new_secret()), active=True)
        event = OutboxEvent(type="client.updated", organisation_id=demo.acme.id, partner_id=northwind.id, data={})
        db.session.add_all([endpoint, event])
        db.session.flush()
        attempt = WebhookDelivery(endpoint_id=endpoint.id, event_id=event.id, event_type=event.type, attempt=1,
                                  status="failed", response_status=500)
        db.session.add(attempt)
        db.session.commit()
        found.update(nw_webhook=endpoint.id, nw_delivery=attempt.id)
    return found


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("method, path, body, expected", CASES,
                         ids=[f"{m} {p}{' ' + ','.join(b) if b else ''}" for m, p, b, _ in CASES])
def test_access(app, monkeypatch, api_as, demo, role, method, path, body, expected):
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE", True)  # POST /webhooks names a loopback receiver
    client = api_as("user1@acme.example" if role == "member" else role)
    url = "/api/v1" + path.format(**ids(demo, path))
    if body is not None:
        body = {key: value.format(role=role.replace("_", "-")) if isinstance(value, str) else value
                for key, value in body.items()}
    response = client.open(url, method=method, json=body)
    status = expected[role]
    if status >= 400:
        assert_error(response, status, {403: "forbidden", 404: "not_found", 409: "conflict"}[status])
    else:
        assert response.status_code == status, response.get_data(as_text=True)
        if status == 204:
            assert response.get_data() == b""
        else:
            assert response.mimetype == ("application/pdf" if path.endswith("/pdf") else "application/json")


def test_every_operation_is_in_the_matrix():
    covered = {(method, path.split("?")[0]) for method, path, _, _ in CASES}
    templates = {(op.method, op.path) for op in OPERATIONS}
    normalised = {(method, _template(path)) for method, path in covered}
    assert templates <= normalised, templates - normalised


def _template(path: str) -> str:
    names = {"acme": "{client_id}", "lyon": "{site_id}", "paris": "{site_id}", "lyon_user": "{user_id}",
             "paris_user": "{user_id}", "acme_invoice": "{invoice_id}", "lyon_request": "{request_id}",
             "paris_request": "{request_id}", "southwind": "{partner_id}",
             "nw_webhook": "{webhook_id}", "nw_delivery": "{delivery_id}"}
    for name, template in names.items():
        path = path.replace("{" + name + "}", template)
    for typed in ("/allocations/", "/price-book/", "/prices/"):
        path = path.replace(typed + "essentials", typed + "{type_code}")
    return path
