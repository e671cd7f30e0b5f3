"""The course catalog's rules: who may read and write what.

Permissions
  * admin: reads and writes every course of the tenant.
  * instructor: reads every course of the tenant (drafts too: colleagues build courses
    together); writes only courses they own and those courses' modules and lessons; someone
    else's course answers 403 (they can see it, so 404 would be a lie).
  * student: reads published courses only; a draft (or a course being deleted) answers 404.
    The routes gate student writes with 403 before this service is reached.

Siblings are ordered by fractional ranks (``services/ranking.py``); answers are built by
``services/catalog_views.py``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol

from chalicelib.clock import Clock, iso, utcnow
from chalicelib.context import Caller
from chalicelib.errors import Conflict, Forbidden, NotFound, ValidationFailed
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
    CourseVersion,
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
from chalicelib.models.users import Role
from chalicelib.services.catalog_views import (
    CourseRead,
    course_view,
    etag_for,
    etag_matches,
    etag_of,
    lesson_view,
    lessons_of,
    live_modules,
    module_view,
)
from chalicelib.services.ranking import index_of, rank_for_index

_RETRIES = 3
#: A delete mark younger than this belongs to a delete still running (Lambda's timeout is far
#: shorter); an older one was left by a crash, and a new DELETE finishes the job.
_DELETE_GRACE = timedelta(seconds=60)


class CatalogRepo(Protocol):
    """The catalog of one tenant (``db.catalog.CatalogRepository``; a fake in unit tests)."""

    def tree(self, course_id: str, *, consistent: bool = False) -> CourseTree | None: ...
    def version(self, course_id: str) -> CourseVersion | None: ...
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
        instructor_ids: list[str] | None = None,
    ) -> CourseRecord: ...
    def active_instructors(self, user_ids: list[str]) -> set[str]: ...
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


class CatalogService:
    def __init__(self, caller: Caller, repo: CatalogRepo, *, clock: Clock = utcnow) -> None:
        self.caller = caller
        self.repo = repo
        self.clock = clock

    # permissions --------------------------------------------------------------------------
    @property
    def _is_student(self) -> bool:
        return self.caller.role is Role.student

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

    def _delete_under_way(self, deleting_since: str | None) -> bool:
        if deleting_since is None:
            return False
        return self.clock() - datetime.fromisoformat(deleting_since) < _DELETE_GRACE

    def _teachers(self, instructor_ids: list[str]) -> list[str]:
        """The course's instructors, each checked to be an active instructor of the tenant
        (422 naming the field otherwise); duplicates are dropped, order is kept."""
        wanted = list(dict.fromkeys(instructor_ids))
        if not wanted:
            return []
        active = self.repo.active_instructors(wanted)
        details = [
            {
                "field": f"instructor_ids.{n}",
                "problem": "must be an active instructor of this organisation",
                "type": "value_error",
            }
            for n, uid in enumerate(instructor_ids)
            if uid not in active
        ]
        if details:
            raise ValidationFailed("The request is not valid.", details=details)
        return wanted

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
        teachers = self._teachers(body.instructor_ids)
        now = iso(self.clock())
        record = CourseRecord(
            id=new_id(),
            title=body.title,
            description=body.description,
            published=body.published,
            owner_id=self.caller.user_id,
            created_at=now,
            updated_at=now,
            instructor_ids=tuple(teachers),
        )
        return course_view(CourseTree(course=self.repo.create_course(record)))

    def list_courses(self, limit: int, cursor: str | None) -> Page[CourseSummary]:
        return self.repo.list_courses(published_only=self._is_student, limit=limit, cursor=cursor)

    def get_course(self, course_id: str, if_none_match: str | None = None) -> CourseRead:
        """A caller that holds a copy (``If-None-Match``) is answered from the course's version
        alone (one small read) when the copy is current; otherwise the whole tree is read."""
        if if_none_match:
            version = self.repo.version(course_id)
            if version is None or version.deleting:
                raise NotFound("course")
            if self._is_student and not version.published:
                raise NotFound("course")
            etag = etag_for(self.caller.tenant_id, course_id, version.tree_version)
            if etag_matches(if_none_match, etag):
                return CourseRead(etag=etag, course=None)
        tree = self._readable(self.repo.tree(course_id))
        etag = etag_of(self.caller.tenant_id, tree.course)
        if etag_matches(if_none_match, etag):
            return CourseRead(etag=etag, course=None)
        return CourseRead(etag=etag, course=course_view(tree))

    def update_course(self, course_id: str, patch: CoursePatchIn) -> Course:
        tree = self._tree_for_write(course_id)
        teachers = None if patch.instructor_ids is None else self._teachers(patch.instructor_ids)
        if (
            patch.title is None
            and patch.description is None
            and patch.published is None
            and teachers is None
        ):
            return course_view(tree)
        tree.course = self.repo.update_course(
            course_id,
            title=patch.title,
            description=patch.description,
            published=patch.published,
            instructor_ids=teachers,
        )
        return course_view(tree)

    def delete_course(self, course_id: str) -> None:
        for _ in range(_RETRIES):
            tree = self._tree_for_write(course_id, deleting_ok=True)
            if self._delete_under_way(tree.course.deleting_since):
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
        siblings = live_modules(tree)
        if len(siblings) >= MAX_MODULES_PER_COURSE:
            raise Conflict(f"A course holds at most {MAX_MODULES_PER_COURSE} modules.")
        record = ModuleRecord(
            id=new_id(), title=body.title, rank=rank_for_index(siblings, body.position)
        )
        self.repo.add_module(course_id, record)
        return Module(
            id=record.id,
            title=record.title,
            position=index_of([*siblings, record], record.id),
            lessons=[],
        )

    def update_module(self, course_id: str, module_id: str, patch: ModulePatchIn) -> Module:
        tree = self._tree_for_write(course_id)
        module = self._module(tree, module_id)
        others = [m for m in live_modules(tree) if m.id != module_id]
        rank = None if patch.position is None else rank_for_index(others, patch.position)
        if patch.title is not None or rank is not None:
            self.repo.update_module(course_id, module_id, title=patch.title, rank=rank)
        module = replace(module, title=patch.title or module.title, rank=rank or module.rank)
        return module_view(tree, module, index_of([*others, module], module_id))

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
        siblings = lessons_of(tree, module_id)
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
        return lesson_view(record, index_of([*siblings, record], record.id))

    def update_lesson(
        self, course_id: str, module_id: str, lesson_id: str, patch: LessonPatchIn
    ) -> Lesson:
        tree = self._tree_for_write(course_id)
        self._module(tree, module_id)
        lessons = lessons_of(tree, module_id)
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
        return lesson_view(lesson, index_of([*others, lesson], lesson_id))

    def delete_lesson(self, course_id: str, module_id: str, lesson_id: str) -> None:
        tree = self._tree_for_write(course_id)
        self._module(tree, module_id)
        if not any(x.id == lesson_id for x in lessons_of(tree, module_id)):
            raise NotFound("lesson")
        self.repo.delete_lesson(course_id, module_id, lesson_id)
