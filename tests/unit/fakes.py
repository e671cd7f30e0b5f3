"""In-memory stand-ins for every port a service consumes, so rules are tested without AWS.

Each fake implements the Protocol declared beside its service (mypy checks that in
``tests/unit/test_fakes_fit.py``) and keeps the behaviour a rule depends on: conditional writes
answer 409 on a stale version, time locks refuse a taken block, deleted courses vanish.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from chalicelib.context import Actor
from chalicelib.errors import Conflict, InstructorUnavailable, NotFound, ValidationFailed
from chalicelib.models.audit import AuditEntry, EntityType
from chalicelib.models.auth import Credential, Lockout, LoginWindow
from chalicelib.models.auth import Family as StoredFamily
from chalicelib.models.bookings import (
    WAITING_STATES,
    AssignContext,
    Booking,
    BookingStatus,
    DueBooking,
    RequestContext,
    RescheduleContext,
    slots_covering,
)
from chalicelib.models.catalog import (
    CourseRecord,
    CourseSummary,
    CourseTree,
    CourseVersion,
    LessonRecord,
    ModuleRecord,
)
from chalicelib.models.common import Page
from chalicelib.models.messages import Found, OutgoingEmail, Recipient
from chalicelib.models.scheduling import UNSET, Availability, BookingSettings, Busy, Unset
from chalicelib.models.tenants import Tenant
from chalicelib.models.users import Access, Role, User


# --- accounts: tenants, users, logins ------------------------------------------------------------
@dataclass
class Family:
    user_id: str
    token_hash: str
    revoked: bool = False
    ends_at: datetime | None = None
    auth_version: int = 0
    previous_hash: str | None = None
    rotated_at: float | None = None
    created_at: datetime | None = None


class FakeStore:
    """Every tenant's data in dicts; hands out tenant-bound fakes like ``DynamoStore`` does."""

    def __init__(self) -> None:
        self.slugs: dict[str, str] = {}
        self.tenants_by_id: dict[str, Tenant] = {}
        self.users_by_key: dict[tuple[str, str], User] = {}
        self.creds: dict[tuple[str, str], Credential] = {}
        #: (tenant, email, account window) -> counter name ("failures" or client#window) -> n
        self.login_counters: dict[tuple[str, str, int], dict[str, int]] = {}
        self.auth_versions: dict[tuple[str, str], int] = {}
        self.families: dict[tuple[str, str], Family] = {}
        self.courses: dict[tuple[str, str], CourseTree] = {}
        self.bookings_by_key: dict[tuple[str, str], Booking] = {}
        self.slot_locks: dict[tuple[str, str, str], str] = {}
        self.due: dict[tuple[str, str], datetime] = {}
        #: (tenant, booking) -> minutes before its start an assigned session is reminded of
        self.reminder_leads: dict[tuple[str, str], int] = {}
        self.availability: dict[tuple[str, str], Availability] = {}

    def tenant_id_for_slug(self, slug: str) -> str | None:
        return self.slugs.get(slug)

    def create_tenant_with_admin(
        self, tenant: Tenant, admin: User, password_hash: str, actor: Actor
    ) -> None:
        if tenant.slug in self.slugs:
            raise Conflict("That slug is already taken.")
        self.slugs[tenant.slug] = tenant.id
        self.tenants_by_id[tenant.id] = tenant
        self.users(tenant.id, actor).create(admin, password_hash)

    def tenants(self, tenant_id: str, actor: Actor) -> FakeTenants:
        return FakeTenants(self, tenant_id)

    def users(self, tenant_id: str, actor: Actor) -> FakeUsers:
        return FakeUsers(self, tenant_id)

    def auth(self, tenant_id: str, actor: Actor) -> FakeAuth:
        return FakeAuth(self, tenant_id)

    def catalog(self, tenant_id: str, actor: Actor) -> FakeCatalog:
        return FakeCatalog(self, tenant_id)

    def bookings(self, tenant_id: str, actor: Actor) -> FakeBookings:
        return FakeBookings(self, tenant_id)


