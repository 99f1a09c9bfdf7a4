"""What the battles app announces to the apps that build on it.

Imports run one way (battles ← votes ← leaderboards, see docs/architecture.md): this app must
not import the ones above it, so they subscribe here (in their ``AppConfig.ready``).
"""

from __future__ import annotations

from django.dispatch import Signal

generation_finished = Signal()
"""One side of a battle was stored as ready or failed (sent inside its transaction).
Arguments: ``output`` (the saved Output: started_at, finished_at, contender_id) and ``outcome``
(the failure code, "" when it succeeded)."""

sampler_state = Signal()
"""Asked while drawing a battle's pair, with ``arena_id``: a receiver returns ``(version,
load)``: ``version`` names the newest sampler state (the leaderboards app: its newest overall
snapshot's id, None before the first) and ``load()`` reads that state (a dict, or None). The
draw caches per version, so ``load`` runs once per new snapshot."""

vote_reason_words = Signal()
"""Asked while describing a voted battle to its voter, with ``reason`` (the vote's
``invalid_reason``): a receiver returns the voter-facing words (the votes app), or None."""

sweep = Signal()
"""The periodic sweep (Celery beat, or the embedded sweeper thread) is running, with ``now``:
a higher app fails its own work left running past its timeout (the playground's generations)
and returns its counts for the sweep's log, e.g. ``{"generations_failed": 2}``. Sent after
stale battles are failed and before unused uploads are deleted."""

instant_battle_served = Signal()
"""A battle was made at once from outputs made in advance (instant battles; sent inside its
transaction). Arguments: ``battle`` (the saved Battle, ready)."""
