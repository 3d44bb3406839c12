"""The language the portal speaks (docs/rules.md rule 37): the account's choice, else the browser's, else English.

Fixed names: on /account a ``<select name="language">`` with the options "" (follow
the browser), ``en``, ``fr`` and ``pl``, posted to ``POST /account/language``.
The catalogues may still be empty: these tests check the page's language, its money
and its days, not its words; a bracketing catalogue proves what goes through it.
"""
from decimal import Decimal

import flask_babel
import pytest
from babel.dates import format_date
from babel.numbers import format_currency
from sqlalchemy import select, update

from portal.domain.accounts import preferences
from portal.domain.demo import DEMO_PASSWORD
from portal.domain.errors import Invalid
from portal.domain.seats import allocations
from portal.extensions import db
from portal.models import ApiToken, AuditEvent, User
from tests.helpers import audit_events, parse_html, reloaded
from tests.i18n.test_screens import _Pseudo

ALICE = "admin@acme.example"


def choose(browser, language):
    return browser.post("/account/language", data={"language": language})


def lang_of(response) -> str:
    return parse_html(response.get_data(as_text=True)).find("html").attrs["lang"]


def language_options(response) -> list[tuple[str, str, bool]]:
    field = parse_html(response.get_data(as_text=True)).find("select", name="language")
    return [(option.attrs["value"], option.text, "selected" in option.attrs) for option in field.find_all("option")]


def test_the_account_page_offers_follow_my_browser_and_each_language_in_its_own_words(demo, login_as):
    page = login_as(ALICE).get("/account")

    assert language_options(page) == [("", "Follow my browser", True), ("en", "English", False),
                                      ("fr", "Français", False), ("pl", "Polski", False)]
    form = parse_html(page.get_data(as_text=True)).find("select", name="language").parent
    while form.tag != "form":
        form = form.parent
    assert form.attrs["action"] == "/account/language" and form.attrs["method"] == "post"


def test_choosing_french_makes_the_account_page_french_with_french_days(demo, login_as):
    alice = login_as(ALICE)
    alice.post("/account/tokens", data={"name": "Reports"})

    response = choose(alice, "fr")

    assert response.status_code == 303 and response.headers["Location"].endswith("/account#language")
    assert reloaded(demo.user(ALICE)).language == "fr"
    page = alice.get("/account")
    assert lang_of(page) == "fr"
    assert ("fr", "Français", True) in language_options(page)
    token = db.session.scalar(select(ApiToken))
    row = parse_html(page.get_data(as_text=True)).by_id(f"token-{token.id}")
    assert format_date(token.created_at.date(), "medium", locale="fr") in row.text  # "1 déc. 2026"
    # Whatever the browser says: the account's choice comes first.
    assert lang_of(alice.get("/account", headers={"Accept-Language": "pl"})) == "fr"


def test_money_follows_the_chosen_language(demo, login_as):
    allocations.set_allocation(demo.user("finance@northwind.example"), demo.lyon, demo.type("essentials"), 7)
    db.session.rollback()
    invoice = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "invoice.issued"))
    total = Decimal(invoice.after["total"]).scaleb(-2)
    alice = login_as(ALICE)

    english = alice.get("/audit").get_data(as_text=True)
    choose(alice, "fr")
    french = alice.get("/audit").get_data(as_text=True)

    assert format_currency(total, "EUR", locale="en") in english  # "€30.00"
    assert format_currency(total, "EUR", locale="fr") in french  # "30,00 €", a non-breaking space before €
    assert format_currency(total, "EUR", locale="en") not in french


def test_follow_my_browser_goes_back_to_accept_language(demo, login_as):
    alice = login_as(ALICE)
    choose(alice, "fr")

    response = choose(alice, "")

    assert response.status_code == 303
    assert reloaded(demo.user(ALICE)).language is None
    assert lang_of(alice.get("/account", headers={"Accept-Language": "pl,en;q=0.5"})) == "pl"
    assert lang_of(alice.get("/account")) == "en"
    assert language_options(alice.get("/account"))[0] == ("", "Follow my browser", True)


