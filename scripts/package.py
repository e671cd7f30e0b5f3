"""Build ``dist/<stage>/``: the Lambda zip and the one CloudFormation (SAM) template to deploy.

``make package STAGE=<local|dev|staging|prod>`` (or ``python scripts/package.py all``):

1. Lambda's dependencies: ``requirements.txt`` installed for Lambda's platform (manylinux
   x86_64, CPython 3.11) into ``build/package/vendor-<hash>/``, once per requirements change;
   boto3, botocore and what only they need are left out (the Lambda runtime provides them).
2. A copy of the app without dev-only code (``chalicelib/local/``, caches) in
   ``build/package/app/``, whose ``vendor/`` is that directory, so chalice bundles it as is
   and only re-zips when the code or the dependencies change.
3. One merge template per stage: ``infra/resources.json`` + ``infra/deploy.json`` + the
   stage's part of ``infra/stages.json``, deep-merged the way chalice merges.
4. ``chalice package --stage <stage> --merge-template ...`` (with a region even when the shell
   has none: the template itself only uses ``${AWS::Region}``).
5. What chalice cannot express, applied to its output: API Gateway invokes the APIHandler's
   ``live`` alias (so API traffic follows the canary); every path answers a method it does not
   have with 405 in the error envelope; preflight answers the caller's origin only when the
   stage allows it.
6. Precompiled bytecode for every module in the zip (``__pycache__/*.cpython-311.pyc``,
   unchecked-hash): Lambda's task directory is read-only, so without it every cold start
   compiles every module it imports (``make bench`` measures the difference).

``dist/<stage>/template.json`` and ``dist/<stage>/deployment.zip`` are written, plus
``inputs.sha256``: packaging again with unchanged inputs does nothing.
"""

from __future__ import annotations

import argparse
import copy
import fcntl
import hashlib
import importlib.util
import json
import marshal
import os
import py_compile
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[1]
BUILD = PROJECT / "build" / "package"
DIST = PROJECT / "dist"
INFRA = PROJECT / "infra"
STAGES = ("local", "dev", "staging", "prod")
DEFAULT_REGION = "us-east-1"

LAMBDA_PYTHON = "3.11"
LAMBDA_PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_28_x86_64")
#: The Lambda Python runtime ships boto3 and botocore (with what they need); bundling them would
#: add ~16 MB and buy nothing the app uses (every API it calls predates the runtime's SDK), and
#: bundling only their dependencies would shadow the versions the runtime's SDK was built with.
RUNTIME_PROVIDED = (
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "dateutil",
    "python_dateutil",
    "urllib3",
    "six",
)
#: Swagger UI's package carries every build of it with source maps (~12 MB unpacked); the docs
#: routes (``chalicelib/api/meta.py``) read only these two files. Jinja2 (and MarkupSafe) come
#: with it for a template the app does not use.
SWAGGER_UI_SERVED = ("swagger-ui.css", "swagger-ui-bundle.js")
UNUSED_DEPENDENCIES = ("jinja2", "markupsafe")
#: Never shipped: the offline stack and caches.
DEV_ONLY = ("chalicelib/local",)

API_FUNCTION = "APIHandler"
API_ALIAS = "APIHandlerAliaslive"  # what SAM names the APIHandler's AutoPublishAlias "live"
EXPOSE_HEADERS = "'X-Correlation-Id,ETag,Retry-After'"
#: Lambda never rewrites the zip's files, so the bytecode need not be checked against them.
PYC_INVALIDATION = py_compile.PycInvalidationMode.UNCHECKED_HASH
TASK_ROOT = "/var/task"


def log(message: str) -> None:
    print(f"[package] {message}", flush=True)


# -- inputs and caching ----------------------------------------------------------------------


def app_files() -> list[Path]:
    """Every file of the app that ships (sorted): app.py and chalicelib/ minus dev-only code."""
    files = [PROJECT / "app.py"]
    for path in sorted((PROJECT / "chalicelib").rglob("*")):
        rel = path.relative_to(PROJECT).as_posix()
        if path.is_dir() or "__pycache__" in rel or path.suffix in (".pyc", ".pyo"):
            continue
        if any(rel == d or rel.startswith(d + "/") for d in DEV_ONLY):
            continue
        files.append(path)
    return files


