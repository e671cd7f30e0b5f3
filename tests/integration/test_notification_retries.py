"""An email SES refuses is reported failed, retried, and then sent exactly once."""

from __future__ import annotations

from typing import Any

import boto3

from tests.support.accounts import TenantLogin, new_user
from tests.support.eventkit import (
    QueueTap,
    StreamTap,
    failures,
    sent_emails,
    sqs_event,
    stream_event,
)
from tests.support.http import Api


def test_an_email_ses_refuses_is_retried_and_then_sent_once(
    api: Api, client: Any, aws: dict[str, str], acme: TenantLogin
) -> None:
    stream, queue = StreamTap(aws["MAIN_TABLE"]), QueueTap(aws["NOTIFICATIONS_QUEUE_URL"])
    stream.skip()
    new_user(acme, "new@example.com", "instructor", name="Nina New")
    client.lambda_.invoke("dispatch_events", stream_event(stream.records()))
    messages = queue.records()
    assert len(messages) == 1

    ses = boto3.client("sesv2", region_name="us-east-1")
    ses.delete_email_identity(EmailIdentity=aws["EMAIL_SENDER"])  # SES now refuses the sender
    answer = client.lambda_.invoke("send_notifications", sqs_event(messages)).payload
    assert failures(answer) == [messages[0]["messageId"]]
    assert sent_emails() == []

    ses.create_email_identity(EmailIdentity=aws["EMAIL_SENDER"])
    for _ in range(2):  # the queue's retry, then a duplicate delivery of the same message
        answer = client.lambda_.invoke("send_notifications", sqs_event(messages)).payload
        assert failures(answer) == []
    assert [e["to"] for e in sent_emails()] == [["new@example.com"]]
