"""Files stakeholders and staff send: checked against config, stored per ticket with a checksum."""

from __future__ import annotations

import hashlib
import io
import os
import re
import unicodedata
import uuid
import zipfile
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from bot.config import DocumentsConfig
from bot.messages import IncomingFile

INCOMING = Path("files") / "incoming"
TICKETS = Path("files") / "tickets"
MIME_TYPES = {
    "application/pdf": "pdf",
    "image/jpeg": "jpg",
    "image/png": "png",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
}
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


def sanitise_name(name: str, fallback: str = "berkas") -> str:
    """A name safe on any file system and in a transcript: no paths, no control characters."""
    name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    name = _UNSAFE.sub("_", Path(name.replace("\\", "/")).name).strip(" .")
    return (name or fallback)[:150]


def file_type(name: str, mime: str | None) -> str:
    suffix = Path(name).suffix.lower().lstrip(".")
    if suffix:
        return "jpg" if suffix == "jpeg" else suffix
    return MIME_TYPES.get(mime or "", "")


def problem(name: str, kind: str, size: int, rules: DocumentsConfig) -> str | None:
    """Why this file cannot be accepted ("type" or "too_large"), or None."""
    accepted = {"jpg" if t == "jpeg" else t for t in rules.accepted_types}
    if kind not in accepted:
        return "type"
    if size > rules.max_bytes:
        return "too_large"
    return None


def sniff(content: bytes) -> str | None:
    """The type the bytes really are (by their signature), among the types we accept; None for
    anything else. A name or MIME type is what the sender claims; this is what the file is."""
    if content.startswith(b"%PDF-"):
        return "pdf"
    if content.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if content.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(content)) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, ValueError):
            return None
        if "word/document.xml" in names:
            return "docx"
        if "xl/workbook.xml" in names:
            return "xlsx"
    return None


def content_matches(kind: str, content: bytes) -> bool:
    return sniff(content) == ("jpg" if kind == "jpeg" else kind)


def _incoming_path(key: str) -> Path:
    return INCOMING / hashlib.sha256(key.encode()).hexdigest()[:40]


def cached_incoming(data_dir: Path, key: str) -> tuple[str, str, int] | None:
    """(path, sha256, size) of a file downloaded before under this platform key: a redelivered
    or retried update does not download it again."""
    relative = _incoming_path(key)
    target = data_dir / relative
    if not target.is_file():
        return None
    content = target.read_bytes()
    return str(relative), hashlib.sha256(content).hexdigest(), len(content)


def store_incoming(data_dir: Path, content: bytes, key: str | None = None) -> tuple[str, str]:
    """Keep downloaded bytes until a handler files them with their ticket; (path, sha256).
    With `key` (the platform's unique id of the file) the copy is found again by that key."""
    digest = hashlib.sha256(content).hexdigest()
    relative = _incoming_path(key) if key else INCOMING / f"{uuid.uuid4().hex}-{digest[:16]}"
    target = data_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(".part")
    temporary.write_bytes(content)
    os.replace(temporary, target)
    return str(relative), digest


def file_into_ticket(data_dir: Path, stored: str, ticket_number: str, name: str) -> str:
    """Copy a stored download into the ticket's folder under a unique, sanitised name.

    Idempotent: a turn that is retried after failing finds its earlier copy (same name, same
    bytes) and uses it, so no orphan copies pile up. The download itself stays in the incoming
    folder until `purge_incoming` clears old ones.
    """
    folder = data_dir / TICKETS / ticket_number
    folder.mkdir(parents=True, exist_ok=True)
    source = data_dir / stored
    content = source.read_bytes() if source.is_file() else b""
    base = sanitise_name(name)
    target = folder / base
    counter = 1
    while target.exists():
        if target.read_bytes() == content:
            return str(target.relative_to(data_dir))
        stem, suffix = os.path.splitext(base)
        target = folder / f"{stem}-{counter}{suffix}"
        counter += 1
    temporary = target.with_name(target.name + ".part")
    temporary.write_bytes(content)
    os.replace(temporary, target)
    return str(target.relative_to(data_dir))


def purge_incoming(data_dir: Path, older_than: datetime) -> int:
    """Delete downloads older than `older_than` (already filed with their ticket, or never
    filed because the turn was refused); returns how many."""
    folder = data_dir / INCOMING
    if not folder.is_dir():
        return 0
    cutoff = older_than.timestamp()
    removed = 0
    for path in folder.iterdir():
        if path.is_file() and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def before_download(
    incoming: IncomingFile, rules: DocumentsConfig, data_dir: Path, key: str
) -> IncomingFile | None:
    """A file announced by a platform, settled without downloading it: refused by type or
    announced size, or downloaded before (a retried update). None: download it."""
    reason = problem(incoming.name, incoming.file_type, incoming.size, rules)
    if reason is not None:
        return replace(incoming, error=reason)
    cached = cached_incoming(data_dir, key)
    if cached is not None:
        stored, digest, size = cached
        return replace(incoming, stored=stored, sha256=digest, size=size)
    return None


def after_download(
    incoming: IncomingFile, content: bytes, rules: DocumentsConfig, data_dir: Path, key: str
) -> IncomingFile:
    """The downloaded bytes checked (size, what the content really is) and stored."""
    if len(content) > rules.max_bytes:
        return replace(incoming, error="too_large", size=len(content))
    if not content_matches(incoming.file_type, content):  # a name that lies about the file
        return replace(incoming, error="type", size=len(content))
    stored, digest = store_incoming(data_dir, content, key)
    return replace(incoming, stored=stored, sha256=digest, size=len(content))
