"""The local stack (``python -m chalicelib.local``) as a subprocess, for end-to-end tests.

Use the session-scoped ``local_stack`` fixture and mark the test ``pytest.mark.e2e``::

    @pytest.mark.e2e
    def test_something(local_stack):
        requests.get(local_stack.base_url + "/health")
        admin = local_stack.logins["admin"]   # .tenant, .email, .password
        local_stack.login("student")          # -> Tokens JSON of the seeded student
        local_stack.emails()                  # every email SES accepted, from the emulator
        local_stack.mail()                    # the same, as `make mail` reads them

The stack runs on free ports with ``LOCAL_SCHEDULE_SECONDS=2`` and a throwaway state dir;
its combined console output is in ``local_stack.log_path`` (printed when startup fails).
Starting and stopping are :mod:`chalicelib.local.harness`'s, which ``make load`` uses too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from chalicelib.local.harness import StackError, StackProcess
from chalicelib.local.harness import free_port as free_port
from chalicelib.local.harness import start_stack as start_process

PROJECT_DIR = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 90.0
#: The local stack's refresh grace in these tests (the product's default is 10 seconds).
REFRESH_GRACE_SECONDS = 5


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/e2e is an e2e test, marked or not, and they all run on one
    pytest-xdist worker, so one local stack serves them (``--dist loadgroup``)."""
    for item in items:
        if "tests/e2e" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.xdist_group("local_stack"))


@dataclass(frozen=True)
class Login:
    role: str
    tenant: str
    email: str
    password: str
    name: str = ""


@dataclass
class LocalStack:
    base_url: str
    moto_url: str
    state_dir: Path
    log_path: Path
    logins: dict[str, Login] = field(default_factory=dict)
    tenant: str = "demo"
    schedule_seconds: float = 2.0
    pid: int = 0
    process: subprocess.Popen[bytes] | None = None

    def restart(self, sig: int = signal.SIGINT) -> int:
        """Stop the stack with ``sig`` and start it again on the same ports and state
        directory (as a developer re-runs ``make dev``); answers the old process's exit code."""
        assert self.process is not None
        code = stop_stack(self.process, sig)
        port, moto_port = (int(url.rsplit(":", 1)[1]) for url in (self.base_url, self.moto_url))
        process, again = start_stack(self.state_dir, port=port, moto_port=moto_port)
        self.process, self.pid, self.logins = process, again.pid, again.logins
        return code

    def url(self, path: str) -> str:
        return self.base_url + path

    def login(self, role: str) -> dict[str, Any]:
        """Log a seeded demo user in (``admin``, ``student2``...); answers the Tokens JSON."""
        who = self.logins[role]
        r = requests.post(
            self.url("/auth/login"),
            json={"tenant": who.tenant, "email": who.email, "password": who.password},
            timeout=30,
        )
        assert r.status_code == 200, r.text
        return dict(r.json())

    def emulator_data(self) -> dict[str, Any]:
        r = requests.get(self.moto_url + "/moto-api/data.json", timeout=30)
        r.raise_for_status()
        return dict(r.json())

    def emails(self) -> list[dict[str, Any]]:
        """Every email the emulated SES keeps (``ses.Message`` of the emulator's data), then the
        raw MIME ones (``ses.RawMessage``: those with attachments) in the same shape."""
        ses = self.emulator_data().get("ses", {})
        return _flat(ses.get("Message", {})) + [
            _simple(m) for m in _flat(ses.get("RawMessage", {}))
        ]

    def mail(self, since: int = 0) -> list[dict[str, Any]]:
        """The emails as the stack's mail page (``make mail``) shows them, oldest first."""
        r = requests.get(f"{self.moto_url}/_local/mail?since={since}", timeout=30)
        r.raise_for_status()
        return list(r.json()["messages"])

    def wait_for(self, predicate: Any, timeout: float = 30.0, interval: float = 0.25) -> Any:
        """Poll ``predicate()`` until it answers something truthy (events are asynchronous)."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value or time.monotonic() > deadline:
                return value
            time.sleep(interval)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _flat(messages: Any) -> list[dict[str, Any]]:
    if isinstance(messages, dict):
        flat: list[dict[str, Any]] = []
        for value in messages.values():
            flat.extend(value if isinstance(value, list) else [value])
        return flat
    return list(messages)


def _simple(raw: dict[str, Any]) -> dict[str, Any]:
    """A raw MIME email as a simple one looks in the data (subject, HTML body, destinations),
    plus its attachments by file name (their text)."""
    import email
    import email.policy
    from email.utils import parseaddr

    message = email.message_from_string(raw["raw_data"], policy=email.policy.default)
    html = message.get_body(preferencelist=("html",))
    to = sorted({parseaddr(d)[1] for d in raw.get("destinations") or []})
    return {
        **raw,
        "destinations": {"ToAddresses": to},
        "subject": str(message["Subject"]),
        "body": html.get_content() if html is not None else "",
        "attachments": {p.get_filename(): p.get_content() for p in message.iter_attachments()},
    }


def start_stack(
    state_dir: Path,
    *,
    port: int | None = None,
    moto_port: int | None = None,
    env: dict[str, str] | None = None,
) -> tuple[subprocess.Popen[bytes], LocalStack]:
    """Start ``python -m chalicelib.local`` and wait until it serves /health and has seeded.

    The caller owns the process: stop it with :func:`stop_stack`.
    """
    settings = {
        "LOCAL_SCHEDULE_SECONDS": "2",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        # A short refresh grace, so a test can outwait it with one short sleep.
        "REFRESH_GRACE_SECONDS": str(REFRESH_GRACE_SECONDS),
        **(env or {}),
    }
    try:
        process = start_process(
            state_dir, port=port, moto_port=moto_port, env=settings, timeout=STARTUP_TIMEOUT
        )
    except StackError as exc:
        pytest.fail(str(exc))
    return process.process, _stack(process)


def _stack(process: StackProcess) -> LocalStack:
    logins = {key: Login(**login) for key, login in process.logins().items()}
    return LocalStack(
        base_url=process.base_url,
        moto_url=process.moto_url,
        state_dir=process.state_dir,
        log_path=process.log_path,
        logins=logins,
        pid=process.pid,
        process=process.process,
    )


def stop_stack(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> int:
    """Signal the stack's process group; escalate to SIGKILL after 15 s. Answers the exit code."""
    if process.poll() is not None:
        return int(process.returncode)
    try:
        os.killpg(process.pid, sig)
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)
    except ProcessLookupError:
        pass
    return int(process.wait())


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The whole local stack on free ports, shared by every e2e test of the session."""
    _, stack = start_stack(tmp_path_factory.mktemp("local-stack"))
    try:
        yield stack
    finally:
        if stack.process is not None:
            stop_stack(stack.process)
