"""The audit log read by a person (docs/rules.md screen 15d): one sentence per event, actions in words.

"Felix Finance raised Essentials at Lyon from 5 to 7 seats" instead of
``allocation.changed site #3 {"allocated": 5} → {"allocated": 7}``. Names come
from the read model (``portal.domain.audit_log``: joined in the page's one
statement, and ``names_for`` for the codes and ids the details mention); this
module only writes them into sentences, so it issues no query of its own.
An action it does not know still reads: "<who>: <action in words> (<target>)".
"""
from datetime import date, datetime

from portal.domain.audit_log import EventRow, Names
from portal.i18n import format_money
from portal.rbac.roles import ROLES

# The action filter's choices, grouped as the screen shows them (value: an action, or a prefix
# ending in "." for the whole group). Exact actions are matched exactly, prefixes as prefixes.
ACTION_GROUPS = (
    ("Seats", (("allocation.", "Any seat change"), ("allocation.changed", "Seats set"),
               ("allocation.seat_added", "Seat added while creating a user"),
               ("seats.synchronised", "Consumed seats synchronised"))),
    ("Users", (("user.", "Any user change"), ("user.created", "User created"), ("user.invited", "Staff invited"),
               ("user.deactivated", "User deactivated"), ("user.seat_moved", "Seat moved"),
               ("user.renamed", "User renamed"),
               ("user.reactivated", "User reactivated"), ("user.seat_released", "Seat released after a trial"))),
    ("Invitations", (("invitation.", "Any invitation event"), ("invitation.sent", "Invitation sent"),
                     ("invitation.accepted", "Invitation accepted"), ("invitation.revoked", "Invitation revoked"),
                     ("invitation.expired", "Invitation expired"))),
    ("Roles", (("role.", "Any role change"), ("role.granted", "Role given"), ("role.revoked", "Role taken away"))),
    ("Clients and partners", (("client.created", "Client created"), ("client.renamed", "Client renamed"),
                              ("site.created", "Site created"), ("partner.created", "Partner created"))),
    ("Billing", (("billing.", "Any billing cycle event"), ("billing.cycle_changed", "Billing cycle change asked"),
                 ("billing.cycle_change_withdrawn", "Billing cycle change withdrawn"),
                 ("billing.cycle_applied", "Billing cycle changed"), ("invoice.issued", "Invoice issued"))),
    ("Catalogue", (("subscription_type.created", "Subscription type added"),
                   ("subscription_type.prices_changed", "Prices changed"))),
    ("Sign-in and security", (("auth.login", "Logged in"), ("auth.login_failed", "Login failed"),
                              ("auth.locked_out", "Logins locked out"),
                              ("auth.password_changed", "Password changed"),
                              ("auth.password_reset", "Password reset"),
                              ("auth.", "Any sign-in event"), ("two_step.", "Any two-step verification event"),
                              ("api_token.", "Any API token event"))),
)
ACTION_LABELS = {value: label for _group, choices in ACTION_GROUPS for value, label in choices}
# Exact actions of the list (matched exactly: "auth.login" must not also find "auth.login_failed").
EXACT_ACTIONS = frozenset(value for value in ACTION_LABELS if not value.endswith("."))

# Events the system makes on its own (no actor): who the sentence says did it.
_SYSTEM_SUBJECT = {"billing.": "The billing run", "user.seat_released": "The billing run",
                   "invoice.issued": "The billing run"}


def action_label(action: str) -> str:
    """An action in words: the list's label, else the code made readable ("api_token.created" → "Api token created")."""
    if action in ACTION_LABELS:
        return ACTION_LABELS[action]
    return action.replace(".", " ").replace("_", " ").strip().capitalize()


def _seats(count) -> str:
    return f"{count} seat" if count == 1 else f"{count} seats"


