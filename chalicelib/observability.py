"""The one Logger of every function, and its metrics (aws-lambda-powertools, EMF).

Metrics are imported only when a batch publishes them: they cost cold-start time on the API path.
"""

from __future__ import annotations

from collections import Counter

from aws_lambda_powertools import Logger

SERVICE = "tutorbook"
NAMESPACE = "tutorbook"

logger = Logger(service=SERVICE)


class BatchMetrics:
    """Counts for one invocation, published as one EMF document (never breaks the handler)."""

    def __init__(self, function: str) -> None:
        self.function = function
        self.counts: Counter[str] = Counter()

    def add(self, name: str, value: int = 1) -> None:
        self.counts[name] += value

    def publish(self) -> None:
        if not any(self.counts.values()):
            return
        try:
            from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

            metrics = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)
            metrics.add_dimension(name="function", value=self.function)
            for name, value in sorted(self.counts.items()):
                if value:
                    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
            metrics.flush_metrics()
        except Exception:  # metrics must never fail the function
            logger.exception("metrics could not be published")
