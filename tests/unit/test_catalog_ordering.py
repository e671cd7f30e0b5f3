"""The fractional ranks behind ``position``, and the ETag comparison."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.models.catalog import CourseRecord
from chalicelib.services.catalog_views import etag_matches, etag_of
from chalicelib.services.ranking import ordered, rank_between, rank_for_index


@dataclass(frozen=True)
class Item:
    id: str
    rank: str


def test_rank_between_basics() -> None:
    a = rank_between(None, None)
    b = rank_between(a, None)
    c = rank_between(None, a)
    assert c < a < b
    m = rank_between(a, b)
    assert a < m < b
    assert not m.endswith("0")
    with pytest.raises(ValueError):
        rank_between(b, a)
    with pytest.raises(ValueError):
        rank_between(a, a)


@given(st.lists(st.tuples(st.integers(0, 60), st.booleans()), min_size=1, max_size=120))
@settings(max_examples=150, deadline=None)
def test_inserts_and_moves_match_a_plain_list(ops: list[tuple[int, bool]]) -> None:
    """Any sequence of insert-at-index / move-to-index keeps the order a list would have,
    writing one rank per operation (no sibling is ever renumbered)."""
    reference: list[str] = []
    ranks: dict[str, str] = {}
    for n, (index, move) in enumerate(ops):
        if move and reference:
            mover = reference[n % len(reference)]
            reference.remove(mover)
            others = [Item(i, ranks[i]) for i in reference]
            ranks[mover] = rank_for_index(others, index)
            reference.insert(min(index, len(reference)), mover)
        else:
            new = f"id{n:04d}"
            siblings = [Item(i, ranks[i]) for i in reference]
            ranks[new] = rank_for_index(siblings, index)
            reference.insert(min(index, len(reference)), new)
        assert [i.id for i in ordered([Item(i, ranks[i]) for i in ranks])] == reference
    assert all(r and not r.endswith("0") for r in ranks.values())


def test_repeated_inserts_at_one_spot_grow_slowly() -> None:
    items: list[Item] = [Item("first", rank_between(None, None))]
    items.append(Item("last", rank_between(items[0].rank, None)))
    for n in range(200):
        items.append(Item(f"n{n:03d}", rank_for_index(items, 1)))
    order = [i.id for i in ordered(items)]
    assert order[0] == "first" and order[-1] == "last"
    assert order[1:-1] == [f"n{n:03d}" for n in reversed(range(200))]
    assert max(len(i.rank) for i in items) <= 45  # ~1 char per 5 inserts into one gap


def test_tied_ranks_are_broken_by_id_and_inserts_go_after_the_tie() -> None:
    """Two racing inserts may pick the same rank: the order stays stable (by id) and the next
    insert still finds room."""
    a, b1, b2, c = Item("a", "4"), Item("x", "8"), Item("y", "8"), Item("z", "c")
    assert [i.id for i in ordered([c, b2, b1, a])] == ["a", "x", "y", "z"]
    r = rank_for_index([a, b1, b2, c], 2)  # between the tied pair: goes after it
    assert "8" < r < "c"


def test_etag_changes_with_tree_version_and_tenant() -> None:
    course = CourseRecord(
        id="C1",
        title="t",
        description="",
        published=True,
        owner_id="u",
        created_at="2026-01-01T00:00:00.000Z",
        updated_at="2026-01-01T00:00:00.000Z",
        tree_version=3,
    )
    tag = etag_of("T1", course)
    assert tag.startswith('"') and tag.endswith('"')
    assert etag_of("T1", course) == tag
    assert etag_of("T2", course) != tag
    bumped = CourseRecord(**{**course.__dict__, "tree_version": 4})
    assert etag_of("T1", bumped) != tag
    assert etag_matches(tag, tag) and etag_matches(f"W/{tag}", tag)
    assert etag_matches(f'"a", {tag}', tag) and etag_matches("*", tag)
    assert not etag_matches(None, tag) and not etag_matches('"other"', tag)
