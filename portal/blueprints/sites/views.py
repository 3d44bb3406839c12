import functools
import re

from flask import abort, flash, g, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import Integer, bindparam
from sqlalchemy.orm import joinedload

from portal.blueprints.sites import bp
from portal.domain.accounts import queries as people
from portal.domain.billing import invoices
from portal.domain.errors import DomainError
from portal.domain.seats import allocations, queries
from portal.domain.usage import Scope
from portal.extensions import db
from portal.i18n import gettext as _
from portal.i18n import format_money, ngettext
from portal.models import User
from portal.rbac import permissions
from portal.rbac.decorators import require
from portal.web.rendering import is_htmx, render
from portal.web.seat_trend import seat_trend

SITE_USERS_SHOWN = 100


def _seat_panel(errors=None, announce=None) -> dict:
    """The seat panel (``sites/_seat_panel.html``): one row per type, with − / + for finance.

    ``announce`` is what changed, for the page's live region ("Essentials at Lyon: 6 seats",
    docs/rules.md screen 15c); portal/static/portal.js moves it there after the swap.
    """
    site = g.site
    rows = queries.seat_rows(site)
    can_manage = permissions.manage_seats(site).can()
    # What one more seat of each type costs now (shown before finance presses +).
    quotes = invoices.quote_increases(g.client, [row.subscription_type for row in rows], 1) if can_manage else {}
    return dict(
        client=g.client, site=site, rows=rows, can_manage=can_manage, errors=errors or {}, announce=announce,
        quotes={row.subscription_type.code: quotes[row.subscription_type.id] for row in rows} if can_manage else {},
    )


@functools.cache
def _holders_statement():
    """The page's seat holders (``site_id``), built once: building it took half as long as running it.

    The same people as the API's site users: holds_seat() keeps a user deactivated in a trial.
    """
    return (people.seat_holders_query(bindparam("site_id", type_=Integer))
            .options(joinedload(User.subscription_type)).limit(SITE_USERS_SHOWN))


def _site_page(status: int = 200, errors=None, announce=None, billing_note=None):
    """For htmx, the seat panel alone; otherwise the whole page: the panel and the seat holders."""
    if is_htmx():
        return render("sites/_seat_panel.html", status, billing_note=billing_note, **_seat_panel(errors, announce))
    holders = db.session.scalars(_holders_statement(), {"site_id": g.site.id}).all()
    panel = _seat_panel(errors)
    seats = queries.seats_summed(panel["rows"])  # the chart ends at the panel's counts: not read twice
    trend = (seat_trend(Scope.site(g.site.id), name=g.site.name, chart_id="site-usage",
                        current=(seats.allocated, seats.consumed))
             if permissions.view_subscriptions(g.site).can() else None)
    return render("sites/detail.html", status, users=holders, trend=trend, **panel)


@bp.route("")
def detail():
    return _site_page()


def _requested_allocation() -> str | int:
    """The number typed in the field, moved by one when − or + was pressed."""
    value = request.form.get("allocated", "")
    step = request.form.get("step")
    if step in ("1", "-1") and re.fullmatch(r"-?[0-9]{1,9}", value.strip()):
        return int(value) + int(step)
    return value


def _billing_note(change) -> str | None:
    """What the change invoiced or credited (docs/rules.md rule 24): the increase can be undone for a full
    credit within 7 days; a lowering within them says what its credit note gave back."""
    if change.invoice is not None:
        return _("Invoice %(number)s issued: %(amount)s. Undo within 7 days for a full credit.",
                 number=change.invoice.number, amount=format_money(change.invoice.total, change.invoice.currency))
    notes = change.credit_notes
    if len(notes) == 1:
        return _("Credit note %(number)s issued: %(amount)s.", number=notes[0].number,
                 amount=format_money(notes[0].total, notes[0].currency))
    if notes:
        return ngettext("%(num)d credit note issued: %(amount)s in all.",
                        "%(num)d credit notes issued: %(amount)s in all.", len(notes),
                        amount=format_money(sum(note.total for note in notes), notes[0].currency))
    return None


@bp.route("/allocations/<code>", methods=["POST"])
def set_allocation(code):
    """Change the seats bought for one subscription type at this site."""
    require(permissions.manage_seats(g.site))
    subscription_type = queries.subscription_type_by_code(code) or abort(404)
    try:
        change = allocations.set_allocation(current_user, g.site, subscription_type, _requested_allocation())
    except DomainError as error:
        if is_htmx():  # the panel, the refusal under its row
            return _site_page(error.status, errors={code: error.message})
        # Post/Redirect/Get: a page answering the POST would post again on reload (issue 11, defect 13).
        # The message says which row it is about: after the redirect, no row shows the error.
        flash(_("%(type)s seats at %(site)s not changed: %(reason)s", type=subscription_type.name,
                site=g.site.name, reason=error.message), "error")
        return redirect(url_for("sites.detail", client_id=g.client.id, site_id=g.site.id), 303)
    billing_note = _billing_note(change)
    if is_htmx():
        return _site_page(announce=ngettext("%(type)s at %(site)s: %(num)d seat", "%(type)s at %(site)s: %(num)d seats",
                                            change.allocation.allocated, type=subscription_type.name, site=g.site.name)
                          + (f" {billing_note}" if billing_note else ""),
                          billing_note=billing_note)
    flash(_("%(type)s seats at %(site)s updated.", type=subscription_type.name, site=g.site.name), "success")
    if billing_note:
        flash(billing_note, "success")
    return redirect(url_for("sites.detail", client_id=g.client.id, site_id=g.site.id), 303)
