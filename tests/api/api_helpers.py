"""Plain helpers shared by the API tests (imported by name from this folder)."""

from tests.demo_logins import LOGINS  # noqa: E402,F401 (re-exported to the API tests)


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
