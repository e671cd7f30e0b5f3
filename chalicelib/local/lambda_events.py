"""Lambda-shaped events, built from what the emulator's APIs return.

One definition of each shape, used by the event pump, the scheduler and the tests:

* :func:`sqs_record` / :func:`sqs_record_from_message`: a record of an SQS event;
* :func:`stream_record`: a record of a DynamoDB Streams event, from ``GetRecords`` output;
* :func:`scheduled_event`: EventBridge's "Scheduled Event";
* :func:`batch`: ``{"Records": [...]}``.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from chalicelib.clock import utcnow
from chalicelib.local.lambda_runtime import ACCOUNT_ID

REGION = "us-east-1"


def queue_arn(queue: str, region: str = REGION) -> str:
    return f"arn:aws:sqs:{region}:{ACCOUNT_ID}:{queue}"


def batch(records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """An event of several records, as Lambda's event source mappings send them."""
    return {"Records": [dict(record) for record in records]}


def sqs_record(
    body: str,
    *,
    arn: str | None = None,
    region: str = REGION,
    message_id: str | None = None,
    receipt_handle: str | None = None,
    attributes: Mapping[str, str] | None = None,
    message_attributes: Mapping[str, Mapping[str, Any]] | None = None,
    md5_of_body: str | None = None,
) -> dict[str, Any]:
    """One SQS record; omitted ids are fresh, ``message_attributes`` in the SQS API's shape."""
    if attributes is None:
        attributes = {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1700000000000",
            "SenderId": ACCOUNT_ID,
            "ApproximateFirstReceiveTimestamp": "1700000000000",
        }
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": receipt_handle or uuid.uuid4().hex,
        "body": body,
        "attributes": dict(attributes),
        "messageAttributes": {
            key: _message_attribute(value) for key, value in (message_attributes or {}).items()
        },
        "md5OfBody": md5_of_body or hashlib.md5(body.encode()).hexdigest(),  # noqa: S324
        "eventSource": "aws:sqs",
        "eventSourceARN": arn or queue_arn("queue", region),
        "awsRegion": region,
    }


def sqs_record_from_message(
    message: Mapping[str, Any], arn: str, region: str = REGION
) -> dict[str, Any]:
    """The SQS record Lambda would deliver for one ``ReceiveMessage`` result."""
    return sqs_record(
        message.get("Body", ""),
        arn=arn,
        region=region,
        message_id=message["MessageId"],
        receipt_handle=message["ReceiptHandle"],
        attributes=dict(message.get("Attributes", {})),
        message_attributes=message.get("MessageAttributes", {}),
        md5_of_body=message.get("MD5OfBody"),
    )


def _message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    """SQS API attribute shape -> Lambda event shape (camelCase keys)."""
    out: dict[str, Any] = {
        "dataType": value.get("DataType"),
        "stringListValues": value.get("StringListValues", []),
        "binaryListValues": value.get("BinaryListValues", []),
    }
    if "StringValue" in value:
        out["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        out["binaryValue"] = value["BinaryValue"]
    return out


def stream_record(
    record: Mapping[str, Any],
    *,
    arn: str,
    region: str = REGION,
    event_id: str | None = None,
) -> dict[str, Any]:
    """The stream record Lambda would deliver for one ``GetRecords`` result.

    ``ApproximateCreationDateTime`` becomes epoch seconds (the SDK parses it into a datetime);
    the record keeps its own ``eventID`` unless ``event_id`` is given.
    """
    data = dict(record["dynamodb"])
    created = data.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        data["ApproximateCreationDateTime"] = int(created.timestamp())
    return {
        "eventID": event_id or record.get("eventID") or uuid.uuid4().hex,
        "eventName": record["eventName"],
        "eventVersion": record.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": record.get("awsRegion") or region,
        "eventSourceARN": arn,
        "dynamodb": data,
    }


def scheduled_event(rule: str, region: str = REGION, now: datetime | None = None) -> dict[str, Any]:
    """EventBridge's "Scheduled Event" for the rule named ``rule``."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": (now or utcnow()).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{ACCOUNT_ID}:rule/{rule}"],
        "detail": {},
    }
