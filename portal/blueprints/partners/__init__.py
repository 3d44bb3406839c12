from flask import Blueprint

bp = Blueprint("partners", __name__)

from portal.blueprints.partners import views  # noqa: E402,F401
