"""Database models. Query helpers live here; state changes live in services."""
from .api import ApiToken, IdempotencyKey
from .audit import AuditEvent
from .billing import INVOICE_KINDS, Invoice, InvoiceLine, InvoiceSequence
from .catalogue import SubscriptionType
from .invitation import Invitation, InvitationToken, LoginFailure
from .organisation import BILLING_CYCLES, ORGANISATION_KINDS, Organisation
from .site import Allocation, PartnerSeatTotal, Site
from .user import USER_STATUSES, LoginSession, RoleAssignment, User, role_assignment_sites

__all__ = [
    "ApiToken",
    "IdempotencyKey",
    "AuditEvent",
    "INVOICE_KINDS",
    "Invitation",
    "InvitationToken",
    "LoginFailure",
    "Invoice",
    "InvoiceLine",
    "InvoiceSequence",
    "Allocation",
    "BILLING_CYCLES",
    "LoginSession",
    "ORGANISATION_KINDS",
    "Organisation",
    "PartnerSeatTotal",
    "RoleAssignment",
    "Site",
    "SubscriptionType",
    "USER_STATUSES",
    "User",
    "role_assignment_sites",
]
