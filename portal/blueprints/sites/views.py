import re

from flask import abort, flash, g, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from portal.blueprints.sites import bp
from portal.domain.billing import invoices as billing
from portal.domain.errors import DomainError
from portal.domain.seats import counters as seats
from portal.extensions import db
from portal.models import SubscriptionType, User
from portal.rbac import permissions
from portal.rbac.decorators import require
from portal.web.rendering import render_page_or_partial

SITE_USERS_SHOWN = 100


def _context(**extra):
    site = g.site
    rows = seats.seat_rows(site)
    can_manage = permissions.manage_seats(site).can()
    context = dict(
        client=g.client, site=site, rows=rows, can_manage=can_manage, errors={},
        # What one more seat of each type costs now (shown before finance presses +).
        quotes={row.subscription_type.code: billing.quote_increase(g.client, row.subscription_type, 1)
                for row in rows} if can_manage else {},
        users=db.session.scalars(
            select(User).where(User.site_id == site.id, User.status != "deactivated")
            .options(joinedload(User.subscription_type)).order_by(User.name).limit(SITE_USERS_SHOWN)
        ).all(),
    )
    context.update(extra)
    return context


@bp.route("")
def detail():
    return render_page_or_partial("sites/detail.html", "sites/_seat_panel.html", **_context())


def _requested_allocation() -> str | int:
    """The number typed in the field, moved by one when − or + was pressed."""
    value = request.form.get("allocated", "")
    step = request.form.get("step")
    if step in ("1", "-1") and re.fullmatch(r"-?[0-9]{1,9}", value.strip()):
        return int(value) + int(step)
    return value


@bp.route("/allocations/<code>", methods=["POST"])
def set_allocation(code):
    """Change the seats bought for one subscription type at this site."""
    require(permissions.manage_seats(g.site))
    subscription_type = db.session.scalar(select(SubscriptionType).where(SubscriptionType.code == code))
    if subscription_type is None:
        abort(404)
    try:
        seats.set_allocation(current_user, g.site, subscription_type, _requested_allocation())
    except DomainError as error:
        return render_page_or_partial("sites/detail.html", "sites/_seat_panel.html", error.status,
                                      **_context(errors={code: error.message}))
    if request.headers.get("HX-Request"):
        return render_page_or_partial("sites/detail.html", "sites/_seat_panel.html", **_context())
    flash(f"{subscription_type.name} seats at {g.site.name} updated.", "success")
    return redirect(url_for("sites.detail", client_id=g.client.id, site_id=g.site.id), 303)
