"""Error pages: a full page for browsers, a small fragment for htmx requests."""
from flask import render_template
from flask.globals import request_ctx
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from werkzeug.exceptions import SecurityError

from portal.i18n import _l
from portal.i18n import gettext as _
from portal.web.rendering import is_htmx

MESSAGES = {
    400: _l("The request could not be understood."),
    403: _l("You do not have permission to do this. Ask your administrator if you need it."),
    404: _l("There is nothing here, or it is not yours to see."),
    405: _l("That action is not available here."),
    409: _l("That change conflicts with the current state."),
    422: _l("The request was well-formed but could not be processed."),
    429: _l("Too many requests from your address. Wait a minute and try again."),
    500: _l("Something went wrong on our side. Nothing was changed; please try again."),
}

BAD_HOST = _l("This portal does not answer to that host name. Use the portal's own address.")


def _handle(error, status: int):
    # An untrusted Host (PORTAL_TRUSTED_HOSTS, docs/rules.md rule 41b) says so rather than "not understood".
    body, status = render_error(status, BAD_HOST if isinstance(error, SecurityError) else None)
    # Keep the headers an HTTPException carries (Retry-After on 429, Allow on 405).
    headers = error.get_response().headers if hasattr(error, "get_response") else {}
    return body, status, {k: v for k, v in headers.items() if k in ("Retry-After", "Allow")}


def render_error(status: int, message: str | None = None):
    message = str(message or MESSAGES.get(status) or _("Error"))
    if request_ctx.url_adapter is None:  # e.g. an untrusted Host: no URL can be built for the page
        return f"{status}: {escape(message)}", status
    template = "errors/_error.html" if is_htmx() else "errors/error.html"
    return render_template(template, status=status, message=message), status


def register(app) -> None:
    for status in MESSAGES:
        app.register_error_handler(status, lambda error, status=status: _handle(error, status))

    @app.errorhandler(CSRFError)
    def _csrf(error):
        return render_error(400, _("Your form expired or was sent from elsewhere. Reload the page and try again."))
