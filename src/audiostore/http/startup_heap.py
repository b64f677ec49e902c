"""The objects a server builds while it starts, moved out of the cyclic collector's sight.

After start-up the heap holds a few hundred thousand objects that live as long as the process
(routes, pydantic's validators, SQLAlchemy's mappers, settings, imported modules). Python's
collector walks all of them in every full collection, and a route that makes many objects at
once (a batch of 1000 signed URLs makes a few thousand) sets off collections often enough that
they were a fifth of that route's CPU time. `gc.freeze()` moves what exists now into a
permanent generation the collector skips; those objects are still freed as usual when their
last reference goes (only a cycle among them would stay, and they are meant to stay anyway).
"""

from __future__ import annotations

import gc

__all__ = ["freeze_startup_heap"]


def freeze_startup_heap() -> None:
    gc.collect()  # start-up's own garbage first, so it is not kept for good
    gc.freeze()
