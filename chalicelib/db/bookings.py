"""Bookings: the booking items, their views, the instructor-time locks and the escalation queue.

Key design (formats in ``db/keys.py``, "bookings" section):

* the booking: pk ``T#<tid>#BOOKING#<bid>`` / sk ``BOOKING`` (one GetItem per booking);
* six list views, each one Query per page, newest first (sort key = the ULID id, read descending):
  gsi1 admin-all, gsi4 admin-by-status, gsi2 student-all, gsi5 student-by-status,
  gsi3 instructor-all, gsi6 instructor-by-status (the instructor ones only once assigned);
  the status filter is part of the partition key, so it reads nothing else;
* the waiting-bookings queue: the sparse ``due`` GSI. A booking in ``requested`` / ``approved``
  that has not been escalated in that state carries ``due_pk`` = ``DUE#BOOKING#<shard 0..7>``,
  ``due_sk`` = ``<escalate-at>#<tid>#<bid>``; leaving the state or being escalated removes both;
* instructor time: one ``instructor_slot`` lock item per 15-minute block an assigned booking
  covers, created with ``attribute_not_exists`` in the same transaction as the assignment and
  deleted in the same transaction as a cancellation.

Every transition is a conditional write on status AND version (``VersionAttribute``).
"""

from __future__ import annotations

import builtins
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, VersionAttribute
from pynamodb.exceptions import (
    DoesNotExist,
    PutError,
    TransactWriteError,
    UpdateError,
)
from pynamodb.expressions.condition import Condition
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.transactions import TransactWrite

from chalicelib.clock import iso
from chalicelib.config import get_settings
from chalicelib.context import Actor
from chalicelib.db import keys
from chalicelib.db.base import (
    MainItem,
    batch_get,
    cancellation_codes,
    is_condition_failure,
    is_write_conflict,
    stamp_actions,
)
from chalicelib.db.pages import decode_cursor, encode_cursor
from chalicelib.db.tenants import TenantItem
from chalicelib.db.users import UserItem, user_from_item
from chalicelib.errors import Conflict, InstructorUnavailable, NotFound, ValidationFailed
from chalicelib.models.bookings import Booking, BookingStatus
from chalicelib.models.common import Page
from chalicelib.models.users import User

SLOT_MINUTES = 15
#: Lock items outlive the session they guard by this much, then TTL removes them.
SLOT_RETENTION = timedelta(days=7)
_CHECK_FAILED = "ConditionalCheckFailed"


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

    @classmethod
    def new(cls, booking: Booking, actor: Actor, *, escalate_at: datetime | None) -> BookingItem:
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
        )
        if booking.instructor_id:
            item.gsi3pk = keys.instructor_bookings_pk(tid, booking.instructor_id)
            item.gsi3sk = index_sk
            item.gsi6pk = keys.instructor_bookings_pk(
                tid, booking.instructor_id, booking.status.value
            )
            item.gsi6sk = index_sk
        if escalate_at is not None:
            item.due_pk, item.due_sk = _due_key(tid, bid, escalate_at)
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


def _due_key(tenant_id: str, booking_id: str, escalate_at: datetime) -> tuple[str, str]:
    shard = keys.booking_due_shard(booking_id)
    return keys.booking_due_pk(shard), keys.booking_due_sk(iso(escalate_at), tenant_id, booking_id)


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def slots_covering(starts_at: datetime, duration_minutes: int) -> list[str]:
    """Every 15-minute block (``yyyy-mm-ddThh:mm`` UTC) that ``[start, start+duration)`` touches.

    Blocks are aligned to the quarter hour, so two bookings that overlap in time always share
    a block (and two that merely touch a common quarter hour are treated as overlapping).
    """
    start = starts_at.astimezone(UTC).replace(second=0, microsecond=0)
    start -= timedelta(minutes=start.minute % SLOT_MINUTES)
    end = starts_at.astimezone(UTC) + timedelta(minutes=duration_minutes)
    out = []
    block = start
    while block < end:
        out.append(block.strftime("%Y-%m-%dT%H:%M"))
        block += timedelta(minutes=SLOT_MINUTES)
    return out


