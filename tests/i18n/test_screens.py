"""Every screen reads in English, French and Polish, with no word left out of the catalogues (rule 37).

Two checks over every page of the portal (one demo role that may see it each):

- a *pseudo-language* pass: every translation is replaced by the English text in
  ⟦brackets⟧; whatever a person can read outside brackets must then be data
  (names, e-mails, numbers, dates, money). A word written straight into a
  template or a view, never passed to gettext, shows up here;
- each real language: the page answers 200 with ``<html lang>`` of the language,
  and none of its text is an English entry of the catalogue left as it was.
"""
import re
from html.parser import HTMLParser

import flask_babel
import pytest
from babel.dates import get_month_names
from sqlalchemy import select

from portal.extensions import db
from portal.models import Invoice, InvoiceSequence, Organisation, SeatRequest, Site, SubscriptionType, User
from tests.helpers import LOGINS


def _acme_user(demo):
    return db.session.scalar(select(User).where(User.site_id == demo.lyon.id).order_by(User.id))


def _first_invoice(demo):
    return db.session.scalar(select(Invoice).where(Invoice.client_id == demo.acme.id).order_by(Invoice.id))


def _first_type(demo):
    return db.session.scalar(select(SubscriptionType).order_by(SubscriptionType.id))


def _pending_request(demo):
    from portal.domain.seats import requests

    asked = requests.request_seats(demo.user("admin@acme.example"), demo.paris, "essentials", 2, note="Two nurses",
                                   user={"email": "nadia@acme.example", "name": "Nadia Noor"})
    return asked.id


def _withdrawal(demo):
    """The confirmation of withdrawing a pending cycle change (issue 11, defect 13): a change pending first."""
    from portal.domain.billing import cycles

    cycles.change_billing_cycle(demo.user("finance@northwind.example"), demo.acme, "annual")
    return f"/clients/{demo.acme.id}/billing-cycle/withdraw"


def _revocation(demo):
    """The confirmation of revoking an invitation (issue 11, defect 13): a pending invitation first."""
    from portal.domain.accounts import users

    invited = users.create_user(demo.user("admin@acme.example"), demo.lyon, demo.type("essentials"),
                                "ines@acme.example", "Ines Invitee", send="later")
    return f"/clients/{demo.acme.id}/invitations/{invited.id}/revoke"


def _nw_webhook(demo, suffix=""):
    """Northwind's webhook endpoint (rule 32), with a failed attempt and its retry in its log."""
    from portal.domain.webhooks import signing
    from portal.models import OutboxEvent, WebhookDelivery, WebhookEndpoint

    northwind = demo.org("Northwind Telecom")
    endpoint = WebhookEndpoint(organisation_id=northwind.id, url="https://erp.northwind.example/hooks",
                               events=["client.created"], description="ERP", active=True,
                               secret=signing.seal(signing.new_secret()))
    event = OutboxEvent(type="client.created", organisation_id=demo.acme.id, partner_id=northwind.id, data={})
    db.session.add_all([endpoint, event])
    db.session.flush()
    db.session.add_all([
        WebhookDelivery(endpoint_id=endpoint.id, event_id=event.id, event_type=event.type, attempt=1,
                        status="failed", response_status=500, response_excerpt="Internal Server Error",
                        error="The receiver answered 500."),
        WebhookDelivery(endpoint_id=endpoint.id, event_id=event.id, event_type=event.type, attempt=2,
                        status="pending")])
    db.session.commit()
    return f"/integrations/webhooks/{endpoint.id}{suffix}"


