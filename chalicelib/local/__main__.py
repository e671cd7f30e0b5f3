"""``python -m chalicelib.local`` (what ``make dev`` runs): the whole stack offline, one Ctrl-C.

1. a local signing secret in ``$LOCAL_STATE_DIR/jwt-secret`` (default ``.local/``, gitignored)
2. moto over HTTP on ``127.0.0.1:$MOTO_PORT`` (default 5000), requests serialised, with its
   data loaded from ``$LOCAL_STATE_DIR/emulator.json.gz`` (see :mod:`chalicelib.local.state`)
3. every table, queue and email identity of ``infra/resources.json``
4. the Chalice app (stage ``local``) on ``127.0.0.1:$PORT`` (default 8000)
5. the event pump (SQS + DynamoDB streams) and the scheduler (every ``LOCAL_SCHEDULE_SECONDS``)
6. the demo data (:mod:`chalicelib.local.seed`), whose logins are logged and written to
   ``$LOCAL_STATE_DIR/demo-logins.json``
7. one log line per email the emulated SES accepts (``make mail`` prints them in full)

Every line it writes is one JSON object in the app's own log format (Powertools). Ctrl-C,
SIGTERM or SIGHUP stops everything within seconds and saves the emulator's data.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import socket
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
    """The local stack's own lines in the app's format: one JSON object per line on stdout."""
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    level = os.environ.get("POWERTOOLS_LOG_LEVEL", "INFO").upper()
    handler = logging.StreamHandler(sys.stdout)
    formatter = LambdaPowertoolsFormatter(
        service=os.environ.get("POWERTOOLS_SERVICE_NAME", "tutorbook")
    )
    formatter.append_keys(component="local stack")
    handler.setFormatter(formatter)
    for name in ("tutorbook.local", "werkzeug"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.propagate = False
        logger.setLevel(level if name == "tutorbook.local" else "WARNING")


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
    """Stop when the process that started us (a test session, ``make``) is gone."""

    def watch() -> None:
        while not stop.wait(0.5):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                log.info("parent process %s is gone; stopping", pid)
                stop.set()
            except PermissionError:  # alive, owned by someone else
                continue

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def port_free(port: int) -> bool:
    """True when this machine lets us listen on the loopback port (as the servers will)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def _port_taken(what: str, variable: str, port: int) -> int:
    log.error(
        "port %s is already in use (another `make dev`?), so the %s cannot listen on it. Stop that "
        "program or choose another port, e.g. `%s=%s make dev`.",
        port,
        what,
        variable,
        port + 1,
    )
    return 1


def _reset_caches() -> None:
    from chalicelib.config import reset_settings
    from chalicelib.db.base import configure
    from chalicelib.secrets import reset_secrets

    reset_settings()
    reset_secrets()
    configure()


class MailWatcher:
    """Logs one line per email the emulated SES accepts, read from the emulator's mail page
    (so a stack that reuses another's emulator shows its mail too)."""

    def __init__(self, emulator_url: str, stop: threading.Event, interval: float = 1.0) -> None:
        self.url = emulator_url
        self.stop = stop
        self.interval = interval
        self.last = 0

    def start(self) -> MailWatcher:
        from chalicelib.local.mail import fetch

        try:  # mail kept from before this start (a snapshot, a reused emulator) was seen then
            seen = fetch(self.url, 0)
            self.last = seen[-1]["number"] if seen else 0
        except Exception:  # noqa: BLE001 - the first poll will say what is wrong
            self.last = 0
        threading.Thread(target=self._run, name="mail-watcher", daemon=True).start()
        return self

    def _run(self) -> None:
        from chalicelib.local.mail import fetch

        while not self.stop.wait(self.interval):
            try:
                messages = fetch(self.url, self.last)
            except Exception:  # noqa: BLE001 - a watcher must never stop the stack
                log.debug("reading sent emails failed", exc_info=True)
                continue
            for m in messages:
                log.info(
                    "email accepted by the emulated SES (read it with `make mail`)",
                    extra={"mail_number": m["number"], "to": m["to"], "subject": m["subject"]},
                )
                if m.get("attachments"):  # a calendar invite: invite.ics attached
                    log.info(
                        "attached: %s",
                        ", ".join(m["attachments"]),
                        extra={"mail_number": m["number"]},
                    )
                self.last = max(self.last, int(m["number"]))


