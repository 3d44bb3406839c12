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


def invitation_link(token: str) -> str:
    builder: LinkBuilder = current_app.extensions[EXTENSION]
    return builder.invitation(token)


def password_reset_link(token: str) -> str:
    """The link of a password reset e-mail (docs/rules.md rule 39)."""
    builder: LinkBuilder = current_app.extensions[EXTENSION]
    return builder.password_reset(token)
