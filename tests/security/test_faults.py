"""Faults: SES down for a while, a stream consumer failing mid-batch, and the AWS emulator going
away (and hanging) under the running API. Nothing is lost, nothing is done twice, no 500."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError

from chalicelib.local.pump import EventPump
from tests.support.accounts import add_user, sign_up
from tests.support.bookings import make_world
from tests.support.emulator import reset_app_caches
from tests.support.eventkit import sent_emails
from tests.support.http import Api


class Outage:
    """Makes SES fail (as an unreachable endpoint does) for the calls a test chooses."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from chalicelib.notify.ses import SesSender

        self.calls: list[str] = []
        self.failing: set[str] | bool = False
        original = SesSender.send

        def send(sender: Any, email: Any) -> str:
            self.calls.append(email.to)
            down = self.failing is True or (
                isinstance(self.failing, set) and email.to in self.failing
            )
            if down:
                raise EndpointConnectionError(endpoint_url="https://email.us-east-1.amazonaws.com")
            return str(original(sender, email))

        monkeypatch.setattr(SesSender, "send", send)


def pump() -> EventPump:
    from app import app

    return EventPump(app, retry_visibility=0, max_stream_retries=3)


def test_ses_down_for_a_while_retries_then_sends_each_email_once(
    api: Api, aws: dict[str, str], monkeypatch
):
    outage = Outage(monkeypatch)
    world = make_world(api, "acme")
    pump().drain()  # the welcome emails of the world's people
    before = len(sent_emails())
    outage.failing = {"instructor@acme.example"}  # one recipient of a two-recipient email
    world.booking_in("assigned")
    delivery = pump()
    for _ in range(10):  # until SES has refused the instructor's email once
        delivery.poll_once()
        if "instructor@acme.example" in outage.calls:
            break
    assigned = [
        e for e in sent_emails()[before:] if e["subject"].startswith("A booking was assigned")
    ]
    assert [e["to"] for e in assigned] == [["student@acme.example"]]
    outage.failing = False  # SES is back before the message runs out of receives
    pump().drain()
    assigned = [
        e for e in sent_emails()[before:] if e["subject"].startswith("A booking was assigned")
    ]
    assert sorted(e["to"][0] for e in assigned) == [
        "instructor@acme.example",
        "student@acme.example",
    ]
    assert outage.calls.count("student@acme.example") >= 1
    sqs = boto3.client("sqs", region_name="us-east-1")
    dlq = sqs.receive_message(QueueUrl=aws["NOTIFICATIONS_DLQ_URL"], MaxNumberOfMessages=10)
    assert dlq.get("Messages", []) == []


def test_a_long_ses_outage_ends_in_the_dlq_and_a_redrive_sends_once(
    api: Api, aws: dict[str, str], monkeypatch
):
    outage = Outage(monkeypatch)
    acme = sign_up(api, "acme")
    pump().drain()
    outage.failing = True
    add_user(api, acme.token, "late@example.com", "student")
    pump().drain()
    sqs = boto3.client("sqs", region_name="us-east-1")
    dead = sqs.receive_message(QueueUrl=aws["NOTIFICATIONS_DLQ_URL"], MaxNumberOfMessages=10)[
        "Messages"
    ]
    assert len(dead) == 1 and outage.calls.count("late@example.com") == 3  # maxReceiveCount
    assert [e for e in sent_emails() if e["to"] == ["late@example.com"]] == []
    outage.failing = False  # recovered: an operator redrives the DLQ, twice by mistake
    for _ in range(2):
        sqs.send_message(QueueUrl=aws["NOTIFICATIONS_QUEUE_URL"], MessageBody=dead[0]["Body"])
    pump().drain()
    assert len([e for e in sent_emails() if e["to"] == ["late@example.com"]]) == 1


def test_a_stream_consumer_failing_mid_batch_resumes_there_without_duplicates(
    api: Api, aws: dict[str, str], monkeypatch
):
    from chalicelib.db import audit as audit_db

    acme = sign_up(api, "acme")
    for n in range(4):
        add_user(api, acme.token, f"u{n}@example.com", "student")
    original = audit_db.append_entry
    seen: list[str] = []

    def flaky(entry: Any, sequence: str) -> bool:
        seen.append(entry.entity_id)
        if (
            entry.after
            and entry.after.get("email") == "u2@example.com"
            and seen.count(entry.entity_id) == 1
        ):
            raise EndpointConnectionError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")
        return bool(original(entry, sequence))

    monkeypatch.setattr(audit_db, "append_entry", flaky)
    pump().drain()
    trail = api.get("/audit?entity_type=user&limit=100", token=acme.token).json["items"]
    created = sorted(e["after"]["email"] for e in trail if e["action"] == "created")
    assert created == [
        "admin@example.com",
        "u0@example.com",
        "u1@example.com",
        "u2@example.com",
        "u3@example.com",
    ]
    u2 = next(e["entity_id"] for e in trail if e["after"]["email"] == "u2@example.com")
    u1 = next(e["entity_id"] for e in trail if e["after"]["email"] == "u1@example.com")
    assert seen.count(u2) >= 2  # retried from the failed record on
    assert seen.index(u1) < seen.index(u2)  # records before it were not sent again first
    assert seen.count(u1) == seen.count(
        next(e["entity_id"] for e in trail if e["after"]["email"] == "u0@example.com")
    )


