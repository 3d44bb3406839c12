"""Template helpers: the usage bar, the row links of long lists, moments and the page's language."""
from datetime import datetime, timedelta, timezone

import flask_babel
import pytest
from flask import url_for

from portal.web.filters import format_moment, id_url, page_language, usage


def test_the_usage_bar_shows_consumed_of_allocated():
    bar = usage(9, 12)

    assert 'max="12"' in bar and 'value="9"' in bar
    assert 'title="9 of 12 used"' in bar and ">9 / 12</meter>" in bar


def test_the_bar_turns_amber_at_80_and_red_at_95_percent_whatever_the_size():
    assert 'low="9.6" high="11.4"' in usage(0, 12)
    assert 'low="8000000.0" high="9500000.0"' in usage(0, 10_000_000)  # no 8e+06


def test_a_site_without_seats_draws_an_empty_bar_not_a_division_by_zero():
    bar = usage(0, 0)

    assert 'max="1"' in bar and 'value="0"' in bar and ">0 / 0</meter>" in bar


@pytest.mark.parametrize("script_root", ["", "/portal"])
def test_row_links_are_the_urls_url_for_builds(app, script_root):
    with app.test_request_context("/overview", base_url=f"http://localhost{script_root}"):
        client_url = id_url("clients.detail", "client_id")

        for client_id in (1, 7, 2_147_483_647):
            assert client_url(client_id) == url_for("clients.detail", client_id=client_id)
        assert client_url(7).startswith(f"{script_root}/clients/")


def test_row_links_refuse_an_argument_that_is_not_in_the_path(app):
    with app.test_request_context("/overview"), pytest.raises(ValueError, match="not a path segment"):
        id_url("partners.overview", "page")


@pytest.mark.parametrize(("language", "expected"), [
    ("en", "Dec 1, 2026, 09:30"), ("fr", "1 déc. 2026, 09:30"), ("pl", "1 gru 2026, 09:30")])
def test_a_moment_reads_in_the_language_of_the_page(app, language, expected):
    """docs/rules.md rule 37: the day as CLDR writes it for the language, the time in UTC on a 24-hour clock."""
    paris = timezone(timedelta(hours=1))
    with app.test_request_context("/account", headers={"Accept-Language": language}):
        assert page_language() == language
        assert format_moment(datetime(2026, 12, 1, 9, 30, 5, tzinfo=timezone.utc)) == expected
        assert format_moment(datetime(2026, 12, 1, 10, 30, 5, tzinfo=paris)) == expected  # read back in UTC
        assert format_moment(datetime(2026, 12, 1, 9, 30, 5)) == expected  # a naive timestamp is UTC
        assert format_moment(datetime(2026, 12, 1, 9, 30, 5, tzinfo=timezone.utc), seconds=True) == expected + ":05"
        assert format_moment(None) == "—"


def test_the_usage_bar_title_goes_through_the_catalogue_and_stays_an_attribute(app, monkeypatch):
    class Quoting:  # a translation with a quote in it must not end the attribute
        def ugettext(self, message):
            return f'"{message}"'

        gettext = ugettext

    monkeypatch.setattr(flask_babel.Domain, "get_translations", lambda self: Quoting())
    with app.test_request_context("/overview"):
        bar = usage(9, 12)

    assert 'title="&#34;9 of 12 used&#34;"' in bar


def test_a_change_of_money_says_which_way_it_went(app):
    from portal.i18n import format_signed_money, refresh_language

    with app.test_request_context("/"):
        assert [format_signed_money(amount) for amount in (1200, -1200, 0)] == ["+€12.00", "-€12.00", "€0.00"]
    with app.test_request_context("/", headers={"Accept-Language": "fr"}):
        refresh_language()  # as each request begins: these contexts share the test's app context
        assert format_signed_money(1200) == "+12,00\xa0€"
