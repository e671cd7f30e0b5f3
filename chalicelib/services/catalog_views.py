"""What the catalog answers: a course's tree in rank order, and its ETag."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from chalicelib.models.catalog import (
    Course,
    CourseRecord,
    CourseTree,
    Lesson,
    LessonRecord,
    Module,
    ModuleRecord,
)
from chalicelib.services.ranking import ordered


def lesson_view(lesson: LessonRecord, position: int) -> Lesson:
    return Lesson(
        id=lesson.id,
        title=lesson.title,
        content=lesson.content,
        duration_minutes=lesson.duration_minutes,
        position=position,
    )


def live_modules(tree: CourseTree) -> list[ModuleRecord]:
    return ordered([m for m in tree.modules if not m.deleting])


def lessons_of(tree: CourseTree, module_id: str) -> list[LessonRecord]:
    return ordered([lesson for lesson in tree.lessons if lesson.module_id == module_id])


def module_view(tree: CourseTree, module: ModuleRecord, position: int) -> Module:
    lessons = lessons_of(tree, module.id)
    return Module(
        id=module.id,
        title=module.title,
        position=position,
        lessons=[lesson_view(lesson, i) for i, lesson in enumerate(lessons)],
    )


def course_view(tree: CourseTree) -> Course:
    c = tree.course
    modules = live_modules(tree)
    return Course(
        id=c.id,
        title=c.title,
        description=c.description,
        published=c.published,
        owner_id=c.owner_id,
        created_at=c.created_at,
        updated_at=c.updated_at,
        instructor_ids=list(c.instructor_ids),
        modules=[module_view(tree, m, i) for i, m in enumerate(modules)],
    )


def etag_of(tenant_id: str, course: CourseRecord) -> str:
    """Changes with every write to the course or anything under it (``tree_version``)."""
    return etag_for(tenant_id, course.id, course.tree_version)


def etag_for(tenant_id: str, course_id: str, tree_version: int) -> str:
    """The ETag of a course's tree at ``tree_version`` (what a 304 is decided on)."""
    digest = hashlib.sha256(f"{tenant_id}:{course_id}:{tree_version}".encode()).hexdigest()
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
