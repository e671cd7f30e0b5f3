"""Counting the AWS requests a call makes (the one-request-per-access-pattern budgets)."""

from __future__ import annotations


class RequestCounter:
    """AWS API requests by (service, operation), as botocore sent them."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def reset(self) -> None:
        self.calls.clear()

    def count(self, service: str = "dynamodb", operation: str | None = None) -> int:
        return sum(
            1 for s, o in self.calls if s == service and (operation is None or o == operation)
        )

    def operations(self, service: str = "dynamodb") -> list[str]:
        return [o for s, o in self.calls if s == service]
