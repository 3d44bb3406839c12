from flask import Blueprint

from portal.domain.insights import capability
from portal.web.labels import template_helpers

bp = Blueprint("insights", __name__)
bp.context_processor(template_helpers)  # codes shown as words: cycles, "per month" (rule 37)
# The main navigation (base.html) shows the link to whoever the page lets in: one capability for both.
bp.add_app_template_global(capability, "view_insights")

from portal.blueprints.insights import views  # noqa: E402,F401
