"""The local stack in-process: the serialised moto server, the pump over HTTP, the seed."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from chalice import Chalice

from chalicelib.local.load import Actor, Client, Record, Tenant, _loopback, percentile
from chalicelib.local.pump import EventPump
from chalicelib.local.reset import main as reset
from chalicelib.local.resources import create_resources
from chalicelib.local.seed import (
    BOOKINGS,
    COURSE,
    INVITED_EMAIL,
    OTHER_COURSE,
    SOON,
    TIME_ZONES,
    demo_logins,
    describe,
    http_call,
    seed,
)
from chalicelib.local.server import MotoServer, SerialisedApp, is_emulator
from tests.support.http import Api

#: What moto needs of a signature: the service and region in the credential scope.
_SIGNED = (
    "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/dynamodb/aws4_request, "
    "SignedHeaders=host, Signature=0"
)


@pytest.fixture(scope="module")
def moto_server() -> Iterator[MotoServer]:
    server = MotoServer("127.0.0.1", 0).start()
    yield server
    server.stop()


def test_the_emulator_answers_over_http_and_a_second_start_reuses_it(moto_server: MotoServer):
    assert is_emulator(moto_server.url)
    again = MotoServer("127.0.0.1", moto_server.port).start()
    assert again.reused
    again.stop()  # stopping a reused emulator leaves it running
    assert is_emulator(moto_server.url)
    assert not is_emulator("http://127.0.0.1:9", timeout=0.2)


def test_the_emulator_answers_request_after_request_on_one_connection(moto_server: MotoServer):
    connection = http.client.HTTPConnection("127.0.0.1", moto_server.port, timeout=10)
    target = {"Content-Type": "application/x-amz-json-1.0", "Authorization": _SIGNED}
    try:
        # A body nobody reads (the emulator's own page ignores it) must not spill into the next
        # request on the connection; then moto's answers, each framed by its length.
        connection.request("POST", "/_local/ping", body=b"x" * 1000)
        first = connection.getresponse()
        assert first.status == 200 and b"tutorbook" in first.read()
        kept = connection.sock
        assert kept is not None  # the emulator did not close the connection
        for _ in range(3):
            connection.request(
                "POST",
                "/",
                body=b"{}",
                headers={**target, "X-Amz-Target": "DynamoDB_20120810.ListTables"},
            )
            answer = connection.getresponse()
            assert answer.status == 200
            assert "TableNames" in json.loads(answer.read())
            assert connection.sock is kept
    finally:
        connection.close()


def test_resources_can_be_created_twice_and_the_pump_reads_the_stream_over_http(
    moto_server: MotoServer,
):
    env = create_resources(stage="srv", endpoint_url=moto_server.url)
    assert create_resources(stage="srv", endpoint_url=moto_server.url) == env

    app = Chalice(app_name="srv-test")
    seen: list[str] = []

    @app.on_dynamodb_record(stream_arn=env["MAIN_TABLE_STREAM_ARN"])
    def changes(event: Any) -> None:
        seen.extend(r.keys["sk"]["S"] for r in event)

    @app.on_sqs_message(queue=env["NOTIFICATIONS_QUEUE"])
    def consume(event: Any) -> None:
        seen.extend(r.body for r in event)

    kwargs: dict[str, Any] = {"region_name": "us-east-1", "endpoint_url": moto_server.url}
    boto3.client("dynamodb", **kwargs).put_item(
        TableName=env["MAIN_TABLE"], Item={"pk": {"S": "T#x"}, "sk": {"S": "over-http"}}
    )
    boto3.client("sqs", **kwargs).send_message(
        QueueUrl=env["NOTIFICATIONS_QUEUE_URL"], MessageBody="hello"
    )

    assert EventPump(app, endpoint_url=moto_server.url).drain() == 2
    assert sorted(seen) == ["hello", "over-http"]


def test_http_call_reports_status_and_json(moto_server: MotoServer):
    call = http_call(moto_server.url)
    status, body = call("GET", "/moto-api/data.json", None, None)
    assert status == 200
    assert isinstance(body, dict)
    status, _ = call("POST", "/moto-api/reset-auth", {"x": 1}, "token")
    assert status >= 400


def test_the_serialised_app_lets_one_request_in_at_a_time():
    inside = 0
    most = 0
    guard = threading.Lock()

    def slow_app(environ: dict[str, Any], start_response: Any) -> Any:
        nonlocal inside, most
        with guard:
            inside += 1
            most = max(most, inside)
        time.sleep(0.01)
        with guard:
            inside -= 1
        start_response("200 OK", [])
        return iter([b"a", b"b"])

    app = SerialisedApp(slow_app)
    bodies: list[list[bytes]] = []
    threads = [
        threading.Thread(target=lambda: bodies.append(app({}, lambda *a: None))) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert most == 1
    assert bodies == [[b"ab"]] * 8


# The demo seed -----------------------------------------------------------------------


def api_call(api: Api) -> Any:
    def call(method: str, path: str, body: Any, token: str | None) -> tuple[int, Any]:
        answer = api.call(method, path, json_body=body, token=token)
        return answer.status, answer.json

    return call


def test_the_demo_seed_shows_every_feature_and_a_rerun_changes_nothing(api: Api):
    secret = b"local-secret-" + b"x" * 40

    first = seed(api_call(api), secret)
    again = seed(api_call(api), secret)

    assert {"admin", "instructor", "instructor2", "student", "student2", "invited"} <= set(
        first.created
    )
    assert {"demo-corp:admin", "demo-corp:student", "escalation time"} <= set(first.created)
    assert {f"booking {state}" for state in [*BOOKINGS, *SOON]} <= set(first.created)
    assert again.created == [] and sorted(again.existing) == sorted(first.created)
    assert again.logins == first.logins and not again.warnings
    tokens: dict[str, str] = {}
    for login in first.logins:
        if login.key not in ("admin", "student", "demo-corp:admin"):
            continue  # every login works (the re-run logged them in); these three act below
        r = api.post(
            "/auth/login",
            {"tenant": login.tenant, "email": login.email, "password": login.password},
        )
        assert r.status == 200, r.body
        tokens[login.key] = r.json["access_token"]
        assert api.get("/users/me", token=tokens[login.key]).json["role"] == login.role
    admin = tokens["admin"]
    assert api.get("/tenants/me", token=admin).json["escalate_after_minutes"] == 5
    instructors = api.get("/users?role=instructor", token=tokens["student"]).json["items"]
    assert len(instructors) == 2
    people = api.get("/users?limit=100", token=admin).json["items"]
    assert [u["email"] for u in people if u["invitation_pending"]] == [INVITED_EMAIL]
    courses = api.get("/courses", token=tokens["student"]).json["items"]
    assert [c["title"] for c in courses] == [COURSE]  # the draft is not shown to students
    tree = api.get(f"/courses/{courses[0]['id']}", token=tokens["student"]).json
    assert [len(m["lessons"]) for m in tree["modules"]] == [2, 2]
    states = {b["note"]: b["status"] for b in api.get("/bookings", token=admin).json["items"]}
    assert states == {
        **{f"demo: {state}": state for state in BOOKINGS},
        "demo: expired": "requested",  # expires when its start passes
        # completed by the first seed run after its start (completing earlier is too_early)
        "demo: completed": "assigned",
    }
    # Two instructors with availability in their own zones: the course has free slots today.
    zones = {
        u["email"].split("@")[0]: u.get("time_zone")
        for u in api.get("/users?role=instructor", token=admin).json["items"]
    }
    assert zones == TIME_ZONES
    now = datetime.now(UTC).replace(microsecond=0)
    query = (
        f"/slots?course_id={courses[0]['id']}&from={now.isoformat().replace('+00:00', 'Z')}"
        f"&to={(now + timedelta(days=2)).isoformat().replace('+00:00', 'Z')}&duration_minutes=60"
    )
    slots = api.get(query, token=tokens["student"]).json["items"]
    offered = {i for slot in slots for i in slot["instructor_ids"]}
    assert len(offered) == 2
    assert api.get("/tenants/me", token=admin).json["time_zone"] == "Europe/London"
    # The second tenant sees its own course only.
    other = api.get("/courses", token=tokens["demo-corp:admin"]).json["items"]
    assert [c["title"] for c in other] == [OTHER_COURSE]
    assert api.get(f"/courses/{courses[0]['id']}", token=tokens["demo-corp:admin"]).status == 404
    text = "\n".join(describe(again))
    assert all(login.password in text for login in first.logins)
    assert again.as_json()["logins"]["student"]["email"] == "student@demo.tutorbook.example"


def test_a_seed_with_another_secret_warns_instead_of_failing(api: Api):
    # The demo tenant exists, but its admin's password came from another local secret.
    r = api.post(
        "/tenants",
        {
            "name": "Demo",
            "slug": "demo",
            "admin": {"email": "admin@demo.tutorbook.example", "name": "A", "password": "p" * 16},
        },
    )
    assert r.status == 201, r.body

    result = seed(api_call(api), b"two-secret-" + b"x" * 40)

    assert result.warnings and result.created == []
    assert any("warning" in line and "make reset" in line for line in describe(result))


def test_demo_passwords_depend_on_the_secret_and_satisfy_the_password_rules():
    a = demo_logins(b"a" * 40)
    b = demo_logins(b"b" * 40)
    assert [x.password for x in a] != [x.password for x in b]
    assert all(12 <= len(x.password) <= 128 for x in a)
    assert len({x.password for x in a}) == len(a)


def test_a_seed_that_the_api_refuses_raises():
    def refusing(method: str, path: str, body: Any, token: str | None) -> tuple[int, Any]:
        return 500, {"error": {"code": "internal_error"}}

    with pytest.raises(RuntimeError):
        seed(refusing, b"s" * 40)

    def users_refused(method: str, path: str, body: Any, token: str | None) -> tuple[int, Any]:
        if path == "/tenants":
            return 201, {"tokens": {"access_token": "t"}}
        return 422, None

    with pytest.raises(RuntimeError):
        seed(users_refused, b"s" * 40)


# Local pages, reset, the load's checks ----------------------------------------------------------


def test_local_pages_are_answered_by_the_stack_and_everything_else_by_the_emulator():
    def emulator(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("200 OK", [])
        return [b"moto"]

    calls: list[str] = []

    def page(query: str) -> tuple[int, str, bytes]:
        calls.append(query)
        return 200, "text/plain", b"page"

    app = SerialisedApp(emulator, {"mail": page})
    statuses: list[str] = []

    def start(status: str, headers: Any) -> None:
        statuses.append(status)

    assert app({"PATH_INFO": "/_local/mail", "QUERY_STRING": "since=3"}, start) == [b"page"]
    assert app({"PATH_INFO": "/_local/nope"}, start) == [b"no such local page\n"]
    assert app({"PATH_INFO": "/"}, start) == [b"moto"]
    assert calls == ["since=3"]
    assert statuses == ["200 OK", "404 Not Found", "200 OK"]


def test_reset_forgets_the_saved_data_but_not_the_secret_and_refuses_while_running(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    import json
    import os

    monkeypatch.setenv("LOCAL_STATE_DIR", str(tmp_path))
    for name in ("emulator.json.gz", "demo-logins.json", "jwt-secret"):
        (tmp_path / name).write_text("x")
    (tmp_path / "stack.json").write_text(json.dumps({"pid": os.getpid()}))

    assert reset() == 1  # this process stands in for a running stack
    assert (tmp_path / "emulator.json.gz").exists()
    assert "stop it first" in capsys.readouterr().out

    (tmp_path / "stack.json").write_text(json.dumps({"pid": 2**22 + 12345}))  # long gone
    assert reset() == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jwt-secret", "stack.json"]
    assert reset() == 0
    assert "Nothing to reset" in capsys.readouterr().out


def test_the_load_refuses_anything_but_loopback():
    assert _loopback("http://127.0.0.1:8000/") == "http://127.0.0.1:8000"
    assert _loopback("http://localhost:8000") == "http://localhost:8000"
    for url in ("http://10.0.0.5:8000", "https://127.0.0.1:8000", "http://example.com"):
        with pytest.raises(SystemExit):
            _loopback(url)


def test_the_load_notices_another_tenants_data_in_an_answer():
    record = Record()
    client = Client("http://127.0.0.1:9", record)
    mine, theirs = Tenant("acme", id="t-acme"), Tenant("acme-corp", id="t-corp")
    record.owned("t-corp", "course-of-corp")
    actor = Actor(mine, "admin", "u1", "a@acme.example")

    client._check_tenant(actor, "GET", "/courses", {"items": [{"id": "c1", "tenant_id": "t-acme"}]})
    assert record.leaks == []
    client._check_tenant(actor, "GET", "/courses", {"items": [{"tenant_id": "t-corp"}]})
    client._check_tenant(actor, "GET", "/bookings", {"course_id": "course-of-corp"})
    assert len(record.leaks) == 2
    assert theirs.slug in "acme-corp"


def test_percentiles_pick_the_nearest_rank():
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 50) == 50.0 or percentile(values, 50) == 51.0
    assert percentile(values, 99) == 99.0
    assert percentile([], 99) == 0.0
