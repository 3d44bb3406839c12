"""What every screen shares: rendering, forms, pagination, filters, CSV, error pages, e-mail links."""
from flask import Flask

from portal.web import filters, links, locale, origin, static_files, unavailable


def init_app(app: Flask) -> None:
    filters.register(app)
    locale.init_app(app)
    links.init_app(app)
    origin.init_app(app)
    unavailable.init_app(app)
    static_files.init_app(app)
