"""The knowledge base of regulations: loading, validating and matching questions against it."""

from bot.knowledge.loader import KnowledgeError, load_knowledge
from bot.knowledge.matcher import Decision, Match, Matcher
from bot.knowledge.model import Delivery, Entry, KnowledgeBase, OutOfScope, Source

__all__ = [
    "Decision",
    "Delivery",
    "Entry",
    "KnowledgeBase",
    "KnowledgeError",
    "Match",
    "Matcher",
    "OutOfScope",
    "Source",
    "load_knowledge",
]
