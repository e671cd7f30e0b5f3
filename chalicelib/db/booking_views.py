"""Which list view a bookings read is, and the index that holds it.

A view is whose bookings are read (the tenant's for an admin, a student's, or an instructor's
assigned ones), optionally of one status; its partition key is the same on every index family.
The family says how the partition is sorted: by id (newest first, ``GET /bookings``) or by start
(the calendar view and feeds). The two rows of :data:`_INDEXES` are the only difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pynamodb.indexes import GlobalSecondaryIndex

from chalicelib.db import keys
from chalicelib.db.base import MainItem
from chalicelib.db.booking_items import BookingItem
from chalicelib.models.bookings import BookingStatus

#: How a view's partition is sorted.
Order = Literal["by_id", "by_start"]

#: Who a view lists: the tenant's (admin), a student's or an instructor's bookings.
Member = Literal[
    "tenant", "tenant_status", "student", "student_status", "instructor", "instructor_status"
]

#: The base item's indexes (gsi1..3) are typed by the base item, the others by the booking.
Index = GlobalSecondaryIndex[MainItem] | GlobalSecondaryIndex[BookingItem]

_INDEXES: dict[Order, dict[Member, Index]] = {
    "by_id": {
        "tenant": BookingItem.gsi1,
        "tenant_status": BookingItem.gsi4,
        "student": BookingItem.gsi2,
        "student_status": BookingItem.gsi5,
        "instructor": BookingItem.gsi3,
        "instructor_status": BookingItem.gsi6,
    },
    "by_start": {
        "tenant": BookingItem.cal_tenant,
        "tenant_status": BookingItem.cal_tenant_status,
        "student": BookingItem.cal_student,
        "student_status": BookingItem.cal_student_status,
        "instructor": BookingItem.cal_instructor,
        "instructor_status": BookingItem.cal_instructor_status,
    },
}


@dataclass(frozen=True)
class View:
    """One list view: its partition key, its member of an index family, and a scope that
    binds a cursor to it (the same view, status included)."""

    pk: str
    member: Member
    scope: str

    def index(self, order: Order) -> Index:
        """The index holding this view's partition, sorted by ``order``."""
        return _INDEXES[order][self.member]


def view(
    tenant_id: str,
    *,
    student_id: str | None,
    instructor_id: str | None,
    status: BookingStatus | None,
) -> View:
    """The view of a student's bookings if ``student_id`` is given, else of an instructor's if
    ``instructor_id`` is, else the tenant's; of one status if ``status`` is given."""
    s = status.value if status else None
    of_status = f":{s or '*'}"
    if student_id:
        pk = keys.student_bookings_pk(tenant_id, student_id, s)
        return View(pk, "student_status" if s else "student", f"student:{student_id}{of_status}")
    if instructor_id:
        pk = keys.instructor_bookings_pk(tenant_id, instructor_id, s)
        member: Member = "instructor_status" if s else "instructor"
        return View(pk, member, f"instructor:{instructor_id}{of_status}")
    pk = keys.bookings_index_pk(tenant_id, s)
    return View(pk, "tenant_status" if s else "tenant", f"admin{of_status}")
