"""Course catalog schemas: courses, modules and lessons (requests, responses, records).

``position`` in every answer is the item's 0-based index among its siblings, in display order.
In a request it says where to put the item: ``0`` is first, anything at or past the number of
siblings appends; an omitted position appends on create and keeps the place on update.
Inserting at a taken position moves the item that held it (and those after it) one down.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints

from chalicelib.models import examples as ex
from chalicelib.models.common import JSON_INT, Id, JsonBool, ListQuery, Out, StrictModel

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Description = Annotated[str, StringConstraints(max_length=5000)]
Content = Annotated[str, StringConstraints(max_length=20000)]
Minutes = Annotated[int, Field(ge=1, le=1440), JSON_INT]
Position = Annotated[
    int,
    Field(ge=0, le=10000, description="0-based place among the siblings; past the end appends."),
    JSON_INT,
]

#: Who teaches a course: active instructors of the tenant; empty means every active instructor.
MAX_COURSE_INSTRUCTORS = 40
InstructorIds = Annotated[
    list[Id],
    Field(
        max_length=MAX_COURSE_INSTRUCTORS,
        description="Active instructors who teach the course; empty: every active instructor.",
    ),
]

#: Upper bounds that keep a course's tree small enough to read in one Query (see db/catalog.py).
MAX_MODULES_PER_COURSE = 100
MAX_LESSONS_PER_MODULE = 100


# --- responses -----------------------------------------------------------------------------
class Lesson(Out):
    model_config = ConfigDict(json_schema_extra={"examples": [ex.LESSON]})

    id: str
    title: str
    content: str
    duration_minutes: int | None
    position: int


class Module(Out):
    model_config = ConfigDict(json_schema_extra={"examples": [ex.MODULE]})

    id: str
    title: str
    position: int
    lessons: list[Lesson] = Field(default_factory=list)


class CourseSummary(Out):
    model_config = ConfigDict(json_schema_extra={"examples": [ex.COURSE_SUMMARY]})

    id: str
    title: str
    description: str
    published: bool
    owner_id: str
    created_at: datetime
    updated_at: datetime
    instructor_ids: list[str] = Field(default_factory=list)


class Course(CourseSummary):
    """A course with its whole tree, ordered by ``position``."""

    model_config = ConfigDict(json_schema_extra={"examples": [ex.COURSE]})

    modules: list[Module] = Field(default_factory=list)


# --- requests ------------------------------------------------------------------------------
class CourseIn(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "title": "Algebra I",
                    "description": "Equations, inequalities and functions.",
                    "published": True,
                }
            ]
        }
    )

    title: Title
    description: Description = ""
    published: JsonBool = False
    instructor_ids: InstructorIds = Field(default_factory=list)


class CoursePatchIn(StrictModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"published": True}]})

    title: Title | None = None
    description: Description | None = None
    published: JsonBool | None = None
    instructor_ids: InstructorIds | None = None


class ModuleIn(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"title": "Linear equations", "position": 0}]}
    )

    title: Title
    position: Position | None = None


class ModulePatchIn(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"title": "Linear equations and inequalities"}]}
    )

    title: Title | None = None
    position: Position | None = None


class LessonIn(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "title": "Solving for x",
                    "content": "Move every term with x to one side.",
                    "duration_minutes": 30,
                }
            ]
        }
    )

    title: Title
    content: Content = ""
    duration_minutes: Minutes | None = None
    position: Position | None = None


class LessonPatchIn(StrictModel):
    """``duration_minutes: null`` clears the duration; leaving it out keeps it."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"duration_minutes": 45, "position": 0}]}
    )

    title: Title | None = None
    content: Content | None = None
    duration_minutes: Minutes | None = None
    position: Position | None = None


class CourseListQuery(ListQuery):
    pass


# --- records: what the data layer hands the service (no PynamoDB types) --------------------
@dataclass(frozen=True)
class CourseVersion:
    """What decides a conditional read of a course: its tree's version and its visibility."""

    tree_version: int
    published: bool
    deleting: bool


@dataclass(frozen=True)
class CourseRecord:
    id: str
    title: str
    description: str
    published: bool
    owner_id: str
    created_at: str
    updated_at: str
    tree_version: int = 1
    deleting_since: str | None = None  # set while a delete is under way (ISO time of the mark)
    instructor_ids: tuple[str, ...] = ()

    @property
    def deleting(self) -> bool:
        return self.deleting_since is not None


@dataclass(frozen=True)
class ModuleRecord:
    id: str
    title: str
    rank: str
    deleting: bool = False


@dataclass(frozen=True)
class LessonRecord:
    id: str
    module_id: str
    title: str
    content: str
    duration_minutes: int | None
    rank: str


@dataclass
class CourseTree:
    """Everything stored under one course, as read by one Query (unordered)."""

    course: CourseRecord
    modules: list[ModuleRecord] = field(default_factory=list)
    lessons: list[LessonRecord] = field(default_factory=list)
