"""The booking's items on the main table: the booking, its list indexes and instructor-time locks.

Key design (formats in ``db/keys.py``, "bookings" section):

* the booking: pk ``T#<tid>#BOOKING#<bid>`` / sk ``BOOKING`` (one GetItem per booking);
* six list views, each one Query per page, newest first (sort key = the ULID id, read descending):
  gsi1 admin-all, gsi4 admin-by-status, gsi2 student-all, gsi5 student-by-status,
  gsi3 instructor-all, gsi6 instructor-by-status (the instructor ones only once assigned);
  the status filter is part of the partition key, so it reads nothing else;
* the waiting-bookings queue: the sparse ``due`` GSI (see ``db/escalation_queue.py``);
* instructor time: one ``instructor_slot`` lock item per 15-minute block an assigned booking
  covers (``models.bookings.slots_covering``);
* instructor time by start: the sparse ``cal_instructor_status`` index, partition ``gsi6pk``
  (an instructor's bookings in one status) ordered by ``start_sk`` = ``<starts_at ISO>#<id>``
  (only bookings carry it). Access pattern: an instructor's ``assigned`` bookings that start
  inside a range (the free-slot finder's read of taken time, one Query per instructor); it is
  also the instructor-with-status variant of the calendar view.
* bookings waiting to start: the sparse ``expiry`` index (see ``db/expiry_queue.py``),
  partition ``EXPIRY#BOOKING#<shard>`` ordered by ``<starts_at>#<tid>#<bid>``; only bookings in
  ``requested`` / ``approved`` carry its keys. Access pattern: the expiry finder's "which
  waiting bookings have started" (one Query per shard, reading only those).
* sessions to remind of: the sparse ``reminder`` index (see ``db/reminder_queue.py``),
  partition ``REMIND#BOOKING#<shard>`` ordered by ``<remind-at>#<tid>#<bid>``; only
  ``assigned`` bookings whose reminder has not gone out carry its keys (remind-at = start minus
  the tenant's ``reminder_minutes_before`` when it was assigned). Access pattern: the reminder
  finder's "which reminders are due" (one Query per shard, reading only those).
* the calendar view (``GET /bookings?from=&to=``) by start: five more sparse indexes that reuse
  the list views' partitions with ``start_sk`` as sort key, so each view is one Query per page
  that reads only bookings starting inside the range (declared in ``infra/resources.json``):

  - ``cal_tenant`` (``gsi1pk``): an admin's calendar, every booking of the tenant;
  - ``cal_tenant_status`` (``gsi4pk``): an admin's calendar of one status;
  - ``cal_student`` (``gsi2pk``): a student's calendar of their own bookings;
  - ``cal_student_status`` (``gsi5pk``): a student's calendar of one status (the student's
    calendar feed reads its ``assigned`` partition);
  - ``cal_instructor`` (``gsi3pk``): an instructor's calendar of the bookings assigned to them;
    with a status it is ``cal_instructor_status`` above (the instructor's calendar feed too).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, VersionAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib.clock import iso
from chalicelib.context import Actor
from chalicelib.db import keys
from chalicelib.db.base import MainItem
from chalicelib.models.bookings import EXPIRES_FROM, Booking, BookingStatus, slots_covering

#: Lock items outlive the session they guard by this much, then TTL removes them.
SLOT_RETENTION = timedelta(days=7)


# --- indexes only bookings use (declared in infra/resources.json) -------------------------------
class _Gsi4(GlobalSecondaryIndex["BookingItem"]):
    class Meta:
        index_name = "gsi4"
        projection = AllProjection()

    gsi4pk = UnicodeAttribute(hash_key=True)
    gsi4sk = UnicodeAttribute(range_key=True)


class _Gsi5(GlobalSecondaryIndex["BookingItem"]):
    class Meta:
        index_name = "gsi5"
        projection = AllProjection()

    gsi5pk = UnicodeAttribute(hash_key=True)
    gsi5sk = UnicodeAttribute(range_key=True)


class _Gsi6(GlobalSecondaryIndex["BookingItem"]):
    class Meta:
        index_name = "gsi6"
        projection = AllProjection()

    gsi6pk = UnicodeAttribute(hash_key=True)
    gsi6sk = UnicodeAttribute(range_key=True)


class _CalInstructorStatus(GlobalSecondaryIndex["BookingItem"]):
    """Calendar view: ``gsi6pk`` ordered by start."""

    class Meta:
        index_name = "cal_instructor_status"
        projection = AllProjection()

    gsi6pk = UnicodeAttribute(hash_key=True)
    start_sk = UnicodeAttribute(range_key=True)


class _Expiry(GlobalSecondaryIndex["BookingItem"]):
    """Bookings waiting to start (sparse: only ``requested`` / ``approved`` ones)."""

    class Meta:
        index_name = "expiry"
        projection = AllProjection()

    expiry_pk = UnicodeAttribute(hash_key=True)
    expiry_sk = UnicodeAttribute(range_key=True)


class _Reminder(GlobalSecondaryIndex["BookingItem"]):
    """Assigned sessions whose reminder is still to go out (sparse), by remind-at."""

    class Meta:
        index_name = "reminder"
        projection = AllProjection()

    remind_pk = UnicodeAttribute(hash_key=True)
    remind_sk = UnicodeAttribute(range_key=True)


class _CalTenant(GlobalSecondaryIndex["BookingItem"]):
    """Calendar view: every booking of the tenant (``gsi1pk``) ordered by start."""

    class Meta:
        index_name = "cal_tenant"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    start_sk = UnicodeAttribute(range_key=True)


class _CalTenantStatus(GlobalSecondaryIndex["BookingItem"]):
    """Calendar view: the tenant's bookings in one status (``gsi4pk``) ordered by start."""

    class Meta:
        index_name = "cal_tenant_status"
        projection = AllProjection()

    gsi4pk = UnicodeAttribute(hash_key=True)
    start_sk = UnicodeAttribute(range_key=True)


