"""Liveness, readiness and metrics for load balancers and Prometheus (docs/rules.md rule 43)."""
from flask import Blueprint

bp = Blueprint("health", __name__)

from portal.blueprints.health import views  # noqa: E402,F401
