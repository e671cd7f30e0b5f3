"""No input produces a 5xx: hostile paths, queries, headers and bodies for every operation of
the OpenAPI document. Each answer is below 500; a 4xx is in the envelope and changed nothing.

Bounded in ``make test`` (4 examples per operation); ``make fuzz`` runs FUZZ_EXAMPLES per operation.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.security.conftest import World, build_world
from tests.support.eventkit import StreamTap
from tests.support.http import Api

pytestmark = pytest.mark.fuzz
#: Examples per operation of the document (``make fuzz`` sets FUZZ_EXAMPLES).
PER_OPERATION = int(os.environ.get("FUZZ_EXAMPLES", "4"))
EXAMPLES = PER_OPERATION * 30  # about one draw per operation and example

HOSTILE_TEXT = [
    "",
    " ",
    "\x00",
    "a\x01b",
    "a#b",
    "T#x#USER#y",
    "../../etc/passwd",
    "%00",
    "%ff%fe",
    "\u202eevil",
    "\u200b",
    "\ufdfa" * 40,
    "ＡＤＭＩＮ@ｅｘａｍｐｌｅ.com",
    "x" * 5000,
    "9999-12-31T23:59:59Z",
    "0001-01-01T00:00:00+14:00",
    "2026-02-30T25:61:00Z",
    "1e309",
    "-0",
    "NaN",
    "null",
    "admin",
    "' OR 1=1 --",
    "${jndi:ldap://x}",
    "<script>alert(1)</script>",
]
HOSTILE_NUMBERS = [0, -1, 1, 2**31, 2**63, -(2**63), 10**40, 1e308, -1e308, 0.5, 1e-320]
SCALARS = st.one_of(
    st.sampled_from(HOSTILE_TEXT),
    st.text(max_size=40),
    st.sampled_from(HOSTILE_NUMBERS),
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
RAW_BODIES = st.sampled_from(
    [
        "[" * 30_000 + "]" * 30_000,
        '{"a":' * 3_000 + "1" + "}" * 3_000,
        '{"title": 1' + "0" * 6000 + "}",
        '{"title": NaN}',
        "\ufeff{}",
        '{"title": "\\ud800"}',
        '{"title": "x", "title": "y"}',
        "not json",
        "",
    ]
).map(str.encode) | st.sampled_from([b"\xff\xfe\xfd", '{"a": "é"}'.encode("utf-16")])


@pytest.fixture(scope="module")
def world(module_api: Api) -> World:
    return build_world("fuzz")


@pytest.fixture(scope="module")
def operations(module_api: Api) -> list[tuple[str, str, dict[str, Any]]]:
    doc = module_api.get("/openapi.json").json
    ops = [
        (method.upper(), path, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
    ]
    assert len(ops) >= 30
    return ops


def changes(tap: Any) -> list[str]:
    """The main-table items written since the last call, from the table's change stream (login
    counters aside: every attempt is counted, by design)."""
    out = []
    for record in tap.records():
        image = record["dynamodb"].get("NewImage") or record["dynamodb"].get("OldImage") or {}
        if image.get("type", {}).get("S") != "login_throttle":
            out.append(record["dynamodb"]["Keys"]["pk"]["S"])
    return out


def body_for(schema: dict[str, Any] | None, doc_schemas: dict[str, Any]) -> Any:
    """Hostile values for the body schema's own fields (and sometimes a field it lacks)."""
    if schema and "$ref" in schema:
        schema = doc_schemas[schema["$ref"].rsplit("/", 1)[-1]]
    names = sorted((schema or {}).get("properties", {})) or ["x"]
    return st.dictionaries(
        st.sampled_from([*names, "role", "tenant_id", "__proto__"]), JSON, max_size=len(names) + 1
    )


def test_no_operation_answers_5xx_to_hostile_input(
    module_api: Api, module_aws: dict[str, str], world: World, operations: list[Any]
):
    components = module_api.get("/openapi.json").json["components"]
    doc_schemas = components["schemas"]
    shared = components.get("parameters", {})
    ids = [world.course, world.booking, world.id("student"), world.module, world.lesson]
    tokens = [
        world.token("admin"),
        world.token("student"),
        world.token("instructor"),
        None,
        "garbage",
    ]
    seen: dict[str, int] = {}
    tap = StreamTap(module_aws["MAIN_TABLE"])
    tap.skip()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        method, path, op = data.draw(st.sampled_from(operations), label="operation")
        seen[f"{method} {path}"] = seen.get(f"{method} {path}", 0) + 1
        listed = op.get("parameters", [])
        resolved = [shared[p["$ref"].rsplit("/", 1)[-1]] if "$ref" in p else p for p in listed]
        params = {p["name"]: p for p in resolved}
        url = path
        for name, p in params.items():
            if p["in"] == "path":
                value = data.draw(
                    st.sampled_from(ids) | st.sampled_from(HOSTILE_TEXT) | st.text(max_size=20)
                )
                from urllib.parse import quote

                url = url.replace("{" + name + "}", quote(str(value), safe="") or "x")
        query = {
            name: str(data.draw(SCALARS))
            for name, p in params.items()
            if p["in"] == "query" and data.draw(st.booleans())
        }
        if query:
            from urllib.parse import urlencode

            url += "?" + urlencode(query)
        headers = {
            name: data.draw(st.sampled_from(["", "x", "\x7f", "a" * 300, "application/xml"]))
            for name, p in params.items()
            if p["in"] == "header" and data.draw(st.booleans())
        }
        content_type = data.draw(
            st.sampled_from(
                [
                    "application/json",
                    "application/json; charset=utf-8",
                    "text/plain",
                    "application/x-www-form-urlencoded",
                ]
            )
        )
        token = data.draw(st.sampled_from(tokens))
        if "requestBody" in op or method in ("POST", "PATCH", "PUT", "DELETE"):
            schema = (
                op.get("requestBody", {})
                .get("content", {})
                .get("application/json", {})
                .get("schema")
            )
            raw: bytes | None = data.draw(
                body_for(schema, doc_schemas).map(lambda b: json.dumps(b).encode()) | RAW_BODIES
            )
        else:
            raw = None
        changes(tap)  # forget what earlier examples wrote
        h = {"Content-Type": content_type, **headers}
        if token:
            h["Authorization"] = f"Bearer {token}"
        response = module_api.client.http.request(method, url, headers=h, body=raw)
        status = response.status_code
        assert status < 500, (method, url, raw[:200] if raw else raw, response.body[:300])
        if 400 <= status < 500:
            error = json.loads(response.body)["error"]
            assert set(error) == {"code", "message", "details"}, response.body
            assert changes(tap) == [], (method, url, status)

    run()
    print(f"fuzzed {len(seen)} operations with {sum(seen.values())} examples")
