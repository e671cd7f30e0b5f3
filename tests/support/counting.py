"""Counting the AWS requests a call makes (the one-request-per-access-pattern budgets).

:func:`count_requests` wraps botocore's ``BaseClient._make_api_call``, so it counts real
requests (boto3's and PynamoDB's), not code paths. DynamoDB requests also ask for their
consumed capacity (``ReturnConsumedCapacity=TOTAL``) and the items each one read, which
``make bench`` reports. :class:`RouteRequests` attributes requests to the route that made them
and to the phase they served: authentication (the caller's current role, ``services/access.py``)
or the route itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

#: DynamoDB operations that answer ``ConsumedCapacity`` when asked.
_CAPACITY_OPERATIONS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
    }
)


@dataclass
class Call:
    """One AWS request: what it was, what it consumed and how many items it read."""

    service: str
    operation: str
    capacity: float = 0.0
    items_read: int = 0


def _capacity(response: dict[str, Any]) -> float:
    consumed = response.get("ConsumedCapacity")
    entries = consumed if isinstance(consumed, list) else [consumed] if consumed else []
    return float(sum(e.get("CapacityUnits", 0) or 0 for e in entries))


def _items_read(operation: str, response: dict[str, Any]) -> int:
    if operation in ("Query", "Scan"):
        return int(response.get("ScannedCount", response.get("Count", 0)))
    if operation == "GetItem":
        return 1 if "Item" in response else 0
    if operation == "BatchGetItem":
        return sum(len(items) for items in response.get("Responses", {}).values())
    if operation == "TransactGetItems":
        return sum(1 for r in response.get("Responses", []) if r.get("Item"))
    return 0


class RequestCounter:
    """AWS API requests by (service, operation), as botocore sent them."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.details: list[Call] = []

    def reset(self) -> None:
        self.calls.clear()
        self.details.clear()

    def record(self, call: Call) -> None:
        self.calls.append((call.service, call.operation))
        self.details.append(call)

    def count(self, service: str = "dynamodb", operation: str | None = None) -> int:
        return sum(
            1 for s, o in self.calls if s == service and (operation is None or o == operation)
        )

    def operations(self, service: str = "dynamodb") -> list[str]:
        return [o for s, o in self.calls if s == service]

    def items_read(self, service: str = "dynamodb") -> int:
        return sum(c.items_read for c in self.details if c.service == service)

    def capacity(self, service: str = "dynamodb") -> float:
        return sum(c.capacity for c in self.details if c.service == service)


Patch = Callable[[Any, str, Any], None]


def count_requests(setattr_: Patch, *listeners: Callable[[Call], None]) -> RequestCounter:
    """Count every AWS request from now on (``setattr_``: a monkeypatch's ``setattr``, which
    undoes it); each request is also handed to ``listeners``."""
    import botocore.client

    counter = RequestCounter()
    original = botocore.client.BaseClient._make_api_call

    def counting(self: Any, operation_name: str, api_params: Any) -> Any:
        service = self.meta.service_model.service_name
        asks = service == "dynamodb" and operation_name in _CAPACITY_OPERATIONS
        if asks and "ReturnConsumedCapacity" not in api_params:
            api_params = {**api_params, "ReturnConsumedCapacity": "TOTAL"}
        call = Call(service, operation_name)
        try:
            response = original(self, operation_name, api_params)
        finally:  # a refused request (a failed condition) was still sent
            counter.record(call)
            for listener in listeners:
                listener(call)
        if asks and isinstance(response, dict):
            call.capacity = _capacity(response)
            call.items_read = _items_read(operation_name, response)
        return response

    setattr_(botocore.client.BaseClient, "_make_api_call", counting)
    return counter


@dataclass
class RouteCall:
    """One HTTP request the app served: its route, status, and the requests of each phase."""

    route: str
    status: int
    authentication: list[Call] = field(default_factory=list)
    handler: list[Call] = field(default_factory=list)

    def operations(self, phase: str = "handler") -> list[str]:
        calls = self.authentication if phase == "authentication" else self.handler
        return [c.operation for c in calls if c.service == "dynamodb"]


class RouteRequests:
    """The AWS requests of every route the app serves, split into authentication and handler."""

    def __init__(self) -> None:
        self.served: list[RouteCall] = []
        self._local = threading.local()

    def install(self, setattr_: Patch) -> RequestCounter:
        from chalicelib.api import authentication, framework

        original_dispatch = framework._dispatch
        original_authenticate = authentication.authenticate

        def dispatch(spec: Any, fn: Any, request: Any, path_params: Any) -> Any:
            self._local.current = RouteCall(f"{spec.method} {spec.path}", 0)
            self._local.phase = "handler"
            try:
                response = original_dispatch(spec, fn, request, path_params)
                self._local.current.status = response.status_code
                self.served.append(self._local.current)
                return response
            finally:
                self._local.current = None

        def authenticate(*args: Any, **kwargs: Any) -> Any:
            with self._phase("authentication"):
                return original_authenticate(*args, **kwargs)

        setattr_(framework, "_dispatch", dispatch)
        setattr_(framework, "authenticate", authenticate)
        return count_requests(setattr_, self._listen)

    @contextmanager
    def _phase(self, phase: str) -> Iterator[None]:
        self._local.phase = phase
        try:
            yield
        finally:
            self._local.phase = "handler"

    def _listen(self, call: Call) -> None:
        current: RouteCall | None = getattr(self._local, "current", None)
        if current is None:
            return
        phase = getattr(self._local, "phase", "handler")
        (current.authentication if phase == "authentication" else current.handler).append(call)