def _chalice_server(app: Any, config: Any, port: int) -> Any:
    """The API server: Chalice's local server, quiet (the app logs each request once)."""
    from chalice.local import LocalDevServer, ThreadedHTTPServer

    from chalicelib.local.gateway import RequestHandler
    from chalicelib.local.peer import peer_aware

    class _Handler(RequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib's name
            """The app's own ``request`` line is the access log; no second one."""

    class _Server(ThreadedHTTPServer):
        # socketserver's default backlog of 5 resets bursts of concurrent connections.
        request_queue_size = 128

        def handle_error(self, request: Any, client_address: Any) -> None:
            error = sys.exc_info()[1]
            if isinstance(error, ConnectionError):  # the client went away: nothing to report
                return
            log.exception("the API server failed a connection from %s", client_address)

    # Unknown paths and methods answer in the error envelope (gateway.py), and each event
    # carries the connection's real address (peer.py), as on API Gateway.
    return LocalDevServer(
        app, config, HOST, port, handler_cls=peer_aware(_Handler), server_cls=_Server
    )


def main() -> int:  # noqa: C901 - the stack's start and stop, in order, in one place
    from chalicelib.local import diagnostics
    from chalicelib.local.diagnostics import profile_page, start_tracing, stats_page

    start_tracing()
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")  # no EMF blobs on the console
    _logging()
    from chalicelib.config import get_settings

    settings = get_settings()
    state_dir = Path(settings.local_state_dir)
    if not state_dir.is_absolute():
        state_dir = PROJECT_DIR / state_dir
    port, moto_port = settings.port, settings.moto_port
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if not stop.is_set():
            log.info("received %s; stopping", signal.Signals(signum).name)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    if settings.local_parent_pid:
        _exit_with_parent(settings.local_parent_pid, stop)

    from chalicelib.local.server import MotoServer, is_emulator

    # Ports first: a clear answer before any work (the servers would only say "in use").
    if not port_free(port):
        return _port_taken("API", "PORT", port)
    emulator_url = f"http://{HOST}:{moto_port}"
    if not is_emulator(emulator_url) and not port_free(moto_port):
        return _port_taken("AWS emulator", "MOTO_PORT", moto_port)

    jwt_secret = _secret(state_dir)
    from chalicelib.local.emulator import Housekeeper, install
    from chalicelib.local.mail import mail_page

    housekeeper: Housekeeper | None = None

    def mail_dropped() -> int:
        return housekeeper.mail_dropped if housekeeper is not None else 0

    pages = {"stats": stats_page, "profile": profile_page, "mail": mail_page(mail_dropped)}
    moto = MotoServer(HOST, moto_port, pages=pages)
    try:
        moto.start()
    except OSError as exc:
        log.error("cannot serve the emulator on %s:%s (%s); set MOTO_PORT", HOST, moto_port, exc)
        return 1
    # LOCAL_EMULATOR_PLAIN=1: moto as it comes (no adaptations, no housekeeping), to measure
    # what they change (README, "Memory").
    plain = os.environ.get("LOCAL_EMULATOR_PLAIN") == "1"
    if moto.app is not None and not plain:
        install()  # the emulator's transactions and queries stay fast as its tables grow
        diagnostics.timings = moto.app.timings
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

    from chalicelib.local import state

    keeper: state.Keeper | None = None
    snapshot_path = state_dir / state.FILE_NAME
    restored_mail_dropped = 0
    if moto.app is not None:
        document = state.load(snapshot_path)
        if document is not None:
            with moto.app.lock:
                counts = state.restore(document)
            restored_mail_dropped = int(document.get("mail", {}).get("dropped", 0))
            log.info(
                "loaded the emulator's data from %s", snapshot_path, extra={"restored": counts}
            )
        else:
            log.info("no saved emulator data in %s: starting empty", snapshot_path)
    else:
        log.info("the reused emulator keeps its own data; nothing is loaded or saved here")

    from chalice.cli.factory import CLIFactory

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
        server = _chalice_server(app, config, port)
    except OSError as exc:
        log.error("cannot serve the API on %s:%s (%s); set PORT", HOST, port, exc)
        moto.stop()
        return 1
    http_thread = threading.Thread(
        target=server.server.serve_forever, name="chalice-local", daemon=True
    )
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
    if moto.app is not None and not plain:
        housekeeper = Housekeeper(moto.app.lock, pump.acknowledged)
        housekeeper.mail_dropped = restored_mail_dropped
        housekeeper.start(stop)
    if moto.app is not None:
        keeper = state.Keeper(snapshot_path, moto.app.lock, pump.acknowledged, mail_dropped)
        keeper.loaded()
        keeper.start(stop)
    MailWatcher(moto.url, stop).start()
    _write_private(
        state_dir / "stack.json",
        json.dumps({"pid": os.getpid(), "api": base_url, "emulator": moto.url}),
    )

    from chalicelib.local.seed import describe, http_call, seed

    try:
        result = seed(http_call(base_url), jwt_secret.encode())
    except Exception:
        log.exception("seeding the demo data failed")
    else:
        _write_private(state_dir / "demo-logins.json", json.dumps(result.as_json(), indent=2))
        for line in describe(result):
            log.info(line)
    log.info(
        "ready: API %s, emulator %s; read email with `make mail`; Ctrl-C stops everything",
        base_url,
        moto.url,
    )

    # Poll rather than stop.wait(): the signal handler runs on this thread and calls
    # stop.set(), which would deadlock on the Event's lock if this thread held it in wait().
    while not stop.is_set():
        time.sleep(0.1)
    # Everything watches ``stop``: the API server, the pump, the scheduler and the emulator's
    # housekeeping end on their own. A batch still in flight after a moment is not waited for:
    # the snapshot below does not count it as processed, so it is delivered again after a
    # restart (every event function is idempotent).
    started = time.monotonic()
    threading.Thread(target=server.shutdown, name="api-shutdown", daemon=True).start()
    pump.stop(timeout=1.5)
    if keeper is not None:
        try:
            written = keeper.save()
            log.info(
                "the emulator's data is saved in %s", snapshot_path, extra={"written": written}
            )
        except Exception:
            log.exception("saving the emulator's data failed")
    (state_dir / "stack.json").unlink(missing_ok=True)
    log.info("stopped in %.1fs", time.monotonic() - started)
    return 0  # the process ends here, with its servers (see below)


if __name__ == "__main__":
    code = main()
    # Leave without tearing down every object one by one: after a long run the emulator holds
    # many of them, and the interpreter's orderly teardown would take longer than the stop.
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)
