"""Scheduling reads and writes: instructors' availability documents and the instructor time the
free-slot finder needs.

* availability: one item per instructor in the user's own partition
  (pk ``T#<tid>#USER#<uid>`` / sk ``AVAILABILITY``), the whole document as JSON; read with the
  tenant and course in one BatchGetItem;
* taken time: an instructor's assigned bookings inside a range, one Query on the
  ``cal_instructor_status`` index (partition = the instructor's ``assigned`` list, sorted by
  start; see ``db/booking_items.py``). Bookings outside the range are never read.

No new index is needed beyond the calendar ones.
"""

from __future__ import annotations

from datetime import datetime

from pynamodb.attributes import UnicodeAttribute

from chalicelib.clock import iso
from chalicelib.context import Actor
from chalicelib.db import keys
from chalicelib.db.base import MainItem, batch_get
from chalicelib.db.booking_items import BookingItem, parse_time
from chalicelib.db.catalog import CourseItem
from chalicelib.db.tenants import TenantItem, booking_settings_of
from chalicelib.db.users import UserItem, user_from_item
from chalicelib.errors import NotFound
from chalicelib.models.bookings import BookingStatus
from chalicelib.models.scheduling import Availability, BookingSettings, Busy
from chalicelib.models.users import Role, User

AVAILABILITY_SK = "AVAILABILITY"


class AvailabilityItem(MainItem, discriminator="availability"):
    """An instructor's availability document (not an audited entity)."""

    user_id = UnicodeAttribute()
    document = UnicodeAttribute()


def _availability_key(tenant_id: str, user_id: str) -> tuple[str, str]:
    pk, _ = keys.user_key(tenant_id, user_id)
    return pk, AVAILABILITY_SK


class SchedulingRepository:
    """Availability and instructor time of one tenant."""

    def __init__(self, tenant_id: str, actor: Actor) -> None:
        self.tenant_id = tenant_id
        self.actor = actor

    # availability --------------------------------------------------------------------------
    def user_with_availability(self, user_id: str) -> tuple[User | None, Availability | None]:
        """The user and their availability document: ONE BatchGetItem."""
        try:
            user_key = keys.user_key(self.tenant_id, user_id)
            av_key = _availability_key(self.tenant_id, user_id)
        except ValueError:
            return None, None
        user: User | None = None
        doc: Availability | None = None
        for item in batch_get([user_key, av_key], consistent=True):
            if isinstance(item, UserItem):
                user = user_from_item(item)
            elif isinstance(item, AvailabilityItem):
                doc = Availability.model_validate_json(item.document)
        return user, doc

    def put_availability(self, user_id: str, doc: Availability) -> Availability:
        pk, sk = _availability_key(self.tenant_id, user_id)
        item = AvailabilityItem(
            pk,
            sk,
            tenant_id=self.tenant_id,
            user_id=user_id,
            document=doc.model_dump_json(),
        )
        item.stamp(self.actor, created=True)
        item.save()
        return doc

    # what the free-slot finder reads ----------------------------------------------------------
    def people(self, user_ids: list[str]) -> dict[str, tuple[User, Availability | None]]:
        """The given users with their availability documents: ONE BatchGetItem."""
        try:
            wanted = [
                key
                for uid in dict.fromkeys(user_ids)
                for key in (
                    keys.user_key(self.tenant_id, uid),
                    _availability_key(self.tenant_id, uid),
                )
            ]
        except ValueError:
            return {}
        users: dict[str, User] = {}
        docs: dict[str, Availability] = {}
        for item in batch_get(wanted, consistent=True):
            if isinstance(item, UserItem):
                users[item.user_id] = user_from_item(item)
            elif isinstance(item, AvailabilityItem):
                docs[item.user_id] = Availability.model_validate_json(item.document)
        return {uid: (u, docs.get(uid)) for uid, u in users.items()}

    def slot_context(
        self, course_id: str, user_ids: list[str]
    ) -> tuple[
        BookingSettings | None,
        bool | None,
        tuple[str, ...],
        dict[str, tuple[User, Availability | None]],
    ]:
        """The tenant's booking settings, whether the course is published (``None``: no such
        course), who teaches it (empty: every instructor), and the given users with their
        availability: ONE BatchGetItem."""
        try:
            wanted = [keys.tenant_key(self.tenant_id), keys.course_key(self.tenant_id, course_id)]
            for uid in user_ids:
                wanted += [
                    keys.user_key(self.tenant_id, uid),
                    _availability_key(self.tenant_id, uid),
                ]
        except ValueError as exc:
            raise NotFound("course") from exc
        settings: BookingSettings | None = None
        published: bool | None = None
        teachers: tuple[str, ...] = ()
        users: dict[str, User] = {}
        docs: dict[str, Availability] = {}
        for item in batch_get(wanted):
            if isinstance(item, TenantItem):
                settings = booking_settings_of(item)
            elif isinstance(item, CourseItem):
                published = bool(item.published)
                teachers = tuple(item.instructor_ids or ())
            elif isinstance(item, UserItem):
                users[item.user_id] = user_from_item(item)
            elif isinstance(item, AvailabilityItem):
                docs[item.user_id] = Availability.model_validate_json(item.document)
        people = {uid: (u, docs.get(uid)) for uid, u in users.items()}
        return settings, published, teachers, people

    def instructor_ids(self) -> list[str]:
        """Every instructor of the tenant (the users index, role prefix: one Query per 1 MB)."""
        results = UserItem.gsi1.query(
            keys.users_index_pk(self.tenant_id),
            range_key_condition=UserItem.gsi1sk.startswith(
                keys.users_index_role_prefix(Role.instructor.value)
            ),
        )
        return [i.user_id for i in results if isinstance(i, UserItem)]

    def assigned_between(self, instructor_id: str, start: datetime, end: datetime) -> list[Busy]:
        """The instructor's assigned bookings that start in ``[start, end)``: ONE Query."""
        pk = keys.instructor_bookings_pk(
            self.tenant_id, instructor_id, BookingStatus.assigned.value
        )
        results = BookingItem.cal_instructor_status.query(
            pk,
            range_key_condition=BookingItem.start_sk.between(iso(start), iso(end)),
        )
        return [
            Busy(parse_time(i.starts_at), int(i.duration_minutes), i.booking_id)
            for i in results
            if isinstance(i, BookingItem) and i.start_sk and i.start_sk < iso(end)
        ]
