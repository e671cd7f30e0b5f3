"""The course catalog's rules: who may read and write what, and how siblings are ordered.

Permissions
  * admin: reads and writes every course of the tenant.
  * instructor: reads every course of the tenant (drafts too: colleagues build courses
    together); writes only courses they own and those courses' modules and lessons; someone
    else's course answers 403 (they can see it, so 404 would be a lie).
  * student: reads published courses only; a draft (or a course being deleted) answers 404.
    The routes gate student writes with 403 before this service is reached.

Ordering
  Siblings are sorted by a *rank*: a string key from a fractional index (base 36, compared as
  plain strings), ties broken by id. Putting an item at index ``i`` gives it a rank strictly
  between its new neighbours' ranks, so an insert or a move writes that one item and never
  renumbers siblings; a key gets one character longer only about every five inserts into the
  same gap. ``position`` in answers is the 0-based index in that order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from chalicelib.clock import iso, utcnow
from chalicelib.context import Caller
from chalicelib.errors import Conflict, Forbidden, NotFound
from chalicelib.ids import new_id
from chalicelib.models.catalog import (
    MAX_LESSONS_PER_MODULE,
    MAX_MODULES_PER_COURSE,
    Course,
    CourseIn,
    CoursePatchIn,
    CourseRecord,
    CourseSummary,
    CourseTree,
    Lesson,
    LessonIn,
    LessonPatchIn,
    LessonRecord,
    Module,
    ModuleIn,
    ModulePatchIn,
    ModuleRecord,
)
from chalicelib.models.common import Page
from chalicelib.services.ports import Store

_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
_BASE = len(_DIGITS)
_RETRIES = 3
#: A delete mark younger than this belongs to a delete still running (Lambda's timeout is far
#: shorter); an older one was left by a crash, and a new DELETE finishes the job.
_DELETE_GRACE = timedelta(seconds=60)


def _delete_under_way(deleting_since: str | None) -> bool:
    if deleting_since is None:
        return False
    return utcnow() - datetime.fromisoformat(deleting_since) < _DELETE_GRACE


# --- ordering (pure) -----------------------------------------------------------------------
def _midpoint(low: str, high: str | None) -> str:
    """A digit string strictly between ``low`` and ``high`` (``None`` = +infinity).

    Requires ``low < high``; neither ends in "0" (so there is always room below a key).
    """
    if high is not None:
        n = 0
        while n < len(high) and (low[n] if n < len(low) else "0") == high[n]:
            n += 1
        if n > 0:
            return high[:n] + _midpoint(low[n:], high[n:])
    digit_low = _DIGITS.index(low[0]) if low else 0
    digit_high = _DIGITS.index(high[0]) if high is not None else _BASE
    if digit_high - digit_low > 1:
        return _DIGITS[(digit_low + digit_high) // 2]
    if high is not None and len(high) > 1:
        return high[:1]
    return _DIGITS[digit_low] + _midpoint(low[1:], None)


def rank_between(before: str | None, after: str | None) -> str:
    """A rank sorting after ``before`` and before ``after`` (either may be open)."""
    low = before or ""
    if after is not None and low >= after:
        raise ValueError("before must sort before after")
    return _midpoint(low, after)


class _Ranked(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def rank(self) -> str: ...


R = TypeVar("R", bound=_Ranked)


def ordered(items: Sequence[R]) -> list[R]:
    return sorted(items, key=lambda i: (i.rank, i.id))


def rank_for_index(siblings: Sequence[_Ranked], index: int | None) -> str:
    """The rank that puts a new or moved item at ``index`` among ``siblings`` (itself excluded).

    ``None`` or an index past the end appends. Should two siblings share a rank (two inserts
    raced into one gap), the item goes right after the tied pair rather than between them.
    """
    order = ordered(siblings)
    at = len(order) if index is None else min(index, len(order))
    before = order[at - 1].rank if at > 0 else None
    after_index = at
    while after_index < len(order) and before is not None and order[after_index].rank <= before:
        after_index += 1
    after = order[after_index].rank if after_index < len(order) else None
    return rank_between(before, after)


# --- views ---------------------------------------------------------------------------------
def _lesson_view(lesson: LessonRecord, position: int) -> Lesson:
    return Lesson(
        id=lesson.id,
        title=lesson.title,
        content=lesson.content,
        duration_minutes=lesson.duration_minutes,
        position=position,
    )


def _live_modules(tree: CourseTree) -> list[ModuleRecord]:
    return ordered([m for m in tree.modules if not m.deleting])


def _lessons_of(tree: CourseTree, module_id: str) -> list[LessonRecord]:
    return ordered([lesson for lesson in tree.lessons if lesson.module_id == module_id])


def _module_view(tree: CourseTree, module: ModuleRecord, position: int) -> Module:
    lessons = _lessons_of(tree, module.id)
    return Module(
        id=module.id,
        title=module.title,
        position=position,
        lessons=[_lesson_view(lesson, i) for i, lesson in enumerate(lessons)],
    )


def course_view(tree: CourseTree) -> Course:
    c = tree.course
    modules = _live_modules(tree)
    return Course(
        id=c.id,
        title=c.title,
        description=c.description,
        published=c.published,
        owner_id=c.owner_id,
        created_at=c.created_at,
        updated_at=c.updated_at,
        modules=[_module_view(tree, m, i) for i, m in enumerate(modules)],
    )


def etag_of(tenant_id: str, course: CourseRecord) -> str:
    """Changes with every write to the course or anything under it (``tree_version``)."""
    digest = hashlib.sha256(f"{tenant_id}:{course.id}:{course.tree_version}".encode()).hexdigest()
    return f'"{digest[:32]}"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = [t.strip() for t in if_none_match.split(",")]
    return any(t == "*" or t.removeprefix("W/") == etag for t in tags)


@dataclass(frozen=True)
class CourseRead:
    """``course`` is ``None`` when the caller's copy (If-None-Match) is current: answer 304."""

    etag: str
    course: Course | None