class _CalStudent(GlobalSecondaryIndex["BookingItem"]):
    """Calendar view: a student's bookings (``gsi2pk``) ordered by start."""

    class Meta:
        index_name = "cal_student"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    start_sk = UnicodeAttribute(range_key=True)


class _CalStudentStatus(GlobalSecondaryIndex["BookingItem"]):
    """Calendar view and feed: a student's bookings in one status (``gsi5pk``) by start."""

    class Meta:
        index_name = "cal_student_status"
        projection = AllProjection()

    gsi5pk = UnicodeAttribute(hash_key=True)
    start_sk = UnicodeAttribute(range_key=True)


class _CalInstructor(GlobalSecondaryIndex["BookingItem"]):
    """Calendar view: the bookings assigned to an instructor (``gsi3pk``) ordered by start."""

    class Meta:
        index_name = "cal_instructor"
        projection = AllProjection()

    gsi3pk = UnicodeAttribute(hash_key=True)
    start_sk = UnicodeAttribute(range_key=True)


class BookingItem(MainItem, discriminator="booking"):
    booking_id = UnicodeAttribute(attr_name="id")
    student_id = UnicodeAttribute()
    course_id = UnicodeAttribute()
    instructor_id = UnicodeAttribute(null=True)
    requested_instructor_id = UnicodeAttribute(null=True)
    starts_at = UnicodeAttribute()
    duration_minutes = NumberAttribute()
    status = UnicodeAttribute()
    note = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    escalated_at = UnicodeAttribute(null=True)
    version = VersionAttribute()

    gsi4pk = UnicodeAttribute(null=True)
    gsi4sk = UnicodeAttribute(null=True)
    gsi5pk = UnicodeAttribute(null=True)
    gsi5sk = UnicodeAttribute(null=True)
    gsi6pk = UnicodeAttribute(null=True)
    gsi6sk = UnicodeAttribute(null=True)

    gsi4 = _Gsi4()
    gsi5 = _Gsi5()
    gsi6 = _Gsi6()

    #: ``<starts_at ISO>#<id>``: the calendar indexes' sort key (absent on bookings written
    #: before the calendar existed; they are not in the calendar views).
    start_sk = UnicodeAttribute(null=True)
    cal_instructor_status = _CalInstructorStatus()
    cal_tenant = _CalTenant()
    cal_tenant_status = _CalTenantStatus()
    cal_student = _CalStudent()
    cal_student_status = _CalStudentStatus()
    cal_instructor = _CalInstructor()

    #: Set while the booking waits (``requested`` / ``approved``), removed on any other state.
    expiry_pk = UnicodeAttribute(null=True)
    expiry_sk = UnicodeAttribute(null=True)
    expiry = _Expiry()

    #: Set while an assigned session's reminder is still to go out (``reminder_key``).
    remind_pk = UnicodeAttribute(null=True)
    remind_sk = UnicodeAttribute(null=True)
    reminder = _Reminder()
    #: How long before the start the reminder goes out, fixed when the booking is assigned (the
    #: tenant's setting then; a reschedule re-arms with it). Absent: no reminder.
    reminder_minutes = NumberAttribute(null=True)
    #: The start time the participants were last reminded of (set by the reminder consumer; its
    #: change is what the notification dispatcher turns into the reminder emails).
    reminded_for = UnicodeAttribute(null=True)

    @classmethod
    def new(
        cls,
        booking: Booking,
        actor: Actor,
        *,
        escalate_at: datetime | None,
        reminder_minutes: int | None = None,
    ) -> BookingItem:
        """The item for a new booking (also used by tests that bulk-load bookings)."""
        tid, bid = booking.tenant_id, booking.id
        pk, sk = keys.booking_key(tid, bid)
        index_sk = keys.bookings_index_sk(bid)
        item = cls(
            pk,
            sk,
            tenant_id=tid,
            booking_id=bid,
            student_id=booking.student_id,
            course_id=booking.course_id,
            instructor_id=booking.instructor_id,
            requested_instructor_id=booking.requested_instructor_id,
            starts_at=iso(booking.starts_at),
            duration_minutes=booking.duration_minutes,
            status=booking.status.value,
            note=booking.note,
            reason=booking.reason,
            escalated_at=iso(booking.escalated_at) if booking.escalated_at else None,
            gsi1pk=keys.bookings_index_pk(tid),
            gsi1sk=index_sk,
            gsi4pk=keys.bookings_index_pk(tid, booking.status.value),
            gsi4sk=index_sk,
            gsi2pk=keys.student_bookings_pk(tid, booking.student_id),
            gsi2sk=index_sk,
            gsi5pk=keys.student_bookings_pk(tid, booking.student_id, booking.status.value),
            gsi5sk=index_sk,
            start_sk=start_key(booking.starts_at, bid),
        )
        if booking.instructor_id:
            item.gsi3pk = keys.instructor_bookings_pk(tid, booking.instructor_id)
            item.gsi3sk = index_sk
            item.gsi6pk = keys.instructor_bookings_pk(
                tid, booking.instructor_id, booking.status.value
            )
            item.gsi6sk = index_sk
        if escalate_at is not None:
            item.due_pk, item.due_sk = due_key(tid, bid, escalate_at)
        if booking.status in EXPIRES_FROM:
            item.expiry_pk, item.expiry_sk = expiry_key(tid, bid, booking.starts_at)
        if booking.status is BookingStatus.assigned and reminder_minutes is not None:
            item.reminder_minutes = reminder_minutes
            item.remind_pk, item.remind_sk = reminder_key(
                tid, bid, booking.starts_at, reminder_minutes
            )
        item.stamp(actor, created=True)
        item.created_at = iso(booking.created_at)
        item.updated_at = iso(booking.updated_at)
        return item


