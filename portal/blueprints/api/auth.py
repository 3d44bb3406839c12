"""Bearer-token authentication for every API request.

Browser sessions play no part: the actor is the token's user, loaded here on
each request, whatever cookie came along (so the API needs no CSRF token).
Permissions are then asked of that user through the same rbac functions as
the screens (the named capabilities with ``may``, the scoped loaders).
"""
from flask import g, request
from flask_principal import Permission

from portal.blueprints.api import bp
from portal.blueprints.api.errors import ApiError
from portal.blueprints.api.registry import MAX_BODY
from portal.domain.accounts import api_tokens
from portal.rbac.permissions import may

PUBLIC_ENDPOINTS = {"api.openapi"}
# Methods that change something: a read-only token may send none of them (docs/rules.md rule 41).
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


@bp.before_request
def authenticate():
    request.max_content_length = MAX_BODY
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise ApiError(401, "Send an API token: Authorization: Bearer <token>.")
    found = api_tokens.authenticate(secret.strip())
    if found is None:
        raise ApiError(401, "This API token is unknown, revoked or expired, or its user can no longer sign in.")
    token, _ = found
    # Refused before the operation runs (nothing is loaded, no Idempotency-Key is kept).
    if token.read_only and request.method in WRITE_METHODS:
        raise ApiError(403, "This API token is read-only: it cannot change anything. Use a token with write "
                            "access for this request.")
    g.api_token, g.api_user = found
    return None


def actor():
    """The user the request acts for."""
    return g.api_user


def require(capability: Permission, message: str | None = None) -> None:
    """403 unless the token's user holds ``capability`` (a named rbac capability: ``manage_seats(site)``)."""
    if not may(g.api_user, capability):
        raise ApiError(403, message)
