"""A cancelled transaction names the item that failed, whatever kind of item it was.

PynamoDB sends a transaction's items grouped by kind; ``db/transactions.py`` maps DynamoDB's
per-item cancellation reasons back to the names the repository gave. If PynamoDB ever sent
them in another order, these tests would name the wrong item.
"""

from __future__ import annotations

import pytest
from pynamodb.expressions.condition import Condition

from chalicelib.context import Actor
from chalicelib.db.booking_items import InstructorSlotItem
from chalicelib.db.transactions import Cancelled, Transaction

ACTOR = Actor(user_id="tester", correlation_id="tx")


def _lock(slot: str) -> InstructorSlotItem:
    item = InstructorSlotItem(
        f"T#t1#INSTRUCTOR#i1#SLOT#{slot}",
        "SLOT",
        tenant_id="t1",
        booking_id="b1",
        instructor_id="i1",
        slot=slot,
    )
    item.stamp(ACTOR, created=True)
    return item


def _transaction(failing: str) -> None:
    """One item of each kind; only the one named ``failing`` has a condition that fails."""
    _lock("2100-01-01T10:00").save()  # the updated item exists; the others do not

    def unless_failing(name: str, holds: Condition, fails: Condition) -> Condition:
        return fails if name == failing else holds

    exists, absent = InstructorSlotItem.pk.exists(), InstructorSlotItem.pk.does_not_exist()
    with Transaction() as tx:
        tx.update(
            "update",
            _lock("2100-01-01T10:00"),
            [InstructorSlotItem.booking_id.set("b2")],
            unless_failing("update", exists, absent),
        )
        tx.save("put", _lock("2100-01-01T10:15"), unless_failing("put", absent, exists))
        tx.delete("delete", _lock("2100-01-01T10:30"), unless_failing("delete", absent, exists))
        pk = "T#t1#INSTRUCTOR#i1#SLOT#2100-01-01T10:45"
        tx.check("check", InstructorSlotItem, pk, "SLOT", unless_failing("check", absent, exists))


@pytest.mark.parametrize("failing", ["check", "delete", "put", "update"])
def test_the_failed_item_is_named(aws, failing):
    with pytest.raises(Cancelled) as cancelled:
        _transaction(failing)
    assert [
        name for name in ("check", "delete", "put", "update") if cancelled.value.failed(name)
    ] == [failing]
    assert not cancelled.value.any_conflict


def test_a_transaction_whose_conditions_hold_commits(aws):
    with Transaction() as tx:
        tx.save("put", _lock("2100-01-02T10:00"), InstructorSlotItem.pk.does_not_exist())
    assert InstructorSlotItem.get("T#t1#INSTRUCTOR#i1#SLOT#2100-01-02T10:00", "SLOT").slot == (
        "2100-01-02T10:00"
    )
