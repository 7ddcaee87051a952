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
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from bot.config import Config, MatcherConfig
from bot.knowledge.loader import KnowledgeError, load_knowledge
from bot.knowledge.matcher import Matcher

log = logging.getLogger(__name__)

EXIT_INVALID = 2  # the child found problems in the knowledge files (printed one per line)
BUILD_TIMEOUT = 600  # seconds; ten thousand entries build in under a minute (`make bench`)

CACHE_VERSION = "matcher-9"


def knowledge_digest(directory: Path, sections: Iterable[str]) -> str:
    digest = hashlib.sha256(CACHE_VERSION.encode())
    digest.update("\0".join(sorted(sections)).encode())
    for path in sorted(directory.glob("*.yaml")):
        digest.update(b"\0" + path.name.encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:24]


def cached_matcher(
    directory: Path,
    sections: Iterable[str],
    cache_dir: Path,
    build: Callable[[], Matcher],
    *,
    apart: bool = False,
) -> Matcher:
    """The matcher for these files: from the cache when they are unchanged, else built and cached.

    `apart` builds in a child process (build_apart) and loads its result: scikit-learn, needed
    only to build, then never enters this process (about 75 MB of a long-running bot's memory)."""
    sections = list(sections)
    path = cache_dir / f"knowledge-{knowledge_digest(directory, sections)}.pickle"
    if apart and not path.is_file():
        build_apart(directory, sections, cache_dir)
    matcher = _load(path)
    if matcher is not None:
        return matcher
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


def load_matcher(
    config: Config, directory: Path, cache_dir: Path | None = None, *, apart: bool = False
) -> Matcher:
    """Raises KnowledgeError with every problem when the knowledge base is invalid.

    With `cache_dir`, unchanged knowledge files are loaded from the cache built last time;
    `apart` builds changed ones in a child process (a long-running bot stays lean).
    """

    def build() -> Matcher:
        return Matcher(load_knowledge(directory, sections=config.sections), config.matcher)

    if cache_dir is None:
        return build()
    matcher = cached_matcher(directory, config.sections, cache_dir, build, apart=apart)
    matcher.thresholds = config.matcher  # thresholds are config, not part of what is cached
    return matcher


def _load(path: Path) -> Matcher | None:
    if not path.is_file():
        return None
    try:
        with path.open("rb") as handle:
            matcher = pickle.load(handle)
        if isinstance(matcher, Matcher):
            return matcher
    except Exception as exc:  # noqa: BLE001 - a damaged cache must never stop the bot
        log.warning("ignoring unreadable knowledge cache %s: %s", path, exc)
    return None


def build_apart(directory: Path, sections: list[str], cache_dir: Path) -> None:
    """Build and cache the matcher in a child process. Problems in the files raise
    KnowledgeError as a build here would; any other failure is logged, and the caller builds
    in-process instead."""
    try:
        child = subprocess.run(
            [
                sys.executable,
                "-m",
                "bot.knowledge.cache",
                str(directory),
                str(cache_dir),
                *sections,
            ],
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("knowledge base not built apart (%s); building in this process", exc)
        return
    if child.returncode == EXIT_INVALID:
        raise KnowledgeError(child.stdout.splitlines())
    if child.returncode != 0:
        log.warning(
            "knowledge base not built apart (exit %s: %s); building in this process",
            child.returncode,
            child.stderr.strip()[-500:],
        )


def _build_and_cache(directory: Path, cache_dir: Path, sections: list[str]) -> int:
    """The child's side: thresholds are config, set by whoever loads the cache."""
    placeholder = MatcherConfig(
        answer_score=100,
        answer_margin=0,
        clarify_score=100,
        option_score=100,
        min_similarity=100,
        max_candidates=3,
    )
    try:
        cached_matcher(
            directory,
            sections,
            cache_dir,
            lambda: Matcher(load_knowledge(directory, sections), placeholder),
        )
    except KnowledgeError as exc:
        print("\n".join(exc.problems))
        return EXIT_INVALID
    return 0


if __name__ == "__main__":
    sys.exit(_build_and_cache(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]))
