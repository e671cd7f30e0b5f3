"""The bookings of one tenant: reads named for what the booking rules need, and transitions.

Items, indexes and locks are in ``db/booking_items.py``; the cross-tenant waiting queue is in
``db/escalation_queue.py``. Every transition is a conditional write on status AND version
(``VersionAttribute``); one that claims or frees instructor time is a transaction with the
time-lock items.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError
from pynamodb.expressions.condition import Condition

from chalicelib.clock import iso
from chalicelib.context import Actor
from chalicelib.db import keys
from chalicelib.db.base import (
    MainItem,
    batch_get,
    is_condition_failure,
    is_write_conflict,
    stamp_actions,
)
from chalicelib.db.booking_items import (
    BookingItem,
    InstructorSlotItem,
    booking_from_item,
    due_key,
    expiry_key,
    reminder_key,
    slot_locks,
    start_key,
)
from chalicelib.db.booking_views import view
from chalicelib.db.catalog import CourseItem
from chalicelib.db.pages import decode_cursor, encode_cursor
from chalicelib.db.scheduling import AVAILABILITY_SK, AvailabilityItem, SchedulingRepository
from chalicelib.db.tenants import TenantItem, booking_settings_of, reminder_minutes_of
from chalicelib.db.transactions import Cancelled, Transaction
from chalicelib.db.users import UserItem, user_from_item
from chalicelib.errors import Conflict, InstructorUnavailable, NotFound, ValidationFailed
from chalicelib.idempotency import run_once
from chalicelib.models.bookings import (
    EXPIRES_FROM,
    AssignContext,
    Booking,
    BookingStatus,
    RequestContext,
    RescheduleContext,
)
from chalicelib.models.common import Page
from chalicelib.models.scheduling import Availability, Busy
from chalicelib.models.users import User


def _changed_meanwhile() -> Conflict:
    return Conflict("The booking changed meanwhile; read it again.")


def _unavailable() -> InstructorUnavailable:
    return InstructorUnavailable("The instructor already has a session at that time.")


class BookingRepository:
    """Bookings of one tenant."""

    def __init__(self, tenant_id: str, actor: Actor) -> None:
        self.tenant_id = tenant_id
        self.actor = actor

    # reads ---------------------------------------------------------------------------------
    def get(self, booking_id: str) -> Booking:
        """One booking, strongly consistent (transitions check its status and version)."""
        try:
            pk, sk = keys.booking_key(self.tenant_id, booking_id)
            return booking_from_item(BookingItem.get(pk, sk, consistent_read=True))
        except (DoesNotExist, ValueError) as exc:
            raise NotFound("booking") from exc

    def request_context(self, course_id: str, instructor_id: str | None) -> RequestContext:
        """The tenant's escalation delay, the course and the preferred instructor: ONE
        BatchGetItem."""
        found = self._load(
            tenant=True, course_id=course_id, user_id=instructor_id, availability=True
        )
        course = found.get("course")
        tenant = found.get("tenant")
        return RequestContext(
            escalate_after_minutes=_escalate_after(tenant),
            course_published=bool(course.published) if isinstance(course, CourseItem) else None,
            instructor=_user(found.get("user")),
            settings=booking_settings_of(tenant) if isinstance(tenant, TenantItem) else None,
            course_instructor_ids=_teachers(course),
            availability=_availability(found.get("availability")),
        )

    def get_with_escalation_delay(self, booking_id: str) -> tuple[Booking | None, int | None]:
        """The booking and its tenant's escalation delay (a transition into a waiting state):
        ONE BatchGetItem."""
        found = self._load(booking_id=booking_id, tenant=True)
        return _booking(found.get("booking")), _escalate_after(found.get("tenant"))

    def get_with_user(self, booking_id: str, user_id: str) -> tuple[Booking | None, User | None]:
        """The booking and a user of the tenant (the instructor it is assigned to): ONE
        BatchGetItem."""
        found = self._load(booking_id=booking_id, user_id=user_id)
        return _booking(found.get("booking")), _user(found.get("user"))

    def _load(
        self,
        *,
        booking_id: str | None = None,
        tenant: bool = False,
        course_id: str | None = None,
        user_id: str | None = None,
        availability: bool = False,
    ) -> dict[str, MainItem]:
        """The wanted items in one consistent BatchGetItem (never an outdated status or
        version), by what they are; a malformed id finds nothing. ``availability`` adds the
        user's availability document."""
        try:
            wanted = {
                "booking": keys.booking_key(self.tenant_id, booking_id) if booking_id else None,
                "tenant": keys.tenant_key(self.tenant_id) if tenant else None,
                "course": keys.course_key(self.tenant_id, course_id) if course_id else None,
                "user": keys.user_key(self.tenant_id, user_id) if user_id else None,
                "availability": (
                    (keys.user_key(self.tenant_id, user_id)[0], AVAILABILITY_SK)
                    if user_id and availability
                    else None
                ),
            }
        except ValueError as exc:
            raise NotFound() from exc
        by_key = {key: name for name, key in wanted.items() if key is not None}
        items = batch_get(list(by_key), consistent=True)
        return {by_key[(item.pk, item.sk)]: item for item in items if (item.pk, item.sk) in by_key}

    def list(
        self,
        *,
        student_id: str | None = None,
        instructor_id: str | None = None,
        status: BookingStatus | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> Page[Booking]:
        """One Query per page on the view's own index, newest first; status is in the key."""
        tid = self.tenant_id
        v = view(tid, student_id=student_id, instructor_id=instructor_id, status=status)
        scope = f"bookings:{v.scope}"
        start = decode_cursor(cursor, tenant_id=tid, scope=scope)
        results = v.index("by_id").query(
            v.pk, scan_index_forward=False, limit=limit, last_evaluated_key=start
        )
        items = [booking_from_item(i) for i in results if isinstance(i, BookingItem)]
        return Page[Booking](
            items=items,
            next_cursor=encode_cursor(results.last_evaluated_key, tenant_id=tid, scope=scope),
        )

    # what the booking-time rules read --------------------------------------------------------
    def assign_context(self, booking_id: str, instructor_id: str) -> AssignContext:
        """The booking, the instructor and their availability and the tenant's reminder
        setting (ONE BatchGetItem), then who teaches the booking's course (ONE GetItem)."""
        found = self._load(
            booking_id=booking_id, user_id=instructor_id, availability=True, tenant=True
        )
        booking = _booking(found.get("booking"))
        tenant = found.get("tenant")
        return AssignContext(
            booking=booking,
            instructor=_user(found.get("user")),
            availability=_availability(found.get("availability")),
            course_instructor_ids=self._course_teachers(booking.course_id) if booking else (),
            reminder_minutes_before=(
                reminder_minutes_of(tenant) if isinstance(tenant, TenantItem) else None
            ),
        )

    def reschedule_context(self, booking_id: str) -> RescheduleContext:
        """The booking and the tenant's booking settings (ONE BatchGetItem), then who teaches
        the booking's course (ONE GetItem)."""
        found = self._load(booking_id=booking_id, tenant=True)
        item = found.get("booking")
        booking = _booking(item)
        tenant = found.get("tenant")
        lead = item.reminder_minutes if isinstance(item, BookingItem) else None
        return RescheduleContext(
            booking=booking,
            settings=booking_settings_of(tenant) if isinstance(tenant, TenantItem) else None,
            course_instructor_ids=self._course_teachers(booking.course_id) if booking else (),
            reminder_minutes=int(lead) if lead is not None else None,
        )

    def _course_teachers(self, course_id: str) -> tuple[str, ...]:
        pk, sk = keys.course_key(self.tenant_id, course_id)
        try:
            item = CourseItem.get(pk, sk, attributes_to_get=["type", "instructor_ids"])
        except CourseItem.DoesNotExist:
            return ()
        return _teachers(item)

    def teachers(self, user_ids: builtins.list[str]) -> dict[str, tuple[User, Availability | None]]:
        """The given users with their availability documents: ONE BatchGetItem."""
        return SchedulingRepository(self.tenant_id, self.actor).people(user_ids)

    def instructor_ids(self) -> builtins.list[str]:
        """Every instructor of the tenant (one Query per 1 MB of the users index)."""
        return SchedulingRepository(self.tenant_id, self.actor).instructor_ids()

    def assigned_between(
        self, instructor_id: str, start: datetime, end: datetime
    ) -> builtins.list[Busy]:
        """The instructor's assigned bookings that start in ``[start, end)``: ONE Query."""
        return SchedulingRepository(self.tenant_id, self.actor).assigned_between(
            instructor_id, start, end
        )

    # writes --------------------------------------------------------------------------------
    def create(self, booking: Booking, *, escalate_at: datetime | None) -> Booking:
        item = BookingItem.new(booking, self.actor, escalate_at=escalate_at)
        try:
            item.save(condition=BookingItem.pk.does_not_exist())
        except PutError as exc:  # pragma: no cover - ids are fresh ULIDs
            if is_condition_failure(exc):
                raise Conflict("That booking already exists.") from exc
            raise
        return booking_from_item(item)

    def transition(
        self,
        current: Booking,
        to: BookingStatus,
        *,
        escalate_at: datetime | None = None,
        instructor_id: str | None = None,
        reason: str | None = None,
        claim_time: bool = False,
        release_time: bool = False,
        reminder_minutes: int | None = None,
    ) -> Booking:
        """Move ``current`` to ``to`` if it is still in its status and version (else 409).

        ``escalate_at`` puts the booking on the waiting queue (else it leaves it);
        ``reminder_minutes`` (entering ``assigned``) arms its reminder that long before the
        start; any other state disarms it;
        ``claim_time`` locks the (new) instructor's blocks in the same transaction;
        ``release_time`` deletes the assigned instructor's locks in the same transaction.
        """
        tid, bid = self.tenant_id, current.id
        pk, sk = keys.booking_key(tid, bid)
        item = BookingItem(pk, sk, version=current.version)
        teacher = instructor_id or current.instructor_id
        actions: builtins.list[Any] = [
            *stamp_actions(self.actor),
            BookingItem.status.set(to.value),
            BookingItem.gsi4pk.set(keys.bookings_index_pk(tid, to.value)),
            BookingItem.gsi5pk.set(keys.student_bookings_pk(tid, current.student_id, to.value)),
        ]
        if instructor_id:
            actions += [
                BookingItem.instructor_id.set(instructor_id),
                BookingItem.gsi3pk.set(keys.instructor_bookings_pk(tid, instructor_id)),
                BookingItem.gsi3sk.set(keys.bookings_index_sk(bid)),
                BookingItem.gsi6sk.set(keys.bookings_index_sk(bid)),
            ]
        if teacher:
            actions.append(
                BookingItem.gsi6pk.set(keys.instructor_bookings_pk(tid, teacher, to.value))
            )
        if reason is not None:
            actions.append(BookingItem.reason.set(reason))
        if escalate_at is not None:
            due_pk, due_sk = due_key(tid, bid, escalate_at)
            actions += [BookingItem.due_pk.set(due_pk), BookingItem.due_sk.set(due_sk)]
        else:
            actions += [BookingItem.due_pk.remove(), BookingItem.due_sk.remove()]
        if to in EXPIRES_FROM:  # still waiting to start: the expiry finder will look at it
            expiry_pk, expiry_sk = expiry_key(tid, bid, current.starts_at)
            actions += [BookingItem.expiry_pk.set(expiry_pk), BookingItem.expiry_sk.set(expiry_sk)]
        else:
            actions += [BookingItem.expiry_pk.remove(), BookingItem.expiry_sk.remove()]
        armed = reminder_minutes if to is BookingStatus.assigned else None
        actions += _reminder(tid, bid, current.starts_at, armed)
        if armed is not None:
            actions.append(BookingItem.reminder_minutes.set(armed))
        condition: Condition = BookingItem.status == current.status.value
        if not (claim_time or release_time):
            return _update(item, actions, condition)
        assert teacher, "time is only claimed or released for an instructor"
        return self._with_time(item, actions, condition, current, teacher, claim=claim_time)

    def _with_time(
        self,
        item: BookingItem,
        actions: builtins.list[Any],
        condition: Condition,
        current: Booking,
        teacher: str,
        *,
        claim: bool,
    ) -> Booking:
        """The transition and the instructor's time locks (claimed or freed) in ONE transaction."""
        try:
            with Transaction() as tx:
                tx.update("booking", item, actions, condition)
                for lock in slot_locks(self.tenant_id, current, teacher, self.actor):
                    if claim:
                        tx.save("slot", lock, InstructorSlotItem.pk.does_not_exist())
                    else:  # a lock past its TTL is already gone: nothing to free
                        tx.delete(
                            "slot",
                            lock,
                            InstructorSlotItem.pk.does_not_exist()
                            | (InstructorSlotItem.booking_id == current.id),
                        )
        except Cancelled as exc:
            if exc.lost("booking"):
                raise _changed_meanwhile() from exc
            if claim and exc.lost("slot"):  # taken, or held by a racing transaction
                raise _unavailable() from exc
            if exc.any_conflict:
                raise _changed_meanwhile() from exc
            raise
        # A transaction returns no images: read back what it wrote (strongly consistent).
        return self.get(current.id)

    def reschedule(
        self,
        current: Booking,
        starts_at: datetime,
        duration_minutes: int,
        *,
        reminder_minutes: int | None = None,
    ) -> Booking:
        """Move ``current`` to a new time if it is still in its status and version (else 409).

        The start index key follows the new time; so does an assigned booking's reminder
        (``reminder_minutes`` before the new start, armed again even if it went out for the
        old time; None: none). An assigned booking moves its instructor's
        time in ONE transaction: the locks of blocks it leaves are deleted, those of blocks it
        enters are claimed (each must not exist), the booking is updated; a block held by
        another session cancels everything (409 ``instructor_unavailable``). Blocks both
        times cover keep their locks (one transaction may not touch an item twice).
        """
        tid, bid = self.tenant_id, current.id
        pk, sk = keys.booking_key(tid, bid)
        item = BookingItem(pk, sk, version=current.version)
        actions: builtins.list[Any] = [
            *stamp_actions(self.actor),
            BookingItem.starts_at.set(iso(starts_at)),
            BookingItem.duration_minutes.set(duration_minutes),
            BookingItem.start_sk.set(start_key(starts_at, bid)),
        ]
        if current.status in EXPIRES_FROM:  # a waiting booking expires at its new start
            expiry_pk, expiry_sk = expiry_key(tid, bid, starts_at)
            actions += [BookingItem.expiry_pk.set(expiry_pk), BookingItem.expiry_sk.set(expiry_sk)]
        if current.status is BookingStatus.assigned:
            actions += _reminder(tid, bid, starts_at, reminder_minutes)
        condition: Condition = BookingItem.status == current.status.value
        teacher = current.instructor_id
        if current.status is not BookingStatus.assigned or not teacher:
            return _update(item, actions, condition)
        moved = current.model_copy(
            update={"starts_at": starts_at, "duration_minutes": duration_minutes}
        )
        return self._move_time(item, actions, condition, current, moved, teacher)

    def _move_time(
        self,
        item: BookingItem,
        actions: builtins.list[Any],
        condition: Condition,
        current: Booking,
        moved: Booking,
        teacher: str,
    ) -> Booking:
        """The booking's update and its instructor's lock swap in ONE transaction."""
        tid, bid = self.tenant_id, current.id
        old = {lock.pk: lock for lock in slot_locks(tid, current, teacher, self.actor)}
        new = {lock.pk: lock for lock in slot_locks(tid, moved, teacher, self.actor)}
        try:
            with Transaction() as tx:
                tx.update("booking", item, actions, condition)
                for key in old.keys() - new.keys():
                    tx.delete(
                        "old_slot",
                        old[key],
                        InstructorSlotItem.pk.does_not_exist()
                        | (InstructorSlotItem.booking_id == bid),
                    )
                for key in new.keys() - old.keys():
                    tx.save("slot", new[key], InstructorSlotItem.pk.does_not_exist())
        except Cancelled as exc:
            if exc.lost("booking"):
                raise _changed_meanwhile() from exc
            if exc.lost("slot"):  # taken, or held by a racing transaction
                raise _unavailable() from exc
            if exc.any_conflict:
                raise _changed_meanwhile() from exc
            raise
        return self.get(bid)


def _update(item: BookingItem, actions: builtins.list[Any], condition: Condition) -> Booking:
    """ONE conditional UpdateItem of a booking at its read version; a lost race is 409."""
    try:
        item.update(actions=actions, condition=condition)
    except UpdateError as exc:
        if is_condition_failure(exc) or is_write_conflict(exc):
            raise _changed_meanwhile() from exc
        raise
    return booking_from_item(item)


def _reminder(
    tenant_id: str, booking_id: str, starts_at: datetime, minutes_before: int | None
) -> builtins.list[Any]:
    """Arm the session's reminder ``minutes_before`` its start, or (None) disarm it."""
    if minutes_before is None:
        return [BookingItem.remind_pk.remove(), BookingItem.remind_sk.remove()]
    remind_pk, remind_sk = reminder_key(tenant_id, booking_id, starts_at, minutes_before)
    return [BookingItem.remind_pk.set(remind_pk), BookingItem.remind_sk.set(remind_sk)]


def _booking(item: MainItem | None) -> Booking | None:
    return booking_from_item(item) if isinstance(item, BookingItem) else None


def _user(item: MainItem | None) -> User | None:
    return user_from_item(item) if isinstance(item, UserItem) else None


def _teachers(item: MainItem | None) -> tuple[str, ...]:
    return tuple(item.instructor_ids or ()) if isinstance(item, CourseItem) else ()


def _availability(item: MainItem | None) -> Availability | None:
    if not isinstance(item, AvailabilityItem):
        return None
    return Availability.model_validate_json(item.document)


def _escalate_after(item: MainItem | None) -> int | None:
    return int(item.escalate_after_minutes) if isinstance(item, TenantItem) else None


# --- idempotent requests ------------------------------------------------------------------------
def request_once(
    scope: str, payload: dict[str, Any], produce: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """``POST /bookings`` with an Idempotency-Key: produce once per ``scope`` (tenant + user +
    key) and replay the stored booking; the same key with another body is refused (422), a
    retry while the first is still running answers 409."""
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    try:
        return run_once(scope, produce, key_prefix="bookings.request", payload=payload)
    except IdempotencyValidationError as exc:
        raise ValidationFailed(
            "This Idempotency-Key was already used with a different request.",
            details=[
                {
                    "field": "Idempotency-Key",
                    "in": "header",
                    "problem": "already used with a different body",
                    "type": "idempotency_key_reused",
                }
            ],
        ) from exc
    except IdempotencyAlreadyInProgressError as exc:
        raise Conflict("A request with this Idempotency-Key is still in progress.") from exc