@dataclass
class FakeTenants:
    store: FakeStore
    tenant_id: str

    def get(self) -> Tenant:
        try:
            return self.store.tenants_by_id[self.tenant_id]
        except KeyError:
            raise NotFound("tenant") from None

    def update(
        self,
        *,
        name: str | None,
        escalate_after_minutes: int | None,
        scheduling: dict[str, Any] | None = None,
    ) -> Tenant:
        changes = {"name": name, "escalate_after_minutes": escalate_after_minutes}
        update = {k: v for k, v in changes.items() if v is not None} | (scheduling or {})
        tenant = self.get().model_copy(update=update)
        self.store.tenants_by_id[self.tenant_id] = tenant
        return tenant


@dataclass
class FakeUsers:
    store: FakeStore
    tenant_id: str

    def create(self, user: User, password_hash: str) -> User:
        if (self.tenant_id, user.email) in self.store.creds:
            raise Conflict("A user with that email already exists.")
        self.store.creds[(self.tenant_id, user.email)] = Credential(user.id, password_hash)
        self.store.users_by_key[(self.tenant_id, user.id)] = user
        return user

    def get(self, user_id: str, *, consistent: bool = False) -> User:
        user = self.find(user_id)
        if user is None:
            raise NotFound("user")
        return user

    def find(self, user_id: str) -> User | None:
        return self.store.users_by_key.get((self.tenant_id, user_id))

    def update(
        self,
        user_id: str,
        *,
        name: str | None = None,
        role: Role | None = None,
        active: bool | None = None,
        time_zone: str | None | Unset = UNSET,
    ) -> User:
        changes = {"name": name, "role": role, "active": active}
        user = self.get(user_id)
        if active is False and user.active:
            self.revoke_sessions(user_id)
        update: dict[str, object] = {k: v for k, v in changes.items() if v is not None}
        if not isinstance(time_zone, Unset):
            update["time_zone"] = time_zone
        user = user.model_copy(update=update)
        self.store.users_by_key[(self.tenant_id, user_id)] = user
        return user

    def access(self, user_id: str, *, consistent: bool) -> Access | None:
        user = self.find(user_id)
        if user is None:
            return None
        version = self.store.auth_versions.get((self.tenant_id, user_id), 0)
        return Access(role=user.role, active=user.active, auth_version=version)

    def revoke_sessions(self, user_id: str) -> Access:
        self.get(user_id)
        key = (self.tenant_id, user_id)
        self.store.auth_versions[key] = self.store.auth_versions.get(key, 0) + 1
        access = self.access(user_id, consistent=True)
        assert access is not None
        return access

    def list(self, *, role: Role | None, limit: int, cursor: str | None) -> Page[User]:
        items = [
            u
            for (t, _), u in sorted(self.store.users_by_key.items())
            if t == self.tenant_id and (role is None or u.role is role)
        ]
        return Page[User](items=items[:limit], next_cursor=None)


