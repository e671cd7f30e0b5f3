"""The time-ordered work queues across all tenants, read by the scheduled finders.

Each is a sparse index of booking items, spread over a few shard partitions and sorted by
``<time>#<tenant>#<booking>`` (``keys.booking_due_sk`` layout): ``due`` (escalation),
``expiry`` (waiting bookings that start) and ``reminder`` (assigned sessions to remind of).
A finder reads each shard only up to now, so it costs one Query per shard whatever the number
of bookings, and never a Scan.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.condition import Condition

from chalicelib.clock import iso
from chalicelib.db import keys
from chalicelib.db.base import MainItem, is_condition_failure
from chalicelib.db.booking_items import BookingItem

T = TypeVar("T")


@dataclass(frozen=True)
class WorkQueue:
    """One of these indexes: the PynamoDB index, its range-key attribute, how a shard's
    partition is named, and how many shards there are."""

    index: Any
    sort_key: Any
    pk_of: Callable[[int], str]
    shards: int


#: Waiting bookings by escalate-at (``db/escalation_queue.py``).
DUE = WorkQueue(MainItem.due, MainItem.due_sk, keys.booking_due_pk, keys.BOOKING_DUE_SHARDS)
#: Waiting bookings by start (``db/expiry_queue.py``).
EXPIRY = WorkQueue(
    BookingItem.expiry, BookingItem.expiry_sk, keys.booking_expiry_pk, keys.BOOKING_EXPIRY_SHARDS
)
#: Assigned sessions by remind-at (``db/reminder_queue.py``).
REMINDERS = WorkQueue(
    BookingItem.reminder,
    BookingItem.remind_sk,
    keys.booking_reminder_pk,
    keys.BOOKING_REMINDER_SHARDS,
)


def read_due(
    queue: WorkQueue,
    *,
    now: datetime,
    limit: int,
    take: Callable[[BookingItem], T | None],
    when: Callable[[T], datetime],
) -> list[T]:
    """What ``take`` makes of the items of ``queue`` whose time is at or before ``now``, at most
    ``limit``, earliest ``when`` first: one Query per shard, each limited to what is still
    wanted. ``take`` answers None for an item the caller passes over (it does not count towards
    ``limit``)."""
    upper = keys.booking_due_sk_upto(iso(now))
    found: list[T] = []
    for shard in range(queue.shards):
        remaining = limit - len(found)
        if remaining <= 0:
            break
        results = queue.index.query(
            queue.pk_of(shard),
            range_key_condition=queue.sort_key < upper,
            limit=remaining,
            page_size=remaining,
        )
        for item in results:
            if not isinstance(item, BookingItem):
                continue  # pragma: no cover - only bookings are written under these keys
            taken = take(item)
            if taken is not None:
                found.append(taken)
    found.sort(key=when)  # each shard is in order; together they are not
    return found


#: Any stored version: a consumer's write is conditional on the booking's state and its place
#: on the queue, not on its version; PynamoDB bumps a VersionAttribute only when the item knows
#: it has one.
_UNREAD_VERSION = 0


def update_if(tenant_id: str, booking_id: str, actions: list[Any], condition: Condition) -> bool:
    """A queue consumer's ONE conditional UpdateItem of a booking (the version rises by one).
    False, writing nothing, when the condition fails (the booking moved on meanwhile) or the
    ids cannot name a booking."""
    try:
        pk, sk = keys.booking_key(tenant_id, booking_id)
    except ValueError:
        return False
    item = BookingItem(pk, sk, version=_UNREAD_VERSION)
    try:
        item.update(actions=actions, condition=condition, add_version_condition=False)
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True
