"""Ordering by position: inserts at taken positions and moves are stable and gap-tolerant,
and they write only the item that moves."""

from __future__ import annotations

from typing import Any

from tests.support.catalog import (
    make_course,
    make_lesson,
    make_module,
    partition,
    titles,
)
from tests.support.http import Api


def _modules(api: Api, token: str, cid: str) -> list[dict[str, Any]]:
    r = api.get(f"/courses/{cid}", token=token)
    assert r.status == 200
    mods = r.json["modules"]
    assert [m["position"] for m in mods] == list(range(len(mods))), "positions are 0..n-1"
    return list(mods)


def test_insert_at_taken_positions_and_append(api: Api, acme) -> None:
    t = acme.token
    cid = make_course(api, t)["id"]
    assert make_module(api, t, cid, "B")["position"] == 0
    assert make_module(api, t, cid, "D")["position"] == 1
    assert make_module(api, t, cid, "A", position=0)["position"] == 0  # taken: B moves down
    assert make_module(api, t, cid, "C", position=2)["position"] == 2  # between B and D
    assert make_module(api, t, cid, "E", position=999)["position"] == 4  # past the end: append
    assert titles(_modules(api, t, cid)) == ["A", "B", "C", "D", "E"]


def test_moves(api: Api, acme) -> None:
    t = acme.token
    cid = make_course(api, t)["id"]
    ids = {n: make_module(api, t, cid, n)["id"] for n in "ABCDE"}
    r = api.patch(f"/courses/{cid}/modules/{ids['E']}", {"position": 0}, token=t)
    assert r.status == 200 and r.json["position"] == 0
    assert titles(_modules(api, t, cid)) == ["E", "A", "B", "C", "D"]
    r = api.patch(f"/courses/{cid}/modules/{ids['E']}", {"position": 2}, token=t)
    assert r.json["position"] == 2
    assert titles(_modules(api, t, cid)) == ["A", "B", "E", "C", "D"]
    r = api.patch(f"/courses/{cid}/modules/{ids['A']}", {"position": 100}, token=t)
    assert r.json["position"] == 4
    assert titles(_modules(api, t, cid)) == ["B", "E", "C", "D", "A"]
    # Moving to where it already is keeps the order.
    api.patch(f"/courses/{cid}/modules/{ids['C']}", {"position": 2}, token=t)
    assert titles(_modules(api, t, cid)) == ["B", "E", "C", "D", "A"]


def test_a_move_writes_only_the_moved_item(api: Api, acme, aws) -> None:
    """Gap-tolerant: siblings keep their stored rank and stamps; only the mover (and the
    course's tree version) changes."""
    t = acme.token
    cid = make_course(api, t)["id"]
    ids = [make_module(api, t, cid, f"M{i}")["id"] for i in range(6)]
    before = {i["sk"]: i for i in partition(aws, cid, acme.tenant["id"])}
    api.patch(f"/courses/{cid}/modules/{ids[5]}", {"position": 1}, token=t)
    api.post(f"/courses/{cid}/modules", {"title": "new", "position": 3}, token=t)
    after = {i["sk"]: i for i in partition(aws, cid, acme.tenant["id"])}
    changed = {sk for sk in before if before[sk] != after.get(sk)}
    assert changed == {"COURSE", f"MODULE#{ids[5]}"}
    assert len(after) == len(before) + 1
    assert titles(_modules(api, t, cid)) == ["M0", "M5", "M1", "new", "M2", "M3", "M4"]


def test_many_inserts_into_one_gap_stay_ordered(api: Api, acme, aws) -> None:
    t = acme.token
    cid = make_course(api, t)["id"]
    make_module(api, t, cid, "first")
    make_module(api, t, cid, "last")
    # Always right after "first": the gap keeps being split, nothing is renumbered (how slowly
    # ranks grow over hundreds of such inserts is checked on the pure ranking).
    for i in range(8):
        make_module(api, t, cid, f"n{i}", position=1)
    mods = _modules(api, t, cid)
    assert titles(mods) == ["first", *[f"n{i}" for i in reversed(range(8))], "last"]
    ranks = [i["rank"] for i in partition(aws, cid, acme.tenant["id"]) if "rank" in i]
    assert max(len(r) for r in ranks) <= 12


def test_lessons_are_ordered_within_their_module(api: Api, acme) -> None:
    t = acme.token
    cid = make_course(api, t)["id"]
    m1 = make_module(api, t, cid, "M1")["id"]
    m2 = make_module(api, t, cid, "M2")["id"]
    ids = {}
    for name, pos in [("b", None), ("d", None), ("a", 0), ("c", 2)]:
        extra = {} if pos is None else {"position": pos}
        ids[name] = make_lesson(api, t, cid, m1, name, **extra)["id"]
    make_lesson(api, t, cid, m2, "other")
    r = api.patch(f"/courses/{cid}/modules/{m1}/lessons/{ids['d']}", {"position": 0}, token=t)
    assert r.status == 200 and r.json["position"] == 0
    mods = _modules(api, t, cid)
    lessons = mods[0]["lessons"]
    assert titles(lessons) == ["d", "a", "b", "c"]
    assert [x["position"] for x in lessons] == [0, 1, 2, 3]
    assert titles(mods[1]["lessons"]) == ["other"]
