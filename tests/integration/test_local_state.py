"""The local stack's data across restarts, and its mail page.

A snapshot of :mod:`chalicelib.local.state` brings the same data back in a fresh emulator
without replaying it as changes; :mod:`chalicelib.local.mail` shows every email readably.
"""

from __future__ import annotations

import gzip
from typing import Any

import boto3

from chalicelib.local import state
from chalicelib.local.mail import describe, kept_mail, mail_page, render
from chalicelib.local.resources import create_resources
from tests.support.emulator import isolated_emulator

REGION = "us-east-1"


def _world() -> tuple[Any, dict[str, str]]:
    env = create_resources(stage="state")
    return boto3.client("dynamodb", region_name=REGION), env


def _item(n: int) -> dict[str, Any]:
    return {
        "pk": {"S": f"T#a#C#{n:04d}"},
        "sk": {"S": "COURSE"},
        "title": {"S": f"course {n}"},
        # lists and maps nest typed values (a course's instructor_ids)
        "instructor_ids": {"L": [{"S": f"i{n}"}, {"S": "j"}]},
        "meta": {"M": {"tags": {"L": [{"N": str(n)}]}, "on": {"BOOL": True}}},
    }


def test_a_snapshot_brings_back_items_pending_records_messages_and_mail_without_new_records(
    adapted: None,
) -> None:
    with isolated_emulator():
        ddb, env = _world()
        table = env["MAIN_TABLE"]
        for n in range(6):
            ddb.put_item(TableName=table, Item=_item(n))
        sqs = boto3.client("sqs", region_name=REGION)
        sqs.send_message(
            QueueUrl=env["NOTIFICATIONS_QUEUE_URL"],
            MessageBody='{"hello": 1}',
            MessageAttributes={"kind": {"DataType": "String", "StringValue": "test"}},
        )
        boto3.client("sesv2", region_name=REGION).send_email(
            FromEmailAddress="no-reply@tutorbook.example",
            Destination={"ToAddresses": ["kept@example.com"]},
            Content={"Simple": {"Subject": {"Data": "kept"}, "Body": {"Text": {"Data": "x"}}}},
        )
        streams = boto3.client("dynamodbstreams", region_name=REGION)
        arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
        first = int(shard["SequenceNumberRange"]["StartingSequenceNumber"])
        items_before = sorted(ddb.scan(TableName=table)["Items"], key=str)
        content = state.encode(state.capture({table: first + 3}, mail_dropped=2))

    with isolated_emulator():
        ddb, env = _world()
        document = state.load_bytes(content)
        assert document is not None
        counts = state.restore(document)

        assert counts == {"items": 6, "stream_records": 2, "messages": 1, "emails": 1}
        assert sorted(ddb.scan(TableName=table)["Items"], key=str) == items_before
        streams = boto3.client("dynamodbstreams", region_name=REGION)
        arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        shard_id = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0][
            "ShardId"
        ]
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records = streams.get_records(ShardIterator=iterator)["Records"]
        # Only the records no function had finished, with their own sequence numbers.
        assert [int(r["dynamodb"]["SequenceNumber"]) for r in records] == [first + 4, first + 5]
        ddb.put_item(TableName=table, Item=_item(99))
        records = streams.get_records(ShardIterator=iterator)["Records"]
        assert int(records[-1]["dynamodb"]["SequenceNumber"]) == first + 6
        got = boto3.client("sqs", region_name=REGION).receive_message(
            QueueUrl=env["NOTIFICATIONS_QUEUE_URL"], MessageAttributeNames=["All"]
        )["Messages"]
        assert [m["Body"] for m in got] == ['{"hello": 1}']
        assert got[0]["MessageAttributes"]["kind"]["StringValue"] == "test"
        assert [(m["number"], m["subject"]) for m in kept_mail(2)] == [(3, "kept")]


def test_an_unreadable_or_foreign_snapshot_is_ignored(tmp_path: Any) -> None:
    path = tmp_path / state.FILE_NAME
    assert state.load(path) is None
    path.write_bytes(b"not gzip")
    assert state.load(path) is None
    state.write(path, gzip.compress(b'{"format": 0, "tables": {}}'))
    assert state.load(path) is None
    state.write(path, state.encode({"tables": {}, "queues": {}, "mail": {}}))
    assert state.load(path) == {"format": state.FORMAT, "tables": {}, "queues": {}, "mail": {}}


# Mail -----------------------------------------------------------------------------------------


class _Raw:
    id = "raw-1"
    source = "no-reply@tutorbook.example"
    destinations = ["a@example.com"]
    raw_data = (
        "From: no-reply@tutorbook.example\r\nTo: a@example.com, b@example.com\r\n"
        "Subject: Your session\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee you at 10:00.\r\n"
        "--b\r\nContent-Type: text/calendar; method=REQUEST\r\n"
        'Content-Disposition: attachment; filename="invite.ics"\r\n\r\nBEGIN:VCALENDAR\r\n'
        "--b--\r\n"
    )


class _Simple:
    id = "simple-1"
    source = "no-reply@tutorbook.example"
    destinations = {"ToAddresses": ["c@example.com"], "CcAddresses": ["d@example.com"]}
    subject = "Welcome"
    body = "<p>Hello&nbsp;<b>you</b></p><p>Bye</p>"


def test_simple_and_raw_emails_read_as_text_with_their_recipients_and_attachments() -> None:
    raw = describe(_Raw(), 4)
    simple = describe(_Simple(), 5)

    assert raw["subject"] == "Your session" and raw["text"] == "See you at 10:00."
    assert raw["to"] == ["a@example.com", "b@example.com"]
    assert raw["attachments"] == ["invite.ics"]
    assert simple["to"] == ["c@example.com", "d@example.com"]
    assert simple["text"] == "Hello\xa0you\nBye"
    page = render([raw, simple])
    assert "#4" in page and "Attachments: invite.ics" in page and "Subject: Welcome" in page


def test_the_mail_page_answers_newer_mail_as_json_or_text() -> None:
    with isolated_emulator():
        create_resources(stage="mail")
        ses = boto3.client("sesv2", region_name=REGION)
        for n in range(3):
            ses.send_email(
                FromEmailAddress="no-reply@tutorbook.example",
                Destination={"ToAddresses": [f"u{n}@example.com"]},
                Content={"Simple": {"Subject": {"Data": f"m{n}"}, "Body": {"Text": {"Data": "x"}}}},
            )
        page = mail_page(lambda: 10)

        status, kind, body = page("since=11")
        assert status == 200 and kind == "application/json"
        assert b'"number": 12' in body and b'"number": 11' not in body
        status, kind, body = page("format=text")
        assert b"#11" in body and b"Subject: m2" in body
        assert page("since=x")[0] == 400
