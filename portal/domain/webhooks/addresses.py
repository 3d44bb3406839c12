"""Where a webhook may be sent: the SSRF check (docs/rules.md rule 32).

A receiver's URL must be https (plain http only with
PORTAL_WEBHOOK_ALLOW_PRIVATE=true, for a receiver on one's own machine). Its
host is resolved and *every* address it resolves to must be public: a
private, loopback, link-local (cloud metadata at 169.254.169.254), multicast,
reserved, unspecified or otherwise non-global address is refused, unless
PORTAL_WEBHOOK_ALLOW_PRIVATE=true. The check runs at registration and again
at each delivery (a name's addresses can change), and the delivery connects
to the very address that was checked, so a name cannot answer the check with
a public address and the connection with a private one.
"""
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import current_app

from portal.config import flag
from portal.domain.errors import Invalid
from portal.i18n import gettext as _
from portal.models.webhooks import MAX_URL_LENGTH


class RefusedAddress(Invalid):
    """The URL is not one a webhook may be sent to (422 on ``url``)."""

    def __init__(self, message):
        super().__init__(message, field="url")


@dataclass(frozen=True)
class Target:
    """A checked receiver: what to connect to and what to ask for."""

    scheme: str
    host: str  # the name, as in the URL (the Host header, the TLS server name)
    port: int
    target: str  # path and query: the request line's target
    addresses: tuple[str, ...]  # the addresses the host resolved to, each allowed


def allow_private() -> bool:
    """PORTAL_WEBHOOK_ALLOW_PRIVATE: plain http and private addresses allowed (a local test receiver)."""
    return flag(current_app.config.get("WEBHOOK_ALLOW_PRIVATE", False), "WEBHOOK_ALLOW_PRIVATE")


def refused_address(address: str) -> bool:
    """Whether ``address`` (an IP address as text) is one a webhook is never sent to."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            ip = mapped
    return (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
            or ip.is_unspecified or not ip.is_global)


def parse(url) -> tuple[str, str, int, str]:
    """The scheme, host, port and request target of ``url``; raises ``RefusedAddress`` when it is not one."""
    if not isinstance(url, str) or not url.strip():
        raise RefusedAddress(_("Enter the URL of the receiver."))
    url = url.strip()
    if len(url) > MAX_URL_LENGTH or any(ord(character) < 33 or ord(character) == 127 for character in url):
        raise RefusedAddress(_("Enter a URL of at most %(num)d characters, without spaces.", num=MAX_URL_LENGTH))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise RefusedAddress(_("Enter a valid URL, such as https://example.com/webhooks.")) from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or (scheme == "http" and not allow_private()):
        raise RefusedAddress(_("The URL must start with https://."))
    if not parts.hostname:
        raise RefusedAddress(_("Enter a valid URL, such as https://example.com/webhooks."))
    if parts.username is not None or parts.password is not None:
        raise RefusedAddress(_("The URL cannot carry a user name or a password."))
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return scheme, parts.hostname, port or (443 if scheme == "https" else 80), target


def resolve(host: str, port: int) -> tuple[str, ...]:
    """Every address ``host`` resolves to (an IP literal is itself); raises ``RefusedAddress``."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise RefusedAddress(_("The receiver's host name could not be resolved.")) from None
    addresses = tuple(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise RefusedAddress(_("The receiver's host name could not be resolved."))
    return addresses


def check(url) -> Target:
    """``url`` parsed, resolved and checked; raises ``RefusedAddress`` (422 on ``url``).

    Refused when any address of the host is not public, unless
    PORTAL_WEBHOOK_ALLOW_PRIVATE is true.
    """
    scheme, host, port, target = parse(url)
    addresses = resolve(host, port)
    if not allow_private() and any(refused_address(address) for address in addresses):
        raise RefusedAddress(_("The receiver's address is private, loopback or link-local: webhooks are only "
                               "sent to public addresses."))
    return Target(scheme, host, port, target, addresses)
