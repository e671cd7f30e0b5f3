"""Which AWS calls each Lambda function makes across the test suite (a pytest plugin).

Registered from ``tests/conftest.py``. While the suite runs, every botocore request is
attributed to the deployed function that made it, through the app's own entry points:

* ``Chalice.__call__`` of the ``tutorbook`` app is the API handler (what API Gateway invokes;
  ``chalice.test.Client`` and the local server call it too);
* each event function is the handler the app registered under its name (``app.handler_map``,
  what ``client.lambda_.invoke`` and the local event pump call), found when ``app.py``
  registers it, so renamed or moved event modules need no change here.

Calls made outside a function (fixtures, taps reading a stream, the pump's own polling, test
apps) are not recorded. Each record is ``(function, IAM action, resource, qualifier)``: the
resource is the name of the environment variable through which the function found it (the
template's ``Globals`` variables, e.g. ``MAIN_TABLE``), the qualifier an index (``index/due``).

Each process (each xdist worker too) writes its records to ``$AWS_CALLS_DIR`` (default
``build/aws-calls/``) when its session ends; the controller empties the directory when a
session starts. ``pytest --aws-calls-check tests/deploy`` then runs only the tests marked
``aws_calls_check``, which read every worker's file (``make test`` runs both steps); a normal
run deselects those tests.
"""

from __future__ import annotations

import contextvars
import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]
DEPLOY_TEMPLATE = PROJECT_DIR / "infra" / "deploy.json"
APP_NAME = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())["app_name"]
API_FUNCTION = "api_handler"  # chalice's name for the function behind API Gateway
CHECK_OPTION = "--aws-calls-check"
CHECK_MARK = "aws_calls_check"

Record = tuple[str, str, str, str]  # function, action, resource variable, qualifier

_acting: contextvars.ContextVar[str | None] = contextvars.ContextVar("aws_function", default=None)


def records_dir() -> Path:
    return Path(os.environ.get("AWS_CALLS_DIR") or PROJECT_DIR / "build" / "aws-calls")


def resource_variables(template: Path = DEPLOY_TEMPLATE) -> list[str]:
    """The variables through which the template hands every function a resource."""
    variables = json.loads(template.read_text())["Globals"]["Function"]["Environment"]
    return sorted(k for k, v in variables["Variables"].items() if isinstance(v, dict))


class Recorder:
    def __init__(self) -> None:
        self.calls: dict[Record, dict[str, Any]] = {}
        self.variables = resource_variables()
        self._handlers: dict[int, tuple[Any, str]] = {}
        self._undo: list[Callable[[], None]] = []

    # -- attribution ---------------------------------------------------------------------

    @contextmanager
    def acting_as(self, function: str | None) -> Iterator[None]:
        token = _acting.set(function)
        try:
            yield
        finally:
            _acting.reset(token)

    def install(self) -> None:
        import botocore.client
        from chalice import app as chalice_app

        recorder = self

        def patch(owner: Any, name: str, replacement: Any) -> None:
            original = owner.__dict__[name]
            setattr(owner, name, replacement)
            self._undo.append(lambda: setattr(owner, name, original))

        register = chalice_app._HandlerRegistration._do_register_handler

        def do_register_handler(
            self: Any, handler_type: str, name: str, *args: Any, **kw: Any
        ) -> None:
            register(self, handler_type, name, *args, **kw)
            if getattr(self, "app_name", None) == APP_NAME:
                handler = self.handler_map.get(name)
                recorder._handlers[id(handler)] = (handler, name)

        api_call = chalice_app.Chalice.__call__

        def app_call(self: Any, event: Any, context: Any) -> Any:
            with recorder.acting_as(API_FUNCTION if self.app_name == APP_NAME else None):
                return api_call(self, event, context)

        event_call = chalice_app.EventSourceHandler.__call__

        def handler_call(self: Any, event: Any, context: Any) -> Any:
            known = recorder._handlers.get(id(self))
            with recorder.acting_as(known[1] if known and known[0] is self else None):
                return event_call(self, event, context)

        make_api_call = botocore.client.BaseClient._make_api_call

        def recording_call(self: Any, operation_name: str, api_params: Any) -> Any:
            function = _acting.get()
            if function is not None:
                service = self.meta.service_model.service_name
                for action, value, qualifier in iam_requests(service, operation_name, api_params):
                    recorder.add(function, action, value, qualifier)
            return make_api_call(self, operation_name, api_params)

        patch(chalice_app._HandlerRegistration, "_do_register_handler", do_register_handler)
        patch(chalice_app.Chalice, "__call__", app_call)
        patch(chalice_app.EventSourceHandler, "__call__", handler_call)
        patch(botocore.client.BaseClient, "_make_api_call", recording_call)

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()

    # -- records -------------------------------------------------------------------------

    def add(self, function: str, action: str, value: str | None, qualifier: str) -> None:
        key = (function, action, self.variable_of(value), qualifier)
        entry = self.calls.setdefault(
            key, {"count": 0, "first_test": os.environ.get("PYTEST_CURRENT_TEST", "")}
        )
        entry["count"] += 1

    def variable_of(self, value: str | None) -> str:
        """The environment variable that named this resource ("" when the call names none)."""
        if not value:
            return ""
        for variable in self.variables:
            configured = os.environ.get(variable)
            if configured and configured == value:
                return variable
        return "?" + value  # a resource the template does not hand the function

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = [
            {
                "function": f,
                "action": a,
                "resource": r,
                "qualifier": q,
                **entry,
            }
            for (f, a, r, q), entry in sorted(self.calls.items())
        ]
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def read_records(directory: Path | None = None) -> list[dict[str, Any]]:
    """Every record every process of the last suite run wrote."""
    rows: list[dict[str, Any]] = []
    for path in sorted((directory or records_dir()).glob("*.jsonl")):
        rows.extend(json.loads(line) for line in path.read_text().splitlines() if line)
    return rows


