"""The guides in ``docs/`` are executable: their ``curl`` commands run through the app and their
answers must match what the app answers (``tests/integration/test_docs_examples.py``).

What a guide may hold (``docs/README.md`` tells readers the same):

* A `` ```sh `` block is run, in order, across the guides (one shell session): ``NAME=value``
  lines, ``NAME=$(tail -n1 answer.txt | jq -r <path>)`` lines that read the last answer's JSON
  body, ``NAME=$(grep -i '^<header>:' answer.txt | cut -d' ' -f2 | tr -d '\r')`` lines that
  read one of its headers, ``for i in $(seq N); do <curl>; done``, comments, and ``curl -si``
  commands (``-X``, ``-H``, ``-d '<json>'`` or ``-d @-`` with a
  ``<<EOF`` heredoc, optionally ``| tee answer.txt``). Each curl is followed by an
  `` ```http `` block: the status line, the headers worth knowing, a blank line, the body
  (JSON pretty-printed; text cut with ``…``).
* A `` ```shell `` block is shown only (``make dev``, ``npx``...).

An answer matches when the status is the same, every header it lists is sent (with the same
value, except the ones that change every time), and the body has the same shape: the same keys,
the same list lengths, equal values except for ids (and lists of ids), times, tokens and cursors,
which need only the same type (and length).
``DOCS_WRITE=1 pytest tests/integration/test_docs_examples.py`` rewrites the answers that no
longer match from a fresh run (review the diff).
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[1]
DOCS = PROJECT / "docs"
#: The guides, in the order a newcomer reads (and the shell session runs) them.
GUIDES = (
    "README.md",
    "guides/auth-and-accounts.md",
    "guides/users.md",
    "guides/catalog.md",
    "guides/bookings.md",
    "guides/events-and-emails.md",
    "guides/pagination.md",
    "guides/idempotency.md",
    "guides/errors.md",
    "guides/cors.md",
    "guides/scheduling.md",
    "guides/calendars.md",
)
#: Answer headers a guide shows when the app sends them.
SHOWN_HEADERS = (
    "Content-Type",
    "ETag",
    "Cache-Control",
    "Retry-After",
    "Allow",
    "Access-Control-Allow-Origin",
    "Access-Control-Allow-Methods",
    "Access-Control-Expose-Headers",
)
#: Headers whose value changes between runs: only their presence is compared.
DYNAMIC_HEADERS = {"etag", "retry-after", "x-correlation-id", "content-length"}
_DYNAMIC_KEYS = {"access_token", "refresh_token", "next_cursor", "id", "at"}
#: Keys whose values hold a fresh secret (a calendar feed's URL): only their type is compared.
_DYNAMIC_KEYS |= {"url"}
#: The base of the URLs the app answers with when a request names no Host (the test client's).
_OWN_BASE = "http://127.0.0.1:8000"
_FENCE = re.compile(r"^```(\w*)\s*$")
_CAPTURE = re.compile(r"^([A-Z_][A-Z0-9_]*)=\$\(tail -n1 answer\.txt \| jq -r '?([^')]+)'?\)$")
_HEADER_CAPTURE = re.compile(
    r"^([A-Z_][A-Z0-9_]*)=\$\(grep -i '\^([\w-]+):' answer\.txt \| cut -d' ' -f2 \| tr -d '\\r'\)$"
)
_LOOP = re.compile(r"^for i in \$\(seq (\d+)\); do (.+); done$")
_ASSIGN = re.compile(r"^(?:export )?([A-Z_][A-Z0-9_]*)=(.*)$")
_VAR = re.compile(r"\$\{?([A-Z_][A-Z0-9_]*)\}?")
_REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    304: "Not Modified",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
}


@dataclass
class Block:
    file: str
    line: int
    lang: str
    lines: list[str]


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: str | None
    where: str


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class Example:
    """One documented request with its documented answer block."""

    request: Request
    answer: Block


@dataclass
class Session:
    """The reader's shell: variables and the last answer."""

    variables: dict[str, str] = field(default_factory=lambda: {"API": ""})
    last: Answer | None = None
    examples: list[Example] = field(default_factory=list)
    #: Rewrite the answers instead of checking them.
    write: bool = False
    rendered: list[tuple[Block, list[str]]] = field(default_factory=list)


def blocks(name: str) -> list[Block]:
    out: list[Block] = []
    current: Block | None = None
    for number, line in enumerate((DOCS / name).read_text().splitlines(), start=1):
        fence = _FENCE.match(line)
        if current is None and fence:
            current = Block(name, number, fence.group(1), [])
        elif current is not None and line.strip() == "```":
            out.append(current)
            current = None
        elif current is not None:
            current.lines.append(line)
    return out