@pytest.mark.parametrize("value", ["de", "FR", "fr-FR", " fr", "x" * 300])
def test_an_unknown_language_is_refused_and_changes_nothing(value, demo, login_as):
    alice = login_as(ALICE)
    choose(alice, "fr")
    events = audit_events("user.language_changed")

    response = choose(alice, value)

    assert response.status_code == 422
    page = parse_html(response.get_data(as_text=True))
    field = page.find("select", name="language")
    assert field.attrs.get("aria-invalid") == "true"
    # Said in the language chosen before (French), under the field.
    assert page.by_id(field.attrs["aria-describedby"]).text == "Choisissez une langue dans la liste."
    assert ("fr", "Français", True) in language_options(response)  # the stored choice, still selected
    assert reloaded(demo.user(ALICE)).language == "fr"
    assert audit_events("user.language_changed") == events


def test_a_post_without_the_field_is_refused_rather_than_read_as_follow_my_browser(demo, login_as):
    alice = login_as(ALICE)
    choose(alice, "pl")

    response = alice.post("/account/language", data={})

    assert response.status_code == 422
    assert reloaded(demo.user(ALICE)).language == "pl"


def test_an_unknown_language_is_the_services_refusal_too(demo):
    alice = demo.user(ALICE)

    with pytest.raises(Invalid) as refused:
        preferences.set_language(alice, "de")

    assert refused.value.field == "language"
    assert reloaded(alice).language is None


def test_a_change_is_audited_once_and_reads_as_a_sentence(demo, login_as):
    alice = login_as(ALICE)

    choose(alice, "pl")
    choose(alice, "pl")  # the same choice again: nothing changed, nothing recorded

    db.session.rollback()
    (event,) = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "user.language_changed"))
    assert (event.before, event.after) == ({"language": None}, {"language": "pl"})
    assert event.actor_email == ALICE and event.target_id == demo.user(ALICE).id
    choose(alice, "en")
    page = parse_html(alice.get("/audit?action=user.language_changed").get_data(as_text=True))
    assert page.by_id(f"event-{event.id}").find("span", class_="sentence").text == (
        "Alice Acme chose Polski as the language of the portal")


def test_without_a_choice_the_browser_decides(demo, login_as, client):
    assert lang_of(client.get("/login", headers={"Accept-Language": "pl"})) == "pl"
    assert lang_of(client.get("/login", headers={"Accept-Language": "de, fr;q=0.8"})) == "fr"
    assert lang_of(client.get("/login", headers={"Accept-Language": "de"})) == "en"
    assert lang_of(client.get("/login")) == "en"
    assert lang_of(login_as(ALICE).get("/account", headers={"Accept-Language": "pl"})) == "pl"


def test_changing_the_language_needs_the_csrf_token(demo, csrf_app):
    browser = csrf_app.test_client()
    page = browser.get("/login").get_data(as_text=True)
    token = parse_html(page).find("input", name="csrf_token").attrs["value"]
    browser.post("/login", data={"email": ALICE, "password": DEMO_PASSWORD, "csrf_token": token})

    refused = browser.post("/account/language", data={"language": "fr"})
    account = browser.get("/account").get_data(as_text=True)
    form_token = parse_html(account).find("form", action="/account/language").find("input", name="csrf_token")
    accepted = browser.post("/account/language", data={"language": "fr", "csrf_token": form_token.attrs["value"]})

    assert refused.status_code == 400 and accepted.status_code == 303
    assert reloaded(db.session.scalar(select(User).where(User.email == ALICE))).language == "fr"


# A catalogue that brackets every word: ⟦Account⟧ (the every-screen check's pseudo-language).
_Bracketing = _Pseudo


@pytest.fixture
def bracketing(monkeypatch):
    real = flask_babel.Domain.get_translations

    def translations(self):
        locale = flask_babel.get_locale()
        return real(self) if locale is None or str(locale) == "en" else _Bracketing()

    monkeypatch.setattr(flask_babel.Domain, "get_translations", translations)


def test_the_api_stays_english_whatever_the_browser_or_the_account_says(demo, api_as, login_as, bracketing):
    db.session.execute(update(User).where(User.email == "finance@northwind.example").values(language="fr"))
    db.session.commit()
    finance = api_as("nw_finance")
    path = f"/api/v1/sites/{demo.lyon.id}/allocations/essentials"

    french_page = login_as("finance@northwind.example").get("/account", headers={"Accept-Language": "fr"})
    plain = finance.put(path, json={"allocated": 0})
    asked_in_french = finance.put(path, json={"allocated": 0}, headers={"Accept-Language": "fr"})

    assert "⟦" in french_page.get_data(as_text=True)  # the screens do go through the French catalogue
    assert asked_in_french.status_code == plain.status_code == 409
    assert asked_in_french.get_json() == plain.get_json()
    assert "⟦" not in asked_in_french.get_data(as_text=True)
