"""Every route's DynamoDB requests, pinned: what authentication reads (the caller's current role
and status) and what the handler does, per row of the authorization matrix, as
``request_budget.txt`` names them. A change that adds a request to a route, or any Scan, fails
here; a change that saves one updates the file (``REQUEST_BUDGET_WRITE=1`` rewrites it; review
the diff). ``make bench`` prints the same figures with their consumed capacity.

Each request is sent as a cold container would: the access cache, the slug cache and the health
result are empty, so reads show the access read they pay at most once per
``ACCESS_CACHE_SECONDS`` (writes and admin-only routes pay it on every request), and routes
naming a tenant by slug show its lookup.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.security.conftest import build_world
from tests.security.test_authorization_matrix import CALLERS, ROWS, Row, Worlds, cell
from tests.support.counting import RouteRequests
from tests.support.http import Api

BUDGET = Path(__file__).with_name("request_budget.txt")
#: The caller each row is measured with: the first one the matrix lets through (a row nobody
#: passes, such as changing one's own role, is measured with the admin's refusal).
PREFERRED = ("adm", "ins", "stu", "anon", *CALLERS)
_HEADER = """\
# DynamoDB requests per route (tests/security/test_request_budget.py): for each row of the
# authorization matrix, the requests of one successful call, as a cold container makes them.
# row | authentication (the caller's current role) | handler
"""


def read_budget() -> dict[str, tuple[str, str]]:
    budget = {}
    for line in BUDGET.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        row, auth, handler = (part.strip() for part in line.split("|"))
        budget[row] = (auth, handler)
    return budget


@pytest.fixture(scope="module")
def worlds(module_api: Api) -> Worlds:
    return Worlds(home=build_world("budget"), other=build_world("budget-x"))


@pytest.fixture(scope="module")
def measured() -> Iterator[dict[str, tuple[str, str]]]:
    found: dict[str, tuple[str, str]] = {}
    yield found
    if os.environ.get("REQUEST_BUDGET_WRITE") and len(found) == len(ROWS):
        width = max(len(r.id) for r in ROWS)
        lines = [f"{r.id.ljust(width)} | {found[r.id][0]} | {found[r.id][1]}" for r in ROWS]
        BUDGET.write_text(_HEADER + "\n".join(lines) + "\n")


def test_the_budget_names_every_row_of_the_matrix() -> None:
    assert sorted(read_budget()) == sorted(row.id for row in ROWS)


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_each_route_makes_the_requests_its_budget_names(
    module_api: Api,
    worlds: Worlds,
    row: Row,
    monkeypatch: pytest.MonkeyPatch,
    measured: dict[str, tuple[str, str]],
) -> None:
    from chalicelib.db.tenants import forget_slugs
    from chalicelib.services.access import ACCESS_CACHE
    from chalicelib.services.health import forget_results

    caller = next((c for c in PREFERRED if 200 <= row.expected[c] < 400), "adm")
    routes = RouteRequests()
    counter = routes.install(monkeypatch.setattr)
    # As a cold container: no cached access, tenant slugs or health result (other tests in this
    # worker would otherwise decide what this row reads).
    ACCESS_CACHE.clear()
    forget_slugs()
    forget_results()
    assert cell(module_api, worlds, row, caller) == row.expected[caller]
    assert counter.count("dynamodb", "Scan") == 0
    [served] = routes.served
    got = (
        " ".join(served.operations("authentication")) or "-",
        " ".join(served.operations("handler")) or "-",
    )
    measured[row.id] = got
    if not os.environ.get("REQUEST_BUDGET_WRITE"):
        assert got == read_budget().get(row.id), f"{row.id} as {caller}"
