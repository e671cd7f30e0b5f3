"""Where the local stack's memory goes: the emulator's state by service, and tracemalloc.

``GET /_local/stats`` on the emulator's port answers :func:`stats` as JSON. With
``LOCAL_TRACEMALLOC=<frames>`` in the environment the stack traces allocations from its start,
and the answer also attributes the traced memory to components (the emulator by service, the
event pump, the scheduler, the app, the HTTP servers), by the innermost frame of each
allocation that lies in one of them.
"""

from __future__ import annotations

import gc
import os
import sys
import tracemalloc
from collections import Counter
from typing import Any

from chalicelib.local.harness import rss_bytes

REGION = "us-east-1"

#: (path fragment, component): the first that matches a frame names its component.
COMPONENTS: tuple[tuple[str, str], ...] = (
    ("/moto/dynamodbstreams/", "emulator: dynamodb streams"),
    ("/moto/dynamodb/", "emulator: dynamodb"),
    ("/moto/sqs/", "emulator: sqs"),
    ("/moto/ses", "emulator: ses"),
    ("/moto/moto_api/", "emulator: moto api / recorder"),
    ("/moto/", "emulator: core"),
    ("/chalicelib/local/pump", "pump"),
    ("/chalicelib/local/sqs_source", "pump"),
    ("/chalicelib/local/stream_source", "pump"),
    ("/chalicelib/local/scheduler", "scheduler"),
    ("/chalicelib/local/", "local stack"),
    ("/chalicelib/", "app"),
    ("/app.py", "app"),
    ("/chalice/", "chalice local server"),
    ("/werkzeug/", "emulator: http server"),
    ("/pynamodb/", "app: pynamodb"),
    ("/aws_lambda_powertools/", "app: powertools"),
    ("/botocore/", "aws sdk"),
    ("/boto3/", "aws sdk"),
)


def start_tracing() -> None:
    frames = os.environ.get("LOCAL_TRACEMALLOC", "")
    if frames.strip().isdigit() and int(frames) > 0:
        tracemalloc.start(int(frames))


def component(traceback: tracemalloc.Traceback) -> str:
    # tracemalloc lists a traceback's frames oldest first: the innermost frame of a component
    # (the code that allocated, not the thread's entry point that led to it) names it.
    for frame in reversed(traceback):
        name = frame.filename.replace(os.sep, "/")
        for fragment, label in COMPONENTS:
            if fragment in name:
                return label
    return "other"


_mark: tracemalloc.Snapshot | None = None


def traced_by_component(mark: bool = False) -> dict[str, Any] | None:
    """Traced bytes by component, and their growth since the last ``mark``."""
    global _mark
    if not tracemalloc.is_tracing():
        return None
    snapshot = tracemalloc.take_snapshot()
    sizes: Counter[str] = Counter()
    for stat in snapshot.statistics("traceback"):
        sizes[component(stat.traceback)] += stat.size
    out: dict[str, Any] = {"now": dict(sizes.most_common())}
    if _mark is not None:
        growth: Counter[str] = Counter()
        top: list[tuple[int, str]] = []
        for diff in snapshot.compare_to(_mark, "traceback"):
            growth[component(diff.traceback)] += diff.size_diff
            top.append((diff.size_diff, _where(diff.traceback)))
        out["growth_since_mark"] = dict(growth.most_common())
        out["top_growth"] = [f"{size} {where}" for size, where in sorted(top, reverse=True)[:25]]
    if mark:
        _mark = snapshot
    return out


def _where(traceback: tracemalloc.Traceback) -> str:
    """The allocating line and the innermost lines of the components that led to it."""
    frames = [
        f"{'/'.join(frame.filename.rsplit('/', 2)[-2:])}:{frame.lineno}"
        for frame in reversed(traceback)  # innermost first, each called from the next
    ]
    return " <- ".join(frames[:8])


