"""Shape checks shared by forms, the API and the CLI, raising ``Invalid``."""
import re

from .errors import Invalid

# Seats per site and type; far above any real clinic, far below integer overflow.
MAX_SEATS = 100_000
_EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f<>,;:\"]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def seat_count(value, field: str = "allocated") -> int:
    """A whole number of seats between 0 and MAX_SEATS; booleans are not numbers."""
    if isinstance(value, bool):
        raise Invalid("Enter a whole number of seats.", field=field)
    if isinstance(value, str):
        value = value.strip()
        if not re.fullmatch(r"[0-9]{1,9}|-[0-9]{1,9}", value):
            raise Invalid("Enter a whole number of seats.", field=field)
        value = int(value)
    if not isinstance(value, int):
        raise Invalid("Enter a whole number of seats.", field=field)
    if value < 0:
        raise Invalid("The number of seats cannot be negative.", field=field)
    if value > MAX_SEATS:
        raise Invalid(f"At most {MAX_SEATS:,} seats per site and type.", field=field)
    return value


def email(value, field: str = "email") -> str:
    """A plausible single e-mail address, lower-cased; no header tricks."""
    if not isinstance(value, str) or not value.strip():
        raise Invalid("Enter an e-mail address.", field=field)
    value = value.strip().lower()
    if len(value) > 254 or not _EMAIL.match(value):
        raise Invalid("Enter a valid e-mail address, such as name@example.com.", field=field)
    return value


def text(value, field: str, *, label: str, max_length: int = 200) -> str:
    """A required single-line text without control characters."""
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"Enter a {label}.", field=field)
    value = value.strip()
    if _CONTROL.search(value):
        raise Invalid(f"The {label} cannot contain control characters or line breaks.", field=field)
    if len(value) > max_length:
        raise Invalid(f"The {label} is longer than {max_length} characters.", field=field)
    return value
