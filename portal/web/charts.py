"""Allocated against consumed seats over time, drawn on the server as inline SVG (docs/rules.md rule 35).

Why pygal: rule 35 asks for a kept charting library rather than hand-written
geometry. pygal is pure Python, writes SVG through the standard library's
ElementTree and lays out the axes, ticks and legend itself; this module only
chooses what to draw and how it is painted.

Why no JavaScript (and no ``<style>``): the chart must read without JavaScript
and on paper, and the Content-Security-Policy (portal/__init__.py) allows
neither inline script nor inline style. pygal writes both (its tooltips and its
CSS), so they are taken out of its tree and the paint is put back as
presentation attributes (``fill=``, ``stroke=``…), which the policy allows, as
for segno's QR code. The exact numbers are the table under the chart
(templates/_macros/charts.html), for screen readers and for anyone who wants them.
"""
import functools
import math
import sys
from collections.abc import Iterator, Sequence
from datetime import date
from itertools import count
from typing import NamedTuple
from xml.etree import ElementTree

import pygal
from babel.dates import format_skeleton
from babel.numbers import format_decimal
from markupsafe import Markup
from pygal.style import Style

from portal.i18n import format_day_in, page_language

# pygal puts a finder for its map plugins (pygal.maps.*, unused here) on sys.meta_path; it only has the
# find_module() that Python 3.4 deprecated, so every later import warns (ImportWarning), and pytest turns
# that warning into an error. Take it off again.
sys.meta_path[:] = [finder for finder in sys.meta_path if not isinstance(finder, pygal.PluginImportFixer)]

__all__ = ["UsagePoint", "usage_chart"]

ALLOCATED_COLOUR, CONSUMED_COLOUR = "#1f4e79", "#c05621"  # 8.7:1 and 4.6:1 on white
_TEXT, _MUTED, _LINE = "#1d2330", "#5b6474", "#d9dee7"  # portal.css --fg, --muted, --line
_STYLE = Style(background="transparent", plot_background="transparent", colors=(ALLOCATED_COLOUR, CONSUMED_COLOUR),
               font_family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
               label_font_size=12, major_label_font_size=12, legend_font_size=13)
_WIDTH, _HEIGHT = 800, 300  # the viewBox; the page scales it to its column
MAX_X_LABELS = 8
_LONG_SPAN_DAYS = 180  # beyond this the x labels name months ("Dec 2026") rather than days ("Dec 1")
_DROPPED_GROUPS = {"overlay", "text-overlay", "tooltip-overlay", "titles"}  # empty without pygal's script


class UsagePoint(NamedTuple):
    """A day's seats, as at the end of that UTC day (docs/rules.md rule 34).

    A named tuple, not a dataclass: a year of points is the key of the drawings kept per process, hashed
    and compared on every chart page, which tuples do in C (a dataclass's were 730 Python calls a page).
    The functions here take plain ``(day, allocated, consumed)`` tuples as well (equal, same hash): a page
    passes usage.daily_totals' as they come, as making 365 named tuples cost 0.15 ms."""
    day: date
    allocated: int
    consumed: int


def usage_chart(points: Sequence[UsagePoint], *, title: str, chart_id: str = "usage-chart",
                allocated_label: str, consumed_label: str) -> Markup:
    """The chart of ``points`` (oldest first) as an ``<svg>`` to put in the page; "" when there are none.

    ``title`` is the chart's accessible name (``<title id="<chart_id>-title">``); ``chart_id``
    must be unique in the page. Days and numbers are written in the page's language.
    """
    if not points:
        return Markup("")
    return _drawn(tuple(points), title, chart_id, allocated_label, consumed_label, page_language())


def usage_rows(points: Sequence[UsagePoint]) -> Markup:
    """The rows of the table behind the chart (a day, allocated, consumed each), in the page's language.

    Kept per process like the drawing: a 12-month table is 365 rows, and writing them through the
    template cost about a quarter of the partner page's time.
    """
    return _rows(tuple(points), page_language())


@functools.lru_cache(maxsize=256)
def _rows(points: tuple[UsagePoint, ...], locale: str) -> Markup:
    row = Markup('<tr><th scope="row"><time datetime="{}">{}</time></th>'
                 '<td class="num">{}</td><td class="num">{}</td></tr>\n')
    return Markup("").join(row.format(day.isoformat(), format_day_in(day, locale), allocated, consumed)
                           for day, allocated, consumed in points)


