"""Fractional ranks: ordering siblings so an insert or a move writes one item (pure).

Siblings are sorted by a *rank*: a string key from a fractional index (base 36, compared as
plain strings), ties broken by id. Putting an item at index ``i`` gives it a rank strictly
between its new neighbours' ranks, so an insert or a move writes that one item and never
renumbers siblings; a key gets one character longer only about every five inserts into the
same gap. ``position`` in answers is the 0-based index in that order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
_BASE = len(_DIGITS)


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


class Ranked(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def rank(self) -> str: ...


R = TypeVar("R", bound=Ranked)


def ordered(items: Sequence[R]) -> list[R]:
    return sorted(items, key=lambda i: (i.rank, i.id))


def rank_for_index(siblings: Sequence[Ranked], index: int | None) -> str:
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


def index_of(items: Sequence[Ranked], item_id: str) -> int:
    """The 0-based position of ``item_id`` among ``items`` in rank order."""
    return next(i for i, x in enumerate(ordered(items)) if x.id == item_id)