# endpoint -> (who looks, the page's path for the demo data)
SCREENS = {
    "auth.login": (None, lambda d: "/login"),
    "auth.forgot_password": (None, lambda d: "/password/forgot"),
    "auth.reset_password": (None, lambda d: "/password/reset/not-a-token"),
    "auth.accept_invitation": (None, lambda d: "/invitations/not-a-token"),
    "auth.no_access": ("acme_admin", lambda d: "/no-access"),
    "auth.account": ("nw_finance", lambda d: "/account"),
    "auth.two_step": ("acme_admin", lambda d: "/account/two-step"),
    "audit.index": ("nw_admin", lambda d: "/audit"),
    "partners.overview": ("nw_finance", lambda d: "/overview"),
    "partners.overview#clients": ("nw_finance", lambda d: "/overview?tab=clients"),
    "partners.new_client": ("nw_admin", lambda d: "/clients/new"),
    "clients.detail": ("nw_finance", lambda d: f"/clients/{d.acme.id}"),
    "clients.detail#client-admin": ("acme_admin", lambda d: f"/clients/{d.acme.id}"),
    "clients.new_site": ("nw_admin", lambda d: f"/clients/{d.acme.id}/sites/new"),
    "clients.new_user": ("acme_admin", lambda d: f"/clients/{d.acme.id}/users/new"),
    "clients.bulk_invite": ("acme_admin", lambda d: f"/clients/{d.acme.id}/users/bulk"),
    "clients.deactivate_user": ("acme_admin", lambda d: f"/clients/{d.acme.id}/users/{_acme_user(d).id}/deactivate"),
    "clients.move_user": ("acme_admin", lambda d: f"/clients/{d.acme.id}/users/{_acme_user(d).id}/move"),
    "clients.move_user#no-seat": ("nw_finance", lambda d: f"/clients/{d.acme.id}/users/{_acme_user(d).id}/move"
                                                          f"?site_id={d.paris.id}&subscription_type=essentials"),
    "clients.reactivate_user": ("acme_admin", lambda d: f"/clients/{d.acme.id}/users/{_acme_user(d).id}/reactivate"),
    "clients.invite_administrator": ("nw_admin", lambda d: f"/clients/{d.acme.id}/administrators/new"),
    "clients.request_seats": ("acme_admin", lambda d: f"/clients/{d.acme.id}/sites/{d.paris.id}/seat-requests/new"),
    "clients.confirm_withdraw_billing_cycle": ("nw_finance", _withdrawal),
    "clients.confirm_revoke_invitation": ("acme_admin", _revocation),
    "seat_requests.index": ("nw_finance", lambda d: (_pending_request(d), "/seat-requests")[1]),
    "seat_requests.approve": ("nw_finance", lambda d: f"/seat-requests/{_pending_request(d)}/approve"),
    "seat_requests.decline": ("nw_finance", lambda d: f"/seat-requests/{_pending_request(d)}/decline"),
    "sites.detail": ("nw_finance", lambda d: f"/clients/{d.acme.id}/sites/{d.lyon.id}"),
    "invoices.index": ("nw_finance", lambda d: "/invoices"),
    "invoices.detail": ("nw_finance", lambda d: f"/invoices/{_first_invoice(d).id}"),
    "members.index": ("acme_admin", lambda d: "/members"),
    "members.invite": ("acme_admin", lambda d: "/members/invite"),
    "members.revoke": ("acme_admin", lambda d: f"/members/{d.user('accountant@acme.example').id}/roles/accountant/revoke"),
    "members.end_sessions": ("acme_admin", lambda d: f"/members/{d.user('frontdesk@acme.example').id}/sessions/end"),
    "operator.partner_list": ("operator", lambda d: "/operator/partners"),
    "operator.partner_detail": ("operator", lambda d: f"/operator/partners/{d.org('Northwind Telecom').id}"),
    "partners.overview#operator": ("operator", lambda d: "/overview?tab=totals"),
    "partners.overview#operator-clients": ("operator", lambda d: "/overview?tab=clients"),
    "invoices.index#operator": ("operator", lambda d: "/invoices"),
    "operator.new_partner": ("operator", lambda d: "/operator/partners/new"),
    "operator.invite_administrator": (
        "operator", lambda d: f"/operator/partners/{d.org('Northwind Telecom').id}/administrators/new"),
    "operator.catalogue_list": ("operator", lambda d: "/operator/catalogue"),
    "operator.jobs": ("operator", lambda d: "/operator/jobs"),
    "operator.new_subscription_type": ("operator", lambda d: "/operator/catalogue/new"),
    "operator.edit_prices": ("operator", lambda d: f"/operator/catalogue/{_first_type(d).id}/prices"),
    "reports.margins": ("nw_finance", lambda d: "/reports/margins"),
    "insights.index": ("acme_admin", lambda d: "/insights"),  # (nw_finance sees the site "Main": an English word)
    "reports.margins#operator": ("operator", lambda d: "/reports/margins"),
    "clients.legal_details": ("nw_admin", lambda d: f"/clients/{d.acme.id}/legal"),
    "partners.legal_details": ("nw_admin", lambda d: "/partner/legal"),
    "partners.partner_legal_details": ("operator",
                                       lambda d: f"/operator/partners/{d.org('Northwind Telecom').id}/legal"),
    "prices.book": ("nw_finance", lambda d: "/price-book"),
    "prices.edit_book_price": ("nw_finance", lambda d: "/price-book/essentials"),
    "prices.clear_book_price": ("nw_finance", lambda d: "/price-book/essentials/clear"),
    "prices.edit_client_price": ("nw_finance", lambda d: f"/clients/{d.acme.id}/prices/essentials"),
    "prices.clear_client_price": ("nw_finance", lambda d: f"/clients/{d.acme.id}/prices/essentials/clear"),
    "integrations.webhooks": ("nw_admin", lambda d: (_nw_webhook(d), "/integrations/webhooks")[1]),
    "integrations.webhook": ("nw_admin", _nw_webhook),
    "integrations.delete": ("nw_admin", lambda d: _nw_webhook(d, "/delete")),
}
# Not pages a person reads: downloads, redirects, and the second step of a login in progress.
NOT_SCREENS = {"audit.export", "invoices.export", "reports.margins_csv", "auth.home", "operator.index",
               "auth.login_two_step", "invoices.pdf", "insights.export", "health.healthz", "health.readyz",
               "health.metrics_text"}
