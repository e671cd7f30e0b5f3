"""Calendars: the feed URL answer, and who a feed token belongs to."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ConfigDict

from chalicelib.models.common import Out
from chalicelib.models.users import Role


class CalendarFeed(Out):
    """A secret calendar feed URL: whoever has it can read the user's sessions, so keep it
    private; asking for a new one voids the old one."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "url": "https://api.example.com/calendar/4mXq9wJm1b0ZyQ3kHq7Vt2nL8cP5sR6dE0fG1hI2jK3.ics"
                }
            ]
        }
    )

    url: str


@dataclass(frozen=True)
class FeedOwner:
    """Whose sessions a feed token lists."""

    tenant_id: str
    user_id: str
    role: Role


@dataclass(frozen=True)
class FeedBody:
    """A rendered feed: the calendar text and its ETag, or only the tag when it is current."""

    etag: str
    text: str | None
