"""What the API tests import by name (``from api_helpers import assert_error``): kept in tests/helpers.py."""
from tests.helpers import LOGINS, assert_error

__all__ = ["LOGINS", "assert_error"]
