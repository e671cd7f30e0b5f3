"""The local stack itself: emulator contents, emails, event delivery, logs, restarts, Ctrl-C."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from chalicelib.local.harness import StackError
from chalicelib.local.harness import start_stack as start_process
from tests.e2e.conftest import LocalStack, start_stack, stop_stack

pytestmark = pytest.mark.e2e


def test_the_emulator_holds_every_table_and_queue_of_infra(local_stack: LocalStack) -> None:
    data = local_stack.emulator_data()
    tables = {t["name"] for t in data["dynamodb"]["Table"]}
    assert {
        "tutorbook-local-MainTable",
        "tutorbook-local-AuditTable",
        "tutorbook-local-IdempotencyTable",
    } <= tables
    sqs = boto3.client("sqs", region_name="us-east-1", endpoint_url=local_stack.moto_url)
    urls = sqs.list_queues(QueueNamePrefix="tutorbook-local-")["QueueUrls"]
    names = {url.rsplit("/", 1)[-1] for url in urls}
    assert {
        "tutorbook-local-NotificationsQueue",
        "tutorbook-local-NotificationsDLQ",
        "tutorbook-local-EscalationQueue",
        "tutorbook-local-EscalationDLQ",
    } <= names


def test_the_emulator_reports_its_time_and_cpu_per_operation(local_stack: LocalStack) -> None:
    """``/_local/stats`` tells a developer where the emulator spends its time: per operation,
    the requests, the seconds inside its lock and the CPU seconds of those (wall well above CPU
    means it waited for the interpreter rather than worked)."""
    local_stack.login("admin")  # reads the users and writes a login: DynamoDB operations
    stats = requests.get(local_stack.moto_url + "/_local/stats", timeout=30).json()
    operations = stats["emulator_seconds_by_operation"]
    get_item = operations["DynamoDB_20120810.GetItem"]
    assert get_item["requests"] > 0
    assert 0 < get_item["cpu_seconds"] <= get_item["seconds"] + 0.05
    assert all(set(o) == {"requests", "seconds", "cpu_seconds"} for o in operations.values())


def test_emails_sent_to_the_emulated_ses_are_readable_and_printed(local_stack: LocalStack) -> None:
    subject = f"e2e-{uuid.uuid4().hex[:8]}"
    ses = boto3.client("sesv2", region_name="us-east-1", endpoint_url=local_stack.moto_url)
    ses.send_email(
        FromEmailAddress="no-reply@tutorbook.example",
        Destination={"ToAddresses": ["reader@example.com"]},
        Content={
            "Simple": {
                "Subject": {"Data": subject},
                "Body": {"Html": {"Data": "<p>Hello &amp; welcome</p>"}},
            }
        },
    )

    assert any(m.get("subject") == subject for m in local_stack.emails())
    logged = local_stack.wait_for(lambda: subject in local_stack.log_text(), timeout=15)
    assert logged, local_stack.log_text()[-2000:]
    readable = [m for m in local_stack.mail() if m["subject"] == subject]
    assert [m["to"] for m in readable] == [["reader@example.com"]]
    assert readable[0]["text"] == "Hello & welcome"


def test_stream_and_queue_events_reach_the_apps_functions(local_stack: LocalStack) -> None:
    """A user created by an admin is welcomed by email: stream -> queue -> SES, all pumped."""
    admin = local_stack.login("admin")["access_token"]
    email = f"welcome-{uuid.uuid4().hex[:8]}@demo.example"
    r = requests.post(
        local_stack.url("/users"),
        json={"email": email, "name": "New One", "role": "student", "password": "x" * 16},
        headers={"Authorization": f"Bearer {admin}"},
        timeout=30,
    )
    assert r.status_code == 201, r.text

    def welcome() -> list[dict[str, Any]]:
        return [
            m
            for m in local_stack.emails()
            if email in (m.get("destinations") or {}).get("ToAddresses", [])
        ]

    assert local_stack.wait_for(welcome, timeout=30), local_stack.log_text()[-3000:]


def test_a_rerun_on_the_running_emulator_reports_the_same_logins_and_ctrl_c_stops_it(
    local_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory
) -> None:
    state_dir = tmp_path_factory.mktemp("second-stack")
    shutil.copy(local_stack.state_dir / "jwt-secret", state_dir / "jwt-secret")
    moto_port = int(local_stack.moto_url.rsplit(":", 1)[1])

    process, second = start_stack(state_dir, moto_port=moto_port)
    try:
        assert "reusing the AWS emulator" in second.log_text()
        assert "nothing is loaded or saved here" in second.log_text()
        seeded = (state_dir / "demo-logins.json").read_text()
        assert '"created": []' in seeded
        assert second.logins == local_stack.logins
        second.login("student")  # the reported logins work against the second API too
        # Mail sent through the second stack is logged by both and readable from either.
        admin = second.login("admin")["access_token"]
        email = f"reused-{uuid.uuid4().hex[:8]}@demo.example"
        r = requests.post(
            second.url("/users"),
            json={"email": email, "name": "Via Second", "role": "student", "password": "x" * 16},
            headers={"Authorization": f"Bearer {admin}"},
            timeout=30,
        )
        assert r.status_code == 201, r.text
        assert second.wait_for(lambda: email in second.log_text(), timeout=30)
        assert local_stack.wait_for(lambda: email in local_stack.log_text(), timeout=30)
        assert any(email in m["to"] for m in second.mail())
    finally:
        code = stop_stack(process, signal.SIGINT)

    assert code == 0
    assert "stopped" in second.log_text()
    with pytest.raises(requests.ConnectionError):
        requests.get(second.url("/health"), timeout=2)
    # The emulator it reused belongs to the first stack and keeps running.
    assert requests.get(local_stack.url("/health"), timeout=5).status_code == 200
    assert local_stack.emulator_data()["dynamodb"]["Table"]


def test_the_first_start_generates_a_private_secret_outside_the_repository(
    local_stack: LocalStack,
) -> None:
    secret = local_stack.state_dir / "jwt-secret"
    assert len(secret.read_text().strip()) >= 32
    assert secret.stat().st_mode & 0o077 == 0


def _lines(text: str) -> list[dict[str, Any]]:
    """Every console line, each of which must be one JSON object (one log format)."""
    out = []
    for line in text.splitlines():
        if line.strip():
            parsed = json.loads(line)  # a line in another format fails here
            assert isinstance(parsed, dict), line
            out.append(parsed)
    return out


def test_every_console_line_is_one_json_log_record_without_metric_blobs_or_access_lines(
    local_stack: LocalStack,
) -> None:
    requests.get(local_stack.url("/health"), timeout=10)
    lines = _lines(local_stack.log_text())
    assert lines
    assert all({"level", "message", "timestamp"} <= set(line) for line in lines)
    assert not [line for line in lines if "_aws" in line]  # no EMF metric documents locally
    health = [line for line in lines if line.get("route") == "GET /health"]
    assert health and all(line["message"] == "request" for line in health)


def test_concurrent_requests_log_lines_carry_their_own_request_ids(
    local_stack: LocalStack,
) -> None:
    """Lines written while requests of two users run concurrently name their own request:
    its correlation id, its route and its user, one request line each."""
    callers = {
        role: (local_stack.login(role)["access_token"], route)
        for role, route in (("admin", "/users"), ("student", "/courses"))
    }
    users = {
        role: requests.get(
            local_stack.url("/users/me"), headers={"Authorization": f"Bearer {token}"}, timeout=30
        ).json()["id"]
        for role, (token, _) in callers.items()
    }
    sent: dict[str, str] = {}  # correlation id -> role

    def one(n: int) -> int:
        role = "admin" if n % 2 else "student"
        token, route = callers[role]
        correlation = f"logs-{role}-{uuid.uuid4().hex}"
        sent[correlation] = role
        r = requests.get(
            local_stack.url(route),
            headers={"Authorization": f"Bearer {token}", "X-Correlation-Id": correlation},
            timeout=30,
        )
        return r.status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(one, range(48))) == {200}

    def request_lines() -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for line in _lines(local_stack.log_text()):
            if line.get("message") == "request":
                found[str(line.get("correlation_id"))].append(line)
        return found

    # Each request's line is written before its answer, so all 48 are in the log by now.
    by_id = request_lines()
    wrong = []
    for correlation, role in sent.items():
        token, route = callers[role]
        lines = by_id.get(correlation, [])
        if len(lines) != 1:
            wrong.append(f"{correlation}: {len(lines)} request lines")
            continue
        line = lines[0]
        if line.get("route") != f"GET {route}" or line.get("user_id") != users[role]:
            wrong.append(f"{correlation} ({role}, GET {route}) logged as {line}")
    assert not wrong, "\n".join(wrong[:10])


def test_a_restart_keeps_the_data_and_the_mail_and_reseeds_nothing(
    local_stack: LocalStack,
) -> None:
    admin = local_stack.login("admin")["access_token"]
    headers = {"Authorization": f"Bearer {admin}"}
    title = f"Kept {uuid.uuid4().hex[:8]}"
    r = requests.post(
        local_stack.url("/courses"), json={"title": title}, headers=headers, timeout=30
    )
    assert r.status_code == 201, r.text
    course = r.json()["id"]

    def audited() -> list[dict[str, Any]]:
        r = requests.get(local_stack.url(f"/audit?entity_id={course}"), headers=headers, timeout=30)
        return list(r.json()["items"])

    assert local_stack.wait_for(audited, timeout=30)
    mail_before = local_stack.mail()

    assert local_stack.restart(signal.SIGINT) == 0

    assert "the emulator's data is saved in" in local_stack.log_text()
    seeded = json.loads((local_stack.state_dir / "demo-logins.json").read_text())
    assert seeded["created"] == []
    admin = local_stack.login("admin")["access_token"]  # the same login, kept
    headers = {"Authorization": f"Bearer {admin}"}
    r = requests.get(local_stack.url(f"/courses/{course}"), headers=headers, timeout=30)
    assert r.status_code == 200 and r.json()["title"] == title
    local_stack.wait_for(lambda: False, timeout=2 * local_stack.schedule_seconds)
    assert len(audited()) == 1  # kept, and not audited again for being reloaded
    assert [m["number"] for m in local_stack.mail()][: len(mail_before)] == [
        m["number"] for m in mail_before
    ]


def test_a_taken_port_is_named_with_how_to_choose_another(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(StackError) as failed:
            start_process(tmp_path, port=port, timeout=60)

    message = str(failed.value)
    assert "exited (1)" in message
    assert f"port {port} is already in use" in message
    assert f"PORT={port + 1} make dev" in message
    assert not (tmp_path / "jwt-secret").exists()  # it said so before starting anything
