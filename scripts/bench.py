"""``make bench``: the performance budget, each figure measured against its reference in one run.

1. **Cold start**: the time to import each Lambda function's entry (every function's handler
   lives in ``app.py``, so each imports ``app``) from the packaged zip, with the Lambda runtime's
   SDK (boto3, botocore and what they need) beside it and nothing else, divided by the *floor*:
   importing chalice and boto3 and creating one DynamoDB client, the least any Chalice +
   DynamoDB function does. Fresh interpreters, interleaved (``--runs`` rounds, median), with the
   zip's precompiled bytecode and without it (Lambda's task directory is read-only, so a zip
   without ``.pyc`` compiles every module on every cold start). Also the API's first request
   (token, PynamoDB, its client) against the floor's first request, to a database that refuses
   the connection, so that what moved out of the import is still counted.
2. **Per-request overhead**: read and write routes through the app's Lambda handler against the
   emulator over HTTP (moto's server), divided by the same DynamoDB requests (recorded from the
   app's own, replayed) made with a raw boto3 client against the same server, interleaved.
3. **DynamoDB requests and consumed capacity per route**: every route, through the
   authorization matrix's requests (``tests/security``), counted by the suite's request counter
   (``tests/support/counting.py``), split into authentication (the caller's current role) and
   the handler.
4. **Scaling**: the escalation finder and consumer at 100 and 5,000 bookings (requests, items
   read), from the suite's scaling test.
5. **Package size** per stage (``scripts/package.py``).

Timings are printed, never asserted (the deterministic budgets are tests). Run it on a quiet
machine; the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import importlib.util
import json
import logging
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from scripts import package  # noqa: E402 - the project root is on the path first

BENCH = PROJECT / "build" / "bench"
TARGET_API = 1.3
TARGET_EVENTS = 1.2
TARGET_REQUEST = 1.3
OFFLINE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "STAGE": "test",
    "JWT_SECRET": "bench-secret-" + "x" * 40,
    "POWERTOOLS_LOG_LEVEL": "ERROR",
    "POWERTOOLS_METRICS_DISABLED": "true",
}


def say(text: str = "") -> None:
    print(text, flush=True)


def table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    say(line)
    say("  ".join("-" * w for w in widths))
    for row in rows:
        say("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
    say()


# -- 1. cold start -------------------------------------------------------------------------------


def lambda_tree(stage: str) -> tuple[Path, Path, Path, int]:
    """The zip unpacked twice (without and with ``.pyc``) and the runtime's SDK directory."""
    zip_path = package.package(stage) / "deployment.zip"
    shutil.rmtree(BENCH, ignore_errors=True)
    plain, compiled, runtime = BENCH / "task", BENCH / "task-pyc", BENCH / "runtime"
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(plain)
        shipped_pyc = sum(1 for n in z.namelist() if n.endswith(".pyc"))
    shutil.copytree(plain, compiled)
    for cache in list(plain.rglob("__pycache__")):
        shutil.rmtree(cache)
    compileall.compile_dir(
        compiled,
        quiet=1,
        invalidation_mode=package.PYC_INVALIDATION,
        workers=1,
    )
    runtime.mkdir(parents=True)
    for name in package.RUNTIME_PROVIDED:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        (runtime / source.name).symlink_to(source, target_is_directory=source.is_dir())
    return plain, compiled, runtime, shipped_pyc


_CHILD = """
import sys, time
sys.path[:0] = [{task!r}, {runtime!r}]
started = time.perf_counter()
{body}
print(time.perf_counter() - started)
"""

FLOOR = 'import chalice, boto3\nboto3.client("dynamodb", region_name="us-east-1")'
ENTRY = "import app"
#: One request to a database that refuses connections: what the first request loads and builds.
FLOOR_REQUEST = FLOOR.replace("boto3.client(", "c = boto3.client(") + (
    "\ntry:\n    c.get_item(TableName='t', Key={'pk': {'S': 'x'}})\nexcept Exception:\n    pass"
)
ENTRY_REQUEST = "import app\nresponse = app.app(EVENT, None)\nassert response['statusCode'] == 503"


