"""The local stack's memory grows with its data, not with the requests it has served.

A short version of ``make load`` against the session's stack: after a warm-up, 600 mixed
requests from 8 threads over two tenants may grow the stack's resident memory by at most
:data:`CEILING_KIB` per request, and the run's own checks hold (no 5xx, no other tenant's data,
every write audited once). Measured with ``make load`` on a 2-core machine: before the emulator
was kept small the stack grew by about 0.9 MiB per request in the first minute (3.4 MiB per
request by 3,400 requests); now by about 12.5 KiB per request over 20,000 requests with
bookings through their workflow, which is the data the requests store (items, audit rows,
queued work, stream records and mail within the retention policy; README: "Memory"). The
ceiling leaves room for the allocator's steps on a short run (600 requests grew it by 11 to 17
KiB each on this machine) and still fails at a tenth of the old growth.
"""

from __future__ import annotations

import sys
from typing import Any

import pytest

from chalicelib.local.load import run
from tests.e2e.conftest import LocalStack

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc for RSS"),
]

CEILING_KIB = 100.0


def test_memory_per_request_stays_under_the_ceiling(local_stack: LocalStack) -> None:
    common: dict[str, Any] = {
        "pid": local_stack.pid,
        "threads": 8,
        "tenants": 2,
        "max_seconds": 120.0,
        "sample_seconds": 30.0,
        "idle_seconds": 0.0,
        "seed": 3,
    }
    # Warm-up: first requests load code and build per-thread clients once for good.
    run(local_stack.base_url, total=100, settle_seconds=0.0, **common)

    result = run(local_stack.base_url, total=600, settle_seconds=60.0, **common)

    assert result["server_error_count"] == 0, result["server_errors"]
    assert result["cross_tenant_read_count"] == 0, result["cross_tenant_reads"]
    assert result["audit_problems"] == [], result["audit_problems"][:10]
    assert result["requests"] == 600
    grown_kib = (result["rss_after_bytes"] - result["rss_before_bytes"]) / 1024
    assert grown_kib / result["requests"] < CEILING_KIB, result["memory_samples"]
