"""A scheduled finder and its queue consumer, measured at a small and a large table: many
bookings of one tenant written straight to the table (BatchWriteItem), then the AWS requests
and items read by one finder run and one consumer batch. A finder that reads a sparse due
index costs the same whatever the number of bookings."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from tests.support.counting import RequestCounter
from tests.support.eventkit import QueueTap, failures

if TYPE_CHECKING:
    from chalicelib.models.bookings import BookingStatus

#: The table sizes measured.
SIZES = (100, 5000)


class Row(NamedTuple):
    """A bulk booking: its status and times (``created_at`` defaults to now)."""

    status: BookingStatus
    starts_at: datetime
    escalate_at: datetime | None = None
    created_at: datetime | None = None
    #: An assigned session's reminder lead (armed as an assignment arms it).
    reminder_minutes: int | None = None


@dataclass(frozen=True)
class Cost:
    """One finder run and one consumer batch: the requests each made and the items each read."""

    finder: list[str]
    consumer: list[str]
    finder_items: int
    consumer_items: int


def bulk_bookings(total: int, due: int, row: Callable[[int, bool, datetime], Row]) -> list[str]:
    """``total`` bookings of the tenant ``bulktenant``, the ``n``-th as ``row(n, due, now)``
    says, where ``due`` (the first ``due`` ones) means the finder must find it. Answers the due
    ones' ids."""
    from chalicelib.context import Actor
    from chalicelib.db.booking_items import BookingItem
    from chalicelib.ids import new_id
    from chalicelib.models.bookings import Booking, BookingStatus

    taught = {BookingStatus.assigned, BookingStatus.completed}
    now = datetime.now(UTC)
    actor = Actor(user_id="loader", correlation_id="bulk")
    due_ids = []
    with BookingItem.batch_write() as batch:
        for n in range(total):
            r = row(n, n < due, now)
            booking = Booking(
                id=new_id(),
                tenant_id="bulktenant",
                student_id="student1",
                course_id="course1",
                instructor_id="instructor1" if r.status in taught else None,
                starts_at=r.starts_at,
                duration_minutes=60,
                status=r.status,
                created_at=r.created_at or now,
                updated_at=now,
                version=1,
            )
            if n < due:
                due_ids.append(booking.id)
            item = BookingItem.new(
                booking, actor, escalate_at=r.escalate_at, reminder_minutes=r.reminder_minutes
            )
            batch.save(item)
    return due_ids


def measure(
    aws_requests: RequestCounter,
    queue: QueueTap,
    find: Callable[[], Any],
    consume: Callable[[list[dict[str, Any]]], Any],
    due: int,
    row: Callable[[int, bool, datetime], Row],
) -> dict[int, Cost]:
    """At each of :data:`SIZES` bookings (``due`` of them due each time; the earlier due ones
    were consumed), one finder run queues exactly the due ones with one Query per shard and
    one SendMessageBatch, reading only them, and the consumer makes one conditional write per
    booking. Answers the cost at each size."""
    measured: dict[int, Cost] = {}
    loaded = 0
    for total in SIZES:
        due_ids = bulk_bookings(total - loaded, due, row)
        loaded = total

        aws_requests.reset()
        assert find() == {"queued": due}
        finder = aws_requests.operations("dynamodb") + aws_requests.operations("sqs")
        finder_items = aws_requests.items_read()
        messages = queue.records()
        assert sorted(json.loads(m["body"])["booking_id"] for m in messages) == sorted(due_ids)

        aws_requests.reset()
        assert failures(consume(messages)) == []
        consumer = aws_requests.operations("dynamodb") + aws_requests.operations("sqs")
        consumer_items = aws_requests.items_read()

        assert "Scan" not in finder + consumer
        assert finder.count("Query") == 8  # one per shard of the sparse index
        assert finder.count("SendMessageBatch") == 1  # the due messages, one request
        assert consumer == ["UpdateItem"] * due  # one conditional write per due booking
        assert finder_items == due  # only the due ones, wherever they are in the index
        measured[total] = Cost(finder, consumer, finder_items, consumer_items)
    return measured


def bench_figures(name: str, measured: dict[int, Cost]) -> dict[str, Any]:
    """The figures ``make bench`` prints for a finder called ``name`` and its consumer."""
    return {
        f"{name} finder": {
            f"{n:,}": {"requests": len(c.finder), "items_read": c.finder_items}
            for n, c in measured.items()
        },
        f"{name} consumer": {
            f"{n:,}": {"requests": len(c.consumer), "items_read": c.consumer_items}
            for n, c in measured.items()
        },
    }
