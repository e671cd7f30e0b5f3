"""The deployment zip: small, nothing dev-only, nothing the Lambda runtime already has, and it
starts (or refuses to, naming what is missing) with only what Lambda's Python would give it."""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.deploy.cloudformation import STAGES, Templates, functions, packaged

#: The Lambda Python runtime's own packages (the zip must not bring its own copies).
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")
#: With the bytecode of every module (about 3 MB zipped; ``make bench`` shows what it saves).
MAX_ZIP_BYTES = 12 * 1000 * 1000
#: Sources shipped that are not Python 3.11 (templates named .py): nothing to compile.
UNCOMPILABLE: tuple[str, ...] = ()


def pyc_of(module: str) -> str:
    folder, _, name = module.rpartition("/")
    return f"{folder + '/' if folder else ''}__pycache__/{name[:-3]}.cpython-311.pyc"


def zip_names(stage: str) -> list[str]:
    with zipfile.ZipFile(packaged(stage) / "deployment.zip") as z:
        return z.namelist()


@pytest.mark.parametrize("stage", STAGES)
def test_the_zip_is_small_and_ships_no_dev_code_nor_the_runtime_sdk(stage: str) -> None:
    path = packaged(stage) / "deployment.zip"
    assert path.stat().st_size <= MAX_ZIP_BYTES
    names = zip_names(stage)
    top = {name.split("/")[0].removesuffix(".py") for name in names}
    assert {"app", "chalice", "chalicelib", "pynamodb", "pydantic", "aws_lambda_powertools"} <= top
    assert not top & set(RUNTIME_PACKAGES)
    assert not [n for n in names if n.startswith("chalicelib/local/")]
    assert not [n for n in names if n.startswith(("tests/", "scripts/", "infra/", ".chalice/"))]
    assert not [n for n in names if n.split("/")[1:2] == ["tests"]]  # packages' own suites
    # Every module ships its bytecode, compiled for Lambda's Python (the task directory is
    # read-only: without it each cold start compiles every module it imports).
    modules = {n for n in names if n.endswith(".py")}
    compiled = {n for n in names if n.endswith(".pyc")}
    assert all("/__pycache__/" in f"/{n}" and ".cpython-311." in n for n in compiled)
    assert {pyc_of(n) for n in modules} - compiled <= set(UNCOMPILABLE)
    assert not [n for n in names if n.split("/")[-1].startswith(".")]  # no build markers
    # Only the offline stack's code is left out.
    shipped = {n for n in names if n.startswith("chalicelib/") and not n.endswith(".pyc")}
    project = Path(__file__).resolve().parents[2]
    sources = {
        p.relative_to(project).as_posix()
        for p in (project / "chalicelib").rglob("*.py")
        if "local" not in p.relative_to(project / "chalicelib").parts
    }
    assert shipped == sources


def test_the_docs_page_ships_only_the_assets_it_serves() -> None:
    """Swagger UI's package brings every build of it with source maps; only what the docs
    routes read is zipped, and every one of those is (the page works from the zip)."""
    # The docs routes only: importing the whole app here would fix its event sources' queue
    # names to whatever this process's environment says before a test sets it.
    import chalicelib.api.meta  # noqa: F401 - declares the docs routes
    from chalicelib.api.framework import ROUTES

    served = {spec.path.removeprefix("/docs/") for spec in ROUTES if spec.path.startswith("/docs/")}
    served.discard("swagger-initializer.js")  # written by the app itself
    names = zip_names("prod")
    assets = {n.rsplit("/", 1)[-1] for n in names if n.startswith("swagger_ui_bundle/vendor/")}
    assert assets == served
    assert not [n for n in names if n.startswith(("jinja2/", "markupsafe/"))]


def _runtime_dir(tmp_path: Path) -> Path:
    """A directory with only the packages Lambda's Python runtime provides (from the venv)."""
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    for name in RUNTIME_PACKAGES:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin is not None, name
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        (runtime / source.name).symlink_to(source)
    return runtime


