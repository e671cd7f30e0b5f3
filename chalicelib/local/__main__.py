"""``python -m chalicelib.local`` (what ``make dev`` runs): the whole stack offline, one Ctrl-C.

1. a local signing secret in ``$LOCAL_STATE_DIR/jwt-secret`` (default ``.local/``, gitignored)
2. moto over HTTP on ``127.0.0.1:$MOTO_PORT`` (default 5000), requests serialised
3. every table, queue and email identity of ``infra/resources.json``
4. the Chalice app (stage ``local``) on ``127.0.0.1:$PORT`` (default 8000)
5. the event pump (SQS + DynamoDB streams) and the scheduler (every ``LOCAL_SCHEDULE_SECONDS``)
6. the demo tenant, whose logins are printed (and written to ``$LOCAL_STATE_DIR/demo-logins.json``)
7. sent emails printed as they reach the emulated SES
"""

from __future__ import annotations

import html
import json
import logging
import os
import re
import secrets
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
REGION = "us-east-1"

log = logging.getLogger("tutorbook.local")


def _logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[local %(name)s] %(levelname)s %(message)s"))
    root = logging.getLogger("tutorbook.local")
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    root.propagate = False
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


def _secret(state_dir: Path) -> str:
    """Generate once, then reuse, this machine's local signing secret."""
    path = state_dir / "jwt-secret"
    if path.exists() and len(path.read_text().strip()) >= 32:
        return path.read_text().strip()
    state_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    _write_private(path, value + "\n")
    log.info("generated a local signing secret in %s", path)
    return value


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (secrets, demo passwords)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    path.chmod(0o600)  # also when the file existed with a wider mode


def _exit_with_parent(pid: int, stop: threading.Event) -> None:
    """Stop when the process that started us (a test session) is gone, so none is orphaned."""

    def watch() -> None:
        while not stop.wait(1.0):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                log.info("parent process %s is gone; stopping", pid)
                stop.set()
            except PermissionError:  # alive, owned by someone else
                continue

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _reset_caches() -> None:
    from chalicelib.config import reset_settings
    from chalicelib.db.base import configure
    from chalicelib.secrets import reset_secrets

    reset_settings()
    reset_secrets()
    configure()


def _text(body: str) -> str:
    """An HTML email body as one readable console line."""
    text = re.sub(r"<[^>]+>", " ", body) if "<" in body else body
    return re.sub(r"\s+", " ", html.unescape(text)).strip()


class MailPrinter:
    """Prints every email the emulated SES accepted (moto runs in this process)."""

    def __init__(self, stop: threading.Event, interval: float = 1.0) -> None:
        self.stop = stop
        self.interval = interval
        self.seen = 0

    def start(self) -> None:
        threading.Thread(target=self._run, name="mail-printer", daemon=True).start()

    def _messages(self) -> list[Any]:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.ses.models import ses_backends

        return list(ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages)

    def _run(self) -> None:
        while not self.stop.wait(self.interval):
            try:
                messages = self._messages()
            except Exception:  # a printer must never stop the stack
                log.debug("reading sent emails failed", exc_info=True)
                continue
            for message in messages[self.seen :]:
                destinations = getattr(message, "destinations", {}) or {}
                to = ", ".join(
                    address
                    for field in ("ToAddresses", "CcAddresses", "BccAddresses")
                    for address in destinations.get(field, [])
                )
                print(
                    f"[local mail] from={getattr(message, 'source', '?')} to={to}\n"
                    f"  subject: {getattr(message, 'subject', '')}\n"
                    f"  {_text(str(getattr(message, 'body', '')))[:2000]}",
                    flush=True,
                )
            self.seen = max(self.seen, len(messages))