class InstructorSlotItem(MainItem, discriminator="instructor_slot"):
    """Lock: this instructor's 15-minute block is taken by ``booking_id`` (not audited)."""

    booking_id = UnicodeAttribute()
    instructor_id = UnicodeAttribute()
    slot = UnicodeAttribute()


def booking_from_item(item: BookingItem) -> Booking:
    return Booking(
        id=item.booking_id,
        tenant_id=item.tenant_id or "",
        student_id=item.student_id,
        course_id=item.course_id,
        instructor_id=item.instructor_id,
        requested_instructor_id=item.requested_instructor_id,
        starts_at=item.starts_at,  # ISO strings; pydantic parses
        duration_minutes=int(item.duration_minutes),
        status=BookingStatus(item.status),
        note=item.note or "",
        reason=item.reason,
        escalated_at=item.escalated_at,
        created_at=item.created_at,
        updated_at=item.updated_at,
        version=int(item.version or 0),
    )


def due_key(tenant_id: str, booking_id: str, escalate_at: datetime) -> tuple[str, str]:
    """The booking's place on the waiting queue (``due_pk`` / ``due_sk``)."""
    shard = keys.booking_due_shard(booking_id)
    return keys.booking_due_pk(shard), keys.booking_due_sk(iso(escalate_at), tenant_id, booking_id)


def expiry_key(tenant_id: str, booking_id: str, starts_at: datetime) -> tuple[str, str]:
    """The booking's place among the bookings waiting to start (``expiry_pk`` / ``expiry_sk``):
    whatever changes a waiting booking's start must set these again."""
    shard = keys.booking_due_shard(booking_id) % keys.BOOKING_EXPIRY_SHARDS
    return keys.booking_expiry_pk(shard), keys.booking_expiry_sk(
        iso(starts_at), tenant_id, booking_id
    )


def reminder_key(
    tenant_id: str, booking_id: str, starts_at: datetime, minutes_before: int
) -> tuple[str, str]:
    """The session's place among the reminders to send (``remind_pk`` / ``remind_sk``):
    ``minutes_before`` its start. Whatever changes an assigned booking's start sets these again."""
    shard = keys.booking_due_shard(booking_id) % keys.BOOKING_REMINDER_SHARDS
    remind_at = starts_at - timedelta(minutes=minutes_before)
    return keys.booking_reminder_pk(shard), keys.booking_reminder_sk(
        iso(remind_at), tenant_id, booking_id
    )


def start_key(starts_at: datetime, booking_id: str) -> str:
    """The calendar indexes' sort key: start (sortable ISO, UTC) then id."""
    return f"{iso(starts_at)}#{booking_id}"


def parse_time(value: str) -> datetime:
    """A stored ISO 8601 time (``Z`` suffix) as an aware UTC datetime."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def slot_locks(
    tenant_id: str, booking: Booking, instructor_id: str, actor: Actor
) -> Iterator[InstructorSlotItem]:
    """One lock item per block the booking covers, expiring a while after the session."""
    expires = booking.starts_at + timedelta(minutes=booking.duration_minutes) + SLOT_RETENTION
    for slot in slots_covering(booking.starts_at, booking.duration_minutes):
        pk, sk = keys.instructor_slot_key(tenant_id, instructor_id, slot)
        lock = InstructorSlotItem(
            pk,
            sk,
            tenant_id=tenant_id,
            booking_id=booking.id,
            instructor_id=instructor_id,
            slot=slot,
            expires_at=expires,
        )
        lock.stamp(actor, created=True)
        yield lock
