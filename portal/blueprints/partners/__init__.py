from flask import Blueprint

bp = Blueprint("partners", __name__)

from . import views  # noqa: E402,F401