LANGUAGES = ("en", "fr", "pl")
# Names of things, not words of the portal.
# Languages are named in their own words on purpose ("Français" on an English page).
ALLOWED = {"Partner Portal", "htmx", "CSV", "API", "PDF", "TOTP", "EUR", "USD", "PLN", "GBP",
           "English", "Français", "Polski"}


class _Text(HTMLParser):
    """What a person reads on a page: its text and the attributes read out or shown."""

    ATTRIBUTES = ("title", "aria-label", "placeholder", "alt", "hx-confirm", "data-confirm")
    # Not words: scripts, styles, and <code> (a two-step secret, an audit event's raw record).
    MACHINE = ("script", "style", "code")

    def __init__(self):
        super().__init__()
        self.chunks, self._skip = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in self.MACHINE:
            self._skip += 1
        attributes = dict(attrs)
        self.chunks += [attributes[a] for a in self.ATTRIBUTES if attributes.get(a)]
        if tag == "input" and attributes.get("type") in ("submit", "button") and attributes.get("value"):
            self.chunks.append(attributes["value"])

    def handle_endtag(self, tag):
        if tag in self.MACHINE:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.chunks.append(data.strip())


def readable_text(html: str) -> list[str]:
    parser = _Text()
    parser.feed(html)
    return parser.chunks


class _Pseudo:
    """Translations that bracket every text: ⟦Clients⟧, so a word outside brackets was never translated."""

    def gettext(self, message):
        return f"⟦{message}⟧"

    def ngettext(self, singular, plural, n):
        return f"⟦{singular if n == 1 else plural}⟧"

    def pgettext(self, context, message):
        return self.gettext(message)

    def npgettext(self, context, singular, plural, n):
        return self.ngettext(singular, plural, n)

    ugettext, ungettext = gettext, ngettext
    upgettext, unpgettext = pgettext, npgettext


@pytest.fixture
def pseudo_language(monkeypatch):
    monkeypatch.setattr(flask_babel.Domain, "get_translations", lambda self: _Pseudo())


