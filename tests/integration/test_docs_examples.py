"""``docs/`` is the user's contract, and it cannot rot silently: every ``curl`` example of the
guides runs through the app (in order, as one reader's shell session) and must answer as the guide
shows; every route has an example; the role table names every route and agrees with the roles
each route admits. ``DOCS_WRITE=1`` rewrites the answers instead (then review the diff)."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from typing import Any

from chalicelib.api.framework import ROUTES
from tests.docs_examples import DOCS, Answer, Request, run, write_answers
from tests.support.clock import FixedClock
from tests.support.eventkit import StreamTap, stream_event


def _template(path: str) -> str | None:
    """The route a concrete path belongs to (literal routes win over captures)."""
    path = path.split("?", 1)[0]
    candidates = [
        spec.path for spec in ROUTES if re.fullmatch(re.sub(r"{[^}]+}", "[^/]+", spec.path), path)
    ]
    return min(candidates, key=lambda p: p.count("{")) if candidates else None


#: The guides' story happens in the weeks before their Monday sessions of January 2030 (inside
#: the booking horizon); the first session has taken place when its instructor completes it.
_STORY_STARTS = datetime(2029, 12, 1, tzinfo=UTC)
_FIRST_SESSION_ENDS = datetime(2030, 1, 7, 16, 0, tzinfo=UTC)


def test_every_documented_example_answers_as_documented(
    client: Any, aws: dict[str, str], clock: FixedClock
) -> None:
    tap = StreamTap(aws["MAIN_TABLE"])

    def send(request: Request) -> Answer:
        if request.path.endswith("/availability") and clock.now < _STORY_STARTS:
            clock.now = _STORY_STARTS  # the bookings guide begins
        if request.path.endswith("/complete") and clock.now < _FIRST_SESSION_ENDS:
            clock.now = _FIRST_SESSION_ENDS
        r = client.http.request(
            request.method, request.path, headers=request.headers, body=request.body or b""
        )
        headers = {k.lower(): v for k, v in r.headers.items()}
        return Answer(r.status_code, headers, r.body or b"")

    def deliver_changes(request: Request) -> None:
        # The audit trail is written from the change stream, which Lambda delivers on AWS and
        # the local stack's pump delivers locally; here the test does it.
        if request.path.startswith("/audit"):
            client.lambda_.invoke("record_audit", stream_event(tap.records()))

    writing = os.environ.get("DOCS_WRITE") == "1"
    session = run(send, deliver_changes, write=writing)
    if writing:
        write_answers(session)
    documented = {(e.request.method, _template(e.request.path)) for e in session.examples}
    missing = {(s.method, s.path) for s in ROUTES} - documented
    assert missing == set(), f"routes without a curl example in docs/: {sorted(missing)}"


def test_the_role_table_names_every_route_with_the_roles_it_admits(chalice_app: Any) -> None:
    # ``chalice_app`` imports the app (which declares the routes) inside a test's environment.
    text = (DOCS / "README.md").read_text()
    rows = re.findall(r"^\| `(\w+) (/[^`]*)` \|(.+)\|$", text, flags=re.MULTILINE)
    table = {(m, p): [c.strip() for c in cells.split("|")] for m, p, cells in rows}
    assert set(table) == {(s.method, s.path) for s in ROUTES}
    for spec in ROUTES:
        admin, instructor, student, anonymous = table[(spec.method, spec.path)]
        cells = {"admin": admin, "instructor": instructor, "student": student}
        if not spec.auth:
            assert anonymous == "✓" and set(cells.values()) == {"✓"}, spec.path
            continue
        assert anonymous == "—", spec.path
        for role, cell in cells.items():
            if spec.roles and role not in spec.roles:
                assert cell == "—", (spec.method, spec.path, role)
            else:
                assert cell != "—", (spec.method, spec.path, role)


def test_links_in_the_docs_lead_to_files_of_the_repository() -> None:
    root = DOCS.parent.resolve()
    pages = [root / "README.md", root / "CONTRIBUTING.md", *DOCS.rglob("*.md")]
    checked = 0
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            resolved = (page.parent / target).resolve()
            assert resolved.is_relative_to(root), f"{page.name} points outside: {target}"
            assert resolved.exists(), f"{page.name} links to a missing file: {target}"
            checked += 1
    assert checked > 20
