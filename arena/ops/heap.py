"""Keep what a server process loaded at start-up out of the garbage collector's way.

A web or worker process holds ~150,000 long-lived objects after start-up (Django, the URL
conf, models, numpy, Pillow). CPython's collector re-walks every one of them on each full
(generation 2) collection; under the vote load that took 110-330 ms per collection in a
granian process (issue 10: every request in flight in that process waited, and those pauses
were the votes' p99). `gc.freeze()` moves the objects alive now into a permanent generation
the collector never scans; what requests create afterwards is collected as before. Freezing
after a fork also keeps those pages shared with the parent (no reference-count writes from
the collector's walk).
"""

from __future__ import annotations

import gc


def startup_heap_freeze() -> int:
    """Collect start-up garbage, then freeze what is left; returns how many objects froze."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
