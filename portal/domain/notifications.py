"""E-mail notifications, each of which its reader may turn off (docs/rules.md rule 33).

Four topics (``NOTIFICATION_TOPICS``), each for the users whose roles concern it:

- ``invoice_issued``: a client's invoice (period or prorated) was issued. To the
  client's users holding billing.view (client admins, accountants), with the
  PDF attached as that reader may read it: a reader limited to some sites gets
  the extract of their sites, and nothing when no line is theirs.
- ``site_running_out``: a type's free seats at a site fell to 10 % of those
  allocated, or to none. To the partner's users holding subscriptions.manage
  (finance). Once per crossing: the counters raise a ``site.running_out``
  event only on the change that crosses a line (``crossed``), never on the
  changes after it, until seats are freed or bought and it is crossed again.
- ``seat_request_created``: to the partner's finance, who decide it.
- ``seat_request_decided``: to the requester (written by
  ``portal.domain.seats.requests`` with the decision, which asks ``wants``).

The first three are written by the relay (``on_event``), in the transaction
that hands the change's event on: a change that rolled back tells nobody, and
the request that made the change never waits for the building of e-mails.
Every notification is on until its reader turns it off; an
opt-out is a row of ``notification_opt_outs``, set on the account page
(``portal.domain.accounts.preferences.set_notifications``).
"""
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from portal.domain import links, mail
from portal.extensions import db
from portal.i18n import _l, force_locale, format_day, format_money, ngettext
from portal.i18n import gettext as _
from portal.models import (NOTIFICATION_TOPICS, Invoice, NotificationOptOut, OutboxEvent, RoleAssignment,
                           SeatRequest, Site, SubscriptionType, User)
from portal.rbac.roles import ROLES, role_codes_with
from portal.rbac.scoping import invoice_lines_in_reach

RUNNING_OUT = "site.running_out"  # the event the seat counters raise when a line is crossed


@dataclass(frozen=True)
class Topic:
    """A notification: its code, its words on the account page, and whom it concerns (a permission
    held through a role of an organisation of that kind)."""

    code: str
    label: object
    hint: object
    permission: str
    organisation_kind: str


TOPICS = {
    topic.code: topic
    for topic in (
        Topic("invoice_issued", _l("An invoice is issued"),
              _l("With the invoice as a PDF, the lines of your sites only if your role is limited to some."),
              "billing.view", "client"),
        Topic("site_running_out", _l("A site is running out of seats"),
              _l("When the free seats of a type at a site fall to a tenth of those bought, and again when none "
                 "is left."),
              "subscriptions.manage", "partner"),
        Topic("seat_request_created", _l("Seats are requested"),
              _l("When a client asks for seats, so that you can approve or decline the request."),
              "subscriptions.manage", "partner"),
        Topic("seat_request_decided", _l("Your seat request is decided"),
              _l("When finance approves or declines seats you asked for."),
              "users.manage", "client"),
    )
}
assert tuple(TOPICS) == NOTIFICATION_TOPICS


def language_of(person: User) -> str:
    """The language a person reads their e-mail in: their own, else their organisation's, else English."""
    return person.language or person.organisation.language or "en"


# ---------------------------------------------------------------- the account page's choices


def topics_for(user: User) -> list[Topic]:
    """The notifications that concern ``user``: those whose permission one of their roles holds."""
    held = {permission for assignment in user.role_assignments if assignment.role in ROLES
            for permission in ROLES[assignment.role].permissions}
    kind = user.organisation.kind
    return [topic for topic in TOPICS.values() if topic.organisation_kind == kind and topic.permission in held]


def turned_off(user: User) -> set[str]:
    """The topics ``user`` turned off."""
    return set(db.session.scalars(select(NotificationOptOut.topic).where(NotificationOptOut.user_id == user.id)))


def wants(user: User, topic: str) -> bool:
    """Whether ``user`` still receives ``topic`` (every topic is on until turned off)."""
    return db.session.get(NotificationOptOut, (user.id, topic)) is None


def recipients(organisation_id: int, topic: str) -> list[User]:
    """The active users of an organisation whom ``topic`` concerns and who did not turn it off."""
    subject = TOPICS[topic]
    opted_out = select(NotificationOptOut.user_id).where(NotificationOptOut.topic == topic)
    return list(db.session.scalars(
        select(User).join(RoleAssignment, RoleAssignment.user_id == User.id)
        .where(User.organisation_id == organisation_id, User.status == "active",
               RoleAssignment.role.in_(role_codes_with(subject.permission, subject.organisation_kind)),
               User.id.not_in(opted_out))
        .distinct().order_by(User.id)))


# ---------------------------------------------------------------- a site running out


def crossed(allocated_before: int, consumed_before: int, allocated: int, consumed: int) -> str | None:
    """The line a counter change crossed downwards: "none_left", "low" (free ≤ 10 % of allocated), or None.

    A change that leaves the free seats on the same side of both lines (or
    above them) crosses nothing, so a site that stays low is told once.
    """
    before, after = _level(allocated_before, consumed_before), _level(allocated, consumed)
    return after if _LEVELS.index(after) > _LEVELS.index(before) else None


_LEVELS = ("enough", "low", "none_left")


def _level(allocated: int, consumed: int) -> str:
    free = allocated - consumed
    if allocated <= 0:
        return "enough"  # no seat of this type here: nothing to run out of
    if free <= 0:
        return "none_left"
    return "low" if free * 10 <= allocated else "enough"


