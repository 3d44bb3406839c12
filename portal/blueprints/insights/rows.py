"""The rows of the insight page's three tables, written in Python.

As the usage bar (portal/web/filters.py): the page is mostly these rows, and each cell drawn through the
template (a helper called through the template context, an escape, a lookup) cost several times an f-string.
Every value that is not a number goes through ``escape``, as the template's autoescape would.
"""
from markupsafe import Markup, escape

from portal.i18n import format_money, format_signed_money, gettext, ngettext
from portal.web.labels import cycle_label, per_cycle


def idle_rows(rows, site_url) -> Markup:
    """``<tr>`` of each idle seat: client, site (a link to its seat row), type, idle seats, saving per period."""
    return Markup("".join(
        f'<tr id="idle-{int(row.site_id)}-{escape(row.subscription_type)}">{_place(row, site_url)}'
        f'<td class="num">{int(row.idle_seats)}</td>'
        f'<td class="num">{escape(format_money(row.saving_per_period, row.currency))} '
        f"{escape(per_cycle(row.cycle))}</td></tr>\n" for row in rows))


def running_out_rows(rows, site_url) -> Markup:
    """``<tr>`` of each site running out: client, site (a link to its seat row), type, free seats, days left."""
    return Markup("".join(
        f'<tr id="running-out-{int(row.site_id)}-{escape(row.subscription_type)}">{_place(row, site_url)}'
        f'<td class="num">{int(row.free)}</td>'
        f'<td class="num">{escape(_days_left(row.days_left))}</td></tr>\n' for row in rows))


def _place(row, site_url) -> str:
    """The cells of where a seat row is (both seat lists): client, site (a link to its seat row), type."""
    return (f"<td>{escape(row.client_name)}</td>"
            f'<th scope="row"><a href="{escape(site_url(row.client_id, row.site_id, row.subscription_type))}">'
            f"{escape(row.site_name)}</a></th>"
            f"<td>{escape(row.subscription_type_name)}</td>")


def revenue_rows(rows, client_url) -> Markup:
    """``<tr>`` of each client's recurring revenue: client (a link to it), cycle, MRR, change over 30 days."""
    return Markup("".join(
        f'<tr id="mrr-{int(row.client_id)}-{escape(row.currency.lower())}">'
        f'<th scope="row"><a href="{escape(client_url(row.client_id))}">{escape(row.client_name)}</a></th>'
        f"<td>{escape(cycle_label(row.billing_cycle))}</td>"
        f'<td class="num">{escape(format_money(row.mrr, row.currency))}</td>'
        f'<td class="num">{escape(format_signed_money(row.change_30d, row.currency))}</td></tr>\n'
        for row in rows))


def _days_left(days: int | None) -> str:
    if days == 0:
        return gettext("None left")
    if days is None:
        return "—"
    return ngettext("%(num)d day", "%(num)d days", days)
