"""Seat charts (docs/rules.md rule 35): inline SVG that reads without JavaScript, in print and with a screen reader.

The page's Content-Security-Policy refuses inline script and inline style, so the chart
must carry neither and still be painted; the numbers behind it are a table.
"""
import re
from contextlib import contextmanager
from datetime import date, timedelta
from xml.etree import ElementTree

import pytest
from flask import current_app, render_template_string
from markupsafe import Markup

from portal.i18n import refresh_language
from portal.web.charts import ALLOCATED_COLOUR, CONSUMED_COLOUR, MAX_X_LABELS, UsagePoint, usage_chart, usage_rows, y_ticks
from tests.helpers import parse_html

SVG = "{http://www.w3.org/2000/svg}"


def days(count, start=date(2026, 12, 3), allocated=40, consumed=25):
    return [UsagePoint(start + timedelta(days=i), allocated + i // 30, consumed + i % 7) for i in range(count)]


def chart(points, language="en", **kwargs):
    kwargs = {"title": "Seats at Lyon", "allocated_label": "Allocated", "consumed_label": "Consumed", **kwargs}
    with _page(language):
        return usage_chart(points, **kwargs)


@contextmanager
def _page(language):
    """A request in ``language``; the language of the app context's first request is kept (portal.i18n),
    and the tests' app context outlives it (portal/web/locale.py)."""
    with current_app.test_request_context("/clients/1", headers={"Accept-Language": language}):
        refresh_language()
        yield


def parsed(svg) -> ElementTree.Element:
    return ElementTree.fromstring(str(svg))


def classes(node) -> set[str]:
    return set(node.get("class", "").split())


def axis_labels(root, axis) -> list[str]:
    group = next(node for node in root.iter(f"{SVG}g") if {"axis", axis} <= classes(node))
    return [text.text for text in group.iter(f"{SVG}text")]


# --- the SVG --------------------------------------------------------------------------


def test_the_chart_is_an_svg_that_scales_to_its_column():
    root = parsed(chart(days(30)))

    assert root.tag == f"{SVG}svg"
    assert re.fullmatch(r"0 0 \d+ \d+", root.get("viewBox"))
    assert root.get("width") == "100%"
    assert root.get("height") is None


def test_the_chart_is_an_image_named_by_its_title():
    root = parsed(chart(days(30), title="Seats at Lyon & <Annecy>", chart_id="site-7-chart"))

    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "site-7-chart-title"
    named = [node for node in root.iter() if node.get("id") == "site-7-chart-title"]
    assert [(node.tag, node.text) for node in named] == [(f"{SVG}title", "Seats at Lyon & <Annecy>")]


def test_the_chart_has_no_script_no_style_and_nothing_to_fetch():
    """The CSP (portal/__init__.py) refuses inline script and style: what pygal writes of both is taken out."""
    svg = str(chart(days(90)))
    root = parsed(svg)

    assert not [node for node in root.iter() if node.tag in (f"{SVG}script", f"{SVG}style")]
    assert not [node for node in root.iter() if "style" in node.attrib]
    assert "<script" not in svg and "<style" not in svg and "href" not in svg
    assert set(re.findall(r"\S*https?:\S*", svg)) == {'xmlns="http://www.w3.org/2000/svg"'}


def test_the_chart_is_painted_without_a_stylesheet():
    """Every shape has its own fill (an unpainted SVG shape is solid black); the series have their colours."""
    root = parsed(chart(days(30)))

    shapes = [node for node in root.iter() if node.tag in (f"{SVG}path", f"{SVG}rect")]
    assert shapes and all(node.get("fill") for node in shapes)
    series = {tuple(sorted(classes(node) & {"serie-0", "serie-1"})): node
              for node in root.iter(f"{SVG}g") if "series" in classes(node)}
    allocated, consumed = series[("serie-0",)].find(f"{SVG}path"), series[("serie-1",)].find(f"{SVG}path")
    assert (allocated.get("stroke"), allocated.get("fill")) == (ALLOCATED_COLOUR, "none")
    assert (consumed.get("stroke"), consumed.get("fill")) == (CONSUMED_COLOUR, CONSUMED_COLOUR)


def test_the_legend_names_both_series_in_the_words_given():
    root = parsed(chart(days(30), allocated_label="Sièges attribués", consumed_label="Sièges utilisés"))

    legend = next(node for node in root.iter(f"{SVG}g") if "legends" in classes(node))
    assert [text.text for text in legend.iter(f"{SVG}text")] == ["Sièges attribués", "Sièges utilisés"]


def test_two_charts_in_a_page_repeat_no_id():
    ids = [node.get("id") for svg in (chart(days(30), chart_id="a"), chart(days(30), chart_id="b"))
           for node in parsed(svg).iter() if node.get("id")]

    assert sorted(ids) == ["a", "a-title", "b", "b-title"]


@pytest.mark.parametrize("count", [1, 2, 30, 90, 365, 400])
def test_the_x_axis_has_at_most_eight_labels(count):
    labels = axis_labels(parsed(chart(days(count))), "x")

    assert 1 <= len(labels) <= MAX_X_LABELS
    assert all(labels)


def test_a_short_period_labels_its_first_and_last_day():
    assert axis_labels(parsed(chart(days(30))), "x")[::7] == ["Dec 3", "Jan 1"]


def test_a_year_is_labelled_by_months_at_their_first_day():
    labels = axis_labels(parsed(chart(days(365))), "x")

    assert labels == ["Jan 2027", "Mar 2027", "May 2027", "Jul 2027", "Sep 2027", "Nov 2027"]  # twelve would not fit


@pytest.mark.parametrize(("language", "first", "year"), [
    ("fr", "3 déc.", "janv. 2026"), ("pl", "3 gru", "sty 2026"), ("en", "Dec 3", "Jan 2026")])
def test_days_are_written_in_the_language_of_the_page(language, first, year):
    start = date(2025, 12, 3)

    assert axis_labels(parsed(chart(days(30, start=start), language)), "x")[0] == first
    assert axis_labels(parsed(chart(days(365, start=start), language)), "x")[0] == year


def test_the_y_axis_starts_at_zero_with_whole_numbers_above_the_highest_value():
    points = days(30, allocated=1180, consumed=1000)

    labels = axis_labels(parsed(chart(points, "en")), "y")
    assert labels[0] == "0"
    values = [int(label.replace(",", "")) for label in labels]
    assert values == sorted(values) and values[-1] >= max(point.allocated for point in points)
    assert axis_labels(parsed(chart(points, "fr")), "y")[-1].replace("\u202f", " ") == "1 200"


@pytest.mark.parametrize(("top", "ticks"), [
    (0, [0, 1]), (1, [0, 1]), (3, [0, 1, 2, 3]), (7, [0, 2, 4, 6, 8]), (13, [0, 5, 10, 15]),
    (120, [0, 20, 40, 60, 80, 100, 120]), (1001, [0, 200, 400, 600, 800, 1000, 1200])])
def test_y_ticks_are_round_whole_numbers_from_zero(top, ticks):
    assert y_ticks(top) == ticks


def test_a_period_without_seats_draws_an_axis_from_zero():
    root = parsed(chart([UsagePoint(date(2026, 12, 3) + timedelta(days=i), 0, 0) for i in range(30)]))

    assert axis_labels(root, "y") == ["0", "1"]


def test_no_points_draw_nothing_so_the_page_shows_its_empty_state():
    drawn = chart([])

    assert drawn == "" and isinstance(drawn, Markup)


# --- the macro ------------------------------------------------------------------------

MACRO = ('{% from "_macros/charts.html" import usage_chart %}'
         '{{ usage_chart(svg, points, rows, caption, range_links) }}')


def render_macro(points, language="en", range_links=()):
    svg = chart(points, language)
    with _page(language):
        return parse_html(render_template_string(MACRO, svg=svg, points=points, rows=usage_rows(points),
                                                 caption="Seats at Lyon, last 30 days", range_links=range_links))


def test_the_figure_holds_the_chart_its_caption_and_the_numbers_behind_it():
    points = days(3, allocated=12, consumed=9)

    page = render_macro(points)

    figure = page.find("figure", class_="usage-chart")
    assert figure.find("figcaption").text == "Seats at Lyon, last 30 days"
    assert figure.find("svg", role="img") is not None  # the Markup is not escaped
    assert figure.find("details").find("summary").text == "Numbers behind the chart"
    table = figure.find("table")
    assert table.find("thead").find("tr").cells() == ["Day", "Allocated", "Consumed"]
    assert [row.cells() for row in table.find("tbody").find_all("tr")] == [
        ["Dec 3, 2026", "12", "9"], ["Dec 4, 2026", "12", "10"], ["Dec 5, 2026", "12", "11"]]
    assert table.find("time").attrs["datetime"] == "2026-12-03"


def test_the_table_is_in_the_language_of_the_page():
    page = render_macro(days(1, allocated=5, consumed=2), "fr")

    table = page.find("table")
    assert [row.cells() for row in table.find("tbody").find_all("tr")] == [["3 déc. 2026", "5", "2"]]


def test_the_period_links_mark_the_one_shown():
    links = [("30 days", "/clients/1?days=30", False), ("90 days", "/clients/1?days=90", True),
             ("12 months", "/clients/1?days=365", False)]

    nav = render_macro(days(3), range_links=links).find("nav", class_="chart-ranges")

    assert nav.attrs["aria-label"] == "Period shown"
    assert [(a.text, a.attrs["href"], a.attrs.get("aria-current")) for a in nav.find_all("a")] == [
        ("30 days", "/clients/1?days=30", None), ("90 days", "/clients/1?days=90", "true"),
        ("12 months", "/clients/1?days=365", None)]


def test_without_period_links_there_is_no_navigation():
    assert render_macro(days(3)).find("nav") is None


def test_no_history_shows_the_empty_state_instead_of_a_figure():
    page = render_macro([], range_links=[("30 days", "/clients/1?days=30", True)])

    assert page.find("figure") is None and page.find("table") is None
    assert page.find("p", class_="empty").text == "No seat history for this period yet."
    assert page.find("nav", class_="chart-ranges") is not None  # another period may have some


def test_a_chart_is_drawn_again_when_its_numbers_change():
    """Drawings are kept per process by their points: the same numbers give the same drawing, new ones a new one."""
    points = days(30)
    moved = points[:-1] + [UsagePoint(points[-1].day, points[-1].allocated + 7, points[-1].consumed)]

    first, again, changed = chart(points), chart(list(points)), chart(moved)

    assert again == first
    assert changed != first
    top = max(int(label) for label in axis_labels(parsed(changed), "y") if label.isdigit())
    assert top >= points[-1].allocated + 7
