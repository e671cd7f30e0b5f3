"""The local stack (``python -m chalicelib.local``) as a subprocess, for end-to-end tests.

Use the session-scoped ``local_stack`` fixture and mark the test ``pytest.mark.e2e``::

    @pytest.mark.e2e
    def test_something(local_stack):
        requests.get(local_stack.base_url + "/health")
        admin = local_stack.logins["admin"]   # .tenant, .email, .password
        local_stack.login("student")          # -> Tokens JSON of the seeded student
        local_stack.emails()                  # every email SES accepted, from the emulator

The stack runs on free ports with ``LOCAL_SCHEDULE_SECONDS=2`` and a throwaway state dir;
its combined console output is in ``local_stack.log_path`` (printed when startup fails).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

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


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Login:
    role: str
    tenant: str
    email: str
    password: str


@dataclass
class LocalStack:
    base_url: str
    moto_url: str
    state_dir: Path
    log_path: Path
    logins: dict[str, Login] = field(default_factory=dict)
    tenant: str = "demo"
    schedule_seconds: float = 2.0

    def url(self, path: str) -> str:
        return self.base_url + path

    def login(self, role: str) -> dict[str, Any]:
        """Log a seeded demo user in; answers the Tokens JSON."""
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
        """Every email the emulated SES accepted (``ses.Message`` of the emulator's data)."""
        messages = self.emulator_data().get("ses", {}).get("Message", {})
        if isinstance(messages, dict):
            flat: list[dict[str, Any]] = []
            for value in messages.values():
                flat.extend(value if isinstance(value, list) else [value])
            return flat
        return list(messages)

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


def _child_env(port: int, moto_port: int, state_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    for key in ("JWT_SECRET", "JWT_SECRET_ARN", "AWS_ENDPOINT_URL", "AWS_PROFILE", "STAGE"):
        env.pop(key, None)
    env.update(
        {
            "PORT": str(port),
            "MOTO_PORT": str(moto_port),
            "LOCAL_SCHEDULE_SECONDS": "2",
            "LOCAL_STATE_DIR": str(state_dir),
            "LOCAL_PARENT_PID": str(os.getpid()),
            "PYTHONUNBUFFERED": "1",
            "POWERTOOLS_LOG_LEVEL": "INFO",
            # A short refresh grace, so a test can outwait it with one short sleep.
            "REFRESH_GRACE_SECONDS": str(REFRESH_GRACE_SECONDS),
        }
    )
    return env


def start_stack(
    state_dir: Path, *, port: int | None = None, moto_port: int | None = None
) -> tuple[subprocess.Popen[bytes], LocalStack]:
    """Start ``python -m chalicelib.local`` and wait until it serves /health and has seeded.

    The caller owns the process: stop it with :func:`stop_stack`.
    """
    port, moto_port = port or free_port(), moto_port or free_port()
    log_path = state_dir / "console.log"
    stack = LocalStack(
        base_url=f"http://127.0.0.1:{port}",
        moto_url=f"http://127.0.0.1:{moto_port}",
        state_dir=state_dir,
        log_path=log_path,
    )
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "chalicelib.local"],
            cwd=PROJECT_DIR,
            env=_child_env(port, moto_port, state_dir),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        logins_file = state_dir / "demo-logins.json"
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"the local stack exited ({process.returncode}):\n{stack.log_text()}")
            if logins_file.exists() and _healthy(stack.base_url):
                break
            if time.monotonic() > deadline:
                pytest.fail(f"the local stack did not start in time:\n{stack.log_text()}")
            time.sleep(0.25)
        seeded = json.loads(logins_file.read_text())
        stack.logins = {role: Login(**login) for role, login in seeded["logins"].items()}
    except BaseException:
        stop_stack(process)
        raise
    return process, stack


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
    process, stack = start_stack(tmp_path_factory.mktemp("local-stack"))
    try:
        yield stack
    finally:
        stop_stack(process)


def _healthy(base_url: str) -> bool:
    try:
        return requests.get(base_url + "/health", timeout=2).status_code == 200
    except requests.RequestException:
        return False
