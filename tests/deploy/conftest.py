"""Every stage packaged (``dist/<stage>/``, rebuilt only when its inputs changed) and expanded."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest

from tests.deploy.cloudformation import STAGES, expand, load


@cache
def _template(stage: str) -> dict[str, Any]:
    return load(stage)


@cache
def _expanded(stage: str) -> dict[str, Any]:
    return expand(_template(stage))


@pytest.fixture(scope="session")
def templates() -> dict[str, dict[str, Any]]:
    """Each stage's template as packaged (SAM, before the transform)."""
    return {stage: _template(stage) for stage in STAGES}


@pytest.fixture(scope="session")
def expanded() -> dict[str, dict[str, Any]]:
    """Each stage's template after the SAM transform: what CloudFormation creates."""
    return {stage: _expanded(stage) for stage in STAGES}
