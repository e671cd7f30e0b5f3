"""Keep the in-process emulator (moto) small and fast over long runs of the local stack.

moto is built for short tests; over a long ``make dev`` or ``make load`` four of its habits made
the stack grow to gigabytes and slow down as it grew. Each is measured in the README's memory
section; this module answers each one, in the local stack's process only (the tests' in-process
``mock_aws`` is left as it is):

1. **Every model object ever created stays alive.** moto appends each instance of its models to
   a class-level ``instances_tracked`` list (only ``/moto-api/data.json`` reads it), including
   every temporary copy below. :class:`Housekeeper` swaps those lists for :class:`WeakTracker`,
   which lists the same live objects without keeping them alive.
2. **Every transaction deep-copies its whole tables** (every item and every stream record) to
   be able to roll back. :func:`install` gives moto's table a ``__deepcopy__`` that, inside a
   transaction, shares the table's items and keeps a copy of only the items the transaction
   names, to put back if it fails.
   moto also rolls a failed transaction back by putting its copy of the table, stream and all,
   in the place of the table: a stream reader then saw the undone writes' records and missed
   the next real ones (an audit entry lost now and then). The copies share the one stream and
   a failed transaction takes back only the records it added. They share the query indexes of
   point 3 too (moto's copy in place lost them: every query after a refused booking indexed
   the whole table again, so the stack slowed down as its data grew), and a transaction makes
   one copy per table, not one per operation, whose cost follows the transaction, not the table.
3. **Every query sorts every item of the table**, and moto writes each attribute value of an
   answer through its service model, member by member; every queue operation asks each message
   of the queue for the time through datetime arithmetic, several times; its server lists its
   own package on disk for every request. :func:`install` keeps each queried partition sorted
   as items change and hands a query only the items that can be on its page (sort-key
   condition, start key and limit applied by position), copies attribute values (already in
   DynamoDB's JSON form) into answers, reads the clock directly and lists the package once.
4. **Stream records, sent mail, stream iterators and the receipts of deleted queue messages
   are kept for ever.** :class:`Housekeeper` trims them under :data:`RETENTION`.

Everything here runs under the emulator's request lock (see :mod:`chalicelib.local.server`), so
it never sees a request half done.
"""

from __future__ import annotations

import bisect
import copy
import inspect
import logging
import threading
import time
import weakref
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("tutorbook.local.emulator")

REGION = "us-east-1"


@dataclass(frozen=True)
class Retention:
    """What the emulator keeps of data nobody needs any more (the README's policy)."""

    #: Stream records every consumer has acknowledged that stay readable (the newest ones).
    stream_records: int = 1000
    #: Sent emails kept for reading (``make mail``, ``/_local/mail``): the newest ones.
    mail: int = 1000
    #: Stream iterators kept (each poll makes new ones; a reader uses its own at once).
    shard_iterators: int = 200
    #: Receipt handles of deleted queue messages remembered, so a repeated delete still succeeds.
    deleted_receipts: int = 10_000


RETENTION = Retention()


# 1. Weak instance tracking -------------------------------------------------------------------


class WeakTracker:
    """A stand-in for moto's ``instances_tracked`` list that does not keep objects alive."""

    def __init__(self, objects: Any = ()) -> None:
        self._refs: list[weakref.ReferenceType[Any]] = []
        self._strong: list[Any] = []  # objects that cannot be weakly referenced
        self._pruned_at = 0
        for obj in objects:
            self.append(obj)

    def append(self, obj: Any) -> None:
        try:
            self._refs.append(weakref.ref(obj))
        except TypeError:
            self._strong.append(obj)

    def __iter__(self) -> Iterator[Any]:
        for ref in list(self._refs):
            obj = ref()
            if obj is not None:
                yield obj
        yield from list(self._strong)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def prune(self, force: bool = False) -> int:
        """Forget the references to objects that are gone; answers how many were dropped.

        Unless forced, only once the references have doubled since the last prune (a prune
        visits every live object, so it stays proportional to the growth).
        """
        before = len(self._refs)
        if not force and before < 2 * self._pruned_at + 1000:
            return 0
        self._refs = [ref for ref in self._refs if ref() is not None]
        self._pruned_at = len(self._refs)
        return before - self._pruned_at