# -- botocore operation -> IAM actions (and the resource each one is authorised on) ---------

_SQS_BATCH = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}
_TRANSACT = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}


def iam_requests(
    service: str, operation: str, params: dict[str, Any]
) -> list[tuple[str, str | None, str]]:
    """What IAM authorises for one API call: ``(action, resource value, qualifier)`` each.

    DynamoDB transactions are authorised per item (there is no TransactWriteItems action);
    SQS batches as their single-message action; SES v2 as ``ses:`` on the sender identity.
    """
    if service == "dynamodb":
        if operation in ("TransactWriteItems", "TransactGetItems"):
            out: list[tuple[str, str | None, str]] = []
            for item in params.get("TransactItems", []):
                [(kind, body)] = item.items()
                out.append((f"dynamodb:{_TRANSACT[kind]}", body.get("TableName"), ""))
            return out
        if operation in ("BatchGetItem", "BatchWriteItem"):
            return [(f"dynamodb:{operation}", t, "") for t in params.get("RequestItems", {})]
        index = params.get("IndexName")
        return [
            (f"dynamodb:{operation}", params.get("TableName"), f"index/{index}" if index else "")
        ]
    if service == "sqs":
        action = _SQS_BATCH.get(operation, operation)
        return [(f"sqs:{action}", params.get("QueueUrl"), "")]
    if service == "sesv2" and operation == "SendEmail":
        return [("ses:SendEmail", parseaddr(params.get("FromEmailAddress", ""))[1], "")]
    if service == "secretsmanager":
        return [(f"secretsmanager:{operation}", params.get("SecretId"), "")]
    return [(f"{service}:{operation}", None, "")]


# -- pytest hooks ----------------------------------------------------------------------------

_RECORDER = Recorder()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        CHECK_OPTION,
        action="store_true",
        help="run only the checks of the AWS calls the previous full run recorded",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{CHECK_MARK}: reads the AWS calls the whole suite recorded (pytest {CHECK_OPTION})",
    )
    if config.getoption(CHECK_OPTION):
        return
    if not hasattr(config, "workerinput"):  # the controller (or the only process)
        shutil.rmtree(records_dir(), ignore_errors=True)
    _RECORDER.install()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    checking = bool(config.getoption(CHECK_OPTION))
    keep = [i for i in items if (i.get_closest_marker(CHECK_MARK) is not None) == checking]
    dropped = [i for i in items if i not in keep]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def pytest_sessionfinish(session: pytest.Session) -> None:
    if session.config.getoption(CHECK_OPTION):
        return
    _RECORDER.uninstall()
    worker = getattr(session.config, "workerinput", {}).get("workerid", "main")
    _RECORDER.write(records_dir() / f"{worker}-{os.getpid()}.jsonl")
