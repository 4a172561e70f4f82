"""Tests place a SIGKILL precisely: a worker announces a checkpoint and holds there while a
flag file exists. Off (one settings read) unless the setting names a directory."""

from __future__ import annotations

import time
from pathlib import Path


def checkpoint(directory: str, point: str) -> None:
    if not directory:
        return
    base = Path(directory)
    hold = base / f"{point}.hold"
    if hold.exists():
        (base / f"{point}.reached").touch()
        deadline = time.monotonic() + 60
        while hold.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
