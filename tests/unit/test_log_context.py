"""Log keys belong to the request or record being handled, on its own thread only.

The local stack serves API requests on threads next to the event pump and the scheduler; a
correlation id appended for one must never appear on another's log lines.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from chalicelib.events.batch import log_context
from chalicelib.models.messages import EscalationMessage
from chalicelib.observability import logger

Lines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def log_lines(monkeypatch: pytest.MonkeyPatch) -> Iterator[Lines]:
    """The JSON lines the logger writes while the test runs (at INFO)."""
    out = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", out)
    level = logger.log_level
    logger.setLevel("INFO")
    yield lambda: [json.loads(x) for x in out.getvalue().splitlines() if x.startswith("{")]
    logger.setLevel(level)


def _message(name: str) -> EscalationMessage:
    return EscalationMessage(
        tenant_id=f"tenant-{name}",
        booking_id="b1",
        status="requested",
        due_at="2030-01-01T00:00:00.000Z",
        correlation_id=f"corr-{name}",
    )


def test_each_thread_logs_its_own_record_keys_and_none_after(log_lines: Lines) -> None:
    both_inside = threading.Barrier(2)
    both_logged = threading.Barrier(2)

    def handle(name: str) -> None:
        with log_context(_message(name)):
            both_inside.wait()  # both records' keys are set at the same time
            logger.info("inside", extra={"who": name})
            both_logged.wait()
        logger.info("after", extra={"who": name})

    threads = [threading.Thread(target=handle, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    logger.info("main thread")

    lines = log_lines()
    inside = {
        (x["who"], x["correlation_id"], x["tenant_id"]) for x in lines if x["message"] == "inside"
    }
    assert inside == {("a", "corr-a", "tenant-a"), ("b", "corr-b", "tenant-b")}
    others = [x for x in lines if x["message"] != "inside"]
    assert len(others) == 3
    assert all("correlation_id" not in x and "tenant_id" not in x for x in others), others
