"""Outgoing e-mail: queued with the change, sent by a worker over SMTP (docs/rules.md rule 31).

A change that calls for an e-mail builds it in the reader's language and
``queue``s it in its own transaction: a row of ``mail_messages``, handed to
the task queue once the transaction commits. A web request never waits for
SMTP. A worker's task calls ``deliver``: it claims the row with a
conditional UPDATE (``… WHERE status = 'pending'``), so two workers holding
the same task send the message once, then sends it over SMTP (PORTAL_MAIL_*
settings; to the log without a server). A failed attempt is tried again after
the next delay of PORTAL_MAIL_RETRY_SECONDS (default
``60,300,1800,7200,21600,86400``), then the message is marked failed; a
message past its ``expires_at`` (a password reset link that died) is not
sent. A worker killed while sending leaves its claim behind: after
``CLAIM_LEASE`` the relay makes the message pending again (at-least-once).

What each kind of message means to its subject (an invitation shown as
"sent" or "not sent — retry") is recorded by the handler its module
registers with ``on_outcome``, in the transaction that records the attempt.
"""
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

from flask import current_app
from flask_babel import get_locale
from sqlalchemy import select, update

from portal import metrics
from portal.domain import handoff
from portal.domain.transactions import write_transaction
from portal.extensions import db
from portal.i18n import force_locale
from portal.models import MailMessage
from portal.models.mixins import utcnow

DEFAULT_RETRY_SECONDS = (60, 300, 1800, 7200, 21600, 86400)
# A claim older than this belongs to a worker that died: the message is tried again.
CLAIM_LEASE = timedelta(minutes=10)
# A message due this long and not queued this long has lost its task: the relay queues it again.
LOST_AFTER = timedelta(minutes=10)
MAX_ERROR = 500


class MailError(Exception):
    """The message could not be handed to the SMTP server; ``permanent``: trying again cannot help."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class Outcome:
    """What one attempt did: ``status`` "sent", "retry" (again at ``retry_at``) or "failed"."""

    status: str
    retry_at: datetime | None = None


@dataclass(frozen=True)
class Attachment:
    """A file sent with a message."""

    filename: str
    media_type: str  # "application/pdf"
    content: bytes


_handlers: dict[str, Callable[[MailMessage, str], None]] = {}
_builders: dict[str, Callable[[str], Attachment]] = {}


def attachment_builder(kind: str):
    """Register ``build(reference) -> Attachment`` for the attachments named ``"<kind>:<reference>"``.

    It runs when the message is sent, in the worker, in the reader's language.
    It raises ``MailError(permanent=True)`` when the file can no longer be
    made for this reader (trying again cannot help); any other error is
    retried like an SMTP failure. The web layer registers the invoice PDF
    (the domain builds no documents).
    """

    def register(build):
        _builders[kind] = build
        return build

    return register


def build_attachment(name: str) -> Attachment:
    """The file an ``attachment`` name stands for (see ``attachment_builder``)."""
    kind, _, reference = name.partition(":")
    build = _builders.get(kind)
    if build is None:
        raise MailError(f"no builder for the attachment {name!r}", permanent=True)
    return build(reference)


def on_outcome(kind: str):
    """Register ``handler(message, status)``, called for each attempt at a message of ``kind``.

    It runs inside the transaction that records the attempt; ``status`` is
    "sent", "retry" or "failed" (given up).
    """

    def register(handler):
        _handlers[kind] = handler
        return handler

    return register


# ---------------------------------------------------------------- queueing


def queue(to: str, subject: str, body: str, *, kind: str, reference_id: int | None = None,
          language: str | None = None, expires_at: datetime | None = None,
          attachment: str | None = None, due_since: datetime | None = None) -> MailMessage:
    """Add a message to the current transaction; it is handed to the task queue once that commits.

    ``subject`` and ``body`` are already in the reader's ``language`` (built
    inside ``force_locale``). Nothing is sent if the transaction rolls back.
    ``attachment`` names a file built when the message is sent (see
    ``attachment_builder``). ``due_since``: when the change that calls for it
    happened, if earlier (a notification written by the relay), so a run of
    every job due when it started sends it. The message is written with the
    transaction's next flush (its ``id`` is None until then).
    """
    now = utcnow()
    due = min(due_since or now, now)
    message = MailMessage(kind=kind, reference_id=reference_id, recipient=to, subject=subject, body=body,
                          language=language, attachment=attachment, status="pending", attempts=0, next_attempt_at=due,
                          expires_at=expires_at, queued_at=now, created_at=now)
    db.session.add(message)
    handoff.after_commit("send_mail", message)  # its id once the commit writes it: no flush here
    return message


def cancel(kind: str, reference_id: int) -> int:
    """Inside the caller's transaction: stop the pending messages of ``kind`` about ``reference_id``."""
    return db.session.execute(
        update(MailMessage)
        .where(MailMessage.kind == kind, MailMessage.reference_id == reference_id, MailMessage.status == "pending")
        .values(status="cancelled", body=None).execution_options(synchronize_session=False)).rowcount


