"""A page's seat chart (docs/rules.md rule 35): the period asked for in ``?range=``, the points and the SVG.

The site, client and partner pages show the same chart of their own scope;
this is the one place that reads the period, the history and the links to
the other periods.
"""
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

from flask import request
from markupsafe import Markup

from portal import clock
from portal.domain import usage
from portal.i18n import _l
from portal.i18n import gettext as _
from portal.i18n import ngettext
from portal.web.charts import UsagePoint, usage_chart, usage_rows

# (key in ?range=, days shown, label of its link)
RANGES = (("30d", 30, _l("30 days")), ("90d", 90, _l("90 days")), ("12m", 365, _l("12 months")))
DEFAULT_RANGE = "90d"


@dataclass(frozen=True)
class Trend:
    svg: Markup
    points: list[UsagePoint]
    caption: str
    range_links: list[tuple[str, str, bool]]
    rows: Markup  # the table behind the chart (charts.usage_rows)


def chosen_range() -> tuple[str, int]:
    """The period of ``?range=``; an unknown one reads as the default (a link typed by hand, not an error)."""
    key = request.args.get("range", DEFAULT_RANGE)
    days = {each: number for each, number, _label in RANGES}
    return (key, days[key]) if key in days else (DEFAULT_RANGE, days[DEFAULT_RANGE])


def seat_trend(scope: usage.Scope, *, name: str, chart_id: str, current: tuple[int, int] | None = None) -> Trend:
    """The chart of ``scope``'s seats (summed over the types) over the chosen period, ending today; ``current``:
    its (allocated, consumed) now, when the page has read them already (``usage.daily_totals``)."""
    key, days = chosen_range()
    today = clock.today()
    start, end = usage.day_range(today - timedelta(days=days - 1), today, today=today)
    points = usage.daily_totals(scope, start, end, today=today, current=current)  # (day, allocated, consumed)
    caption = (_("Seats allocated and consumed over the last 12 months") if key == "12m" else
               ngettext("Seats allocated and consumed over the last %(num)d day",
                        "Seats allocated and consumed over the last %(num)d days", days))
    svg = usage_chart(points, title=f"{caption} — {name}", chart_id=chart_id,
                      allocated_label=_("Allocated"), consumed_label=_("Consumed"))
    return Trend(svg, points, caption, _range_links(key), usage_rows(points))


def _range_links(current: str) -> list[tuple[str, str, bool]]:
    """A link per period to this same page (its other query arguments kept), back at the chart.

    Built from the request's path: blueprints take ids out of the view arguments (``g.client``), so
    ``url_for(request.endpoint, ...)`` could not rebuild the page's address.
    """
    arguments = request.args.to_dict()
    return [(str(label), f"{request.path}?{urlencode({**arguments, 'range': key})}#usage", key == current)
            for key, _days, label in RANGES]
