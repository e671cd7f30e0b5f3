"""Deploy a stage to AWS, or roll it back (``make deploy`` / ``make rollback``).

    python scripts/deploy.py deploy <stage> [--dry-run] [--bucket B] [--parameter Key=Value]...
    python scripts/deploy.py rollback <stage> [--dry-run]

``deploy`` packages the stage (``scripts/package.py``), uploads the zip with
``aws cloudformation package`` to ``--bucket`` (or ``$DEPLOY_BUCKET``) and creates or updates the
stack ``tutorbook-<stage>`` with ``aws cloudformation deploy``. CodeDeploy then shifts each
function's ``live`` alias to the new version as the stage's rollout says (all at once on dev, a
10 % canary on staging and prod) and rolls back by itself if an alarm fires meanwhile.
The one parameter without a default, ``JwtSecretArn``, comes from ``--parameter``, from
``$JWT_SECRET_ARN``, or is looked up by the secret's name, ``tutorbook/<stage>/jwt``.

``rollback`` stops the stage's deployments in progress with rollback; when none is in progress
it points each function's ``live`` alias back at its previous version.

``--dry-run`` prints every command it would run and runs none (no AWS access needed).
Uses the AWS CLI (v2) and your credentials, profile and region, as they are.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[1]
SECRET_NAME = "tutorbook/{stage}/jwt"


class Runner:
    """Runs AWS CLI commands, or only prints them (dry run)."""

    def __init__(self, dry_run: bool) -> None:
        self.dry_run = dry_run
        if not dry_run and shutil.which("aws") is None:
            raise SystemExit("the AWS CLI (aws) is not on PATH; see README, Deploying")

    def __call__(self, command: list[str], *, placeholder: str | None = None) -> str:
        """Run ``command``; with a ``placeholder`` (what a dry run answers) its output is
        returned, without one it goes to the terminal (deploys print their progress)."""
        print(("would run: $ " if self.dry_run else "$ ") + shlex.join(command), flush=True)
        if self.dry_run:
            return placeholder or ""
        # The AWS CLI with arguments this script builds; no shell.
        capture = subprocess.PIPE if placeholder is not None else None
        done = subprocess.run(command, check=True, stdout=capture, text=True)  # noqa: S603
        return (done.stdout or "").strip()


def stack_name(stage: str) -> str:
    return f"tutorbook-{stage}"


def _parameters(stage: str, given: list[str], run: Runner) -> dict[str, str]:
    parameters = dict(item.split("=", 1) for item in given)
    if "JwtSecretArn" not in parameters:
        if os.environ.get("JWT_SECRET_ARN"):
            parameters["JwtSecretArn"] = os.environ["JWT_SECRET_ARN"]
        else:
            name = SECRET_NAME.format(stage=stage)
            parameters["JwtSecretArn"] = run(
                [
                    "aws",
                    "secretsmanager",
                    "describe-secret",
                    "--secret-id",
                    name,
                    "--query",
                    "ARN",
                    "--output",
                    "text",
                ],
                placeholder=f"<ARN of the secret {name}>",
            )
    return parameters


def deploy(stage: str, *, dry_run: bool, bucket: str | None, given: list[str]) -> None:
    sys.path.insert(0, str(PROJECT))
    from scripts.package import package

    out = package(stage)
    run = Runner(dry_run)
    bucket = bucket or os.environ.get("DEPLOY_BUCKET")
    if not bucket:
        if not dry_run:
            raise SystemExit("name the S3 bucket for the code: --bucket or DEPLOY_BUCKET")
        bucket = "<DEPLOY_BUCKET>"
    parameters = _parameters(stage, given, run)
    packaged = out / "packaged.json"
    run(
        [
            "aws",
            "cloudformation",
            "package",
            "--template-file",
            str(out / "template.json"),
            "--s3-bucket",
            bucket,
            "--s3-prefix",
            stack_name(stage),
            "--use-json",
            "--output-template-file",
            str(packaged),
        ]
    )
    run(
        [
            "aws",
            "cloudformation",
            "deploy",
            "--template-file",
            str(packaged),
            "--stack-name",
            stack_name(stage),
            "--capabilities",
            "CAPABILITY_IAM",
            "CAPABILITY_AUTO_EXPAND",
            "--parameter-overrides",
            *(f"{k}={v}" for k, v in sorted(parameters.items())),
            "--tags",
            "app=tutorbook",
            f"stage={stage}",
            "--no-fail-on-empty-changeset",
        ]
    )
    run(
        [
            "aws",
            "cloudformation",
            "describe-stacks",
            "--stack-name",
            stack_name(stage),
            "--query",
            "Stacks[0].Outputs",
            "--output",
            "table",
        ]
    )


def _physical_id(run: Runner, stage: str, logical_id: str) -> str:
    return run(
        [
            "aws",
            "cloudformation",
            "describe-stack-resource",
            "--stack-name",
            stack_name(stage),
            "--logical-resource-id",
            logical_id,
            "--query",
            "StackResourceDetail.PhysicalResourceId",
            "--output",
            "text",
        ],
        placeholder=f"<{logical_id}>",
    )


def _functions(stage: str) -> list[str]:
    template = json.loads((PROJECT / "dist" / stage / "template.json").read_text())
    return sorted(
        k for k, v in template["Resources"].items() if v["Type"] == "AWS::Serverless::Function"
    )


def rollback(stage: str, *, dry_run: bool) -> None:
    sys.path.insert(0, str(PROJECT))
    from scripts.package import package

    package(stage)
    run = Runner(dry_run)
    application = _physical_id(run, stage, "ServerlessDeploymentApplication")
    listed = run(
        [
            "aws",
            "deploy",
            "list-deployments",
            "--application-name",
            application,
            "--include-only-statuses",
            "Created",
            "Queued",
            "InProgress",
            "Ready",
            "--query",
            "deployments",
            "--output",
            "json",
        ],
        placeholder='["<deployment in progress>"]',
    )
    in_progress: list[Any] = json.loads(listed or "[]")
    for deployment in in_progress:
        run(
            [
                "aws",
                "deploy",
                "stop-deployment",
                "--deployment-id",
                deployment,
                "--auto-rollback-enabled",
            ]
        )
    if in_progress and not dry_run:
        return
    if dry_run:
        print("when none is in progress, for each function:")
    for logical_id in _functions(stage):
        function = _physical_id(run, stage, logical_id)
        current = run(
            [
                "aws",
                "lambda",
                "get-alias",
                "--function-name",
                function,
                "--name",
                "live",
                "--query",
                "FunctionVersion",
                "--output",
                "text",
            ],
            placeholder="<live version>",
        )
        versions = run(
            [
                "aws",
                "lambda",
                "list-versions-by-function",
                "--function-name",
                function,
                "--query",
                "Versions[].Version",
                "--output",
                "json",
            ],
            placeholder="[]",
        )
        older = [
            int(v)
            for v in json.loads(versions)
            if v.isdigit() and current.isdigit() and int(v) < int(current)
        ]
        previous = str(max(older)) if older else "<previous version>"
        if older or dry_run:
            run(
                [
                    "aws",
                    "lambda",
                    "update-alias",
                    "--function-name",
                    function,
                    "--name",
                    "live",
                    "--function-version",
                    previous,
                ]
            )
        else:
            print(f"{logical_id}: no version before {current}; left as it is")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("deploy", "rollback"))
    parser.add_argument("stage", choices=("local", "dev", "staging", "prod"))
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run none")
    parser.add_argument("--bucket", help="S3 bucket for the code (default: $DEPLOY_BUCKET)")
    parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a stack parameter (e.g. AppUrl=https://app.example.com); repeatable",
    )
    args = parser.parse_args(argv)
    if args.action == "deploy":
        deploy(args.stage, dry_run=args.dry_run, bucket=args.bucket, given=args.parameter)
    else:
        rollback(args.stage, dry_run=args.dry_run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
