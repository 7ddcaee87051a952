"""Who may do what among KPPN staff: one definition, used by the bot and the dashboard."""

from __future__ import annotations

CSO = "cso"
KEPALA_SEKSI = "kepala_seksi"
SUPERVISOR = "supervisor"

# Read transcripts and reports (in the chat and on the dashboard).
READERS = frozenset({SUPERVISOR, KEPALA_SEKSI})
# Reload the knowledge base.
RELOADERS = frozenset({SUPERVISOR})
