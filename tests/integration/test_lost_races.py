"""A write that loses to a concurrent transaction (DynamoDB's TransactionConflict) is a 409.

moto applies requests one at a time, so the conflict is injected at the connection: the next
DynamoDB write answers exactly what DynamoDB answers when another transaction holds the item.
Without the mapping these answered 500 internal_error.
"""

from __future__ import annotations

from typing import Any

import pytest
from pynamodb.connection.base import Connection
from pynamodb.exceptions import (
    CancellationReason,
    TransactWriteError,
    UpdateError,
    VerboseClientError,
)

from tests.support.bookings import make_world


def _cause(code: str, reasons: list[str] | None = None) -> Any:
    return VerboseClientError(
        {"Error": {"Code": code, "Message": "conflict"}},
        "TransactWriteItems" if reasons else "UpdateItem",
        cancellation_reasons=[CancellationReason(code=c) for c in (reasons or [])],
    )


@pytest.fixture
def conflict_next(monkeypatch):
    """Make the next transaction (or single update) lose to a concurrent transaction."""

    def arm(kind: str) -> None:
        original = getattr(Connection, kind)
        fired: list[str] = []

        def losing(self, *args, **kwargs):
            if fired:
                return original(self, *args, **kwargs)
            fired.append(kind)
            if kind == "transact_write_items":
                n = sum(len(kwargs.get(k) or []) for k in kwargs if k.endswith("_items"))
                reasons = ["TransactionConflict"] + ["None"] * (n - 1)
                cause = _cause("TransactionCanceledException", reasons)
                raise TransactWriteError("cancelled", cause=cause)
            raise UpdateError("conflict", cause=_cause("TransactionConflictException"))

        monkeypatch.setattr(Connection, kind, losing)

    return arm


def test_a_booking_transition_losing_to_a_transaction_is_409(api, conflict_next):
    world = make_world(api)
    booking = world.booking_in("requested")
    conflict_next("update_item")
    r = world.act("admin", booking["id"], "approve")
    assert r.status == 409 and r.error_code == "conflict"
    assert world.get(booking["id"]).json["status"] == "requested"


def test_an_assignment_losing_a_slot_to_a_concurrent_transaction_is_instructor_unavailable(
    api, conflict_next
):
    world = make_world(api)
    booking = world.booking_in("approved")
    conflict_next("transact_write_items")
    r = world.act("admin", booking["id"], "assign")
    assert r.status == 409 and r.error_code == "instructor_unavailable"
    assert world.get(booking["id"]).json["status"] == "approved"


def test_a_catalog_write_losing_to_a_transaction_is_409(api, acme, conflict_next):
    course = api.post("/courses", {"title": "C"}, token=acme.token).json
    conflict_next("transact_write_items")
    r = api.post(f"/courses/{course['id']}/modules", {"title": "M"}, token=acme.token)
    assert r.status == 409 and r.error_code == "conflict"
    conflict_next("update_item")
    r = api.patch(f"/courses/{course['id']}", {"title": "D"}, token=acme.token)
    assert r.status == 409
    tree = api.get(f"/courses/{course['id']}", token=acme.token).json
    assert tree["title"] == "C" and tree["modules"] == []
