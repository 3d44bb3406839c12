"""Password strength (docs/rules.md rule 40): at least 12 characters, not common, not the e-mail."""
import pytest

from portal.domain import validation
from portal.domain.errors import Invalid

EMAIL = "jean.dupont@acme.example"


@pytest.mark.parametrize(("password", "rule"), [
    # The attack: these were accepted.
    ("aaaaaaaaaaaa", "too common or too easy to guess"),
    ("1234567890", "at least 12 characters"),
    ("123456789012", "too common or too easy to guess"),
    (EMAIL, "e-mail address"),
    # Near misses.
    ("Jean.Dupont@Acme.Example", "e-mail address"),
    (EMAIL + "2024", "e-mail address"),
    ("jeandupontacmeexample", "e-mail address"),
    ("jeandupont1970", "too common or too easy to guess"),
    ("passwordpassword", "too common or too easy to guess"),
    ("qwertyuiop12", "too common or too easy to guess"),
    ("iloveyou2024!", "too common or too easy to guess"),
    ("short", "at least 12 characters"),
    ("x" * 1001, "at most 1,000 characters"),
    (None, "at least 12 characters"),
    (12345678901234, "at least 12 characters"),
])
def test_weak_passwords_are_refused_naming_the_rule(password, rule):
    with pytest.raises(Invalid) as refused:
        validation.password(password, "new_password", email=EMAIL, name="Jean Dupont")
    assert rule in refused.value.message
    assert refused.value.field == "new_password"


@pytest.mark.parametrize("password", ["correct horse battery staple", "a long password", "Tr0ub4dor&3-river",
                                      "x7#Kq9!mZ2@w" + "é" * 988])
def test_strong_passwords_are_accepted(password):
    assert validation.password(password, email=EMAIL, name="Jean Dupont") == password


def test_without_an_email_only_length_and_strength_count():
    assert validation.password("correct horse battery") == "correct horse battery"
