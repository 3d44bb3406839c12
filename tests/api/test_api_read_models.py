"""The API lists what the screens' read models list, pages like every API list, and documents
each operation's permission by the name its rbac capability checks."""
from api_helpers import LOGINS, assert_error
from sqlalchemy import update

from portal import clock
from portal.blueprints.api.registry import OPERATIONS
from portal.domain.accounts.queries import seat_holders_query, sites_in_reach
from portal.domain.audit_log import events_query
from portal.domain.billing.queries import invoices_query
from portal.extensions import db
from portal.models import Invoice, User
from portal.rbac import permissions
from portal.rbac.permissions import permission_name
from portal.rbac.scoping import site_ids_in_reach


def ids(body) -> list[int]:
    return [item["id"] for item in body["items"]]


# ---------------------------------------------------------------- the same rows as the screens

def test_site_users_are_the_seat_holders_of_the_read_model(api_as, demo, fresh):
    # Deactivated during a trial: no longer active, still holding the seat until the trial ends.
    leaving = db.session.scalars(seat_holders_query(demo.lyon.id)).first()
    db.session.execute(update(User).where(User.id == leaving.id).values(status="deactivated",
                                                                        access_until=clock.today()))
    db.session.commit()
    fresh()
    body = api_as("acme_admin").get(f"/api/v1/sites/{demo.lyon.id}/users?per_page=200").get_json()
    expected = [user.id for user in db.session.scalars(seat_holders_query(demo.lyon.id))]
    assert ids(body) == expected and body["total"] == len(expected)
    assert leaving.id in ids(body)


def test_client_sites_are_the_sites_in_reach(api_as, demo):
    for who in ("nw_admin", "acme_frontdesk"):
        actor = demo.user(LOGINS[who])
        expected = [site.id for site in sites_in_reach(demo.acme, site_ids_in_reach(actor, demo.acme))]
        body = api_as(who).get(f"/api/v1/clients/{demo.acme.id}/sites").get_json()
        assert ids(body) == expected and body["total"] == len(expected)
        detail = api_as(who).get(f"/api/v1/clients/{demo.acme.id}").get_json()
        assert [site["id"] for site in detail["sites"]] == expected


def test_invoices_are_the_invoices_query_newest_first(api_as, demo):
    actor = demo.user(LOGINS["nw_finance"])
    newest_first = (Invoice.issued_on.desc(), Invoice.id.desc())
    every = [invoice.id for invoice in db.session.scalars(invoices_query(actor).order_by(*newest_first))]
    assert ids(api_as("nw_finance").get("/api/v1/invoices?per_page=200").get_json()) == every
    acme = [invoice.id for invoice in
            db.session.scalars(invoices_query(actor, client_id=demo.acme.id).order_by(*newest_first))]
    body = api_as("nw_finance").get(f"/api/v1/invoices?client_id={demo.acme.id}&per_page=200").get_json()
    assert acme and ids(body) == acme


def test_audit_events_are_the_events_query(api_as, demo):
    client = api_as("nw_admin")  # issuing its token is an event too
    actor = demo.user(LOGINS["nw_admin"])
    every = [event.id for event in db.session.scalars(events_query(actor))]
    assert len(every) > 1 and ids(client.get("/api/v1/audit-events?per_page=200").get_json()) == every[:200]
    action = db.session.scalars(events_query(actor)).first().action
    only = [event.id for event in db.session.scalars(events_query(actor, action=action))]
    body = client.get(f"/api/v1/audit-events?action={action}&per_page=200").get_json()
    assert ids(body) == only[:200] and body["total"] == len(only)


# ---------------------------------------------------------------- loaders

def test_unknown_ids_are_the_apis_404(api_as, demo):
    """The rbac loaders abort(404); the API answers that in its own shape, as for any 404."""
    client = api_as("operator")
    for path in ("/sites/2147483000", "/sites/2147483000/users", "/users/2147483000"):
        error = assert_error(client.get("/api/v1" + path), 404, "not_found")
        assert error == {"code": "not_found", "message": "There is nothing here, or it is not yours to see.",
                         "fields": {}}


# ---------------------------------------------------------------- pages past the end

