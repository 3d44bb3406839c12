"""Who may reach which screen: every route × every demo role (docs/rules.md sections 2 and 4).

Objects outside the caller's reach answer 404 (another partner's clients,
another client's sites and users, a site manager's other sites); a reachable
object without the permission answers 403; anonymous callers are sent to the
login page.
"""
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select
from werkzeug.exceptions import MethodNotAllowed, NotFound

from portal.extensions import db
from portal.models import User
from tests.helpers import LOGINS, csrf_token_from

ROLES = ("anonymous", *LOGINS)


def seat_holder(site):
    """The first demo user holding a seat at ``site``."""
    return db.session.scalar(select(User).where(User.site_id == site.id).order_by(User.id))


def new_user(site, code):
    return {"name": "New Person", "email": "new.person@example.org", "site_id": str(site.id),
            "subscription_type": code}


def globex(demo):
    return demo.org("Globex Clinic")


def globex_main(demo):
    return demo.site("Globex Clinic", "Main")


def initech(demo):
    return demo.org("Initech Vet")


def berlin(demo):
    return demo.site("Initech Vet", "Berlin")


def deactivate(client, user):
    return f"/clients/{client.id}/users/{user.id}/deactivate"


def site_path(site):
    return f"/clients/{site.client_id}/sites/{site.id}"


