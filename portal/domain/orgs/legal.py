"""Legal and tax details of partners and clients (docs/rules.md rule 25), and what invoices copy of them.

A partner has a legal name, an address, a VAT number, a tax rate (the default
of its clients) and a tax note; a client the same plus a billing e-mail, its
rate being null to follow its partner's. Every field but a partner's rate may
stay empty: an invoice then names the organisation by its ``name``, with an
empty address and VAT number.

Invoices copy the parties (``party``) and the tax terms (``tax_terms``) when
they are issued (``portal.domain.billing.invoices.issue``), so a later change
here never rewrites an issued invoice.
"""
import re

from sqlalchemy import select

from portal.domain import audit, validation
from portal.domain.billing import prices
from portal.domain.errors import Forbidden, Invalid
from portal.domain.transactions import write_transaction
from portal.extensions import db
from portal.i18n import _l, format_basis_points
from portal.i18n import gettext as _
from portal.models import Organisation
from portal.rbac.permissions import manage_client, manage_partner_details, may

MAX_LEGAL_NAME = 200
MAX_ADDRESS = 1000
MAX_VAT_NUMBER = 40
MAX_TAX_NOTE = 200
# A VAT or tax number as registries print them: letters and digits, maybe grouped by spaces, dots, hyphens
# or slashes ("FR 12 345678901", "DE123456789", "CHE-123.456.789 MWST").
_VAT_NUMBER = re.compile(r"[A-Za-z0-9]+(?:[ .\-/][A-Za-z0-9]+)*")
# What the snapshots hold, always all three (docs/rules.md rule 25; the API's ``seller`` and ``buyer``).
PARTY_KEYS = ("legal_name", "address", "vat_number")
# The details an audit event compares, in the order the sentence names them.
CLIENT_FIELDS = ("legal_name", "address", "vat_number", "billing_email", "tax_rate_bp", "tax_note")
PARTNER_FIELDS = ("legal_name", "address", "vat_number", "tax_rate_bp", "tax_note")


def party(organisation: Organisation) -> dict:
    """An invoice's snapshot of one party: ``{legal_name, address, vat_number}``.

    The legal name falls back to the organisation's name; a missing address or VAT number is "".
    """
    return {"legal_name": organisation.legal_name or organisation.name, "address": organisation.address or "",
            "vat_number": organisation.vat_number or ""}


def tax_terms(client: Organisation) -> tuple[int, str | None]:
    """The tax rate (basis points) and the tax note an invoice issued to ``client`` now carries.

    The client's own rate, else its partner's. The note: the client's own, else
    the partner's when the partner's rate applies (a reverse-charge note set on
    the partner goes with its 0 % rate, not with a client's own 20 %).
    """
    partner = client.parent
    if client.tax_rate_bp is not None:
        return client.tax_rate_bp, client.tax_note
    return (partner.tax_rate_bp or 0), (client.tax_note or partner.tax_note)


def tax_rate_from_percent(value, field: str = "tax_rate") -> int:
    """A tax rate typed as a percentage with at most two decimals ("20", "5.5", "8,1") → basis points."""
    return prices.basis_points_from_percent(
        value, field, empty=_("Enter the tax rate as a percentage, e.g. 20 or 5.5."),
        negative=_("The tax rate cannot be negative."),
        malformed=_("Enter the tax rate as a percentage with at most two decimals, e.g. 5.5."),
        too_high=_("The tax rate is at most %(maximum)s.", maximum=format_basis_points(prices.MAX_DISCOUNT_BP)))


