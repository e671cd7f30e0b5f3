"""moto over HTTP for the local stack, with every request into it serialised.

moto is not thread-safe (its FAQ says so). Real DynamoDB makes each single-item write atomic;
one lock around moto's WSGI app gives the emulator the same property, so concurrent requests
against the local stack exercise the code's conditional writes instead of moto's races.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger("tutorbook.local.moto")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
#: A local-only page: (query string) -> (status, content type, body).
LocalPage = Callable[[str], tuple[int, str, bytes]]
LOCAL_PREFIX = "/_local/"


def _operation(environ: dict[str, Any]) -> str:
    """``DynamoDB_20120810.Query``, ``AmazonSQS.ReceiveMessage`` or ``POST /v2/email/...``."""
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return str(target)
    path = str(environ.get("PATH_INFO", ""))
    return f"{environ.get('REQUEST_METHOD', '')} {'/'.join(path.split('/')[:4])}"


#: Answered without moto or its lock, so a busy or still-importing emulator is still recognised.
PING_PATH = "/_local/ping"
PING_BODY = b'{"emulator": "tutorbook"}'


class SerialisedApp:
    """A WSGI middleware that lets one request at a time into the wrapped app.

    The whole response body is produced under the lock, so a lazily generated body cannot
    read the emulator's state while another request changes it. Paths under ``/_local/`` are
    the local stack's own pages (mail, memory statistics), answered under the same lock so they
    see the emulator's state between requests; nothing else of the local stack ever ships.
    """

    def __init__(
        self,
        app: WsgiApp,
        pages: dict[str, LocalPage] | None = None,
        unlocked: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.pages = dict(pages or {})
        self.unlocked = unlocked  # pages that must not hold up the emulator (profiling)
        self.lock = threading.Lock()
        #: operation -> [requests, seconds inside the lock, CPU seconds of those] (the statistics
        #: page shows them; wall well above CPU means the emulator waited for the interpreter)
        self.timings: dict[str, list[float]] = {}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ.get("PATH_INFO") == PING_PATH:
            start_response("200 OK", [("Content-Type", "application/json")])
            return [PING_BODY]
        path = str(environ.get("PATH_INFO", ""))
        if path.startswith(LOCAL_PREFIX):
            return self._page(path, str(environ.get("QUERY_STRING", "")), start_response)
        with self.lock:
            started = time.perf_counter()
            cpu_started = time.thread_time()
            result = self.app(environ, start_response)
            try:
                return [b"".join(result)]
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
                entry = self.timings.setdefault(_operation(environ), [0, 0.0, 0.0])
                entry[0] += 1
                entry[1] += time.perf_counter() - started
                entry[2] += time.thread_time() - cpu_started

    def _page(self, path: str, query: str, start_response: Callable[..., Any]) -> list[bytes]:
        name = path[len(LOCAL_PREFIX) :]
        page = self.pages.get(name)
        if page is None:
            status, kind, body = 404, "text/plain", b"no such local page\n"
        elif name in self.unlocked:
            status, kind, body = page(query)
        else:
            with self.lock:
                status, kind, body = page(query)
        reason = {200: "OK", 404: "Not Found"}.get(status, "Error")
        start_response(
            f"{status} {reason}", [("Content-Type", kind), ("Content-Length", str(len(body)))]
        )
        return [body]


def is_emulator(url: str, timeout: float = 2.0) -> bool:
    """True when the local stack's emulator already answers at ``url``.

    The probe is a page the emulator answers itself: moto's own ``/moto-api/data.json``
    serialises every backend and can take seconds on a loaded machine.
    """
    try:
        with urllib.request.urlopen(f"{url}{PING_PATH}", timeout=timeout) as response:  # noqa: S310 - local URL
            body = json.loads(response.read() or b"{}")
            return int(response.status) == 200 and body.get("emulator") == "tutorbook"
    except (OSError, ValueError, AttributeError, urllib.error.URLError):
        return False


def _keep_alive_handler() -> type[Any]:
    """moto's request handler, keeping each HTTP/1.1 connection open for the next request.

    werkzeug's server ends every connection after one answer (it cannot tell where a request's
    body ends), so each call of the stack into its emulator made a connection and a server
    thread, and the SDK a socket, for a millisecond of work. The emulator reads a request's
    whole body by its ``Content-Length`` before moto sees it and answers with one, so the
    connection is ready for the next request. A request it cannot frame so (a chunked body,
    ``Expect: 100-continue``) gets werkzeug's own handling and a closed connection.
    """
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    class KeepAliveHandler(MotoRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = IDLE_CONNECTION_SECONDS  # an idle connection ends; its thread with it

        def setup(self) -> None:
            super().setup()
            _kept(self.server).add(self.connection)  # stopping the emulator ends them too

        def finish(self) -> None:
            _kept(self.server).discard(self.connection)
            super().finish()

        def log_error(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib's name
            """An idle connection timing out is how kept connections end: not an error."""
            if not format.startswith("Request timed out"):
                super().log_error(format, *args)

        def run_wsgi(self) -> None:
            if not _framed(self.headers):
                self.close_connection = True
                super().run_wsgi()
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            self.environ = environ = self.make_environ()
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            try:
                status, headers, data = _call(self.server.app, environ)
            except Exception:
                log.exception("the emulator failed %s %s", self.command, self.path)
                status, headers = "500 INTERNAL SERVER ERROR", [("Content-Type", "text/plain")]
                data = b"the emulator failed this request\n"
                self.close_connection = True
            _respond(self, status, headers, data)

    return KeepAliveHandler


def _kept(server: Any) -> set[Any]:
    """The connections a server of :class:`MotoServer` keeps open."""
    kept: set[Any] = server.kept_connections
    return kept


def _respond(handler: Any, status: str, headers: list[tuple[str, str]], data: bytes) -> None:
    """Write an answer framed by its length (and say so when the connection closes after it)."""
    code, _, reason = status.partition(" ")
    handler.send_response(int(code), reason)
    for key, value in headers:
        if key.lower() not in ("content-length", "connection", "transfer-encoding"):
            handler.send_header(key, value)
    handler.send_header("Content-Length", str(len(data)))
    if handler.close_connection:
        handler.send_header("Connection", "close")
    handler.end_headers()
    if handler.command != "HEAD" and int(code) not in (204, 304):
        handler.wfile.write(data)


def _framed(headers: Any) -> bool:
    """A request whose body ends where its ``Content-Length`` says (or that has none)."""
    chunked = "chunked" in str(headers.get("Transfer-Encoding", "")).lower()
    expects = str(headers.get("Expect", "")).lower().strip() == "100-continue"
    return not chunked and not expects


def _call(app: WsgiApp, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    """A WSGI app's status, headers and whole body."""
    answer: list[Any] = ["500 INTERNAL SERVER ERROR", []]

    def start_response(status: str, headers: list[tuple[str, str]], _: Any = None) -> Any:
        answer[:] = [status, headers]
        return lambda data: None  # the app returns its body (SerialisedApp does)

    result = app(environ, start_response)
    try:
        data = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return str(answer[0]), list(answer[1]), data


#: Seconds a kept connection may idle before the emulator closes it (the SDK opens a new one).
IDLE_CONNECTION_SECONDS = 30.0


class MotoServer:
    """moto's WSGI app behind :class:`SerialisedApp`, served by werkzeug on a thread."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 5000, pages: dict[str, LocalPage] | None = None
    ) -> None:
        self.host = host
        self.port = port
        self.pages = pages or {}
        self.app: SerialisedApp | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.reused = False

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> MotoServer:
        """Serve moto, or reuse an emulator that already answers on the port."""
        if is_emulator(self.url):
            log.info("reusing the AWS emulator already running on %s", self.url)
            self.reused = True
            return self
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        self.app = SerialisedApp(
            DomainDispatcherApplication(create_backend_app), self.pages, frozenset({"profile"})
        )
        self._server = make_server(
            self.host,
            self.port,
            self.app,
            threaded=True,
            request_handler=_keep_alive_handler(),
        )
        self._server.kept_connections = set()
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="moto-server", daemon=True
        )
        self._thread.start()
        log.info("AWS emulator (moto) serving on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop listening and end the connections kept open: a stopped emulator answers none."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            for connection in list(self._server.kept_connections):
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
