"""Read-only and expiring API tokens (docs/rules.md rule 41): the API, the CLI."""
from datetime import timedelta

import pytest
from api_helpers import assert_error
from sqlalchemy import func, select, update

from portal.blueprints.api.registry import OPERATIONS
from portal.domain.accounts import api_tokens
from portal.domain.errors import Invalid
from portal.extensions import db
from portal.models import Allocation, ApiToken, AuditEvent, IdempotencyKey, User
from portal.models.mixins import utcnow

FINANCE = "finance@northwind.example"
WRITES = [(op.method, op.path) for op in OPERATIONS if op.method in ("POST", "PUT", "PATCH", "DELETE")]
ALL = [(op.method, op.path) for op in OPERATIONS]


def user(email) -> User:
    return db.session.scalar(select(User).where(User.email == email))


def issue(email=FINANCE, **choices) -> str:
    secret = api_tokens.create_token(None, user(email), **choices).secret
    db.session.rollback()
    return secret


def concrete(demo, path: str) -> str:
    """An operation's path with real ids of Acme (Lyon, a Lyon seat holder), so a write could really succeed."""
    holder = db.session.scalar(select(User.id).where(User.site_id == demo.lyon.id).order_by(User.id))
    return "/api/v1" + path.replace("{type_code}", "essentials").format(
        client_id=demo.acme.id, site_id=demo.lyon.id, user_id=holder, invoice_id=1, request_id=1,
        partner_id=demo.org("Northwind Telecom").id, webhook_id=1, delivery_id=1)


def state():
    """Users, allocations, audit events and kept Idempotency-Keys: what a refused write leaves alone."""
    db.session.rollback()
    users = db.session.execute(select(User.id, User.name, User.status, User.site_id).order_by(User.id)).all()
    allocations = db.session.execute(select(Allocation.site_id, Allocation.allocated, Allocation.consumed)
                                     .order_by(Allocation.id)).all()
    counts = [db.session.scalar(select(func.count()).select_from(model)) for model in (AuditEvent, IdempotencyKey)]
    return users, allocations, counts


def test_a_read_only_token_cannot_create_a_user(api_as, demo, client_with):
    """The attack: a token meant for reports could change everything its user may change."""
    client = client_with(issue(read_only=True))
    before = state()

    response = client.post(f"/api/v1/sites/{demo.lyon.id}/users",
                           json={"name": "Eve", "email": "eve@example.org", "subscription_type": "essentials"},
                           headers={"Idempotency-Key": "read-only-1"})

    error = assert_error(response, 403, "forbidden")
    assert "read-only" in error["message"]
    assert state() == before


@pytest.mark.parametrize(("method", "path"), WRITES, ids=[f"{m} {p}" for m, p in WRITES])
def test_a_read_only_token_gets_403_on_every_write(method, path, demo, client_with):
    client = client_with(issue(read_only=True))
    before = state()
    response = client.open(concrete(demo, path), method=method, json={"name": "X", "allocated": 9})
    assert_error(response, 403, "forbidden")
    assert state() == before


def test_a_read_only_token_reads(demo, client_with):
    client = client_with(issue(read_only=True))
    assert client.get("/api/v1/clients").status_code == 200
    assert client.get(f"/api/v1/sites/{demo.lyon.id}").status_code == 200


def test_a_read_write_token_still_writes(demo, client_with):
    client = client_with(issue())
    response = client.put(f"/api/v1/sites/{demo.lyon.id}/allocations/essentials", json={"allocated": 9})
    assert response.status_code == 200, response.get_data(as_text=True)


@pytest.mark.parametrize(("method", "path"), ALL, ids=[f"{m} {p}" for m, p in ALL])
def test_an_expired_token_is_401_everywhere(method, path, demo, client_with):
    secret = issue(expires_in_days=1)
    db.session.execute(update(ApiToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    response = client_with(secret).open(concrete(demo, path), method=method, json={})
    error = assert_error(response, 401, "unauthorized")
    assert "expired" in error["message"]


def test_a_token_works_until_it_expires(demo, client_with):
    secret = issue(expires_in_days=7)
    client = client_with(secret)
    assert client.get("/api/v1/summary").status_code == 200
    db.session.execute(update(ApiToken).values(expires_at=utcnow() + timedelta(seconds=30)))
    db.session.commit()
    assert client.get("/api/v1/summary").status_code == 200
    db.session.execute(update(ApiToken).values(expires_at=utcnow()))
    db.session.commit()
    assert client.get("/api/v1/summary").status_code == 401


@pytest.mark.parametrize("days", [0, -1, 3651, "many", True, 1.5])
def test_an_impossible_lifetime_is_refused(days, demo):
    with pytest.raises(Invalid) as refused:
        api_tokens.create_token(None, user(FINANCE), expires_in_days=days)
    assert refused.value.field == "expires_in_days"
    db.session.rollback()
    assert db.session.scalar(select(ApiToken.id)) is None


def test_the_openapi_document_lists_403_for_every_write(anonymous, demo):
    document = anonymous.get("/api/v1/openapi.json").get_json()
    for method, path in WRITES:
        assert "403" in document["paths"][path][method.lower()]["responses"], (method, path)


# --- the CLI ----------------------------------------------------------------------------------------------


def test_cli_creates_a_read_only_token_that_expires(runner, demo, client_with):
    result = runner.invoke(args=["api-token", "create", FINANCE, "--read-only", "--expires-in-days", "30"])
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    db.session.rollback()
    token = db.session.scalar(select(ApiToken))
    assert token.read_only is True
    assert timedelta(days=29, hours=23) < token.expires_at - utcnow() <= timedelta(days=30)
    assert "read-only" in result.output and "expires" in result.output
    assert client_with(secret).get("/api/v1/summary").status_code == 200
    assert_error(client_with(secret).post(f"/api/v1/clients/{demo.acme.id}/sync-seats"), 403, "forbidden")

    listing = runner.invoke(args=["api-token", "list", FINANCE]).output
    assert f"\tactive until {token.expires_at:%Y-%m-%d}\tread-only\tlast used " in listing


def test_cli_defaults_to_read_write_without_expiry(runner, demo):
    assert runner.invoke(args=["api-token", "create", FINANCE]).exit_code == 0
    db.session.rollback()
    token = db.session.scalar(select(ApiToken))
    assert (token.read_only, token.expires_at) == (False, None)


@pytest.mark.parametrize("days", ["0", "-5", "4000", "soon"])
def test_cli_refuses_an_impossible_lifetime(days, runner, demo):
    result = runner.invoke(args=["api-token", "create", FINANCE, "--expires-in-days", days])
    assert result.exit_code != 0 and "Traceback" not in result.output
    db.session.rollback()
    assert db.session.scalar(select(ApiToken.id)) is None


def test_cli_lists_expired_tokens_as_expired(runner, demo):
    issue(expires_in_days=1)
    db.session.execute(update(ApiToken).values(expires_at=utcnow() - timedelta(days=1)))
    db.session.commit()
    assert "\texpired " in runner.invoke(args=["api-token", "list", FINANCE]).output
