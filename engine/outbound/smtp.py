"""Email out: one message handed to the configured SMTP server (PMOFLOW_SMTP_*).

TLS as configured (STARTTLS required, implicit TLS, or none for a local relay), a timeout per
conversation step, sign-in if a user name is set. Error texts carry SMTP codes only: never
the password, the recipients or the message.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from engine.core.config import Settings

SECURITY = ("starttls", "ssl", "none")


class MailRejected(Exception):
    """The server refused for good (a 5xx for the recipient or the message) or the settings are wrong."""


class MailDeferred(RuntimeError):
    """The server deferred (a 4xx), refused the sign-in, or could not be reached: retrying may mend it."""


def send_mail(settings: Settings, mail: EmailMessage) -> None:
    """Hand `mail` to the SMTP server; raises MailRejected, MailDeferred, OSError and smtplib errors (retryable)."""
    if settings.smtp_security not in SECURITY:
        raise MailRejected(f"PMOFLOW_SMTP_SECURITY must be one of {', '.join(SECURITY)}")
    tls = ssl.create_default_context()
    client: smtplib.SMTP
    if settings.smtp_security == "ssl":
        client = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout, context=tls)
    else:
        client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout)
    try:
        client.ehlo()
        if settings.smtp_security == "starttls":
            client.starttls(context=tls)
            client.ehlo()
        if settings.smtp_username:
            client.login(settings.smtp_username, settings.smtp_password)
        client.send_message(mail)
    except smtplib.SMTPRecipientsRefused as err:
        codes = [code for code, _ in err.recipients.values()]
        if all(code >= 500 for code in codes):
            raise MailRejected(f"the SMTP server refused the recipient ({codes[0]})") from None
        raise MailDeferred(f"the SMTP server deferred the recipient ({codes[0]})") from None
    except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as err:
        if err.smtp_code >= 500:
            raise MailRejected(f"the SMTP server refused the message ({err.smtp_code})") from None
        raise MailDeferred(f"the SMTP server deferred the message ({err.smtp_code})") from None
    except smtplib.SMTPAuthenticationError as err:
        raise MailDeferred(f"SMTP sign-in failed ({err.smtp_code}); check PMOFLOW_SMTP_USERNAME/PASSWORD") from None
    finally:
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()
