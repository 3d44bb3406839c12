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
from schemathesis.specs.openapi.checks import (negative_data_rejection, response_schema_conformance,
                                               status_code_conformance)

from portal import create_app

MAX_EXAMPLES = 25
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, negative_data_rejection]

schema = schemathesis.openapi.from_wsgi(
    "/api/v1/openapi.json", create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"}))
schema.config.generation.update(modes=["positive", "negative"], max_examples=MAX_EXAMPLES, database="none")


@pytest.fixture
def target(app, demo, token_for, monkeypatch):
    """The session's app on demo data, a fresh app context per request, and a finance token."""
    # One token sends every generated request: lift the per-token limit for this run only.
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "1000000 per minute")
    token = token_for("finance@northwind.example")

    def wsgi(environ, start_response):
        with app.app_context():  # as under a real server
            return app(environ, start_response)

    return wsgi, {"Authorization": f"Bearer {token}"}


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi_document(case, target):
    wsgi, headers = target
    case.call_and_validate(app=wsgi, headers=headers, checks=CHECKS)
