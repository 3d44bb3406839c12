"""Render the page or, for an htmx request, only the fragment it targets."""
from flask import make_response, render_template

from portal.extensions import htmx


def render_page_or_partial(page_template: str, partial: str, status: int = 200, **context):
    """One context for both, so the page and its fragment never disagree."""
    template = partial if htmx and not htmx.boosted else page_template
    response = make_response(render_template(template, **context), status)
    response.headers["Vary"] = "HX-Request"
    return response