def track_weakly() -> int:
    """Swap every model class's tracking list for a :class:`WeakTracker` (new classes appear as
    moto imports a service on its first request, and ``/moto-api/reset`` puts lists back).

    Answers how many tracked objects the sweep let go of.
    """
    from moto.core.model_instances import model_data

    released = 0
    for models in list(model_data.values()):
        for cls in list(models.values()):
            tracked = getattr(cls, "instances_tracked", None)
            if isinstance(tracked, WeakTracker):
                released += tracked.prune()
            elif isinstance(tracked, list):
                before = len(tracked)
                weak = WeakTracker(tracked)
                tracked.clear()
                cls.instances_tracked = weak  # type: ignore[attr-defined]
                released += before - len(weak)
    return released


# 2 and 3. Transactions and queries -----------------------------------------------------------

_context = threading.local()
_originals: dict[tuple[type, str], Any] = {}


def install() -> None:
    """Make moto's transactions copy only what they touch and its queries stop re-sorting.

    Idempotent; changes moto's DynamoDB classes in this process until :func:`uninstall`.
    """
    if _originals:
        return
    replacements = (
        _dynamodb_replacements()
        + _serializer_replacements()
        + _queue_replacements()
        + _dispatch_replacements()
    )
    for cls, name, function in replacements:
        _originals[(cls, name)] = cls.__dict__.get(name)
        setattr(cls, name, function)


Replacement = tuple[Any, str, Any]  # (class or module, attribute, replacement)