def _index_of(items: Sequence[_Ranked], item_id: str) -> int:
    return next(i for i, x in enumerate(ordered(items)) if x.id == item_id)


# --- the service ---------------------------------------------------------------------------
class CatalogService:
    def __init__(self, store: Store, caller: Caller) -> None:
        self.caller = caller
        self.repo = store.catalog(caller.tenant_id, caller.actor)

    # permissions --------------------------------------------------------------------------
    @property
    def _is_student(self) -> bool:
        return self.caller.role not in ("admin", "instructor")

    def _readable(self, tree: CourseTree | None) -> CourseTree:
        if tree is None or tree.course.deleting:
            raise NotFound("course")
        if self._is_student and not tree.course.published:
            raise NotFound("course")
        return tree

    def _writable(self, tree: CourseTree | None, *, deleting_ok: bool = False) -> CourseTree:
        if tree is None or (tree.course.deleting and not deleting_ok):
            raise NotFound("course")
        if self._is_student:
            if not tree.course.published:
                raise NotFound("course")
            raise Forbidden("Students may not change courses.")
        if not self.caller.is_admin and tree.course.owner_id != self.caller.user_id:
            raise Forbidden("Only the course's owner or an admin may change it.")
        return tree

    def _tree_for_write(self, course_id: str, *, deleting_ok: bool = False) -> CourseTree:
        return self._writable(self.repo.tree(course_id, consistent=True), deleting_ok=deleting_ok)

    @staticmethod
    def _module(tree: CourseTree, module_id: str) -> ModuleRecord:
        for m in tree.modules:
            if m.id == module_id and not m.deleting:
                return m
        raise NotFound("module")

    # courses ------------------------------------------------------------------------------
    def create_course(self, body: CourseIn) -> Course:
        if self._is_student:
            raise Forbidden("Students may not create courses.")
        now = iso(utcnow())
        record = CourseRecord(
            id=new_id(),
            title=body.title,
            description=body.description,
            published=body.published,
            owner_id=self.caller.user_id,
            created_at=now,
            updated_at=now,
        )
        return course_view(CourseTree(course=self.repo.create_course(record)))

    def list_courses(self, limit: int, cursor: str | None) -> Page[CourseSummary]:
        return self.repo.list_courses(published_only=self._is_student, limit=limit, cursor=cursor)

    def get_course(self, course_id: str, if_none_match: str | None = None) -> CourseRead:
        tree = self._readable(self.repo.tree(course_id))
        etag = etag_of(self.caller.tenant_id, tree.course)
        if etag_matches(if_none_match, etag):
            return CourseRead(etag=etag, course=None)
        return CourseRead(etag=etag, course=course_view(tree))

    def update_course(self, course_id: str, patch: CoursePatchIn) -> Course:
        tree = self._tree_for_write(course_id)
        if patch.title is None and patch.description is None and patch.published is None:
            return course_view(tree)
        tree.course = self.repo.update_course(
            course_id, title=patch.title, description=patch.description, published=patch.published
        )
        return course_view(tree)

    def delete_course(self, course_id: str) -> None:
        for _ in range(_RETRIES):
            tree = self._tree_for_write(course_id, deleting_ok=True)
            if _delete_under_way(tree.course.deleting_since):
                return  # a concurrent DELETE (a double click) is removing it right now
            try:
                self.repo.delete_course(tree)
                return
            except Conflict:
                continue
        raise Conflict("The course kept changing while it was being deleted; try again.")

    # modules ------------------------------------------------------------------------------
    def add_module(self, course_id: str, body: ModuleIn) -> Module:
        tree = self._tree_for_write(course_id)
        siblings = _live_modules(tree)
        if len(siblings) >= MAX_MODULES_PER_COURSE:
            raise Conflict(f"A course holds at most {MAX_MODULES_PER_COURSE} modules.")
        record = ModuleRecord(
            id=new_id(), title=body.title, rank=rank_for_index(siblings, body.position)
        )
        self.repo.add_module(course_id, record)
        return Module(
            id=record.id,
            title=record.title,
            position=_index_of([*siblings, record], record.id),
            lessons=[],
        )

    def update_module(self, course_id: str, module_id: str, patch: ModulePatchIn) -> Module:
        tree = self._tree_for_write(course_id)
        module = self._module(tree, module_id)
        others = [m for m in _live_modules(tree) if m.id != module_id]
        rank = None if patch.position is None else rank_for_index(others, patch.position)
        if patch.title is not None or rank is not None:
            self.repo.update_module(course_id, module_id, title=patch.title, rank=rank)
        module = replace(module, title=patch.title or module.title, rank=rank or module.rank)
        return _module_view(tree, module, _index_of([*others, module], module_id))

    def delete_module(self, course_id: str, module_id: str) -> None:
        for _ in range(_RETRIES):
            tree = self._tree_for_write(course_id)
            self._module(tree, module_id)
            try:
                self.repo.delete_module(tree, module_id)
                return
            except Conflict:
                continue
        raise Conflict("The course kept changing while the module was being deleted; try again.")

    # lessons ------------------------------------------------------------------------------
    def add_lesson(self, course_id: str, module_id: str, body: LessonIn) -> Lesson:
        tree = self._tree_for_write(course_id)
        self._module(tree, module_id)
        siblings = _lessons_of(tree, module_id)
        if len(siblings) >= MAX_LESSONS_PER_MODULE:
            raise Conflict(f"A module holds at most {MAX_LESSONS_PER_MODULE} lessons.")
        record = LessonRecord(
            id=new_id(),
            module_id=module_id,
            title=body.title,
            content=body.content,
            duration_minutes=body.duration_minutes,
            rank=rank_for_index(siblings, body.position),
        )
        self.repo.add_lesson(course_id, record)
        return _lesson_view(record, _index_of([*siblings, record], record.id))

    def update_lesson(
        self, course_id: str, module_id: str, lesson_id: str, patch: LessonPatchIn
    ) -> Lesson:
        tree = self._tree_for_write(course_id)
        self._module(tree, module_id)
        lessons = _lessons_of(tree, module_id)
        lesson = next((x for x in lessons if x.id == lesson_id), None)
        if lesson is None:
            raise NotFound("lesson")
        others = [x for x in lessons if x.id != lesson_id]
        rank = None if patch.position is None else rank_for_index(others, patch.position)
        clear_duration = "duration_minutes" in patch.model_fields_set and (
            patch.duration_minutes is None
        )
        changes = (patch.title, patch.content, patch.duration_minutes, rank)
        if clear_duration or any(v is not None for v in changes):
            self.repo.update_lesson(
                course_id,
                module_id,
                lesson_id,
                title=patch.title,
                content=patch.content,
                duration_minutes=patch.duration_minutes,
                clear_duration=clear_duration,
                rank=rank,
            )
        lesson = replace(
            lesson,
            title=patch.title if patch.title is not None else lesson.title,
            content=patch.content if patch.content is not None else lesson.content,
            duration_minutes=(
                patch.duration_minutes
                if "duration_minutes" in patch.model_fields_set
                else lesson.duration_minutes
            ),
            rank=rank or lesson.rank,
        )
        return _lesson_view(lesson, _index_of([*others, lesson], lesson_id))

    def delete_lesson(self, course_id: str, module_id: str, lesson_id: str) -> None:
        tree = self._tree_for_write(course_id)
        self._module(tree, module_id)
        if not any(x.id == lesson_id for x in _lessons_of(tree, module_id)):
            raise NotFound("lesson")
        self.repo.delete_lesson(course_id, module_id, lesson_id)
