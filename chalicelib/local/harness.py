"""The local stack as a child process: start it on free ports, watch its memory, stop it.

Used by the load run (``make load``) and the end-to-end tests, so both start and stop the stack
the way a developer's ``make dev`` does.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"


class StackError(RuntimeError):
    """The stack exited or did not become ready; the message ends with its console output."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def rss_bytes(pid: int) -> int | None:
    """The resident set size of a process (Linux ``/proc``; None where unavailable)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


def cpu_seconds(pid: int) -> tuple[float, float] | None:
    """The user and system CPU seconds a process has used so far (Linux ``/proc``; None where
    unavailable): unlike wall-clock time, they do not grow when other processes take the CPU."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / ticks, int(fields[12]) / ticks  # utime, stime (fields 14 and 15)


def healthy(base_url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(base_url + "/health", timeout=timeout) as response:  # noqa: S310
            return int(response.status) == 200
    except (OSError, urllib.error.URLError):
        return False


@dataclass
class StackProcess:
    process: subprocess.Popen[bytes]
    base_url: str
    moto_url: str
    state_dir: Path
    log_path: Path

    @property
    def pid(self) -> int:
        return int(self.process.pid)

    def rss(self) -> int | None:
        return rss_bytes(self.pid)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def logins(self) -> dict[str, dict[str, str]]:
        """The seeded demo logins by role (``$LOCAL_STATE_DIR/demo-logins.json``)."""
        seeded = json.loads((self.state_dir / "demo-logins.json").read_text())
        return dict(seeded["logins"])

    def stop(self, sig: int = signal.SIGINT, timeout: float = 15.0) -> tuple[int, float]:
        """Signal the stack's process group; SIGKILL after ``timeout`` s.

        Answers the exit code and the seconds from the signal to the exit.
        """
        started = time.monotonic()
        if self.process.poll() is not None:
            return int(self.process.returncode), 0.0
        try:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)
        except ProcessLookupError:
            pass
        return int(self.process.wait()), time.monotonic() - started


def start_stack(
    state_dir: Path,
    *,
    port: int | None = None,
    moto_port: int | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 90.0,
    wait_for_seed: bool = True,
) -> StackProcess:
    """Start ``python -m chalicelib.local`` in its own process group and wait until it serves
    ``/health`` (and, unless told otherwise, has written the demo logins).

    The child exits by itself when this process is gone (``LOCAL_PARENT_PID``).
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / "demo-logins.json").unlink(missing_ok=True)  # written anew once seeded
    port, moto_port = port or free_port(), moto_port or free_port()
    child_env = dict(os.environ)
    for key in ("JWT_SECRET", "JWT_SECRET_ARN", "AWS_ENDPOINT_URL", "AWS_PROFILE", "STAGE"):
        child_env.pop(key, None)
    child_env.update(
        {
            "PORT": str(port),
            "MOTO_PORT": str(moto_port),
            "LOCAL_STATE_DIR": str(state_dir),
            "LOCAL_PARENT_PID": str(os.getpid()),
            "PYTHONUNBUFFERED": "1",
        }
    )
    child_env.update(env or {})
    log_path = state_dir / "console.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(  # noqa: S603 - this interpreter, a fixed module
            [sys.executable, "-m", "chalicelib.local"],
            cwd=PROJECT_DIR,
            env=child_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    stack = StackProcess(
        process=process,
        base_url=f"http://{HOST}:{port}",
        moto_url=f"http://{HOST}:{moto_port}",
        state_dir=state_dir,
        log_path=log_path,
    )
    logins = state_dir / "demo-logins.json"
    deadline = time.monotonic() + timeout
    try:
        while True:
            if process.poll() is not None:
                raise StackError(
                    f"the local stack exited ({process.returncode}):\n{stack.log_text()}"
                )
            if (not wait_for_seed or logins.exists()) and healthy(stack.base_url):
                return stack
            if time.monotonic() > deadline:
                raise StackError(f"the local stack did not start in time:\n{stack.log_text()}")
            time.sleep(0.2)
    except BaseException:
        stack.stop(signal.SIGKILL, timeout=5)
        raise
