"""Fixtures of the integration tests beyond the suite's own (``tests/conftest.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture
def adapted() -> Iterator[None]:
    """The local stack's changes to moto (``chalicelib/local/emulator.py``), for one test."""
    from chalicelib.local import emulator

    emulator.install()
    try:
        yield
    finally:
        emulator.uninstall()
