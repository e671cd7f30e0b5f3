"""Time as part of the product: IANA time zones, an instructor's weekly availability with dated
exceptions, and the free-slot rule.

Availability is kept in wall-clock time of its own zone. It is resolved on the UTC quarter-hour
grid: a UTC block ``[q, q+15min)`` is available when its local wall time (in the document's zone)
lies inside a window of its local date. A 09:00 window therefore stays 09:00 local across a
daylight-saving change (its UTC instant moves), a wall time that is skipped by a change does not
exist that day, and one that is repeated counts both times. Every zone offset in use today is a
multiple of 15 minutes, so quarter-hour blocks and minutes agree.

Per date: the weekly windows of its weekday, minus the ``available: false`` exceptions of that
date (the whole day without times, else the given part), plus the ``available: true`` exceptions
(an explicit addition wins over a removal of the same date).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from functools import lru_cache
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, available_timezones

from pydantic import AfterValidator, ConfigDict, Field, StringConstraints, model_validator

from chalicelib.models.common import Id, Out, QueryModel, StrictModel, Timestamp

GRID_MINUTES = 15
GRID = timedelta(minutes=GRID_MINUTES)
#: The longest session (``duration_minutes`` upper bound): how far back a booking can overlap.
MAX_DURATION = timedelta(minutes=240)
MAX_SLOT_SPAN = timedelta(days=31)
MAX_CALENDAR_SPAN = timedelta(days=92)
DEFAULT_REMINDER_MINUTES = 1440


class Unset(Enum):
    """A keyword argument that was not given (unlike ``None``, which clears a value)."""

    token = 0


UNSET = Unset.token


# --- time zones --------------------------------------------------------------------------------
#: Names the zone directory of some hosts holds that are not zones: ``localtime`` is the
#: host's own setting (Debian links it to /etc/localtime), so it would mean another zone, or
#: none, on another machine.
_NOT_ZONES = frozenset({"localtime"})


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones()) - _NOT_ZONES


def _known_zone(value: str) -> str:
    if value not in _zone_names():
        raise ValueError("must be an IANA time zone name such as Europe/Berlin")
    return value


#: An IANA time zone name, checked against the standard library's zone database (tzdata).
TimeZoneName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64),
    AfterValidator(_known_zone),
    Field(examples=["Europe/Berlin"]),
]


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


# --- the availability document -----------------------------------------------------------------
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WallTime = Annotated[
    str,
    StringConstraints(pattern=r"^(?:(?:[01]\d|2[0-3]):(?:00|15|30|45)|24:00)$"),
    Field(description="HH:MM local wall-clock time on the 15-minute grid; 24:00 ends a day."),
]


def minutes_of(wall: str) -> int:
    hours, minutes = wall.split(":")
    return int(hours) * 60 + int(minutes)


class Window(StrictModel):
    day: Day
    start: WallTime
    end: WallTime

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if minutes_of(self.start) >= minutes_of(self.end):
            raise ValueError("start must be before end")
        return self


class AvailabilityException(StrictModel):
    date: date
    available: bool = Field(strict=True)
    start: WallTime | None = None
    end: WallTime | None = None

    @model_validator(mode="after")
    def _times(self) -> AvailabilityException:
        if (self.start is None) != (self.end is None):
            raise ValueError("give both start and end, or neither")
        if self.available and self.start is None:
            raise ValueError("an added window needs start and end")
        if self.start and self.end and minutes_of(self.start) >= minutes_of(self.end):
            raise ValueError("start must be before end")
        return self


class Availability(StrictModel):
    """``PUT``/``GET /users/{user_id}/availability``: the whole weekly-plus-exceptions document."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "time_zone": "Europe/Berlin",
                    "weekly": [
                        {"day": "mon", "start": "09:00", "end": "12:00"},
                        {"day": "mon", "start": "13:00", "end": "17:00"},
                        {"day": "wed", "start": "09:00", "end": "17:00"},
                    ],
                    "exceptions": [
                        {"date": "2027-03-01", "available": False},
                        {"date": "2027-03-06", "available": True, "start": "10:00", "end": "12:00"},
                    ],
                }
            ]
        }
    )

    time_zone: TimeZoneName
    weekly: list[Window] = Field(default_factory=list, max_length=7 * 48)
    exceptions: list[AvailabilityException] = Field(default_factory=list, max_length=400)

    @model_validator(mode="after")
    def _no_overlaps(self) -> Availability:
        by_day: dict[object, list[tuple[int, int]]] = {}
        for w in self.weekly:
            by_day.setdefault(w.day, []).append((minutes_of(w.start), minutes_of(w.end)))
        for e in self.exceptions:
            if e.available and e.start is not None and e.end is not None:
                by_day.setdefault(e.date, []).append((minutes_of(e.start), minutes_of(e.end)))
        for day, spans in by_day.items():
            spans.sort()
            for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
                if start < end:
                    raise ValueError(f"windows of {day} overlap")
        return self


# --- resolution on the UTC quarter-hour grid ---------------------------------------------------
def floor_grid(at: datetime) -> datetime:
    at = at.astimezone(UTC).replace(second=0, microsecond=0)
    return at - timedelta(minutes=at.minute % GRID_MINUTES)