def retry_seconds() -> tuple[int, ...]:
    """The delays before each retry (PORTAL_MAIL_RETRY_SECONDS: "60,300,…", a number, or a list)."""
    return seconds_list(current_app.config.get("MAIL_RETRY_SECONDS", DEFAULT_RETRY_SECONDS), "MAIL_RETRY_SECONDS")


def seconds_list(value, setting: str) -> tuple[int, ...]:
    """A list of delays in seconds, from a setting written "60,300,…", a number or a list (also the webhooks')."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [value]
    elif isinstance(value, str):
        value = [part for part in value.replace(" ", "").split(",") if part]
    try:
        delays = tuple(int(part) for part in value)
    except (TypeError, ValueError):
        delays = ()
    if any(delay < 0 for delay in delays) or (not delays and value):
        raise RuntimeError(f"PORTAL_{setting} must be seconds separated by commas, not {value!r}.")
    return delays


# ---------------------------------------------------------------- sending (the worker's side)


def deliver(message_id: int, *, cutoff: datetime | None = None, will_retry: bool = True) -> Outcome | None:
    """One attempt at message ``message_id``, if it is pending and due by ``cutoff`` (default now).

    Claims it first; None when it was not ours to send (sent, claimed by
    another worker, cancelled, or not due). Commits the outcome, the
    retry's time and what its kind's handler records. ``will_retry``: the
    caller queues the retry itself (a worker), so the row counts as queued.
    """
    now = utcnow()
    cutoff = min(cutoff or now, now)
    with write_transaction():
        claimed = db.session.execute(
            update(MailMessage)
            .where(MailMessage.id == message_id, MailMessage.status == "pending",
                   MailMessage.next_attempt_at <= cutoff)
            .values(status="sending", claimed_at=now, attempts=MailMessage.attempts + 1)
            .execution_options(synchronize_session=False)).rowcount
    if not claimed:
        return None
    message = db.session.get(MailMessage, message_id, populate_existing=True)
    to, subject, body, language = message.recipient, message.subject, message.body or "", message.language
    attachment = message.attachment
    attempts, expires_at = message.attempts, message.expires_at
    db.session.rollback()  # no transaction held open while SMTP talks
    error, permanent = None, False
    if expires_at is not None and expires_at <= now:
        error, permanent = "expired before it could be sent", True
    else:
        try:
            with force_locale(language or "en"):
                send(to, subject, body, [attachment] if attachment else [])
        except MailError as failure:
            error, permanent = str(failure) or type(failure).__name__, failure.permanent
        except Exception as failure:  # noqa: BLE001 - whatever it was, the message is tried again later
            current_app.logger.exception("E-mail %s to %s not sent", message_id, to)
            error = f"{type(failure).__name__}: {failure}"
    outcome = _record(message_id, now, attempts, expires_at, error, permanent, will_retry)
    if outcome is not None:
        metrics.count_attempt("mail", outcome.status)
    return outcome


def _record(message_id: int, claimed_at: datetime, attempts: int, expires_at, error: str | None, permanent: bool,
            will_retry: bool) -> Outcome | None:
    with write_transaction():
        done = utcnow()
        delays = retry_seconds()
        if error is None:
            outcome = Outcome("sent")
            values = dict(status="sent", sent_at=done, body=None, last_error=None)
        else:
            retry_at = done + timedelta(seconds=delays[attempts - 1]) if attempts <= len(delays) else None
            if permanent or retry_at is None or (expires_at is not None and retry_at >= expires_at):
                outcome = Outcome("failed")
                values = dict(status="failed", body=None, last_error=error[:MAX_ERROR])
            else:
                outcome = Outcome("retry", retry_at)
                values = dict(status="pending", next_attempt_at=retry_at, last_error=error[:MAX_ERROR],
                              **({"queued_at": done} if will_retry else {}))
        # Still ours? After CLAIM_LEASE the relay may have handed the message to another worker.
        ours = db.session.execute(
            update(MailMessage)
            .where(MailMessage.id == message_id, MailMessage.status == "sending",
                   MailMessage.claimed_at == claimed_at)
            .values(claimed_at=None, **values).execution_options(synchronize_session=False)).rowcount
        if not ours:
            return None
        message = db.session.get(MailMessage, message_id, populate_existing=True)
        handler = _handlers.get(message.kind)
        if handler is not None:
            handler(message, outcome.status)
    return outcome


def due(cutoff: datetime) -> list[int]:
    """The pending messages whose attempt is due by ``cutoff``, oldest first."""
    ids = db.session.scalars(select(MailMessage.id)
                             .where(MailMessage.status == "pending", MailMessage.next_attempt_at <= cutoff)
                             .order_by(MailMessage.next_attempt_at, MailMessage.id)).all()
    db.session.rollback()
    return list(ids)


def recover(now: datetime | None = None) -> list[int]:
    """Make the work of dead workers due again; the messages whose task was lost, to queue again.

    A claim older than ``CLAIM_LEASE`` goes back to pending (its attempt
    counted). A message due for longer than ``LOST_AFTER`` and not queued in
    that time is returned, marked queued now. Commits.
    """
    now = now or utcnow()
    with write_transaction():
        db.session.execute(update(MailMessage)
                           .where(MailMessage.status == "sending", MailMessage.claimed_at < now - CLAIM_LEASE)
                           .values(status="pending", claimed_at=None)
                           .execution_options(synchronize_session=False))
        lost = db.session.scalars(select(MailMessage.id).where(
            MailMessage.status == "pending", MailMessage.next_attempt_at <= now - LOST_AFTER,
            (MailMessage.queued_at.is_(None)) | (MailMessage.queued_at <= now - LOST_AFTER))).all()
        if lost:
            db.session.execute(update(MailMessage).where(MailMessage.id.in_(lost)).values(queued_at=now)
                               .execution_options(synchronize_session=False))
    return list(lost)


def send(to: str, subject: str, body: str, attachments: list[str] = ()) -> None:
    """Send one plain-text message now, with the files its ``attachments`` name; raises ``MailError`` when
    SMTP fails or a file cannot be made (see ``attachment_builder``).

    Without PORTAL_MAIL_SERVER the message is written to the log, so a demo
    needs no mail server. The caller runs it in the language of the reader
    (``with force_locale(…)``, docs/rules.md rule 37); that language is stated
    in the ``Content-Language`` header. Each SMTP step waits at most
    PORTAL_MAIL_TIMEOUT seconds (10).
    """
    config = current_app.config
    try:
        message = EmailMessage()
        message["From"] = config.get("MAIL_DEFAULT_SENDER") or "Partner Portal <portal@localhost>"
        message["To"] = to  # the e-mail was validated: no line breaks can reach a header
        message["Subject"] = subject
        message.set_content(body)
    except (ValueError, TypeError) as error:
        # A header the email package refuses (a line separator in a name stored before names
        # were checked, a malformed sender setting): a failed delivery, never an error after the
        # caller's commit (docs/rules.md rule 41b), and no retry would build it better.
        current_app.logger.warning("E-mail to %s not built: %s", to, error)
        raise MailError(f"The message could not be built: {error}", permanent=True) from error
    server = config.get("MAIL_SERVER")
    if not server:  # the files are not made for the log: an invoice's PDF costs a tenth of a second
        current_app.logger.info("E-mail (no PORTAL_MAIL_SERVER set) to %s: %s\n%s%s", to, subject, body,
                                "".join(f"\n[attached: {name}]" for name in attachments))
        return
    for name in attachments:
        file = build_attachment(name)
        maintype, _, subtype = file.media_type.partition("/")
        message.add_attachment(file.content, maintype=maintype, subtype=subtype, filename=file.filename)
    language = get_locale()
    if language is not None:  # last: set_content and add_attachment move the Content-* headers they find
        message["Content-Language"] = language.language
    try:
        with smtplib.SMTP(server, int(config.get("MAIL_PORT", 25)),
                          timeout=float(config.get("MAIL_TIMEOUT") or 10)) as smtp:
            if _flag(config.get("MAIL_USE_TLS")):
                smtp.starttls()
            if config.get("MAIL_USERNAME"):
                smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        current_app.logger.warning("E-mail to %s not sent: %s", to, error)
        raise MailError(str(error) or type(error).__name__) from error


def _flag(value) -> bool:
    return value is True or str(value).lower() in ("1", "true", "yes", "on")
