"""Fixtures for the HTTP tests of the screens.

``client`` and ``login_as`` are redefined here with the same behaviour as in
tests/conftest.py, plus the htmx helpers ``hx_get`` / ``hx_post``. Every
request runs in its own app context, as under a real server: the root
``app_context`` fixture keeps one app context pushed for the whole test and
Flask reuses a pushed context for requests, so ``g`` (where Flask-Login caches
the user) and the database session would otherwise carry over from one
request to the next, and a request of one client could run as the user
another client logged in. tests/conftest.py's own client class does the
same; ours is used only if the app has none.
"""
from html.parser import HTMLParser
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from portal import extensions
from portal.domain.demo import DEMO_PASSWORD
from portal.extensions import db
from portal.models import Allocation, AuditEvent, Site, User

HX = {"HX-Request": "true"}


class HtmxMixin:
    """``hx_get`` / ``hx_post``: the requests htmx sends (``HX-Request: true``)."""

    def hx_get(self, *args, **kwargs):
        kwargs["headers"] = {**HX, **kwargs.get("headers", {})}
        return self.get(*args, **kwargs)

    def hx_post(self, *args, **kwargs):
        kwargs["headers"] = {**HX, **kwargs.get("headers", {})}
        return self.post(*args, **kwargs)


class IsolatedClient(FlaskClient):
    """Each request in its own app context (fresh ``g`` and database session)."""

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


def portal_client(app):
    base = app.test_client_class
    if base is None or base is FlaskClient:
        base = IsolatedClient
    return type("HtmxClient", (HtmxMixin, base), {})(app, app.response_class, use_cookies=True)


@pytest.fixture(autouse=True)
def fresh_rate_limits(app):
    """Start each test with no per-address request counts.

    Every test request comes from 127.0.0.1 and the limiter's storage lives as
    long as the process: without this, the suite's logins add up to the
    per-address login limit.
    """
    limiter = getattr(extensions, "limiter", None)
    if limiter is not None and getattr(limiter, "_storage", None) is not None:
        limiter.reset()


@pytest.fixture
def client(app):
    return portal_client(app)


@pytest.fixture
def login_as(app):
    """Return a test client logged in through the real login form."""

    def login(email: str, password: str = DEMO_PASSWORD):
        test_client = portal_client(app)
        response = test_client.post("/login", data={"email": email, "password": password})
        assert response.status_code == 302, f"login of {email} failed: {response.status_code}"
        return test_client

    return login


# --- tests/conftest.py helpers that are plain functions there -----------------

@pytest.fixture(scope="session")
def root_conftest(request):
    """The module tests/conftest.py (a registered plugin), to reuse its helpers."""
    path = Path(__file__).resolve().parents[1] / "conftest.py"
    for plugin in request.config.pluginmanager.get_plugins():
        if Path(getattr(plugin, "__file__", "") or "").resolve() == path:
            return plugin
    raise LookupError("tests/conftest.py is not loaded")


@pytest.fixture
def csrf_token_from(root_conftest):
    return root_conftest.csrf_token_from


@pytest.fixture(scope="session")
def testing_settings(root_conftest, database_url):
    """The settings the ``app`` fixture is built with."""
    return root_conftest._testing_settings(database_url)



@pytest.fixture
def snapshot(fresh):
    """Everything a refused request must leave alone: users, allocations, audit events."""

    def take():
        fresh()
        users = db.session.execute(
            select(User.id, User.email, User.name, User.status, User.site_id, User.subscription_type_id)
            .order_by(User.id)).all()
        allocations = db.session.execute(
            select(Allocation.site_id, Allocation.subscription_type_id, Allocation.allocated, Allocation.consumed)
            .order_by(Allocation.site_id, Allocation.subscription_type_id)).all()
        sites = db.session.execute(select(Site.id, Site.client_id, Site.name).order_by(Site.id)).all()
        # Logins are audited too; a refused change must add nothing else.
        audit = db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action.not_like("auth.%")))
        return dict(users=users, allocations=allocations, sites=sites, audit=audit)

    return take


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


@pytest.fixture
def html():
    """``html(response)`` → the parsed document (``.by_id``, ``.find_all``, ``.text``)."""

    def parse(response_or_text):
        text = response_or_text if isinstance(response_or_text, str) else response_or_text.get_data(as_text=True)
        return parse_html(text)

    return parse


@pytest.fixture
def assert_fragment():
    """Check that an htmx response is only the partial whose root element has ``root_id``."""

    def check(response, root_id, status=200):
        body = response.get_data(as_text=True)
        assert response.status_code == status, body[:500]
        assert "<html" not in body.lower() and "<body" not in body.lower()
        roots = parse_html(body).elements()
        assert len(roots) == 1, f"a fragment has one root element, got {[r.tag for r in roots]}"
        assert roots[0].attrs.get("id") == root_id
        assert "HX-Request" in response.headers.get("Vary", "")
        return roots[0]

    return check
