"""A fake Lambda runtime: the context object and the call, for the pump and the scheduler.

Nothing here knows an event source; :mod:`chalicelib.local.lambda_events` shapes the events.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

#: The account every emulated ARN names (moto's default account).
ACCOUNT_ID = "123456789012"


class LambdaContext:
    """Enough of Lambda's context object for Chalice and Powertools (logger, metrics)."""

    def __init__(self, function_name: str, region: str, timeout_ms: int = 60_000) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def invoke(handler: Callable[..., Any], name: str, event: dict[str, Any], region: str) -> Any:
    """Call an event function as Lambda would; returns its answer (raises what it raises)."""
    return handler(event, LambdaContext(name, region))


def failed_ids(answer: Any) -> set[str] | None:
    """The ids a partial-batch answer reports as failed (None: the answer reports none)."""
    if not isinstance(answer, dict) or "batchItemFailures" not in answer:
        return None
    return {
        str(item.get("itemIdentifier"))
        for item in answer.get("batchItemFailures") or []
        if isinstance(item, dict)
    }