@dataclass
class FakeAuth:
    store: FakeStore
    tenant_id: str

    def credential(self, email: str) -> Credential | None:
        return self.store.creds.get((self.tenant_id, email))

    def _counters(self, email: str, window: LoginWindow) -> dict[str, int]:
        key = (self.tenant_id, email, window.account_window)
        return self.store.login_counters.setdefault(key, {})

    def count_attempt(self, email: str, window: LoginWindow) -> Lockout | None:
        counters = self._counters(email, window)
        client = f"{window.client}#{window.client_window}"
        account_full = counters.get("failures", 0) >= window.account_limit
        client_full = counters.get(client, 0) >= window.client_limit
        if account_full or client_full:
            return Lockout(client=not account_full, account=account_full)
        counters["failures"] = counters.get("failures", 0) + 1
        counters[client] = counters.get(client, 0) + 1
        return None

    def settle_success(self, email: str, window: LoginWindow) -> None:
        counters = self._counters(email, window)
        counters["failures"] = max(0, counters.get("failures", 0) - 1)
        counters.pop(f"{window.client}#{window.client_window}", None)

    def clear_locks(self, email: str) -> int:
        mine = [k for k in self.store.login_counters if k[:2] == (self.tenant_id, email)]
        for key in mine:
            del self.store.login_counters[key]
        return len(mine)

    def start_family(
        self,
        family_id: str,
        user_id: str,
        token_hash: str,
        expires: datetime,
        *,
        auth_version: int = 0,
        user_agent: str | None = None,
    ) -> None:
        self.store.families[(self.tenant_id, family_id)] = Family(
            user_id, token_hash, ends_at=expires, auth_version=auth_version, created_at=expires
        )

    def family(self, family_id: str) -> StoredFamily | None:
        fam = self.store.families.get((self.tenant_id, family_id))
        if fam is None:
            return None
        assert fam.ends_at is not None and fam.created_at is not None
        return StoredFamily(
            id=family_id,
            user_id=fam.user_id,
            token_hash=fam.token_hash,
            previous_hash=fam.previous_hash,
            rotated_at=fam.rotated_at,
            auth_version=fam.auth_version,
            revoked=fam.revoked,
            created_at=fam.created_at,
            ends_at=fam.ends_at,
            last_used_at=None,
            user_agent=None,
        )

    def rotate(
        self,
        family_id: str,
        presented_hash: str,
        new_hash: str,
        *,
        now: datetime,
        auth_version: int,
    ) -> bool:
        fam = self.store.families.get((self.tenant_id, family_id))
        if fam is None or fam.revoked or fam.token_hash != presented_hash:
            return False
        fam.previous_hash, fam.token_hash = presented_hash, new_hash
        fam.rotated_at, fam.auth_version = now.timestamp(), auth_version
        return True

    def revoke(self, family_id: str, *, user_id: str | None = None) -> bool:
        fam = self.store.families.get((self.tenant_id, family_id))
        if fam is None or (user_id is not None and fam.user_id != user_id):
            return False
        fam.revoked = True
        return True

    def sessions(
        self, user_id: str, *, limit: int, cursor: str | None
    ) -> tuple[list[StoredFamily], str | None]:
        found = [
            self.family(fid)
            for (tid, fid), fam in sorted(self.store.families.items())
            if tid == self.tenant_id and fam.user_id == user_id and not fam.revoked
        ]
        return [f for f in found if f is not None][:limit], None

    def end_all(self, user_id: str, *, keep: str | None = None) -> int:
        mine = [
            key
            for key, fam in self.store.families.items()
            if key[0] == self.tenant_id and fam.user_id == user_id and key[1] != keep
        ]
        for key in mine:
            del self.store.families[key]
        return len(mine)