# --- the escalation queue (all tenants) ---------------------------------------------------------
@dataclass(frozen=True)
class DueBooking:
    tenant_id: str
    booking_id: str
    status: str
    due_at: datetime


def due_for_escalation(now: datetime, limit: int = 100) -> list[DueBooking]:
    """Bookings waiting (requested/approved, not escalated in that state) past their escalate-at.

    One Query per shard of the sparse ``due`` index with ``due_sk < <now>$`` (no Scan): it only
    ever reads waiting bookings that are already due, oldest first, at most ``limit`` of them.
    """
    upper = keys.booking_due_sk_upto(iso(now))
    found: list[DueBooking] = []
    for shard in range(keys.BOOKING_DUE_SHARDS):
        remaining = limit - len(found)
        if remaining <= 0:
            break
        results = MainItem.due.query(
            keys.booking_due_pk(shard),
            range_key_condition=MainItem.due_sk < upper,
            limit=remaining,
            page_size=remaining,
        )
        for item in results:
            if not isinstance(item, BookingItem) or not item.due_sk:
                continue  # pragma: no cover - only bookings are written under DUE#BOOKING#
            due_at, tenant_id, booking_id = keys.parse_booking_due_sk(item.due_sk)
            found.append(
                DueBooking(
                    tenant_id=tenant_id,
                    booking_id=booking_id,
                    status=item.status,
                    due_at=_parse_time(due_at),
                )
            )
    found.sort(key=lambda d: d.due_at)
    return found[:limit]


# --- reads of several items at once -------------------------------------------------------------
@dataclass(frozen=True)
class CourseRef:
    id: str
    published: bool


@dataclass(frozen=True)
class Loaded:
    """What one BatchGetItem found (``None`` where the item does not exist)."""

    booking: Booking | None = None
    escalate_after_minutes: int | None = None
    course: CourseRef | None = None
    user: User | None = None


_LOST = {_CHECK_FAILED, "TransactionConflict"}


def _changed_meanwhile() -> Conflict:
    return Conflict("The booking changed meanwhile; read it again.")


