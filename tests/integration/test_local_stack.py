"""The local stack in-process: the serialised moto server, the pump over HTTP, the seed."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from chalice import Chalice

from chalicelib.local.pump import EventPump
from chalicelib.local.resources import create_resources
from chalicelib.local.seed import (
    DEMO_SLUG,
    INVITED_EMAIL,
    demo_logins,
    describe,
    http_call,
    seed,
)
from chalicelib.local.server import MotoServer, SerialisedApp, is_emulator
from tests.support.http import Api


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


def test_the_demo_seed_creates_three_logins_and_a_rerun_reports_them(api: Api):
    secret = b"local-secret-" + b"x" * 40

    first = seed(api_call(api), secret)
    again = seed(api_call(api), secret)

    assert first.created == ["admin", "instructor", "student", "invited"]
    assert again.created == []
    assert again.existing == ["admin", "instructor", "student", "invited"]
    assert again.logins == first.logins
    for login in first.logins:
        r = api.post(
            "/auth/login",
            {"tenant": DEMO_SLUG, "email": login.email, "password": login.password},
        )
        assert r.status == 200, r.body
        me = api.get("/users/me", token=r.json["access_token"])
        assert me.json["role"] == login.role
    admin = api.post(
        "/auth/login",
        {"tenant": DEMO_SLUG, "email": first.logins[0].email, "password": first.logins[0].password},
    ).json["access_token"]
    people = api.get("/users?limit=100", token=admin).json["items"]
    assert [u["email"] for u in people if u["invitation_pending"]] == [INVITED_EMAIL]
    text = describe(again)
    assert all(login.password in text for login in first.logins)
    assert again.as_json()["logins"]["student"]["email"] == "student@demo.tutorbook.example"


def test_a_seed_with_another_secret_warns_instead_of_failing(api: Api):
    seed(api_call(api), b"one-secret-" + b"x" * 40)
    result = seed(api_call(api), b"two-secret-" + b"x" * 40)
    assert result.warnings
    assert "warning" in describe(result)


def test_demo_passwords_depend_on_the_secret_and_satisfy_the_password_rules():
    a = demo_logins(b"a" * 40)
    b = demo_logins(b"b" * 40)
    assert [x.password for x in a] != [x.password for x in b]
    assert all(12 <= len(x.password) <= 128 for x in a)
    assert len({x.password for x in a}) == 3


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
