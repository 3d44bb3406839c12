"""Which language a request is answered in (docs/rules.md rule 37).

The account's choice, else the browser's ``Accept-Language``, else English. The
API is always English: its messages are part of its contract.
"""
from flask import Flask, has_request_context, request
from flask_login import current_user

from portal.extensions import babel
from portal.i18n import (LANGUAGES, format_basis_points, format_day, format_money, format_signed_money,
                         install_template_gettext, refresh_language)


def select_language() -> str:
    if not has_request_context():
        return "en"
    if request.blueprint == "api" or request.path.startswith("/api/"):
        return "en"
    chosen = getattr(current_user, "language", None) if current_user else None
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES) or "en"


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_language)
    install_template_gettext(app.jinja_env)
    # The language is kept on the app context; a request served inside a context pushed
    # before it (a test's, a CLI command's) would inherit the language of the previous request.
    app.before_request(refresh_language)
    app.add_template_filter(format_money, "money")
    app.add_template_filter(format_signed_money, "signed_money")
    app.add_template_filter(format_day, "day")
    app.add_template_filter(format_basis_points, "percent")  # basis points: 2000 → "20%"