def chalice_files() -> list[Path]:
    return sorted(p for p in (PROJECT / ".chalice").glob("*.json"))


def infra_files() -> list[Path]:
    return [INFRA / "resources.json", INFRA / "deploy.json", INFRA / "stages.json"]


def digest(paths: list[Path], extra: str = "") -> str:
    h = hashlib.sha256(extra.encode())
    for path in paths:
        h.update(path.relative_to(PROJECT).as_posix().encode() + b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()


def inputs_digest(stage: str) -> str:
    """Everything a stage's package is made of (and this script, which makes it)."""
    paths = [
        *app_files(),
        *chalice_files(),
        *infra_files(),
        PROJECT / "requirements.txt",
        Path(__file__),
    ]
    return digest(paths, extra=stage)


@contextmanager
def locked() -> Iterator[None]:
    """One packager at a time (parallel test workers may ask for the same stage)."""
    BUILD.mkdir(parents=True, exist_ok=True)
    with (BUILD / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# -- 1. dependencies ---------------------------------------------------------------------------


def vendor_dir() -> Path:
    """Lambda's dependencies, unpacked for its platform; built once per requirements change."""
    requirements = PROJECT / "requirements.txt"
    key = digest(
        [requirements],
        extra=f"{LAMBDA_PYTHON} {LAMBDA_PLATFORMS} {RUNTIME_PROVIDED} {SWAGGER_UI_SERVED} "
        f"{UNUSED_DEPENDENCIES}",
    )[:16]
    target = BUILD / f"vendor-{key}"
    complete = BUILD / f"vendor-{key}.complete"  # beside it: everything inside ships
    if complete.exists() and target.is_dir():
        return target
    for old in BUILD.glob("vendor-*"):
        shutil.rmtree(old) if old.is_dir() else old.unlink()
    partial = BUILD / f"partial-vendor-{key}"
    shutil.rmtree(partial, ignore_errors=True)
    started = time.monotonic()
    platforms = [arg for p in LAMBDA_PLATFORMS for arg in ("--platform", p)]
    subprocess.run(  # noqa: S603 - a fixed argv, no shell
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",
            "--target",
            str(partial),
            "--only-binary=:all:",
            "--implementation",
            "cp",
            "--python-version",
            LAMBDA_PYTHON,
            *platforms,
            "-r",
            str(requirements),
        ],
        check=True,
    )
    for entry in list(partial.iterdir()):
        name = entry.name.split("-")[0].removesuffix(".py").lower()
        if name in RUNTIME_PROVIDED or entry.name == "bin":
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    for cache in list(partial.rglob("__pycache__")):
        shutil.rmtree(cache)
    _prune(partial)
    partial.rename(target)
    complete.write_text("")
    log(f"dependencies for Lambda installed in {time.monotonic() - started:.1f}s: {target.name}")
    return target


def _prune(vendor: Path) -> None:
    """Drop what no code path of the app reads (see ``SWAGGER_UI_SERVED``)."""
    for entry in list(vendor.iterdir()):
        if entry.name.split("-")[0].lower() in UNUSED_DEPENDENCIES:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    for asset in (vendor / "swagger_ui_bundle" / "vendor").glob("*/*"):
        if asset.name not in SWAGGER_UI_SERVED:
            asset.unlink()
    # A package's own test suite (icalendar ships ~250 files of it) is never imported.
    for suite in vendor.glob("*/tests"):
        if suite.is_dir() and (suite.parent / "__init__.py").exists():
            shutil.rmtree(suite)


# -- 2. the app as it ships ---------------------------------------------------------------------


def stage_app(vendor: Path) -> Path:
    """``build/package/app``: what chalice packages (only files that ship, vendor linked)."""
    app = BUILD / "app"
    wanted = {p.relative_to(PROJECT).as_posix(): p for p in [*app_files(), *chalice_files()]}
    _sync(app, wanted)
    link = app / "vendor"
    if link.is_symlink() and Path(os.readlink(link)) != vendor:
        link.unlink()
    if not link.exists():
        link.symlink_to(vendor, target_is_directory=True)
    # Chalice caches the zip under a hash of file *contents* only: a renamed module, or a
    # dropped empty file, would reuse a stale zip. Keep its cache only for the same files.
    marker = app / ".chalice" / "deployments.inputs"
    inputs = digest(list(wanted.values()), extra=vendor.name)
    if not marker.exists() or marker.read_text() != inputs:
        shutil.rmtree(app / ".chalice" / "deployments", ignore_errors=True)
        marker.write_text(inputs)
    return app


def _sync(app: Path, wanted: dict[str, Path]) -> None:
    """Make ``app`` hold exactly ``wanted`` (relative path -> source), plus chalice's cache."""
    if app.exists():
        for path in sorted(app.rglob("*"), reverse=True):
            rel = path.relative_to(app).as_posix()
            if rel.startswith(".chalice/deployments") or rel == "vendor":  # cache + marker
                continue
            if path.is_file() and rel not in wanted:
                path.unlink()
            elif path.is_dir() and not path.is_symlink() and not any(path.iterdir()):
                path.rmdir()
    for rel, source in wanted.items():
        target = app / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        data = source.read_bytes()
        if not target.exists() or target.read_bytes() != data:
            target.write_bytes(data)


# -- 3. the merge template ----------------------------------------------------------------------


def deep_merge(base: Any, overlay: Any) -> Any:
    """Chalice's merge: mappings merge key by key, anything else in ``overlay`` replaces."""
    if isinstance(base, dict) and isinstance(overlay, dict):
        merged = dict(base)
        for key, value in overlay.items():
            merged[key] = deep_merge(base.get(key), value)
        return merged
    return copy.deepcopy(overlay)


def merge_template(stage: str) -> dict[str, Any]:
    resources = json.loads((INFRA / "resources.json").read_text())
    deploy = json.loads((INFRA / "deploy.json").read_text())
    stages = json.loads((INFRA / "stages.json").read_text())
    merged = deep_merge(resources, deploy)
    merged["Description"] = f"tutorbook, stage {stage}: {deploy['Description']}"
    return dict(deep_merge(merged, stages[stage]))


# -- 4. chalice --------------------------------------------------------------------------------


def chalice_environment() -> dict[str, str]:
    """The packager's environment: a region, and none of the app's own settings (the app is
    imported to read its routes, and must see the same configuration for every stage)."""
    from chalicelib.config import Settings

    app_variables = {name.upper() for name in Settings.model_fields} | {"STAGE", "AWS_REGION"}
    env = {k: v for k, v in os.environ.items() if k not in app_variables}
    env.setdefault("AWS_DEFAULT_REGION", DEFAULT_REGION)
    return env


def chalice_package(app: Path, stage: str, merge_file: Path, out: Path) -> None:
    shutil.rmtree(out, ignore_errors=True)
    subprocess.run(  # noqa: S603 - a fixed argv, no shell
        [
            sys.executable,
            "-c",
            "import sys; from chalice.cli import main; sys.exit(main())",
            "package",
            "--stage",
            stage,
            "--merge-template",
            str(merge_file),
            "--template-format",
            "json",
            str(out),
        ],
        cwd=app,
        env=chalice_environment(),
        check=True,
        stdout=subprocess.DEVNULL,
    )


# -- 5. what chalice cannot express -----------------------------------------------------------


def allowed_origin_vtl() -> str:
    """VTL (an API Gateway mapping template) answering ``Access-Control-Allow-Origin`` with the
    caller's origin when the stack's ``AllowedOrigins`` lists it (or ``*`` when that is ``*``),
    and ``X-Correlation-Id`` with the caller's id when well-formed, else API Gateway's request
    id. Used inside ``Fn::Sub``: only ``${AllowedOrigins}`` is substituted."""
    return (
        "#set($origin = $input.params().header.get('Origin'))\n"
        '#if("$!origin" == "")#set($origin = $input.params().header.get(\'origin\'))#end\n'
        '#set($allowed = ",${AllowedOrigins},")\n'
        '#if($allowed.contains(",*,"))#set($acao = "*")'
        '#elseif("$!origin" != "" && $allowed.contains(",$origin,"))#set($acao = "$origin")'
        '#else#set($acao = "")#end\n'
        '#if($acao != "")#set($context.responseOverride.header.Access-Control-Allow-Origin = '
        '"$acao")#end\n'
        "#set($cid = $input.params().header.get('X-Correlation-Id'))\n"
        '#if("$!cid" == "" || !$cid.matches(\'[A-Za-z0-9._:-]{1,128}\'))'
        "#set($cid = $context.requestId)#end\n"
        '#set($context.responseOverride.header.X-Correlation-Id = "$cid")\n'
    )


METHOD_NOT_ALLOWED = (
    '{"error": {"code": "method_not_allowed", "message": '
    '"This path does not allow the $context.httpMethod method.", "details": []}}'
)
_EDGE_RESPONSE_HEADERS = (
    "Access-Control-Allow-Origin",
    "Access-Control-Expose-Headers",
    "Vary",
    "X-Correlation-Id",
)


def method_not_allowed() -> dict[str, Any]:
    """``x-amazon-apigateway-any-method`` for a path: API Gateway prefers a path's own methods,
    so this answers only the others, with 405 in the error envelope (a mock: no Lambda call)."""
    headers = {h: {"type": "string"} for h in _EDGE_RESPONSE_HEADERS}
    return {
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "responses": {"405": {"description": "405 response", "headers": headers}},
        "x-amazon-apigateway-integration": {
            "type": "mock",
            "passthroughBehavior": "when_no_match",
            "requestTemplates": {"application/json": '{"statusCode": 405}'},
            "responses": {
                "default": {
                    "statusCode": "405",
                    "responseParameters": {
                        "method.response.header.Access-Control-Expose-Headers": EXPOSE_HEADERS,
                        "method.response.header.Vary": "'Origin'",
                    },
                    "responseTemplates": {
                        "application/json": {"Fn::Sub": allowed_origin_vtl() + METHOD_NOT_ALLOWED}
                    },
                }
            },
        },
    }


def _integration_uri_through_alias(integration: dict[str, Any]) -> None:
    uri = integration.get("uri")
    if isinstance(uri, dict) and isinstance(uri.get("Fn::Sub"), str):
        function, alias = "${" + API_FUNCTION + ".Arn}", "${" + API_ALIAS + "}"
        uri["Fn::Sub"] = uri["Fn::Sub"].replace(function, alias)


def _preflight_answers_allowed_origin(operation: dict[str, Any]) -> None:
    """Chalice's own preflight mock names one origin, fixed when the app was imported: answer
    the caller's origin when allowed instead. (Preflights the app answers itself pass by.)"""
    integration = operation.get("x-amazon-apigateway-integration", {})
    if integration.get("type") != "mock":
        return
    for response in integration.get("responses", {}).values():
        params = response.setdefault("responseParameters", {})
        params.pop("method.response.header.Access-Control-Allow-Origin", None)
        params["method.response.header.Vary"] = "'Origin'"
        response["responseTemplates"] = {"application/json": {"Fn::Sub": allowed_origin_vtl()}}
    for response in operation.get("responses", {}).values():
        headers = response.setdefault("headers", {})
        for header in ("Vary", "X-Correlation-Id", "Access-Control-Allow-Origin"):
            headers.setdefault(header, {"type": "string"})


def finish_template(template: dict[str, Any]) -> dict[str, Any]:
    body = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    for operations in body["paths"].values():
        for method, operation in operations.items():
            integration = operation.get("x-amazon-apigateway-integration", {})
            if integration.get("type") == "aws_proxy":
                _integration_uri_through_alias(integration)
            elif method == "options":
                _preflight_answers_allowed_origin(operation)
        operations["x-amazon-apigateway-any-method"] = method_not_allowed()
    return template


# -- 6. bytecode --------------------------------------------------------------------------------


def _pyc(source: bytes, filename: str) -> bytes | None:
    """PEP 552 unchecked-hash bytecode of ``source`` (None when it does not compile)."""
    try:
        code = compile(source, f"{TASK_ROOT}/{filename}", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return None
    flags = (1).to_bytes(4, "little")  # hash-based, not checked against the source
    return (
        importlib.util.MAGIC_NUMBER
        + flags
        + importlib.util.source_hash(source)
        + marshal.dumps(code)
    )


def add_bytecode(zip_path: Path) -> int:
    """Add each module's ``.pyc`` beside it in the zip; answers how many were added. Only the
    Python Lambda runs can compile for it: another interpreter adds none (and says so)."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" != LAMBDA_PYTHON:
        version = sys.version.split()[0]
        log(f"no bytecode added: packaging with Python {version}, not {LAMBDA_PYTHON}")
        return 0
    tag = sys.implementation.cache_tag
    partial = zip_path.with_name(zip_path.name + ".partial")
    added = 0
    with (
        zipfile.ZipFile(zip_path) as source,
        zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            data = source.read(info)
            target.writestr(info, data)
            folder, _, name = info.filename.rpartition("/")
            if not name.endswith(".py"):
                continue
            compiled = _pyc(data, info.filename)
            if compiled is None:
                continue
            pyc_name = f"{folder + '/' if folder else ''}__pycache__/{name[:-3]}.{tag}.pyc"
            pyc = zipfile.ZipInfo(pyc_name, date_time=info.date_time)
            pyc.external_attr = info.external_attr
            target.writestr(pyc, compiled, compress_type=zipfile.ZIP_DEFLATED)
            added += 1
    partial.replace(zip_path)
    return added


# -- the whole thing ------------------------------------------------------------------------------


def package(stage: str, *, force: bool = False) -> Path:
    """Package one stage into ``dist/<stage>/`` (nothing to do when its inputs are unchanged)."""
    if stage not in STAGES:
        raise SystemExit(f"unknown stage {stage!r}; one of {', '.join(STAGES)}")
    out = DIST / stage
    stamp = out / "inputs.sha256"
    with locked():
        wanted = inputs_digest(stage)
        if not force and stamp.exists() and stamp.read_text().strip() == wanted:
            return out
        started = time.monotonic()
        app = stage_app(vendor_dir())
        merge_file = BUILD / f"merge-{stage}.json"
        merge_file.write_text(json.dumps(merge_template(stage), indent=2))
        raw = BUILD / f"chalice-{stage}"
        chalice_package(app, stage, merge_file, raw)
        template = finish_template(json.loads((raw / "sam.json").read_text()))
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        (raw / "deployment.zip").rename(out / "deployment.zip")
        add_bytecode(out / "deployment.zip")
        (out / "template.json").write_text(json.dumps(template, indent=2) + "\n")
        stamp.write_text(wanted + "\n")
        shutil.rmtree(raw, ignore_errors=True)
        size = (out / "deployment.zip").stat().st_size
        log(
            f"{stage}: {out.relative_to(PROJECT)}/ (zip {size / 1e6:.2f} MB, "
            f"{zip_entries(out / 'deployment.zip')} files) in {time.monotonic() - started:.1f}s"
        )
        return out


def zip_entries(path: Path) -> int:
    with zipfile.ZipFile(path) as z:
        return len(z.infolist())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage", help=f"one of {', '.join(STAGES)}, or 'all'")
    parser.add_argument("--force", action="store_true", help="package even if nothing changed")
    args = parser.parse_args(argv)
    stages = STAGES if args.stage == "all" else (args.stage,)
    for stage in stages:
        package(stage, force=args.force)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(PROJECT))
    sys.exit(main())