# route name -> demo -> (method, path, form data, text a successful page shows)
ROUTES = {
    "login": lambda d: ("GET", "/login", None, 'name="password"'),
    "logout": lambda d: ("POST", "/logout", None, None),
    "home": lambda d: ("GET", "/", None, None),
    "no-access": lambda d: ("GET", "/no-access", None, "no access yet"),
    "account": lambda d: ("GET", "/account", None, "Your account"),
    # docs/rules.md rule 40: one's own sessions; an id that is not one's own is a 404 for everyone.
    "account-end-other-sessions": lambda d: ("POST", "/account/sessions/end-others", None, None),
    "account-end-unknown-session": lambda d: ("POST", f"/account/sessions/{2**31 - 1}/end", None, None),
    # A member's sessions, from the members page (roles.manage in the member's own organisation).
    "acme-member-end-sessions": lambda d: (
        "GET", f"/members/{d.user('user1@acme.example').id}/sessions/end", None, "End every session of"),
    "acme-member-end-sessions-post": lambda d: (
        "POST", f"/members/{d.user('user1@acme.example').id}/sessions/end", None, None),
    # docs/rules.md rules 38 and 39: two-step verification and password reset.
    "account-two-step": lambda d: ("GET", "/account/two-step", None, 'id="two-step-secret"'),
    "account-two-step-confirm": lambda d: ("POST", "/account/two-step", {"code": "12345"}, None),
    "account-two-step-disable": lambda d: ("POST", "/account/two-step/disable", {"password": "x"}, None),
    "login-two-step": lambda d: ("GET", "/login/two-step", None, None),
    "password-forgot": lambda d: ("GET", "/password/forgot", None, 'name="email"'),
    "password-forgot-post": lambda d: ("POST", "/password/forgot", {"email": "nobody@example.org"}, None),
    "password-reset-forged": lambda d: ("GET", "/password/reset/forged-token", None, None),
    "members-two-step": lambda d: ("POST", "/members/two-step", {}, None),
    "overview": lambda d: ("GET", "/overview", None, "Subscriptions —"),
    "overview-clients": lambda d: (
        "GET", "/overview?tab=clients&q=a&sort=free&direction=desc&page=1", None, 'id="client-table"'),
    "acme": lambda d: ("GET", f"/clients/{d.acme.id}", None, "<h1>Acme Dental</h1>"),
    "acme-sync": lambda d: ("POST", f"/clients/{d.acme.id}/sync-seats", None, 'id="sync-panel"'),
    "acme-new-user": lambda d: ("GET", f"/clients/{d.acme.id}/users/new", None, 'id="new-user-form"'),
    "acme-create-at-lyon": lambda d: (
        "POST", f"/clients/{d.acme.id}/users/new", new_user(d.lyon, "essentials"), None),
    "acme-deactivate-lyon-user": lambda d: (
        "GET", deactivate(d.acme, seat_holder(d.lyon)), None, "Deactivate User"),
    "acme-deactivate-lyon-user-post": lambda d: ("POST", deactivate(d.acme, seat_holder(d.lyon)), None, None),
    "acme-deactivate-paris-user": lambda d: (
        "GET", deactivate(d.acme, seat_holder(d.paris)), None, "Deactivate User"),
    "acme-deactivate-paris-user-post": lambda d: ("POST", deactivate(d.acme, seat_holder(d.paris)), None, None),
    # The accountant holds billing.view: nobody without it may deactivate them (docs/rules.md rule 41b).
    "acme-deactivate-staff-without-seat": lambda d: (
        "GET", deactivate(d.acme, d.user("accountant@acme.example")), None, "Deactivate Arthur"),
    "lyon": lambda d: ("GET", site_path(d.lyon), None, "<h1>Lyon</h1>"),
    "paris": lambda d: ("GET", site_path(d.paris), None, "<h1>Paris</h1>"),
    "lyon-allocation": lambda d: (
        "POST", site_path(d.lyon) + "/allocations/essentials", {"allocated": "6"}, None),
    "paris-allocation": lambda d: (
        "POST", site_path(d.paris) + "/allocations/support", {"allocated": "3"}, None),
    "globex": lambda d: ("GET", f"/clients/{globex(d).id}", None, "<h1>Globex Clinic</h1>"),
    "globex-main": lambda d: ("GET", site_path(globex_main(d)), None, "<h1>Main</h1>"),
    "globex-deactivate-user": lambda d: (
        "GET", deactivate(globex(d), seat_holder(globex_main(d))), None, "Deactivate User"),
    "globex-create": lambda d: (
        "POST", f"/clients/{globex(d).id}/users/new", new_user(globex_main(d), "unlimited"), None),
    "globex-allocation": lambda d: (
        "POST", site_path(globex_main(d)) + "/allocations/unlimited", {"allocated": "11"}, None),
    "initech": lambda d: ("GET", f"/clients/{initech(d).id}", None, "<h1>Initech Vet</h1>"),
    "berlin": lambda d: ("GET", site_path(berlin(d)), None, "<h1>Berlin</h1>"),
    "initech-deactivate-user": lambda d: (
        "GET", deactivate(initech(d), seat_holder(berlin(d))), None, "Deactivate User"),
    "berlin-allocation": lambda d: (
        "POST", site_path(berlin(d)) + "/allocations/essentials", {"allocated": "5"}, None),
    # A seat's life (docs/rules.md rules 27, 27b, 28, 29).
    "acme-move-lyon-user": lambda d: ("GET", f"/clients/{d.acme.id}/users/{seat_holder(d.lyon).id}/move", None,
                                      "<h1>Move "),
    "acme-move-lyon-user-post": lambda d: (
        "POST", f"/clients/{d.acme.id}/users/{seat_holder(d.lyon).id}/move",
        {"site_id": str(d.lyon.id), "subscription_type": "unlimited"}, None),
    "acme-reactivate-lyon-user": lambda d: (
        "GET", f"/clients/{d.acme.id}/users/{seat_holder(d.lyon).id}/reactivate", None, "<h1>Reactivate "),
    "acme-invite-administrator": lambda d: (
        "GET", f"/clients/{d.acme.id}/administrators/new", None, 'id="invite-administrator-form"'),
    "acme-invite-administrator-post": lambda d: (
        "POST", f"/clients/{d.acme.id}/administrators/new",
        {"name": "Camille", "email": "camille@acme.example", "send_invitation": "later"}, None),
    "acme-request-seats-lyon": lambda d: (
        "GET", f"/clients/{d.acme.id}/sites/{d.lyon.id}/seat-requests/new", None, 'id="seat-request-form"'),
    "acme-request-seats-paris-post": lambda d: (
        "POST", f"/clients/{d.acme.id}/sites/{d.paris.id}/seat-requests/new",
        {"subscription_type": "essentials", "quantity": "1"}, None),
    "seat-requests": lambda d: ("GET", "/seat-requests", None, "<h1>Seat requests</h1>"),
    "members-invite": lambda d: ("GET", "/members/invite", None, 'id="invite-member-form"'),
    # The operator's page of a partner (issue 11, defect 10): partners.manage; a client's id is no partner's.
    "operator-partner": lambda d: (
        "GET", f"/operator/partners/{d.org('Northwind Telecom').id}", None, "<h1>Northwind Telecom</h1>"),
    "operator-partner-of-a-client": lambda d: ("GET", f"/operator/partners/{d.acme.id}", None, None),
    # docs/rules.md section 8 and rule 23: the discount (partners.manage); margins for margins.view only.
    "operator-partner-discount-post": lambda d: (
        "POST", f"/operator/partners/{d.org('Northwind Telecom').id}/discount", {"discount_percent": "20"}, None),
    "margins": lambda d: ("GET", "/reports/margins", None, "<h1>Margins</h1>"),
    "margins-csv": lambda d: ("GET", "/reports/margins.csv", None, "client_id,client,subscription_type"),
    # docs/rules.md rule 25: legal and tax details (clients.manage); the PDFs: tests/blueprints/test_invoice_pdf.py.
    "acme-legal": lambda d: ("GET", f"/clients/{d.acme.id}/legal", None, "Legal and tax details"),
    "acme-legal-post": lambda d: ("POST", f"/clients/{d.acme.id}/legal",
                                  {"legal_name": "Acme Dental SARL", "tax_rate": "20"}, None),
    "partner-legal": lambda d: ("GET", "/partner/legal", None, "Legal and tax details"),
    # Ids pasted under the wrong parent: every child is loaded through its parent.
    "globex-site-under-acme": lambda d: (
        "GET", f"/clients/{d.acme.id}/sites/{globex_main(d).id}", None, None),
    "globex-user-under-acme": lambda d: ("GET", deactivate(d.acme, seat_holder(globex_main(d))), None, None),
    "globex-allocation-under-acme": lambda d: (
        "POST", f"/clients/{d.acme.id}/sites/{globex_main(d).id}/allocations/unlimited", {"allocated": "11"}, None),
}

