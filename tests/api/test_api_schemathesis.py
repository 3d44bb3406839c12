"""Schemathesis fuzzes the API from its own OpenAPI document (WSGI transport, no server).

Positive and negative (schema-violating) examples for every operation, with
a bounded number of examples so the run stays well under two minutes. Checks:
no server error, every response conforms to the documented schema and
status codes, and input that violates the schema is rejected (4xx).

The document is read once from ``GET /api/v1/openapi.json`` of an app built
at import time (the document depends on code only); the requests go to the
test session's app, on demo data, with a finance token.
"""
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config._auth import OpenAPIAuthConfig
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select, update

from portal import create_app
from portal.domain.accounts import api_tokens
from portal.extensions import db
from portal.models import ApiToken, Invoice, User
from portal.models.tokens import hash_token

MAX_EXAMPLES = 25
CODES = ("essentials", "unlimited", "support")
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, negative_data_rejection]

schema = schemathesis.openapi.from_wsgi(
    "/api/v1/openapi.json", create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"}))
schema.config.generation.update(modes=["positive", "negative"], max_examples=MAX_EXAMPLES, database="none")
# A fixed token (set on a demo user's token below) sent through the document's bearer scheme, so
# negative cases that drop it expect the documented 401.
TOKEN = "schemathesis-" + "x" * 30
schema.config.auth.openapi = OpenAPIAuthConfig(schemes={"bearerAuth": {"bearer": TOKEN}})


@pytest.fixture
def target(app, demo, monkeypatch):
    """The session's app on demo data (a fresh app context per request), TOKEN acting as finance."""
    # One token sends every generated request: lift the per-token limit for this run only.
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "1000000 per minute")
    user = db.session.scalar(select(User).where(User.email == "finance@northwind.example"))
    issued = api_tokens.create_token(None, user, "schemathesis")
    db.session.execute(update(ApiToken).where(ApiToken.id == issued.token.id)
                       .values(token_hash=hash_token(TOKEN)))
    db.session.commit()

    def wsgi(environ, start_response):
        with app.app_context():  # as under a real server
            return app(environ, start_response)

    holder = db.session.scalar(select(User).where(User.site_id == demo.lyon.id).order_by(User.id))
    invoice = db.session.scalar(select(Invoice.id).where(Invoice.client_id == demo.acme.id).order_by(Invoice.id))
    real_ids = {"client_id": demo.acme.id, "site_id": demo.lyon.id, "user_id": holder.id, "invoice_id": invoice}
    db.session.rollback()
    return wsgi, real_ids


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi_document(case, target):
    wsgi, real_ids = target
    meta = case.meta
    if case.path_parameters and meta is not None and not meta.generation.mode.is_negative:
        # Random ids mostly miss: send every other valid example to real demo objects.
        for name, value in case.path_parameters.items():
            if name in real_ids and isinstance(value, int) and value % 2 == 0:
                case.path_parameters[name] = real_ids[name]
            elif name == "type_code" and len(value) % 2 == 0:
                case.path_parameters[name] = CODES[len(value) % len(CODES)]
    if meta is not None and not meta.generation.mode.is_negative and isinstance(case.body, dict):
        code = case.body.get("subscription_type")
        if isinstance(code, str) and len(code) % 2 == 0:
            case.body["subscription_type"] = CODES[len(code) % len(CODES)]
    case.call_and_validate(app=wsgi, checks=CHECKS)