# --- catalog -----------------------------------------------------------------------------------
@dataclass
class FakeCatalog:
    store: FakeStore
    tenant_id: str

    def _key(self, course_id: str) -> tuple[str, str]:
        return self.tenant_id, course_id

    def _tree(self, course_id: str) -> CourseTree:
        tree = self.store.courses.get(self._key(course_id))
        if tree is None or tree.course.deleting:
            raise NotFound("course")
        return tree

    def _bump(self, tree: CourseTree) -> None:
        tree.course = replace(tree.course, tree_version=tree.course.tree_version + 1)

    def tree(self, course_id: str, *, consistent: bool = False) -> CourseTree | None:
        tree = self.store.courses.get(self._key(course_id))
        if tree is None:
            return None
        return CourseTree(
            course=tree.course, modules=list(tree.modules), lessons=list(tree.lessons)
        )

    def version(self, course_id: str) -> CourseVersion | None:
        tree = self.store.courses.get(self._key(course_id))
        if tree is None:
            return None
        c = tree.course
        return CourseVersion(
            tree_version=c.tree_version, published=c.published, deleting=c.deleting
        )

    def list_courses(
        self, *, published_only: bool, limit: int, cursor: str | None
    ) -> Page[CourseSummary]:
        found = [
            t.course
            for (tid, _), t in sorted(self.store.courses.items(), reverse=True)
            if tid == self.tenant_id and not t.course.deleting
            if t.course.published or not published_only
        ]
        return Page[CourseSummary](
            items=[CourseSummary.model_validate(c, from_attributes=True) for c in found[:limit]]
        )

    def create_course(self, record: CourseRecord) -> CourseRecord:
        self.store.courses[self._key(record.id)] = CourseTree(course=record)
        return record

    def update_course(
        self,
        course_id: str,
        *,
        title: str | None = None,
        description: str | None = None,
        published: bool | None = None,
        instructor_ids: builtins.list[str] | None = None,
    ) -> CourseRecord:
        tree = self._tree(course_id)
        changes: dict[str, Any] = {
            "title": title,
            "description": description,
            "published": published,
            "instructor_ids": None if instructor_ids is None else tuple(instructor_ids),
        }
        tree.course = replace(tree.course, **{k: v for k, v in changes.items() if v is not None})
        self._bump(tree)
        return tree.course

    def active_instructors(self, user_ids: builtins.list[str]) -> set[str]:
        found = (self.store.users_by_key.get((self.tenant_id, uid)) for uid in user_ids)
        return {u.id for u in found if u and u.role is Role.instructor and u.active}

    def delete_course(self, tree: CourseTree) -> None:
        stored = self._tree(tree.course.id)
        if stored.course.tree_version != tree.course.tree_version:
            raise Conflict("The course changed meanwhile; read it again and retry.")
        del self.store.courses[self._key(tree.course.id)]

    def add_module(self, course_id: str, record: ModuleRecord) -> None:
        tree = self._tree(course_id)
        tree.modules.append(record)
        self._bump(tree)

    def update_module(
        self, course_id: str, module_id: str, *, title: str | None, rank: str | None
    ) -> None:
        tree = self._tree(course_id)
        module = self._module(tree, module_id)
        changes: dict[str, Any] = {"title": title, "rank": rank}
        updated = replace(module, **{k: v for k, v in changes.items() if v is not None})
        tree.modules = [updated if m.id == module_id else m for m in tree.modules]
        self._bump(tree)

    def delete_module(self, tree: CourseTree, module_id: str) -> None:
        stored = self._tree(tree.course.id)
        if stored.course.tree_version != tree.course.tree_version:
            raise Conflict("The course changed meanwhile; read it again and retry.")
        stored.modules = [m for m in stored.modules if m.id != module_id]
        stored.lessons = [x for x in stored.lessons if x.module_id != module_id]
        self._bump(stored)

    def add_lesson(self, course_id: str, record: LessonRecord) -> None:
        tree = self._tree(course_id)
        self._module(tree, record.module_id)
        tree.lessons.append(record)
        self._bump(tree)

    def update_lesson(
        self,
        course_id: str,
        module_id: str,
        lesson_id: str,
        *,
        title: str | None = None,
        content: str | None = None,
        duration_minutes: int | None = None,
        clear_duration: bool = False,
        rank: str | None = None,
    ) -> None:
        tree = self._tree(course_id)
        self._module(tree, module_id)
        lesson = next((x for x in tree.lessons if x.id == lesson_id), None)
        if lesson is None:
            raise NotFound("lesson")
        changes: dict[str, Any] = {
            k: v
            for k, v in {"title": title, "content": content, "rank": rank}.items()
            if v is not None
        }
        if duration_minutes is not None or clear_duration:
            changes["duration_minutes"] = duration_minutes
        updated = replace(lesson, **changes)
        tree.lessons = [updated if x.id == lesson_id else x for x in tree.lessons]
        self._bump(tree)

    def delete_lesson(self, course_id: str, module_id: str, lesson_id: str) -> None:
        tree = self._tree(course_id)
        self._module(tree, module_id)
        tree.lessons = [x for x in tree.lessons if x.id != lesson_id]
        self._bump(tree)

    @staticmethod
    def _module(tree: CourseTree, module_id: str) -> ModuleRecord:
        module = next((m for m in tree.modules if m.id == module_id and not m.deleting), None)
        if module is None:
            raise NotFound("module")
        return module