def test_a_page_past_the_end_is_empty_and_still_counts_every_row(api_as, demo):
    client = api_as("nw_admin")
    sites = client.get(f"/api/v1/clients/{demo.acme.id}/sites?per_page=1").get_json()
    assert sites["total"] == 2 and len(sites["items"]) == 1
    second = client.get(f"/api/v1/clients/{demo.acme.id}/sites?per_page=1&page=2").get_json()
    assert ids(second) != ids(sites) and len(second["items"]) == 1
    past = client.get(f"/api/v1/clients/{demo.acme.id}/sites?per_page=1&page=3").get_json()
    assert past == {"items": [], "page": 3, "per_page": 1, "total": 2}
    holders = client.get(f"/api/v1/sites/{demo.lyon.id}/users?per_page=5&page=2").get_json()
    assert (len(holders["items"]), holders["total"]) == (1, 6)
    assert client.get(f"/api/v1/sites/{demo.lyon.id}/users?per_page=5&page=3").get_json() == {
        "items": [], "page": 3, "per_page": 5, "total": 6}
    catalogue = client.get("/api/v1/subscription-types?per_page=2&page=9").get_json()
    assert catalogue == {"items": [], "page": 9, "per_page": 2, "total": 3}


# ---------------------------------------------------------------- permissions in the document

def test_permission_name_is_the_permission_a_capability_checks():
    assert permission_name(permissions.view_clients) == "clients.view"
    assert permission_name(permissions.view_client) == "clients.view"
    assert permission_name(permissions.manage_client) == "clients.manage"
    assert permission_name(permissions.manage_seats) == "subscriptions.manage"
    assert permission_name(permissions.view_invoices) == "billing.view"
    assert permission_name(permissions.view_audit) == "audit.view"
    assert permission_name(permissions.view_margins) == "margins.view"
    assert permission_name(permissions.manage_prices) == "prices.manage"


def test_each_operation_documents_its_permission():
    documented = {op.endpoint: op.permission for op in OPERATIONS}
    assert documented == {
        "api.list_subscription_types": "any",
        "api.summary": "subscriptions.view",
        "api.site_usage": "subscriptions.view",
        "api.client_usage": "subscriptions.view",
        "api.all_usage": "subscriptions.view",
        "api.get_insights": "subscriptions.view",
        "api.list_clients": "clients.view",
        "api.create_client": "clients.manage",
        "api.get_client": "clients.view",
        "api.update_client": "clients.manage; subscriptions.manage for billing_cycle",
        "api.list_sites": "clients.view",
        "api.create_site": "clients.manage",
        "api.invite_client_administrator": "clients.manage",
        "api.sync_seats": "subscriptions.view",
        "api.get_site": "clients.view",
        "api.set_allocation": "subscriptions.manage",
        "api.list_site_users": "clients.view",
        "api.create_site_user": "users.manage on that site",
        "api.get_user": "clients.view",
        "api.deactivate_user": "users.manage",
        "api.update_user": "users.manage (on both sites)",
        "api.reactivate_user": "users.manage",
        "api.create_seat_request": "users.manage on that site",
        "api.list_seat_requests": "users.manage or subscriptions.manage",
        "api.get_seat_request": "users.manage or subscriptions.manage",
        "api.approve_seat_request": "subscriptions.manage",
        "api.decline_seat_request": "subscriptions.manage",
        "api.list_invoices": "billing.view",
        "api.get_invoice": "billing.view",
        "api.get_invoice_pdf": "billing.view",
        "api.list_audit_events": "audit.view",
        "api.list_partners": "partners.manage",
        "api.set_partner_discount": "partners.manage",
        "api.margin_report": "margins.view",
        "api.get_price_book": "prices.manage or margins.view",
        "api.set_book_price": "prices.manage",
        "api.clear_book_price": "prices.manage",
        "api.get_client_prices": "clients.view",
        "api.set_client_price": "prices.manage",
        "api.clear_client_price": "prices.manage",
        "api.create_webhook": "integrations.manage",
        "api.list_webhooks": "integrations.manage",
        "api.get_webhook": "integrations.manage",
        "api.update_webhook": "integrations.manage",
        "api.delete_webhook": "integrations.manage",
        "api.list_webhook_deliveries": "integrations.manage",
        "api.retry_webhook_delivery": "integrations.manage",
    }
