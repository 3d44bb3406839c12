"""Template helpers: the usage bar and the row links of long lists."""
import pytest
from flask import url_for

from portal.web.filters import id_url, usage


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
