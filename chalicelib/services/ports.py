"""What the services need from the data layer (the DynamoDB store or a test fake)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from chalicelib.context import Actor
from chalicelib.models.bookings import Booking, BookingStatus
from chalicelib.models.catalog import (
    CourseRecord,
    CourseSummary,
    CourseTree,
    LessonRecord,
    ModuleRecord,
)
from chalicelib.models.common import Page
from chalicelib.models.tenants import Tenant
from chalicelib.models.users import Role, User


class CredentialLike(Protocol):
    @property
    def user_id(self) -> str: ...
    @property
    def password_hash(self) -> str: ...


class ThrottleLike(Protocol):
    @property
    def failures(self) -> int: ...
    @property
    def window_started(self) -> float: ...


class TenantRepo(Protocol):
    def get(self) -> Tenant: ...
    def update(self, *, name: str | None, escalate_after_minutes: int | None) -> Tenant: ...


class UserRepo(Protocol):
    def create(self, user: User, password_hash: str) -> User: ...
    def get(self, user_id: str, *, consistent: bool = False) -> User: ...
    def find(self, user_id: str) -> User | None: ...
    def update(
        self,
        user_id: str,
        *,
        name: str | None = None,
        role: Role | None = None,
        active: bool | None = None,
    ) -> User: ...
    def list(self, *, role: Role | None, limit: int, cursor: str | None) -> Page[User]: ...


class AuthRepo(Protocol):
    def login_state(self, email: str) -> tuple[CredentialLike | None, ThrottleLike]: ...
    def record_failure(self, email: str, *, now: datetime, window: timedelta) -> ThrottleLike: ...
    def clear_failures(self, email: str) -> None: ...
    def start_family(
        self, family_id: str, user_id: str, token_hash: str, expires: datetime
    ) -> None: ...
    def rotate(
        self, family_id: str, presented_hash: str, new_hash: str, expires: datetime
    ) -> bool: ...
    def revoke(self, family_id: str) -> None: ...


class CatalogRepo(Protocol):
    def tree(self, course_id: str, *, consistent: bool = False) -> CourseTree | None: ...
    def list_courses(
        self, *, published_only: bool, limit: int, cursor: str | None
    ) -> Page[CourseSummary]: ...
    def create_course(self, record: CourseRecord) -> CourseRecord: ...
    def update_course(
        self,
        course_id: str,
        *,
        title: str | None = None,
        description: str | None = None,
        published: bool | None = None,
    ) -> CourseRecord: ...
    def delete_course(self, tree: CourseTree) -> None: ...
    def add_module(self, course_id: str, record: ModuleRecord) -> None: ...
    def update_module(
        self, course_id: str, module_id: str, *, title: str | None, rank: str | None
    ) -> None: ...
    def delete_module(self, tree: CourseTree, module_id: str) -> None: ...
    def add_lesson(self, course_id: str, record: LessonRecord) -> None: ...
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
    ) -> None: ...
    def delete_lesson(self, course_id: str, module_id: str, lesson_id: str) -> None: ...


# --- bookings -----------------------------------------------------------------------------
class LoadedLike(Protocol):
    @property
    def booking(self) -> Booking | None: ...
    @property
    def escalate_after_minutes(self) -> int | None: ...
    @property
    def course(self) -> CourseLike | None: ...
    @property
    def user(self) -> User | None: ...


class CourseLike(Protocol):
    @property
    def published(self) -> bool: ...


class BookingRepo(Protocol):
    def load(
        self,
        *,
        booking_id: str | None = None,
        tenant: bool = False,
        course_id: str | None = None,
        user_id: str | None = None,
    ) -> LoadedLike: ...
    def get(self, booking_id: str) -> Booking: ...
    def list(
        self,
        *,
        student_id: str | None = None,
        instructor_id: str | None = None,
        status: BookingStatus | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> Page[Booking]: ...
    def create(self, booking: Booking, *, escalate_at: datetime | None) -> Booking: ...
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
    ) -> Booking: ...


#: Runs ``produce`` at most once per ``scope`` and answers its (stored) result; a different
#: ``payload`` under the same scope is refused.
Once = Callable[[str, dict[str, Any], Callable[[], dict[str, Any]]], dict[str, Any]]


class Store(Protocol):
    def tenant_id_for_slug(self, slug: str) -> str | None: ...
    def create_tenant_with_admin(
        self, tenant: Tenant, admin: User, password_hash: str, actor: Actor
    ) -> None: ...
    def tenants(self, tenant_id: str, actor: Actor) -> TenantRepo: ...
    def users(self, tenant_id: str, actor: Actor) -> UserRepo: ...
    def auth(self, tenant_id: str, actor: Actor) -> AuthRepo: ...
    def bookings(self, tenant_id: str, actor: Actor) -> BookingRepo: ...
    def run_once(
        self, scope: str, payload: dict[str, Any], produce: Callable[[], dict[str, Any]]
    ) -> dict[str, Any]: ...
    def catalog(self, tenant_id: str, actor: Actor) -> CatalogRepo: ...
