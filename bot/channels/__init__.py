"""Thin adapters between a messaging platform and the channel-neutral engine."""
