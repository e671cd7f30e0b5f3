"""Writes that interleave with a delete: nothing is orphaned (points 5 and 3).

The interleaving is forced deterministically: a write lands between the delete's read of the
tree and its mark, by wrapping the repository's ``tree`` read.
"""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.db.catalog import CatalogRepository
from tests.support.catalog import (
    make_course,
    make_lesson,
    make_module,
    partition,
)
from tests.support.http import Api


def _interleave(monkeypatch: pytest.MonkeyPatch, action) -> list[int]:
    """Run ``action`` once, right after the first consistent tree read of the next request."""
    original = CatalogRepository.tree
    calls: list[int] = []

    def tree(self: CatalogRepository, course_id: str, *, consistent: bool = False) -> Any:
        result = original(self, course_id, consistent=consistent)
        calls.append(1)
        if len(calls) == 1:
            action()
        return result

    monkeypatch.setattr(CatalogRepository, "tree", tree)
    return calls


def test_lesson_added_during_course_delete_is_deleted_too(
    api: Api, acme, aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = acme.token
    cid = make_course(api, t)["id"]
    mid = make_module(api, t, cid)["id"]
    make_lesson(api, t, cid, mid, "early")
    repo = CatalogRepository(acme.tenant["id"], actor=_actor(acme))
    calls = _interleave(monkeypatch, lambda: _add_lesson_directly(repo, cid, mid))
    assert api.delete(f"/courses/{cid}", token=t).status == 204
    assert len(calls) == 2, "the stale read was retried"
    assert partition(aws, cid, acme.tenant["id"]) == []


def test_lesson_added_during_module_delete_is_deleted_too(
    api: Api, acme, aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = acme.token
    cid = make_course(api, t)["id"]
    mid = make_module(api, t, cid)["id"]
    make_lesson(api, t, cid, mid, "early")
    repo = CatalogRepository(acme.tenant["id"], actor=_actor(acme))
    calls = _interleave(monkeypatch, lambda: _add_lesson_directly(repo, cid, mid))
    assert api.delete(f"/courses/{cid}/modules/{mid}", token=t).status == 204
    assert len(calls) == 2
    assert [i["type"] for i in partition(aws, cid, acme.tenant["id"])] == ["course"]


def test_no_child_can_be_added_to_a_course_being_deleted(
    api: Api, acme, aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the course is marked, a child write fails (404) instead of leaving an orphan."""
    t = acme.token
    cid = make_course(api, t)["id"]
    mid = make_module(api, t, cid)["id"]
    original = CatalogRepository.delete_course
    answers: list[int] = []

    def delete_course(self: CatalogRepository, tree: Any) -> None:
        # Mark, then let a module insert and a lesson insert race in before the batch delete.
        import chalicelib.db.catalog as catalog_db

        real_batch = catalog_db._batch_delete

        def racing_batch(items: list[Any]) -> None:
            answers.append(api.post(f"/courses/{cid}/modules", {"title": "x"}, token=t).status)
            r = api.post(f"/courses/{cid}/modules/{mid}/lessons", {"title": "x"}, token=t)
            answers.append(r.status)
            real_batch(items)

        monkeypatch.setattr(catalog_db, "_batch_delete", racing_batch)
        original(self, tree)

    monkeypatch.setattr(CatalogRepository, "delete_course", delete_course)
    assert api.delete(f"/courses/{cid}", token=t).status == 204
    assert answers == [404, 404]
    assert partition(aws, cid, acme.tenant["id"]) == []


def _actor(acme) -> Any:
    from chalicelib.context import Actor

    return Actor(user_id=acme.admin["id"], correlation_id="race")


def _add_lesson_directly(repo: CatalogRepository, cid: str, mid: str) -> None:
    from chalicelib.models.catalog import LessonRecord

    repo.add_lesson(
        cid,
        LessonRecord(
            id="RACER", module_id=mid, title="late", content="", duration_minutes=None, rank="z"
        ),
    )


def _world(api: Api, token: str) -> dict[str, str]:
    cid = make_course(api, token)["id"]
    mid = make_module(api, token, cid)["id"]
    lid = make_lesson(api, token, cid, mid)["id"]
    return {"c": cid, "m": mid, "l": lid}


# (request made, what disappears between its read and its write)
VANISHING = [
    ("PATCH course", "course"),
    ("POST module", "course"),
    ("PATCH module", "module"),
    ("PATCH module", "course"),
    ("POST lesson", "module"),
    ("POST lesson", "course"),
    ("PATCH lesson", "lesson"),
    ("PATCH lesson", "course"),
    ("DELETE lesson", "lesson"),
    ("DELETE lesson", "course"),
    ("DELETE module", "module"),
]


@pytest.mark.parametrize(("request_kind", "gone"), VANISHING)
def test_write_whose_target_vanishes_midway_is_404_and_leaves_no_orphan(
    api: Api, acme, aws, monkeypatch: pytest.MonkeyPatch, request_kind: str, gone: str
) -> None:
    t = acme.token
    w = _world(api, t)
    repo = CatalogRepository(acme.tenant["id"], actor=_actor(acme))

    def vanish() -> None:
        tree = repo.tree(w["c"], consistent=True)
        assert tree is not None
        if gone == "course":
            repo.delete_course(tree)
        elif gone == "module":
            repo.delete_module(tree, w["m"])
        else:
            repo.delete_lesson(w["c"], w["m"], w["l"])

    _interleave(monkeypatch, vanish)
    course, module = f"/courses/{w['c']}", f"/courses/{w['c']}/modules/{w['m']}"
    lesson = f"{module}/lessons/{w['l']}"
    call = {
        "PATCH course": lambda: api.patch(course, {"title": "x"}, token=t),
        "POST module": lambda: api.post(f"{course}/modules", {"title": "x"}, token=t),
        "PATCH module": lambda: api.patch(module, {"title": "x"}, token=t),
        "POST lesson": lambda: api.post(f"{module}/lessons", {"title": "x"}, token=t),
        "PATCH lesson": lambda: api.patch(lesson, {"title": "x"}, token=t),
        "DELETE lesson": lambda: api.delete(lesson, token=t),
        "DELETE module": lambda: api.delete(module, token=t),
    }[request_kind]
    r = call()
    assert r.status == 404 and r.error_code == "not_found", r.body
    items = partition(aws, w["c"], acme.tenant["id"])
    if gone == "course":
        assert items == []
    else:
        live = {i["sk"] for i in items}
        assert all(sk == "COURSE" or sk.startswith("MODULE#") for sk in live)
        assert not any(sk.endswith(w["l"]) for sk in live)


def test_lesson_edits_racing_a_module_delete_are_refused(
    api: Api, acme, aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the module is marked, its lessons can be neither changed nor deleted (404), so the
    delete's marking puts can neither revert an edit nor bring a deleted lesson back."""
    t = acme.token
    cid = make_course(api, t)["id"]
    mid = make_module(api, t, cid)["id"]
    lid = make_lesson(api, t, cid, mid)["id"]
    import chalicelib.db.catalog as catalog_db

    real_batch = catalog_db._batch_delete
    answers: list[int] = []

    def racing_batch(items: list[Any]) -> None:
        path = f"/courses/{cid}/modules/{mid}/lessons/{lid}"
        answers.append(api.patch(path, {"title": "edited"}, token=t).status)
        answers.append(api.delete(path, token=t).status)
        real_batch(items)

    monkeypatch.setattr(catalog_db, "_batch_delete", racing_batch)
    assert api.delete(f"/courses/{cid}/modules/{mid}", token=t).status == 204
    assert answers == [404, 404]
    assert [i["sk"] for i in partition(aws, cid, acme.tenant["id"])] == ["COURSE"]


def test_a_second_delete_while_one_is_under_way_changes_nothing(
    api: Api, acme, aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A double click: the second DELETE answers 204 and leaves the running delete alone
    (it would otherwise re-put children the first one had already removed)."""
    t = acme.token
    cid = make_course(api, t)["id"]
    make_lesson(api, t, cid, make_module(api, t, cid)["id"])
    import chalicelib.db.catalog as catalog_db

    real_batch = catalog_db._batch_delete
    second: list[int] = []
    batches: list[int] = []

    def racing_batch(items: list[Any]) -> None:
        batches.append(len(items))
        if len(batches) == 1:
            second.append(api.delete(f"/courses/{cid}", token=t).status)
        real_batch(items)

    monkeypatch.setattr(catalog_db, "_batch_delete", racing_batch)
    assert api.delete(f"/courses/{cid}", token=t).status == 204
    assert second == [204]
    assert batches == [3]  # only the first delete removed anything
    assert partition(aws, cid, acme.tenant["id"]) == []


def test_a_delete_left_unfinished_by_a_crash_is_finished_by_the_next_delete(
    api: Api, acme, aws
) -> None:
    from chalicelib.db.catalog import CourseItem
    from chalicelib.db.keys import course_key

    t = acme.token
    cid = make_course(api, t)["id"]
    make_module(api, t, cid)
    pk, sk = course_key(acme.tenant["id"], cid)
    CourseItem(pk, sk).update(actions=[CourseItem.deleting_at.set("2020-01-01T00:00:00.000Z")])
    assert api.get(f"/courses/{cid}", token=t).status == 404
    assert api.delete(f"/courses/{cid}", token=t).status == 204
    assert partition(aws, cid, acme.tenant["id"]) == []
