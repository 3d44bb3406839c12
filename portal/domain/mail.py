"""Outgoing e-mail over SMTP (PORTAL_MAIL_* settings); to the log without a server."""
import smtplib
from email.message import EmailMessage

from flask import current_app
from flask_babel import get_locale


class MailError(Exception):
    """The message could not be handed to the SMTP server."""


def send(to: str, subject: str, body: str) -> None:
    """Send one plain-text message now; raises ``MailError`` when SMTP fails.

    Without PORTAL_MAIL_SERVER the message is written to the log, so a demo
    needs no mail server. The caller builds ``subject`` and ``body`` and sends
    them in the language of the reader (``with force_locale(…)``, docs/rules.md
    rule 37); that language is stated in the ``Content-Language`` header.
    """
    config = current_app.config
    try:
        message = EmailMessage()
        message["From"] = config.get("MAIL_DEFAULT_SENDER") or "Partner Portal <portal@localhost>"
        message["To"] = to  # the e-mail was validated: no line breaks can reach a header
        message["Subject"] = subject
        message.set_content(body)  # it replaces every Content-* header: the language goes after it
        language = get_locale()
        if language is not None:
            message["Content-Language"] = language.language
    except (ValueError, TypeError) as error:
        # A header the email package refuses (a line separator in a name stored before names
        # were checked, a malformed sender setting): a failed delivery, never an error after the
        # caller's commit (docs/rules.md rule 41b).
        current_app.logger.warning("E-mail to %s not built: %s", to, error)
        raise MailError(f"The message could not be built: {error}") from error
    server = config.get("MAIL_SERVER")
    if not server:
        current_app.logger.info("E-mail (no PORTAL_MAIL_SERVER set) to %s: %s\n%s", to, subject, body)
        return
    try:
        with smtplib.SMTP(server, int(config.get("MAIL_PORT", 25)), timeout=10) as smtp:
            if _flag(config.get("MAIL_USE_TLS")):
                smtp.starttls()
            if config.get("MAIL_USERNAME"):
                smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        current_app.logger.warning("E-mail to %s not sent: %s", to, error)
        raise MailError(str(error)) from error


def _flag(value) -> bool:
    return value is True or str(value).lower() in ("1", "true", "yes", "on")
