"""The audit log read by a person (docs/rules.md screen 15d): one sentence per event, actions in words.

"Felix Finance raised Essentials at Lyon from 5 to 7 seats" instead of
``allocation.changed site #3 {"allocated": 5} → {"allocated": 7}``. Names come
from the read model (``portal.domain.audit_log``: joined in the page's one
statement, and ``names_for`` for the codes and ids the details mention); this
module only writes them into sentences, so it issues no query of its own.
An action it does not know still reads: "<who>: <action in words> (<target>)".

Each sentence is one whole translatable message with named parameters
(docs/rules.md rule 37): translators reorder "%(who)s raised %(type)s at
%(site)s…" as their language wants. Names are data and stay as they are; money
is ``format_money`` and days ``format_day``, in the page's language.
"""
from datetime import date, datetime

from portal.domain.audit_log import EventRow, Names
from portal.domain.notifications import TOPICS
from portal.i18n import LANGUAGE_NAMES, _l, format_basis_points, format_day, format_money, ngettext
from portal.i18n import gettext as _
from portal.rbac.roles import ROLES

# The action filter's choices, grouped as the screen shows them (value: an action, or a prefix
# ending in "." for the whole group). Exact actions are matched exactly, prefixes as prefixes.
ACTION_GROUPS = (
    (_l("Seats"), (("allocation.", _l("Any seat change")), ("allocation.changed", _l("Seats set")),
                   ("allocation.seat_added", _l("Seat added while creating a user")),
                   ("seats.synchronised", _l("Consumed seats synchronised")))),
    (_l("Users"), (("user.", _l("Any user change")), ("user.created", _l("User created")),
                   ("user.invited", _l("Staff invited")), ("user.deactivated", _l("User deactivated")),
                   ("user.seat_moved", _l("Seat moved")), ("user.renamed", _l("User renamed")),
                   ("user.reactivated", _l("User reactivated")),
                   ("user.seat_released", _l("Seat released after a trial")),
                   ("user.language_changed", _l("Language changed")),
                   ("user.notifications_changed", _l("E-mail notifications changed")))),
    (_l("Seat requests"), (("seat_request.", _l("Any seat request event")),
                           ("seat_request.created", _l("Seats requested")),
                           ("seat_request.approved", _l("Seat request approved")),
                           ("seat_request.declined", _l("Seat request declined")))),
    (_l("Invitations"), (("invitation.", _l("Any invitation event")), ("invitation.sent", _l("Invitation sent")),
                         ("invitation.accepted", _l("Invitation accepted")),
                         ("invitation.revoked", _l("Invitation revoked")),
                         ("invitation.expired", _l("Invitation expired")))),
    (_l("Roles"), (("role.", _l("Any role change")), ("role.granted", _l("Role given")),
                   ("role.revoked", _l("Role taken away")))),
    (_l("Clients and partners"), (("client.created", _l("Client created")), ("client.renamed", _l("Client renamed")),
                                  ("site.created", _l("Site created")), ("partner.created", _l("Partner created")),
                                  ("partner.discount_changed", _l("Partner discount changed")),
                                  ("client.legal_updated", _l("Client's legal and tax details changed")),
                                  ("partner.legal_updated", _l("Partner's legal and tax details changed")))),
    (_l("Billing"), (("billing.", _l("Any billing cycle event")),
                     ("billing.cycle_changed", _l("Billing cycle change asked")),
                     ("billing.cycle_change_withdrawn", _l("Billing cycle change withdrawn")),
                     ("billing.cycle_applied", _l("Billing cycle changed")), ("invoice.issued", _l("Invoice issued")))),
    (_l("Catalogue"), (("subscription_type.created", _l("Subscription type added")),
                       ("subscription_type.prices_changed", _l("Prices changed")),
                       ("price_book.set", _l("Price book price set")),
                       ("price_book.cleared", _l("Price book price removed")),
                       ("client_price.set", _l("Client price set")),
                       ("client_price.cleared", _l("Client price removed")))),
    (_l("Webhooks"), (("webhook.", _l("Any webhook event")), ("webhook.created", _l("Webhook endpoint added")),
                      ("webhook.updated", _l("Webhook endpoint changed")),
                      ("webhook.deleted", _l("Webhook endpoint deleted")),
                      ("webhook.disabled", _l("Webhook endpoint disabled after failures")),
                      ("webhook.resent", _l("Webhook event sent again")))),
    (_l("Sign-in and security"), (("auth.login", _l("Logged in")), ("auth.login_failed", _l("Login failed")),
                                  ("auth.locked_out", _l("Logins locked out")),
                                  ("auth.password_changed", _l("Password changed")),
                                  ("auth.password_reset", _l("Password reset")),
                                  ("auth.", _l("Any sign-in event")),
                                  ("two_step.", _l("Any two-step verification event")),
                                  ("api_token.", _l("Any API token event")))),
)
ACTION_LABELS = {value: label for _group, choices in ACTION_GROUPS for value, label in choices}
# Exact actions of the list (matched exactly: "auth.login" must not also find "auth.login_failed").
EXACT_ACTIONS = frozenset(value for value in ACTION_LABELS if not value.endswith("."))

