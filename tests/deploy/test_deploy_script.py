"""`make deploy` / `make rollback` with DRY_RUN=1: what would run is printed, nothing runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.deploy.cloudformation import PROJECT, packaged


def _dry_run(tmp_path: Path, *args: str) -> tuple[list[str], Path]:
    """Run scripts/deploy.py with an `aws` on PATH that records any call (and fails)."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "aws-calls"
    bin_dir.mkdir()
    fake = bin_dir / "aws"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {calls}\nexit 1\n')
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    env.pop("JWT_SECRET_ARN", None)
    env.pop("DEPLOY_BUCKET", None)
    done = subprocess.run(
        [sys.executable, "scripts/deploy.py", *args, "--dry-run"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [
        line for line in done.stdout.splitlines() if line.startswith("would run: $ aws ")
    ], calls


def test_a_dry_run_deploy_prints_package_upload_and_stack_update(tmp_path: Path) -> None:
    commands, calls = _dry_run(
        tmp_path, "deploy", "prod", "--bucket", "code-bucket", "--parameter", "AppUrl=https://x.io"
    )
    assert not calls.exists()  # nothing reached AWS
    lookup, upload, update, outputs = commands
    assert "secretsmanager describe-secret --secret-id tutorbook/prod/jwt" in lookup
    template = packaged("prod") / "template.json"
    assert f"cloudformation package --template-file {template} --s3-bucket code-bucket" in upload
    assert "cloudformation deploy" in update and "--stack-name tutorbook-prod" in update
    assert "CAPABILITY_IAM CAPABILITY_AUTO_EXPAND" in update
    assert "AppUrl=https://x.io" in update
    assert "'JwtSecretArn=<ARN of the secret tutorbook/prod/jwt>'" in update
    assert "describe-stacks --stack-name tutorbook-prod" in outputs


def test_a_dry_run_rollback_prints_how_each_alias_goes_back(tmp_path: Path) -> None:
    commands, calls = _dry_run(tmp_path, "rollback", "staging")
    assert not calls.exists()
    text = "\n".join(commands)
    assert "deploy stop-deployment --deployment-id" in text and "--auto-rollback-enabled" in text
    # One alias move per function of the stage.
    assert text.count("lambda update-alias") == 10
    assert "--name live --function-version" in text
