"""Absolute links for e-mails. The domain knows no URLs: the web layer builds them.

``portal.create_app`` registers a builder (``portal.web.links``) that uses the
host the request came in on, or ``PORTAL_SERVER_NAME`` outside a request; the
domain only asks for "the link of this invitation token".
"""
from typing import Protocol

from flask import current_app

EXTENSION = "portal.links"


class LinkBuilder(Protocol):
    def invitation(self, token: str) -> str: ...

    def password_reset(self, token: str) -> str: ...

    def page(self, name: str, **values) -> str: ...


def invitation_link(token: str) -> str:
    builder: LinkBuilder = current_app.extensions[EXTENSION]
    return builder.invitation(token)


def password_reset_link(token: str) -> str:
    """The link of a password reset e-mail (docs/rules.md rule 39)."""
    builder: LinkBuilder = current_app.extensions[EXTENSION]
    return builder.password_reset(token)


# The pages a notification links to (docs/rules.md rule 33), by the name the domain knows them by.
PAGES = ("invoice", "site", "seat_requests", "notification_settings")


def page_link(name: str, **values) -> str:
    """The absolute link of a page named in ``PAGES`` (``page_link("invoice", invoice_id=42)``)."""
    builder: LinkBuilder = current_app.extensions[EXTENSION]
    return builder.page(name, **values)