def api_event(token: str) -> dict[str, Any]:
    path = "/courses/{course_id}"
    return {
        "resource": path,
        "path": "/courses/01BENCHCOURSE",
        "httpMethod": "GET",
        "headers": {"Authorization": f"Bearer {token}", "Host": "bench"},
        "multiValueHeaders": None,
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"course_id": "01BENCHCOURSE"},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": "GET",
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": None,
        "isBase64Encoded": False,
    }


def bench_token() -> str:
    os.environ.update(OFFLINE_ENV)
    from chalicelib.auth.tokens import issue_access
    from chalicelib.config import reset_settings
    from chalicelib.models.users import Role

    reset_settings()
    from datetime import UTC, datetime

    return issue_access("01BENCHUSER", "01BENCHTENANT", Role.admin, datetime.now(UTC))


def child_env(refused_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "AWS_"))}
    env.update(OFFLINE_ENV)
    env.update(
        {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{refused_port}",
            "DYNAMODB_MAX_RETRY_ATTEMPTS": "0",
            "AWS_MAX_ATTEMPTS": "1",
        }
    )
    return env


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def time_child(task: Path, runtime: Path, body: str, env: dict[str, str]) -> float:
    code = _CHILD.format(task=str(task), runtime=str(runtime), body=body)
    out = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-I", "-S", "-B", "-c", code],
        env=env,
        cwd=str(BENCH),
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"cold-start child failed:\n{out.stderr[-3000:]}")
    return float(out.stdout.strip().splitlines()[-1])


def cold_start(stage: str, runs: int) -> list[list[str]]:
    plain, compiled, runtime, shipped_pyc = lambda_tree(stage)
    event = json.dumps(api_event(bench_token()))
    env = child_env(closed_port())
    request_body = f"import json\nEVENT = json.loads({event!r})\n" + ENTRY_REQUEST
    cases: dict[str, tuple[Path, str]] = {}
    for label, tree in (("no .pyc", plain), (".pyc", compiled)):
        cases[f"floor|{label}"] = (tree, FLOOR)
        cases[f"import app|{label}"] = (tree, ENTRY)
        cases[f"floor + 1st request|{label}"] = (tree, FLOOR_REQUEST)
        cases[f"API init + 1st request|{label}"] = (tree, request_body)
    times: dict[str, list[float]] = {k: [] for k in cases}
    names = list(cases)
    for n in range(runs):
        order = names[n % len(names) :] + names[: n % len(names)]  # rotate: no fixed position
        for name in order:
            tree, body = cases[name]
            times[name].append(time_child(tree, runtime, body, env))
    med = {k: statistics.median(v) for k, v in times.items()}
    rows = []
    functions = handler_names(stage)
    for label in ("no .pyc", ".pyc"):
        floor, floor_req = med[f"floor|{label}"], med[f"floor + 1st request|{label}"]
        app_ratio = med[f"import app|{label}"] / floor
        for fn in functions:
            target = TARGET_API if fn == package.API_FUNCTION else TARGET_EVENTS
            rows.append(
                [
                    f"cold start: {fn} (import app)",
                    label,
                    f"{med[f'import app|{label}'] * 1000:.0f} ms / {floor * 1000:.0f} ms",
                    f"{app_ratio:.2f}x",
                    f"<= {target}x {'met' if app_ratio <= target else 'NOT met'}",
                ]
            )
        first = med[f"API init + 1st request|{label}"] / floor_req
        rows.append(
            [
                "cold start: APIHandler init + 1st request",
                label,
                f"{med[f'API init + 1st request|{label}'] * 1000:.0f} ms"
                f" / {floor_req * 1000:.0f} ms",
                f"{first:.2f}x",
                "(informative)",
            ]
        )
    pyc_gain = med["import app|no .pyc"] / med["import app|.pyc"]
    rows.append(
        [
            "import app: no .pyc / .pyc",
            "",
            f"{med['import app|no .pyc'] * 1000:.0f} ms / {med['import app|.pyc'] * 1000:.0f} ms",
            f"{pyc_gain:.2f}x",
            f"the zip ships {shipped_pyc} .pyc files",
        ]
    )
    return rows


