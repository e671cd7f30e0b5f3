"""Transactions whose items carry names, so a cancellation says which item failed.

DynamoDB answers a cancelled ``TransactWriteItems`` with one reason per item, in request order.
PynamoDB's :class:`~pynamodb.transactions.TransactWrite` groups the items it sends by kind, so the
order of the reasons is not the order a repository added them in. :class:`Transaction` records
a name with every item and maps the reasons back to those names in this one place; repositories
ask ``cancelled.failed("module")`` instead of counting positions.
"""

from __future__ import annotations

from collections import defaultdict
from types import TracebackType
from typing import Any, Literal

from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.db.base import CONDITION_FAILED, TRANSACTION_CONFLICT, connection

_Kind = Literal["check", "delete", "put", "update"]
#: The order ``pynamodb.connection.Connection.transact_write_items`` sends the items in
#: (condition checks, deletes, puts, updates; each kind in the order it was added).
#: ``tests/integration/test_transactions.py`` fails if PynamoDB ever sends them otherwise.
REQUEST_ORDER: tuple[_Kind, ...] = ("check", "delete", "put", "update")


class Cancelled(Exception):
    """A cancelled transaction, with the cancellation codes of each named item."""

    def __init__(self, codes: dict[str, set[str]]) -> None:
        super().__init__(f"transaction cancelled: {dict(codes)}")
        self.codes = codes

    def failed(self, name: str) -> bool:
        """An item of this name did not meet its condition."""
        return CONDITION_FAILED in self.codes.get(name, set())

    def conflicted(self, name: str) -> bool:
        """An item of this name was held by a concurrent transaction (a lost race)."""
        return TRANSACTION_CONFLICT in self.codes.get(name, set())

    def lost(self, name: str) -> bool:
        """Its condition failed or a concurrent transaction held it."""
        return self.failed(name) or self.conflicted(name)

    @property
    def any_conflict(self) -> bool:
        return any(TRANSACTION_CONFLICT in codes for codes in self.codes.values())


class Transaction:
    """``with Transaction() as tx: tx.save("slot", item, condition) ...``; commits on exit.

    Raises :class:`Cancelled` (from PynamoDB's ``TransactWriteError``) when DynamoDB cancels it
    with reasons; any other failure propagates unchanged.
    """

    def __init__(self) -> None:
        self._tx = TransactWrite(connection=connection())
        self._names: dict[_Kind, list[str]] = {kind: [] for kind in REQUEST_ORDER}

    def check(
        self, name: str, model: type[Model], hash_key: str, range_key: str, condition: Condition
    ) -> None:
        self._names["check"].append(name)
        self._tx.condition_check(model, hash_key, range_key, condition=condition)

    def delete(self, name: str, item: Model, condition: Condition) -> None:
        self._names["delete"].append(name)
        self._tx.delete(item, condition=condition)

    def save(self, name: str, item: Model, condition: Condition) -> None:
        self._names["put"].append(name)
        self._tx.save(item, condition=condition)

    def update(self, name: str, item: Model, actions: list[Any], condition: Condition) -> None:
        self._names["update"].append(name)
        self._tx.update(item, actions=actions, condition=condition)

    def __enter__(self) -> Transaction:
        self._tx.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._tx.__exit__(exc_type, exc, tb)
        except TransactWriteError as error:
            reasons = error.cancellation_reasons or []
            if not reasons:
                raise
            names = [name for kind in REQUEST_ORDER for name in self._names[kind]]
            codes: dict[str, set[str]] = defaultdict(set)
            for name, reason in zip(names, reasons, strict=False):
                if reason is not None:
                    codes[name].add(reason.code)
            raise Cancelled(dict(codes)) from error