HANDLE = """
import importlib, json, sys
import app

class Context:
    function_name = "tutorbook-APIHandler"
    memory_limit_in_mb = 1024
    aws_request_id = "r-1"
    invoked_function_arn = "arn:aws:lambda:us-east-1:ACCOUNT:function:tutorbook-APIHandler"
    def get_remaining_time_in_millis(self):
        return 10000

event = {
    "resource": "/health", "path": "/health", "httpMethod": "GET",
    "headers": {"Origin": "https://app.tutorbook.example"}, "multiValueHeaders": {},
    "queryStringParameters": None, "multiValueQueryStringParameters": None,
    "pathParameters": None, "stageVariables": None, "body": None, "isBase64Encoded": False,
    "requestContext": {"resourcePath": "/health", "httpMethod": "GET", "path": "/prod/health",
                       "requestId": "r-1", "stage": "prod", "identity": {"sourceIp": "1.2.3.4"}},
}
answer = app.app(event, Context())
for handler in sys.argv[1:]:
    module, name = handler.rsplit(".", 1)
    assert callable(getattr(importlib.import_module(module), name)), handler
print(json.dumps({"status": answer["statusCode"], "headers": answer["headers"],
                  "body": answer["body"], "botocore": sys.modules["botocore"].__file__}))
"""


def _cold_start(
    tmp_path: Path, environment: dict[str, str], handlers: list[str]
) -> subprocess.CompletedProcess[str]:
    code = tmp_path / "code"
    if not code.exists():
        with zipfile.ZipFile(packaged("prod") / "deployment.zip") as z:
            z.extractall(code)
    runtime = tmp_path / "runtime" if (tmp_path / "runtime").exists() else _runtime_dir(tmp_path)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": f"{code}{os.pathsep}{runtime}",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_METRICS_DISABLED": "true",
        **environment,
    }
    # -S: no site-packages, so only the zip and the runtime's own packages are importable.
    return subprocess.run(
        [sys.executable, "-S", "-c", HANDLE, *handlers],
        env=env,
        capture_output=True,
        text=True,
        cwd=code,
        check=False,
    )


DEPLOYED = {
    "STAGE": "prod",
    "MAIN_TABLE": "tutorbook-prod-MainTable",
    "AUDIT_TABLE": "tutorbook-prod-AuditTable",
    "IDEMPOTENCY_TABLE": "tutorbook-prod-IdempotencyTable",
    "NOTIFICATIONS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/ACCOUNT/notifications",
    "ESCALATION_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/ACCOUNT/escalation",
    "EXPIRY_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/ACCOUNT/expiry",
    "REMINDER_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/ACCOUNT/reminder",
    "JWT_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:ACCOUNT:secret:tutorbook/prod/jwt",
    "EMAIL_SENDER": "no-reply@tutorbook.example",
    "APP_URL": "https://app.tutorbook.example",
    "CORS_ALLOW_ORIGINS": "https://app.tutorbook.example,https://admin.tutorbook.example",
}


@pytest.mark.skipif(
    (platform.system(), platform.machine()) != ("Linux", "x86_64")
    or sys.version_info[:2] != (3, 11),
    reason="runs the zip's Linux x86_64 / CPython 3.11 binaries",
)
def test_the_zip_cold_starts_with_only_the_runtime_and_refuses_a_missing_name(
    tmp_path: Path, expanded: Templates
) -> None:
    handlers = [
        expanded["prod"]["Resources"][function]["Properties"]["Handler"]
        for function in functions(expanded["prod"]).values()
    ]
    started = _cold_start(tmp_path, DEPLOYED, handlers)
    assert started.returncode == 0, started.stderr
    answer = json.loads(started.stdout.strip().splitlines()[-1])
    # It serves: /health answers, and says the database (not reachable from here) is down.
    assert answer["status"] == 503
    assert json.loads(answer["body"]) == {
        "status": "degraded",
        "checks": {"dynamodb": "unavailable"},
    }
    assert answer["headers"]["Access-Control-Allow-Origin"] == "https://app.tutorbook.example"
    assert answer["botocore"].startswith(str(tmp_path / "runtime"))  # the runtime's SDK

    missing = {k: v for k, v in DEPLOYED.items() if k != "MAIN_TABLE"}
    refused = _cold_start(tmp_path, missing, handlers)
    assert refused.returncode != 0
    assert "cannot start without MAIN_TABLE" in refused.stderr
