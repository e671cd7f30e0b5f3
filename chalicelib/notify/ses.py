"""Sending email through Amazon SES v2, each notification exactly once.

:class:`SesSender` sends (sender address and configuration set from configuration; the local
stack prints what its emulated SES accepts). :class:`OnceMailer` wraps it in
Powertools' idempotency utility, keyed on the email's ``key`` (notification id + recipient)
and backed by the IdempotencyTable, so a duplicated queue message sends nothing more.
Powertools' idempotency is imported lazily (cold start).
"""

from __future__ import annotations

from typing import Any

import boto3

from chalicelib.config import get_settings
from chalicelib.models.messages import OutgoingEmail
from chalicelib.observability import logger


class SesSender:
    def __init__(self, client: Any = None) -> None:
        settings = get_settings()
        self.settings = settings
        self.client = client or boto3.client("sesv2", region_name=settings.aws_region)

    def send(self, email: OutgoingEmail) -> str:
        request: dict[str, Any] = {
            "FromEmailAddress": self.settings.email_sender,
            "Destination": {"ToAddresses": [email.to]},
            "Content": {
                "Simple": {
                    "Subject": {"Data": email.subject, "Charset": "UTF-8"},
                    "Body": {
                        "Text": {"Data": email.text, "Charset": "UTF-8"},
                        "Html": {"Data": email.html, "Charset": "UTF-8"},
                    },
                }
            },
            "EmailTags": [{"Name": "tenant", "Value": email.tenant_id}],
        }
        if self.settings.ses_configuration_set:
            request["ConfigurationSetName"] = self.settings.ses_configuration_set
        message_id = str(self.client.send_email(**request).get("MessageId", ""))
        logger.info(
            "email sent",
            extra={"to": email.to, "subject": email.subject, "message_id": message_id},
        )
        return message_id


class OnceMailer:
    """Sends each email key at most once (Powertools idempotency on the IdempotencyTable)."""

    def __init__(self, sender: SesSender | None = None, lambda_context: Any = None) -> None:
        from aws_lambda_powertools.utilities.idempotency import (
            DynamoDBPersistenceLayer,
            IdempotencyConfig,
            idempotent_function,
        )

        settings = get_settings()
        self.sender = sender or SesSender()
        config = IdempotencyConfig(
            event_key_jmespath="key",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=settings.idempotency_ttl_seconds,
        )
        if lambda_context is not None and hasattr(lambda_context, "get_remaining_time_in_millis"):
            config.register_lambda_context(lambda_context)
        store = DynamoDBPersistenceLayer(
            table_name=settings.idempotency_table,
            boto3_client=boto3.client("dynamodb", region_name=settings.aws_region),
        )
        self._sent_now = False
        self._send = idempotent_function(
            data_keyword_argument="email", persistence_store=store, config=config
        )(self._send_email)

    def _send_email(self, email: dict[str, Any]) -> dict[str, str]:
        self._sent_now = True
        return {"message_id": self.sender.send(OutgoingEmail.model_validate(email))}

    def send_once(self, email: OutgoingEmail) -> bool:
        self._sent_now = False
        self._send(email=email.model_dump())
        return self._sent_now
