"""The course catalog on the main table: one partition per course.

Partition ``T#<tid>#COURSE#<cid>`` holds the course (sk ``COURSE``), its modules
(sk ``MODULE#<mid>``) and their lessons (sk ``MODULE#<mid>#LESSON#<lid>``), so a whole tree is
one Query. The course item also carries gsi1 (every course of the tenant) and, only while
published, gsi2 (the sparse "published" index students page through).

Every module or lesson write is a transaction that also bumps the course's ``tree_version``
(the ETag source) under the condition that the course exists and is not being deleted.
Deleting a course or a module first *marks* it (``deleting_at`` + the deleter's stamps, under a
``tree_version`` condition, so the tree just read is known to be complete and no child can be
added any more), stamps every child with the deleter the same way (BatchWriteItem puts), then
removes the items with BatchWriteItem in chunks of 25. Each removal is a REMOVE record in the
table's stream whose old image names who deleted it and under which request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.exceptions import UpdateError

from chalicelib.clock import iso, utcnow
from chalicelib.context import Actor
from chalicelib.db import keys
from chalicelib.db.base import (
    CONDITION_FAILED,
    MainItem,
    batch_get,
    is_condition_failure,
    is_write_conflict,
    stamp_actions,
)
from chalicelib.db.pages import decode_cursor, encode_cursor
from chalicelib.db.transactions import Cancelled, Transaction
from chalicelib.db.users import UserItem, user_from_item
from chalicelib.errors import Conflict, NotFound
from chalicelib.models.catalog import (
    CourseRecord,
    CourseSummary,
    CourseTree,
    CourseVersion,
    LessonRecord,
    ModuleRecord,
)
from chalicelib.models.common import Page
from chalicelib.models.users import Role


class StaleTree(Conflict):
    """The course's tree changed between the read and the write (the caller may retry)."""

    def __init__(self) -> None:
        super().__init__("The course changed meanwhile; read it again and retry.")


class CatalogItem(MainItem):
    """Base of the three catalog entities (querying it returns all three)."""

    deleting_at = UnicodeAttribute(null=True)


class CourseItem(CatalogItem, discriminator="course"):
    course_id = UnicodeAttribute(attr_name="id")
    title = UnicodeAttribute()
    description = UnicodeAttribute(default="")
    published = BooleanAttribute(default=False)
    owner_id = UnicodeAttribute()
    tree_version = NumberAttribute(default=1)
    #: Who teaches it (absent or empty: every active instructor of the tenant).
    instructor_ids = ListAttribute[str](null=True)


class ModuleItem(CatalogItem, discriminator="module"):
    module_id = UnicodeAttribute(attr_name="id")
    course_id = UnicodeAttribute()
    title = UnicodeAttribute()
    rank = UnicodeAttribute()


class LessonItem(CatalogItem, discriminator="lesson"):
    lesson_id = UnicodeAttribute(attr_name="id")
    course_id = UnicodeAttribute()
    module_id = UnicodeAttribute()
    title = UnicodeAttribute()
    content = UnicodeAttribute(default="")
    duration_minutes = NumberAttribute(null=True)
    rank = UnicodeAttribute()


def _course_record(item: CourseItem) -> CourseRecord:
    return CourseRecord(
        id=item.course_id,
        title=item.title,
        description=item.description or "",
        published=bool(item.published),
        owner_id=item.owner_id,
        created_at=item.created_at or "",
        updated_at=item.updated_at or item.created_at or "",
        tree_version=int(item.tree_version or 1),
        deleting_since=item.deleting_at,
        instructor_ids=tuple(item.instructor_ids or ()),
    )


def _module_record(item: ModuleItem) -> ModuleRecord:
    return ModuleRecord(
        id=item.module_id, title=item.title, rank=item.rank, deleting=item.deleting_at is not None
    )