def _dynamodb_replacements() -> list[Replacement]:
    """Transactions copy only what they touch; queries read their candidates by key."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    transact_write_items = _transaction(DynamoDBBackend.transact_write_items)
    update_item = DynamoDBBackend.update_item
    query = Table.query
    put_item = Table.put_item
    delete_item = Table.delete_item
    signature = inspect.signature(query)

    def backend_update_item(self: Any, table_name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return update_item(self, table_name, *args, **kwargs)
        finally:  # an update changes an item in place, maybe an index key of it
            table = self.tables.get(table_name)
            if table is not None:
                key = kwargs.get("key", args[0] if args else None)
                _changed(table, _key_of(table, key))

    def table_query(self: Any, *args: Any, **kwargs: Any) -> Any:
        _context.query = (self, _candidates(self, signature.bind(self, *args, **kwargs).arguments))
        try:
            return query(self, *args, **kwargs)
        finally:
            _context.query = None

    def table_put_item(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return put_item(self, *args, **kwargs)
        finally:
            _changed(self, _key_of(self, kwargs.get("item_attrs", args[0] if args else None)))

    def table_delete_item(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return delete_item(self, *args, **kwargs)
        finally:
            hash_key = kwargs.get("hash_key", args[0] if args else None)
            range_key = kwargs.get("range_key", args[1] if len(args) > 1 else None)
            _changed(self, (hash_key, range_key) if hash_key is not None else None)

    def table_all_items(self: Any) -> list[Any]:
        narrowed = getattr(_context, "query", None)
        if narrowed is not None and narrowed[0] is self and narrowed[1] is not None:
            return list(narrowed[1])
        return _sorted_items(self)

    def table_sorted_items(
        self: Any, hash_key_attrs: list[str], range_key_attrs: list[str | None], items: list[Any]
    ) -> list[Any]:
        # moto compares DynamoType objects (a Python call per comparison); the key attributes
        # of an index are scalars of one declared type, whose cast values order the same.
        attrs = self._generate_attr_to_sort_by(hash_key_attrs, range_key_attrs)
        items.sort(key=lambda item: tuple(item.attrs[attr].cast_value for attr in attrs))
        return items

    return [
        (DynamoDBBackend, "transact_write_items", transact_write_items),
        (DynamoDBBackend, "update_item", backend_update_item),
        (Table, "query", table_query),
        (Table, "put_item", table_put_item),
        (Table, "delete_item", table_delete_item),
        (Table, "all_items", table_all_items),
        (Table, "sorted_items", table_sorted_items),
        (Table, "__deepcopy__", _table_deepcopy),
    ]


def _transaction(transact: Callable[..., Any]) -> Callable[..., Any]:
    """moto's ``transact_write_items``, copying only what it touches and keeping one stream.

    moto applies a failing transaction's writes one by one (each adding its stream record) and
    then puts back its copies of the tables, streams included. A reader's shard iterator still
    pointed at the stream they replaced, with the records of writes that never happened, under
    sequence numbers the next writes reuse: a stream consumer delivered changes that were
    undone and skipped real ones. The copies share the one stream, and a failed transaction
    takes back only its own records.
    """

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> Any:
        touched: dict[str, list[Any]] = {}
        streams: StreamMarks = {}
        try:
            touched = _context.touched = _touched_keys(self, transact_items)
            _context.copies = {}
            streams = _stream_marks(self)
            return transact(self, transact_items)
        except Exception:
            _rolled_back(self, touched)
            _take_back(self, streams)
            raise
        finally:
            _context.touched = None
            _context.copies = None

    return transact_write_items


#: table name -> (the table, its stream shard, records the shard held) before a transaction
StreamMarks = dict[str, tuple[Any, Any, int]]


def _stream_marks(backend: Any) -> StreamMarks:
    return {
        name: (table, table.stream_shard, len(table.stream_shard.items))
        for name, table in backend.tables.items()
        if table.stream_shard is not None
    }


def _rolled_back(backend: Any, touched: dict[str, list[Any]]) -> None:
    """After a failed transaction: where moto put its copy of a table back (the copy carries
    the items to restore, see ``_rollback_copy``), the items the transaction named are put back
    as they were; they are read again by the next query either way."""
    for name, keys in touched.items():
        table = backend.tables.get(name)
        if table is None:
            continue
        before = table.__dict__.pop("_local_undo", None)
        if before is not None:
            _undo(table, before)
        for key in keys:
            _changed(table, key)


def _take_back(backend: Any, marks: StreamMarks) -> None:
    """After a failed transaction: each table moto put its copy back for reads its one stream
    again, without the records of the writes that were undone. A table moto did not put back
    (it refuses some malformed transactions after writing, without undoing the writes) keeps
    its records: those writes stand."""
    for name, (original, shard, length) in marks.items():
        table = backend.tables.get(name)
        if table is None or table is original:
            continue
        del shard.items[length:]
        table.stream_shard = shard
        shard.table = table


def _dispatch_replacements() -> list[Replacement]:
    """moto's server finds a request's service by listing its own package on disk, for every
    request (about a millisecond of the emulator's lock each time); the list never changes."""
    from moto import backends

    modules = tuple(backends.list_of_moto_modules())

    def list_of_moto_modules() -> Iterator[str]:
        return iter(modules)

    return [(backends, "list_of_moto_modules", list_of_moto_modules)]


def _serializer_replacements() -> list[Replacement]:
    """DynamoDB attribute values are copied into answers, not walked through the model."""
    from moto.core.serialize import BaseJSONSerializer

    serialize_structure = BaseJSONSerializer._serialize_type_structure

    def json_serialize_structure(
        self: Any, serialized: Any, value: Any, shape: Any, key: str
    ) -> None:
        # moto serializes every DynamoDB attribute value member by member through the service
        # model (most of a query's time). Its items are already in that JSON form; copy them.
        if (
            key
            and shape.name == "AttributeValue"
            and isinstance(value, dict)
            and self.operation_model.service_model.service_name in _ATTRIBUTE_VALUE_SERVICES
        ):
            try:
                serialized[self.get_serialized_name(shape, key)] = _attribute_value(value)
                return
            except _Unusual:
                pass
        serialize_structure(self, serialized, value, shape, key)

    return [(BaseJSONSerializer, "_serialize_type_structure", json_serialize_structure)]


def _queue_replacements() -> list[Replacement]:
    """Queue messages read the clock directly."""
    from moto.sqs.models import Message as QueueMessage
    from moto.sqs.models import SQSBackend

    # Every send and every received message makes moto count the queue's visible, delayed and
    # in-flight messages, asking each message for the time through datetime arithmetic
    # (about 20 µs): with a backlog, a receive cost seconds. The same clock, read directly.
    def visible(self: Any) -> bool:
        return time.time() * 1000.0 > float(self.visible_at)

    def delayed(self: Any) -> bool:
        return time.time() * 1000.0 < float(self.delayed_until)

    # moto checks each message it hands out against the queue's retention period by computing
    # every attribute of the queue, counting its messages three times over, twice: a receive
    # cost grew with the backlog it was meant to shrink. The period, read directly.
    def retained(self: Any, queue_name: str, message: Any) -> bool:
        period = int(self.get_queue(queue_name).message_retention_period)
        return bool(period + message.sent_timestamp / 1000 > time.time())

    return [
        (QueueMessage, "visible", property(visible)),
        (QueueMessage, "delayed", property(delayed)),
        (SQSBackend, "is_message_valid_based_on_retention_period", retained),
    ]


_ATTRIBUTE_VALUE_SERVICES = frozenset({"dynamodb", "dynamodbstreams"})


class _Unusual(Exception):  # noqa: N818 - a value the fast path leaves to moto (binary)
    pass


def _attribute_value(value: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB attribute value as moto's serializer would write it (binary values aside)."""
    out: dict[str, Any] = {}
    for kind, member in value.items():
        if member is None:
            continue
        if kind in ("S", "N"):
            out[kind] = str(member) if member not in ({}, []) else member
        elif kind in ("BOOL", "NULL"):
            out[kind] = member
        elif kind == "M":
            out[kind] = {k: _attribute_value(v) for k, v in member.items()}
        elif kind == "L":
            out[kind] = [_attribute_value(v) for v in member]
        elif kind in ("SS", "NS"):
            out[kind] = [str(v) if v not in (None, {}, []) else v for v in member]
        else:
            raise _Unusual(kind)
    return out


def uninstall() -> None:
    """Give moto its own methods back (the tests compare both)."""
    for (cls, name), original in _originals.items():
        if original is None:
            delattr(cls, name)
        else:
            setattr(cls, name, original)
    _originals.clear()


def _changed(table: Any, key: tuple[Any, Any] | None = None) -> None:
    """Note that an item of ``table`` changed: the one of ``key`` (hash, range), or any (None:
    the indexes below are rebuilt on their next use)."""
    table._local_version = getattr(table, "_local_version", 0) + 1
    indexes: dict[Any, _Partitions] | None = table.__dict__.get("_local_indexes")
    if not indexes:
        return
    if key is None:
        table.__dict__.pop("_local_indexes", None)
        return
    for buckets in indexes.values():
        buckets.dirty.add(key)


def changed(table: Any) -> None:
    """Items of ``table`` were changed behind moto's back (e.g. a snapshot was loaded)."""
    _changed(table)


def _key_of(table: Any, attrs: Any) -> tuple[Any, Any] | None:
    """The (hash, range) key, as moto stores it, of an item's attributes or a request's key."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    try:
        hash_key = DynamoType(attrs[table.hash_key_attr])
        range_key = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
    except (KeyError, TypeError, IndexError):
        return None
    return hash_key, range_key


Key = tuple[Any, Any]  # an item's (hash, range) key as moto stores it
#: an item a transaction names, before it: (hash, range, its partition existed, the item or None)
Undo = tuple[Any, Any, bool, Any]
Order = tuple[Any, ...]  # where an item sorts in a query's answer
Entry = tuple[Order, Key]


class _Partitions:
    """The items of a table by the value of one partition key (the table's own or an index's),
    each partition kept sorted in the order moto answers a query in, and kept up to date from
    the keys that changed since the last query. moto itself looks at every item of the table
    for every query and sorts every match; this lets a query read only its page.

    moto's order for an index with a sort key is (index sort key, table hash key, table range
    key); for the table's own key, the range key. ``range_attr`` None means the index has no
    sort key: its partitions are kept in table-key order and moto sorts them itself.
    """

    def __init__(self, table: Any, hash_attr: str, range_attr: str | None, own: bool) -> None:
        self.hash_attr = hash_attr
        self.range_attr = range_attr
        self.own = own  # the table's own key: ordered by its range key only
        self.entries: dict[tuple[str, Any], list[Entry]] = defaultdict(list)
        self.where: dict[Key, tuple[tuple[str, Any], Order]] = {}
        self.dirty: set[Key] = set()
        #: a key value that is not a string was seen: the queries are left to moto
        self.unusual = False
        for bucket in table.items.values():
            for item in bucket.values() if table.range_key_attr else [bucket]:
                self._add((item.hash_key, item.range_key), item)
        for entries in self.entries.values():
            entries.sort(key=_first)

    def _order(self, item: Any) -> Order | None:
        if self.own:
            return (item.range_key.cast_value,) if item.range_key is not None else ()
        parts: list[Any] = []
        if self.range_attr is not None:
            found = item.attrs.get(self.range_attr)
            if not found:  # moto leaves items without the index's sort key out of its answers
                return None
            parts.append(_scalar(found))
        parts.append(item.hash_key.cast_value)
        if item.range_key is not None:
            parts.append(item.range_key.cast_value)
        return tuple(parts)

    def _add(self, key: Key, item: Any, sort: bool = False) -> None:
        found = item.attrs.get(self.hash_attr)
        if found is None or found.type not in ("S", "B"):
            return
        try:
            order = self._order(item)
        except _Unusual:
            self.unusual = True
            return
        if order is None:
            return
        value = (found.type, found.value)
        if sort:
            bisect.insort(self.entries[value], (order, key), key=_first)
        else:
            self.entries[value].append((order, key))
        self.where[key] = (value, order)

    def refresh(self, table: Any) -> None:
        for key in self.dirty:
            old = self.where.pop(key, None)
            if old is not None:
                entries = self.entries[old[0]]
                i = bisect.bisect_left(entries, old[1], key=_first)
                if i < len(entries) and entries[i][1] == key:
                    del entries[i]
            hash_key, range_key = key
            bucket = table.items.get(hash_key)
            if table.range_key_attr:
                item = bucket.get(range_key) if bucket is not None else None
            else:
                item = bucket
            if item is not None:
                self._add(key, item, sort=True)
        self.dirty.clear()

    def page(self, table: Any, value: tuple[str, Any], query: dict[str, Any]) -> list[Any] | None:
        """The items of the partition that can be on the query's page, in the partition's order
        (the range condition, the start key and the limit applied by position)."""
        if self.unusual:
            return None
        entries = self.entries.get(value, [])
        lo, hi = 0, len(entries)
        if self.range_attr is not None or self.own:
            lo, hi = _range_bounds(entries, query, lo, hi)
            forward = query.get("scan_index_forward", True) is not False
            # moto answers a LastEvaluatedKey when a full page is followed by any item of the
            # partition, even one outside the condition: keep the first one past the range.
            if forward:
                hi = min(len(entries), hi + 1)
            else:
                lo = max(0, lo - 1)
            start = self._start_order(table, query.get("exclusive_start_key"))
            if start is not None:
                if forward:
                    lo = max(lo, bisect.bisect_right(entries, start, lo, hi, key=_first))
                else:
                    hi = min(hi, bisect.bisect_left(entries, start, lo, hi, key=_first))
            limit = query.get("limit")
            # One item past the page: moto answers a LastEvaluatedKey only when it sees more.
            if isinstance(limit, int) and limit > 0 and not query.get("filter_kwargs"):
                if forward:
                    hi = min(hi, lo + limit + 1)
                else:
                    lo = max(lo, hi - limit - 1)
        return [_item_at(table, key) for _, key in entries[lo:hi]]

    def _start_order(self, table: Any, start: dict[str, Any] | None) -> Order | None:
        """Where a query's ExclusiveStartKey sorts, or None to leave the start to moto."""
        from moto.dynamodb.models.dynamo_type import DynamoType

        if not start:
            return None
        try:
            parts: list[Any] = []
            if self.range_attr is not None and not self.own:
                parts.append(_scalar(DynamoType(start[self.range_attr])))
            if not self.own:
                parts.append(DynamoType(start[table.hash_key_attr]).cast_value)
            if table.range_key_attr:
                parts.append(DynamoType(start[table.range_key_attr]).cast_value)
        except (KeyError, TypeError, _Unusual):
            return None
        return tuple(parts)


def _first(entry: Entry) -> Order:
    return entry[0]


def _scalar(value: Any) -> str:
    """A string key value (every index sort key of the stack is one); others are left to moto."""
    if value.type != "S":
        raise _Unusual(value.type)
    return str(value.value)


#: moto's names for a key condition's comparisons (both the old API's and the expressions').
_COMPARISONS = {
    "=": "EQ",
    "EQ": "EQ",
    "<": "LT",
    "LT": "LT",
    "<=": "LE",
    "LE": "LE",
    ">": "GT",
    "GT": "GT",
    ">=": "GE",
    "GE": "GE",
    "BETWEEN": "BETWEEN",
    "BEGINS_WITH": "BEGINS_WITH",
}


def _range_bounds(entries: list[Entry], query: dict[str, Any], lo: int, hi: int) -> tuple[int, int]:
    """The positions of the partition's entries that satisfy the query's sort-key condition
    (moto checks each candidate again; this only leaves out those that cannot match)."""
    comparison = _COMPARISONS.get(str(query.get("range_comparison") or "").upper())
    values = query.get("range_objs") or []
    if comparison is None or len(query.get("range_key_conditions") or []) > 1:
        return lo, hi
    try:
        bounds = [_scalar(v) for v in values]
    except _Unusual:
        return lo, hi

    def left(v: str) -> int:
        return bisect.bisect_left(entries, v, lo, hi, key=_sort_value)

    def right(v: str) -> int:
        return bisect.bisect_right(entries, v, lo, hi, key=_sort_value)

    if not bounds or not bounds[0] or (comparison == "BETWEEN") != (len(bounds) == 2):
        return lo, hi
    first, last = bounds[0], bounds[-1]
    if comparison == "BEGINS_WITH":
        # Every string with the prefix sorts from the prefix up to the next prefix.
        after = first[:-1] + chr(ord(first[-1]) + 1) if ord(first[-1]) < 0x10FFFF else None
        return left(first), left(after) if after is not None else hi
    spans: dict[str, Callable[[], tuple[int, int]]] = {
        "EQ": lambda: (left(first), right(first)),
        "LT": lambda: (lo, left(first)),
        "LE": lambda: (lo, right(first)),
        "GT": lambda: (right(first), hi),
        "GE": lambda: (left(first), hi),
        "BETWEEN": lambda: (left(first), max(left(first), right(last))),
    }
    return spans[comparison]()


def _sort_value(entry: Entry) -> Any:
    return entry[0][0]


def _item_at(table: Any, key: Key) -> Any:
    bucket = table.items[key[0]]
    return bucket[key[1]] if table.range_key_attr else bucket


def _partitions(table: Any, hash_attr: str, range_attr: str | None, own: bool) -> _Partitions:
    indexes: dict[tuple[str, str | None, bool], _Partitions] = table.__dict__.setdefault(
        "_local_indexes", {}
    )
    name = (hash_attr, range_attr, own)
    partitions = indexes.get(name)
    if partitions is None:
        partitions = indexes[name] = _Partitions(table, hash_attr, range_attr, own)
    elif partitions.dirty:
        partitions.refresh(table)
    return partitions


def _sorted_items(table: Any) -> list[Any]:
    """moto's ``all_items`` (every item sorted by table key), kept until an item changes.

    Sorted by the keys' cast values: table keys are scalars of their declared type, which
    order as moto's DynamoType comparisons do, without a Python call per comparison.
    """
    version = getattr(table, "_local_version", 0)
    cached = table.__dict__.get("_local_order")
    if cached is None or cached[0] != version:
        items: list[Any] = []
        for bucket in table.items.values():
            if table.range_key_attr:
                items.extend(bucket.values())
            else:
                items.append(bucket)
        if table.range_key_attr:
            items.sort(key=lambda i: (i.hash_key.cast_value, i.range_key.cast_value))
        else:
            items.sort(key=lambda i: i.hash_key.cast_value)
        cached = (version, items)
        table._local_order = cached
    return list(cached[1])


def _candidates(table: Any, arguments: dict[str, Any]) -> list[Any] | None:
    """The items a query can match, or None to let moto look at all of them.

    A query on the table's own key, or on an index whose partition key is a string or binary,
    reads the items of that partition that can be on its page (moto then checks them itself,
    sorts them and pages them as before): its cost follows the page, not the table.
    """
    index_name = arguments.get("index_name")
    hash_key = arguments.get("hash_key")
    if index_name is None:
        if hash_key is None or hash_key.type not in ("S", "B"):
            return None
        partitions = _partitions(table, table.hash_key_attr, table.range_key_attr, own=True)
        return partitions.page(table, (hash_key.type, hash_key.value), arguments)
    index = next((i for i in table.all_indexes() if i.name == index_name), None)
    if index is None:
        return None
    hash_attrs = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]
    range_attrs = [k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE"]
    conditions = dict(arguments.get("hash_key_conditions") or [])
    if len(hash_attrs) != 1 or len(range_attrs) > 1:
        return None
    value = conditions.get(hash_attrs[0], hash_key)
    if value is None or value.type not in ("S", "B"):
        return None
    partitions = _partitions(table, hash_attrs[0], range_attrs[0] if range_attrs else None, False)
    return partitions.page(table, (value.type, value.value), arguments)


def _touched_keys(backend: Any, transact_items: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Table name -> the (hash, range) keys a transaction names, as moto stores them."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    touched: dict[str, list[Any]] = defaultdict(list)
    for entry in transact_items:
        for op in entry.values():
            if not isinstance(op, dict) or op.get("TableName") not in backend.tables:
                continue
            table = backend.tables[op["TableName"]]
            key = op.get("Key") or op.get("Item") or {}
            try:
                hash_key = DynamoType(key[table.hash_key_attr])
                range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
            except (KeyError, TypeError, IndexError):
                continue  # moto itself rejects the malformed operation
            touched[table.name].append((hash_key, range_key))
    return touched


def _table_deepcopy(self: Any, memo: dict[int, Any]) -> Any:
    touched = getattr(_context, "touched", None)
    cls: Any = type(self)
    if touched is None or self.name not in touched:
        # A full copy, as copy.deepcopy would make without this method (e.g. for backups).
        new = memo[id(self)] = cls.__new__(cls)
        state = {k: v for k, v in self.__dict__.items() if not k.startswith("_local_")}
        new.__dict__.update(copy.deepcopy(state, memo))
        # Its own indexes are built when first queried; the version (which tells the saved
        # snapshot whether anything changed) carries on rather than starting again at 0.
        new._local_version = getattr(self, "_local_version", 0)
        return new
    # Inside a transaction: the copy is kept only to roll back. moto makes one per operation
    # of the transaction, all before its first write: one copy per table serves them all
    # (the transaction's wrapper sets ``touched`` and ``copies`` together).
    copies: dict[str, Any] = _context.copies
    if self.name not in copies:
        copies[self.name] = _rollback_copy(self, touched[self.name])
    memo[id(self)] = copies[self.name]
    return copies[self.name]


def _rollback_copy(table: Any, touched: list[Key]) -> Any:
    """The copy of ``table`` moto keeps to put back if a transaction writing ``touched`` fails.

    It shares everything with the table: its items (the dict itself), its stream (a failed
    transaction takes its records back, see ``_take_back``) and its query indexes (they name
    items by key). What it keeps of its own is a copy of each item the transaction names, as it
    was before: if moto puts the copy back, ``_rolled_back`` puts those items back into the
    shared dict (a put or a delete replaces an item there, an update changes one in place). Its
    cost follows the transaction, not the table.
    """
    cls: Any = type(table)
    new = cls.__new__(cls)
    new.__dict__.update({k: v for k, v in table.__dict__.items() if k != "_local_order"})
    before: list[Undo] = []
    for hash_key, range_key in touched:
        bucket = table.items.get(hash_key)  # .get: the items are a defaultdict
        if table.range_key_attr:
            item = bucket.get(range_key) if bucket is not None else None
        else:
            item = bucket
        found = copy.deepcopy(item) if item is not None else None
        before.append((hash_key, range_key, bucket is not None, found))
    new._local_undo = before
    return new


def _undo(table: Any, before: list[Undo]) -> None:
    """Put the items a failed transaction named back as they were (see ``_rollback_copy``)."""
    for hash_key, range_key, partition_existed, item in before:
        if not table.range_key_attr:
            if item is None:
                table.items.pop(hash_key, None)
            else:
                table.items[hash_key] = item
        elif not partition_existed:
            table.items.pop(hash_key, None)  # the transaction made the partition
        elif item is None:
            table.items[hash_key].pop(range_key, None)
        else:
            table.items[hash_key][range_key] = item


# 4. Retention --------------------------------------------------------------------------------


def trim_stream(shard: Any, acknowledged: int, keep: int) -> int:
    """Drop the oldest records of a moto stream shard that are acknowledged (sequence number at
    most ``acknowledged``), keeping the newest ``keep`` of them; answers how many went.

    The shard's starting sequence number moves with it, as a trimmed DynamoDB stream's does.
    """
    start = int(shard.starting_sequence_number)
    drop = min(len(shard.items), acknowledged - start + 1 - keep)
    if drop <= 0:
        return 0
    del shard.items[:drop]
    shard.starting_sequence_number = start + drop
    return drop


@dataclass
class Trimmed:
    stream_records: int = 0
    mail: int = 0
    shard_iterators: int = 0
    deleted_receipts: int = 0
    empty_buckets: int = 0
    tracked: int = 0

    def any(self) -> bool:
        return any(vars(self).values())


class Housekeeper:
    """Trims the emulator every ``interval`` seconds, under its request lock.

    ``acknowledged`` answers, per table name, the sequence number up to which every stream
    consumer of the stack has finished (the event pump's checkpoints).
    """

    def __init__(
        self,
        lock: threading.Lock,
        acknowledged: Callable[[], dict[str, int]],
        *,
        retention: Retention = RETENTION,
        interval: float = 1.0,
    ) -> None:
        self.lock = lock
        self.acknowledged = acknowledged
        self.retention = retention
        self.interval = interval
        self.mail_dropped = 0
        self.totals = Trimmed()
        self._sweeps = 0
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self, stop: threading.Event | None = None) -> Housekeeper:
        if stop is not None:
            self._stop = stop
        self._thread = threading.Thread(target=self._run, name="emulator-housekeeper", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.run_once()
            except Exception:  # housekeeping must never stop the stack
                log.exception("trimming the emulator failed")

    def run_once(self) -> Trimmed:
        acknowledged = self.acknowledged()
        with self.lock:
            done = self._sweep(acknowledged)
        for name in vars(done):
            setattr(self.totals, name, getattr(self.totals, name) + getattr(done, name))
        if done.stream_records or done.mail:
            log.debug("trimmed the emulator: %s", done)
        return done

    def _sweep(self, acknowledged: dict[str, int]) -> Trimmed:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends
        from moto.dynamodbstreams.models import dynamodbstreams_backends
        from moto.ses.models import ses_backends
        from moto.sqs.models import sqs_backends

        keep = self.retention
        done = Trimmed(tracked=track_weakly())
        self._sweeps += 1
        account = DEFAULT_ACCOUNT_ID
        tables = dynamodb_backends[account][REGION].tables
        for name, table in tables.items():
            if table.stream_shard is not None and name in acknowledged:
                done.stream_records += trim_stream(
                    table.stream_shard, acknowledged[name], keep.stream_records
                )
            if self._sweeps % 30 == 0:  # lookups of missing keys leave empty buckets behind
                empty = [
                    h
                    for h, bucket in table.items.items()
                    if isinstance(bucket, dict) and not bucket
                ]
                for hash_key in empty:
                    del table.items[hash_key]
                done.empty_buckets += len(empty)
        iterators = dynamodbstreams_backends[account][REGION].shard_iterators
        if len(iterators) > keep.shard_iterators:
            for arn in list(iterators)[: len(iterators) - keep.shard_iterators]:
                del iterators[arn]
                done.shard_iterators += 1
        sent = ses_backends[account][REGION].sent_messages
        if len(sent) > keep.mail:
            drop = len(sent) - keep.mail
            del sent[:drop]
            self.mail_dropped += drop
            done.mail += drop
        for queue in sqs_backends[account][REGION].queues.values():
            if len(queue.deleted_messages) > keep.deleted_receipts:
                done.deleted_receipts += len(queue.deleted_messages)
                queue.deleted_messages.clear()
        return done