# Expected status per route and role. nw = Northwind (partner), sw = Southwind
# (the other partner). Partner admin: no subscriptions.*; finance: partner
# admin + finance; support: clients.view + subscriptions.view; client admin:
# no subscriptions.manage; accountant: billing.view only; frontdesk: site
# manager of Lyon only.
MATRIX = """
route                               anon  op  nw_admin nw_finance nw_support acme_admin accountant frontdesk globex sw   initech
login                               200   200 200      200        200        200        200        200       200    200  200
logout                              302   302 302      302        302        302        302        302       302    302  302
home                                302   302 302      302        302        302        302        302       302    302  302
no-access                           302   200 200      200        200        200        200        200       200    200  200
account                             302   200 200      200        200        200        200        200       200    200  200
account-end-other-sessions          302   303 303      303        303        303        303        303       303    303  303
account-end-unknown-session         302   404 404      404        404        404        404        404       404    404  404
acme-member-end-sessions            302   404 404      404        403        200        403        403       404    404  404
acme-member-end-sessions-post       302   404 404      404        403        303        403        403       404    404  404
account-two-step                    302   200 200      200        200        200        200        200       200    200  200
account-two-step-confirm            302   422 422      422        422        422        422        422       422    422  422
account-two-step-disable            302   409 409      409        409        409        409        409       409    409  409
login-two-step                      302   302 302      302        302        302        302        302       302    302  302
password-forgot                     200   200 200      200        200        200        200        200       200    200  200
password-forgot-post                303   303 303      303        303        303        303        303       303    303  303
password-reset-forged               404   404 404      404        404        404        404        404       404    404  404
members-two-step                    302   303 303      303        403        303        403        403       303    303  303
overview                            302   200 200      200        200        404        404        404       404    200  404
overview-clients                    302   200 200      200        200        404        404        404       404    200  404
acme                                302   200 200      200        200        200        403        200       404    404  404
acme-sync                           302   200 403      200        200        200        403        403       404    404  404
acme-new-user                       302   200 200      200        403        200        403        200       404    404  404
acme-create-at-lyon                 302   302 302      302        403        302        403        302       404    404  404
acme-deactivate-lyon-user           302   200 200      200        403        200        403        200       404    404  404
acme-deactivate-lyon-user-post      302   303 303      303        403        303        403        303       404    404  404
acme-deactivate-paris-user          302   200 200      200        403        200        403        404       404    404  404
acme-deactivate-paris-user-post     302   303 303      303        403        303        403        404       404    404  404
acme-deactivate-staff-without-seat  302   200   403   200   403   200   403   404   404   404   404
lyon                                302   200 200      200        200        200        403        200       404    404  404
paris                               302   200 200      200        200        200        403        404       404    404  404
lyon-allocation                     302   303 403      303        403        403        403        403       404    404  404
paris-allocation                    302   303 403      303        403        403        403        404       404    404  404
globex                              302   200 200      200        200        404        404        404       200    404  404
globex-main                         302   200 200      200        200        404        404        404       200    404  404
globex-deactivate-user              302   200 200      200        403        404        404        404       200    404  404
globex-create                       302   302 302      302        403        404        404        404       302    404  404
globex-allocation                   302   303 403      303        403        404        404        404       403    404  404
initech                             302   200 404      404        404        404        404        404       404    200  200
berlin                              302   200 404      404        404        404        404        404       404    200  200
initech-deactivate-user             302   200 404      404        404        404        404        404       404    200  200
berlin-allocation                   302   303 404      404        404        404        404        404       404    303  403
acme-move-lyon-user                 302  200  200  200  403  200  403  200  404  404  404
acme-move-lyon-user-post            302  409  409  409  403  409  403  409  404  404  404
acme-reactivate-lyon-user           302  200  200  200  403  200  403  200  404  404  404
acme-invite-administrator           302  200  200  200  403  403  403  403  404  404  404
acme-invite-administrator-post      302  303  303  303  403  403  403  403  404  404  404
acme-request-seats-lyon             302  200  200  200  403  200  403  200  404  404  404
acme-request-seats-paris-post       302  303  303  303  403  303  403  404  404  404  404
seat-requests                       302  200  200  200  403  200  403  200  200  200  200
members-invite                      302  200  200  200  403  200  403  403  200  200  200
operator-partner                    302  200  403  403  403  403  403  403  403  403  403
operator-partner-of-a-client        302  404  403  403  403  403  403  403  403  403  403
operator-partner-discount-post      302  303  403  403  403  403  403  403  403  403  403
margins                             302  200  403  200  403  403  403  403  403  200  403
margins-csv                         302  200  403  200  403  403  403  403  403  200  403
acme-legal                          302  200  200  200  403  403  403  403  404  404  404
acme-legal-post                     302  303  303  303  403  403  403  403  404  404  404
partner-legal                       302  404  200  200  403  404  404  404  404  200  404
globex-site-under-acme              302   404 404      404        404        404        404        404       404    404  404
globex-user-under-acme              302   404 404      404        404        404        403        404       404    404  404
globex-allocation-under-acme        302   404 404      404        404        404        404        404       404    404  404
"""