def _data_words() -> list[str]:
    """Every name, e-mail and code of the demo data: shown as they are in every language."""
    values = set()
    for column in (Organisation.name, Site.name, User.name, User.email, SubscriptionType.name,
                   SubscriptionType.code, Invoice.number, InvoiceSequence.prefix, SeatRequest.note,
                   SeatRequest.user_name, SeatRequest.user_email, SeatRequest.reason,
                   Organisation.legal_name, Organisation.address, Organisation.vat_number,
                   Organisation.billing_email, Organisation.tax_note):
        values.update(v for v in db.session.scalars(select(column)) if v)
    # Addresses show one line at a time too (rule 25's parties on an invoice).
    values.update(line for address in db.session.scalars(select(Organisation.address)) if address
                  for line in address.split("\n") if line)
    # Webhooks (rule 32): event type codes (as the API names them), an endpoint's own description, and what a
    # receiver answered or the network said (the delivery log's technical detail, kept as it came).
    from portal.domain.events import EVENT_TYPES
    from portal.models import WebhookDelivery, WebhookEndpoint

    values.update(EVENT_TYPES)
    for column in (WebhookEndpoint.description, WebhookDelivery.error, WebhookDelivery.response_excerpt):
        values.update(v for v in db.session.scalars(select(column)) if v)
    return sorted(values, key=len, reverse=True)


def _untranslated(chunks, data_words) -> list[str]:
    months = set(get_month_names("abbreviated", locale="en").values()) | set(get_month_names(locale="en").values())
    left = []
    for chunk in chunks:
        text = chunk
        while True:  # innermost brackets first: a translated label inside a translated sentence
            stripped = re.sub(r"⟦[^⟦⟧]*⟧", " ", text)
            if stripped == text:
                break
            text = stripped
        # A translated sentence around markup (a Markup parameter: <strong>€178.00</strong>) spans
        # several text nodes: its start ends a chunk with an open bracket, its end starts one with a closing one.
        text = re.sub(r"⟦[^⟧]*$", " ", re.sub(r"^[^⟦]*⟧", " ", text))
        for word in (*data_words, *ALLOWED):
            text = text.replace(word, " ")
        text = re.sub(r"\S+@\S+|https?://\S+", " ", text)
        words = [w for w in re.findall(r"[^\W\d_]{2,}", text) if w not in months]
        if words:
            left.append(chunk)
    return left


def _screen(demo, login_as, client, endpoint, language=None):
    who, path = SCREENS[endpoint]
    browser = login_as(LOGINS[who]) if who else client
    headers = {"Accept-Language": language} if language else {}
    return browser.get(path(demo), headers=headers)


def test_every_page_of_the_portal_is_checked(app):
    pages = {rule.endpoint for rule in app.url_map.iter_rules()
             if "GET" in rule.methods and rule.endpoint.split(".")[0] not in ("api", "static")}
    checked = {endpoint.split("#")[0] for endpoint in SCREENS}
    assert pages - checked - NOT_SCREENS == set(), "add the new page to SCREENS"


@pytest.mark.parametrize("endpoint", SCREENS)
def test_every_word_on_the_page_goes_through_the_catalogue(endpoint, demo, login_as, client, pseudo_language):
    response = _screen(demo, login_as, client, endpoint)
    assert response.status_code in (200, 404), response.status_code  # a refused token's page is a 404
    left = _untranslated(readable_text(response.get_data(as_text=True)), _data_words())
    assert not left, f"{endpoint}: not translatable: {left[:15]}"


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("endpoint", SCREENS)
def test_every_page_reads_in_each_language(endpoint, language, demo, login_as, client):
    response = _screen(demo, login_as, client, endpoint, language)
    html = response.get_data(as_text=True)
    assert response.status_code in (200, 404)
    assert f'<html lang="{language}"' in html
    if language == "en":
        return
    english = _english_entries(language)
    left = [chunk for chunk in readable_text(html) if chunk in english]
    assert not left, f"{endpoint} in {language}: still English: {left[:10]}"


_ENGLISH = {}


def _english_entries(language) -> set[str]:
    """The catalogue's English texts that read differently in ``language`` (shown as is: untranslated)."""
    if language not in _ENGLISH:
        from tests.i18n.test_catalogues import _catalogue
        catalogue = _catalogue(language)
        # A word that is also some entry's translation ("Role" is Polish for "Roles") proves nothing.
        translated = {m.string for m in catalogue if isinstance(m.string, str)}
        _ENGLISH[language] = {m.id for m in catalogue if isinstance(m.id, str) and m.id and m.string != m.id
                              and "%(" not in m.id and len(m.id) > 3 and m.id not in translated}
    return _ENGLISH[language]
