"""Realistic Lambda events for the event functions' tests.

* :class:`StreamTap` reads the main table's real change records from moto's stream (what
  Lambda would deliver) and shapes them as a DynamoDB Streams event, each record with a fresh,
  unique ``eventID`` unless told otherwise.
* :func:`sqs_event` builds an SQS event with a unique ``messageId`` per record; :class:`QueueTap`
  receives the real messages a function put on a queue and shapes them the same way.
* :func:`sent_emails` reads what SES (moto) has sent.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3

from chalicelib.local import lambda_events
from chalicelib.local.lambda_events import REGION, queue_arn


class StreamTap:
    """Reads the main table's stream from where it left off (one shard on moto)."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.ddb = boto3.client("dynamodb", region_name=REGION)
        self.streams = boto3.client("dynamodbstreams", region_name=REGION)
        self.arn = self.ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        self.checkpoints: dict[str, str] = {}

    def skip(self) -> None:
        """Forget everything written so far (e.g. the fixtures' sign-ups)."""
        self.records()

    def records(self) -> list[dict[str, Any]]:
        """Every record written since the last call, in stream order, shaped as Lambda's."""
        out: list[dict[str, Any]] = []
        shards = self.streams.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"]
        for shard in shards:
            sid = shard["ShardId"]
            kwargs: dict[str, Any] = {"StreamArn": self.arn, "ShardId": sid}
            if sid in self.checkpoints:
                kwargs["ShardIteratorType"] = "AFTER_SEQUENCE_NUMBER"
                kwargs["SequenceNumber"] = self.checkpoints[sid]
            else:
                kwargs["ShardIteratorType"] = "TRIM_HORIZON"
            iterator = self.streams.get_shard_iterator(**kwargs)["ShardIterator"]
            while iterator:
                page = self.streams.get_records(ShardIterator=iterator, Limit=1000)
                if not page["Records"]:
                    break
                out.extend(self._lambda_record(r) for r in page["Records"])
                self.checkpoints[sid] = page["Records"][-1]["dynamodb"]["SequenceNumber"]
                iterator = page.get("NextShardIterator")
        return out

    def _lambda_record(self, record: dict[str, Any]) -> dict[str, Any]:
        return lambda_events.stream_record(record, arn=self.arn, event_id=uuid.uuid4().hex)


def stream_event(records: list[dict[str, Any]]) -> dict[str, Any]:
    return lambda_events.batch(records)


def sqs_record(body: str, queue: str = "queue", message_id: str | None = None) -> dict[str, Any]:
    return lambda_events.sqs_record(body, arn=queue_arn(queue), message_id=message_id)


def sqs_event(records: list[dict[str, Any]]) -> dict[str, Any]:
    return lambda_events.batch(records)


class QueueTap:
    """Receives (and deletes) the messages on a queue; returns them as SQS event records."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sqs = boto3.client("sqs", region_name=REGION)

    def bodies(self) -> list[str]:
        out: list[str] = []
        while True:
            got = self.sqs.receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not got:
                return out
            for m in got:
                out.append(m["Body"])
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"])

    def records(self) -> list[dict[str, Any]]:
        name = self.url.rsplit("/", 1)[-1]
        return [sqs_record(b, queue=name) for b in self.bodies()]


def sent_emails() -> list[dict[str, Any]]:
    """Every email moto's SES (v2 keeps them in v1's backend) has sent, oldest first.

    moto keeps the HTML part when an email has both (the text part is checked elsewhere).
    """
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    backend = ses_backends[DEFAULT_ACCOUNT_ID][REGION]
    return [
        _raw_email(m)
        if getattr(m, "raw_data", None)
        else {
            "from": m.source,
            "to": list(m.destinations.get("ToAddresses", [])),
            "subject": m.subject,
            "body": m.body,
            "attachments": {},
        }
        for m in backend.sent_messages
    ]


def _raw_email(m: Any) -> dict[str, Any]:
    """A raw MIME email (one with attachments) in the shape of a simple one, plus its parsed
    MIME message and its attachments by file name (their text)."""
    import email
    import email.policy
    from email.utils import parseaddr

    message = email.message_from_string(m.raw_data, policy=email.policy.default)
    html = message.get_body(preferencelist=("html",))
    return {
        "from": m.source,
        "to": sorted({parseaddr(d)[1] for d in m.destinations}),
        "subject": str(message["Subject"]),
        "body": html.get_content() if html is not None else "",
        "attachments": {
            part.get_filename(): part.get_content() for part in message.iter_attachments()
        },
        "mime": message,
    }


def failures(answer: Any) -> list[str]:
    return [f["itemIdentifier"] for f in (answer or {}).get("batchItemFailures", [])]


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
