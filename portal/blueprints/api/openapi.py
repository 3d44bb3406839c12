"""The OpenAPI 3.1 document, built from the registered operations and their pydantic models."""
from functools import lru_cache

from flask import current_app
from pydantic.json_schema import models_json_schema

from portal.blueprints.api import bp
from portal.blueprints.api.errors import MESSAGES
from portal.blueprints.api.idempotent import HEADER
from portal.blueprints.api.registry import OPERATIONS, PATH_PARAMS
from portal.blueprints.api.schemas import IDEMPOTENCY_KEY_SCHEMA, ErrorBody

REF = "#/components/schemas/{model}"
DESCRIPTIONS = {
    200: "OK", 201: "Created", 204: "No content",
    401: "No token, or an unknown, revoked or expired one (`unauthorized`).",
    403: "Within reach, but the token's user lacks the permission, or a read-only token sent a write "
         "(`forbidden`).",
    404: "No such object, or outside the caller's organisation (`not_found`).",
    409: "Conflict: `no_free_seat` (with `free`), `below_consumed` (with `consumed`) or `conflict`.",
    422: "Malformed or out-of-range input (`validation_error`, `fields` names each bad field), "
         "or `idempotency_mismatch`.",
    429: "Too many requests (`rate_limited`); see the Retry-After header.",
}


@lru_cache(maxsize=1)
def document() -> dict:
    """The whole document; built once per process (it depends on code only)."""
    models = [(ErrorBody, "serialization")]
    for op in OPERATIONS:
        if op.body is not None:
            models.append((op.body, "validation"))
        if op.response is not None:
            models.append((op.response, "serialization"))
    keys, defs = models_json_schema(list(dict.fromkeys(models)), ref_template=REF)
    defs = defs.get("$defs", {})
    components = dict(defs)
    paths: dict = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, keys)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Partner Portal API", "version": "1.0.0",
                 "description": "The partner API: every list is paginated with `page` and `per_page` "
                                "(at most 200), every error is `{\"error\": {\"code\", \"message\", \"fields\"}}`, "
                                "money is `{amount, currency}` in minor units."},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "description": "flask --app wsgi api-token create EMAIL"}},
            "headers": {"Retry-After": {"description": "Seconds to wait before retrying.",
                                        "schema": {"type": "integer", "minimum": 1}}},
        },
    }


def _operation(op, keys) -> dict:
    parameters = [{"name": name, "in": "path", "required": True, "schema": PATH_PARAMS[name][1]}
                  for name in op.path_params]
    if op.query is not None:
        query_schema = op.query.model_json_schema(ref_template=REF)
        required = set(query_schema.get("required", []))
        for name, prop in query_schema["properties"].items():
            prop = dict(prop)
            prop.pop("title", None)
            description = prop.pop("description", None)
            parameter = {"name": name, "in": "query", "required": name in required, "schema": prop}
            if description:
                parameter["description"] = description
            parameters.append(parameter)
    if op.method == "POST":
        parameters.append({"name": HEADER, "in": "header", "required": False, "schema": IDEMPOTENCY_KEY_SCHEMA,
                           "description": "The same key with the same body within 24 hours replays the first "
                                          "answer and changes nothing; with another body: 422 "
                                          "`idempotency_mismatch`."})
    result = {"operationId": op.endpoint.split(".", 1)[1], "summary": op.summary,
              "description": f"{op.description}\n\nPermission: {op.permission}.".strip(),
              "responses": _responses(op, keys)}
    if parameters:
        result["parameters"] = parameters
    if op.body is not None:
        result["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": keys[(op.body, "validation")]}}}
    return result


def _responses(op, keys) -> dict:
    error = keys[(ErrorBody, "serialization")]
    responses = {}
    for status in op.statuses:
        if status == op.status:
            content = {}
            if op.response is not None:
                content = {"application/json": {"schema": keys[(op.response, "serialization")]}}
            elif op.media_type is not None:
                content = {op.media_type: {"schema": {"type": "string", "format": "binary"}}}
            responses[str(status)] = {"description": DESCRIPTIONS.get(status, "OK"), **(
                {"content": content} if content else {})}
            continue
        response = {"description": DESCRIPTIONS.get(status, MESSAGES.get(status, ("", "Error"))[1]),
                    "content": {"application/json": {"schema": error}}}
        if status == 429:
            response["headers"] = {"Retry-After": {"$ref": "#/components/headers/Retry-After"}}
        if status == 401:
            response["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
        responses[str(status)] = response
    return responses


@bp.route("/openapi.json")
def openapi():
    """The OpenAPI 3.1 document of this API (no token needed)."""
    return current_app.json.response(document())