class BookingRepository:
    """Bookings of one tenant."""

    def __init__(self, tenant_id: str, actor: Actor) -> None:
        self.tenant_id = tenant_id
        self.actor = actor

    # reads ---------------------------------------------------------------------------------
    def load(
        self,
        *,
        booking_id: str | None = None,
        tenant: bool = False,
        course_id: str | None = None,
        user_id: str | None = None,
    ) -> Loaded:
        """Booking, tenant settings, course and user in ONE BatchGetItem (each optional)."""
        try:
            wanted = {
                "booking": keys.booking_key(self.tenant_id, booking_id) if booking_id else None,
                "tenant": keys.tenant_key(self.tenant_id) if tenant else None,
                "course": keys.course_key(self.tenant_id, course_id) if course_id else None,
                "user": keys.user_key(self.tenant_id, user_id) if user_id else None,
            }
        except ValueError as exc:
            raise NotFound() from exc
        by_key = {k: v for k, v in wanted.items() if v is not None}
        if not by_key:
            return Loaded()
        # Transitions read status and version here: never an outdated copy.
        found_items = batch_get(list(by_key.values()), consistent=True)
        raw = {(i["pk"]["S"], i["sk"]["S"]): i for i in found_items}
        found = {name: raw.get(key) for name, key in by_key.items()}
        booking = user = course = None
        minutes = None
        if (b := found.get("booking")) and b.get("type", {}).get("S") == "booking":
            booking = booking_from_item(BookingItem.from_raw_data(b))
        if (t := found.get("tenant")) and t.get("type", {}).get("S") == "tenant":
            minutes = int(TenantItem.from_raw_data(t).escalate_after_minutes)
        if (c := found.get("course")) and course_id:
            course = CourseRef(id=course_id, published=bool(c.get("published", {}).get("BOOL")))
        if (u := found.get("user")) and u.get("type", {}).get("S") == "user":
            user = user_from_item(UserItem.from_raw_data(u))
        return Loaded(booking=booking, escalate_after_minutes=minutes, course=course, user=user)

    def get(self, booking_id: str) -> Booking:
        try:
            pk, sk = keys.booking_key(self.tenant_id, booking_id)
            return booking_from_item(BookingItem.get(pk, sk, consistent_read=True))
        except (DoesNotExist, ValueError) as exc:
            raise NotFound("booking") from exc

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
        s = status.value if status else None
        tid = self.tenant_id
        index: Any
        if student_id:
            index = BookingItem.gsi5 if s else BookingItem.gsi2
            pk = keys.student_bookings_pk(tid, student_id, s)
            scope = f"bookings:student:{student_id}:{s or '*'}"
        elif instructor_id:
            index = BookingItem.gsi6 if s else BookingItem.gsi3
            pk = keys.instructor_bookings_pk(tid, instructor_id, s)
            scope = f"bookings:instructor:{instructor_id}:{s or '*'}"
        else:
            index = BookingItem.gsi4 if s else BookingItem.gsi1
            pk = keys.bookings_index_pk(tid, s)
            scope = f"bookings:admin:{s or '*'}"
        start = decode_cursor(cursor, tenant_id=tid, scope=scope)
        results = index.query(pk, scan_index_forward=False, limit=limit, last_evaluated_key=start)
        items = [booking_from_item(i) for i in results if isinstance(i, BookingItem)]
        return Page[Booking](
            items=items,
            next_cursor=encode_cursor(results.last_evaluated_key, tenant_id=tid, scope=scope),
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
    ) -> Booking:
        """Move ``current`` to ``to`` if it is still in its status and version (else 409).

        ``escalate_at`` puts the booking on the waiting queue (else it leaves it);
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
            due_pk, due_sk = _due_key(tid, bid, escalate_at)
            actions += [BookingItem.due_pk.set(due_pk), BookingItem.due_sk.set(due_sk)]
        else:
            actions += [BookingItem.due_pk.remove(), BookingItem.due_sk.remove()]
        condition: Condition = BookingItem.status == current.status.value
        if not (claim_time or release_time):
            try:
                item.update(actions=actions, condition=condition)
            except UpdateError as exc:
                if is_condition_failure(exc) or is_write_conflict(exc):
                    raise _changed_meanwhile() from exc
                raise
            return booking_from_item(item)
        return self._transact(item, actions, condition, current, teacher, claim_time)

    def _transact(
        self,
        item: BookingItem,
        actions: builtins.list[Any],
        condition: Condition,
        current: Booking,
        teacher: str | None,
        claim: bool,
    ) -> Booking:
        assert teacher, "time is only claimed or released for an instructor"
        locks = list(self._locks(current, teacher))
        try:
            with TransactWrite(connection=MainItem._get_connection().connection) as tx:
                tx.update(item, actions=actions, condition=condition)
                for lock in locks:
                    if claim:
                        tx.save(lock, condition=InstructorSlotItem.pk.does_not_exist())
                    else:  # a lock past its TTL is already gone: nothing to free
                        tx.delete(
                            lock,
                            condition=InstructorSlotItem.pk.does_not_exist()
                            | (InstructorSlotItem.booking_id == current.id),
                        )
        except TransactWriteError as exc:
            codes = cancellation_codes(exc)
            # PynamoDB sends deletes, then puts, then updates: the booking is the last item.
            if codes and codes[-1] in _LOST:
                raise _changed_meanwhile() from exc
            if claim and _CHECK_FAILED in codes[:-1]:
                raise InstructorUnavailable(
                    "The instructor already has a session at that time."
                ) from exc
            if is_write_conflict(exc):  # a racing transaction held one of the slots
                raise (
                    InstructorUnavailable("The instructor already has a session at that time.")
                    if claim
                    else _changed_meanwhile()
                ) from exc
            raise
        # A transaction returns no images: read back what it wrote (strongly consistent).
        pk, sk = keys.booking_key(self.tenant_id, current.id)
        return booking_from_item(BookingItem.get(pk, sk, consistent_read=True))

    def _locks(self, booking: Booking, instructor_id: str) -> Iterator[InstructorSlotItem]:
        expires = booking.starts_at + timedelta(minutes=booking.duration_minutes) + SLOT_RETENTION
        for slot in slots_covering(booking.starts_at, booking.duration_minutes):
            pk, sk = keys.instructor_slot_key(self.tenant_id, instructor_id, slot)
            lock = InstructorSlotItem(
                pk,
                sk,
                tenant_id=self.tenant_id,
                booking_id=booking.id,
                instructor_id=instructor_id,
                slot=slot,
                expires_at=expires,
            )
            lock.stamp(self.actor, created=True)
            yield lock

    def mark_escalated(self, booking_id: str, status: str, now: datetime) -> Booking | None:
        """ONE conditional UpdateItem: escalate if still in ``status`` and still on the queue.

        Sets ``escalated_at``, leaves the queue, bumps the version and stamps the write.
        Answers the new booking, or ``None`` when it was already escalated or has moved on.
        """
        try:
            pk, sk = keys.booking_key(self.tenant_id, booking_id)
        except ValueError:
            return None
        actions = [
            *stamp_actions(self.actor),
            BookingItem.escalated_at.set(iso(now)),
            BookingItem.due_pk.remove(),
            BookingItem.due_sk.remove(),
            BookingItem.version.add(1),
        ]
        condition = (BookingItem.status == status) & BookingItem.due_pk.exists()
        try:
            data = BookingItem._get_connection().update_item(
                pk, range_key=sk, actions=actions, condition=condition, return_values="ALL_NEW"
            )
        except UpdateError as exc:
            if is_condition_failure(exc):
                return None
            raise
        return booking_from_item(BookingItem.from_raw_data(data["Attributes"]))


# --- idempotent requests (Powertools idempotency, IdempotencyTable) ------------------------------
@lru_cache(maxsize=4)
def _persistence(table_name: str, region: str) -> Any:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
    from botocore.config import Config

    return DynamoDBPersistenceLayer(table_name=table_name, boto_config=Config(region_name=region))


def run_once(
    scope: str, payload: dict[str, Any], produce: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """Run ``produce`` once per ``scope`` (kept ``idempotency_ttl_seconds``) and replay its result.

    The record's key is a hash of ``scope`` (tenant + user + Idempotency-Key); the payload hash is
    stored with it, so the same key with a different body is refused (422), and a retry while the
    first attempt is still running answers 409. A failed attempt leaves no record (retry allowed).
    Imported lazily: only ``POST /bookings`` with the header pays for it.
    """
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    settings = get_settings()
    config = IdempotencyConfig(
        event_key_jmespath="scope",
        payload_validation_jmespath="payload",
        expires_after_seconds=settings.idempotency_ttl_seconds,
        raise_on_no_idempotency_key=True,
    )

    @idempotent_function(
        data_keyword_argument="request",
        persistence_store=_persistence(settings.idempotency_table, settings.aws_region),
        config=config,
        key_prefix="bookings.request",
    )
    def once(request: dict[str, Any]) -> dict[str, Any]:
        return produce()

    try:
        with warnings.catch_warnings():
            # Outside a Lambda context Powertools cannot see the remaining time; that is fine.
            warnings.filterwarnings("ignore", message="Couldn't determine the remaining time")
            return dict(once(request={"scope": scope, "payload": payload}))
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