def handler_names(stage: str) -> list[str]:
    template = json.loads((package.DIST / stage / "template.json").read_text())
    return sorted(
        name
        for name, resource in template["Resources"].items()
        if resource.get("Type") == "AWS::Serverless::Function"
    )


# -- 2. per-request overhead ---------------------------------------------------------------------


def request_overhead(runs: int) -> list[list[str]]:
    from botocore.exceptions import ClientError
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs every request
    port = closed_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        os.environ.update(OFFLINE_ENV)
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        from chalicelib.local.resources import create_resources

        os.environ.update(create_resources(stage="test", endpoint_url=endpoint))
        from tests.support.emulator import reset_app_caches

        reset_app_caches()
        import boto3
        import botocore.client
        from botocore import xform_name
        from chalice.test import Client

        from app import app

        raw = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=endpoint)
        recorded: list[tuple[str, dict[str, Any]]] = []
        original = botocore.client.BaseClient._make_api_call

        def recording(self: Any, operation: str, params: Any) -> Any:
            if self.meta.service_model.service_name == "dynamodb" and self is not raw:
                recorded.append((operation, dict(params)))
            return original(self, operation, params)

        botocore.client.BaseClient._make_api_call = recording  # type: ignore[method-assign]

        with Client(app, stage_name="local") as client:
            token, course = _seed(client)
            auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            tag = client.http.get(f"/courses/{course}", headers=auth).headers["ETag"]
            flip = iter(range(10**9))
            routes: dict[str, Callable[[], Any]] = {
                "GET /courses/{id} (200)": lambda: client.http.get(
                    f"/courses/{course}", headers=auth
                ),
                "GET /courses/{id} (304)": lambda: client.http.get(
                    f"/courses/{course}", headers={**auth, "If-None-Match": tag}
                ),
                "GET /users/me": lambda: client.http.get("/users/me", headers=auth),
                "PATCH /courses/{id}": lambda: client.http.patch(
                    f"/courses/{course}",
                    headers=auth,
                    body=json.dumps({"description": f"v{next(flip)}"}),
                ),
            }
            rows = []
            for name, call in routes.items():
                call()  # warm: the access cache and the clients, as a warm container has them
                app_times, raw_times, ops = [], [], []
                for _ in range(runs):
                    recorded.clear()
                    started = time.perf_counter()
                    response = call()
                    app_times.append(time.perf_counter() - started)
                    assert response.status_code < 400, (name, response.body)
                    calls = list(recorded)
                    ops = [op for op, _ in calls]
                    started = time.perf_counter()
                    for op, params in calls:
                        # a replayed conditional write may be refused: the same round trip
                        with contextlib.suppress(ClientError):
                            getattr(raw, xform_name(op))(**params)
                    raw_times.append(time.perf_counter() - started)
                a, r = statistics.median(app_times), statistics.median(raw_times)
                rows.append(
                    [
                        f"per request: {name}",
                        "+".join(ops),
                        f"{a * 1000:.1f} ms / {r * 1000:.1f} ms",
                        f"{a / r:.2f}x",
                        f"<= {TARGET_REQUEST}x {'met' if a / r <= TARGET_REQUEST else 'NOT met'}",
                    ]
                )
        botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]
        return rows
    finally:
        server.stop()


def _seed(client: Any) -> tuple[str, str]:
    password = "bench-password-123"
    signup = client.http.post(
        "/tenants",
        headers={"Content-Type": "application/json"},
        body=json.dumps(
            {
                "name": "Bench",
                "slug": "bench",
                "admin": {"email": "admin@bench.example", "name": "Admin", "password": password},
            }
        ),
    )
    assert signup.status_code == 201, signup.body
    login = client.http.post(
        "/auth/login",
        headers={"Content-Type": "application/json"},
        body=json.dumps({"tenant": "bench", "email": "admin@bench.example", "password": password}),
    )
    token = json.loads(login.body)["access_token"]
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def post(path: str, body: dict[str, Any]) -> str:
        r = client.http.post(path, headers=auth, body=json.dumps(body))
        assert r.status_code == 201, r.body
        return str(json.loads(r.body)["id"])

    course = post("/courses", {"title": "Bench course", "published": True})
    for m in range(3):
        module = post(f"/courses/{course}/modules", {"title": f"Module {m}"})
        for n in range(5):
            post(
                f"/courses/{course}/modules/{module}/lessons",
                {"title": f"Lesson {n}", "content": "x" * 2000},
            )
    return token, course


