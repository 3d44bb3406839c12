"""A load balancer's health probe gets its answer whatever Host it sends (docs/rules.md rule 43).

Balancers probe each server by its address (``Host: 10.0.3.7:8000``), not by
the portal's name, and PORTAL_TRUSTED_HOSTS refuses any other Host with a 400:
every server would look down. ``/healthz`` and ``/readyz`` build no link and
set no cookie, so for them alone an untrusted Host is replaced by a trusted one
before Flask checks it. Every other path is checked as before.
"""
from werkzeug.sansio.utils import host_is_trusted

PROBES = frozenset({"/healthz", "/readyz"})


class ProbesAnyHost:
    """WSGI middleware: GET or HEAD of a probe path with an untrusted Host is served as the first trusted host."""

    def __init__(self, wsgi_app, trusted_hosts: list[str]):
        self.wsgi_app = wsgi_app
        self.trusted_hosts = trusted_hosts
        # ".example.com" trusts example.com and its subdomains: example.com itself is a trusted name.
        self.stand_in = trusted_hosts[0].lstrip(".")

    def __call__(self, environ, start_response):
        if (environ.get("PATH_INFO") in PROBES and environ.get("REQUEST_METHOD") in ("GET", "HEAD")
                and not host_is_trusted(environ.get("HTTP_HOST"), self.trusted_hosts)):
            environ = {**environ, "HTTP_HOST": self.stand_in}
        return self.wsgi_app(environ, start_response)


def init_app(app) -> None:
    hosts = app.config.get("TRUSTED_HOSTS")
    if hosts:
        app.wsgi_app = ProbesAnyHost(app.wsgi_app, hosts)
