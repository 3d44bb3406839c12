"""Shape checks shared by forms, the API and the CLI, raising ``Invalid``."""
import re

from zxcvbn import zxcvbn

from portal.domain.errors import Invalid

# Seats per site and type; far above any real clinic, far below integer overflow.
MAX_SEATS = 100_000
# One address, no display name, no header tricks; the API's JSON schema uses the same pattern.
EMAIL_PATTERN = (r'^[^@\s\x00-\x1f\x7f<>,;:"]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?'
                 r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")
_EMAIL = re.compile(EMAIL_PATTERN)
# Every character a name may not hold (docs/rules.md rule 41b): Unicode Cc (U+0000-U+001F with
# TAB, U+007F-U+009F with NEL U+0085), Zl (U+2028) and Zp (U+2029). The email package treats
# the last three as line breaks and refuses them in a header. Written so that Python's re and
# the API's JSON Schema engine (pydantic's Rust regex, see NO_CONTROL) read it alike.
CONTROL_CHARACTERS = r"\x00-\x1f\x7f-\x9f\u2028\u2029"
_CONTROL = re.compile(f"[{CONTROL_CHARACTERS}]")


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


PASSWORD_MIN_LENGTH = 12
# zxcvbn's scores run 0-4; 3 is "safely unguessable" (about 10^8 guesses or more).
PASSWORD_MIN_SCORE = 3
# zxcvbn's cost grows with the length; the first 100 characters tell enough.
_PASSWORD_SCORED_LENGTH = 100


def password(value, field: str = "password", *, email: str | None = None, name: str | None = None) -> str:
    """A password its owner may choose (docs/rules.md rule 40), else ``Invalid`` naming the rule broken.

    At least 12 characters and at most 1,000 (argon2 would happily hash
    megabytes); never the e-mail address nor containing it; and not common or
    easy to guess as judged by zxcvbn (Dropbox's strength estimator: common
    passwords, words, names, keyboard patterns, repeats, sequences, dates),
    which is also told the e-mail and the name so it recognises them inside
    the password.
    """
    if not isinstance(value, str) or len(value) < PASSWORD_MIN_LENGTH:
        raise Invalid(f"Choose a password of at least {PASSWORD_MIN_LENGTH} characters.", field=field)
    if len(value) > 1000:
        raise Invalid("Choose a password of at most 1,000 characters.", field=field)
    email = (email or "").strip().lower()
    if email and _letters_and_digits(email) in _letters_and_digits(value):  # "admin@acme.example!", "adminacmeexample"
        raise Invalid("Your password cannot be or contain your e-mail address. Choose another one.", field=field)
    name = (name or "").strip().lower()
    local = email.partition("@")[0]
    hints = [hint for hint in dict.fromkeys((email, local, _letters_and_digits(local), *re.split(r"[@.+_-]", email),
                                             name, _letters_and_digits(name), *name.split())) if len(hint) > 2]
    if zxcvbn(value[:_PASSWORD_SCORED_LENGTH], user_inputs=hints,
              max_length=_PASSWORD_SCORED_LENGTH)["score"] < PASSWORD_MIN_SCORE:
        raise Invalid("This password is too common or too easy to guess (a known password, a word, your "
                      "name, a pattern such as “aaaa” or “1234”). Choose a longer one, for example a few "
                      "unrelated words.", field=field)
    return value


def _letters_and_digits(text: str) -> str:
    return "".join(character for character in text.lower() if character.isalnum())


def matching(value, pattern: re.Pattern, field: str, message: str) -> str:
    """Text that matches ``pattern`` entirely once stripped (a code, a currency, a prefix), else ``Invalid``."""
    text = value.strip() if isinstance(value, str) else ""
    if not pattern.fullmatch(text):
        raise Invalid(message, field=field)
    return text
