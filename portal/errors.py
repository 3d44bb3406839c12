"""Error pages: a full page for browsers, a small fragment for htmx requests."""
from flask import render_template
from flask_wtf.csrf import CSRFError

from .extensions import htmx

MESSAGES = {
    400: "The request could not be understood.",
    403: "You do not have permission to do this. Ask your administrator if you need it.",
    404: "There is nothing here, or it is not yours to see.",
    405: "That action is not available here.",
    409: "That change conflicts with the current state.",
    422: "The request was well-formed but could not be processed.",
    500: "Something went wrong on our side. Nothing was changed; please try again.",
}


def render_error(status: int, message: str | None = None):
    message = message or MESSAGES.get(status, "Error")
    template = "errors/_error.html" if htmx else "errors/error.html"
    return render_template(template, status=status, message=message), status


def register(app) -> None:
    for status in MESSAGES:
        app.register_error_handler(status, lambda error, status=status: render_error(status))

    @app.errorhandler(CSRFError)
    def _csrf(error):
        return render_error(400, "Your form expired or was sent from elsewhere. Reload the page and try again.")
