"""Run the app's scheduled functions locally, every ``LOCAL_SCHEDULE_SECONDS``.

On AWS, EventBridge rules call them (e.g. every 5 minutes); locally every scheduled function
runs on one short period so a developer sees their effect quickly. Each call gets an event
shaped like EventBridge's "Scheduled Event".
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.local.lambda_events import scheduled_event
from chalicelib.local.lambda_runtime import invoke

log = logging.getLogger("tutorbook.local.scheduler")


@dataclass
class Job:
    name: str
    expression: str
    handler: Callable[..., Any]


class Scheduler:
    def __init__(self, app: Any, *, interval: float = 15.0, region: str = "us-east-1") -> None:
        from chalice.app import ScheduledEventConfig

        self.interval = interval
        self.region = region
        self.jobs = [
            Job(cfg.name, str(cfg.schedule_expression), app.handler_map[cfg.name])
            for cfg in app.event_sources
            if isinstance(cfg, ScheduledEventConfig)
        ]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        """Run every scheduled function once; answers how many ran without raising."""
        ok = 0
        for job in self.jobs:
            try:
                invoke(job.handler, job.name, scheduled_event(job.name, self.region), self.region)
                ok += 1
            except Exception:
                log.exception("scheduled function %s raised", job.name)
        return ok

    def start(self, stop: threading.Event | None = None) -> Scheduler:
        if stop is not None:
            self._stop = stop
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.run_once()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
