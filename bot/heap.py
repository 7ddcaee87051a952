"""Keep the garbage collector's full passes off the startup heap.

A running bot holds some 178,000 long-lived objects from startup (the knowledge base and its
matcher index, the libraries, the database mappings). Python's full collection walks all of them
every few hundred turns; on a slow 2-core machine one such pass took 145–176 ms, stalling every
conversation in the process at once. Moving the startup heap into the permanent generation
(`gc.freeze`) leaves full passes only the objects created since, so they take a few milliseconds.
Reference counting still frees frozen objects that become unreachable; only cycles among them
would wait, so a knowledge-base reload unfreezes, collects the old version and freezes again
(objects of turns in flight at that moment stay frozen too: a bounded cost, once per reload).
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)


def settle() -> None:
    """Collect what startup left behind, then exempt the survivors from later full passes."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    log.debug("heap settled: %d objects frozen", gc.get_freeze_count())
