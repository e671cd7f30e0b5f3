"""A real browser sees the docs: headless Chromium opens ``/docs`` on the local stack, Swagger UI
renders every operation of the document, and a screenshot is kept in
``test-output/docs/docs-page.png``.

Chromium may resolve no host but 127.0.0.1, so the page provably needs nothing from another
origin. ``make browser`` (part of ``make test``) installs Debian's ``chromium`` when it is
missing; without it this test is skipped locally and fails under CI.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import PROJECT_DIR, LocalStack

pytestmark = pytest.mark.e2e

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    # Every host name but the local stack's address fails to resolve: no CDN can be reached.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    # Run the page's timers and network until it settles (at most this many virtual ms).
    "--virtual-time-budget=20000",
    "--window-size=1280,1800",
    "--enable-logging=stderr",
    "--v=0",
)


def _chromium() -> str:
    found = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if found:
        return found
    message = "Debian's chromium is not installed: run `make browser` (as root)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _open(url: str, profile: Path, *action: str) -> subprocess.CompletedProcess[str]:
    """Chromium with a fresh profile, doing ``action`` (--dump-dom, --screenshot=...) on url."""
    return subprocess.run(
        [_chromium(), *FLAGS, f"--user-data-dir={profile}", *action, url],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )


def test_a_browser_renders_every_operation_of_the_docs_page(
    local_stack: LocalStack, tmp_path: Path
) -> None:
    url = local_stack.url("/docs")
    document = requests.get(local_stack.url("/openapi.json"), timeout=30).json()
    expected = {
        f"operations-{op['tags'][0]}-{op['operationId']}"
        for ops in document["paths"].values()
        for op in ops.values()
    }

    page = _open(url, tmp_path / "profile-dom", "--dump-dom")
    dom = page.stdout
    rendered = set(re.findall(r'id="(operations-(?!tag-)[^"]+)"', dom))
    assert rendered == expected, f"missing: {expected - rendered}, extra: {rendered - expected}"
    assert "tutorbook API" in dom
    assert "Failed to load API definition" not in dom
    assert "Refused to" not in page.stderr  # no Content-Security-Policy violation

    out = PROJECT_DIR / "test-output" / "docs"
    out.mkdir(parents=True, exist_ok=True)
    screenshot = out / "docs-page.png"
    screenshot.unlink(missing_ok=True)
    _open(url, tmp_path / "profile-shot", f"--screenshot={screenshot}")
    data = screenshot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 20_000
    print(f"\nscreenshot of /docs: {screenshot}")
