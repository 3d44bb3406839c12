"""Integrations: a partner's webhook endpoints and their delivery log (docs/rules.md rule 32)."""
from flask import Blueprint

bp = Blueprint("integrations", __name__, url_prefix="/integrations")

from portal.blueprints.integrations import views  # noqa: E402,F401