# --- the emulator going away under the running API --------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto over HTTP (as the local stack runs it), which a test can stop and start again."""
    from chalicelib.local.resources import create_resources
    from chalicelib.local.server import MotoServer
    from chalicelib.services.health import forget_results

    server = MotoServer("127.0.0.1", free_port()).start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.url)
    monkeypatch.setenv("DYNAMODB_MAX_RETRY_ATTEMPTS", "1")
    monkeypatch.setenv("HEALTH_CACHE_SECONDS", "0")
    env = create_resources(stage="test", endpoint_url=server.url)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    reset_app_caches()
    forget_results()
    yield server
    server.stop()
    monkeypatch.undo()
    reset_app_caches()
    forget_results()


@pytest.fixture
def http_api(emulator: Any) -> Iterator[Api]:
    from chalice.test import Client

    from app import app

    with Client(app, stage_name="local") as c:
        reset_app_caches()
        yield Api(c)


def timed(call: Any) -> tuple[Any, float]:
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def test_the_emulator_going_away_is_a_fast_503_and_health_says_what_is_down(
    http_api: Api, emulator: Any
):
    from chalicelib.local.server import MotoServer

    api = http_api
    acme = sign_up(api, "away-" + uuid.uuid4().hex[:8])
    assert api.get("/health").json == {"status": "ok", "checks": {"dynamodb": "ok"}}
    port = emulator.port
    emulator.stop()
    for method, path, body, token in [
        ("GET", "/users/me", None, acme.token),
        ("POST", "/courses", {"title": "x"}, acme.token),
        (
            "POST",
            "/auth/login",
            {"tenant": acme.slug, "email": "admin@example.com", "password": "x" * 12},
            None,
        ),
        (
            "POST",
            "/tenants",
            {
                "name": "N",
                "slug": "newco-" + uuid.uuid4().hex[:8],
                "admin": {"email": "a@b.co", "name": "A", "password": "p" * 12},
            },
            None,
        ),
    ]:
        r, seconds = timed(
            lambda m=method, p=path, b=body, t=token: api.call(m, p, json_body=b, token=t)
        )
        assert r.status == 503, (path, r.body)
        assert r.json["error"]["code"] == "service_unavailable" and r.headers["retry-after"]
        assert "Traceback" not in r.body.decode() and "botocore" not in r.body.decode()
        assert seconds < 10, (path, seconds)  # not botocore's minute of default retries
    health = api.get("/health")
    assert health.status == 503
    assert health.json == {"status": "degraded", "checks": {"dynamodb": "unavailable"}}
    back = MotoServer("127.0.0.1", port).start()  # the same process keeps the emulator's data
    emulator._server, emulator._thread = back._server, back._thread
    assert api.get("/health").status == 200
    assert api.get("/users/me", token=acme.token).status == 200


def test_a_hanging_database_times_out_into_a_503(http_api: Api, emulator: Any, monkeypatch):
    api = http_api
    acme = sign_up(api, "hang-" + uuid.uuid4().hex[:8])
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(conn)  # never answered

    threading.Thread(target=accept, daemon=True).start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{listener.getsockname()[1]}")
    monkeypatch.setenv("DYNAMODB_READ_TIMEOUT_SECONDS", "1")
    reset_app_caches()
    try:
        r, seconds = timed(lambda: api.post("/courses", {"title": "x"}, token=acme.token))
        assert r.status == 503 and r.json["error"]["code"] == "service_unavailable"
        assert seconds < 10
    finally:
        listener.close()
        for conn in accepted:
            conn.close()


def test_throttling_after_retries_is_a_503(api: Api, acme: Any, monkeypatch):
    import botocore.client
    from botocore.exceptions import ClientError

    original = botocore.client.BaseClient._make_api_call

    def throttled(self: Any, operation: str, params: Any) -> Any:
        if operation == "Query":
            error = {
                "Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}
            }
            raise ClientError(error, operation)
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", throttled)
    r = api.get("/courses", token=acme.token)
    assert r.status == 503 and json.loads(r.body)["error"]["code"] == "service_unavailable"