# What an event is about, in words: the target filter's options and a target without a name ("user #13").
TARGET_TYPE_NAMES = {"user": _l("user"), "client": _l("client"), "site": _l("site"), "partner": _l("partner"),
                     "subscription_type": _l("subscription type"), "invoice": _l("invoice"),
                     "organisation": _l("organisation"), "seat_request": _l("seat request"),
                     "webhook": _l("webhook endpoint")}

# Events the system makes on its own (no actor): who the sentence says did it.
_SYSTEM_SUBJECT = {"webhook.disabled": _l("The webhook deliveries"), "billing.": _l("The billing run"), "user.seat_released": _l("The billing run"),
                   "invoice.issued": _l("The billing run")}
_PORTAL = _l("The portal")
# A billing cycle inside a sentence ("asked for monthly billing of Acme").
_BILLING = {"monthly": _l("monthly billing"), "annual": _l("annual billing")}


def action_label(action: str) -> str:
    """An action in words: the list's label, else the code made readable ("api_token.created" → "Api token created")."""
    if action in ACTION_LABELS:
        return str(ACTION_LABELS[action])
    return action.replace(".", " ").replace("_", " ").strip().capitalize()


def target_type_name(target_type) -> str:
    """A target type in words ("subscription type"); an unknown one as its code made readable."""
    name = TARGET_TYPE_NAMES.get(target_type)
    return str(name) if name is not None else str(target_type or "").replace("_", " ")


def _day(value) -> str:
    """An ISO date or timestamp of the details, as a day for people ("Dec 1, 2026")."""
    if isinstance(value, str):
        try:
            return format_day(datetime.fromisoformat(value))
        except ValueError:
            return value
    if isinstance(value, (date, datetime)):
        return format_day(value)
    return str(value)


def _role(code) -> str:
    role = ROLES.get(code)
    return role.label if role else str(code)


def _billing(cycle) -> str:
    found = _BILLING.get(cycle)
    return str(found) if found is not None else str(cycle)


class _Event:
    """One event and what it mentions, with the words each sentence needs."""

    def __init__(self, row: EventRow, names: Names):
        self.row, self.names, self.event = row, names, row.event
        self.before = row.event.before if isinstance(row.event.before, dict) else {}
        self.after = row.event.after if isinstance(row.event.after, dict) else {}

    @property
    def who(self) -> str:
        if self.row.actor_name:
            return self.row.actor_name
        if self.event.actor_email:
            return self.event.actor_email
        action = self.event.action
        for prefix, subject in _SYSTEM_SUBJECT.items():
            if action.startswith(prefix):
                return str(subject)
        return str(_PORTAL)

    @property
    def target(self) -> str:
        """The target by name; copied details (name, e-mail, number) when it is gone; else its kind and id."""
        if self.row.target_name:
            return self.row.target_name
        for key in ("name", "email", "number"):
            if self.after.get(key) or self.before.get(key):
                return str(self.after.get(key) or self.before.get(key))
        kind = target_type_name(self.event.target_type)
        if self.event.target_id is None:
            return kind
        return _("%(kind)s #%(id)s", kind=kind, id=self.event.target_id)

    @property
    def organisation(self) -> str:
        return self.row.organisation or _("the organisation")

    def type_name(self, details: dict) -> str:
        return self.names.type_name(details.get("subscription_type"))

    def sites(self, details: dict) -> str:
        site_ids = details.get("sites") or []
        return ", ".join(self.names.site_name(site_id) for site_id in site_ids)


