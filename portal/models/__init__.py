"""Database models: tables and constraints. Query helpers may live here; state changes live in portal.domain."""
from portal.models.api import ApiToken, IdempotencyKey
from portal.models.audit import AuditEvent
from portal.models.billing import INVOICE_KINDS, Invoice, InvoiceLine, InvoiceSequence
from portal.models.catalogue import SubscriptionType
from portal.models.insight import InsightBaseline, RevenueBaseline, RevenueTotalBaseline, SeatBaseline
from portal.models.invitation import Invitation, InvitationToken
from portal.models.notifications import NOTIFICATION_TOPICS, NotificationOptOut
from portal.models.organisation import BILLING_CYCLES, ORGANISATION_KINDS, Organisation
from portal.models.outbox import MAIL_STATUSES, MailMessage, OutboxEvent
from portal.models.prices import ClientPrice, PeriodPrice, PriceBookEntry
from portal.models.seat_request import SEAT_REQUEST_STATUSES, SeatRequest
from portal.models.security import PasswordResetToken, RecoveryCode, TwoStepAttempt
from portal.models.site import Allocation, PartnerSeatTotal, Site
from portal.models.usage import PartnerSeatChange, SeatChange
from portal.models.user import (USER_STATUSES, KnownAddress, LoginFailure, LoginSession, RoleAssignment, User,
                                 role_assignment_sites)
from portal.models.webhooks import DELIVERY_STATUSES, WebhookDelivery, WebhookEndpoint

__all__ = [
    "ApiToken",
    "IdempotencyKey",
    "AuditEvent",
    "INVOICE_KINDS",
    "InsightBaseline",
    "RevenueBaseline",
    "RevenueTotalBaseline",
    "SeatBaseline",
    "Invitation",
    "InvitationToken",
    "LoginFailure",
    "Invoice",
    "InvoiceLine",
    "InvoiceSequence",
    "KnownAddress",
    "Allocation",
    "ClientPrice",
    "PeriodPrice",
    "PriceBookEntry",
    "BILLING_CYCLES",
    "LoginSession",
    "MAIL_STATUSES",
    "MailMessage",
    "NOTIFICATION_TOPICS",
    "NotificationOptOut",
    "ORGANISATION_KINDS",
    "Organisation",
    "OutboxEvent",
    "PartnerSeatChange",
    "PartnerSeatTotal",
    "SeatChange",
    "PasswordResetToken",
    "RecoveryCode",
    "RoleAssignment",
    "SEAT_REQUEST_STATUSES",
    "SeatRequest",
    "Site",
    "SubscriptionType",
    "TwoStepAttempt",
    "USER_STATUSES",
    "User",
    "role_assignment_sites",
    "DELIVERY_STATUSES",
    "WebhookDelivery",
    "WebhookEndpoint",
]
