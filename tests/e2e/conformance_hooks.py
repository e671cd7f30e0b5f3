"""Schemathesis hooks for the conformance run (``test_conformance.py``; loaded through
``SCHEMATHESIS_HOOKS``).

Made-up ids only ever reach 404, so in *positive* cases (data the document says is valid) some
values are replaced by real ones from the run's own tenant (``CONFORMANCE_DATA``, JSON):

* path ids: a consistent set (a course with its module and lesson, a booking, a user), most of
  the time, so the operations reach their rules and their 200 answers;
* body references: ``course_id`` / ``instructor_id`` name the published course and an active
  instructor, and ``starts_at`` lies in the future (rules the schema cannot express);
* query ranges: ``to`` lies after ``from`` and within the route's longest span, ``from`` and
  ``to`` come together (the calendar view of bookings), and a query ``course_id`` names the
  published course (rules between parameters the schema cannot express);
* ``instructor_ids`` name the run's instructor (or none), and an availability document is one
  of a few valid ones (windows ordered and apart: rules between items the schema cannot state);
* ``email`` holds no character of the Unicode categories the server refuses (controls,
  format, surrogate, private-use, unassigned, separators): the document describes that rule
  in words because a portable JSON Schema pattern cannot name Unicode categories;
* ``X-Tenant-Id``, when sent, names the caller's tenant (a mismatch is a 403 checked elsewhere);
* ``cursor`` is left out: cursors are opaque, signed by the server; a made-up one is a 400 by
  contract;
* ``Idempotency-Key`` is a new key: reusing one with another body is a 422 by contract (the
  replay itself is covered by the bookings tests).

Negative cases are left as generated (they must be rejected with a 4xx), except two kinds the
contract answers on purpose, which are dropped:

* unknown query parameters: list routes ignore them (frontends add cache busters);
* methods a path does not have: the edge answers those (API Gateway, or the local stack's HTTP
  server), not the app; the edge's own tests cover them.
"""

from __future__ import annotations

import json
import os
import random
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

import schemathesis
from schemathesis.core.parameters import ParameterLocation

DATA: dict[str, Any] = json.loads(os.environ.get("CONFORMANCE_DATA", "{}"))
_random = random.Random(int(os.environ.get("CONFORMANCE_SEED", "1")))


#: Unicode categories no email address may hold (the server's rule, ``models/common.py``).
_NOT_IN_EMAILS = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})


def _positive(case: schemathesis.Case[Any], location: ParameterLocation) -> bool:
    meta = case.meta
    if meta is None:
        return False
    component = meta.components.get(location)
    return component is not None and component.mode.is_positive


def _future_start() -> str:
    start = datetime.now(UTC) + timedelta(days=_random.randint(2, 60), hours=_random.randint(0, 23))
    start = start.replace(minute=15 * _random.randint(0, 3), second=0, microsecond=0)
    return start.isoformat().replace("+00:00", "Z")


#: Valid availability documents: the ordering and overlap rules between windows are not in the
#: schema.
_AVAILABILITY: list[dict[str, Any]] = [
    {"time_zone": "UTC", "weekly": [], "exceptions": []},
    {
        "time_zone": "Asia/Kathmandu",
        "weekly": [
            {"day": "mon", "start": "09:00", "end": "12:00"},
            {"day": "mon", "start": "13:00", "end": "17:30"},
        ],
        "exceptions": [{"date": "2030-01-07", "available": False}],
    },
    {
        "time_zone": "America/New_York",
        "weekly": [{"day": "sat", "start": "00:00", "end": "24:00"}],
        "exceptions": [{"date": "2030-01-08", "available": True, "start": "08:00", "end": "10:00"}],
    },
]


@schemathesis.hook
def filter_case(context: schemathesis.HookContext, case: schemathesis.Case[Any]) -> bool:
    if case.method.upper() != case.operation.method.upper():
        return False
    documented = {p.name for p in case.operation.query}
    return not (case.query and set(case.query) - documented)


@schemathesis.hook
def map_case(
    context: schemathesis.HookContext, case: schemathesis.Case[Any]
) -> schemathesis.Case[Any]:
    if not DATA:
        return case
    _real_references(case)
    return case


def _real_references(case: schemathesis.Case[Any]) -> None:
    _headers(case)
    if case.query and "cursor" in case.query and _positive(case, ParameterLocation.QUERY):
        del case.query["cursor"]
    _query(case)
    if case.path_parameters and _positive(case, ParameterLocation.PATH) and _random.random() < 0.8:
        ids: dict[str, str] = _random.choice(DATA["path_sets"])
        for name in case.path_parameters:
            if name in ids:
                case.path_parameters[name] = ids[name]
    _body(case)


def _query(case: schemathesis.Case[Any]) -> None:
    query = case.query
    if not query or not _positive(case, ParameterLocation.QUERY):
        return
    if "course_id" in query:
        query["course_id"] = DATA["body"]["course_id"]
    if ("from" in query) != ("to" in query):  # the calendar view takes both or neither
        query.pop("from", None)
        query.pop("to", None)
    if "from" in query and "to" in query:
        start = datetime.now(UTC) + timedelta(days=_random.randint(-3, 30))
        start = start.replace(minute=0, second=0, microsecond=0)
        end = start + timedelta(days=_random.randint(1, 14), hours=_random.randint(0, 23))
        query["from"] = start.isoformat().replace("+00:00", "Z")
        query["to"] = end.isoformat().replace("+00:00", "Z")


def _headers(case: schemathesis.Case[Any]) -> None:
    if not case.headers:
        return
    if "X-Tenant-Id" in case.headers:
        case.headers["X-Tenant-Id"] = DATA["tenant_id"]
    if "Idempotency-Key" in case.headers and _positive(case, ParameterLocation.HEADER):
        case.headers["Idempotency-Key"] = f"conformance-{_random.getrandbits(64):x}"


def _body(case: schemathesis.Case[Any]) -> None:
    body = case.body
    if not isinstance(body, dict) or not _positive(case, ParameterLocation.BODY):
        return
    for name in ("course_id", "instructor_id"):
        if name in body:
            body[name] = DATA["body"][name]
    if "starts_at" in body:
        body["starts_at"] = _future_start()
    if isinstance(body.get("instructor_ids"), list):
        body["instructor_ids"] = _random.choice([[], [DATA["body"]["instructor_id"]]])
    if "weekly" in body:  # windows in order, apart within a day, in a zone that exists
        body.update(_random.choice(_AVAILABILITY))
        if case.path_parameters and "user_id" in case.path_parameters:  # instructors have one
            case.path_parameters["user_id"] = DATA["body"]["instructor_id"]
    email = body.get("email")
    if isinstance(email, str):
        spelled = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", email).casefold())
        if any(unicodedata.category(ch) in _NOT_IN_EMAILS for ch in spelled):
            body["email"] = f"conformance-{_random.getrandbits(32):x}@example.com"