def _day(value) -> str:
    """An ISO date or timestamp of the details, as a day."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).date().isoformat()
        except ValueError:
            return value
    if isinstance(value, (date, datetime)):
        return value.isoformat()[:10]
    return str(value)


def _role(code) -> str:
    role = ROLES.get(code)
    return role.label if role else str(code)


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
                return subject
        return "The portal"

    @property
    def target(self) -> str:
        """The target by name; copied details (name, e-mail, number) when it is gone; else its kind and id."""
        if self.row.target_name:
            return self.row.target_name
        for key in ("name", "email", "number"):
            if self.after.get(key) or self.before.get(key):
                return str(self.after.get(key) or self.before.get(key))
        kind = self.event.target_type.replace("_", " ")
        return kind if self.event.target_id is None else f"{kind} #{self.event.target_id}"

    @property
    def organisation(self) -> str:
        return self.row.organisation or "the organisation"

    def type_name(self, details: dict) -> str:
        return self.names.type_name(details.get("subscription_type"))

    def sites(self, details: dict) -> str:
        site_ids = details.get("sites") or []
        return ", ".join(self.names.site_name(site_id) for site_id in site_ids)

    def role(self, details: dict) -> str:
        """"the Site manager role at Lyon", "the Client admin role"."""
        where = self.sites(details)
        return f"the {_role(details.get('role'))} role" + (f" at {where}" if where else "")


def _allocation_changed(e: _Event) -> str:
    before, after = e.before.get("allocated"), e.after.get("allocated")
    verb = "raised" if (before or 0) < (after or 0) else "lowered"
    return f"{e.who} {verb} {e.type_name(e.after)} at {e.target} from {before} to {_seats(after)}"


def _seats_synchronised(e: _Event) -> str:
    changes = e.after.get("changes") or []
    if not changes:
        return f"{e.who} synchronised the consumed seats of {e.target}: nothing to fix"
    fixed = "; ".join(
        f"{e.names.type_name(change.get('subscription_type'))} at {change.get('site_name')} "
        f"{change.get('before')} → {change.get('after')}" for change in changes)
    return f"{e.who} synchronised the consumed seats of {e.target}: {fixed}"


def _client_created(e: _Event) -> str:
    cycle = e.after.get("billing_cycle")
    trial = e.after.get("trial_days")
    extra = f", {cycle} billing" if cycle else ""
    if trial:
        extra += f", {trial}-day trial"
    return f"{e.who} created the client {e.after.get('name') or e.target}{extra}"


def _cycle_changed(e: _Event) -> str:
    return (f"{e.who} asked for {e.after.get('pending_billing_cycle')} billing of {e.target} "
            f"from {_day(e.after.get('pending_effective_on'))}")


def _cycle_withdrawn(e: _Event) -> str:
    return f"{e.who} withdrew the change of {e.target} to {e.before.get('pending_billing_cycle')} billing"


def _cycle_applied(e: _Event) -> str:
    return (f"{e.who} moved {e.target} from {e.before.get('billing_cycle')} to "
            f"{e.after.get('billing_cycle')} billing from {_day(e.after.get('from'))}")


def _invoice_issued(e: _Event) -> str:
    kind = {"period": "period invoice", "proration": "prorated invoice"}.get(e.after.get("kind"), "invoice")
    number = e.after.get("number") or e.target
    total = format_money(e.after.get("total"), e.after.get("currency") or "EUR")
    return f"{e.who} issued {kind} {number} to {e.organisation}: {total}"


def _type_created(e: _Event) -> str:
    currency = e.after.get("currency") or "EUR"
    return (f"{e.who} added {e.after.get('name') or e.target} to the catalogue at "
            f"{format_money(e.after.get('monthly_price'), currency)} a month, "
            f"{format_money(e.after.get('annual_price'), currency)} a year")


def _prices_changed(e: _Event) -> str:
    currency = e.names.currency(e.after.get("code"))
    parts = []
    for key, label in (("monthly_price", "monthly"), ("annual_price", "annual")):
        if e.before.get(key) != e.after.get(key):
            parts.append(f"{label} {format_money(e.before.get(key), currency)} → "
                         f"{format_money(e.after.get(key), currency)}")
    return f"{e.who} changed the prices of {e.target}: {', '.join(parts) or 'no change'}"


def _user_created(e: _Event) -> str:
    seat = ""
    if e.after.get("subscription_type"):
        site = e.names.site_name(e.after.get("site_id")) if e.after.get("site_id") is not None else None
        seat = f" with a {e.type_name(e.after)} seat" + (f" at {site}" if site else "")
    return f"{e.who} created {e.target}{seat} and invited them"


def _user_deactivated(e: _Event) -> str:
    until = e.after.get("access_until")
    return f"{e.who} deactivated {e.target}" + (f" (access until {_day(until)})" if until else "")


def _seat_moved(e: _Event) -> str:
    where = e.names.site_name(e.after.get("site_id")) if e.after.get("site_id") is not None else None
    return (f"{e.who} moved {e.target} from {e.type_name(e.before)} to {e.type_name(e.after)}"
            + (f" at {where}" if where else ""))


def _role_granted(e: _Event) -> str:
    if e.before:
        return (f"{e.who} changed {e.target}'s {_role(e.after.get('role'))} role from "
                f"{e.sites(e.before) or 'every site'} to {e.sites(e.after) or 'every site'}")
    return f"{e.who} gave {e.target} {e.role(e.after)}"


def _invitation_closed(e: _Event) -> str:
    status = e.after.get("status") or e.event.action.rpartition(".")[2]
    if status == "expired" and not e.event.actor_email:
        return f"The invitation of {e.target} expired"
    return f"{e.who} {'revoked' if status == 'revoked' else status} the invitation of {e.target}"


def _api_token(e: _Event, verb: str) -> str:
    name = e.after.get("name")
    named = f" “{name}”" if name else ""
    mode = " (read-only)" if e.after.get("read_only") else ""
    return f"{e.who} {verb} the API token{named}{mode} of {e.target}"


_SENTENCES = {
    "allocation.changed": _allocation_changed,
    "allocation.seat_added": lambda e: (f"{e.who} added {_seats(e.after.get('added'))} of {e.type_name(e.after)} "
                                        f"at {e.target}"),
    "seats.synchronised": _seats_synchronised,
    "partner.created": lambda e: f"{e.who} created the partner {e.after.get('name') or e.target}",
    "client.created": _client_created,
    "client.renamed": lambda e: f"{e.who} renamed the client {e.before.get('name')} to {e.after.get('name')}",
    "site.created": lambda e: f"{e.who} created the site {e.after.get('name') or e.target} of {e.organisation}",
    "billing.cycle_changed": _cycle_changed,
    "billing.cycle_change_withdrawn": _cycle_withdrawn,
    "billing.cycle_applied": _cycle_applied,
    "invoice.issued": _invoice_issued,
    "subscription_type.created": _type_created,
    "subscription_type.prices_changed": _prices_changed,
    "user.created": _user_created,
    "user.invited": lambda e: f"{e.who} invited {e.target} as {_role(e.after.get('role'))}",
    "user.deactivated": _user_deactivated,
    "user.seat_moved": _seat_moved,
    "user.reactivated": lambda e: f"{e.who} reactivated {e.target}" + (
        f" with a {e.type_name(e.after)} seat" if e.after.get("subscription_type") else ""),
    "user.renamed": lambda e: f"{e.who} renamed {e.before.get('name')} to {e.after.get('name')}",
    "user.seat_released": lambda e: (f"{e.who} released the seat of {e.target}"
                                     + (f" ({e.after['reason']})" if e.after.get("reason") else "")),
    "role.granted": _role_granted,
    "role.revoked": lambda e: f"{e.who} took {e.role(e.before)} away from {e.target}",
    "invitation.sent": lambda e: (f"{e.who} sent an invitation to {e.target}"
                                  + (f", valid until {_day(e.after['expires_at'])}"
                                     if e.after.get("expires_at") else "")),
    "invitation.accepted": lambda e: f"{e.target} accepted the invitation",
    "invitation.revoked": _invitation_closed,
    "invitation.expired": _invitation_closed,
    "auth.login": lambda e: f"{e.who} logged in",
    "auth.password_accepted": lambda e: f"{e.who} gave the right password; the second step is next",
    "auth.login_failed": lambda e: f"A login as {e.after.get('email') or e.target} failed",
    "auth.locked_out": lambda e: f"Logins as {e.after.get('email') or e.target} are locked out for a while",
    "auth.password_changed": lambda e: f"{e.who} changed their password",
    "auth.password_reset_requested": lambda e: f"Someone asked to reset the password of {e.target}",
    "auth.password_reset_not_sent": lambda e: f"A password reset for {e.target} was asked for but not sent",
    "auth.password_reset": lambda e: f"{e.target} set a new password with a reset link",
    "auth.session_ended": lambda e: f"{e.who} ended one of their sessions",
    "auth.other_sessions_ended": lambda e: f"{e.who} ended their other sessions",
    "auth.member_sessions_ended": lambda e: f"{e.who} ended every session of {e.target}",
    "api_token.created": lambda e: _api_token(e, "created"),
    "api_token.revoked": lambda e: _api_token(e, "revoked"),
    "two_step.enrolment_started": lambda e: f"{e.who} started to set up two-step verification",
    "two_step.enabled": lambda e: f"{e.who} turned on two-step verification",
    "two_step.disabled": lambda e: f"{e.who} turned off two-step verification",
    "two_step.failed": lambda e: f"{e.who} entered a wrong two-step verification code",
    "two_step.throttled": lambda e: f"{e.who} entered too many wrong two-step verification codes",
    "organisation.two_step_required": lambda e: (
        f"{e.who} {'required' if e.after.get('require_two_step') else 'stopped requiring'} "
        f"two-step verification in {e.target}"),
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
    return f"{event.who}: {action_label(row.event.action).lower()} ({event.target})"
