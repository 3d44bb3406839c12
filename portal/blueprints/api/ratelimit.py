"""A rate limit per API token (Flask-Limiter), shared by every API endpoint.

The limit is ``API_RATE_LIMIT`` (default 1200 requests a minute, twice what
the issue asks a busy integration to get), read on each request so tests can
lower it. Requests are counted by the SHA-256 of the bearer token, never the
token itself; requests without one by client address. Storage is in memory
unless ``RATELIMIT_STORAGE_URI`` names a shared store: with several app
servers behind a balancer, point it at one (e.g. ``redis://``), or each
server counts on its own.
"""
import math
import time

from flask import current_app, request
from flask_limiter import Limiter

from portal.blueprints.api import bp
from portal.models.tokens import hash_token

DEFAULT_LIMIT = "1200 per minute"


def token_key() -> str:
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    secret = secret.strip()
    if scheme.lower() == "bearer" and secret:
        return "token:" + hash_token(secret[:512])
    return "address:" + (request.remote_addr or "unknown")


def _limit() -> str:
    return current_app.config["API_RATE_LIMIT"]


def retry_after() -> int:
    """Whole seconds until the breached window resets (at least 1)."""
    limiter = current_app.extensions.get("api_limiter")
    current = limiter.current_limit if limiter is not None else None
    if current is None:
        return 60
    return max(1, math.ceil(current.reset_at - time.time()))


@bp.record_once
def _init(state) -> None:
    app = state.app
    app.config.setdefault("API_RATE_LIMIT", DEFAULT_LIMIT)
    app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    # One limiter per app (tests build several apps in one process).
    limiter = Limiter(key_func=token_key, app=app)
    limiter.shared_limit(_limit, scope="api", key_func=token_key)(bp)
    app.extensions["api_limiter"] = limiter