def _commands(block: Block) -> Iterator[tuple[int, str, str | None]]:
    """Each command of a sh block (continuations joined) with its heredoc, if any."""
    lines = iter(enumerate(block.lines, start=block.line + 1))
    for number, raw in lines:
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        while text.endswith("\\"):
            text = text[:-1] + " " + next(lines)[1].strip()
        heredoc = None
        if "<<EOF" in text:
            body = []
            for _, more in lines:
                if more.strip() == "EOF":
                    break
                body.append(more)
            heredoc = "\n".join(body)
            text = text.replace("<<EOF", "")
        yield number, text, heredoc


def _expand(text: str, variables: dict[str, str], where: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in variables:
            raise AssertionError(f"{where}: ${name} is not set by an earlier example")
        # As a shell expands "$NAME": the value's own quotes (an ETag's) stay in the word.
        return variables[name].replace("\\", "\\\\").replace('"', '\\"')

    return _VAR.sub(value, text)


def parse_curl(text: str, heredoc: str | None, variables: dict[str, str], where: str) -> Request:
    words = shlex.split(_expand(text, variables, where))
    if "|" in words:
        cut = words.index("|")
        assert words[cut + 1 :] == ["tee", "answer.txt"], f"{where}: only `| tee answer.txt`"
        words = words[:cut]
    assert words[0] == "curl", f"{where}: a sh block runs curl commands only"
    method, headers, body, url = "GET", {}, None, None
    args = iter(words[1:])
    for word in args:
        if word in ("-s", "-i", "-si", "-is"):
            continue
        if word == "-X":
            method = next(args)
        elif word == "-H":
            name, _, val = next(args).partition(":")
            headers[name.strip()] = val.strip()
        elif word in ("-d", "--data", "--data-raw"):
            data = next(args)
            body = _expand(heredoc, variables, where) if data == "@-" and heredoc else data
            if method == "GET":
                method = "POST"
        elif not word.startswith("-") and url is None:
            url = word
        else:
            raise AssertionError(f"{where}: unsupported curl argument {word!r}")
    if url is not None and url.startswith(_OWN_BASE):  # a URL the app answered with
        url = url.removeprefix(_OWN_BASE)
    assert url is not None and url.startswith("/"), f"{where}: the URL must start with $API/"
    return Request(method, url, headers, body, where)


def _json_path(data: Any, path: str, where: str) -> str:
    for part in re.findall(r"\.(\w+)|\[(\d+)\]", path):
        key, index = part
        data = data[key] if key else data[int(index)]
    assert isinstance(data, str | int), f"{where}: {path} is not a value"
    return str(data)


def run(
    send: Callable[[Request], Answer], before: Callable[[Request], None], *, write: bool = False
) -> Session:
    """Run every sh block of every guide in order."""
    session = Session(write=write)
    for name in GUIDES:
        found = blocks(name)
        for index, block in enumerate(found):
            if block.lang != "sh":
                continue
            for number, text, heredoc in _commands(block):
                where = f"docs/{name}:{number}"
                _step(session, text, heredoc, where, found[index + 1 :], send, before)
    return session


def _step(
    session: Session,
    text: str,
    heredoc: str | None,
    where: str,
    following: list[Block],
    send: Callable[[Request], Answer],
    before: Callable[[Request], None],
) -> None:
    capture = _CAPTURE.match(text)
    if capture:
        assert session.last is not None, f"{where}: no answer to read yet"
        data = json.loads(session.last.body)
        session.variables[capture.group(1)] = _json_path(data, capture.group(2), where)
        return
    header = _HEADER_CAPTURE.match(text)
    if header:
        assert session.last is not None, f"{where}: no answer to read yet"
        session.variables[header.group(1)] = session.last.headers[header.group(2).lower()]
        return
    loop = _LOOP.match(text)
    if loop:
        for _ in range(int(loop.group(1)) - 1):
            request = parse_curl(loop.group(2), heredoc, session.variables, where)
            before(request)
            send(request)
        text = loop.group(2)
    assign = _ASSIGN.match(text)
    if assign and assign.group(1) == "API":
        return  # the reader's base URL; here the requests go to the app itself
    if assign:
        session.variables[assign.group(1)] = shlex.split(assign.group(2) or "''")[0]
        return
    request = parse_curl(text, heredoc, session.variables, where)
    answers = [b for b in following if b.lang == "http"]
    assert answers and following[0].lang == "http", f"{where}: an ```http answer must follow"
    before(request)
    session.last = send(request)
    session.examples.append(Example(request, following[0]))
    if not session.write:
        check(following[0], request, session.last)
        return
    try:
        check(following[0], request, session.last)
    except AssertionError:  # only answers that changed are rewritten: small diffs to review
        session.rendered.append((following[0], render(request, session.last)))


# --- answers -----------------------------------------------------------------------------


def _dynamic(key: str) -> bool:
    return key in _DYNAMIC_KEYS or key.endswith(("_id", "_at", "_by"))


def same_shape(documented: Any, actual: Any, path: str = "$") -> list[str]:
    """Where ``actual`` differs from ``documented`` beyond the values that change every run."""
    if isinstance(documented, dict) and isinstance(actual, dict):
        if set(documented) != set(actual):
            return [f"{path}: keys {sorted(documented)} != {sorted(actual)}"]
        out: list[str] = []
        for key in documented:
            if key.endswith("_ids") and isinstance(documented[key], list):  # lists of ids
                out += _same_length(documented[key], actual[key], f"{path}.{key}")
                continue
            if _dynamic(key) and not isinstance(documented[key], dict | list):
                if (documented[key] is None) != (actual[key] is None):
                    out.append(f"{path}.{key}: {documented[key]!r} != {actual[key]!r}")
                continue
            out += same_shape(documented[key], actual[key], f"{path}.{key}")
        return out
    if isinstance(documented, list) and isinstance(actual, list):
        if len(documented) != len(actual):
            return [f"{path}: {len(documented)} items documented, {len(actual)} answered"]
        return [e for d, a in zip(documented, actual, strict=True) for e in same_shape(d, a, path)]
    if documented != actual:
        return [f"{path}: {documented!r} != {actual!r}"]
    return []


def _same_length(documented: list[Any], actual: Any, path: str) -> list[str]:
    if isinstance(actual, list) and len(actual) == len(documented):
        return []
    return [f"{path}: {documented!r} != {actual!r}"]


def _pretty(answer: Answer) -> str:
    if not answer.body:
        return ""
    try:
        return json.dumps(json.loads(answer.body), indent=2, ensure_ascii=False)
    except ValueError:
        # Text as a reader's terminal shows it (calendars end their lines with CRLF).
        return answer.body.decode("utf-8", errors="replace").replace("\r\n", "\n")


def check(block: Block, request: Request, answer: Answer) -> None:
    where = f"docs/{block.file}:{block.line}"
    status_line, *rest = block.lines
    status = int(status_line.split()[1])
    assert status == answer.status, f"{where}: documented {status}, answered {answer.status}"
    split = rest.index("") if "" in rest else len(rest)
    for line in rest[:split]:
        name, _, value = line.partition(":")
        sent = answer.headers.get(name.strip().lower())
        assert sent is not None, f"{where}: header {name} is not sent"
        if name.strip().lower() not in DYNAMIC_HEADERS:
            assert sent == value.strip(), f"{where}: {name}: {sent!r} != {value.strip()!r}"
    body = "\n".join(rest[split + 1 :]).strip()
    if body.endswith("…"):
        shown = body.removesuffix("…").rstrip()
        assert _pretty(answer).startswith(shown), f"{where}: the body does not start as shown"
    elif body:
        problems = same_shape(json.loads(body), json.loads(answer.body))
        assert problems == [], f"{where}: " + "; ".join(problems)
    else:
        assert not answer.body, f"{where}: an answer body is sent but none is documented"


def _beginning(text: str, *, lines: int, width: int = 96) -> str:
    """The first ``lines`` lines of ``text`` (the last one cut at ``width``), then ``…``."""
    kept = []
    for line in text.splitlines()[:lines]:
        if len(line) > width:
            kept.append(line[:width])
            break
        kept.append(line)
    return "\n".join(kept) + "…" if kept and len(kept[-1]) >= width else "\n".join(kept) + "\n…"


def render(request: Request, answer: Answer) -> list[str]:
    """The answer block for ``answer`` (what ``--write`` puts into the guide)."""
    lines = [f"HTTP/1.1 {answer.status} {_REASONS.get(answer.status, '')}".rstrip()]
    for name in (
        *SHOWN_HEADERS,
        *(["X-Correlation-Id"] if "X-Correlation-Id" in request.headers else []),
    ):
        value = answer.headers.get(name.lower())
        if value is not None:
            lines.append(f"{name}: {value}")
    body = _pretty(answer)
    if body:
        is_json = answer.headers.get("content-type", "").startswith("application/json")
        if not is_json or len(body) > 8000:
            body = _beginning(body, lines=6)
        else:
            body = re.sub(
                r'("(?:access_token|refresh_token|next_cursor)": ")([^"]{12})[^"]*"',
                r'\1\2…"',
                body,
            )
        lines += ["", *body.splitlines()]
    return lines


def write_answers(session: Session) -> None:
    """Rewrite the answer blocks that no longer match this run's answers (``DOCS_WRITE=1``)."""
    by_file: dict[str, list[tuple[Block, list[str]]]] = {}
    for block, lines in session.rendered:
        by_file.setdefault(block.file, []).append((block, lines))
    for name, changes in by_file.items():
        text = (DOCS / name).read_text().splitlines()
        for block, lines in sorted(changes, key=lambda c: -c[0].line):
            text[block.line : block.line + len(block.lines)] = lines
        (DOCS / name).write_text("\n".join(text) + "\n")
