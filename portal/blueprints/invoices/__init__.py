from flask import Blueprint

bp = Blueprint("invoices", __name__, url_prefix="/invoices")

from portal.blueprints.invoices import views  # noqa: E402,F401