# --- bookings ----------------------------------------------------------------------------------
@dataclass
class FakeBookings:
    """Bookings of one tenant with the stored behaviour the rules rely on: transitions are
    conditional on status and version, claimed 15-minute blocks are exclusive, the waiting
    queue holds requested/approved bookings not yet escalated in that state."""

    store: FakeStore
    tenant_id: str

    def _find(self, booking_id: str) -> Booking | None:
        return self.store.bookings_by_key.get((self.tenant_id, booking_id))

    def get(self, booking_id: str) -> Booking:
        booking = self._find(booking_id)
        if booking is None:
            raise NotFound("booking")
        return booking

    def _delay(self) -> int | None:
        tenant = self.store.tenants_by_id.get(self.tenant_id)
        return tenant.escalate_after_minutes if tenant else None

    def _user(self, user_id: str | None) -> User | None:
        return self.store.users_by_key.get((self.tenant_id, user_id)) if user_id else None

    def _settings(self) -> BookingSettings | None:
        t = self.store.tenants_by_id.get(self.tenant_id)
        if t is None:
            return None
        return BookingSettings(t.time_zone, t.min_notice_minutes, t.booking_horizon_days)

    def _teachers(self, course_id: str) -> tuple[str, ...]:
        tree = self.store.courses.get((self.tenant_id, course_id))
        return tree.course.instructor_ids if tree else ()

    def _availability(self, user_id: str | None) -> Availability | None:
        return self.store.availability.get((self.tenant_id, user_id)) if user_id else None

    def request_context(self, course_id: str, instructor_id: str | None) -> RequestContext:
        tree = self.store.courses.get((self.tenant_id, course_id))
        return RequestContext(
            escalate_after_minutes=self._delay(),
            course_published=tree.course.published if tree else None,
            instructor=self._user(instructor_id),
            settings=self._settings(),
            course_instructor_ids=self._teachers(course_id),
            availability=self._availability(instructor_id),
        )

    def assign_context(self, booking_id: str, instructor_id: str) -> AssignContext:
        booking = self._find(booking_id)
        return AssignContext(
            booking=booking,
            instructor=self._user(instructor_id),
            availability=self._availability(instructor_id),
            course_instructor_ids=self._teachers(booking.course_id) if booking else (),
            reminder_minutes_before=(
                tenant.reminder_minutes_before
                if (tenant := self.store.tenants_by_id.get(self.tenant_id))
                else None
            ),
        )

    def reschedule_context(self, booking_id: str) -> RescheduleContext:
        booking = self._find(booking_id)
        return RescheduleContext(
            booking=booking,
            settings=self._settings(),
            course_instructor_ids=self._teachers(booking.course_id) if booking else (),
            reminder_minutes=self.store.reminder_leads.get((self.tenant_id, booking_id)),
        )

    def teachers(self, user_ids: builtins.list[str]) -> dict[str, tuple[User, Availability | None]]:
        found = {uid: self._user(uid) for uid in user_ids}
        return {uid: (u, self._availability(uid)) for uid, u in found.items() if u is not None}

    def instructor_ids(self) -> builtins.list[str]:
        return [
            u.id
            for (tid, _), u in sorted(self.store.users_by_key.items())
            if tid == self.tenant_id and u.role is Role.instructor
        ]

    def assigned_between(
        self, instructor_id: str, start: datetime, end: datetime
    ) -> builtins.list[Busy]:
        return [
            Busy(b.starts_at, b.duration_minutes, b.id)
            for (tid, _), b in sorted(self.store.bookings_by_key.items())
            if tid == self.tenant_id
            and b.status is BookingStatus.assigned
            and b.instructor_id == instructor_id
            and start <= b.starts_at < end
        ]

    def reschedule(
        self,
        current: Booking,
        starts_at: datetime,
        duration_minutes: int,
        *,
        reminder_minutes: int | None = None,
    ) -> Booking:
        stored = self.get(current.id)
        if (stored.status, stored.version) != (current.status, current.version):
            raise Conflict("The booking changed meanwhile; read it again.")
        teacher = stored.instructor_id
        if stored.status is BookingStatus.assigned and teacher:
            old = set(slots_covering(stored.starts_at, stored.duration_minutes))
            new = set(slots_covering(starts_at, duration_minutes))
            taken = [b for b in new - old if (self.tenant_id, teacher, b) in self.store.slot_locks]
            if taken:
                raise InstructorUnavailable("The instructor already has a session at that time.")
            for block in old - new:
                if self.store.slot_locks.get((self.tenant_id, teacher, block)) == stored.id:
                    del self.store.slot_locks[(self.tenant_id, teacher, block)]
            for block in new - old:
                self.store.slot_locks[(self.tenant_id, teacher, block)] = stored.id
        booking = stored.model_copy(
            update={
                "starts_at": starts_at,
                "duration_minutes": duration_minutes,
                "version": stored.version + 1,
            }
        )
        self.store.bookings_by_key[(self.tenant_id, booking.id)] = booking
        return booking

    def get_with_escalation_delay(self, booking_id: str) -> tuple[Booking | None, int | None]:
        return self._find(booking_id), self._delay()

    def get_with_user(self, booking_id: str, user_id: str) -> tuple[Booking | None, User | None]:
        return self._find(booking_id), self._user(user_id)

    def list(
        self,
        *,
        student_id: str | None = None,
        instructor_id: str | None = None,
        status: BookingStatus | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> Page[Booking]:
        found = [
            b
            for (tid, _), b in sorted(self.store.bookings_by_key.items(), reverse=True)
            if tid == self.tenant_id
            and (student_id is None or b.student_id == student_id)
            and (instructor_id is None or b.instructor_id == instructor_id)
            and (status is None or b.status is status)
        ]
        return Page[Booking](items=found[:limit])

    def create(self, booking: Booking, *, escalate_at: datetime | None) -> Booking:
        if self._find(booking.id) is not None:
            raise Conflict("That booking already exists.")
        self.store.bookings_by_key[(self.tenant_id, booking.id)] = booking
        self._queue(booking, escalate_at)
        return booking

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
        stored = self.get(current.id)
        if (stored.status, stored.version) != (current.status, current.version):
            raise Conflict("The booking changed meanwhile; read it again.")
        teacher = instructor_id or stored.instructor_id
        blocks = slots_covering(stored.starts_at, stored.duration_minutes)
        if claim_time:
            assert teacher
            if any((self.tenant_id, teacher, b) in self.store.slot_locks for b in blocks):
                raise InstructorUnavailable("The instructor already has a session at that time.")
            for block in blocks:
                self.store.slot_locks[(self.tenant_id, teacher, block)] = stored.id
        if release_time:
            assert teacher
            for block in blocks:
                if self.store.slot_locks.get((self.tenant_id, teacher, block)) == stored.id:
                    del self.store.slot_locks[(self.tenant_id, teacher, block)]
        changes: dict[str, Any] = {"status": to, "version": stored.version + 1}
        if instructor_id:
            changes["instructor_id"] = instructor_id
        if reason is not None:
            changes["reason"] = reason
        booking = stored.model_copy(update=changes)
        self.store.bookings_by_key[(self.tenant_id, booking.id)] = booking
        self._queue(booking, escalate_at, reminder_minutes)
        return booking

    def _queue(
        self, booking: Booking, escalate_at: datetime | None, reminder_minutes: int | None = None
    ) -> None:
        key = (self.tenant_id, booking.id)
        if booking.status is BookingStatus.assigned and reminder_minutes is not None:
            self.store.reminder_leads[key] = reminder_minutes
        if escalate_at is not None and booking.status in WAITING_STATES:
            self.store.due[key] = escalate_at
        else:
            self.store.due.pop(key, None)


@dataclass
class FakeEscalations:
    """``Escalations``: the waiting queue of every tenant of a :class:`FakeStore`."""

    store: FakeStore

    def due(self, now: datetime, limit: int) -> Sequence[DueBooking]:
        found = [
            DueBooking(
                tenant_id=tid,
                booking_id=bid,
                status=self.store.bookings_by_key[(tid, bid)].status.value,
                due_at=at,
            )
            for (tid, bid), at in self.store.due.items()
            if at <= now
        ]
        return sorted(found, key=lambda d: d.due_at)[:limit]

    def mark(
        self, tenant_id: str, booking_id: str, status: str, now: datetime, actor: Actor
    ) -> bool:
        key = (tenant_id, booking_id)
        booking = self.store.bookings_by_key.get(key)
        if booking is None or booking.status != status or key not in self.store.due:
            return False
        del self.store.due[key]
        self.store.bookings_by_key[key] = booking.model_copy(
            update={"escalated_at": now, "version": booking.version + 1}
        )
        return True


class FakeOnce:
    """``Once``: the first result per scope is kept and replayed; another payload is a 422."""

    def __init__(self) -> None:
        self.done: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}

    def __call__(
        self, scope: str, payload: dict[str, Any], produce: Callable[[], dict[str, Any]]
    ) -> dict[str, Any]:
        if scope in self.done:
            stored_payload, result = self.done[scope]
            if stored_payload != payload:
                raise ValidationFailed("This Idempotency-Key was already used.")
            return result
        result = produce()
        self.done[scope] = (payload, result)
        return result