def _lesson_record(item: LessonItem) -> LessonRecord:
    return LessonRecord(
        id=item.lesson_id,
        module_id=item.module_id,
        title=item.title,
        content=item.content or "",
        duration_minutes=None if item.duration_minutes is None else int(item.duration_minutes),
        rank=item.rank,
    )


def summary_of(record: CourseRecord) -> CourseSummary:
    return CourseSummary(
        id=record.id,
        title=record.title,
        description=record.description,
        published=record.published,
        owner_id=record.owner_id,
        created_at=record.created_at,
        updated_at=record.updated_at,
        instructor_ids=list(record.instructor_ids),
    )


class CatalogRepository:
    """Courses, modules and lessons of one tenant."""

    def __init__(self, tenant_id: str, actor: Actor) -> None:
        self.tenant_id = tenant_id
        self.actor = actor

    # --- keys ----------------------------------------------------------------------------
    def _course_item(self, course_id: str) -> CourseItem:
        pk, sk = keys.course_key(self.tenant_id, course_id)
        return CourseItem(pk, sk)

    def _module_item(self, course_id: str, module_id: str) -> ModuleItem:
        pk, sk = keys.module_key(self.tenant_id, course_id, module_id)
        return ModuleItem(pk, sk)

    def _lesson_item(self, course_id: str, module_id: str, lesson_id: str) -> LessonItem:
        pk, sk = keys.lesson_key(self.tenant_id, course_id, module_id, lesson_id)
        return LessonItem(pk, sk)

    def _bump_course(
        self, tx: Transaction, course_id: str, *, expected_version: int | None = None
    ) -> None:
        """The course part of every child write: new tree version, stamps, still alive."""
        condition = CourseItem.pk.exists() & CourseItem.deleting_at.does_not_exist()
        if expected_version is not None:
            condition &= CourseItem.tree_version == expected_version
        tx.update(
            "course",
            self._course_item(course_id),
            [CourseItem.tree_version.add(1), *stamp_actions(self.actor)],
            condition,
        )

    # --- reads ---------------------------------------------------------------------------
    def tree(self, course_id: str, *, consistent: bool = False) -> CourseTree | None:
        """One Query on the course's partition (more only past 1 MB of tree)."""
        try:
            pk = keys.course_pk(self.tenant_id, course_id)
        except ValueError:
            return None
        course: CourseRecord | None = None
        modules: list[ModuleRecord] = []
        lessons: list[LessonRecord] = []
        for item in CatalogItem.query(pk, consistent_read=consistent):
            if isinstance(item, CourseItem):
                course = _course_record(item)
            elif isinstance(item, ModuleItem):
                modules.append(_module_record(item))
            elif isinstance(item, LessonItem):
                lessons.append(_lesson_record(item))
        if course is None:
            return None
        return CourseTree(course=course, modules=modules, lessons=lessons)

    def version(self, course_id: str) -> CourseVersion | None:
        """One GetItem of the course item, projected to what a conditional read needs (a
        fraction of a read unit however large the tree): every child write bumps
        ``tree_version`` in the same transaction, so it stands for the whole tree."""
        try:
            pk, sk = keys.course_key(self.tenant_id, course_id)
        except ValueError:
            return None
        try:
            item = CourseItem.get(
                pk,
                sk,
                attributes_to_get=["type", "tree_version", "published", "deleting_at"],
            )
        except CourseItem.DoesNotExist:
            return None
        return CourseVersion(
            tree_version=int(item.tree_version or 1),
            published=bool(item.published),
            deleting=item.deleting_at is not None,
        )

    def list_courses(
        self, *, published_only: bool, limit: int, cursor: str | None
    ) -> Page[CourseSummary]:
        """Newest first; one Query per page on gsi1 (all) or the sparse gsi2 (published).

        Asks for ``limit + 1`` items so the last page says ``next_cursor: null``.
        """
        scope = "courses:published" if published_only else "courses:all"
        start = decode_cursor(cursor, tenant_id=self.tenant_id, scope=scope)
        if published_only:
            index_pk, index_name = keys.published_courses_index_pk(self.tenant_id), "gsi2"
            results = CourseItem.gsi2.query(
                index_pk, scan_index_forward=False, limit=limit + 1, last_evaluated_key=start
            )
        else:
            index_pk, index_name = keys.courses_index_pk(self.tenant_id), "gsi1"
            results = CourseItem.gsi1.query(
                index_pk, scan_index_forward=False, limit=limit + 1, last_evaluated_key=start
            )
        found = [i for i in results if isinstance(i, CourseItem)]
        page = found[:limit]
        next_cursor = None
        if len(found) > limit:
            last = page[-1]
            next_key = {
                "pk": {"S": last.pk},
                "sk": {"S": last.sk},
                f"{index_name}pk": {"S": index_pk},
                f"{index_name}sk": {"S": keys.courses_index_sk(last.course_id)},
            }
            next_cursor = encode_cursor(next_key, tenant_id=self.tenant_id, scope=scope)
        return Page[CourseSummary](
            items=[summary_of(_course_record(i)) for i in page], next_cursor=next_cursor
        )

    # --- courses -------------------------------------------------------------------------
    def create_course(self, record: CourseRecord) -> CourseRecord:
        pk, sk = keys.course_key(self.tenant_id, record.id)
        item = CourseItem(
            pk,
            sk,
            tenant_id=self.tenant_id,
            course_id=record.id,
            title=record.title,
            description=record.description,
            published=record.published,
            owner_id=record.owner_id,
            tree_version=1,
            instructor_ids=list(record.instructor_ids) or None,
            gsi1pk=keys.courses_index_pk(self.tenant_id),
            gsi1sk=keys.courses_index_sk(record.id),
        )
        if record.published:
            item.gsi2pk = keys.published_courses_index_pk(self.tenant_id)
            item.gsi2sk = keys.courses_index_sk(record.id)
        item.stamp(self.actor, created=True)
        item.save(condition=CourseItem.pk.does_not_exist())
        return _course_record(item)

    def update_course(
        self,
        course_id: str,
        *,
        title: str | None = None,
        description: str | None = None,
        published: bool | None = None,
        instructor_ids: list[str] | None = None,
    ) -> CourseRecord:
        item = self._course_item(course_id)
        actions: list[Any] = [CourseItem.tree_version.add(1), *stamp_actions(self.actor)]
        if instructor_ids:
            actions.append(CourseItem.instructor_ids.set(instructor_ids))
        elif instructor_ids is not None:
            actions.append(CourseItem.instructor_ids.remove())
        if title is not None:
            actions.append(CourseItem.title.set(title))
        if description is not None:
            actions.append(CourseItem.description.set(description))
        if published is True:
            actions += [
                CourseItem.published.set(True),
                CourseItem.gsi2pk.set(keys.published_courses_index_pk(self.tenant_id)),
                CourseItem.gsi2sk.set(keys.courses_index_sk(course_id)),
            ]
        elif published is False:
            actions += [
                CourseItem.published.set(False),
                CourseItem.gsi2pk.remove(),
                CourseItem.gsi2sk.remove(),
            ]
        try:
            item.update(
                actions=actions,
                condition=CourseItem.pk.exists() & CourseItem.deleting_at.does_not_exist(),
            )
        except UpdateError as exc:
            if is_condition_failure(exc):
                raise NotFound("course") from exc
            if is_write_conflict(exc):
                raise StaleTree() from exc
            raise
        return _course_record(item)

    def active_instructors(self, user_ids: list[str]) -> set[str]:
        """Which of ``user_ids`` are active instructors of the tenant: ONE BatchGetItem."""
        try:
            wanted = [keys.user_key(self.tenant_id, uid) for uid in dict.fromkeys(user_ids)]
        except ValueError:
            return set()
        found = (user_from_item(i) for i in batch_get(wanted) if isinstance(i, UserItem))
        return {u.id for u in found if u.role is Role.instructor and u.active}

    def delete_course(self, tree: CourseTree) -> None:
        """Mark (one UpdateItem), then BatchWriteItem every item of the tree, 25 per request."""
        course_id = tree.course.id
        item = self._course_item(course_id)
        try:
            item.update(
                actions=[
                    CourseItem.tree_version.add(1),
                    CourseItem.deleting_at.set(iso(utcnow())),
                    CourseItem.gsi1pk.remove(),
                    CourseItem.gsi1sk.remove(),
                    CourseItem.gsi2pk.remove(),
                    CourseItem.gsi2sk.remove(),
                    *stamp_actions(self.actor),
                ],
                condition=CourseItem.pk.exists()
                & (CourseItem.tree_version == tree.course.tree_version),
            )
        except UpdateError as exc:
            if is_condition_failure(exc):
                raise StaleTree() from exc
            raise
        doomed = self._mark_children(course_id, keys.course_children_prefix())
        doomed.append(item)  # last: a retry after a crash still finds the marked course
        _batch_delete(doomed)

    # --- modules -------------------------------------------------------------------------
    def add_module(self, course_id: str, record: ModuleRecord) -> None:
        pk, sk = keys.module_key(self.tenant_id, course_id, record.id)
        item = ModuleItem(
            pk,
            sk,
            tenant_id=self.tenant_id,
            module_id=record.id,
            course_id=course_id,
            title=record.title,
            rank=record.rank,
        )
        item.stamp(self.actor, created=True)
        with _guarded_write((), lambda: NotFound("course")) as tx:
            tx.save("module", item, ModuleItem.pk.does_not_exist())
            self._bump_course(tx, course_id)

    def update_module(
        self, course_id: str, module_id: str, *, title: str | None, rank: str | None
    ) -> None:
        actions: list[Any] = stamp_actions(self.actor)
        if title is not None:
            actions.append(ModuleItem.title.set(title))
        if rank is not None:
            actions.append(ModuleItem.rank.set(rank))
        with _guarded_write(("module",), lambda: NotFound("course")) as tx:
            tx.update(
                "module",
                self._module_item(course_id, module_id),
                actions,
                ModuleItem.pk.exists() & ModuleItem.deleting_at.does_not_exist(),
            )
            self._bump_course(tx, course_id)

    def delete_module(self, tree: CourseTree, module_id: str) -> None:
        """Mark the module (with a tree-version check) then batch-delete it and its lessons."""
        course_id = tree.course.id
        module = self._module_item(course_id, module_id)
        with _guarded_write(("module",), StaleTree) as tx:
            tx.update(
                "module",
                module,
                [ModuleItem.deleting_at.set(iso(utcnow())), *stamp_actions(self.actor)],
                ModuleItem.pk.exists(),
            )
            self._bump_course(tx, course_id, expected_version=tree.course.tree_version)
        doomed = self._mark_children(course_id, keys.module_lessons_prefix(module_id))
        doomed.append(module)
        _batch_delete(doomed)

    def _mark_children(self, course_id: str, sk_prefix: str) -> list[MainItem]:
        """Stamp every child under ``sk_prefix`` with the deleter and ``deleting_at`` (one Query,
        BatchWriteItem puts), so each child's REMOVE record names who deleted it and under which
        request. The audit log records no entry for such bookkeeping-only updates.

        Runs after the parent is marked, so no child can be added meanwhile.
        """
        children: list[MainItem] = list(
            CatalogItem.query(
                keys.course_pk(self.tenant_id, course_id),
                range_key_condition=CatalogItem.sk.startswith(sk_prefix),
                consistent_read=True,
            )
        )
        now = iso(utcnow())
        with CatalogItem.batch_write() as batch:
            for child in children:
                assert isinstance(child, CatalogItem)
                child.deleting_at = now
                child.stamp(self.actor)
                batch.save(child)
        return children

    # --- lessons -------------------------------------------------------------------------
    def add_lesson(self, course_id: str, record: LessonRecord) -> None:
        pk, sk = keys.lesson_key(self.tenant_id, course_id, record.module_id, record.id)
        item = LessonItem(
            pk,
            sk,
            tenant_id=self.tenant_id,
            lesson_id=record.id,
            course_id=course_id,
            module_id=record.module_id,
            title=record.title,
            content=record.content,
            duration_minutes=record.duration_minutes,
            rank=record.rank,
        )
        item.stamp(self.actor, created=True)
        with _guarded_write(("module",), lambda: NotFound("course")) as tx:
            self._module_alive(tx, course_id, record.module_id)
            tx.save("lesson", item, LessonItem.pk.does_not_exist())
            self._bump_course(tx, course_id)

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
        actions: list[Any] = stamp_actions(self.actor)
        if title is not None:
            actions.append(LessonItem.title.set(title))
        if content is not None:
            actions.append(LessonItem.content.set(content))
        if duration_minutes is not None:
            actions.append(LessonItem.duration_minutes.set(duration_minutes))
        elif clear_duration:
            actions.append(LessonItem.duration_minutes.remove())
        if rank is not None:
            actions.append(LessonItem.rank.set(rank))
        with _guarded_write(("module", "lesson"), lambda: NotFound("course")) as tx:
            self._module_alive(tx, course_id, module_id)
            tx.update(
                "lesson",
                self._lesson_item(course_id, module_id, lesson_id),
                actions,
                LessonItem.pk.exists(),
            )
            self._bump_course(tx, course_id)

    def delete_lesson(self, course_id: str, module_id: str, lesson_id: str) -> None:
        """Stamp the lesson with the deleter (so its REMOVE record names them), then delete it."""
        lesson = self._lesson_item(course_id, module_id, lesson_id)
        try:
            lesson.update(
                actions=[LessonItem.deleting_at.set(iso(utcnow())), *stamp_actions(self.actor)],
                condition=LessonItem.pk.exists(),
            )
        except UpdateError as exc:
            if is_condition_failure(exc):
                raise NotFound("lesson") from exc
            if is_write_conflict(exc):
                raise StaleTree() from exc
            raise
        with _guarded_write(("module", "lesson"), lambda: NotFound("course")) as tx:
            self._module_alive(tx, course_id, module_id)
            tx.delete("lesson", lesson, LessonItem.pk.exists())
            self._bump_course(tx, course_id)

    def _module_alive(self, tx: Transaction, course_id: str, module_id: str) -> None:
        """Transaction guard: the module exists and is not being deleted."""
        pk, sk = keys.module_key(self.tenant_id, course_id, module_id)
        tx.check(
            "module",
            ModuleItem,
            pk,
            sk,
            ModuleItem.pk.exists() & ModuleItem.deleting_at.does_not_exist(),
        )


@contextmanager
def _guarded_write(
    named: tuple[str, ...], guard_failed: Callable[[], Exception]
) -> Iterator[Transaction]:
    """A transaction whose items are named ``module``, ``lesson`` and ``course``.

    A failed condition of a ``named`` item is a 404 of that name (the first of ``named`` that
    failed, e.g. ``("module", "lesson")``); of any other item (the course guard),
    ``guard_failed()``. Losing to a concurrent transaction is a 409.
    """
    try:
        with Transaction() as tx:
            yield tx
    except Cancelled as exc:
        for name in named:
            if exc.failed(name):
                raise NotFound(name) from exc
        if any(CONDITION_FAILED in codes for codes in exc.codes.values()):
            raise guard_failed() from exc
        if exc.any_conflict:
            raise StaleTree() from exc
        raise


def _batch_delete(items: list[MainItem]) -> None:
    """BatchWriteItem in chunks of 25 (PynamoDB flushes every 25 and retries unprocessed)."""
    with CatalogItem.batch_write() as batch:
        for item in items:
            batch.delete(item)
