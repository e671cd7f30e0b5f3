"""Courses, their modules and lessons (the catalog)."""

from __future__ import annotations

from chalicelib.api.framework import Api, Reply, Request
from chalicelib.db.store import default_store
from chalicelib.models.catalog import (
    Course,
    CourseIn,
    CourseListQuery,
    CoursePatchIn,
    CourseSummary,
    Lesson,
    LessonIn,
    LessonPatchIn,
    Module,
    ModuleIn,
    ModulePatchIn,
)
from chalicelib.models.common import Page
from chalicelib.models.users import Role
from chalicelib.services.catalog import CatalogService

api = Api(__name__, tag="courses")

_STAFF = (Role.admin, Role.instructor)
_COURSE = "/courses/{course_id}"
_MODULES = "/courses/{course_id}/modules"
_MODULE = "/courses/{course_id}/modules/{module_id}"
_LESSONS = "/courses/{course_id}/modules/{module_id}/lessons"
_LESSON = "/courses/{course_id}/modules/{module_id}/lessons/{lesson_id}"


def _service(req: Request) -> CatalogService:
    store = default_store()
    repo = store.catalog(req.user.tenant_id, req.user.actor)
    return CatalogService(req.user, repo, clock=store.clock)


@api.route("/courses", "POST", body=CourseIn, response=Course, status=201, roles=_STAFF)
def create_course(req: Request, body: CourseIn) -> Course:
    """Create a course owned by the caller (admin, instructor)."""
    return _service(req).create_course(body)


@api.route("/courses", query=CourseListQuery, response=Page[CourseSummary])
def list_courses(req: Request, query: CourseListQuery) -> Page[CourseSummary]:
    """Courses, newest first (students: published courses only)."""
    return _service(req).list_courses(query.limit, query.cursor)


@api.route(
    _COURSE,
    response=Course,
    request_headers=("If-None-Match",),
    response_headers=("ETag",),
)
def get_course(req: Request, course_id: str) -> Reply:
    """A course with its whole tree, ordered by position; 304 when If-None-Match is current."""
    read = _service(req).get_course(course_id, req.headers.get("if-none-match"))
    status = 200 if read.course is not None else 304
    return Reply(body=read.course, status=status, headers={"ETag": read.etag})


@api.route(_COURSE, "PATCH", body=CoursePatchIn, response=Course, roles=_STAFF, errors=(404,))
def update_course(req: Request, course_id: str, body: CoursePatchIn) -> Course:
    """Change a course (admin, or the instructor who owns it)."""
    return _service(req).update_course(course_id, body)


@api.route(_COURSE, "DELETE", status=204, roles=_STAFF, errors=(404, 409))
def delete_course(req: Request, course_id: str) -> None:
    """Delete a course with all its modules and lessons (admin, or its owner)."""
    _service(req).delete_course(course_id)


@api.route(
    _MODULES, "POST", body=ModuleIn, response=Module, status=201, roles=_STAFF, errors=(404, 409)
)
def create_module(req: Request, course_id: str, body: ModuleIn) -> Module:
    """Add a module at a position (default: last)."""
    return _service(req).add_module(course_id, body)


@api.route(_MODULE, "PATCH", body=ModulePatchIn, response=Module, roles=_STAFF, errors=(404,))
def update_module(req: Request, course_id: str, module_id: str, body: ModulePatchIn) -> Module:
    """Rename or move a module."""
    return _service(req).update_module(course_id, module_id, body)


@api.route(_MODULE, "DELETE", status=204, roles=_STAFF, errors=(404, 409))
def delete_module(req: Request, course_id: str, module_id: str) -> None:
    """Delete a module and its lessons."""
    _service(req).delete_module(course_id, module_id)


@api.route(
    _LESSONS, "POST", body=LessonIn, response=Lesson, status=201, roles=_STAFF, errors=(404, 409)
)
def create_lesson(req: Request, course_id: str, module_id: str, body: LessonIn) -> Lesson:
    """Add a lesson to a module at a position (default: last)."""
    return _service(req).add_lesson(course_id, module_id, body)


@api.route(_LESSON, "PATCH", body=LessonPatchIn, response=Lesson, roles=_STAFF, errors=(404,))
def update_lesson(
    req: Request, course_id: str, module_id: str, lesson_id: str, body: LessonPatchIn
) -> Lesson:
    """Change or move a lesson within its module."""
    return _service(req).update_lesson(course_id, module_id, lesson_id, body)


@api.route(_LESSON, "DELETE", status=204, roles=_STAFF, errors=(404,))
def delete_lesson(req: Request, course_id: str, module_id: str, lesson_id: str) -> None:
    """Delete a lesson."""
    _service(req).delete_lesson(course_id, module_id, lesson_id)