def _allocation_changed(e: _Event) -> str:
    before, after = e.before.get("allocated"), e.after.get("allocated")
    words = dict(who=e.who, type=e.type_name(e.after), site=e.target, before=before)
    if (before or 0) < (after or 0):
        return ngettext("%(who)s raised %(type)s at %(site)s from %(before)s to %(num)d seat",
                        "%(who)s raised %(type)s at %(site)s from %(before)s to %(num)d seats", after, **words)
    return ngettext("%(who)s lowered %(type)s at %(site)s from %(before)s to %(num)d seat",
                    "%(who)s lowered %(type)s at %(site)s from %(before)s to %(num)d seats", after, **words)


def _seat_added(e: _Event) -> str:
    return ngettext("%(who)s added %(num)d seat of %(type)s at %(site)s",
                    "%(who)s added %(num)d seats of %(type)s at %(site)s", e.after.get("added"),
                    who=e.who, type=e.type_name(e.after), site=e.target)


def _seats_synchronised(e: _Event) -> str:
    changes = e.after.get("changes") or []
    if not changes:
        return _("%(who)s synchronised the consumed seats of %(client)s: nothing to fix", who=e.who, client=e.target)
    fixed = "; ".join(
        _("%(type)s at %(site)s %(before)s → %(after)s", type=e.names.type_name(change.get("subscription_type")),
          site=change.get("site_name"), before=change.get("before"), after=change.get("after"))
        for change in changes)
    return _("%(who)s synchronised the consumed seats of %(client)s: %(changes)s",
             who=e.who, client=e.target, changes=fixed)


def _client_created(e: _Event) -> str:
    cycle, trial = e.after.get("billing_cycle"), e.after.get("trial_days")
    words = dict(who=e.who, client=e.after.get("name") or e.target)
    if cycle and trial:
        return ngettext("%(who)s created the client %(client)s, %(billing)s, %(num)d-day trial",
                        "%(who)s created the client %(client)s, %(billing)s, %(num)d-day trial", int(trial),
                        billing=_billing(cycle), **words)
    if trial:
        return ngettext("%(who)s created the client %(client)s, %(num)d-day trial",
                        "%(who)s created the client %(client)s, %(num)d-day trial", int(trial), **words)
    if cycle:
        return _("%(who)s created the client %(client)s, %(billing)s", billing=_billing(cycle), **words)
    return _("%(who)s created the client %(client)s", **words)


def _cycle_changed(e: _Event) -> str:
    return _("%(who)s asked for %(billing)s of %(client)s from %(day)s", who=e.who,
             billing=_billing(e.after.get("pending_billing_cycle")), client=e.target,
             day=_day(e.after.get("pending_effective_on")))


def _cycle_withdrawn(e: _Event) -> str:
    return _("%(who)s withdrew the change of %(client)s to %(billing)s", who=e.who, client=e.target,
             billing=_billing(e.before.get("pending_billing_cycle")))


def _cycle_applied(e: _Event) -> str:
    return _("%(who)s moved %(client)s from %(before)s to %(after)s from %(day)s", who=e.who, client=e.target,
             before=_billing(e.before.get("billing_cycle")), after=_billing(e.after.get("billing_cycle")),
             day=_day(e.after.get("from")))


def _invoice_issued(e: _Event) -> str:
    words = dict(who=e.who, number=e.after.get("number") or e.target, client=e.organisation,
                 total=format_money(e.after.get("total"), e.after.get("currency") or "EUR"))
    kind = e.after.get("kind")
    if kind == "period":
        return _("%(who)s issued period invoice %(number)s to %(client)s: %(total)s", **words)
    if kind == "proration":
        return _("%(who)s issued prorated invoice %(number)s to %(client)s: %(total)s", **words)
    if kind == "credit_note":
        if e.after.get("credits"):
            return _("%(who)s issued credit note %(number)s to %(client)s for invoice %(credits)s: %(total)s",
                     credits=e.after["credits"], **words)
        return _("%(who)s issued credit note %(number)s to %(client)s: %(total)s", **words)
    return _("%(who)s issued invoice %(number)s to %(client)s: %(total)s", **words)


