"""Render the page or, for an htmx request, only the fragment it targets."""
from flask import make_response, render_template

from portal.extensions import htmx


def is_htmx() -> bool:
    """Whether the request comes from htmx and wants a fragment.

    A boosted link or form (``hx-boost``) wants the whole page, like a plain
    browser request. Every screen asks this function, never the header.
    """
    return bool(htmx) and not htmx.boosted


def render(template: str, status: int = 200, **context):
    """``template`` as a response; it varies with ``HX-Request`` (page or fragment)."""
    response = make_response(render_template(template, **context), status)
    response.headers["Vary"] = "HX-Request"
    return response


def render_page_or_partial(page_template: str, partial: str, status: int = 200, **context):
    """One context for both, so the page and its fragment never disagree.

    For a fragment that needs less than its page, build each context apart and
    call ``render`` with ``partial if is_htmx() else page_template``.
    """
    return render(partial if is_htmx() else page_template, status, **context)
