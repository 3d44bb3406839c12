"""Shape checks shared by forms, the API and the CLI, raising ``Invalid``."""
import re

from babel.numbers import format_decimal
from flask_babel import get_locale
from zxcvbn import zxcvbn

from portal.domain.errors import Invalid
from portal.i18n import _l, ngettext
from portal.i18n import gettext as _

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
# A note of several lines (a seat request's note, a decline's reason): line feeds allowed, nothing else.
TEXT_CONTROL_CHARACTERS = r"\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029"
_TEXT_CONTROL = re.compile(f"[{TEXT_CONTROL_CHARACTERS}]")


def whole_number(value, field: str, *, label: str, maximum: int) -> int:
    """A whole number from 0 to ``maximum``, given as an int or its decimal text.

    Booleans, floats, exponents and non-ASCII digits are refused. ``label`` names the
    value inside the refusal ("number of seats"): pass it translatable (``_l("…")``).
    """
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,30}", value.strip()):
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(_("Enter the %(label)s as a whole number.", label=label), field=field)
    if value < 0:
        raise Invalid(_("The %(label)s cannot be negative.", label=label), field=field)
    if value > maximum:
        raise Invalid(_("The %(label)s is at most %(maximum)s.", label=label, maximum=_number(maximum)),
                      field=field)
    return value


def seat_count(value, field: str = "allocated") -> int:
    """A whole number of seats between 0 and MAX_SEATS."""
    return whole_number(value, field, label=_l("number of seats"), maximum=MAX_SEATS)


def email(value, field: str = "email") -> str:
    """A plausible single e-mail address, lower-cased; no header tricks."""
    if not isinstance(value, str) or not value.strip():
        raise Invalid(_("Enter an e-mail address."), field=field)
    value = value.strip().lower()
    if len(value) > 254 or not _EMAIL.match(value):
        raise Invalid(_("Enter a valid e-mail address, such as name@example.com."), field=field)
    return value


def text(value, field: str, *, label: str, max_length: int = 200, lines: bool = False) -> str:
    """A required single-line text without control characters; ``label`` as for ``whole_number``.

    ``lines``: several lines are allowed (line feeds; a browser's CRLF becomes LF), no other control character.
    """
    if not isinstance(value, str) or not value.strip():
        raise Invalid(_("Enter a %(label)s.", label=label), field=field)
    value = value.strip()
    if lines:
        value = value.replace("\r\n", "\n")
    if (_TEXT_CONTROL if lines else _CONTROL).search(value):
        raise Invalid(_("The %(label)s cannot contain control characters or line breaks.", label=label),
                      field=field)
    if len(value) > max_length:
        raise Invalid(ngettext("The %(label)s is longer than %(num)d character.",
                               "The %(label)s is longer than %(num)d characters.", max_length, label=label),
                      field=field)
    return value


PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 1000
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
        raise Invalid(ngettext("Choose a password of at least %(num)d character.",
                               "Choose a password of at least %(num)d characters.", PASSWORD_MIN_LENGTH),
                      field=field)
    if len(value) > PASSWORD_MAX_LENGTH:
        raise Invalid(_("Choose a password of at most %(maximum)s characters.",
                        maximum=_number(PASSWORD_MAX_LENGTH)), field=field)
    email = (email or "").strip().lower()
    if email and _letters_and_digits(email) in _letters_and_digits(value):  # "admin@acme.example!", "adminacmeexample"
        raise Invalid(_("Your password cannot be or contain your e-mail address. Choose another one."), field=field)
    name = (name or "").strip().lower()
    local = email.partition("@")[0]
    hints = [hint for hint in dict.fromkeys((email, local, _letters_and_digits(local), *re.split(r"[@.+_-]", email),
                                             name, _letters_and_digits(name), *name.split())) if len(hint) > 2]
    if zxcvbn(value[:_PASSWORD_SCORED_LENGTH], user_inputs=hints,
              max_length=_PASSWORD_SCORED_LENGTH)["score"] < PASSWORD_MIN_SCORE:
        raise Invalid(_("This password is too common or too easy to guess (a known password, a word, your "
                        "name, a pattern such as “aaaa” or “1234”). Choose a longer one, for example a few "
                        "unrelated words."), field=field)
    return value


def _number(value: int) -> str:
    """A number as people read it in the language in force: "100,000", "100 000" (English outside a request)."""
    return format_decimal(value, locale=get_locale() or "en")


def _letters_and_digits(text: str) -> str:
    return "".join(character for character in text.lower() if character.isalnum())


def matching(value, pattern: re.Pattern, field: str, message: str) -> str:
    """Text that matches ``pattern`` entirely once stripped (a code, a currency, a prefix), else ``Invalid``.

    ``message`` is read when refused: a translatable constant (``_l("…")``) is read in the request's language.
    """
    text = value.strip() if isinstance(value, str) else ""
    if not pattern.fullmatch(text):
        raise Invalid(message, field=field)
    return text