def _type_created(e: _Event) -> str:
    currency = e.after.get("currency") or "EUR"
    return _("%(who)s added %(type)s to the catalogue at %(monthly)s a month, %(annual)s a year", who=e.who,
             type=e.after.get("name") or e.target, monthly=format_money(e.after.get("monthly_price"), currency),
             annual=format_money(e.after.get("annual_price"), currency))


def _prices_changed(e: _Event) -> str:
    currency = e.names.currency(e.after.get("code"))

    def money(details, key):
        return format_money(details.get(key), currency)

    words = dict(who=e.who, type=e.target)
    monthly = e.before.get("monthly_price") != e.after.get("monthly_price")
    annual = e.before.get("annual_price") != e.after.get("annual_price")
    if monthly and annual:
        return _("%(who)s changed the prices of %(type)s: monthly %(monthly_before)s → %(monthly_after)s, "
                 "annual %(annual_before)s → %(annual_after)s",
                 monthly_before=money(e.before, "monthly_price"), monthly_after=money(e.after, "monthly_price"),
                 annual_before=money(e.before, "annual_price"), annual_after=money(e.after, "annual_price"), **words)
    if monthly:
        return _("%(who)s changed the prices of %(type)s: monthly %(before)s → %(after)s",
                 before=money(e.before, "monthly_price"), after=money(e.after, "monthly_price"), **words)
    if annual:
        return _("%(who)s changed the prices of %(type)s: annual %(before)s → %(after)s",
                 before=money(e.before, "annual_price"), after=money(e.after, "annual_price"), **words)
    return _("%(who)s changed the prices of %(type)s: no change", **words)


def _own_prices(e: _Event) -> dict:
    """The words of a price set in a price book or for a client (docs/rules.md rule 22)."""
    currency = e.after.get("currency") or e.names.currency(e.after.get("code"))
    return dict(who=e.who, type=e.target, client=e.organisation,
                monthly=format_money(e.after.get("monthly_price"), currency),
                annual=format_money(e.after.get("annual_price"), currency))


def _endpoint(e: _Event) -> str:
    """A webhook endpoint by its address (docs/rules.md rule 32), else by kind and id."""
    return str(e.after.get("url") or e.before.get("url") or e.target)


def _discount_changed(e: _Event) -> str:
    """docs/rules.md section 8: in the operator's log only (a partner's cost is for margins.view)."""
    after = format_basis_points(e.after["discount_bp"])
    if "discount_bp" not in e.before:
        return _("%(who)s set the discount of %(partner)s to %(after)s", who=e.who, partner=e.target, after=after)
    return _("%(who)s changed the discount of %(partner)s from %(before)s to %(after)s", who=e.who,
             partner=e.target, before=format_basis_points(e.before["discount_bp"]), after=after)


# The legal and tax details (docs/rules.md rule 25), named in the sentence of a change.
_LEGAL_FIELDS = {"legal_name": _l("legal name"), "address": _l("address"), "vat_number": _l("VAT number"),
                 "billing_email": _l("billing e-mail"), "tax_rate_bp": _l("tax rate"), "tax_note": _l("tax note")}


def _legal_updated(e: _Event) -> str:
    """"Nora Admin changed the legal and tax details of Acme Dental: legal name, tax rate 20% → 5.5%"."""
    changes = []
    for key, label in _LEGAL_FIELDS.items():
        if key not in e.after:
            continue
        if key == "tax_rate_bp":
            before, after = e.before.get(key), e.after.get(key)
            changes.append(_("tax rate %(before)s → %(after)s",
                             before=format_basis_points(before) if before is not None else _("the partner's"),
                             after=format_basis_points(after) if after is not None else _("the partner's")))
        else:
            changes.append(str(label))
    return _("%(who)s changed the legal and tax details of %(organisation)s: %(changes)s", who=e.who,
             organisation=e.target, changes=", ".join(changes))


