"""moto over HTTP for the local stack, with every request into it serialised.

moto is not thread-safe (its FAQ says so). Real DynamoDB makes each single-item write atomic;
one lock around moto's WSGI app gives the emulator the same property, so concurrent requests
against the local stack exercise the code's conditional writes instead of moto's races.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger("tutorbook.local.moto")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

#: Answered without moto or its lock, so a busy or still-importing emulator is still recognised.
PING_PATH = "/_local/ping"
PING_BODY = b'{"emulator": "tutorbook"}'


class SerialisedApp:
    """A WSGI middleware that lets one request at a time into the wrapped app.

    The whole response body is produced under the lock, so a lazily generated body cannot
    read the emulator's state while another request changes it.
    """

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ.get("PATH_INFO") == PING_PATH:
            start_response("200 OK", [("Content-Type", "application/json")])
            return [PING_BODY]
        with self.lock:
            result = self.app(environ, start_response)
            try:
                return [b"".join(result)]
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()


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


class MotoServer:
    """moto's WSGI app behind :class:`SerialisedApp`, served by werkzeug on a thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 5000) -> None:
        self.host = host
        self.port = port
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
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        app = SerialisedApp(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(
            self.host, self.port, app, threaded=True, request_handler=MotoRequestHandler
        )
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="moto-server", daemon=True
        )
        self._thread.start()
        log.info("AWS emulator (moto) serving on %s", self.url)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
