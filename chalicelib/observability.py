"""The one Logger and Metrics of every function (aws-lambda-powertools).

Tracing is not imported here: it pulls the X-Ray SDK and costs cold-start time.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

logger = Logger(service="tutorbook")
metrics = Metrics(namespace="tutorbook", service="tutorbook")
