"""HTTP caching of a course's tree: ETag changes with any change in the tree; 304."""

from __future__ import annotations

from tests.support.accounts import new_user, token_for
from tests.support.catalog import make_course, make_lesson, make_module
from tests.support.http import Api


def _get(api: Api, token: str, cid: str, tag: str | None = None):
    return api.get(f"/courses/{cid}", token=token, headers={"If-None-Match": tag} if tag else None)


def test_etag_and_304(api: Api, acme) -> None:
    t = acme.token
    cid = make_course(api, t, published=True)["id"]
    first = _get(api, t, cid)
    tag = first.headers["etag"]
    assert first.status == 200 and tag.startswith('"')
    again = _get(api, t, cid, tag)
    assert again.status == 304 and again.body == b""
    assert again.headers["etag"] == tag
    assert "etag" in again.headers["access-control-expose-headers"].lower()
    assert _get(api, t, cid, f"W/{tag}").status == 304  # weak comparison
    assert _get(api, t, cid, f'"nope", {tag}').status == 304  # a list of tags
    assert _get(api, t, cid, '"nope"').status == 200
    assert _get(api, t, cid).headers["etag"] == tag  # stable while nothing changes


def test_etag_changes_with_every_change_in_the_tree(api: Api, acme) -> None:
    t = acme.token
    cid = make_course(api, t, published=True)["id"]
    seen: list[str] = []

    def changed(step: str) -> None:
        r = _get(api, t, cid, seen[-1] if seen else None)
        assert r.status == 200, f"{step}: the old tag must no longer match"
        tag = r.headers["etag"]
        assert tag not in seen, step
        seen.append(tag)

    changed("start")
    api.patch(f"/courses/{cid}", {"description": "new"}, token=t)
    changed("course patched")
    mid = make_module(api, t, cid)["id"]
    changed("module added")
    api.patch(f"/courses/{cid}/modules/{mid}", {"title": "renamed"}, token=t)
    changed("module renamed")
    lid = make_lesson(api, t, cid, mid)["id"]
    changed("lesson added")
    api.patch(f"/courses/{cid}/modules/{mid}/lessons/{lid}", {"content": "x"}, token=t)
    changed("lesson edited")
    make_module(api, t, cid, "second", position=0)
    changed("module inserted before")
    api.delete(f"/courses/{cid}/modules/{mid}/lessons/{lid}", token=t)
    changed("lesson deleted")
    api.delete(f"/courses/{cid}/modules/{mid}", token=t)
    changed("module deleted")
    assert _get(api, t, cid, seen[-1]).status == 304


def test_etag_does_not_reveal_drafts(api: Api, acme) -> None:
    t = acme.token
    cid = make_course(api, t, published=False)["id"]
    tag = _get(api, t, cid).headers["etag"]
    student = token_for(new_user(acme, "s@acme.test", "student"))
    r = _get(api, student, cid, tag)
    assert r.status == 404 and "etag" not in r.headers
    assert _get(api, t, "01UNKNOWN", tag).status == 404


def test_a_patch_that_changes_nothing_keeps_the_etag(api: Api, acme) -> None:
    t = acme.token
    cid = make_course(api, t)["id"]
    mid = make_module(api, t, cid)["id"]
    lid = make_lesson(api, t, cid, mid)["id"]
    before = _get(api, t, cid).headers["etag"]
    r = api.patch(f"/courses/{cid}/modules/{mid}/lessons/{lid}", {"title": None}, token=t)
    assert r.status == 200
    assert _get(api, t, cid).headers["etag"] == before
