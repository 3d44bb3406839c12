from flask import Blueprint

from portal.web.labels import template_helpers

bp = Blueprint("partners", __name__)
bp.context_processor(template_helpers)  # codes shown as words: cycles, kinds, statuses (rule 37)

from portal.blueprints.partners import legal, views  # noqa: E402,F401
