from flask import Blueprint

from portal.web.labels import template_helpers

bp = Blueprint("insights", __name__)
bp.context_processor(template_helpers)  # codes shown as words: cycles, "per month" (rule 37)

from portal.blueprints.insights import views  # noqa: E402,F401
