"""Keeps the built matcher on disk, so a restart with unchanged knowledge files skips the build.

Building the index and training the re-ranker is the slow part of loading (seconds for a
thousand entries). The cache key is a hash of every knowledge file's name and bytes, the
sections they may name, and CACHE_VERSION (raise it whenever the matcher's internals change), so
any edit rebuilds and revalidates. A damaged or foreign cache file is ignored and rebuilt. The
files are written by csobot itself into its own data directory; never point `data_dir` at a
folder others can write to (pickle files execute code when loaded).
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from bot.knowledge.matcher import Matcher

log = logging.getLogger(__name__)

CACHE_VERSION = "matcher-6"


def knowledge_digest(directory: Path, sections: Iterable[str]) -> str:
    digest = hashlib.sha256(CACHE_VERSION.encode())
    digest.update("\0".join(sorted(sections)).encode())
    for path in sorted(directory.glob("*.yaml")):
        digest.update(b"\0" + path.name.encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:24]


def cached_matcher(
    directory: Path, sections: Iterable[str], cache_dir: Path, build: Callable[[], Matcher]
) -> Matcher:
    """The matcher for these files: from the cache when they are unchanged, else built and cached."""
    sections = list(sections)
    path = cache_dir / f"knowledge-{knowledge_digest(directory, sections)}.pickle"
    if path.is_file():
        try:
            with path.open("rb") as handle:
                matcher = pickle.load(handle)
            if isinstance(matcher, Matcher):
                return matcher
        except Exception as exc:  # noqa: BLE001 - a damaged cache must never stop the bot
            log.warning("ignoring unreadable knowledge cache %s: %s", path, exc)
    matcher = build()
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=cache_dir, delete=False, suffix=".tmp") as temporary:
            pickle.dump(matcher, temporary, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary.name, path)
        for old in cache_dir.glob("knowledge-*.pickle"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("knowledge cache not written (%s); the next start builds again", exc)
    return matcher
