"""Every API error has one shape: ``{"error": {"code", "message", "fields", ...extras}}``.

That includes the answers Flask would otherwise give as HTML pages: unknown
paths and methods under /api/v1 (routing fails before any blueprint is
known, hence the app-wide hook), 401, 403, 404, 429 and even an unexpected
exception.
"""
import json

from flask import current_app, request
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound, SecurityError

from portal.blueprints.api import bp
from portal.domain.errors import DomainError
from portal.extensions import db
from portal.web.unavailable import RETRY_AFTER_SECONDS, forget_failed_transaction

PREFIX = "/api/v1"

MESSAGES = {
    400: ("validation_error", "The request could not be read."),
    401: ("unauthorized", "Send a valid API token: Authorization: Bearer <token>."),
    403: ("forbidden", "You do not have the permission this needs."),
    404: ("not_found", "There is nothing here, or it is not yours to see."),
    405: ("method_not_allowed", "This method is not allowed on this path."),
    409: ("conflict", "That change conflicts with the current state."),
    413: ("validation_error", "The request body is too large."),
    422: ("validation_error", "The request is malformed or out of range."),
    429: ("rate_limited", "Too many requests; retry after the number of seconds in Retry-After."),
    500: ("internal_error", "Something went wrong on our side; nothing was changed. Please retry."),
}

BAD_HOST = "This portal does not answer to the host named in the Host header; call it by its own address."


class ApiError(Exception):
    """An error answered in the API's shape."""

    def __init__(self, status: int, message: str | None = None, *, code: str | None = None,
                 fields: dict | None = None, headers: dict | None = None, **extra):
        default_code, default_message = MESSAGES.get(status, ("error", "Error."))
        super().__init__(message or default_message)
        self.status, self.code = status, code or default_code
        self.message = message or default_message
        self.fields, self.headers, self.extra = fields or {}, headers or {}, extra


def error_response(error: ApiError):
    body = {"error": {"code": error.code, "message": error.message, "fields": error.fields, **error.extra}}
    response = current_app.response_class(json.dumps(body, separators=(",", ":")), status=error.status,
                                          mimetype="application/json")
    for name, value in error.headers.items():
        response.headers[name] = value
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


def from_validation(error: ValidationError, where: str) -> ApiError:
    """A pydantic error as a 422 naming each bad field (``body`` for the body as a whole)."""
    fields = {}
    for item in error.errors(include_url=False, include_input=False):
        loc = [str(part) for part in item["loc"]]
        name = ".".join(loc) if loc else where
        if item["type"] == "json_invalid":
            message = "The body is not valid JSON."
        elif item["type"] == "model_type":
            message = "The body must be a JSON object." if where == "body" else item["msg"]
        elif item["type"] == "missing":
            message = "This field is required."
        else:
            message = item["msg"]
        fields.setdefault(name, message)
    return ApiError(422, "Some fields are missing or invalid: " + ", ".join(fields) + ".", fields=fields)


@bp.errorhandler(ApiError)
def _api_error(error: ApiError):
    return error_response(error)


@bp.errorhandler(DomainError)
def _domain_error(error: DomainError):
    """A service refused: its code, status, field and extras (``free``, ``consumed``)."""
    fields = {error.field: error.message} if error.field else {}
    return error_response(ApiError(error.status, error.message, code=error.code, fields=fields, **error.extra))


@bp.errorhandler(IntegrityError)
def _integrity_error(error: IntegrityError):
    # A unique constraint beat a service's own check under concurrency.
    db.session.rollback()
    return error_response(ApiError(409, "That change conflicts with another one made at the same time; "
                                        "reload and try again."))


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException):
    return error_response(http_error(error))


# Flask prefers the app's handler for a status code (the HTML error pages) to a
# blueprint's handler for a class, so the API registers each code too.
for _status in MESSAGES:
    if _status != 500:
        bp.register_error_handler(_status, _http_error)


@bp.errorhandler(OperationalError)
@bp.errorhandler(InterfaceError)
def _unavailable(error):
    """The database does not answer: 503 with Retry-After (docs/rules.md rule 41b)."""
    current_app.logger.warning("API request without a database: %s %s: %s", request.method, request.path, error)
    forget_failed_transaction()
    return error_response(ApiError(503, "The service cannot reach its database right now; retry in a moment.",
                                   code="unavailable",
                                   headers={"Retry-After": str(RETRY_AFTER_SECONDS)}))


@bp.errorhandler(Exception)
def _unexpected(error: Exception):
    current_app.logger.exception("API request failed: %s %s", request.method, request.path)
    db.session.rollback()
    return error_response(ApiError(500))


def http_error(error: HTTPException) -> ApiError:
    status = error.code or 500
    headers = {}
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        headers["Allow"] = ", ".join(sorted(error.valid_methods))
    if status in (400, 413):  # unreadable or oversized input: a validation error, like any bad input
        return ApiError(422, MESSAGES[status][1], fields={"body": MESSAGES[status][1]})
    if status == 429:
        from portal.blueprints.api.ratelimit import retry_after

        headers["Retry-After"] = str(retry_after())
    return ApiError(status, headers=headers)


@bp.before_app_request
def _routing_error():
    """Unknown paths and methods under /api/v1 answer in the API's shape, not as HTML pages."""
    error = request.routing_exception
    if error is None or not (request.path == PREFIX or request.path.startswith(PREFIX + "/")):
        return None
    if isinstance(error, (NotFound, MethodNotAllowed)):
        return error_response(http_error(error))
    if isinstance(error, SecurityError):
        # A Host outside PORTAL_TRUSTED_HOSTS (docs/rules.md rule 41b): the API's shape, not a text page.
        return error_response(ApiError(400, BAD_HOST, fields={"Host": BAD_HOST}))
    return None
