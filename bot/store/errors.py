"""The database error the command line reports, importable without loading SQLAlchemy."""

from __future__ import annotations


class DatabaseError(Exception):
    """The database cannot be used; the message says what to fix."""
