"""Operations: each API route is declared once with its schemas and statuses.

``operation`` registers the Flask route *and* the description the OpenAPI
document is built from, so the document cannot drift from the code: the
query and body models named here are the ones ``read_query``/``read_body``
validate with, and the response model is the one the view's result is
serialised through.
"""
import re
from dataclasses import dataclass, field
from functools import wraps

from flask import current_app, g, request
from pydantic import BaseModel, TypeAdapter, ValidationError

from portal.blueprints.api import bp
from portal.blueprints.api.errors import ApiError, from_validation
from portal.blueprints.api.idempotent import idempotent
from portal.blueprints.api.schemas import MAX_ID
from portal.rbac.permissions import permission_name

# Every path parameter: its Flask converter and its JSON Schema.
PATH_PARAMS = {
    "client_id": ("int", {"type": "integer", "minimum": 0, "maximum": MAX_ID}),
    "site_id": ("int", {"type": "integer", "minimum": 0, "maximum": MAX_ID}),
    "user_id": ("int", {"type": "integer", "minimum": 0, "maximum": MAX_ID}),
    "invoice_id": ("int", {"type": "integer", "minimum": 0, "maximum": MAX_ID}),
    "request_id": ("int", {"type": "integer", "minimum": 0, "maximum": MAX_ID}),
    "partner_id": ("int", {"type": "integer", "minimum": 0, "maximum": MAX_ID}),
    "webhook_id": ("int", {"type": "integer", "minimum": 0, "maximum": MAX_ID}),
    "delivery_id": ("int", {"type": "integer", "minimum": 0, "maximum": MAX_ID}),
    "type_code": ("string(maxlength=40)", {"type": "string", "minLength": 1, "maxLength": 40,
                                           "pattern": "^[^/\\x00-\\x1f\\x7f]+$"}),
}
MAX_BODY = 64 * 1024
# The permission of an operation every token may call (the catalogue).
ANY_TOKEN = "any"


@dataclass
class Operation:
    method: str
    path: str  # OpenAPI form: /clients/{client_id}
    endpoint: str
    summary: str
    permission: str  # as the OpenAPI document states it
    response: type | None
    status: int
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()
    description: str = ""
    adapter: TypeAdapter | None = field(default=None, repr=False)
    # A download rather than JSON (the invoice PDF): the view returns the response itself.
    media_type: str | None = None

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"\{(\w+)\}", self.path)

    @property
    def statuses(self) -> list[int]:
        """Every status this operation can answer, success first."""
        found = {self.status, 401, 429, *self.errors}
        if self.path_params:
            found.add(404)
        if self.query or self.body or self.path_params or self.method == "POST":
            found.add(422)
        if self.method == "POST":
            found.add(409)  # the Idempotency-Key's first request is still running
        if self.method in ("POST", "PUT", "PATCH", "DELETE"):
            found.add(403)  # a read-only token (docs/rules.md rule 41)
        return [self.status] + sorted(found - {self.status})


OPERATIONS: list[Operation] = []
_BY_ENDPOINT: dict[str, Operation] = {}


def operation(method: str, path: str, *, summary: str, permission, response=None, status: int = 200,
              query=None, body=None, errors=(), description: str = "", media_type: str | None = None):
    """Declare and route one API operation; the view returns data for ``response``.

    ``media_type`` (e.g. ``application/pdf``): the operation answers a document of that type,
    not JSON; its view returns the whole response (documented as binary).

    ``permission`` is the named rbac capability the view requires (``permissions.view_clients``),
    documented by the name it checks, or a text built with ``permission_name`` when one name
    does not say it all.
    """
    if not isinstance(permission, str):
        permission = permission_name(permission)

    def decorator(view):
        op = Operation(method, path, "api." + view.__name__, summary, permission, response, status, query, body,
                       tuple(errors), description or (view.__doc__ or "").strip(),
                       TypeAdapter(response) if response is not None else None, media_type)
        rule = re.sub(r"\{(\w+)\}", lambda m: f"<{PATH_PARAMS[m.group(1)][0]}:{m.group(1)}>", path)

        @wraps(view)
        def handle(**kwargs):
            if any(isinstance(value, int) and value > MAX_ID for value in kwargs.values()):
                # No row has such an id (and PostgreSQL's integer would overflow).
                raise ApiError(404)
            result = view(**kwargs)
            return respond(op, result)

        view_func = idempotent(handle) if method == "POST" else handle
        bp.add_url_rule(rule, endpoint=view.__name__, view_func=view_func, methods=[method])
        OPERATIONS.append(op)
        _BY_ENDPOINT[op.endpoint] = op
        return view

    return decorator


def current_operation() -> Operation:
    return _BY_ENDPOINT[request.endpoint]


def respond(op: Operation, result):
    """Serialise the view's result through the operation's response model."""
    if op.media_type is not None:
        return result  # a document: the view built the response
    if op.adapter is None:
        return current_app.response_class(status=op.status)
    payload = op.adapter.dump_json(op.adapter.validate_python(result, from_attributes=True))
    return current_app.response_class(payload, status=op.status, mimetype="application/json")


def read_query():
    """The query string, validated by the operation's query model (422 naming each bad parameter)."""
    model = current_operation().query
    try:
        return model.model_validate(request.args.to_dict())
    except ValidationError as error:
        raise from_validation(error, "query") from None


def read_body():
    """The JSON body, validated by the operation's body model.

    Malformed JSON, a body that is not an object, wrong types (booleans for
    numbers included), out-of-range numbers and control characters in text
    are all 422, before anything is written.
    """
    model = current_operation().body
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise ApiError(422, f"The body is larger than {MAX_BODY // 1024} KiB.", fields={"body": "Too large."})
    raw = g.get("api_raw_body")
    if raw is None:
        raw = request.get_data(cache=True)
    if not raw.strip():
        raise ApiError(422, "Send a JSON object as the body.", fields={"body": "The body is empty."})
    try:
        return model.model_validate_json(raw)
    except ValidationError as error:
        raise from_validation(error, "body") from None
