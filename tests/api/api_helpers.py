"""Plain helpers shared by the API tests (imported by name: tests/ is not a package)."""

LOGINS = {
    "operator": "operator@portal.example",
    "nw_admin": "admin@northwind.example",
    "nw_finance": "finance@northwind.example",
    "nw_support": "support@northwind.example",
    "acme_admin": "admin@acme.example",
    "acme_accountant": "accountant@acme.example",
    "acme_frontdesk": "frontdesk@acme.example",
    "globex_admin": "admin@globex.example",
    "sw_admin": "admin@southwind.example",
    "initech_admin": "admin@initech.example",
}


def assert_error(response, status: int, code: str, *fields: str) -> dict:
    """The response is the API's error shape with this status and code, naming these fields."""
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    error = body["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["fields"], dict)
    for field in fields:
        assert field in error["fields"], error
    return error