# --- queues, audit, directory, mail ------------------------------------------------------------
class FakePublisher:
    """A queue that keeps what was published."""

    def __init__(self) -> None:
        self.messages: builtins.list[BaseModel] = []

    def publish(self, messages: Sequence[BaseModel]) -> int:
        self.messages.extend(messages)
        return len(messages)


class FakeAuditLog:
    """``AuditLog``: one entry per stream record (keyed by its sequence)."""

    def __init__(self) -> None:
        self.entries: dict[str, AuditEntry] = {}

    def append(self, entry: AuditEntry, sequence: str) -> bool:
        if sequence in self.entries:
            return False
        self.entries[sequence] = entry
        return True

    def reader(self, tenant_id: str) -> FakeAuditReader:
        return FakeAuditReader(self, tenant_id)


@dataclass
class FakeAuditReader:
    log: FakeAuditLog
    tenant_id: str

    def list(
        self,
        *,
        entity_type: EntityType | None,
        entity_id: str | None,
        limit: int,
        cursor: str | None,
    ) -> Page[AuditEntry]:
        found = [
            e
            for _, e in sorted(self.log.entries.items(), reverse=True)
            if e.tenant_id == self.tenant_id
            and (entity_type is None or e.entity_type is entity_type)
            and (entity_id is None or e.entity_id == entity_id)
        ]
        return Page[AuditEntry](items=found[:limit])


class FakeDirectory:
    """``Directory``: people and course titles of one tenant."""

    def __init__(
        self,
        people: dict[str, Recipient],
        *,
        admins: builtins.list[Recipient] | None = None,
        title: str | None = None,
        time_zone: str = "UTC",
    ) -> None:
        self.people = people
        self.admins = admins or []
        self.title = title
        self.time_zone = time_zone
        self.lookups = 0

    def lookup(self, tenant_id: str, user_ids: builtins.list[str], course_id: str | None) -> Found:
        self.lookups += 1
        found = {u: self.people[u] for u in user_ids if u in self.people}
        return Found(
            people=found,
            course_title=self.title if course_id else None,
            time_zone=self.time_zone,
        )

    def active_admins(self, tenant_id: str) -> builtins.list[Recipient]:
        return list(self.admins)


class FakeMailer:
    """``Mailer``: sends each key once and keeps what it sent."""

    def __init__(self) -> None:
        self.sent: dict[str, OutgoingEmail] = {}

    def send_once(self, email: OutgoingEmail) -> bool:
        if email.key in self.sent:
            return False
        self.sent[email.key] = email
        return True
