from flask import Blueprint

from portal.web.labels import template_helpers

bp = Blueprint("prices", __name__)
bp.context_processor(template_helpers)  # codes shown as words: cycles, price sources (rule 37)

from portal.blueprints.prices import views  # noqa: E402,F401
