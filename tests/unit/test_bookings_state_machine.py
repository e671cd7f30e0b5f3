"""Property: random sequences of booking actions, by random callers, never persist an illegal
state (the rules on the in-memory store; ``tests/integration/test_bookings_state_machine.py``
runs the same machine on moto)."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from tests.support.booking_fakes import FakeBackend
from tests.support.booking_machine import BookingMachine


def test_random_action_sequences_never_persist_an_illegal_state() -> None:
    BookingMachine.backend = FakeBackend()
    run_state_machine_as_test(
        BookingMachine,
        settings=settings(
            max_examples=60,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