def update_client_legal(actor, client: Organisation, legal_name, address, vat_number, billing_email, tax_rate,
                        tax_note) -> Organisation:
    """Set a client's legal and tax details (``clients.manage`` on the client: its partner's administrators,
    the operator); ``Forbidden`` otherwise.

    Every value is text as typed; blank clears it. ``tax_rate`` is a percentage
    with at most two decimals (blank: the partner's rate applies). Bad input is
    ``Invalid`` on its field (``legal_name``, ``address``, ``vat_number``,
    ``billing_email``, ``tax_rate``, ``tax_note``) before anything is written.
    One transaction with a ``client.legal_updated`` audit event (the changed
    fields, before and after); nothing changed, nothing written. Invoices
    already issued keep the details they were issued with.
    """
    if client.kind != "client":
        raise Invalid(_("These details are a client's."), field="legal_name")
    if not may(actor, manage_client(client)):
        raise Forbidden(_("Changing a client's legal and tax details needs the clients.manage permission."))
    values = _common(legal_name, address, vat_number, tax_note)
    values["billing_email"] = validation.email(billing_email, "billing_email") if _given(billing_email) else None
    values["tax_rate_bp"] = tax_rate_from_percent(tax_rate) if _given(tax_rate) else None
    return _save(actor, client, values, CLIENT_FIELDS, "client.legal_updated", "client", client.id)


def update_partner_legal(actor, partner: Organisation, legal_name, address, vat_number, tax_rate,
                         tax_note) -> Organisation:
    """Set a partner's legal and tax details: its administrators (``clients.manage`` over the partner) or
    the operator; ``Forbidden`` otherwise.

    As ``update_client_legal``, but the tax rate is required (it is every
    client's default; "0" with a note for reverse charge). Audit event
    ``partner.legal_updated``, in the partner's own log.
    """
    if partner.kind != "partner":
        raise Invalid(_("These details are a partner's."), field="legal_name")
    if not may(actor, manage_partner_details(partner)):
        raise Forbidden(_("Changing a partner's legal and tax details needs the clients.manage permission "
                          "over the partner."))
    values = _common(legal_name, address, vat_number, tax_note)
    values["tax_rate_bp"] = tax_rate_from_percent(tax_rate)
    return _save(actor, partner, values, PARTNER_FIELDS, "partner.legal_updated", "partner", partner.id)


def _given(value) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _common(legal_name, address, vat_number, tax_note) -> dict:
    """The details partners and clients share, checked (blank → None), else ``Invalid`` on the first bad one."""
    values = {
        "legal_name": validation.text(legal_name, "legal_name", label=_l("legal name"), max_length=MAX_LEGAL_NAME)
        if _given(legal_name) else None,
        "address": _address(address) if _given(address) else None,
        "vat_number": _vat_number(vat_number) if _given(vat_number) else None,
        "tax_note": validation.text(tax_note, "tax_note", label=_l("tax note"), max_length=MAX_TAX_NOTE)
        if _given(tax_note) else None,
    }
    return values


def _address(value) -> str:
    """Several lines; each line's ends trimmed and blank lines dropped."""
    text = validation.text(value, "address", label=_l("address"), max_length=MAX_ADDRESS, lines=True)
    return "\n".join(line.strip() for line in text.split("\n") if line.strip())


def _vat_number(value) -> str:
    text = validation.text(value, "vat_number", label=_l("VAT number"), max_length=MAX_VAT_NUMBER)
    text = " ".join(text.split())
    if not _VAT_NUMBER.fullmatch(text):
        raise Invalid(_("Enter the VAT number with letters and digits only, e.g. FR12345678901."), field="vat_number")
    return text.upper()


def _save(actor, organisation: Organisation, values: dict, fields, action: str, target_type: str,
          audit_organisation_id: int) -> Organisation:
    organisation_id = organisation.id
    with write_transaction():
        # The row locked, so two people changing it at once each record a change from what it really was.
        locked = db.session.scalar(select(Organisation).where(Organisation.id == organisation_id)
                                   .with_for_update().execution_options(populate_existing=True))
        before = {name: getattr(locked, name) for name in fields if getattr(locked, name) != values[name]}
        if before:
            for name in before:
                setattr(locked, name, values[name])
            audit.record(actor, action, target_type, organisation_id, audit_organisation_id,
                         before=before, after={name: values[name] for name in before})
    return locked
