"""Free slots against a brute-force model that walks minute by minute: for every start on the
15-minute grid, an instructor is offered iff every minute of the session lies in a window of
their availability (weekly windows in their zone for that local date, exceptions removing or
adding time), no minute overlaps one of their assigned sessions, and the start respects the
tenant's notice and horizon. The model uses plain datetime and zoneinfo, not the finder's
helpers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.context import Caller
from chalicelib.models.scheduling import Availability, BookingSettings, Busy, SlotQuery
from chalicelib.models.users import Role, User
from chalicelib.services.scheduling import SchedulingService

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ZONES = ("UTC", "America/New_York", "Europe/Berlin", "Asia/Kathmandu")
#: Around the spring DST change in New York and Berlin (2027-03-14 / 2027-03-28).
BASES = (datetime(2027, 3, 13, tzinfo=UTC), datetime(2027, 3, 27, tzinfo=UTC))


def hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@st.composite
def windows(draw: Any) -> list[tuple[int, int]]:
    """0-2 ordered, apart windows of a day, on the 15-minute grid (minutes since midnight)."""
    cuts = sorted(draw(st.sets(st.integers(0, 96), min_size=2, max_size=4)))
    pairs = [(cuts[i] * 15, cuts[i + 1] * 15) for i in range(0, len(cuts) - 1, 2)]
    return [p for p in pairs if p[0] < p[1]]


@st.composite
def documents(draw: Any) -> dict[str, Any]:
    weekly = [
        {"day": day, "start": hhmm(a), "end": hhmm(b)} for day in DAYS for a, b in draw(windows())
    ]
    exceptions = []
    for offset in draw(st.sets(st.integers(0, 3), max_size=2)):
        when = date(2027, 3, 13) + timedelta(days=offset)
        kind = draw(st.sampled_from(["off", "off_part", "extra"]))
        if kind == "off":
            exceptions.append({"date": when.isoformat(), "available": False})
        else:
            a = draw(st.integers(0, 94))
            b = draw(st.integers(a + 1, 96))
            exceptions.append(
                {
                    "date": when.isoformat(),
                    "available": kind == "extra",
                    "start": hhmm(a * 15),
                    "end": hhmm(b * 15),
                }
            )
    return {"time_zone": draw(st.sampled_from(ZONES)), "weekly": weekly, "exceptions": exceptions}


def local_minutes(doc: dict[str, Any], day: date) -> set[int]:
    """The minutes of a local date the document makes available (0..1439)."""
    free: set[int] = set()
    for w in doc["weekly"]:
        if w["day"] == DAYS[day.weekday()]:
            free |= set(range(_m(w["start"]), _m(w["end"])))
    for e in doc["exceptions"]:
        if e["date"] != day.isoformat():
            continue
        if "start" not in e:
            free = set() if not e["available"] else free
        elif e["available"]:
            free |= set(range(_m(e["start"]), _m(e["end"])))
        else:
            free -= set(range(_m(e["start"]), _m(e["end"])))
    return free


def _m(wall: str) -> int:
    h, m = wall.split(":")
    return int(h) * 60 + int(m)


def minute_free(doc: dict[str, Any], at: datetime) -> bool:
    local = at.astimezone(ZoneInfo(doc["time_zone"]))
    if local.replace(tzinfo=None) != local.astimezone(UTC).astimezone(local.tzinfo).replace(
        tzinfo=None
    ):  # pragma: no cover - zoneinfo round trips
        return False
    return local.hour * 60 + local.minute in local_minutes(doc, local.date())


def brute_force(
    docs: dict[str, dict[str, Any]],
    busy: dict[str, list[tuple[datetime, int]]],
    start: datetime,
    end: datetime,
    duration: int,
    notice: int,
    horizon: int,
    now: datetime,
) -> list[tuple[datetime, list[str]]]:
    found = []
    at = start
    while at < end:
        if at >= now + timedelta(minutes=notice) and at < now + timedelta(days=horizon):
            who = []
            for uid, doc in sorted(docs.items()):
                minutes = [at + timedelta(minutes=k) for k in range(duration)]
                taken = any(
                    s <= m < s + timedelta(minutes=d) for m in minutes for s, d in busy[uid]
                )
                if not taken and all(minute_free(doc, m) for m in minutes):
                    who.append(uid)
            if who:
                found.append((at, who))
        at += timedelta(minutes=15)
    return found


class Repo:
    def __init__(self, docs: dict[str, Availability], busy: dict[str, list[Busy]], s: Any):
        self.docs, self.busy, self.settings = docs, busy, s
        self.created = datetime(2027, 1, 1, tzinfo=UTC)

    def user_with_availability(self, user_id: str) -> tuple[User | None, Availability | None]:
        raise AssertionError("not read by slots")

    def put_availability(self, user_id: str, doc: Availability) -> Availability:
        raise AssertionError("not written by slots")

    def slot_context(
        self, course_id: str, user_ids: list[str]
    ) -> tuple[BookingSettings | None, bool | None, tuple[str, ...], dict[str, tuple[User, Any]]]:
        people = {
            uid: (
                User(
                    id=uid,
                    tenant_id="t",
                    email=f"{uid}@example.com",
                    name=uid,
                    role=Role.instructor,
                    active=True,
                    created_at=self.created,
                ),
                self.docs.get(uid),
            )
            for uid in user_ids
        }
        return self.settings, True, (), people

    def instructor_ids(self) -> list[str]:
        return sorted(self.docs)

    def assigned_between(self, instructor_id: str, start: datetime, end: datetime) -> list[Busy]:
        return [
            b
            for b in self.busy[instructor_id]
            if b.starts_at < end and b.starts_at + timedelta(minutes=b.duration_minutes) > start
        ]


sessions = st.lists(
    st.tuples(st.integers(0, 4 * 96 - 1), st.integers(1, 16)), max_size=3
)  # (grid index from the base, length in quarter hours)


@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    docs=st.lists(documents(), min_size=1, max_size=2),
    booked=st.lists(sessions, min_size=2, max_size=2),
    base=st.sampled_from(BASES),
    offset=st.integers(0, 8),
    hours=st.integers(1, 60),
    duration=st.sampled_from([15, 30, 45, 60, 90, 240]),
    notice=st.sampled_from([0, 60, 60 * 20]),
    horizon=st.sampled_from([2, 90]),
)
def test_free_slots_match_a_minute_by_minute_model(
    docs: list[dict[str, Any]],
    booked: list[list[tuple[int, int]]],
    base: datetime,
    offset: int,
    hours: int,
    duration: int,
    notice: int,
    horizon: int,
) -> None:
    ids = [f"i{n}" for n in range(len(docs))]
    model_docs = dict(zip(ids, docs, strict=True))
    busy = {
        uid: [(base + timedelta(minutes=15 * i), 15 * n) for i, n in booked[k]]
        for k, uid in enumerate(ids)
    }
    now = base - timedelta(hours=12)
    start = base + timedelta(hours=offset)
    end = start + timedelta(hours=hours)
    repo = Repo(
        {uid: Availability.model_validate(doc) for uid, doc in model_docs.items()},
        {uid: [Busy(starts_at=s, duration_minutes=d) for s, d in busy[uid]] for uid in ids},
        BookingSettings(min_notice_minutes=notice, booking_horizon_days=horizon),
    )
    service = SchedulingService(
        Caller(user_id="s", tenant_id="t", role=Role.student), repo, clock=lambda: now
    )
    query = SlotQuery.model_validate(
        {"course_id": "c" * 26, "from": start, "to": end, "duration_minutes": duration}
    )
    got = [(s.starts_at, list(s.instructor_ids)) for s in service.slots(query).items]
    assert got == brute_force(model_docs, busy, start, end, duration, notice, horizon, now)
