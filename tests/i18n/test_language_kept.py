"""The page's language is looked up once per request and kept (portal.i18n): what is kept must follow every
change of language — an e-mail written in its reader's language inside a page, the account's new choice."""
from flask import render_template_string

from portal.i18n import force_locale, format_money, gettext, ngettext, page_language, refresh_language


def test_a_block_in_another_language_then_the_page_language_again(app):
    with app.test_request_context("/", headers={"Accept-Language": "fr"}):
        assert (gettext("Insight"), page_language(), format_money(150000)) == ("Analyses", "fr", "1\u202f500,00\xa0€")
        with force_locale("pl"):
            assert (gettext("Insight"), page_language()) == ("Analizy", "pl")
            assert ngettext("%(num)d day", "%(num)d days", 5) == "5 dni"
            assert render_template_string("{{ _('Insight') }}") == "Analizy"
        assert (gettext("Insight"), page_language()) == ("Analyses", "fr")
        assert render_template_string("{{ _('Insight') }} {{ ngettext('%(num)d day', '%(num)d days', 2) }}") == \
            "Analyses 2 jours"


def test_a_new_choice_is_read_after_refresh(app, monkeypatch):
    chosen = {"language": "fr"}
    monkeypatch.setattr(app.extensions["babel"], "locale_selector", lambda: chosen["language"])
    with app.test_request_context("/"):
        assert gettext("Insight") == "Analyses"
        chosen["language"] = "pl"
        assert gettext("Insight") == "Analyses"  # kept for the request…
        refresh_language()
        assert (gettext("Insight"), page_language()) == ("Analizy", "pl")  # …until told it changed


def test_outside_a_request_words_are_english(app):
    assert (gettext("Insight"), page_language()) == ("Insight", "en")