def main() -> int:
    from chalicelib.local.diagnostics import start_tracing, stats_page

    start_tracing()
    _logging()
    from chalicelib.config import get_settings

    settings = get_settings()
    state_dir = Path(settings.local_state_dir)
    if not state_dir.is_absolute():
        state_dir = PROJECT_DIR / state_dir
    port, moto_port = settings.port, settings.moto_port
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s; stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    if settings.local_parent_pid:
        _exit_with_parent(settings.local_parent_pid, stop)
    jwt_secret = _secret(state_dir)

    from chalicelib.local.server import MotoServer

    try:
        moto = MotoServer(HOST, moto_port, pages={"stats": stats_page}).start()
    except OSError as exc:
        log.error("cannot serve the emulator on %s:%s (%s); set MOTO_PORT", HOST, moto_port, exc)
        return 1
    os.environ.update(
        {
            # Fake credentials and the emulator's endpoint: nothing here can reach real AWS.
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": moto.url,
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
            "JWT_SECRET": jwt_secret,
            "STAGE": "local",
        }
    )
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("JWT_SECRET_ARN", None)

    from chalicelib.local.resources import create_resources

    env = create_resources(stage="local", region=REGION, endpoint_url=moto.url)
    os.environ.update(env)
    log.info("created %d resources from infra/resources.json on %s", len(env), moto.url)

    from chalice.cli.factory import CLIFactory
    from chalice.local import LocalDevServer, ThreadedHTTPServer

    class _Server(ThreadedHTTPServer):
        # socketserver's default backlog of 5 resets bursts of concurrent connections.
        request_queue_size = 128

    factory = CLIFactory(str(PROJECT_DIR))
    config = factory.create_config_obj(chalice_stage_name="local")
    # The stage's variables from .chalice/config.json, unless the developer's environment (or
    # the resources just created) already set them, e.g. POWERTOOLS_LOG_LEVEL=DEBUG make dev.
    stage_env = {
        k: v
        for k, v in config.environment_variables.items()
        if k not in env and (k not in os.environ or k == "STAGE")
    }
    app = factory.load_chalice_app(environment_variables=stage_env)
    _reset_caches()

    try:
        server = LocalDevServer(app, config, HOST, port, server_cls=_Server)
    except OSError as exc:
        log.error("cannot serve the API on %s:%s (%s); set PORT", HOST, port, exc)
        moto.stop()
        return 1
    http_thread = threading.Thread(target=server.serve_forever, name="chalice-local", daemon=True)
    http_thread.start()
    base_url = f"http://{HOST}:{port}"
    log.info("API serving on %s (OpenAPI: %s/openapi.json)", base_url, base_url)

    from chalicelib.local.pump import EventPump
    from chalicelib.local.scheduler import Scheduler

    pump = EventPump(app, region=REGION, endpoint_url=moto.url).start(stop)
    log.info("event pump delivering to: %s", ", ".join(s.name for s in pump.sources) or "nothing")
    scheduler = Scheduler(app, interval=get_settings().local_schedule_seconds, region=REGION)
    scheduler.start(stop)
    log.info(
        "scheduler running %s every %ss",
        ", ".join(j.name for j in scheduler.jobs) or "nothing",
        scheduler.interval,
    )
    MailPrinter(stop).start()

    from chalicelib.local.seed import describe, http_call, seed

    try:
        result = seed(http_call(base_url), jwt_secret.encode())
    except Exception:
        log.exception("seeding the demo tenant failed")
    else:
        _write_private(state_dir / "demo-logins.json", json.dumps(result.as_json(), indent=2))
        print("[local seed] " + describe(result), flush=True)
    print(
        f"[local] ready: API {base_url}  emulator {moto.url}  (Ctrl-C stops everything)",
        flush=True,
    )

    # Poll rather than stop.wait(): the signal handler runs on this thread and calls
    # stop.set(), which would deadlock on the Event's lock if this thread held it in wait().
    while not stop.is_set():
        time.sleep(0.2)
    started = time.monotonic()
    scheduler.stop()
    pump.stop()
    server.shutdown()
    moto.stop()
    log.info("stopped in %.1fs", time.monotonic() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