# ---------------------------------------------------------------- the relay's side


def on_event(event: OutboxEvent) -> int:
    """Inside the relay's transaction: queue the notifications of one event; the number of e-mails queued."""
    handler = _HANDLERS.get(event.type)
    if handler is None:
        return 0
    return handler(event)


def _tell(event: OutboxEvent, people, topic: str, build, *, reference_id: int, attachment=None) -> int:
    """Queue one e-mail per person, built in their language by ``build(person)`` -> (subject, lines).

    A message that cannot be built is logged and skipped: the change stands
    whatever happens to its e-mail (docs/rules.md rule 41b).
    """
    queued = 0
    for person in people:
        language = language_of(person)
        try:
            with force_locale(language):
                subject, lines = build(person)
                lines += ["", _("You receive this e-mail because of your role in %(organisation)s. Turn it off "
                                "on your account page: %(link)s",
                                organisation=person.organisation.name,
                                link=links.page_link("notification_settings"))]
        except Exception:  # noqa: BLE001 - whatever it was, the change stands
            current_app.logger.exception("Notification %s to %s could not be built", topic, person.email)
            continue
        mail.queue(person.email, subject, "\n".join(lines), kind=topic, reference_id=reference_id,
                   language=language, attachment=attachment(person) if attachment else None,
                   due_since=event.created_at)
        queued += 1
    return queued


def _invoice_issued(event: OutboxEvent) -> int:
    invoice = db.session.get(Invoice, event.data.get("target_id"))
    if invoice is None or invoice.kind == "credit_note":
        return 0
    readers = [person for person in recipients(invoice.client_id, "invoice_issued")
               if invoice_lines_in_reach(person, invoice)]

    def build(person):
        names = {"number": invoice.number, "client": invoice.client.name, "seller": invoice.seller.get("legal_name")
                 or "", "total": format_money(invoice.total_with_tax, invoice.currency),
                 "start": format_day(invoice.period_start), "issued": format_day(invoice.issued_on)}
        return (_("Invoice %(number)s for %(client)s", **names),
                [_("Hello %(name)s,", name=person.name), "",
                 _("Invoice %(number)s for %(client)s was issued on %(issued)s: %(total)s, for the period "
                   "starting %(start)s.", **names),
                 _("The invoice is attached as a PDF. You can also read it in the portal: %(link)s",
                   link=links.page_link("invoice", invoice_id=invoice.id))])

    return _tell(event, readers, "invoice_issued", build, reference_id=invoice.id,
                 attachment=lambda person: f"invoice:{invoice.id}:{person.id}")


def _site_running_out(event: OutboxEvent) -> int:
    data = event.data
    site = db.session.get(Site, data.get("site_id"))
    subscription_type = db.session.get(SubscriptionType, data.get("subscription_type_id"))
    if site is None or subscription_type is None:
        return 0
    client = site.client

    def build(person):
        free, allocated = data["allocated"] - data["consumed"], data["allocated"]
        names = {"site": site.name, "client": client.name, "type": subscription_type.name}
        if free <= 0:
            subject = _("%(site)s (%(client)s) has no %(type)s seat left", **names)
            first = _("Every %(type)s seat at %(site)s (%(client)s) is in use: a new user there is refused until "
                      "a seat is added or freed.", **names)
        else:
            subject = _("%(site)s (%(client)s) is running out of %(type)s seats", **names)
            first = ngettext("%(num)d of %(allocated)d %(type)s seats at %(site)s (%(client)s) is free.",
                             "%(num)d of %(allocated)d %(type)s seats at %(site)s (%(client)s) are free.",
                             free, allocated=allocated, **names)
        return subject, [_("Hello %(name)s,", name=person.name), "", first,
                         _("Add seats on the site's page: %(link)s",
                           link=links.page_link("site", client_id=client.id, site_id=site.id))]

    return _tell(event, recipients(client.parent_id, "site_running_out"), "site_running_out", build,
                 reference_id=site.id)


def _seat_request_created(event: OutboxEvent) -> int:
    seat_request = db.session.get(SeatRequest, event.data.get("target_id"))
    if seat_request is None or seat_request.status != "pending":
        return 0  # decided before the relay came by: nothing left to ask finance
    client = seat_request.client

    def build(person):
        names = {"type": seat_request.subscription_type.name, "site": seat_request.site.name,
                 "client": client.name, "requester": seat_request.requested_by.name}
        quantity = seat_request.quantity
        lines = [_("Hello %(name)s,", name=person.name), "",
                 ngettext("%(requester)s asks for %(num)d %(type)s seat at %(site)s (%(client)s).",
                          "%(requester)s asks for %(num)d %(type)s seats at %(site)s (%(client)s).",
                          quantity, **names)]
        if seat_request.note:
            lines.append(_("Their note: %(note)s", note=seat_request.note))
        lines.append(_("Approve or decline it here: %(link)s", link=links.page_link("seat_requests")))
        return ngettext("%(client)s asks for %(num)d %(type)s seat", "%(client)s asks for %(num)d %(type)s seats",
                        quantity, **names), lines

    return _tell(event, recipients(client.parent_id, "seat_request_created"), "seat_request_created", build,
                 reference_id=seat_request.id)


_HANDLERS = {"invoice.issued": _invoice_issued, RUNNING_OUT: _site_running_out,
             "seat_request.created": _seat_request_created}