def _user_created(e: _Event) -> str:
    words = dict(who=e.who, user=e.target)
    if not e.after.get("subscription_type"):
        return _("%(who)s created %(user)s and invited them", **words)
    site = e.names.site_name(e.after.get("site_id")) if e.after.get("site_id") is not None else None
    if site:
        return _("%(who)s created %(user)s with a %(type)s seat at %(site)s and invited them",
                 type=e.type_name(e.after), site=site, **words)
    return _("%(who)s created %(user)s with a %(type)s seat and invited them", type=e.type_name(e.after), **words)


def _user_deactivated(e: _Event) -> str:
    until = e.after.get("access_until")
    if until:
        return _("%(who)s deactivated %(user)s (access until %(day)s)", who=e.who, user=e.target, day=_day(until))
    return _("%(who)s deactivated %(user)s", who=e.who, user=e.target)


def _user_reactivated(e: _Event) -> str:
    if e.after.get("subscription_type"):
        return _("%(who)s reactivated %(user)s with a %(type)s seat", who=e.who, user=e.target,
                 type=e.type_name(e.after))
    return _("%(who)s reactivated %(user)s", who=e.who, user=e.target)


def _seat_moved(e: _Event) -> str:
    where = e.names.site_name(e.after.get("site_id")) if e.after.get("site_id") is not None else None
    words = dict(who=e.who, user=e.target, before=e.type_name(e.before), after=e.type_name(e.after))
    if where:
        return _("%(who)s moved %(user)s from %(before)s to %(after)s at %(site)s", site=where, **words)
    return _("%(who)s moved %(user)s from %(before)s to %(after)s", **words)


def _seat_released(e: _Event) -> str:
    reason = e.after.get("reason")
    if reason == "trial ended":
        return _("%(who)s released the seat of %(user)s (trial ended)", who=e.who, user=e.target)
    if reason:
        return _("%(who)s released the seat of %(user)s (%(reason)s)", who=e.who, user=e.target, reason=reason)
    return _("%(who)s released the seat of %(user)s", who=e.who, user=e.target)


def _seat_request_created(e: _Event) -> str:
    words = dict(who=e.who, type=e.type_name(e.after), site=e.names.site_name(e.after.get("site_id")))
    if e.after.get("user_email"):
        return ngettext("%(who)s asked for %(num)d %(type)s seat at %(site)s, for %(email)s",
                        "%(who)s asked for %(num)d %(type)s seats at %(site)s, one for %(email)s",
                        e.after.get("quantity"), email=e.after["user_email"], **words)
    return ngettext("%(who)s asked for %(num)d %(type)s seat at %(site)s",
                    "%(who)s asked for %(num)d %(type)s seats at %(site)s", e.after.get("quantity"), **words)


def _seat_request_approved(e: _Event) -> str:
    return ngettext("%(who)s approved a request for %(num)d seat", "%(who)s approved a request for %(num)d seats",
                    e.after.get("quantity"), who=e.who)


def _notifications_changed(e: _Event) -> str:
    labels = [str(TOPICS[code].label) for code in e.after.get("turned_off") or () if code in TOPICS]
    if labels:
        return _("%(who)s turned off the e-mails: %(topics)s", who=e.who, topics="; ".join(labels))
    return _("%(who)s turned on every e-mail notification", who=e.who)


def _language_changed(e: _Event) -> str:
    language = LANGUAGE_NAMES.get(e.after.get("language"))
    if language:
        return _("%(who)s chose %(language)s as the language of the portal", who=e.who, language=language)
    return _("%(who)s chose to read the portal in their browser's language", who=e.who)


def _role_granted(e: _Event) -> str:
    role = _role((e.after or e.before).get("role"))
    if e.before:
        every = _("every site")
        return _("%(who)s changed %(user)s's %(role)s role from %(before)s to %(after)s", who=e.who, user=e.target,
                 role=role, before=e.sites(e.before) or every, after=e.sites(e.after) or every)
    sites = e.sites(e.after)
    if sites:
        return _("%(who)s gave %(user)s the %(role)s role at %(sites)s", who=e.who, user=e.target, role=role,
                 sites=sites)
    return _("%(who)s gave %(user)s the %(role)s role", who=e.who, user=e.target, role=role)