# Open to anonymous callers (not sent to log in first); their redirects may lead to the login page.
PUBLIC = ("login", "logout", "login-two-step", "password-forgot", "password-forgot-post", "password-reset-forged")


def _cases():
    lines = [line.split() for line in MATRIX.strip().splitlines()]
    header, rows = lines[0], lines[1:]
    assert len(header) == len(ROLES) + 1
    cases = []
    for route, *statuses in rows:
        assert route in ROUTES and len(statuses) == len(ROLES), route
        cases += [pytest.param(route, role, int(status), id=f"{route}-{role}")
                  for role, status in zip(ROLES, statuses)]
    assert {case.values[0] for case in cases} == set(ROUTES), "every route is in the matrix"
    return cases


def assert_route_exists(app, method, path):
    """The URL map serves ``method`` on ``path``: a 404 of the matrix is the scoping's, never a missing route."""
    try:
        app.url_map.bind("localhost").match(urlsplit(path).path, method=method)
    except (NotFound, MethodNotAllowed):
        pytest.fail(f"{method} {path} is not a route of the app")


@pytest.mark.parametrize("route", ROUTES)
def test_every_route_of_the_matrix_exists(route, app, demo):
    method, path, _, _ = ROUTES[route](demo)
    assert_route_exists(app, method, path)


