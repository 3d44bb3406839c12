from flask import Blueprint, g

from portal.blueprints.clients.labels import template_helpers
from portal.rbac import permissions
from portal.rbac.decorators import guard_request, require
from portal.rbac.scoping import get_client_or_404

bp = Blueprint("clients", __name__, url_prefix="/clients/<id:client_id>")
bp.context_processor(template_helpers)  # labels for codes: cycles, statuses (rule 37)


@bp.url_value_preprocessor
def _pull_client_id(endpoint, values):
    g.client_id = values.pop("client_id")


@bp.before_request
def _load_client():
    """Load the client in the caller's reach (else 404), then require view_client."""
    response = guard_request()
    if response is not None:
        return response
    g.client = get_client_or_404(g.client_id)
    require(permissions.view_client(g.client))
    return None


from portal.blueprints.clients import legal, people, seat_requests, views  # noqa: E402,F401
