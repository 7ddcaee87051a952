"""The consultation SOP, channel-neutral: every handler takes a Turn and replies through it."""
