"""The link builder the domain asks for e-mail links (see portal.domain.links)."""
from flask import Flask, current_app, has_request_context, url_for

from portal.domain import links


class UrlForLinks:
    """Links on the host the request came in on (checked against TRUSTED_HOSTS by
    Flask), or on PORTAL_SERVER_NAME outside a request (the CLI)."""

    def invitation(self, token: str) -> str:
        return self._external("auth.accept_invitation", token=token)

    def password_reset(self, token: str) -> str:
        return self._external("auth.reset_password", token=token)

    def page(self, name: str, **values) -> str:
        endpoint, anchor = _PAGES[name]
        return self._external(endpoint, **values, **({"_anchor": anchor} if anchor else {}))

    def _external(self, endpoint: str, **values) -> str:
        if has_request_context():
            return url_for(endpoint, **values, _external=True)
        with current_app.test_request_context(base_url=_cli_base_url()):
            return url_for(endpoint, **values, _external=True)


# portal.domain.links.PAGES: the endpoint (and anchor) of each page the domain links to.
_PAGES = {
    "invoice": ("invoices.detail", None),
    "site": ("sites.detail", None),
    "seat_requests": ("seat_requests.index", None),
    "notification_settings": ("auth.account", "notifications"),
}


def _cli_base_url() -> str:
    server = current_app.config.get("SERVER_NAME") or "localhost:5000"
    scheme = current_app.config.get("PREFERRED_URL_SCHEME", "http")
    return f"{scheme}://{server}"


def init_app(app: Flask) -> None:
    app.extensions[links.EXTENSION] = UrlForLinks()