@pytest.mark.parametrize(("route", "role", "expected"), _cases())
def test_access_matrix(route, role, expected, app, demo, client, login_as):
    method, path, data, marker = ROUTES[route](demo)
    assert_route_exists(app, method, path)
    test_client = client if role == "anonymous" else login_as(LOGINS[role])

    response = test_client.open(path, method=method, data=data)

    body = response.get_data(as_text=True)
    assert response.status_code == expected, body[:300]
    location = urlsplit(response.headers.get("Location", ""))
    if role == "anonymous" and route not in PUBLIC and expected == 302:
        assert location.path == "/login"
        assert parse_qs(location.query)["next"] == [path]
    elif expected in (302, 303) and route not in PUBLIC:
        assert location.path != "/login", "a logged-in caller must not be sent back to the login page"
    if expected == 200 and marker:
        assert marker in body


PROTECTED = [route for route in ROUTES if route not in PUBLIC]


@pytest.mark.parametrize("route", PROTECTED)
def test_anonymous_htmx_requests_are_told_to_redirect_to_login(route, app, demo, client):
    method, path, data, _ = ROUTES[route](demo)
    assert_route_exists(app, method, path)

    response = client.open(path, method=method, data=data, headers={"HX-Request": "true"})

    assert response.status_code == 204
    target = urlsplit(response.headers["HX-Redirect"])
    assert target.path == "/login"
    assert parse_qs(target.query)["next"] == [path]
    assert response.get_data() == b""


@pytest.mark.parametrize(("email", "home"), [
    ("operator@portal.example", lambda d: "/overview"),
    ("admin@northwind.example", lambda d: "/overview"),
    ("finance@northwind.example", lambda d: "/overview"),
    ("support@northwind.example", lambda d: "/overview"),
    ("admin@southwind.example", lambda d: "/overview"),
    ("admin@acme.example", lambda d: f"/clients/{d.acme.id}"),
    ("frontdesk@acme.example", lambda d: f"/clients/{d.acme.id}"),
    ("admin@globex.example", lambda d: f"/clients/{d.org('Globex Clinic').id}"),
    ("admin@initech.example", lambda d: f"/clients/{d.org('Initech Vet').id}"),
    # An accountant only reads invoices: the invoice list.
    ("accountant@acme.example", lambda d: "/invoices"),
    ("user1@acme.example", lambda d: "/no-access"),
])
def test_home_sends_each_role_to_its_start_page(email, home, demo, login_as):
    response = login_as(email).get("/")

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == home(demo)


def without_csrf_token(response):
    """The page's text with its CSRF token blanked: the token carries the second it was signed in."""
    html = response.get_data(as_text=True)
    return html.replace(csrf_token_from(html), "<csrf>")


def test_cross_tenant_404_looks_the_same_as_a_missing_object(demo, login_as):
    """Another partner's client and an id that does not exist are indistinguishable."""
    southwind = login_as("admin@southwind.example")
    missing = max(demo.acme.id, demo.org("Globex Clinic").id, demo.org("Initech Vet").id) + 1000

    foreign = southwind.get(f"/clients/{demo.acme.id}")
    absent = southwind.get(f"/clients/{missing}")

    assert foreign.status_code == absent.status_code == 404
    assert without_csrf_token(foreign) == without_csrf_token(absent)
    assert "Acme" not in foreign.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/clients/{big}", "/clients/{acme}/sites/{big}", "/invoices/{big}",
                                  "/clients/{acme}/users/{big}/deactivate", "/account/tokens/{big}/revoke"])
def test_ids_too_big_for_the_database_are_not_found(app, demo, login_as, path):
    url = path.format(big=10**20, acme=demo.acme.id)
    method = "POST" if "revoke" in url else "GET"
    assert_route_exists(app, method, path.format(big=1, acme=demo.acme.id))  # the same route, an id that fits
    client = login_as("finance@northwind.example")
    response = client.open(url, method=method)
    assert response.status_code == 404
