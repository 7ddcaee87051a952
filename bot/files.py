"""Files stakeholders and staff send: checked against config, stored per ticket with a checksum."""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
import uuid
from pathlib import Path

from bot.config import DocumentsConfig

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


def store_incoming(data_dir: Path, content: bytes) -> tuple[str, str]:
    """Keep downloaded bytes until a handler files them with their ticket; (path, sha256)."""
    digest = hashlib.sha256(content).hexdigest()
    relative = INCOMING / f"{uuid.uuid4().hex}-{digest[:16]}"
    target = data_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(".part")
    temporary.write_bytes(content)
    os.replace(temporary, target)
    return str(relative), digest


def file_into_ticket(data_dir: Path, stored: str, ticket_number: str, name: str) -> str:
    """Move a stored download into the ticket's folder under a unique, sanitised name."""
    folder = data_dir / TICKETS / ticket_number
    folder.mkdir(parents=True, exist_ok=True)
    base = sanitise_name(name)
    target = folder / base
    counter = 1
    while target.exists():
        stem, suffix = os.path.splitext(base)
        target = folder / f"{stem}-{counter}{suffix}"
        counter += 1
    source = data_dir / stored
    if source.exists():
        os.replace(source, target)
    return str(target.relative_to(data_dir))
