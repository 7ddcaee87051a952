"""Persistence: every state that matters lives here, so restarts and extra processes lose nothing."""
