"""Scheduling rules: who may read and replace an instructor's availability, and the free slots
of a course (the rule itself is in ``models/scheduling.py``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from chalicelib.clock import Clock, utcnow
from chalicelib.context import Caller
from chalicelib.errors import NotFound, ValidationFailed
from chalicelib.models.scheduling import (
    GRID,
    MAX_DURATION,
    Availability,
    BookingSettings,
    Busy,
    Slot,
    SlotPage,
    SlotQuery,
    available_blocks,
    busy_blocks,
    floor_grid,
    free_starts,
    teaches,
)
from chalicelib.models.users import Role, User


class SchedulingRepo(Protocol):
    """``db.scheduling.SchedulingRepository`` (a fake in unit tests)."""

    def user_with_availability(self, user_id: str) -> tuple[User | None, Availability | None]: ...
    def put_availability(self, user_id: str, doc: Availability) -> Availability: ...
    def slot_context(
        self, course_id: str, user_ids: list[str]
    ) -> tuple[
        BookingSettings | None,
        bool | None,
        tuple[str, ...],
        dict[str, tuple[User, Availability | None]],
    ]: ...
    def instructor_ids(self) -> list[str]: ...
    def assigned_between(
        self, instructor_id: str, start: datetime, end: datetime
    ) -> list[Busy]: ...


def _empty() -> Availability:
    return Availability(time_zone="UTC", weekly=[], exceptions=[])


class SchedulingService:
    def __init__(self, caller: Caller, repo: SchedulingRepo, *, clock: Clock = utcnow) -> None:
        self.caller = caller
        self.repo = repo
        self.clock = clock

    # availability ----------------------------------------------------------------------------
    def _instructor(self, user_id: str) -> tuple[User, Availability | None]:
        """The user whose availability the caller may manage (admins, or the user themself)."""
        if not (self.caller.is_admin or user_id == self.caller.user_id):
            raise NotFound("user")
        user, doc = self.repo.user_with_availability(user_id)
        if user is None:
            raise NotFound("user")
        return user, doc

    def get_availability(self, user_id: str) -> Availability:
        """The document; an instructor who never set one has an empty one (never offered)."""
        _, doc = self._instructor(user_id)
        return doc or _empty()

    def put_availability(self, user_id: str, doc: Availability) -> Availability:
        user, _ = self._instructor(user_id)
        if user.role is not Role.instructor:
            raise ValidationFailed(
                "Only instructors have availability.",
                details=[
                    {"field": "user_id", "problem": "must be an instructor", "type": "value_error"}
                ],
            )
        return self.repo.put_availability(user_id, doc)

    # free slots ------------------------------------------------------------------------------
    def slots(self, q: SlotQuery) -> SlotPage:
        ids = [q.instructor_id] if q.instructor_id else self.repo.instructor_ids()
        settings, published, teachers, people = self.repo.slot_context(q.course_id, ids)
        if published is None or (not published and self.caller.role is Role.student):
            raise NotFound("course")
        if q.instructor_id and q.instructor_id not in people:
            raise NotFound("instructor")
        settings = settings or BookingSettings()
        now = self.clock()
        start = max(q.from_, now + timedelta(minutes=settings.min_notice_minutes))
        end = min(q.to, now + timedelta(days=settings.booking_horizon_days))
        duration = timedelta(minutes=q.duration_minutes)
        offered: dict[datetime, list[str]] = {}
        if start < end:
            for uid, (user, doc) in sorted(people.items()):
                if user.role is not Role.instructor or not user.active or doc is None:
                    continue
                if not teaches(teachers, uid):
                    continue
                available = available_blocks(doc, start, end + duration)
                if not available:
                    continue
                taken = busy_blocks(
                    self.repo.assigned_between(
                        uid, floor_grid(start) - MAX_DURATION, end + duration + GRID
                    )
                )
                for at in free_starts(
                    available, taken, start=start, end=end, duration_minutes=q.duration_minutes
                ):
                    offered.setdefault(at, []).append(uid)
        return SlotPage(
            items=[
                Slot(starts_at=at, ends_at=at + duration, instructor_ids=offered[at])
                for at in sorted(offered)
            ]
        )
