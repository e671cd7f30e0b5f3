"""Sending email through Amazon SES v2, each notification exactly once.

:class:`SesSender` sends (sender address and configuration set from configuration; the local
stack prints what its emulated SES accepts). :class:`OnceMailer` wraps it in
``chalicelib.idempotency.run_once``, keyed on the email's ``key`` (notification id + recipient),
so a duplicated queue message sends nothing more.
"""

from __future__ import annotations

from typing import Any

import boto3

from chalicelib.config import get_settings
from chalicelib.idempotency import run_once
from chalicelib.models.messages import OutgoingEmail
from chalicelib.observability import logger


class SesSender:
    def __init__(self, client: Any = None) -> None:
        settings = get_settings()
        self.settings = settings
        self.client = client or boto3.client("sesv2", region_name=settings.aws_region)

    def send(self, email: OutgoingEmail) -> str:
        """One email through SES v2: simple content, or (with attachments) one raw MIME message
        (multipart/mixed holding multipart/alternative text and HTML, then each attachment; SES
        reads the recipient from its ``To`` header)."""
        content: dict[str, Any]
        if email.attachments:
            content = {"Raw": {"Data": mime_message(email, self.settings.email_sender)}}
        else:
            content = {
                "Simple": {
                    "Subject": {"Data": header_text(email.subject), "Charset": "UTF-8"},
                    "Body": {
                        "Text": {"Data": email.text, "Charset": "UTF-8"},
                        "Html": {"Data": email.html, "Charset": "UTF-8"},
                    },
                }
            }
        request: dict[str, Any] = {
            "FromEmailAddress": self.settings.email_sender,
            "Content": content,
            "EmailTags": [{"Name": "tenant", "Value": email.tenant_id}],
        }
        if not email.attachments:
            request["Destination"] = {"ToAddresses": [email.to]}
        if self.settings.ses_configuration_set:
            request["ConfigurationSetName"] = self.settings.ses_configuration_set
        message_id = str(self.client.send_email(**request).get("MessageId", ""))
        extra: dict[str, Any] = {"to": email.to, "subject": email.subject, "message_id": message_id}
        if email.attachments:
            extra["attachments"] = [a.filename for a in email.attachments]
        logger.info("email sent", extra=extra)
        return message_id


def header_text(text: str) -> str:
    """``text`` as one header line: a subject holds users' text (a course title), whose line
    breaks or other control characters would end the header or add one; each run of them and
    of white space becomes one space."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def mime_message(email: OutgoingEmail, sender: str) -> bytes:
    """``email`` as MIME bytes: multipart/mixed [multipart/alternative [text, HTML],
    attachments...], UTF-8 in quoted-printable (7-bit safe, still readable in the emulator's
    dump)."""
    from email.message import EmailMessage
    from email.policy import SMTP

    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = email.to
    message["Subject"] = header_text(email.subject)
    message.set_content(email.text, charset="utf-8", cte="quoted-printable")
    message.add_alternative(email.html, subtype="html", charset="utf-8", cte="quoted-printable")
    message.make_mixed()
    for attachment in email.attachments:
        maintype, _, rest = attachment.content_type.partition("/")
        subtype, *params = (p.strip() for p in rest.split(";"))
        part = EmailMessage(policy=SMTP)
        part.set_content(attachment.text, subtype=subtype, charset="utf-8", cte="quoted-printable")
        for param in params:
            name, _, value = param.partition("=")
            if name.lower() != "charset":
                part.set_param(name, value, header="Content-Type")
        part.add_header("Content-Disposition", "attachment", filename=attachment.filename)
        message.attach(part)
    # Headers unfolded up to SMTP's 998-octet limit: a folded Subject reads back with a
    # leading space in some parsers (Python's among them). Bodies are encoded already.
    return message.as_bytes(policy=SMTP.clone(max_line_length=998))


def _mail_key_prefix() -> str:
    """The records' key prefix the mailer has always used (Powertools' default for the sending
    method it decorated), so records written before a deploy still count after it."""
    function = get_settings().aws_lambda_function_name
    return f"{function}.chalicelib.notify.ses.OnceMailer._send_email"


class OnceMailer:
    """Sends each email key at most once (``chalicelib.idempotency.run_once``)."""

    def __init__(self, sender: SesSender | None = None, lambda_context: Any = None) -> None:
        self.sender = sender or SesSender()
        self.lambda_context = lambda_context

    def send_once(self, email: OutgoingEmail) -> bool:
        """Send unless an email with this key was sent before; True when sent now."""
        sent_now = False

        def send() -> dict[str, Any]:
            nonlocal sent_now
            sent_now = True
            return {"message_id": self.sender.send(email)}

        run_once(email.key, send, key_prefix=_mail_key_prefix(), lambda_context=self.lambda_context)
        return sent_now
