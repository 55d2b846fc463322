"""Small file helpers for the on-disk caches: atomic writes and pruning of old folders."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path


def write_atomically(target: Path, data: bytes) -> bool:
    """Write a file that readers see whole or not at all; False (and no file) on OSError."""
    try:
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    except OSError:
        return False
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temp, target)
    except OSError:
        Path(temp).unlink(missing_ok=True)
        return False
    return True


def new_folder(folder: Path, grace: float, keep: str | None = None) -> bool:
    """Make sure `folder` exists. When this call made it, the folders beside it untouched
    for `grace` seconds belong to older keys: remove them (workers of the same host may still
    be writing into a folder younger than that), except one named `keep`."""
    if folder.is_dir():
        return True
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    cutoff = time.time() - grace
    for other in folder.parent.iterdir():
        try:
            if other in (folder, folder.parent / (keep or folder.name)):
                continue
            if other.is_dir() and other.stat().st_mtime < cutoff:
                shutil.rmtree(other, ignore_errors=True)
        except OSError:
            continue
    return True
