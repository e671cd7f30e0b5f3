"""The emulator's data across restarts of the local stack: ``$LOCAL_STATE_DIR/emulator.json.gz``.

A snapshot holds every item of every table, the stream records the app's stream functions
have not finished yet, every queue message and the emails kept for reading. The stack writes
one when it stops and, while it runs, every minute in which something changed; at its next
start it loads the snapshot before the event pump starts, so the app sees the same data, gets
the events it had not processed yet, and gets no event twice for data that is merely
reloaded. ``make reset`` deletes the snapshot. Only a stack that runs its own emulator loads or
writes one (a reused emulator keeps its own data).

This reads and writes moto's models in this process, under the emulator's request lock.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import threading
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from chalicelib.local import emulator

log = logging.getLogger("tutorbook.local.state")

REGION = "us-east-1"
FILE_NAME = "emulator.json.gz"
FORMAT = 1


def _backends() -> tuple[Any, Any, Any]:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends
    from moto.ses.models import ses_backends
    from moto.sqs.models import sqs_backends

    account = DEFAULT_ACCOUNT_ID
    return (
        dynamodb_backends[account][REGION],
        sqs_backends[account][REGION],
        ses_backends[account][REGION],
    )


def fingerprint() -> tuple[int, ...]:
    """Changes whenever an item, a queue or the sent mail changes (with the emulator's
    adaptations installed, an item write bumps its table's version)."""
    dynamodb, sqs, ses = _backends()
    versions = sum(getattr(t, "_local_version", 0) for t in dynamodb.tables.values())
    items = sum(len(t.items) for t in dynamodb.tables.values())
    messages = tuple(len(q._messages) for q in sqs.queues.values())
    return (versions, items, len(ses.sent_messages), *messages)


def capture(acknowledged: dict[str, int], mail_dropped: int) -> dict[str, Any]:
    """What the emulator holds, as references cheap to take under the lock (see :func:`encode`)."""
    dynamodb, sqs, ses = _backends()
    tables: dict[str, Any] = {}
    for name, table in dynamodb.tables.items():
        items = [
            dict(item.attrs)
            for bucket in table.items.values()
            for item in (bucket.values() if table.range_key_attr else [bucket])
        ]
        shard = table.stream_shard
        stream: list[dict[str, Any]] = []
        next_sequence = None
        if shard is not None:
            done = acknowledged.get(name, int(shard.starting_sequence_number) - 1)
            stream = [
                r.record for r in shard.items if int(r.record["dynamodb"]["SequenceNumber"]) > done
            ]
            next_sequence = int(shard.starting_sequence_number) + len(shard.items)
        tables[name] = {"items": items, "stream": stream, "next_sequence": next_sequence}
    queues = {
        name: [
            {
                "body": m.body,
                "message_attributes": m.message_attributes,
                "system_attributes": m.system_attributes,
            }
            for m in queue._messages
        ]
        for name, queue in sqs.queues.items()
    }
    mail = [dict(vars(m)) for m in ses.sent_messages]
    return {"tables": tables, "queues": queues, "mail": {"dropped": mail_dropped, "messages": mail}}


def _json_default(value: Any) -> Any:
    from moto.dynamodb.models.dynamo_type import DynamoType

    if isinstance(value, DynamoType):  # inside a list or map: moto's to_json stops at one level
        return value.to_json()
    if isinstance(value, datetime):
        return {"__datetime__": value.isoformat()}
    if isinstance(value, bytes):
        return value.decode("latin-1")
    raise TypeError(f"cannot save {type(value).__name__}")


def encode(captured: dict[str, Any]) -> bytes:
    """The snapshot file's content (the slow part, done outside the lock)."""
    tables = {
        name: {
            "items": [{k: v.to_json() for k, v in attrs.items()} for attrs in table["items"]],
            "stream": table["stream"],
            "next_sequence": table["next_sequence"],
        }
        for name, table in captured["tables"].items()
    }
    document = {"format": FORMAT, **captured, "tables": tables}
    return gzip.compress(json.dumps(document, default=_json_default).encode(), compresslevel=1)


def write(path: Path, content: bytes) -> None:
    """Replace the snapshot atomically (a crash mid-write leaves the previous one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_bytes(content)
    os.replace(partial, path)


def _hook(value: dict[str, Any]) -> Any:
    if set(value) == {"__datetime__"}:
        return datetime.fromisoformat(value["__datetime__"])
    return value


def load(path: Path) -> dict[str, Any] | None:
    """The snapshot in ``path``; None (with a warning) if there is none or it is unusable."""
    if not path.exists():
        return None
    return load_bytes(path.read_bytes(), str(path))


def load_bytes(content: bytes, where: str = "the snapshot") -> dict[str, Any] | None:
    try:
        document = json.loads(gzip.decompress(content), object_hook=_hook)
    except (OSError, ValueError, EOFError) as exc:
        log.warning("ignoring the unreadable emulator snapshot %s (%s)", where, exc)
        return None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        log.warning("ignoring the emulator snapshot %s: written by another version", where)
        return None
    return document


def restore(document: dict[str, Any]) -> dict[str, int]:
    """Put a snapshot back into the emulator (its tables and queues must exist); answers counts.

    Items go back without stream records (they are not changes); the stream gets back only the
    records that were still to be processed, with their sequence numbers.
    """
    dynamodb, sqs, ses = _backends()
    counts = {"items": 0, "stream_records": 0, "messages": 0, "emails": 0}
    for name, saved in document.get("tables", {}).items():
        table = dynamodb.tables.get(name)
        if table is None:
            log.warning("the snapshot's table %s no longer exists; its items are dropped", name)
            continue
        for attrs in saved["items"]:
            _put(table, attrs)
            counts["items"] += 1
        emulator.changed(table)  # its items changed without moto's knowledge
        counts["stream_records"] += _restore_stream(table, saved)
    for name, messages in document.get("queues", {}).items():
        queue = sqs.queues.get(name)
        if queue is not None:
            counts["messages"] += _restore_queue(queue, messages)
    counts["emails"] = _restore_mail(ses, document.get("mail", {}).get("messages", []))
    return counts


def _restore_stream(table: Any, saved: dict[str, Any]) -> int:
    """The stream records still to be processed, with their sequence numbers."""
    from moto.dynamodb.models.table import StreamRecord

    shard = table.stream_shard
    if shard is None or not saved.get("next_sequence"):
        return 0
    records = []
    for data in saved["stream"]:
        record: Any = StreamRecord.__new__(StreamRecord)
        record.record = data
        records.append(record)
    first = int(records[0].record["dynamodb"]["SequenceNumber"]) if records else None
    shard.items = records
    shard.starting_sequence_number = first if first is not None else saved["next_sequence"]
    return len(records)


def _restore_queue(queue: Any, messages: list[dict[str, Any]]) -> int:
    """Queue messages as SendMessage stores them, without recounting the queue per message."""
    from moto.sqs.models import Message as QueueMessage

    for m in messages:
        queued = QueueMessage(str(uuid.uuid4()), m["body"], m.get("system_attributes") or None)
        queued.message_attributes = m.get("message_attributes") or {}
        queued.mark_sent()
        queue.add_message(queued)
    return len(messages)


def _restore_mail(ses: Any, saved: list[dict[str, Any]]) -> int:
    from moto.ses.models import Message, RawMessage

    for data in saved:
        if "raw_data" in data:
            message: Any = RawMessage(
                data["id"], data["source"], data["destinations"], data["raw_data"]
            )
        else:
            message = Message(
                data["id"], data["source"], data["subject"], data["body"], data["destinations"]
            )
        ses.sent_messages.append(message)
    return len(saved)


def _put(table: Any, attrs: dict[str, Any]) -> None:
    """Store a saved item as moto's put would, without a stream record and without moto
    re-checking the size of the item once per attribute (it was checked when written)."""
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict

    hash_key = DynamoType(attrs[table.hash_key_attr])
    range_key = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
    item: Any = Item.__new__(Item)
    item.hash_key, item.range_key = hash_key, range_key
    item.attrs = LimitedSizeDict()
    for name, value in attrs.items():
        dict.__setitem__(item.attrs, name, DynamoType(value))
    if range_key is not None:
        table.items[hash_key][range_key] = item
    else:
        table.items[hash_key] = item


class Keeper:
    """Writes the snapshot every ``interval`` seconds in which something changed, and on stop."""

    def __init__(
        self,
        path: Path,
        lock: threading.Lock,
        acknowledged: Any,
        mail_dropped: Any,
        interval: float = 60.0,
    ) -> None:
        self.path = path
        self.lock = lock
        self.acknowledged = acknowledged
        self.mail_dropped = mail_dropped
        self.interval = interval
        self._saved: tuple[int, ...] | None = None
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def loaded(self) -> None:
        """The emulator now holds exactly what the file holds."""
        with self.lock:
            self._saved = fingerprint()

    def save(self) -> bool:
        """Write a snapshot if anything changed since the last; answers whether it wrote."""
        with self._write_lock:
            acknowledged = self.acknowledged()
            with self.lock:
                now = fingerprint()
                if now == self._saved:
                    return False
                captured = capture(acknowledged, self.mail_dropped())
            write(self.path, encode(captured))
            self._saved = now
            return True

    def start(self, stop: threading.Event) -> Keeper:
        self._stop = stop
        self._thread = threading.Thread(target=self._run, name="state-keeper", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.save()
            except Exception:  # a failed snapshot must not stop the stack; the next may work
                log.exception("writing the emulator snapshot failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