def ceil_grid(at: datetime) -> datetime:
    down = floor_grid(at)
    return down if down == at else down + GRID


def on_grid(at: datetime) -> bool:
    return floor_grid(at) == at


def _day_minutes(doc: Availability, day: date) -> list[bool]:
    """For each local minute of one date: is it available?"""
    minutes = [False] * (24 * 60)

    def paint(start: str | None, end: str | None, value: bool) -> None:
        lo, hi = (
            (0, 24 * 60) if start is None or end is None else (minutes_of(start), minutes_of(end))
        )
        minutes[lo:hi] = [value] * (hi - lo)

    weekday = DAYS[day.weekday()]
    for w in doc.weekly:
        if w.day == weekday:
            paint(w.start, w.end, True)
    todays = [e for e in doc.exceptions if e.date == day]
    for e in sorted(todays, key=lambda e: e.available):  # removals first, then additions
        paint(e.start, e.end, e.available)
    return minutes


def available_blocks(doc: Availability, start: datetime, end: datetime) -> set[datetime]:
    """Every UTC quarter-hour block in ``[floor(start), end)`` that the document makes
    available."""
    tz = zone(doc.time_zone)
    minutes_of_day: dict[date, list[bool]] = {}
    out: set[datetime] = set()
    block = floor_grid(start)
    while block < end:
        local = block.astimezone(tz)
        day = local.date()
        if day not in minutes_of_day:
            minutes_of_day[day] = _day_minutes(doc, day)
        if minutes_of_day[day][local.hour * 60 + local.minute]:
            out.add(block)
        block += GRID
    return out


@dataclass(frozen=True)
class Busy:
    """An instructor's assigned session (what makes their time taken)."""

    starts_at: datetime
    duration_minutes: int
    booking_id: str | None = None


def busy_blocks(sessions: Iterable[Busy]) -> set[datetime]:
    """The quarter-hour blocks the sessions touch (the same rule as the instructor time locks)."""
    out: set[datetime] = set()
    for s in sessions:
        end = s.starts_at + timedelta(minutes=s.duration_minutes)
        block = floor_grid(s.starts_at)
        while block < end:
            out.add(block)
            block += GRID
    return out


def free_starts(
    available: set[datetime],
    busy: set[datetime],
    *,
    start: datetime,
    end: datetime,
    duration_minutes: int,
) -> Iterator[datetime]:
    """Grid starts in ``[start, end)`` whose whole ``duration`` is available and not busy."""
    need = duration_minutes // GRID_MINUTES + (1 if duration_minutes % GRID_MINUTES else 0)
    at = ceil_grid(start)
    while at < end:
        if all((b := at + GRID * k) in available and b not in busy for k in range(need)):
            yield at
        at += GRID


def teaches(course_instructor_ids: Iterable[str], instructor_id: str) -> bool:
    """A course without named instructors is taught by every active instructor."""
    named = set(course_instructor_ids)
    return not named or instructor_id in named


def free_at(
    doc: Availability | None,
    sessions: Iterable[Busy],
    start: datetime,
    duration_minutes: int,
    *,
    ignore: str | None = None,
) -> bool:
    """Is the instructor available for the whole ``[start, start + duration)`` and free of every
    session (except the booking ``ignore``, when it moves) overlapping it? The free-slot rule
    applied to one start."""
    if doc is None:
        return False
    end = start + timedelta(minutes=duration_minutes)
    available = available_blocks(doc, start, end)
    taken = busy_blocks(s for s in sessions if ignore is None or s.booking_id != ignore)
    found = free_starts(
        available, taken, start=start, end=start + GRID, duration_minutes=duration_minutes
    )
    return next(found, None) == start


def available_for(doc: Availability | None, start: datetime, duration_minutes: int) -> bool:
    """The availability document covers the whole ``[start, start + duration)``."""
    return free_at(doc, (), start, duration_minutes)


# --- the routes' inputs and outputs ------------------------------------------------------------
SlotDuration = Annotated[int, Field(ge=15, le=240, multiple_of=15)]


class SlotQuery(QueryModel):
    course_id: Id
    from_: Timestamp = Field(alias="from")
    to: Timestamp
    duration_minutes: SlotDuration
    instructor_id: Id | None = None

    @model_validator(mode="after")
    def _span(self) -> SlotQuery:
        if self.to <= self.from_:
            raise ValueError("to must be after from")
        if self.to - self.from_ > MAX_SLOT_SPAN:
            raise ValueError("from..to may span at most 31 days")
        return self


class Slot(Out):
    starts_at: datetime
    ends_at: datetime
    instructor_ids: list[str]


class SlotPage(Out):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "starts_at": "2027-03-02T08:00:00Z",
                            "ends_at": "2027-03-02T09:00:00Z",
                            "instructor_ids": ["01JD0000000000000000000IN1"],
                        }
                    ]
                }
            ]
        }
    )

    items: list[Slot]


@dataclass(frozen=True)
class BookingSettings:
    """A tenant's booking-time rules."""

    time_zone: str = "UTC"
    min_notice_minutes: int = 120
    booking_horizon_days: int = 90
