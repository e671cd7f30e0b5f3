"""Calendars: the calendar view of bookings (by start time, same visibility as the list) and
each user's secret calendar feed (a random token, stored only as its hash)."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol

from chalicelib.context import Caller
from chalicelib.errors import NotFound
from chalicelib.models.bookings import Booking, BookingListQuery, BookingStatus
from chalicelib.models.calendar import CalendarFeed, FeedBody, FeedOwner
from chalicelib.models.common import Page
from chalicelib.models.users import Access, Role
from chalicelib.services.catalog_views import etag_matches


class CalendarRepo(Protocol):
    """Bookings of one tenant by start (``db.calendar.CalendarRepository``)."""

    def between(
        self,
        start: datetime,
        end: datetime,
        *,
        student_id: str | None = None,
        instructor_id: str | None = None,
        status: BookingStatus | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> Page[Booking]: ...


class CalendarService:
    def __init__(self, caller: Caller, repo: CalendarRepo) -> None:
        self.caller = caller
        self.repo = repo

    def view(self, query: BookingListQuery) -> Page[Booking]:
        """Bookings starting in ``[from, to)``, earliest first: a student's own, those assigned
        to an instructor, or all of the tenant's (admin), as the list shows them."""
        assert query.from_ is not None and query.to is not None, "the route checks the range"
        role, uid = self.caller.role, self.caller.user_id
        return self.repo.between(
            query.from_,
            query.to,
            student_id=uid if role not in (Role.admin, Role.instructor) else None,
            instructor_id=uid if role is Role.instructor else None,
            status=query.status,
            limit=query.limit,
            cursor=query.cursor,
        )


# --- calendar feeds ----------------------------------------------------------------------------
#: The window a feed lists, around the time it is read.
FEED_PAST = timedelta(days=30)
FEED_AHEAD = timedelta(days=180)
FEED_SUFFIX = ".ics"
#: A feed token: 32 random bytes, URL-safe base64 without padding (43 characters).
FEED_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")


class FeedRepo(Protocol):
    """The calendar feeds of one tenant's users (``db.calendar_feeds.CalendarFeedRepository``)."""

    def replace(self, user_id: str, role: Role, token_hash: str) -> None: ...
    def revoke(self, user_id: str) -> None: ...


class FeedSessions(Protocol):
    """A participant's assigned sessions by start (``db.calendar.CalendarRepository``)."""

    def assigned_between(
        self, start: datetime, end: datetime, *, student_id: str | None, instructor_id: str | None
    ) -> list[Booking]: ...


def feed_token_hash(token: str) -> str:
    """What is stored of a feed token: its SHA-256 (the token is 256 random bits, so a plain
    hash is as strong as a slow one and keeps the lookup a single GetItem)."""
    return hashlib.sha256(token.encode()).hexdigest()


def feed_token_of(feed: str) -> str | None:
    """The token a ``<token>.ics`` path segment names, or ``None`` when it cannot be one."""
    token = feed.removesuffix(FEED_SUFFIX)
    if token == feed or not FEED_TOKEN.fullmatch(token):
        return None
    return token


class CalendarFeeds:
    """A user's secret feed URL: made, replaced and revoked by the user."""

    def __init__(self, caller: Caller, repo: FeedRepo) -> None:
        self.caller = caller
        self.repo = repo

    def create(self, base_url: str) -> CalendarFeed:
        """A new feed URL; the previous one stops working in the same transaction."""
        token = secrets.token_urlsafe(32)
        self.repo.replace(self.caller.user_id, self.caller.role, feed_token_hash(token))
        return CalendarFeed(url=f"{base_url.rstrip('/')}/calendar/{token}{FEED_SUFFIX}")

    def revoke(self) -> None:
        self.repo.revoke(self.caller.user_id)


def render_feed(
    owner: FeedOwner, sessions: FeedSessions, now: datetime, if_none_match: str | None
) -> FeedBody:
    """The owner's assigned sessions from 30 days ago to 180 days ahead as a calendar (ONE
    Query), with its ETag; only the tag when ``if_none_match`` names it."""
    from chalicelib.notify.invites import feed_text

    bookings = sessions.assigned_between(
        now - FEED_PAST,
        now + FEED_AHEAD,
        student_id=owner.user_id if owner.role is Role.student else None,
        instructor_id=owner.user_id if owner.role is Role.instructor else None,
    )
    text = feed_text(bookings, name="tutorbook sessions")
    etag = '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'
    if etag_matches(if_none_match, etag):
        return FeedBody(etag=etag, text=None)
    return FeedBody(etag=etag, text=text)


class FeedStore(Protocol):
    """Finds a feed's owner by the token's hash and reads their sessions (``db.store``)."""

    def feed_owner(self, token_hash: str) -> FeedOwner | None: ...
    def calendar(self, tenant_id: str) -> FeedSessions: ...


class FeedPeople(Protocol):
    """Users' current role and status (``services.access.AccessService``)."""

    def current(self, tenant_id: str, user_id: str) -> Access | None: ...


def read_feed(
    store: FeedStore, people: FeedPeople, feed: str, now: datetime, if_none_match: str | None
) -> FeedBody:
    """``GET /calendar/<token>.ics``: ONE GetItem (the token's hash names the owner), the
    owner's current role and status (as any read sees them: at most one GetItem a minute) and
    ONE Query (their assigned sessions in the window). An unknown or revoked token, and the
    feed of a user who is gone, deactivated or now an admin, is a 404; the feed lists what the
    user's current role sees."""
    token = feed_token_of(feed)
    owner = store.feed_owner(feed_token_hash(token)) if token else None
    access = people.current(owner.tenant_id, owner.user_id) if owner else None
    if owner is None or access is None or not access.active or access.role is Role.admin:
        raise NotFound("calendar feed")
    owner = replace(owner, role=access.role)
    return render_feed(owner, store.calendar(owner.tenant_id), now, if_none_match)
