"""Bookings: request, view and move them through the workflow (rules in services/bookings.py)."""

from __future__ import annotations

from chalicelib.api.framework import Api, Request
from chalicelib.db.store import default_store
from chalicelib.errors import ValidationFailed
from chalicelib.models.bookings import (
    AssignIn,
    Booking,
    BookingIn,
    BookingListQuery,
    CancelIn,
    RejectIn,
    RescheduleIn,
)
from chalicelib.models.common import Page
from chalicelib.services.bookings import RESCHEDULE_ROLES, Action, BookingService, roles_for

api = Api(__name__, tag="bookings")

_IDEMPOTENCY_KEY_MAX = 128


def _service(req: Request) -> BookingService:
    store = default_store()
    repo = store.bookings(req.user.tenant_id, req.user.actor)
    from chalicelib.db.bookings import request_once  # PynamoDB: on first use, not at init

    return BookingService(req.user, repo, once=request_once, clock=store.clock)


def _idempotency_key(req: Request) -> str | None:
    key = req.headers.get("idempotency-key")
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > _IDEMPOTENCY_KEY_MAX or not key.isprintable():
        raise ValidationFailed(
            "The Idempotency-Key header is not valid.",
            details=[
                {
                    "field": "Idempotency-Key",
                    "in": "header",
                    "problem": f"must be 1..{_IDEMPOTENCY_KEY_MAX} printable characters",
                    "type": "value_error",
                }
            ],
        )
    return key


@api.route(
    "/bookings",
    "POST",
    body=BookingIn,
    response=Booking,
    status=201,
    roles=roles_for(Action.request),
    errors=(404, 409),
    request_headers=("Idempotency-Key",),
)
def request_booking(req: Request, body: BookingIn) -> Booking:
    """Request a session (student); a retry with the same Idempotency-Key creates nothing."""
    return _service(req).request(body, _idempotency_key(req))


@api.route("/bookings", query=BookingListQuery, response=Page[Booking])
def list_bookings(req: Request, query: BookingListQuery) -> Page[Booking]:
    """Bookings, newest first: a student's own, an instructor's, or all of them (admin).
    With `from` and `to`: the calendar view, the bookings starting in [from, to) (at most 92
    days), earliest first."""
    if query.from_ is not None:
        from chalicelib.services.calendar import CalendarService

        repo = default_store().calendar(req.user.tenant_id)
        return CalendarService(req.user, repo).view(query)
    return _service(req).list(query.status, query.limit, query.cursor)


@api.route("/bookings/{booking_id}", response=Booking, errors=(404,))
def get_booking(req: Request, booking_id: str) -> Booking:
    """One booking (its student, its assigned instructor, admins)."""
    return _service(req).get(booking_id)


@api.route(
    "/bookings/{booking_id}/approve",
    "POST",
    response=Booking,
    roles=roles_for(Action.approve),
    errors=(404, 409),
)
def approve_booking(req: Request, booking_id: str) -> Booking:
    """Approve a requested booking (admin)."""
    return _service(req).act(Action.approve, booking_id)


@api.route(
    "/bookings/{booking_id}/assign",
    "POST",
    body=AssignIn,
    response=Booking,
    roles=roles_for(Action.assign),
    errors=(404, 409),
)
def assign_booking(req: Request, booking_id: str, body: AssignIn) -> Booking:
    """Assign an approved booking to an instructor who is free then (admin)."""
    return _service(req).act(Action.assign, booking_id, instructor_id=body.instructor_id)


@api.route(
    "/bookings/{booking_id}/complete",
    "POST",
    response=Booking,
    roles=roles_for(Action.complete),
    errors=(404, 409),
)
def complete_booking(req: Request, booking_id: str) -> Booking:
    """Mark an assigned booking completed (its instructor, or an admin)."""
    return _service(req).act(Action.complete, booking_id)


@api.route(
    "/bookings/{booking_id}/reject",
    "POST",
    body=RejectIn,
    response=Booking,
    roles=roles_for(Action.reject),
    errors=(404, 409),
)
def reject_booking(req: Request, booking_id: str, body: RejectIn) -> Booking:
    """Reject a requested or approved booking, with a reason (admin)."""
    return _service(req).act(Action.reject, booking_id, reason=body.reason)


@api.route(
    "/bookings/{booking_id}/cancel",
    "POST",
    body=CancelIn,
    response=Booking,
    roles=roles_for(Action.cancel),
    errors=(404, 409),
)
def cancel_booking(req: Request, booking_id: str, body: CancelIn) -> Booking:
    """Cancel a booking before it is completed (its student, or an admin); frees the time."""
    return _service(req).act(Action.cancel, booking_id, reason=body.reason)


@api.route(
    "/bookings/{booking_id}/reschedule",
    "POST",
    body=RescheduleIn,
    response=Booking,
    roles=RESCHEDULE_ROLES,
    errors=(404, 409),
)
def reschedule_booking(req: Request, booking_id: str, body: RescheduleIn) -> Booking:
    """Move a booking to another time (its student while unassigned, or an admin); an assigned
    instructor's time moves in one step."""
    return _service(req).reschedule(booking_id, body)
