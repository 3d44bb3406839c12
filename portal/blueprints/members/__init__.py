from flask import Blueprint

from portal.web.labels import template_helpers

bp = Blueprint("members", __name__, url_prefix="/members")
bp.context_processor(template_helpers)  # codes shown as words: cycles, kinds, statuses (rule 37)

from portal.blueprints.members import views  # noqa: E402,F401
