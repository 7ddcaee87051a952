"""The knowledge base of regulations: loading, validating and matching questions against it."""

from bot.knowledge.loader import KnowledgeError, load_knowledge
from bot.knowledge.matcher import Decision, Match, Matcher
from bot.knowledge.model import Entry, KnowledgeBase, LegalBasis, OutOfScope

__all__ = [
    "Decision",
    "Entry",
    "KnowledgeBase",
    "KnowledgeError",
    "LegalBasis",
    "Match",
    "Matcher",
    "OutOfScope",
    "load_knowledge",
]
