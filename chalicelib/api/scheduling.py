"""Scheduling: instructors' availability and the free slots of a course."""

from __future__ import annotations

from chalicelib.api.framework import Api, Request
from chalicelib.db.store import default_store
from chalicelib.models.scheduling import Availability, SlotPage, SlotQuery
from chalicelib.models.users import Role
from chalicelib.services.scheduling import SchedulingService

api = Api(__name__, tag="scheduling")


def _service(req: Request) -> SchedulingService:
    store = default_store()
    repo = store.scheduling(req.user.tenant_id, req.user.actor)
    return SchedulingService(req.user, repo, clock=store.clock)


@api.route("/users/{user_id}/availability", response=Availability, errors=(404,))
def get_availability(req: Request, user_id: str) -> Availability:
    """An instructor's weekly availability and exceptions (admin, or the instructor)."""
    return _service(req).get_availability(user_id)


@api.route(
    "/users/{user_id}/availability",
    "PUT",
    body=Availability,
    response=Availability,
    roles=(Role.admin, Role.instructor),
    errors=(404,),
)
def put_availability(req: Request, user_id: str, body: Availability) -> Availability:
    """Replace an instructor's whole availability (admin, or the instructor)."""
    return _service(req).put_availability(user_id, body)


@api.route("/slots", query=SlotQuery, response=SlotPage, errors=(404,))
def list_slots(req: Request, query: SlotQuery) -> SlotPage:
    """Free start times of a course in a range, with the instructors free at each."""
    return _service(req).slots(query)
