"""The partner JSON API under /api/v1, described by its OpenAPI document (/api/v1/openapi.json).

Token-authenticated (auth.py), rate-limited per token (ratelimit.py), one
error shape (errors.py). Each resource module declares its operations with
``registry.operation``, which routes them and feeds the OpenAPI document
(openapi.py). Views load through the rbac scoped loaders, check the named
permissions, validate with the pydantic models (schemas.py) and call the
same services as the screens.
"""
from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

# The hooks first, in this order (authentication before the rate limit), then the resources.
from portal.blueprints.api import errors, auth, ratelimit  # noqa: E402,F401,I001
from portal.blueprints.api import catalogue, clients, sites, users, invoices, audit, openapi  # noqa: E402,F401,I001
from portal.blueprints.api import seat_requests, partners, reports, prices  # noqa: E402,F401,I001
from portal.blueprints.api import webhooks, usage, insights  # noqa: E402,F401,I001
