from flask import Blueprint, g

from portal.blueprints.clients.labels import template_helpers
from portal.rbac import permissions
from portal.rbac.decorators import guard_request, require
from portal.rbac.scoping import get_client_and_site_or_404

bp = Blueprint("sites", __name__, url_prefix="/clients/<id:client_id>/sites/<id:site_id>")
bp.context_processor(template_helpers)  # labels for codes: cycles, statuses (rule 37)


@bp.url_value_preprocessor
def _pull_ids(endpoint, values):
    g.client_id = values.pop("client_id")
    g.site_id = values.pop("site_id")


@bp.before_request
def _load_site():
    """Load the site through its client, both in the caller's reach (else 404)."""
    response = guard_request()
    if response is not None:
        return response
    g.client, g.site = get_client_and_site_or_404(g.client_id, g.site_id)
    require(permissions.view_site(g.site))
    return None


from portal.blueprints.sites import views  # noqa: E402,F401