def _role_revoked(e: _Event) -> str:
    role, sites = _role(e.before.get("role")), e.sites(e.before)
    if sites:
        return _("%(who)s took the %(role)s role at %(sites)s away from %(user)s", who=e.who, role=role,
                 sites=sites, user=e.target)
    return _("%(who)s took the %(role)s role away from %(user)s", who=e.who, role=role, user=e.target)


def _invitation_sent(e: _Event) -> str:
    if e.after.get("expires_at"):
        return _("%(who)s sent an invitation to %(user)s, valid until %(day)s", who=e.who, user=e.target,
                 day=_day(e.after["expires_at"]))
    return _("%(who)s sent an invitation to %(user)s", who=e.who, user=e.target)


def _invitation_closed(e: _Event) -> str:
    status = e.after.get("status") or e.event.action.rpartition(".")[2]
    if status == "revoked":
        return _("%(who)s revoked the invitation of %(user)s", who=e.who, user=e.target)
    if status == "expired" and not e.event.actor_email:
        return _("The invitation of %(user)s expired", user=e.target)
    if status == "expired":
        return _("%(who)s marked the invitation of %(user)s as expired", who=e.who, user=e.target)
    raise ValueError(status)  # a status of another shape: the general sentence


def _api_token(e: _Event, verb: str) -> str:
    name, read_only = e.after.get("name"), bool(e.after.get("read_only"))
    words = dict(who=e.who, user=e.target, name=name)
    if verb == "created":
        if name:
            return (_("%(who)s created the API token “%(name)s” (read-only) of %(user)s", **words) if read_only
                    else _("%(who)s created the API token “%(name)s” of %(user)s", **words))
        return (_("%(who)s created the API token (read-only) of %(user)s", **words) if read_only
                else _("%(who)s created the API token of %(user)s", **words))
    if name:
        return (_("%(who)s revoked the API token “%(name)s” (read-only) of %(user)s", **words) if read_only
                else _("%(who)s revoked the API token “%(name)s” of %(user)s", **words))
    return (_("%(who)s revoked the API token (read-only) of %(user)s", **words) if read_only
            else _("%(who)s revoked the API token of %(user)s", **words))


def _two_step_required(e: _Event) -> str:
    if e.after.get("require_two_step"):
        return _("%(who)s required two-step verification in %(organisation)s", who=e.who, organisation=e.target)
    return _("%(who)s stopped requiring two-step verification in %(organisation)s", who=e.who,
             organisation=e.target)


