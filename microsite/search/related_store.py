"""More-like-this answers kept on disk, shared by every worker of a host.

Finding the articles most like one costs about 100 ms (Whoosh weighs every term of the text
against the whole index), while the answer barely moves when other articles change. So it is
kept per article version in a folder of the index generation it came from: a rebuild starts
afresh, an edit of the article asks again, and an answer older than MAX_AGE is asked again so
newer articles get their chance. Losing the folder loses nothing but time.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from ..files import new_folder, write_atomically

FOLDER = "related"
MAX_AGE = 24 * 3600
# A folder of an older generation stays this long: workers may still be writing into it.
GRACE = 60


def _entry(home: Path, generation: str, article_id: int) -> Path:
    return home / FOLDER / generation / f"{article_id}.json"


def load(home: Path, generation: str, article_id: int, version: int, limit: int):
    """The stored ids, or None when there are none for this version, limit and age."""
    try:
        data = json.loads(_entry(home, generation, article_id).read_text())
    except (OSError, ValueError):
        return None
    fresh = time.time() - data.get("at", 0) < MAX_AGE
    if fresh and data.get("version") == version and data.get("limit") == limit:
        ids = data.get("ids")
        if isinstance(ids, list) and all(isinstance(i, int) for i in ids):
            return ids
    return None


def save(home: Path, generation: str, article_id: int, version: int, limit: int, ids) -> None:
    """Store an answer; a full or read-only disk only means it is computed again next time."""
    target = _entry(home, generation, article_id)
    data = {"version": version, "limit": limit, "ids": list(ids), "at": time.time()}
    if new_folder(target.parent, GRACE):
        write_atomically(target, json.dumps(data).encode())
