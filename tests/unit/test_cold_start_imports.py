"""What a Lambda function's cold start loads. Every function's handler lives in ``app.py`` (the
API and each event function), so each imports the whole app: none may load, at import, what
only a request, a token, a password or a batch needs. ``make bench`` times the import; this
test pins what it is made of (deterministic: module names, no timings)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]

#: Loaded by the first use that needs them, never by ``import app`` (and why).
NOT_AT_IMPORT = {
    "jwt": "the first token use (chalicelib.auth.tokens)",
    "cryptography": "never: tokens are HS256 and PyJWT is loaded without it",
    "argon2": "the first password hashed or checked",
    "pynamodb": "the first repository (chalicelib.db.store hands them out)",
    "chalicelib.db.base": "the first repository",
    "chalicelib.db.catalog": "the first catalog request",
    "chalicelib.db.bookings": "the first booking request",
    "chalicelib.db.users": "the first access read",
    "chalicelib.db.changes": "the first stream batch",
    "chalicelib.events.processors": "the first batch",
    "aws_lambda_powertools.utilities.batch": "the first batch",
    "aws_lambda_powertools.utilities.idempotency": "the first email sent",
    "aws_lambda_powertools.utilities.parameters": "the first Secrets Manager read",
    "pydantic_settings": "never: settings are a plain pydantic model",
    "chalicelib.api.openapi": "the first GET /openapi.json",
    "icalendar": "the first invite attached or calendar feed served",
}

_PROBE = """
import json, sys
import app
loaded = sorted(sys.modules)
from datetime import UTC, datetime
from chalicelib.auth import tokens
from chalicelib.models.users import Role
token = tokens.issue_access("u1", "t1", Role.admin, datetime.now(UTC))
assert tokens.verify_access(token).user_id == "u1"
print(json.dumps({"import": loaded, "after_token": sorted(sys.modules)}))
"""


def _probe() -> dict[str, list[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update({"STAGE": "test", "JWT_SECRET": "cold-start-" + "x" * 40})
    out = subprocess.run(
        [sys.executable, "-c", _PROBE],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _loaded(modules: list[str], name: str) -> bool:
    return any(m == name or m.startswith(name + ".") for m in modules)


def test_importing_the_app_loads_only_what_every_invocation_needs() -> None:
    found = _probe()
    eager = {n: why for n, why in NOT_AT_IMPORT.items() if _loaded(found["import"], n)}
    assert eager == {}, "loaded by `import app` although only needed on first use"
    # Tokens work without cryptography ever being loaded.
    assert _loaded(found["after_token"], "jwt")
    assert not _loaded(found["after_token"], "cryptography")


def test_the_app_issues_no_scan() -> None:
    """Every access pattern is a key read or a Query: no code of the app can send a Scan."""
    offenders = []
    for path in sorted((PROJECT / "chalicelib").rglob("*.py")):
        if "local" in path.relative_to(PROJECT).parts:
            continue  # the offline stack's own tooling, never deployed
        text = path.read_text()
        for needle in (".scan(", ".parallel_scan(", '"Scan"', "'Scan'"):
            if needle in text:
                offenders.append(f"{path.relative_to(PROJECT)}: {needle}")
    assert offenders == []
