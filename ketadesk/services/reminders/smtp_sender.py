"""Hand one message to the clinic's SMTP server with the standard library (smtplib)."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from ketadesk.services.reminders.mail_settings import ReminderSettings

__all__ = ["SendFailed", "send_message"]


class SendFailed(Exception):
    """The server could not be reached or refused the message (the text says which)."""


def send_message(settings: ReminderSettings, message: EmailMessage) -> None:
    """Send, or raise SendFailed; ``settings`` must hold the real password (``reveal=True``)."""
    try:
        if settings.security == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.host,
                settings.port,
                timeout=settings.timeout_seconds,
                context=ssl.create_default_context(),
            )
        else:
            smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds)
        with smtp:
            if settings.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if settings.username:
                smtp.login(settings.username, settings.password)
            smtp.send_message(message)
    except smtplib.SMTPResponseException as err:
        text = err.smtp_error.decode(errors="replace") if isinstance(err.smtp_error, bytes) else ""
        raise SendFailed(f"the server refused: {err.smtp_code} {text}".strip()) from None
    except smtplib.SMTPRecipientsRefused as err:
        raise SendFailed(f"the server refused the recipient {', '.join(err.recipients)}") from None
    except (smtplib.SMTPException, OSError) as err:
        # The message of these never holds the password (login failures are responses above).
        raise SendFailed(f"{settings.host}:{settings.port}: {err}") from None
