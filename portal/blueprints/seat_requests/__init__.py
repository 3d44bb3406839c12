"""Seat requests (docs/rules.md rule 29): the queue finance decides from, and the requesters' view of it."""
from flask import Blueprint, g
from flask_login import current_user

from portal.domain.seats import requests
from portal.rbac import permissions
from portal.web.labels import template_helpers

bp = Blueprint("seat_requests", __name__, url_prefix="/seat-requests")
bp.context_processor(template_helpers)


@bp.app_template_global("pending_seat_requests")
def pending_for_navigation() -> int:
    """The pending requests the user may decide: the navigation's count (one COUNT query, finance only)."""
    if not current_user.is_authenticated or "identity" not in g:
        return 0
    if not permissions.manage_seats(current_user.organisation).can():
        return 0
    return requests.pending_count(current_user)


from portal.blueprints.seat_requests import views  # noqa: E402,F401
