"""Calendar feeds: a user's secret feed URL, and the feed itself (no Authorization: the token in
the URL is the secret). Rules in services/calendar.py."""

from __future__ import annotations

import re
from typing import Any

from chalicelib.api.framework import Api, Reply, Request
from chalicelib.db.store import default_store
from chalicelib.models.calendar import CalendarFeed
from chalicelib.models.users import Role
from chalicelib.services.access import AccessService
from chalicelib.services.calendar import CalendarFeeds, read_feed

api = Api(__name__, tag="calendar")

_FEED = "/users/me/calendar-feed"
_PARTICIPANTS = (Role.instructor, Role.student)
#: ``<token>.ics``: API Gateway path parameters are whole segments, so the suffix is part of it.
_FEED_SEGMENT = re.compile(r"[A-Za-z0-9_-]{1,64}\.ics")
#: A Host header the local stack may echo back (a name or an address, and a port).
_HOST = re.compile(r"(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?")
CALENDAR_TYPE = "text/calendar; charset=utf-8"


def public_base_url(context: dict[str, Any], headers: dict[str, str]) -> str:
    """The API's public base URL, as the caller reached it.

    On AWS, API Gateway's own request context names it (never the client's headers): its
    ``domainName`` (the ``execute-api`` host or a custom domain) and the part of ``path`` before
    the route (the stage, ``/api``, or a custom domain's base path). The local stack has no such
    context: there it is the ``Host`` the caller used, over plain HTTP.
    """
    domain = str(context.get("domainName") or "")
    if domain:
        path = str(context.get("path") or "")
        resource = str(context.get("resourcePath") or "")
        prefix = path.removesuffix(resource) if resource and path.endswith(resource) else ""
        return f"https://{domain}{prefix.rstrip('/')}"
    host = headers.get("host", "")
    if not _HOST.fullmatch(host):
        from chalicelib.config import get_settings

        host = f"127.0.0.1:{get_settings().port}"
    return f"http://{host}"


@api.route(_FEED, "POST", response=CalendarFeed, status=201, roles=_PARTICIPANTS, errors=(409,))
def create_calendar_feed(req: Request) -> CalendarFeed:
    """A new secret calendar feed URL; the previous one stops working.

    The URL lists the caller's assigned sessions (students and instructors) and works without a
    token, so keep it private."""
    context = dict(api.blueprint.current_request.context or {})
    repo = default_store().calendar_feeds(req.user.tenant_id, req.user.actor)
    return CalendarFeeds(req.user, repo).create(public_base_url(context, req.headers))


@api.route(_FEED, "DELETE", status=204, roles=_PARTICIPANTS, errors=(409,))
def revoke_calendar_feed(req: Request) -> None:
    """Revoke the caller's calendar feed: its URL answers 404 from now on."""
    repo = default_store().calendar_feeds(req.user.tenant_id, req.user.actor)
    CalendarFeeds(req.user, repo).revoke()


@api.route(
    "/calendar/{feed}",
    auth=False,
    errors=(404,),
    media_type="text/calendar",
    request_headers=("If-None-Match",),
    response_headers=("ETag",),
    path_pattern=_FEED_SEGMENT,
)
def get_calendar_feed(req: Request, feed: str) -> Reply:
    """A user's calendar feed (iCalendar), read without a token.

    The assigned sessions of the feed's owner from 30 days ago to 180 days ahead, for calendar
    apps to subscribe to; `feed` is `<token>.ics` from `POST /users/me/calendar-feed`. 304 when
    If-None-Match is current; 404 for an unknown or revoked feed, and within a minute for the
    feed of a user who was deactivated."""
    store = default_store()
    people = AccessService(store, clock=store.clock)
    body = read_feed(store, people, feed, store.clock(), req.headers.get("if-none-match"))
    if body.text is None:
        return Reply(body=None, status=304, headers={"ETag": body.etag})
    return Reply(body=body.text, headers={"ETag": body.etag, "Content-Type": CALENDAR_TYPE})
