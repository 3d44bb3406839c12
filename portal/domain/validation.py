"""Shape checks shared by forms, the API and the CLI, raising ``Invalid``."""
import re

from portal.domain.errors import Invalid

# Seats per site and type; far above any real clinic, far below integer overflow.
MAX_SEATS = 100_000
# One address, no display name, no header tricks; the API's JSON schema uses the same pattern.
EMAIL_PATTERN = (r'^[^@\s\x00-\x1f\x7f<>,;:"]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?'
                 r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")
_EMAIL = re.compile(EMAIL_PATTERN)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def whole_number(value, field: str, *, label: str, maximum: int) -> int:
    """A whole number from 0 to ``maximum``, given as an int or its decimal text.

    Booleans, floats, exponents and non-ASCII digits are refused.
    """
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,30}", value.strip()):
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"Enter the {label} as a whole number.", field=field)
    if value < 0:
        raise Invalid(f"The {label} cannot be negative.", field=field)
    if value > maximum:
        raise Invalid(f"The {label} is at most {maximum:,}.", field=field)
    return value


def seat_count(value, field: str = "allocated") -> int:
    """A whole number of seats between 0 and MAX_SEATS."""
    return whole_number(value, field, label="number of seats", maximum=MAX_SEATS)


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


def password(value, field: str = "password") -> str:
    """At least 10 characters, at most 1,000 (argon2 would happily hash megabytes)."""
    if not isinstance(value, str) or len(value) < 10:
        raise Invalid("Choose a password of at least 10 characters.", field=field)
    if len(value) > 1000:
        raise Invalid("Choose a password of at most 1,000 characters.", field=field)
    return value


def matching(value, pattern: re.Pattern, field: str, message: str) -> str:
    """Text that matches ``pattern`` entirely once stripped (a code, a currency, a prefix), else ``Invalid``."""
    text = value.strip() if isinstance(value, str) else ""
    if not pattern.fullmatch(text):
        raise Invalid(message, field=field)
    return text
