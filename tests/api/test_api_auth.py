"""Bearer tokens: what authenticates an API call and what does not (docs/rules.md, API "Calling it")."""
import pytest
from api_helpers import assert_error
from sqlalchemy import event, select

from portal.blueprints.api.registry import OPERATIONS
from portal.domain.accounts import api_tokens, users
from portal.extensions import db
from portal.models import ApiToken, User
from portal.models.tokens import hash_token
from portal.rbac import permissions
from portal.rbac.needs import identity_for
from portal.rbac.permissions import may
from tests.factories import UserFactory


def concrete(path: str) -> str:
    """An operation's path with made-up ids: authentication is checked before anything is loaded."""
    return "/api/v1" + path.replace("{type_code}", "essentials").format(
        client_id=1, site_id=1, user_id=1, invoice_id=1, request_id=1, partner_id=1, webhook_id=1,
        delivery_id=1)


OPERATION_CASES = [(op.method, op.path) for op in OPERATIONS]


@pytest.mark.parametrize("method, path", OPERATION_CASES, ids=[f"{m} {p}" for m, p in OPERATION_CASES])
def test_every_operation_needs_a_token(anonymous, method, path):
    response = anonymous.open(concrete(path), method=method, json={})
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("method, path", OPERATION_CASES, ids=[f"{m} {p}" for m, p in OPERATION_CASES])
def test_a_revoked_token_is_refused_everywhere(client_with, demo, token_for, method, path):
    secret = token_for("finance@northwind.example")
    token = db.session.scalar(select(ApiToken).order_by(ApiToken.id.desc()))
    api_tokens.revoke_token(None, token)
    response = client_with(secret).open(concrete(path), method=method, json={})
    assert_error(response, 401, "unauthorized")


@pytest.mark.parametrize("header", [
    "Bearer", "Bearer ", "Basic Zm9vOmJhcg==", "bearer not-a-real-token", "Token abc", "Bearer " + "x" * 5000,
])
def test_malformed_or_unknown_credentials_are_401(anonymous, demo, header):
    response = anonymous.get("/api/v1/subscription-types", headers={"Authorization": header})
    assert_error(response, 401, "unauthorized")


def test_a_valid_token_works_with_any_case_of_bearer(api_as, demo):
    client = api_as("nw_support")
    response = client.get("/api/v1/clients", headers={"Authorization": f"bearer {client.token}"})
    assert response.status_code == 200


def test_a_browser_session_does_not_authenticate_api_calls(login_as, demo):
    browser = login_as("finance@northwind.example")
    assert browser.get("/overview").status_code == 200
    response = browser.get("/api/v1/clients")
    assert_error(response, 401, "unauthorized")


def test_a_session_cookie_does_not_change_whom_a_token_acts_for(app, login_as, demo, token_for):
    """The token's user is the actor even when a browser session of someone else comes along."""
    browser = login_as("admin@initech.example")
    secret = token_for("finance@northwind.example")
    response = browser.get("/api/v1/clients", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200
    assert {c["name"] for c in response.get_json()["items"]} == {"Acme Dental", "Globex Clinic"}


def test_api_calls_need_no_csrf_token(app, client_with, demo, token_for, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    client = client_with(token_for("finance@northwind.example"))
    response = client.post(f"/api/v1/clients/{demo.acme.id}/sites", json={"name": "Nice"})
    assert response.status_code == 201, response.get_data(as_text=True)
    # …while the screens do check it: the same client posting a form without one is refused.
    assert client.post("/login", data={"email": "x@example.org", "password": "x"}).status_code == 400


def test_a_deactivated_users_token_stops_working(api_as, demo):
    client = api_as("acme_frontdesk")
    assert client.get("/api/v1/clients").status_code == 200
    users.deactivate_user(demo.user("admin@acme.example"), demo.user("frontdesk@acme.example"))
    assert_error(client.get("/api/v1/clients"), 401, "unauthorized")


def test_a_token_acts_with_its_users_current_roles(api_as, demo):
    """Roles are read on each request: a role taken away is gone from the next call."""
    client = api_as("nw_finance")
    assert client.get("/api/v1/invoices").status_code == 200
    user = demo.user("finance@northwind.example")
    for assignment in list(user.role_assignments):
        if assignment.role == "finance":
            db.session.delete(assignment)
    db.session.commit()
    assert_error(client.get("/api/v1/invoices"), 403, "forbidden")


def test_tokens_are_stored_only_as_hashes_and_record_their_last_use(api_as, demo, fresh):
    client = api_as("nw_support")
    fresh()
    token = db.session.scalar(select(ApiToken).order_by(ApiToken.id.desc()))
    assert token.token_hash == hash_token(client.token) != client.token
    assert token.last_used_at is None
    client.get("/api/v1/summary")
    fresh()
    assert db.session.get(ApiToken, token.id).last_used_at is not None


def test_an_invited_user_cannot_get_a_token(demo):
    from portal.domain.errors import Conflict

    invited = users.create_user(demo.user("admin@acme.example"), demo.lyon, demo.type("essentials"),
                                "invitee@example.org", "Invitee", send="later")
    with pytest.raises(Conflict):
        api_tokens.create_token(None, db.session.get(User, invited.id))


def test_the_openapi_document_needs_no_token(anonymous):
    response = anonymous.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.get_json()["openapi"].startswith("3.1")


def test_a_token_brings_its_user_and_every_role_with_its_sites_in_one_statement(demo):
    """A site manager of two sites who is also an accountant: both roles, each over both sites, come with
    the one statement that finds the token; the identity outlives a commit that expires the user."""
    manager = UserFactory(organisation=demo.acme, site_manager=True, accountant=True, sites=[demo.lyon, demo.paris])
    secret = api_tokens.create_token(None, manager).secret
    api_tokens.authenticate(secret)  # the first use writes last_used_at (then not for a minute)
    email, acme, lyon, paris = manager.email, demo.acme.id, demo.lyon.id, demo.paris.id
    within_acme = permissions.manage_users_within(demo.acme)
    db.session.remove()
    seen = []

    def note(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        token, user = api_tokens.authenticate(secret)
        assert len(seen) == 1
        provides = identity_for(user).provides
        assert {("role", "site_manager"), ("role", "accountant")} <= provides
        for permission in ("users.manage", "billing.view"):
            assert {need for need in provides if need[0] == permission and need[1] == "site"} == {
                (permission, "site", lyon), (permission, "site", paris)}
            assert (permission, "client", acme) not in provides
        db.session.commit()  # as a write transaction opens: everything expired
        assert may(user, within_acme) and len(seen) == 1  # asked of the identity: no statement
        assert user.email == email and len(seen) == 2
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