def emulator_state() -> dict[str, Any]:
    """How much the in-process emulator holds, by service (counts, not bytes)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodbstreams.models import dynamodbstreams_backends
    from moto.ses.models import ses_backends
    from moto.sqs.models import sqs_backends

    account = DEFAULT_ACCOUNT_ID
    tables: dict[str, Any] = {}
    for name, table in dynamodb_backends[account][REGION].tables.items():
        shard = table.stream_shard
        tables[name] = {
            "items": sum(1 for _ in table.all_items()),
            "stream_records": len(shard.items) if shard is not None else 0,
        }
    queues = {
        name: {
            "messages": len(queue._messages),
            "deleted_receipt_handles": len(queue.deleted_messages),
        }
        for name, queue in sqs_backends[account][REGION].queues.items()
    }
    return {
        "dynamodb": tables,
        "dynamodbstreams": {
            "shard_iterators": len(dynamodbstreams_backends[account][REGION].shard_iterators)
        },
        "sqs": queues,
        "ses": {"sent_messages": len(ses_backends[account][REGION].sent_messages)},
    }


def top_types(limit: int = 15) -> dict[str, int]:
    counts = Counter(type(o).__name__ for o in gc.get_objects())
    return dict(counts.most_common(limit))


#: The emulator's request timings (set by the stack that serves it).
timings: dict[str, list[float]] = {}


def stats(types: bool = False, mark: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"rss_bytes": rss_bytes(os.getpid()), "threads": _threads()}
    out["emulator"] = emulator_state()
    out["emulator_seconds_by_operation"] = {
        name: {"requests": int(n), "seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3)}
        for name, (n, seconds, cpu) in sorted(timings.items(), key=lambda kv: -kv[1][1])
    }
    traced = traced_by_component(mark)
    if traced is not None:
        out["traced_bytes_by_component"] = traced
    if types:
        out["object_types"] = top_types()
    return out


def _threads() -> int:
    return len(sys._current_frames())


def stats_page(query: str) -> tuple[int, str, bytes]:
    """``GET /_local/stats[?types=1]``: :func:`stats` as JSON."""
    import json

    return (
        200,
        "application/json",
        json.dumps(stats(types="types=1" in query, mark="mark=1" in query)).encode(),
    )


#: The innermost frames of a thread that waits (for a request, a lock, a timer).
IDLE = frozenset(
    {
        "python3.11/threading.py:wait",
        "python3.11/selectors.py:select",
        "python3.11/socket.py:readinto",
        "python3.11/socket.py:accept",
        "python3.11/socketserver.py:serve_forever",
        "local/__main__.py:main",
        "local/diagnostics.py:sample_profile",
    }
)


def sample_profile(
    seconds: float = 10.0, interval: float = 0.005, top: int = 150
) -> dict[str, Any]:
    """Where the stack's threads spend their time: a sampling profile over ``seconds``.

    Every ``interval`` it looks at each thread's stack; answers the functions seen most often on
    top of a stack (own time) and anywhere in a stack (inclusive time), in samples.
    """
    import threading
    import time

    me = threading.get_ident()
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    busy = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for ident, frame in sys._current_frames().items():
            if ident == me:
                continue
            names = []
            current: Any = frame
            while current is not None:
                code = current.f_code
                names.append(f"{'/'.join(code.co_filename.rsplit('/', 2)[-2:])}:{code.co_name}")
                current = current.f_back
            if names and names[0] not in IDLE:
                busy += 1
                own[names[0]] += 1
                for name in set(names):
                    inclusive[name] += 1
        time.sleep(interval)
    return {
        "busy_samples": busy,
        "own": dict(own.most_common(top)),
        "inclusive": dict(inclusive.most_common(top)),
    }


def profile_page(query: str) -> tuple[int, str, bytes]:
    """``GET /_local/profile?seconds=N``: :func:`sample_profile` as JSON (not under the lock)."""
    import json
    import urllib.parse

    seconds = float(urllib.parse.parse_qs(query).get("seconds", ["10"])[0])
    return 200, "application/json", json.dumps(sample_profile(min(seconds, 120.0))).encode()