# -- 3 + 4. per route, scaling: the suite's own counters ---------------------------------------


def suite_figures() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "figures.json"
        env = {**os.environ, "BENCH_FIGURES": str(out)}
        env.pop("AWS_ENDPOINT_URL", None)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "--no-cov",
                "-p",
                "no:cacheprovider",
                "-n0",
                "-p",
                "scripts.bench_pytest",
                "tests/security/test_authorization_matrix.py",
                "tests/integration/test_escalation.py::test_escalation_requests_stay_flat_as_bookings_grow",
            ],
            cwd=PROJECT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        return dict(json.loads(out.read_text()))


def per_route(figures: dict[str, Any]) -> list[list[str]]:
    rows = []
    for route, cells in sorted(figures["routes"].items(), key=lambda kv: kv[0].split()[::-1]):
        ok = [c for c in cells if 200 <= c["status"] < 400] or cells
        typical = Counter(tuple(c["handler"]) for c in ok).most_common(1)[0][0]
        auth = Counter(tuple(c["authentication"]) for c in ok).most_common(1)[0][0]
        capacity = statistics.median(c["capacity"] for c in ok)
        items = statistics.median(c["items_read"] for c in ok)
        rows.append(
            [
                route,
                str(len(typical)),
                "+".join(typical) or "-",
                "+".join(auth) or "-",
                f"{capacity:g}",
                f"{items:g}",
                str(len(ok)),
            ]
        )
    return rows


# -- 5. package size ------------------------------------------------------------------------------


def package_sizes() -> list[list[str]]:
    rows = []
    for stage in package.STAGES:
        zip_path = package.package(stage) / "deployment.zip"
        with zipfile.ZipFile(zip_path) as z:
            infos = z.infolist()
        unpacked = sum(i.file_size for i in infos)
        pyc = sum(i.compress_size for i in infos if i.filename.endswith(".pyc"))
        rows.append(
            [
                stage,
                f"{zip_path.stat().st_size / 1e6:.2f} MB",
                f"{unpacked / 1e6:.1f} MB",
                f"{pyc / 1e6:.2f} MB",
                str(len(infos)),
            ]
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11, help="fresh interpreters per entry")
    parser.add_argument("--requests", type=int, default=30, help="requests per route timed")
    parser.add_argument("--stage", default="dev", help="the stage whose zip is measured")
    args = parser.parse_args(argv)
    os.environ.update({k: v for k, v in OFFLINE_ENV.items() if k.startswith("AWS_")})
    say(
        f"machine: {platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"load average at start {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    say()
    say(
        f"== cold start (median of {args.runs} interleaved fresh interpreters, zip of {args.stage})"
    )
    table(
        ["figure", "bytecode", "measured / reference", "ratio", "target"],
        cold_start(args.stage, args.runs),
    )
    say("== DynamoDB requests per route (authorization matrix, 2xx/3xx answers; median)")
    figures = suite_figures()
    table(
        ["route", "requests", "handler", "authentication", "capacity units", "items read", "n"],
        per_route(figures),
    )
    scans = figures["scans"]
    say(f"Scans during the run: {scans}")
    say()
    say("== scaling (requests and items read per invocation)")
    scaling = figures.get("scaling") or {}
    rows = [
        [name, *(f"{v['requests']} requests, {v['items_read']} items" for v in sizes.values())]
        for name, sizes in scaling.items()
    ]
    rows.append(["reminder finder", "not on this branch", ""])
    rows.append(["free-slot finder", "not on this branch", ""])
    table(["function", "100 bookings", "5,000 bookings"], rows)
    say(f"== per-request overhead (median of {args.requests}, app handler vs raw boto3 replay)")
    table(
        ["figure", "DynamoDB requests", "app / raw boto3", "ratio", "target"],
        request_overhead(args.requests),
    )
    say("== package size per stage")
    table(["stage", "zip", "unpacked", ".pyc (zipped)", "files"], package_sizes())
    say(f"load average at end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
