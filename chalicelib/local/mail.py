"""Read the emails the emulated SES accepted: ``make mail`` and the ``/_local/mail`` page.

The stack that runs the emulator answers ``GET http://127.0.0.1:$MOTO_PORT/_local/mail`` with
the emails it keeps (the newest ones, see the README's retention policy), numbered from the
first email it ever accepted: ``?since=<number>`` gives only newer ones, ``?format=text`` a
readable page instead of JSON. ``python -m chalicelib.local.mail`` (``make mail``) prints them;
against an emulator that is not the local stack's (a plain moto server) it reads moto's own
``/moto-api/data.json`` instead. The local stack's console shows one log line per email and,
when it reuses an emulator, reads the same page, so no email goes unseen.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import html
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

REGION = "us-east-1"
HOST = "127.0.0.1"


def _text(body: str) -> str:
    """An HTML body as readable text (tags dropped, entities decoded, blank runs folded)."""
    if "<" not in body:
        return body.strip()
    text = re.sub(r"<(br|/p|/div|/tr|/li|/h\d)\b[^>]*>", "\n", body, flags=re.I)
    text = re.sub(r"</?(td|th)\b[^>]*>", " ", text, flags=re.I)
    text = re.sub(r"<[^>]+>", "", text)
    lines = (re.sub(r"[ \t]+", " ", line).strip() for line in html.unescape(text).splitlines())
    return "\n".join(line for line in lines if line)


def _from_raw(raw: str) -> dict[str, Any]:
    """Subject, addresses, readable body and attachment names of a raw MIME email."""
    message = email.message_from_string(raw, policy=email.policy.default)
    body = message.get_body(preferencelist=("plain", "html"))
    content = body.get_content() if body is not None else ""
    if body is not None and body.get_content_type() == "text/html":
        content = _text(content)
    attachments = [
        part.get_filename() or part.get_content_type() for part in message.iter_attachments()
    ]
    return {
        "subject": str(message.get("Subject", "")),
        "to": [a.strip() for a in str(message.get("To", "")).split(",") if a.strip()],
        "text": content.strip(),
        "attachments": attachments,
    }


def describe(message: Any, number: int) -> dict[str, Any]:
    """One email moto keeps (a simple or a raw one) as a JSON-able dict."""
    destinations = getattr(message, "destinations", {}) or {}
    if isinstance(destinations, dict):
        to = [
            a
            for field in ("ToAddresses", "CcAddresses", "BccAddresses")
            for a in destinations.get(field, [])
        ]
    else:
        to = list(destinations)
    out: dict[str, Any] = {
        "number": number,
        "id": getattr(message, "id", ""),
        "from": getattr(message, "source", ""),
        "to": to,
        "subject": getattr(message, "subject", ""),
        "text": _text(str(getattr(message, "body", "") or "")),
        "attachments": [],
    }
    raw = getattr(message, "raw_data", None)
    if raw:
        parsed = _from_raw(raw)
        out.update({k: v for k, v in parsed.items() if v or k not in ("to",)})
        out["to"] = sorted(set(to) | set(parsed["to"]))
    return out


def kept_mail(dropped: int = 0, since: int = 0) -> list[dict[str, Any]]:
    """The emails this process's emulator keeps, numbered from its first (``dropped`` older
    ones were trimmed), newer than ``since``."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    messages = list(ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages)
    start = max(0, since - dropped)
    return [describe(m, dropped + i + 1) for i, m in enumerate(messages[start:], start)]


def render(messages: list[dict[str, Any]]) -> str:
    if not messages:
        return "(no email yet)\n"
    blocks = []
    for m in messages:
        head = f"#{m['number']}  from {m['from']}  to {', '.join(m['to'])}\nSubject: {m['subject']}"
        if m.get("attachments"):
            head += f"\nAttachments: {', '.join(m['attachments'])}"
        blocks.append(f"{head}\n\n{m['text']}\n")
    return ("-" * 72 + "\n").join(blocks)


def mail_page(dropped: Callable[[], int]) -> Callable[[str], tuple[int, str, bytes]]:
    """The ``/_local/mail`` page of the stack that runs the emulator."""

    def page(query: str) -> tuple[int, str, bytes]:
        params = urllib.parse.parse_qs(query)
        try:
            since = int(params.get("since", ["0"])[0])
        except ValueError:
            return 400, "text/plain", b"since must be a number\n"
        messages = kept_mail(dropped(), since)
        if params.get("format", [""])[0] == "text":
            return 200, "text/plain; charset=utf-8", render(messages).encode()
        body = {"messages": messages, "last": messages[-1]["number"] if messages else since}
        return 200, "application/json", json.dumps(body).encode()

    return page


# Reading another process's emulator -----------------------------------------------------------


def fetch(emulator_url: str, since: int = 0, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The emails an emulator keeps, newer than ``since``, from its local page or moto's data."""
    url = f"{emulator_url}/_local/mail?since={since}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback
            return list(json.loads(response.read())["messages"])
    except urllib.error.HTTPError as exc:
        if exc.code != 404:
            raise
    # A plain moto server: its data dump lists every model it keeps (heavier, same emails).
    with urllib.request.urlopen(f"{emulator_url}/moto-api/data.json", timeout=timeout) as r:  # noqa: S310
        ses = json.loads(r.read()).get("ses", {})
    found = list(ses.get("Message", [])) + list(ses.get("RawMessage", []))
    out = [describe(_Record(m), number) for number, m in enumerate(found, 1) if number > since]
    return out


class _Record:
    """A data.json entry with the attributes :func:`describe` reads."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.__dict__.update(data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m chalicelib.local.mail",
        description="Print the emails the local stack's emulated SES accepted.",
    )
    parser.add_argument("--since", type=int, default=0, help="only emails after this number")
    parser.add_argument("--last", type=int, default=20, help="at most this many, the newest")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    args = parser.parse_args(argv)
    port = os.environ.get("MOTO_PORT", "5000")
    url = f"http://{HOST}:{port}"
    try:
        messages = fetch(url, args.since)
    except (OSError, urllib.error.URLError) as exc:
        print(f"no emulator answers on {url} ({exc}); is `make dev` running? (MOTO_PORT={port})")
        return 1
    messages = messages[-args.last :] if args.last else messages
    if args.json:
        print(json.dumps(messages, indent=2))
    else:
        print(f"Emails kept by the emulator on {url} (newest last):\n")
        print(render(messages), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
