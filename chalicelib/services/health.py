"""What ``GET /health`` reports: whether the function answers, and whether what it needs does.

Each check is a cheap, bounded probe (the database: one GetItem with short timeouts); its
result is kept ``health_cache_seconds`` per container, so a flood of health checks costs the
database at most one read per container in that time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from chalicelib.clock import Clock, utcnow
from chalicelib.config import get_settings

Probe = Callable[[], bool]


@dataclass(frozen=True)
class HealthReport:
    healthy: bool
    checks: dict[str, str]  # name -> "ok" | "unavailable"


class HealthService:
    def __init__(self, probes: Mapping[str, Probe], *, clock: Clock = utcnow) -> None:
        self.probes = probes
        self.clock = clock

    def report(self) -> HealthReport:
        checks = {
            name: "ok" if _cached(name, probe, self.clock) else "unavailable"
            for name, probe in self.probes.items()
        }
        return HealthReport(healthy=all(v == "ok" for v in checks.values()), checks=checks)


_results: dict[str, tuple[bool, float]] = {}
_lock = threading.Lock()


def _cached(name: str, probe: Probe, clock: Clock) -> bool:
    now = clock().timestamp()
    with _lock:
        found = _results.get(name)
    if found is not None and found[1] > now:
        return found[0]
    ok = probe()
    with _lock:
        _results[name] = (ok, now + get_settings().health_cache_seconds)
    return ok


def forget_results() -> None:
    """Tests that change what the probes see call this."""
    with _lock:
        _results.clear()
