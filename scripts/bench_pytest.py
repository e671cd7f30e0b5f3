"""The pytest plugin ``make bench`` runs the suite's request-counting tests with.

It counts every route's AWS requests (``tests.support.counting.RouteRequests``) and collects
the figures tests record as ``bench_*`` properties, then writes them to ``$BENCH_FIGURES``.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

_state: dict[str, Any] = {}


def pytest_sessionstart(session: pytest.Session) -> None:
    from tests.support.counting import RouteRequests

    patch = pytest.MonkeyPatch()
    recorder = RouteRequests()
    _state.update(patch=patch, recorder=recorder, counter=recorder.install(patch.setattr))
    _state["figures"] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for name, value in report.user_properties:
        if name.startswith("bench_"):
            _state["figures"][name.removeprefix("bench_")] = value


def pytest_sessionfinish(session: pytest.Session) -> None:
    recorder, counter = _state["recorder"], _state["counter"]
    routes: dict[str, list[dict[str, Any]]] = {}
    for served in recorder.served:
        calls = [c for c in served.authentication + served.handler if c.service == "dynamodb"]
        routes.setdefault(served.route, []).append(
            {
                "status": served.status,
                "authentication": served.operations("authentication"),
                "handler": served.operations("handler"),
                "capacity": sum(c.capacity for c in calls),
                "items_read": sum(c.items_read for c in calls),
            }
        )
    figures = {
        "routes": routes,
        "scans": counter.count("dynamodb", "Scan"),
        **_state["figures"],
    }
    target = os.environ.get("BENCH_FIGURES")
    if target:
        with open(target, "w") as handle:
            json.dump(figures, handle)
    _state["patch"].undo()
