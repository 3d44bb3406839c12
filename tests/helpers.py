"""Plain helpers shared by the tests: the test client, HTML parsing, the API error shape, demo logins.

Fixtures live in tests/conftest.py; what a test module imports by name lives here.
"""
import re
from html.parser import HTMLParser

from flask import has_app_context
from flask.testing import FlaskClient
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent

HX = {"HX-Request": "true"}

# Short names for the demo logins (portal.domain.demo), shared by the access matrices.
LOGINS = {
    "operator": "operator@portal.example",
    "nw_admin": "admin@northwind.example",
    "nw_finance": "finance@northwind.example",
    "nw_support": "support@northwind.example",
    "acme_admin": "admin@acme.example",
    "acme_accountant": "accountant@acme.example",
    "acme_frontdesk": "frontdesk@acme.example",
    "globex_admin": "admin@globex.example",
    "sw_admin": "admin@southwind.example",
    "initech_admin": "admin@initech.example",
}


class PortalClient(FlaskClient):
    """The test client of every test: requests run as under a real server.

    Tests keep an app context pushed (the autouse ``app_context`` fixture), and
    Flask reuses a pushed context for requests: ``g`` (where Flask-Login caches
    the user) and the database session would carry over between requests of
    different clients, and a request of one client could run as the user
    another client logged in. Each request gets its own app context instead;
    afterwards the test's own session is rolled back so it sees what the
    request committed (when the client is used from a test's thread, which has
    an app context; a racing thread of its own has none, and no session).

    ``token`` (None by default) is sent as a bearer token, for the JSON API;
    ``hx_get`` / ``hx_post`` send the requests htmx sends (``HX-Request: true``).
    """

    token: str | None = None

    def open(self, *args, **kwargs):
        if self.token is not None:
            headers = dict(kwargs.pop("headers", None) or {})
            headers.setdefault("Authorization", f"Bearer {self.token}")
            kwargs["headers"] = headers
        with self.application.app_context():
            response = super().open(*args, **kwargs)
        if has_app_context():
            db.session.rollback()
        return response

    def hx_get(self, *args, **kwargs):
        kwargs["headers"] = {**HX, **kwargs.get("headers", {})}
        return self.get(*args, **kwargs)

    def hx_post(self, *args, **kwargs):
        kwargs["headers"] = {**HX, **kwargs.get("headers", {})}
        return self.post(*args, **kwargs)


def portal_client(app, token: str | None = None) -> PortalClient:
    """A new client of ``app`` (with its own cookies), sending ``token`` if given."""
    client = PortalClient(app, app.response_class, use_cookies=True)
    client.token = token
    return client


def csrf_token_from(html: str) -> str:
    """The CSRF token a rendered page carries (hidden field or hx-headers)."""
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'"X-CSRFToken": "([^"]+)"', html)
    assert match, "page carries no CSRF token"
    return match.group(1)


def assert_error(response, status: int, code: str, *fields: str) -> dict:
    """The response is the API's error shape with this status and code, naming these fields."""
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    error = body["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["fields"], dict)
    for field in fields:
        assert field in error["fields"], error
    return error


# --- HTML ----------------------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Node:
    def __init__(self, tag, attrs, parent=None):
        self.tag, self.attrs, self.parent, self.children = tag, dict(attrs), parent, []

    @property
    def text(self) -> str:
        parts = []

        def walk(node):
            for child in node.children:
                if isinstance(child, str):
                    parts.append(child)
                else:
                    walk(child)

        walk(self)
        return " ".join("".join(parts).split())

    def iter(self):
        for child in self.children:
            if isinstance(child, Node):
                yield child
                yield from child.iter()

    def find_all(self, tag=None, **attrs):
        attrs = {key.rstrip("_").replace("_", "-"): value for key, value in attrs.items()}
        return [node for node in self.iter()
                if (tag is None or node.tag == tag)
                and all(node.attrs.get(key) == value if value is not True else key in node.attrs
                        for key, value in attrs.items())]

    def find(self, tag=None, **attrs):
        found = self.find_all(tag, **attrs)
        return found[0] if found else None

    def by_id(self, element_id):
        return self.find(id=element_id)

    def cells(self):
        """Texts of the th/td cells of this row."""
        return [node.text for node in self.children if isinstance(node, Node) and node.tag in ("th", "td")]

    def elements(self):
        return [child for child in self.children if isinstance(child, Node)]


class _Builder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.current = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Node(tag, attrs, self.current))

    def handle_endtag(self, tag):
        node = self.current
        while node is not self.root and node.tag != tag:
            node = node.parent
        if node is not self.root:
            self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)


def parse_html(text: str) -> Node:
    builder = _Builder()
    builder.feed(text)
    builder.close()
    return builder.root


def reloaded(user):
    """``user`` as committed now (the test's own transaction ended first)."""
    db.session.rollback()
    return db.session.get(type(user), user.id)


def audit_events(action: str) -> int:
    """How many audit events of ``action`` are committed now."""
    db.session.rollback()
    return db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == action))


# --- races -----------------------------------------------------------------------


def race_user_creations(app, admin_id: int, site_id: int, type_id: int, threads: int = 12) -> list[str]:
    """``threads`` threads create one user each at the site, released together by a barrier: each
    outcome, "created" or "no seat" (racerN@acme.example). The test's own session is rolled back
    afterwards, so it sees the racers' commits."""
    import threading

    from portal.domain.accounts import users
    from portal.domain.errors import NoFreeSeat
    from portal.models import Site, SubscriptionType, User

    barrier = threading.Barrier(threads)
    outcomes = []

    def create(n):
        with app.app_context():
            admin = db.session.get(User, admin_id)
            site, subscription_type = db.session.get(Site, site_id), db.session.get(SubscriptionType, type_id)
            barrier.wait()
            try:
                users.create_user(admin, site, subscription_type, f"racer{n}@acme.example", f"Racer {n}")
                outcomes.append("created")
            except NoFreeSeat:
                outcomes.append("no seat")
            finally:
                db.session.remove()

    racers = [threading.Thread(target=create, args=(n,)) for n in range(threads)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    db.session.rollback()
    return outcomes
