"""The event functions log structured JSON with correlation id and tenant,
and publish Powertools (EMF) metrics."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest

from chalicelib.observability import logger
from tests.support.eventkit import (
    QueueTap,
    StreamTap,
    failures,
    sqs_event,
    sqs_record,
    stream_event,
)


class Output:
    """What the functions wrote: their JSON log lines and the EMF documents they printed."""

    def __init__(self, logs: io.StringIO, capsys: pytest.CaptureFixture[str]) -> None:
        self.logs = logs
        self.capsys = capsys

    def clear(self) -> None:
        self.logs.seek(0)
        self.logs.truncate()
        self.capsys.readouterr()

    def lines(self) -> list[dict[str, Any]]:
        return json_lines(self.logs.getvalue() + "\n" + self.capsys.readouterr().out)


@pytest.fixture
def observed(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """Metrics on, INFO logs, and the logger's handler writing where the test can read."""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    level = logger.log_level
    logger.setLevel("INFO")
    logs = io.StringIO()
    handlers = [h for h in logger._logger.handlers if isinstance(h, logging.StreamHandler)]
    streams = [h.setStream(logs) for h in handlers]
    yield Output(logs, capsys)
    for handler, stream in zip(handlers, streams, strict=True):
        handler.setStream(stream)
    logger.setLevel(level)


def json_lines(text: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out


def metric_values(lines: list[dict[str, Any]]) -> dict[str, float]:
    values: dict[str, float] = {}
    for doc in lines:
        for directive in doc.get("_aws", {}).get("CloudWatchMetrics", []):
            for metric in directive["Metrics"]:
                value = doc[metric["Name"]]
                total = sum(value) if isinstance(value, list) else value
                values[metric["Name"]] = values.get(metric["Name"], 0) + total
    return values


def test_functions_log_json_with_correlation_and_tenant_and_emit_metrics(
    api, client, aws, acme, observed
):
    stream = StreamTap(aws["MAIN_TABLE"])
    queue = QueueTap(aws["NOTIFICATIONS_QUEUE_URL"])
    stream.skip()
    api.post(
        "/users",
        {"email": "o@example.com", "name": "O", "role": "student", "password": "x" * 16},
        token=acme.token,
        headers={"X-Correlation-Id": "obs-1"},
    )
    records = stream.records()
    observed.clear()

    client.lambda_.invoke("record_audit", stream_event(records))
    client.lambda_.invoke("dispatch_events", stream_event(records))
    poison = sqs_record("{}")
    answer = client.lambda_.invoke("send_notifications", sqs_event([*queue.records(), poison]))
    assert failures(answer.payload) == [poison["messageId"]]

    lines = observed.lines()
    written = [line for line in lines if line.get("message") == "audit entry written"]
    assert written and all(line["correlation_id"] == "obs-1" for line in written)
    assert all(line["tenant_id"] == acme.tenant["id"] for line in written)
    delivered = [line for line in lines if line.get("message") == "notification delivered"]
    assert delivered[0]["correlation_id"] == "obs-1"
    assert delivered[0]["tenant_id"] == acme.tenant["id"]
    assert any(line.get("level") == "ERROR" for line in lines)  # the poison message

    metrics = metric_values(lines)
    assert metrics["AuditEntriesWritten"] == 1  # the user (its credential is not audited)
    assert metrics["NotificationsQueued"] == 1
    assert metrics["EmailsSent"] == 1
    assert metrics["NotificationFailures"] == 1


def test_the_finder_and_the_escalator_emit_metrics(client, aws, observed):
    from tests.integration.test_escalation import SCHEDULED, _stale
    from tests.support.flat_cost import bulk_bookings

    bulk_bookings(10, 2, _stale)
    observed.clear()
    client.lambda_.invoke("find_stale_bookings", SCHEDULED)
    records = QueueTap(aws["ESCALATION_QUEUE_URL"]).records()
    client.lambda_.invoke("escalate_bookings", sqs_event(records + records[:1]))
    metrics = metric_values(observed.lines())
    assert metrics["StaleBookingsFound"] == 2
    assert metrics["BookingsEscalated"] == 2
    assert metrics["EscalationsAlreadyDone"] == 1


def test_metrics_never_break_a_function(client, aws, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    import aws_lambda_powertools.metrics as powertools_metrics

    class Broken:
        def __init__(self, *a: Any, **k: Any) -> None:
            raise RuntimeError("metrics backend down")

    monkeypatch.setattr(powertools_metrics, "EphemeralMetrics", Broken)
    from tests.integration.test_escalation import SCHEDULED

    assert client.lambda_.invoke("find_stale_bookings", SCHEDULED).payload == {"queued": 0}
