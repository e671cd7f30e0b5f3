"""``make reset``: the local stack starts afresh at its next start.

Deletes the emulator's saved data and the demo logins from ``$LOCAL_STATE_DIR`` (default
``.local``); keeps the signing secret, so the demo passwords stay the same. Refuses while a
stack that saves into that directory is running (it would save its data again when stopped).
Standard library only: it runs before ``.venv`` exists.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
FORGET = ("emulator.json.gz", "emulator.json.partial", "demo-logins.json")


def state_dir() -> Path:
    path = Path(os.environ.get("LOCAL_STATE_DIR", ".local"))
    return path if path.is_absolute() else PROJECT_DIR / path


def running_stack(directory: Path) -> int | None:
    """The process id of a running stack that uses ``directory``, if any."""
    try:
        pid = int(json.loads((directory / "stack.json").read_text())["pid"])
        os.kill(pid, 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return pid


def main() -> int:
    directory = state_dir()
    pid = running_stack(directory)
    if pid is not None:
        print(f"The local stack (process {pid}) is running on {directory}: stop it first (Ctrl-C).")
        return 1
    gone = [name for name in FORGET if (directory / name).exists()]
    for name in gone:
        (directory / name).unlink()
    if gone:
        print(
            f"Reset: deleted {', '.join(gone)} from {directory}; the next `make dev` starts afresh."
        )
    else:
        print(f"Nothing to reset in {directory}; the next `make dev` starts afresh.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