_SENTENCES = {
    "allocation.changed": _allocation_changed,
    "allocation.seat_added": _seat_added,
    "seats.synchronised": _seats_synchronised,
    "partner.created": lambda e: _("%(who)s created the partner %(partner)s", who=e.who,
                                   partner=e.after.get("name") or e.target),
    "partner.discount_changed": _discount_changed,
    "partner.legal_updated": _legal_updated,
    "client.legal_updated": _legal_updated,
    "client.created": _client_created,
    "client.renamed": lambda e: _("%(who)s renamed the client %(before)s to %(after)s", who=e.who,
                                  before=e.before.get("name"), after=e.after.get("name")),
    "site.created": lambda e: _("%(who)s created the site %(site)s of %(client)s", who=e.who,
                                site=e.after.get("name") or e.target, client=e.organisation),
    "billing.cycle_changed": _cycle_changed,
    "billing.cycle_change_withdrawn": _cycle_withdrawn,
    "billing.cycle_applied": _cycle_applied,
    "invoice.issued": _invoice_issued,
    "subscription_type.created": _type_created,
    "subscription_type.prices_changed": _prices_changed,
    "webhook.created": lambda e: _("%(who)s added the webhook endpoint %(url)s", who=e.who, url=_endpoint(e)),
    "webhook.updated": lambda e: _("%(who)s changed the webhook endpoint %(url)s", who=e.who, url=_endpoint(e)),
    "webhook.deleted": lambda e: _("%(who)s deleted the webhook endpoint %(url)s", who=e.who, url=_endpoint(e)),
    "webhook.disabled": lambda e: _("%(who)s disabled %(url)s after three days of failures", who=e.who,
                                    url=_endpoint(e)),
    "webhook.resent": lambda e: _("%(who)s sent an event again to %(url)s", who=e.who, url=_endpoint(e)),
    "price_book.set": lambda e: _("%(who)s set the price book's price of %(type)s to %(monthly)s a month and "
                                  "%(annual)s a year", **_own_prices(e)),
    "price_book.cleared": lambda e: _("%(who)s put %(type)s back at the list price in the price book",
                                      who=e.who, type=e.target),
    "client_price.set": lambda e: _("%(who)s set the price of %(type)s for %(client)s to %(monthly)s a month and "
                                    "%(annual)s a year", **_own_prices(e)),
    "client_price.cleared": lambda e: _("%(who)s put %(type)s back at the price book's price for %(client)s",
                                        who=e.who, type=e.target, client=e.organisation),
    "user.created": _user_created,
    "user.invited": lambda e: _("%(who)s invited %(user)s as %(role)s", who=e.who, user=e.target,
                                role=_role(e.after.get("role"))),
    "user.deactivated": _user_deactivated,
    "user.seat_moved": _seat_moved,
    "user.reactivated": _user_reactivated,
    "user.renamed": lambda e: _("%(who)s renamed %(before)s to %(after)s", who=e.who,
                                before=e.before.get("name"), after=e.after.get("name")),
    "user.seat_released": _seat_released,
    "user.language_changed": _language_changed,
    "user.notifications_changed": _notifications_changed,
    "seat_request.created": _seat_request_created,
    "seat_request.approved": _seat_request_approved,
    "seat_request.declined": lambda e: _("%(who)s declined a seat request: %(reason)s", who=e.who,
                                         reason=e.after.get("reason")),
    "role.granted": _role_granted,
    "role.revoked": _role_revoked,
    "invitation.sent": _invitation_sent,
    "invitation.accepted": lambda e: _("%(user)s accepted the invitation", user=e.target),
    "invitation.revoked": _invitation_closed,
    "invitation.expired": _invitation_closed,
    "auth.login": lambda e: _("%(who)s logged in", who=e.who),
    "auth.password_accepted": lambda e: _("%(who)s gave the right password; the second step is next", who=e.who),
    "auth.login_failed": lambda e: _("A login as %(email)s failed", email=e.after.get("email") or e.target),
    "auth.locked_out": lambda e: _("Logins as %(email)s are locked out for a while",
                                   email=e.after.get("email") or e.target),
    "auth.password_changed": lambda e: _("%(who)s changed their password", who=e.who),
    "auth.password_reset_requested": lambda e: _("Someone asked to reset the password of %(user)s", user=e.target),
    "auth.password_reset_not_sent": lambda e: _("A password reset for %(user)s was asked for but not sent",
                                                user=e.target),
    "auth.password_reset": lambda e: _("%(user)s set a new password with a reset link", user=e.target),
    "auth.session_ended": lambda e: _("%(who)s ended one of their sessions", who=e.who),
    "auth.other_sessions_ended": lambda e: _("%(who)s ended their other sessions", who=e.who),
    "auth.member_sessions_ended": lambda e: _("%(who)s ended every session of %(user)s", who=e.who, user=e.target),
    "api_token.created": lambda e: _api_token(e, "created"),
    "api_token.revoked": lambda e: _api_token(e, "revoked"),
    "two_step.enrolment_started": lambda e: _("%(who)s started to set up two-step verification", who=e.who),
    "two_step.enabled": lambda e: _("%(who)s turned on two-step verification", who=e.who),
    "two_step.disabled": lambda e: _("%(who)s turned off two-step verification", who=e.who),
    "two_step.failed": lambda e: _("%(who)s entered a wrong two-step verification code", who=e.who),
    "two_step.throttled": lambda e: _("%(who)s entered too many wrong two-step verification codes", who=e.who),
    "organisation.two_step_required": _two_step_required,
}


def sentence(row: EventRow, names: Names) -> str:
    """The event as one sentence, with names; an unknown action or odd details still give a sentence."""
    event = _Event(row, names)
    write = _SENTENCES.get(row.event.action)
    if write is not None:
        try:
            return write(event)
        except (AttributeError, KeyError, TypeError, ValueError):  # details of an older shape
            pass
    return _("%(who)s: %(action)s (%(target)s)", who=event.who, action=action_label(row.event.action).lower(),
             target=event.target)
