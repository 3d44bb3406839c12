"""The OpenAPI 3.1 document: every operation, its inputs, and every status it can answer."""
from portal.blueprints.api.openapi import document
from portal.blueprints.api.registry import OPERATIONS

METHODS = {"get", "post", "put", "patch", "delete"}


def test_it_is_served_and_is_the_generated_document(anonymous):
    response = anonymous.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    spec = response.get_json()
    assert spec == document()
    assert spec["openapi"] == "3.1.0"
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": "flask --app wsgi api-token create EMAIL"}
    assert spec["security"] == [{"bearerAuth": []}]


def test_every_route_of_the_api_is_documented(app):
    documented = {(method.upper(), "/api/v1" + path) for path, item in document()["paths"].items()
                  for method in item if method in METHODS}
    routed = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api.") and rule.endpoint != "api.openapi":
            path = rule.rule
            for name in ("client_id", "site_id", "user_id", "invoice_id", "request_id", "partner_id", "type_code",
                         "webhook_id", "delivery_id"):
                path = path.replace(f"<int:{name}>", "{%s}" % name).replace(f"<string(maxlength=40):{name}>",
                                                                             "{%s}" % name)
            routed |= {(method, path) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert routed == documented


def test_every_operation_lists_401_and_429_and_its_errors():
    for path, item in document()["paths"].items():
        for method, operation in item.items():
            statuses = set(operation["responses"])
            assert {"401", "429"} <= statuses, (method, path)
            if "{" in path:
                assert "404" in statuses, (method, path)
            if method == "post":
                assert "422" in statuses and "409" in statuses
                assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in operation["parameters"])
            assert operation["responses"]["429"]["headers"]["Retry-After"]
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert response["content"]["application/json"]["schema"] == {
                        "$ref": "#/components/schemas/ErrorBody"}


def test_request_bodies_and_queries_come_from_the_validating_models():
    spec = document()
    schemas = spec["components"]["schemas"]
    allocation = schemas["AllocationUpdate"]["properties"]["allocated"]
    assert allocation["type"] == "integer" and allocation["minimum"] == 0 and allocation["maximum"] == 100_000
    put = spec["paths"]["/sites/{site_id}/allocations/{type_code}"]["put"]
    assert put["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/AllocationUpdate"}
    per_page = next(p for p in spec["paths"]["/clients"]["get"]["parameters"] if p["name"] == "per_page")
    assert per_page["schema"]["maximum"] == 200
    user = schemas["UserCreate"]
    assert set(user["required"]) == {"email", "name", "subscription_type"}
    assert user["properties"]["send_invitation"]["enum"] == ["now", "later"]


def test_all_operations_are_in_the_document():
    spec = document()
    assert len(OPERATIONS) == sum(1 for item in spec["paths"].values() for m in item if m in METHODS) == 47
    assert len({op["operationId"] for item in spec["paths"].values() for op in item.values()}) == 47


def test_every_schema_is_valid_json_schema():
    import jsonschema_rs  # comes with schemathesis

    # OpenAPI 3.1 schemas are JSON Schema 2020-12.
    spec = document()
    schemas = list(spec["components"]["schemas"].values())
    schemas += [p["schema"] for item in spec["paths"].values() for op in item.values()
                for p in op.get("parameters", [])]
    for schema in schemas:
        jsonschema_rs.meta.validate({**schema, "$schema": "https://json-schema.org/draft/2020-12/schema"})