@functools.lru_cache(maxsize=256)
def _drawn(points: tuple[UsagePoint, ...], title: str, chart_id: str, allocated_label: str, consumed_label: str,
           locale: str) -> Markup:
    """The SVG of exactly these points, words and language, drawn once per process while it is asked for.

    Drawing is most of a chart page's time (pygal lays out every point), and a page reloaded while
    its seats did not move asks for the same SVG: the points are the key, so any change draws anew.
    """
    days, allocated, consumed = zip(*points)
    labels = x_labels(days, locale)
    ticks = y_ticks(max(max(allocated), max(consumed)))
    chart = pygal.Line(
        style=_STYLE, width=_WIDTH, height=_HEIGHT, js=[], disable_xml_declaration=True, no_prefix=True,
        show_dots=False, legend_at_bottom=True, legend_at_bottom_columns=2, truncate_legend=-1, truncate_label=-1,
        x_labels=labels, x_labels_major=[label for label in labels if label], show_minor_x_labels=False,
        y_labels=ticks, range=(0, ticks[-1]), value_formatter=lambda value: format_decimal(value, locale=locale))
    chart.add(allocated_label, list(allocated))
    chart.add(consumed_label, list(consumed), fill=True)
    return Markup(_finish(chart.render_tree(), title, chart_id))


def x_labels(days: Sequence[date], locale) -> list[str]:
    """One label per day, blank but for at most MAX_X_LABELS: days evenly spread, first and last included
    ("Dec 1", "1 déc."), or over a long span the first days of every month or every few months ("déc. 2026")."""
    if (days[-1] - days[0]).days > _LONG_SPAN_DAYS:
        starts = [i for i, day in enumerate(days) if day.day == 1]
        picked = set(starts[::math.ceil(len(starts) / MAX_X_LABELS)])
        return [format_skeleton("yMMM", day, locale=locale) if i in picked else "" for i, day in enumerate(days)]
    shown = min(len(days), MAX_X_LABELS)
    picked = {round(i * (len(days) - 1) / (shown - 1)) for i in range(shown)} if shown > 1 else {0}
    return [format_skeleton("MMMd", day, locale=locale) if i in picked else "" for i, day in enumerate(days)]


def y_ticks(top: int) -> list[int]:
    """Whole-number ticks from 0 to at least ``top``, every 1, 2 or 5 × 10ⁿ, at most six steps."""
    step = next(step for step in _round_steps() if math.ceil(max(top, 1) / step) <= 6)
    return list(range(0, step * math.ceil(max(top, 1) / step) + 1, step))


def _round_steps() -> Iterator[int]:
    for power in count():
        for digit in (1, 2, 5):
            yield digit * 10 ** power


def _finish(root: ElementTree.Element, title: str, chart_id: str) -> str:
    """pygal's tree without script, style or tooltips, painted, named for assistive technology."""
    _strip(root)
    _paint(root)
    root.set("id", chart_id)
    root.set("width", "100%")
    root.set("role", "img")
    root.set("aria-labelledby", f"{chart_id}-title")
    name = root.find("title")
    name.set("id", f"{chart_id}-title")
    name.text = title
    return ElementTree.tostring(root, encoding="unicode")


def _strip(root: ElementTree.Element) -> None:
    """Drop what only pygal's script uses or the CSP refuses: <defs> (style, script), comments, tooltip data
    (<desc>, overlays, <title> per tick) and the legend's ids (two charts in a page would repeat them)."""
    for parent in list(root.iter()):
        for child in list(parent):
            if (child.tag in ("defs", "desc", ElementTree.Comment) or (child.tag == "title" and parent is not root)
                    or _classes(child) & _DROPPED_GROUPS):
                parent.remove(child)
        parent.attrib.pop("style", None)
        if "legend" in _classes(parent):
            parent.attrib.pop("id", None)


def _paint(root: ElementTree.Element) -> None:
    """What pygal's stylesheet gave each part, as presentation attributes."""
    root.set("font-family", _STYLE.font_family)
    root.set("font-size", str(_STYLE.label_font_size))
    for node in root.iter():
        classes = _classes(node)
        if node.tag == "rect" and "background" in classes:
            node.set("fill", "none")
        elif node.tag == "g" and "axis" in classes:
            _paint_axis(node, "middle" if "x" in classes else "end")
        elif node.tag == "g" and "series" in classes:
            _paint_series(node, _colour(classes))
        elif node.tag == "g" and "legends" in classes:
            node.set("fill", _TEXT)
            node.set("font-size", str(_STYLE.legend_font_size))
            for box in node.iter("rect"):
                box.set("fill", _colour(_classes(box)))


def _paint_axis(axis: ElementTree.Element, anchor: str) -> None:
    axis.set("fill", _MUTED)
    axis.set("text-anchor", anchor)
    for line in axis.iter("path"):
        line.set("fill", "none")
        line.set("stroke", _LINE if "guide" in _classes(line) else _MUTED)


def _paint_series(series: ElementTree.Element, colour: str) -> None:
    for line in series.iter("path"):
        line.set("stroke", colour)
        line.set("stroke-width", "2")
        line.set("stroke-linejoin", "round")
        line.set("fill", "none" if "nofill" in _classes(line) else colour)
        if "nofill" not in _classes(line):
            line.set("fill-opacity", "0.25")


def _colour(classes: set[str]) -> str:
    """The colour of pygal's ``color-N`` class."""
    index = next(int(name.removeprefix("color-")) for name in classes if name.startswith("color-"))
    return _STYLE.colors[index % len(_STYLE.colors)]


def _classes(node: ElementTree.Element) -> set[str]:
    return set(node.get("class", "").split())
