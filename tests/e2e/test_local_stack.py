"""The local stack itself: emulator contents, emails, event delivery, re-runs and Ctrl-C."""

from __future__ import annotations

import shutil
import signal
import uuid
from typing import Any

import boto3
import pytest
import requests

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
    printed = local_stack.wait_for(lambda: subject in local_stack.log_text(), timeout=15)
    assert printed, local_stack.log_text()[-2000:]
    assert "Hello & welcome" in local_stack.log_text()


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
        seeded = (state_dir / "demo-logins.json").read_text()
        assert '"created": []' in seeded
        assert second.logins == local_stack.logins
        second.login("student")  # the reported logins work against the second API too
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
